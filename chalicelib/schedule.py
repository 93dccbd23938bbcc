"""When a step goes out, and the EventBridge Scheduler schedules that fire it.

A send is planned in the recipient's zone (fallback chain recorded) inside the sequence's
window, then parked in the due bucket of its UTC minute. One one-time `at()` schedule per
minute fires the bucket, so schedules grow with distinct delivery instants, never with
recipients. Schedules use `ScheduleExpressionTimezone=UTC`: a UTC minute is unambiguous even
in a fall-back overlap, and one instant serves every zone that maps to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from chalicelib import localtime
from chalicelib.fields import WEEKDAYS
from chalicelib.profiles import Profile
from chalicelib.sequences import SendWindow as SendWindowSpec
from chalicelib.sequences import Sequence, Step, WaitUntil

MINUTE = timedelta(minutes=1)
MAX_EVENT_AGE_SECONDS = 86_400
MAX_ATTEMPTS = 185
_AT_EXPRESSION = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
_SCHEDULE_NAME = re.compile(r"due-(\d{8}T\d{4}Z)")


@dataclass(frozen=True)
class Plan:
    """A planned send: UTC minute, local time, the zone used and why the time moved."""

    utc: datetime
    local: datetime
    zone: str
    zone_source: str
    reasons: tuple[str, ...]

    @property
    def minute(self) -> str:
        return minute_key(self.utc)


def minute_key(moment: datetime) -> str:
    """The due-bucket key of a UTC minute, e.g. `2026-11-24T07:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def minute_instant(key: str) -> datetime:
    """Inverse of `minute_key`."""
    return datetime.strptime(key, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


@lru_cache(maxsize=256)
def window_of(spec: SendWindowSpec) -> localtime.SendWindow:
    quiet = spec.quiet_hours
    return localtime.SendWindow(
        spec.start,
        spec.end,
        frozenset(WEEKDAYS.index(day) for day in spec.days),
        localtime.QuietHours(quiet.start, quiet.end) if quiet else None,
    )


def local_zone(profile: Profile, sequence: Sequence) -> localtime.ResolvedZone:
    """The contact's zone through the fallback chain (contact, country, sequence, UTC)."""
    return _resolve_zone(profile.timezone, profile.country, sequence.default_timezone)


def plan(after: datetime, profile: Profile, sequence: Sequence, now: datetime) -> Plan:
    """The first allowed minute at or after `after`, and never sooner than the next minute
    (a send postponed by a pause, a cap or a retry)."""
    return _plan(
        max(after, now + MINUTE),
        profile.timezone,
        profile.country,
        sequence.default_timezone,
        sequence.send_window,
        None,
    )


def plan_step(
    step: Step, reference: datetime, profile: Profile, sequence: Sequence, now: datetime
) -> Plan:
    """When `step` goes out: its `delay` after `reference` (the planned minute of the previous
    email, the enrollment, or the deadline that chose this step), or the next local
    `wait_until` time after it, at the first allowed minute of the window and never sooner
    than the minute after `now`. Preview and real sends both plan with this, so they agree."""
    return _plan(
        max(reference + (step.delay or timedelta(0)), now + MINUTE),
        profile.timezone,
        profile.country,
        sequence.default_timezone,
        sequence.send_window,
        step.wait_until,
    )


def plan_at(moment: datetime, profile: Profile, sequence: Sequence) -> Plan:
    """The minute `moment` falls in, whatever the window says: a send made at once."""
    resolved = local_zone(profile, sequence)
    minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
    reasons = ("at once", *(f"zone:{note}" for note in resolved.notes))
    return Plan(minute, minute.astimezone(resolved.zone), resolved.name, resolved.source, reasons)


_resolve_zone = lru_cache(maxsize=4096)(localtime.resolve_zone)


@lru_cache(maxsize=65_536)
def _plan(
    earliest: datetime,
    contact_tz: str | None,
    country: str | None,
    default_tz: str,
    spec: SendWindowSpec,
    wait: WaitUntil | None,
) -> Plan:
    """Pure and cached: a cohort enrolled together shares a handful of (zone, country) keys."""
    resolved = _resolve_zone(contact_tz, country, default_tz)
    holidays = localtime.holiday_calendar(country) if spec.skip_holidays else None
    window = window_of(spec)
    if wait is None:
        slot = localtime.next_send_time(earliest, resolved.zone, window, holidays)
    else:
        days = frozenset(WEEKDAYS.index(day) for day in wait.days or WEEKDAYS)
        slot = localtime.next_time_of_day(
            earliest, resolved.zone, wait.time, days, window, holidays
        )
    reasons = (*slot.reasons, *(f"zone:{note}" for note in resolved.notes))
    return Plan(slot.utc, slot.local, resolved.name, resolved.source, reasons)


@dataclass
class Scheduler:
    """One-time schedules in our group, each invoking the due-bucket handler for its minute."""

    client: Any
    group: str
    target_arn: str
    role_arn: str
    dead_letter_arn: str
    _known: set[str] = field(default_factory=set)

    def ensure(self, utc_minute: datetime) -> bool:
        """Create the schedule for `utc_minute` unless it exists; True when this call made it."""
        key = minute_key(utc_minute)
        if key in self._known:
            return False
        made = self._create(_schedule_name(utc_minute), utc_minute, key)
        self._known.add(key)  # only once it exists: a failed call must be tried again
        return made

    def resume(self, key: str, at: datetime) -> None:
        """Fire bucket `key` again at `at`: the rest of a bucket one invocation could not finish,
        or that a daily-quota stop deferred."""
        name = f"{_schedule_name(minute_instant(key))}-at-{at.astimezone(UTC):%Y%m%dT%H%M}"
        self._create(name, at, key)

    def _create(self, name: str, at: datetime, key: str) -> bool:
        expression = at_expression(at.astimezone(UTC).replace(second=0, microsecond=0))
        validate_at_expression(expression)
        try:
            self.client.create_schedule(
                Name=name,
                GroupName=self.group,
                ScheduleExpression=expression,
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.target_arn,
                    "RoleArn": self.role_arn,
                    "Input": json.dumps({"minute": key}),
                    "RetryPolicy": {
                        "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
                        "MaximumRetryAttempts": MAX_ATTEMPTS,
                    },
                    "DeadLetterConfig": {"Arn": self.dead_letter_arn},
                },
            )
        except self.client.exceptions.ConflictException:
            return False
        return True


def _schedule_name(utc_minute: datetime) -> str:
    """`due-20261124T0700Z`: the UTC minute a schedule fires, valid as a schedule name."""
    return f"due-{utc_minute.astimezone(UTC):%Y%m%dT%H%MZ}"


def at_expression(moment: datetime) -> str:
    """``at(...)`` of the wall-clock time of an aware datetime.

    Pair it with ScheduleExpressionTimezone = that datetime's zone; for grouped schedules pass
    ``slot.utc`` with ``UTC``, which is also unambiguous in fall-back overlaps.
    """
    if moment.tzinfo is None or moment.microsecond:
        raise ValueError(f"{moment.isoformat()!r} must be timezone-aware with whole seconds")
    return moment.strftime("at(%Y-%m-%dT%H:%M:%S)")


def validate_at_expression(expression: object) -> datetime:
    """Parse ``at(yyyy-mm-ddThh:mm:ss)`` into a naive wall-clock datetime, or raise ValueError."""
    match = _AT_EXPRESSION.fullmatch(expression) if isinstance(expression, str) else None
    if match is None:
        raise ValueError(f"schedule expression {expression!r} is not at(yyyy-mm-ddThh:mm:ss)")
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError as err:
        raise ValueError(f"schedule expression {expression!r} is out of range: {err}") from err


def pending_minutes(client: Any, group: str) -> list[str]:
    """The due-bucket keys some schedule of `group` will still fire (a handed-on bucket's
    schedule names its bucket's minute too)."""
    minutes = set()
    for page in client.get_paginator("list_schedules").paginate(GroupName=group):
        for summary in page["Schedules"]:
            found = _SCHEDULE_NAME.match(summary["Name"])
            if found:
                moment = datetime.strptime(found.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
                minutes.add(minute_key(moment))
    return sorted(minutes)

"""Inactivity without a daily scan: a contact's next inactivity check is a timer in the due
minute buckets (`store.Timers`, one Scheduler schedule per minute), armed by a human
engagement and moved lazily.

A human engagement arms a check only when none is pending (the summary's `inactive_at`): one
extra write, and none at all while a check is pending. When the check fires it reads the
contact's last human engagement: if the spell is not over yet (they engaged since), it
re-arms itself at the new deadline; for each spell some sequence starts on (`inactive:
{no_human_engagement: 90d}`) that has passed, it stores one `inactive` event, whose id
derives from (contact, last engagement, spell) so a check that fires twice stores it once;
then it arms the next longer spell, or stops. A contact who does nothing costs nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import localtime, schedule, store, summary
from chalicelib.fields import format_duration
from chalicelib.observability import logger
from chalicelib.profiles import Profile
from chalicelib.stamps import instant, iso

__all__ = ["KIND", "Inactivity"]

KIND = "inactive"
"""The timer kind of inactivity checks, and the type of the events they store."""
DAY = 86_400


@dataclass
class Inactivity:
    table: store.Table
    scheduler: schedule.Scheduler
    spells: tuple[timedelta, ...]
    """The spells without human engagement some sequence starts on, shortest first."""
    retention_days: int
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.timers = store.Timers(self.table)

    def arm(self, before: Profile, after: Profile) -> dict[str, Any]:
        """After a human engagement: plan the first check unless one is pending. Returns the
        summary field to set with the engagement's own update (nothing when pending)."""
        if not self.spells or before.inactive_at is not None or after.last_engaged_at is None:
            return {}
        due = self._plan(after.contact_id, instant(after.last_engaged_at) + self.spells[0])
        return {summary.INACTIVE_AT: due}

    def fire(self, minute: str) -> int:
        """Run the inactivity checks due at `minute`; return how many failed (their timers stay
        in the bucket for Scheduler's retry)."""
        failures = 0
        for timer in self.timers.contact_due(minute, KIND):
            try:
                self._check(timer)
            except Exception:
                failures += 1
                logger.exception("inactivity check failed", extra={"minute": minute})
                continue
            self.timers.drop(timer)
        return failures

    def _check(self, timer: store.ContactTimer) -> None:
        """A check came due: store the spells passed, then re-arm or stop."""
        item = self.table.profile(timer.contact_id)
        if item is None:
            return
        profile = Profile.from_item(timer.contact_id, item)
        if profile.inactive_at != timer.due or profile.last_engaged_at is None:
            return  # superseded by a newer check (or the contact was reset)
        now = datetime.fromtimestamp(self.clock(), UTC)
        last = instant(profile.last_engaged_at)
        for spell in (s for s in self.spells if last + s <= now):
            self.table.apply(store.event_write(self._event(profile, last, spell)))
        later = [s for s in self.spells if last + s > now]
        due = self._plan(profile.contact_id, last + later[0]) if later else None
        self.table.apply(store.inactivity_write(profile.contact_id, timer.due, due))

    def _plan(self, contact_id: str, deadline: datetime) -> str:
        """A check timer at the deadline's minute; its schedule exists before the timer."""
        due = localtime.ceil_minute(deadline)
        self.scheduler.ensure(due)
        minute = schedule.minute_key(due)
        self.table.apply([store.ContactTimer(minute, contact_id, KIND).put()])
        return minute

    def _event(self, profile: Profile, last: datetime, spell: timedelta) -> store.Event:
        seed = f"{profile.contact_id}\x1f{profile.last_engaged_at}\x1f{spell.total_seconds()}"
        at = last + spell
        return store.Event(
            profile.contact_id,
            KIND,
            iso(at.timestamp()),
            hashlib.sha256(seed.encode()).hexdigest()[:16],
            attrs={
                "after": format_duration(spell),
                "after_seconds": int(spell.total_seconds()),
                "last_engaged_at": profile.last_engaged_at,
            },
            expires_at=int(self.clock()) + self.retention_days * DAY,
        )

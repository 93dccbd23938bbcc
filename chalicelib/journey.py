"""Contacts entering sequences: enroll (one or a cohort), preview, test sends; what follows
(timers, behaviour, moves) is `progress`.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib import catalog, preview, schedule, store
from chalicelib.caps import CapPolicy
from chalicelib.errors import ContactNotFound, ReentryRefused, UnknownStep, Unreachable
from chalicelib.experiments.assign import held_out
from chalicelib.gates import Gates, reentry_refusal
from chalicelib.profiles import Profile, paused_until
from chalicelib.progress import Progress
from chalicelib.send import Outcome, Sender, SendJob, unreachable
from chalicelib.sequences import Sequence
from chalicelib.stamps import iso


@dataclass
class Journey:
    table: store.Table
    versions: store.Versions
    scheduler: schedule.Scheduler
    sender: Sender
    sequence: Callable[[str, int], Sequence]
    caps: CapPolicy
    clock: Callable[[], float] = time.time
    gates: Gates = field(default_factory=Gates)

    def __post_init__(self) -> None:
        self.progress = Progress(
            self.table,
            self.scheduler,
            self.sender,
            self.sequence,
            self.caps,
            self.clock,
            self.gates,
        )
        self.enrollments = self.progress.enrollments
        self.timers = self.progress.timers

    def _known(self, contact_id: str) -> Profile:
        found = self.progress.profile(contact_id)
        if found is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        return found

    # --- entry ------------------------------------------------------------------------------

    def enroll(
        self,
        contact_id: str,
        sequence_id: str,
        context: Mapping[str, Any] | None = None,
        *,
        first_at: datetime | None = None,
    ) -> store.Enrollment:
        """Enroll a contact in the newest version; idempotent while the enrollment is active.
        `context` is what started it (a trigger event's properties, `event` in templates).
        `first_at` plans the first step for that instant's minute instead of the window's (the
        local demo sends its first email at once: it fires that minute's bucket itself)."""
        profile = self._known(contact_id)
        sequence, version = catalog.newest(self.versions, sequence_id)
        reason = unreachable(profile, self.table)
        if reason is not None:
            raise Unreachable("contact_id", contact_id, reason)
        enrollment, new = self._start(profile, sequence, version, context)
        if enrollment is None:
            raise ReentryRefused(
                f"sequence_id: {contact_id!r} already went through "
                f"{sequence_id!r}; re-entry is off or its cooldown has not passed"
            )
        if _first_send_due(enrollment, new):
            first = sequence.steps[0]
            planned = (
                schedule.plan_step(first, self._now(), profile, sequence, self._now())
                if first_at is None
                else schedule.plan_at(first_at, profile, sequence)
            )
            self.timers.put(self.progress.send_timer(enrollment, first.id, enrollment.seq, planned))
        return enrollment

    def enroll_many(self, contact_ids: list[str], sequence_id: str) -> dict[str, int]:
        """Enroll a cohort: timers are written in batches and each distinct delivery minute gets
        one schedule, however many contacts share it. Returns counts by outcome, with the
        reason a contact may not be emailed (`unsubscribed`, `suppressed`) when any was."""
        sequence, version = catalog.newest(self.versions, sequence_id)
        first, now = sequence.steps[0], self._now()
        counts = {"enrolled": 0, "already_enrolled": 0, "refused": 0, "unknown_contact": 0}
        timers: list[store.Timer] = []
        for contact_id in contact_ids:
            profile = self.progress.profile(contact_id)
            if profile is None:
                counts["unknown_contact"] += 1
                continue
            reason = unreachable(profile, self.table)
            if reason is not None:
                counts[reason] = counts.get(reason, 0) + 1
                continue
            enrollment, new = self._start(profile, sequence, version)
            if enrollment is None:
                counts["refused"] += 1
                continue
            counts["enrolled" if new else "already_enrolled"] += 1
            if not _first_send_due(enrollment, new):
                continue
            planned = schedule.plan_step(first, now, profile, sequence, now)
            timers.append(
                store.Timer(
                    planned.minute,
                    contact_id,
                    sequence_id,
                    enrollment.run,
                    enrollment.seq,
                    "send",
                    first.id,
                )
            )
        # Schedules first: a timer is never written into a bucket that nothing will fire.
        for minute in sorted({t.due for t in timers}):
            self.scheduler.ensure(schedule.minute_instant(minute))
        self.timers.put_many(timers)
        return counts

    def preview(self, contact_id: str, sequence_id: str) -> list[preview.PreviewRow]:
        """The sends a contact who never engages would get, each with its local and UTC time,
        the zone fallback used and why it moved (see `preview.path`)."""
        profile = self._known(contact_id)
        sequence, _ = catalog.newest(self.versions, sequence_id)
        return preview.path(sequence, profile, self._now(), self.gates)

    def _start(
        self,
        profile: Profile,
        sequence: Sequence,
        version: int,
        context: Mapping[str, Any] | None = None,
    ) -> tuple[store.Enrollment | None, bool]:
        zone = schedule.local_zone(profile, sequence)
        held = held_out(profile.contact_id, sequence.id, sequence.holdout)
        return self.enrollments.enroll(
            profile.contact_id,
            sequence.id,
            version,
            sequence.steps[0].id,
            iso(self.clock()),
            self._may_restart(sequence),
            store.ZoneUsed(zone.name, zone.source, ",".join(zone.notes)),
            context,
            "held_out" if held else "active",
        )

    def _may_restart(self, sequence: Sequence) -> Callable[[store.Enrollment], bool]:
        """The sequence's entry rule: re-entry allowed at all, and not before the cooldown."""
        return lambda ended: reentry_refusal(sequence, ended, self._now()) is None

    def send_test(self, contact_id: str, sequence_id: str, step_id: str | None = None) -> Outcome:
        """Send one step of the newest version to a contact now, outside any enrollment: not a
        marketing send, so neither counted toward nor blocked by the contact's frequency cap."""
        profile = self._known(contact_id)
        sequence, version = catalog.newest(self.versions, sequence_id)
        step = step_id or sequence.steps[0].id
        try:
            sequence.step(step)
        except KeyError:
            raise UnknownStep(f"step_id: {sequence_id!r} has no step {step!r}") from None
        job = SendJob(contact_id, sequence_id, version, step, 0, secrets.token_hex(6))
        if paused_until(profile, self._now()) is not None:
            return Outcome(job.send_id, "skipped", "paused")
        return self.sender.deliver(job, profile, None)

    # --- after entry -----------------------------------------------------------------------

    def fire(self, minute: str, time_left: Callable[[], float] = lambda: math.inf) -> int:
        """Run a due bucket (see `Progress.fire`)."""
        return self.progress.fire(minute, time_left)

    def on_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Apply an engagement event from the stream (see `Progress.on_event`)."""
        return self.progress.on_event(event)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def _first_send_due(enrollment: store.Enrollment, new: bool) -> bool:
    """A new enrollment's first send, unless the contact is held out (never sent to)."""
    return (new and enrollment.status == "active") or _awaiting_first_send(enrollment)


def _awaiting_first_send(enrollment: store.Enrollment) -> bool:
    """Enrolled but the first send not yet done: a repeated enroll re-plans it, which heals a
    crash between the enrollment write and its timer (a duplicate timer sends nothing twice)."""
    return enrollment.seq == 0 and enrollment.send_id is None and enrollment.status == "active"

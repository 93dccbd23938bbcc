"""Enrollments moving through their sequence: enroll, fire due timers, react to behaviour.

Every move is a conditional transition on the enrollment's `seq`, so redelivered stream
records, schedules that fire twice or late, and stale timers change nothing twice. A send
timer for (step, seq) resumes a transition a crash interrupted; sends themselves are claimed
(see `send`), so replaying a timer never sends twice.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import catalog, emails, localtime, rules, schedule, store
from chalicelib.errors import ContactNotFound, ReentryRefused, UnknownStep
from chalicelib.observability import logger
from chalicelib.send import Outcome, Sender, SendJob
from chalicelib.sequences import EXIT, SUPPRESS, Sequence, Step
from chalicelib.stamps import instant, iso

HAND_ON_SECONDS = 60.0
RETRY_AFTER = {
    "quota": timedelta(hours=1),
    "throttled": timedelta(minutes=10),
    "claimed_elsewhere": timedelta(minutes=16),
}
ENDS = {
    "unsubscribed": "exited",
    "suppressed": "exited",
    "invalid_address": "exited",
    "goal_reached": "goal_reached",
}


@dataclass(frozen=True)
class PreviewRow:
    """When a step would go out on the default path, and why then."""

    step_id: str
    local: str
    utc: str
    zone: str
    zone_source: str
    reasons: tuple[str, ...]


@dataclass
class Journey:
    table: store.Table
    versions: store.Versions
    scheduler: schedule.Scheduler
    sender: Sender
    sequence: Callable[[str, int], Sequence]
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.enrollments = store.Enrollments(self.table)
        self.timers = store.Timers(self.table)
        # The cap of a send depends on its sequence and the contact's local calendar.
        self.sender.cap = self._cap_rule

    def _cap_rule(self, job: SendJob, profile: Mapping[str, Any]) -> store.CapRule | None:
        sequence = self.sequence(job.sequence_id, job.version)
        cap = sequence.frequency_cap
        if cap is None:
            return None
        local = self._now().astimezone(schedule.local_zone(profile, sequence).zone).date()
        year, week, _ = local.isocalendar()
        period = f"D{local.isoformat()}" if cap.per == "day" else f"W{year}-{week:02d}"
        return store.CapRule(cap.max, period, int(self.clock()) + 9 * 86_400)

    # --- entry ------------------------------------------------------------------------------

    def enroll(self, contact_id: str, sequence_id: str) -> store.Enrollment:
        """Enroll a contact in the newest version; idempotent while the enrollment is active."""
        profile = self.table.profile(contact_id)
        if profile is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        sequence, version = catalog.newest(self.versions, sequence_id)
        enrollment, new = self._start(contact_id, sequence, version)
        if enrollment is None:
            raise ReentryRefused(
                f"sequence_id: {contact_id!r} already went through "
                f"{sequence_id!r}; re-entry is off or its cooldown has not passed"
            )
        if new or _awaiting_first_send(enrollment):
            first, after = sequence.steps[0].id, self._first_send(sequence)
            self._plan_send(enrollment, sequence, first, enrollment.seq, after)
        return enrollment

    def enroll_many(self, contact_ids: list[str], sequence_id: str) -> dict[str, int]:
        """Enroll a cohort: timers are written in batches and each distinct delivery minute gets
        one schedule, however many contacts share it. Returns counts by outcome."""
        sequence, version = catalog.newest(self.versions, sequence_id)
        after, first = self._first_send(sequence), sequence.steps[0]
        counts = {"enrolled": 0, "already_enrolled": 0, "refused": 0, "unknown_contact": 0}
        timers: list[store.Timer] = []
        for contact_id in contact_ids:
            profile = self.table.profile(contact_id)
            if profile is None:
                counts["unknown_contact"] += 1
                continue
            enrollment, new = self._start(contact_id, sequence, version)
            if enrollment is None:
                counts["refused"] += 1
                continue
            counts["enrolled" if new else "already_enrolled"] += 1
            if not (new or _awaiting_first_send(enrollment)):
                continue
            planned = schedule.plan(after, profile, sequence, self._now())
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

    def preview(self, contact_id: str, sequence_id: str) -> list[PreviewRow]:
        """Each step's local and UTC send time on the default path (no branch taken), with the
        zone fallback used and why each time moved (window, weekday, holiday, quiet hours)."""
        profile = self.table.profile(contact_id)
        if profile is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        sequence, _ = catalog.newest(self.versions, sequence_id)
        rows: list[PreviewRow] = []
        step_id, after = sequence.steps[0].id, self._now()
        while step_id != EXIT and step_id not in {row.step_id for row in rows}:
            after += sequence.step(step_id).delay or timedelta(0)
            planned = schedule.plan(after, profile, sequence, self._now())
            rows.append(
                PreviewRow(
                    step_id,
                    planned.local.isoformat(),
                    iso(planned.utc.timestamp()),
                    planned.zone,
                    planned.zone_source,
                    planned.reasons,
                )
            )
            step_id, after = sequence.next_of(step_id), planned.utc
        return rows

    def _start(
        self, contact_id: str, sequence: Sequence, version: int
    ) -> tuple[store.Enrollment | None, bool]:
        return self.enrollments.enroll(
            contact_id,
            sequence.id,
            version,
            sequence.steps[0].id,
            iso(self.clock()),
            self._may_restart(sequence),
        )

    def _first_send(self, sequence: Sequence) -> datetime:
        return self._now() + (sequence.steps[0].delay or timedelta(0))

    def _may_restart(self, sequence: Sequence) -> Callable[[store.Enrollment], bool]:
        """The sequence's entry rule: re-entry allowed at all, and not before the cooldown."""

        def allowed(ended: store.Enrollment) -> bool:
            if not sequence.entry.reentry:
                return False
            cooldown = sequence.entry.cooldown
            if cooldown is None or ended.ended_at is None:
                return True
            return instant(ended.ended_at) + cooldown <= self._now()

        return allowed

    def send_test(self, contact_id: str, sequence_id: str, step_id: str | None = None) -> Outcome:
        """Send one step of the newest version to a contact now, outside any enrollment."""
        if self.table.profile(contact_id) is None:
            raise ContactNotFound(f"contact_id: no contact {contact_id!r}")
        sequence, version = catalog.newest(self.versions, sequence_id)
        step = step_id or sequence.steps[0].id
        try:
            sequence.step(step)
        except KeyError:
            raise UnknownStep(f"step_id: {sequence_id!r} has no step {step!r}") from None
        job = SendJob(contact_id, sequence_id, version, step, 0, secrets.token_hex(6))
        return self.sender.deliver(job)

    # --- timers -----------------------------------------------------------------------------

    def fire(self, minute: str, time_left: Callable[[], float] = lambda: math.inf) -> int:
        """Run every timer in a due bucket; return how many failed (left for the retry).

        A bucket too large for one invocation (`time_left`, in seconds) is handed on: a
        schedule a minute later fires it again for the timers not done yet.
        """
        failures = 0
        for timer in self.timers.due(minute):
            if time_left() < HAND_ON_SECONDS:
                self.scheduler.resume(minute, self._now() + timedelta(minutes=1))
                break
            try:
                self._fire(timer)
            except Exception:
                failures += 1
                logger.exception("timer failed", extra={"minute": minute, "kind": timer.kind})
                continue
            self.timers.drop(timer)
        return failures

    def _fire(self, timer: store.Timer) -> None:
        enrollment = self.enrollments.get(timer.contact_id, timer.sequence_id)
        if enrollment is None or enrollment.status != "active" or enrollment.run != timer.run:
            return
        sequence = self.sequence(enrollment.sequence_id, enrollment.version)
        if timer.kind == "deadline":
            self._deadline(enrollment, sequence, timer)
            return
        positioned = enrollment.seq == timer.seq and enrollment.step_id == timer.step_id
        if not positioned:
            if enrollment.seq != timer.seq - 1 or enrollment.send_id is None:
                return  # stale: the enrollment took another path
            if not self.enrollments.advance(enrollment, timer.step_id):
                return
            enrollment = self._reload(enrollment)
        self._deliver(enrollment, sequence)

    def _deliver(self, enrollment: store.Enrollment, sequence: Sequence) -> None:
        paused = (self.table.profile(enrollment.contact_id) or {}).get("paused_until")
        if paused and paused > iso(self.clock()):
            self._plan_send(
                enrollment, sequence, enrollment.step_id, enrollment.seq, instant(paused)
            )
            return
        job = SendJob(
            enrollment.contact_id,
            enrollment.sequence_id,
            enrollment.version,
            enrollment.step_id,
            enrollment.run,
        )
        outcome = self.sender.deliver(job)
        sent = outcome.status == "sent" or (outcome.status == "done" and outcome.reason == "sent")
        if sent:
            record = self.sender.sends.get(job.send_id)
            sent_at = record.claimed_at if record else iso(self.clock())
            if enrollment.send_id is None:
                self.enrollments.mark_sent(enrollment, job.send_id, sent_at)
            self._plan_after_send(enrollment, sequence, sent_at)
            return
        self._not_sent(enrollment, sequence, outcome)

    def _not_sent(self, enrollment: store.Enrollment, sequence: Sequence, outcome: Outcome) -> None:
        reason = outcome.reason
        if outcome.status in ("skipped", "done") and reason in ENDS:
            self.enrollments.end(enrollment, ENDS[reason], reason, iso(self.clock()))
        elif outcome.status in ("failed", "done"):
            self.enrollments.end(enrollment, "exited", reason or outcome.status, iso(self.clock()))
        elif (
            reason == "capped"
            and sequence.frequency_cap
            and sequence.frequency_cap.on_cap == "skip"
        ):
            self._move(enrollment, sequence, sequence.next_of(enrollment.step_id))
        else:
            wait = RETRY_AFTER.get(reason, timedelta(days=1))
            self._plan_send(
                enrollment, sequence, enrollment.step_id, enrollment.seq, self._now() + wait
            )

    def _plan_after_send(
        self, enrollment: store.Enrollment, sequence: Sequence, sent_at: str
    ) -> None:
        """Deadlines for absence branches and the default next step, from the send time."""
        sent = instant(sent_at)
        step = sequence.step(enrollment.step_id)
        waits = rules.absence_branches(step)
        for name, branch in waits:
            due = localtime.ceil_minute(sent + branch.within)
            self.scheduler.ensure(due)
            self.timers.put(
                store.Timer(
                    schedule.minute_key(due),
                    enrollment.contact_id,
                    enrollment.sequence_id,
                    enrollment.run,
                    enrollment.seq,
                    "deadline",
                    step.id,
                    name,
                )
            )
        following = sequence.next_of(step.id)
        if following != EXIT:
            delay = sequence.step(following).delay or timedelta(0)
            self._plan_send(enrollment, sequence, following, enrollment.seq + 1, sent + delay)
        elif not waits:
            self.enrollments.end(enrollment, "completed", "last_step", iso(self.clock()))

    def _deadline(
        self, enrollment: store.Enrollment, sequence: Sequence, timer: store.Timer
    ) -> None:
        """Whichever deadline timer fires first decides for all deadlines passed by now: the
        earliest absence branch met moves the contact; none met after the last completes a step
        that leads nowhere else."""
        if enrollment.seq != timer.seq or enrollment.send_id is None or not enrollment.sent_at:
            return
        step, sent = sequence.step(enrollment.step_id), instant(enrollment.sent_at)
        events = self.table.events(enrollment.contact_id)
        mine = [e for e in events if e.get("send_id") == enrollment.send_id]
        found = rules.departure(step, sent, mine, events, self._now())
        if found is not None:
            self._move(enrollment, sequence, found[1].goto)
            return
        last = rules.last_deadline(step, sent)
        if sequence.next_of(step.id) == EXIT and last is not None and last <= self._now():
            self.enrollments.end(enrollment, "completed", "last_step", iso(self.clock()))

    # --- behaviour (from the table's stream) ----------------------------------------------------

    def on_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one engagement event to every active enrollment of its contact; return the
        event as the rules finally classified it."""
        if event.get("type") not in rules.POSITIVE:
            return dict(event)
        if event.get("type") == "clicked" and event.get("verdict") == "human":
            same_send = [
                e
                for e in self.table.events(str(event["contact_id"]))
                if e.get("send_id") == event.get("send_id")
            ]
            if rules.is_burst(event, same_send):
                self.table.apply(store.reclassify_write(event, "scanner", "burst"))
                event = {**event, "verdict": "scanner", "verdict_reason": "burst"}
        for enrollment in self.enrollments.active(str(event["contact_id"])):
            sequence = self.sequence(enrollment.sequence_id, enrollment.version)
            now = iso(self.clock())
            if event["type"] == "unsubscribed":
                self.enrollments.end(enrollment, "exited", "unsubscribed", now)
            elif rules.goal_reached(sequence, event, enrollment.enrolled_at):
                self.enrollments.end(enrollment, "goal_reached", str(event["type"]), now)
            elif event.get("send_id") and event.get("send_id") == enrollment.send_id:
                step = sequence.step(enrollment.step_id)
                target = rules.positive_target(step, event)
                if target is not None and not self._left_before(enrollment, step, event):
                    self._move(enrollment, sequence, target)
        return dict(event)

    def _left_before(
        self, enrollment: store.Enrollment, step: Step, event: Mapping[str, Any]
    ) -> bool:
        """Whether an absence branch took the contact off the step before the event happened,
        though its deadline timer has not fired yet (it fires at the next whole minute)."""
        if not enrollment.sent_at:
            return False
        sent, at = instant(enrollment.sent_at), instant(str(event["at"]))
        if not any(sent + branch.within < at for _, branch in rules.absence_branches(step)):
            return False  # the common case: no deadline passed, nothing to read
        events = self.table.events(enrollment.contact_id)
        mine = [e for e in events if e.get("send_id") == enrollment.send_id]
        found = rules.departure(step, sent, mine, events, at)
        return found is not None and found[2] < at

    # --- moves ----------------------------------------------------------------------------------

    def _move(self, enrollment: store.Enrollment, sequence: Sequence, target: str) -> None:
        """Take a branch once: exit, or advance and plan the target step's send."""
        now = iso(self.clock())
        if target == EXIT:
            self.enrollments.end(enrollment, "exited", "branch", now)
            return
        if target == SUPPRESS:
            self._sunset(enrollment, now)
            return
        delay = sequence.step(target).delay or timedelta(0)
        then = self._timer(enrollment, sequence, target, enrollment.seq + 1, self._now() + delay)
        self.enrollments.advance(enrollment, target, then)

    def _plan_send(
        self,
        enrollment: store.Enrollment,
        sequence: Sequence,
        step_id: str,
        seq: int,
        after: datetime,
    ) -> None:
        self.timers.put(self._timer(enrollment, sequence, step_id, seq, after))

    def _sunset(self, enrollment: store.Enrollment, now: str) -> None:
        """The contact never engaged: no marketing email from any sequence again."""
        email = (self.table.profile(enrollment.contact_id) or {}).get("email")
        if email:
            self.table.apply(
                store.suppression_write(
                    emails.email_hash(email), "sunset", now, enrollment.send_id or ""
                )
            )
        self.enrollments.end(enrollment, "exited", "sunset", now)

    def _timer(
        self,
        enrollment: store.Enrollment,
        sequence: Sequence,
        step_id: str,
        seq: int,
        after: datetime,
    ) -> store.Timer:
        """The send timer for a step at its first allowed local minute; its schedule exists
        before the timer is written, so no timer waits in a bucket nothing fires."""
        profile = self.table.profile(enrollment.contact_id) or {}
        planned = schedule.plan(after, profile, sequence, self._now())
        self.scheduler.ensure(planned.utc)
        return store.Timer(
            planned.minute,
            enrollment.contact_id,
            enrollment.sequence_id,
            enrollment.run,
            seq,
            "send",
            step_id,
        )

    def _reload(self, enrollment: store.Enrollment) -> store.Enrollment:
        fresh = self.enrollments.get(enrollment.contact_id, enrollment.sequence_id)
        if fresh is None:
            raise RuntimeError("enrollment vanished during a transition")
        return fresh

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def _awaiting_first_send(enrollment: store.Enrollment) -> bool:
    """Enrolled but the first send not yet done: a repeated enroll re-plans it, which heals a
    crash between the enrollment write and its timer (a duplicate timer sends nothing twice)."""
    return enrollment.seq == 0 and enrollment.send_id is None and enrollment.status == "active"

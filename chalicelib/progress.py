"""What happens after enrolling: due timers send steps and decide deadlines, behaviour from
the table's stream takes branches, and every move plans the next send.

Every move is a conditional transition on the enrollment's `seq`, so redelivered stream
records, schedules that fire twice or late, and stale timers change nothing twice. A send
timer for (step, seq) resumes a transition a crash interrupted; sends themselves are claimed
(see `send`), so replaying a timer never sends twice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import emails, localtime, rules, schedule, store
from chalicelib.caps import CapPolicy
from chalicelib.gates import REFUSALS, Gates, after_refusal
from chalicelib.observability import logger
from chalicelib.profiles import Profile, paused_until
from chalicelib.send import Outcome, QuotaExceeded, Sender, SendJob
from chalicelib.sequences import EXIT, SUPPRESS, Sequence, Step
from chalicelib.stamps import instant, iso

__all__ = ["RETRY_AFTER", "Progress"]

HAND_ON_SECONDS = 60.0
RETRY_AFTER = {
    "quota": timedelta(hours=1),
    "throttled": timedelta(minutes=10),
    "unreachable": timedelta(minutes=10),
    "claimed_elsewhere": timedelta(minutes=16),
}
"""How long a send waits after SES said not now. The daily quota is a rolling 24-hour window
that frees capacity as the previous day's sends age out: a stopped bucket tries again hourly."""
ENDS = {
    "unsubscribed": "exited",
    "suppressed": "exited",
    "invalid_address": "exited",
    "goal_reached": "goal_reached",
}


@dataclass
class Progress:
    """Enrollments moving through their sequence after they started."""

    table: store.Table
    scheduler: schedule.Scheduler
    sender: Sender
    sequence: Callable[[str, int], Sequence]
    caps: CapPolicy
    clock: Callable[[], float] = time.time
    gates: Gates = field(default_factory=Gates)

    def __post_init__(self) -> None:
        self.enrollments = store.Enrollments(self.table)
        self.timers = store.Timers(self.table)

    def profile(self, contact_id: str) -> Profile | None:
        """The contact as one typed value: read once per job and passed down."""
        item = self.table.profile(contact_id)
        return Profile.from_item(contact_id, item) if item is not None else None

    # --- timers -----------------------------------------------------------------------------

    def fire(self, minute: str, time_left: Callable[[], float] = lambda: math.inf) -> int:
        """Run every timer in a due bucket; return how many failed (left for the retry).

        A bucket too large for one invocation (`time_left`, in seconds) is handed on: a
        schedule a minute later fires it again for the timers not done yet. A daily-quota stop
        ends the bucket at once (no other timer calls SES) and a schedule of our own fires it
        again when the quota has room (`RETRY_AFTER["quota"]`), not Scheduler's retries.
        """
        failures = 0
        for timer in self.timers.due(minute):
            if time_left() < HAND_ON_SECONDS:
                self.scheduler.resume(minute, self._now() + timedelta(minutes=1))
                break
            try:
                self._fire(timer)
            except QuotaExceeded:
                again = localtime.ceil_minute(self._now() + RETRY_AFTER["quota"])
                self.scheduler.resume(minute, again)
                logger.warning(
                    "daily quota reached", extra={"minute": minute, "again": iso(again.timestamp())}
                )
                break
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
            if self._branch_due(enrollment, sequence):
                return  # a deadline passed first: its branch, not the next step
            if not self.enrollments.advance(enrollment, timer.step_id):
                return
            enrollment = self._reload(enrollment)
        planned = schedule.minute_instant(timer.due)
        self._deliver(enrollment, sequence, self.profile(enrollment.contact_id), planned)

    def _deliver(
        self,
        enrollment: store.Enrollment,
        sequence: Sequence,
        found: Profile | None,
        planned: datetime,
    ) -> None:
        """Send the enrollment's step (planned for minute `planned`) and plan what follows."""
        profile = found or Profile(enrollment.contact_id)  # deleted: skipped as invalid_address
        now = self._now()
        step = enrollment.step_id
        pause_ends = paused_until(profile, now)
        if pause_ends is not None:
            later = schedule.plan(pause_ends, profile, sequence, now)
            self.timers.put(self.send_timer(enrollment, step, enrollment.seq, later))
            return
        job = SendJob(
            enrollment.contact_id,
            enrollment.sequence_id,
            enrollment.version,
            step,
            enrollment.run,
            context=enrollment.context,
        )
        zone = schedule.local_zone(profile, sequence)
        outcome = self.sender.deliver(
            job,
            profile,
            self.caps.rule(profile, sequence, now),
            store.ZoneUsed(zone.name, zone.source, ",".join(zone.notes)),
            self.gates.send_refusal(profile, sequence, sequence.step(step)),
        )
        if not outcome.went_out:
            self._not_sent(enrollment, sequence, profile, outcome)
            return
        sent_at = enrollment.sent_at or outcome.called_at or iso(self.clock())
        if enrollment.send_id is None:
            self.enrollments.mark_sent(enrollment, job.send_id, sent_at)
        if outcome.status == "done":  # found done (a crash, a second firing): by when it went
            planned = instant(sent_at).replace(second=0, microsecond=0)
        self._plan_after_send(enrollment, sequence, profile, instant(sent_at), planned)

    def _not_sent(
        self, enrollment: store.Enrollment, sequence: Sequence, profile: Profile, outcome: Outcome
    ) -> None:
        reason, now = outcome.reason, self._now()
        cap = sequence.frequency_cap
        if outcome.status in ("skipped", "done") and reason in ENDS:
            self.enrollments.end(enrollment, ENDS[reason], reason, iso(self.clock()))
        elif outcome.status == "skipped" and reason in REFUSALS:
            step = sequence.step(enrollment.step_id)
            if after_refusal(reason, sequence, step) == "end":
                self.enrollments.end(enrollment, "exited", reason, iso(self.clock()))
            else:
                self._move(enrollment, sequence, self.gates.following(profile, sequence, step), now)
        elif outcome.status in ("failed", "done"):
            self.enrollments.end(enrollment, "exited", reason or outcome.status, iso(self.clock()))
        elif reason == "capped" and cap is not None and cap.on_cap == "skip":
            self._move(enrollment, sequence, sequence.next_of(enrollment.step_id), now, profile)
        else:
            if reason == "capped":
                after = self.caps.lifts_at(profile, sequence, now)
            else:
                after = now + RETRY_AFTER.get(reason, timedelta(days=1))
            later = schedule.plan(after, profile, sequence, now)
            self.timers.put(self.send_timer(enrollment, enrollment.step_id, enrollment.seq, later))

    def _plan_after_send(
        self,
        enrollment: store.Enrollment,
        sequence: Sequence,
        profile: Profile,
        sent: datetime,
        planned: datetime,
    ) -> None:
        """Deadlines for absence branches, counted from when SES was called (to the second),
        and the default next step, from the minute this step was planned for."""
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
        following = self.gates.following(profile, sequence, step)
        if following != EXIT:
            plan = schedule.plan_step(
                sequence.step(following), planned, profile, sequence, self._now()
            )
            self.timers.put(self.send_timer(enrollment, following, enrollment.seq + 1, plan))
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
        if self._branch_due(enrollment, sequence):
            return
        last = rules.last_deadline(sequence.step(enrollment.step_id), instant(enrollment.sent_at))
        if (
            sequence.next_of(enrollment.step_id) == EXIT
            and last is not None
            and last <= self._now()
        ):
            self.enrollments.end(enrollment, "completed", "last_step", iso(self.clock()))

    def _branch_due(self, enrollment: store.Enrollment, sequence: Sequence) -> bool:
        """Take the absence branch whose deadline passed first, if one is met; True if taken."""
        step = sequence.step(enrollment.step_id)
        sent = instant(enrollment.sent_at or iso(self.clock()))
        if not any(sent + b.within <= self._now() for _, b in rules.absence_branches(step)):
            return False
        events = self.table.events(enrollment.contact_id)
        mine = [e for e in events if e.get("send_id") == enrollment.send_id]
        found = rules.departure(step, sent, mine, events, self._now())
        if found is None:
            return False
        self._move(enrollment, sequence, found[1].goto, found[2])
        return True

    # --- behaviour (from the table's stream) ----------------------------------------------------

    def on_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one engagement event to every active enrollment of its contact; return the
        event as the rules finally classified it."""
        if event.get("type") not in rules.POSITIVE:
            return dict(event)
        if event.get("type") == "clicked" and event.get("verdict") == "human":
            at = instant(str(event["at"]))
            near = {iso((at + timedelta(seconds=s)).timestamp())[:10] for s in rules.BURST_WINDOW}
            same_send = [
                e
                for e in self.table.engagements(str(event["contact_id"]), "clicked", near)
                if e.get("send_id") == event.get("send_id")
            ]
            if rules.is_burst(event, same_send):
                for write in store.reclassify_writes(event, "scanner", "burst"):
                    self.table.apply(write)
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
                    self._move(enrollment, sequence, target, self._now())
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

    def _move(
        self,
        enrollment: store.Enrollment,
        sequence: Sequence,
        target: str,
        reference: datetime,
        known: Profile | None = None,
    ) -> None:
        """Take a branch once: exit, or advance and plan the target step's send from
        `reference` (the event, or the deadline that chose the branch). The profile is read
        here only if the job has not read it yet (`known`)."""
        now = iso(self.clock())
        if target == EXIT:
            self.enrollments.end(enrollment, "exited", "branch", now)
            return
        profile = known or self.profile(enrollment.contact_id) or Profile(enrollment.contact_id)
        if target == SUPPRESS:
            self._sunset(enrollment, profile, now)
            return
        plan = schedule.plan_step(sequence.step(target), reference, profile, sequence, self._now())
        then = self.send_timer(enrollment, target, enrollment.seq + 1, plan)
        self.enrollments.advance(enrollment, target, then)

    def _sunset(self, enrollment: store.Enrollment, profile: Profile, now: str) -> None:
        """The contact never engaged: no marketing email from any sequence again."""
        if profile.email:
            self.table.apply(
                store.suppression_write(
                    emails.email_hash(profile.email), "sunset", now, enrollment.send_id or ""
                )
            )
        self.enrollments.end(enrollment, "exited", "sunset", now)

    def send_timer(
        self, enrollment: store.Enrollment, step_id: str, seq: int, plan: schedule.Plan
    ) -> store.Timer:
        """The send timer for a step at its planned minute; its schedule exists before the
        timer is written, so no timer waits in a bucket nothing fires."""
        self.scheduler.ensure(plan.utc)
        return store.Timer(
            plan.minute,
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

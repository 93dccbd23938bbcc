"""Sequences that start on their own, and end on an event.

A sequence's `entry` may name a trigger: a product event (`event: {name, where}`), a segment
entered (`segment_entered: X`), a stage entered (`stage_entered: X`), a lead temperature
reached (`temperature_became: hot`) or a spell without human engagement (`inactive:
{no_human_engagement: 90d}`). Each trigger is an event on the contact's timeline (the product
event itself, or the `segment_entered`, `stage_changed`, `temperature_changed` and `inactive`
events `behaviour`, scoring and `inactivity` store), so one mechanism enrolls for all of them,
from the table's stream.

Exactly once per trigger: before enrolling, a receipt keyed by (sequence, triggering event) is
claimed with a conditional write. A redelivered event finds the receipt done and does nothing;
one whose receipt was claimed but not finished (a crash between trigger and enrollment) checks
whether an enrollment started since the claim (then it was this trigger's) before enrolling.
Re-entry and cooldown are the sequence's own rules (`Journey.enroll`); topic opt-outs and
missing consent are skipped here already, with the reason on the receipt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib import store
from chalicelib.errors import ContactNotFound, ReentryRefused, Unreachable
from chalicelib.gates import Gates, reentry_refusal
from chalicelib.profiles import Profile
from chalicelib.segments import event_matches
from chalicelib.sequences import Sequence
from chalicelib.stamps import instant, iso

__all__ = [
    "MAX_EVENT_AGE",
    "Candidate",
    "Enroller",
    "Index",
    "Triggers",
    "entering",
    "preview",
]

MAX_EVENT_AGE = timedelta(days=1)
"""A product event older than this when it reaches the stream starts nothing (a late replay
or an old event sent one by one): backfills are for the summary, not for sending."""
RECEIPT_DAYS = 7


class Enroller(Protocol):
    def enroll(
        self, contact_id: str, sequence_id: str, context: Mapping[str, Any] | None = None
    ) -> store.Enrollment: ...


@dataclass(frozen=True)
class Index:
    """The newest version of every sequence that starts or ends on its own."""

    sequences: tuple[Sequence, ...]

    @classmethod
    def read(cls, versions: store.Versions, load: Callable[[str, int], Sequence]) -> Index:
        found = (load(head.model_id, head.version) for head in versions.heads())
        return cls(tuple(s for s in found if s.entry.trigger is not None or s.exit_on))

    @property
    def inactivity(self) -> tuple[timedelta, ...]:
        """The spells without human engagement some sequence starts on, shortest first."""
        spells = {s.entry.inactive.no_human_engagement for s in self.sequences if s.entry.inactive}
        return tuple(sorted(spells))

    def exiting(self, event: Mapping[str, Any]) -> tuple[Sequence, ...]:
        return tuple(
            s for s in self.sequences if s.exit_on and event_matches(s.exit_on.event, event)
        )


def entering(index: Index, event: Mapping[str, Any], now: datetime) -> tuple[Sequence, ...]:
    """The sequences `event` starts (pure): which trigger it is and what it names."""
    kind = event.get("type")
    if kind == store.PRODUCT_EVENT:
        if event.get("backfill") or instant(str(event["at"])) < now - MAX_EVENT_AGE:
            return ()
        return tuple(
            s for s in index.sequences if s.entry.event and event_matches(s.entry.event, event)
        )
    if kind == "segment_entered":
        return tuple(s for s in index.sequences if s.entry.segment_entered == event.get("segment"))
    if kind == "stage_changed":
        return tuple(s for s in index.sequences if s.entry.stage_entered == event.get("to_stage"))
    if kind == "temperature_changed":
        return tuple(s for s in index.sequences if s.entry.temperature_became == event.get("to"))
    if kind == "inactive":
        spell = timedelta(seconds=int(event.get("after_seconds", -1)))
        return tuple(
            s
            for s in index.sequences
            if s.entry.inactive and s.entry.inactive.no_human_engagement == spell
        )
    return ()


@dataclass
class Triggers:
    """Enrolls and exits contacts from timeline events (built per stream batch)."""

    table: store.Table
    index: Index
    journey: Enroller
    gates: Gates
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.receipts = store.Receipts(self.table)
        self.enrollments = store.Enrollments(self.table)

    def on_event(self, event: Mapping[str, Any]) -> dict[str, str]:
        """Exits first, then entries; returns the outcome per sequence."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        contact_id = str(event.get("contact_id", ""))
        outcomes = {}
        for sequence in self.index.exiting(event):
            current = self.enrollments.get(contact_id, sequence.id)
            if current is not None and current.status == "active":
                self.enrollments.end(current, "exited", "exit_event", iso(now.timestamp()))
                outcomes[sequence.id] = "exited"
        for sequence in entering(self.index, event, now):
            outcomes[sequence.id] = self._enter(contact_id, sequence, event, now)
        return outcomes

    def _enter(
        self, contact_id: str, sequence: Sequence, event: Mapping[str, Any], now: datetime
    ) -> str:
        event_id = str(event["event_id"])
        at = iso(now.timestamp())
        expires = int(now.timestamp()) + RECEIPT_DAYS * 86_400
        if not self.receipts.claim(contact_id, sequence.id, event_id, at, expires):
            receipt = self.receipts.get(contact_id, sequence.id, event_id)
            if receipt is None or receipt.state != "claimed":
                return "done_before"
            current = self.enrollments.get(contact_id, sequence.id)
            if current is not None and current.enrolled_at >= receipt.claimed_at:
                if current.status == "active":  # ours: heal a first send a crash left unplanned
                    self.journey.enroll(contact_id, sequence.id, _context(event))
                return self._finish(contact_id, sequence, event_id, "enrolled")
        item = self.table.profile(contact_id)
        if item is None:
            return self._finish(contact_id, sequence, event_id, "unknown_contact")
        refusal = self.gates.entry_refusal(Profile.from_item(contact_id, item), sequence)
        if refusal is not None:
            return self._finish(contact_id, sequence, event_id, refusal)
        try:
            self.journey.enroll(contact_id, sequence.id, _context(event))
        except ReentryRefused:
            return self._finish(contact_id, sequence, event_id, "reentry_refused")
        except ContactNotFound:
            return self._finish(contact_id, sequence, event_id, "unknown_contact")
        except Unreachable as refused:  # unsubscribed, suppressed, no address
            return self._finish(contact_id, sequence, event_id, refused.reason)
        return self._finish(contact_id, sequence, event_id, "enrolled")

    def _finish(self, contact_id: str, sequence: Sequence, event_id: str, state: str) -> str:
        self.receipts.finish(contact_id, sequence.id, event_id, state)
        return state


def _context(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the sequence's templates see as `event`: the triggering event's properties."""
    if event.get("type") != store.PRODUCT_EVENT:
        return {}
    return dict(event.get("properties") or {})


# --- dry run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A contact the sequence's trigger holds for now, why, and what entering would do."""

    contact_id: str
    email: str
    why: str
    outcome: str


def preview(
    sequence: Sequence,
    profiles: Iterable[Profile],
    now: datetime,
    member: Callable[[Profile, str], bool],
    gates: Gates,
    enrollment: Callable[[str], store.Enrollment | None],
) -> Iterator[Candidate]:
    """Who `sequence`'s trigger would start now, one at a time, and why (nothing is written):
    a product event within the last day, membership of the segment, the stage, the
    temperature, or a spell without human engagement past its length. `outcome` is `would
    enroll` or why not."""
    for profile in profiles:
        why = _why(sequence, profile, now, member)
        if why is None:
            continue
        refusal = gates.entry_refusal(profile, sequence)
        current = enrollment(profile.contact_id) if refusal is None else None
        outcome = refusal or reentry_refusal(sequence, current, now) or "would enroll"
        yield Candidate(profile.contact_id, profile.email or "", why, outcome)


def _why(
    sequence: Sequence, profile: Profile, now: datetime, member: Callable[[Profile, str], bool]
) -> str | None:
    entry = sequence.entry
    if entry.event is not None:
        seen = (profile.events.get(entry.event.name) or {}).get("recent") or ()
        since = iso((now - MAX_EVENT_AGE).timestamp())
        for occurrence in seen:
            as_event = {
                "type": store.PRODUCT_EVENT,
                "name": entry.event.name,
                "properties": occurrence.get("p") or {},
            }
            if str(occurrence.get("at", "")) >= since and event_matches(entry.event, as_event):
                return f"{entry.event.name} at {occurrence['at']}"
        return None
    if entry.segment_entered is not None:
        inside = member(profile, entry.segment_entered)
        return f"in segment {entry.segment_entered}" if inside else None
    if entry.stage_entered is not None:
        reached = profile.stage == entry.stage_entered
        return f"at stage {entry.stage_entered}" if reached else None
    if entry.temperature_became is not None:
        reached = (
            profile.score is not None and profile.score.temperature == entry.temperature_became
        )
        return f"temperature {entry.temperature_became}" if reached else None
    if entry.inactive is not None and profile.last_engaged_at is not None:
        spell = entry.inactive.no_human_engagement
        if instant(profile.last_engaged_at) + spell <= now:
            return f"no human engagement since {profile.last_engaged_at}"
    return None

"""Who a sequence may reach, and where a segment sends a contact: pure rules over a `Profile`.

- A sequence (or one of its steps) declares a `topic`: a contact who chose topics on the
  preferences page without it is skipped (`topic_opted_out`). A contact who never chose
  receives every configured topic.
- `consent: required` skips contacts without recorded consent (`no_consent`).
- A step with `only_if: {segment: X}` is skipped for contacts not in X (`not_in_segment`);
  the contact goes on to the following step.
- A step's `segment: {in: X, goto: Y}` branch sends members of X to Y after the step.
- Re-entry: a sequence is entered again only if it allows it, after its cooldown.

Segment membership is evaluated now, from the profile (the catalogue's matchers); the rules
are wired in `services`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chalicelib.profiles import Profile
from chalicelib.sequences import Sequence, Step
from chalicelib.stamps import instant, iso
from chalicelib.store import Enrollment

__all__ = [
    "REFUSALS",
    "Gates",
    "Membership",
    "after_refusal",
    "reentry_refusal",
    "topic_of",
]

Membership = Callable[[Profile, str], bool]
"""Whether a contact is in a segment (by id) now."""
REFUSALS = frozenset({"no_consent", "topic_opted_out", "not_in_segment"})
"""The skip reasons these rules give (each recorded on the skipped send)."""


def topic_of(sequence: Sequence, step: Step | None) -> str | None:
    """The topic a send belongs to: its step's, else its sequence's."""
    return (step.topic if step is not None else None) or sequence.topic


@dataclass(frozen=True)
class Gates:
    member: Membership = lambda profile, segment: False

    def entry_refusal(self, profile: Profile, sequence: Sequence) -> str | None:
        """Why a contact may not start `sequence` now (topic opt-out, missing consent)."""
        if sequence.topic and not _receives(profile, sequence.topic):
            return "topic_opted_out"
        if sequence.consent == "required" and not profile.consent_at:
            return "no_consent"
        return None

    def send_refusal(self, profile: Profile, sequence: Sequence, step: Step) -> str | None:
        """Why a step may not go to a contact now (its topic, consent, its segment gate)."""
        topic = topic_of(sequence, step)
        if topic and not _receives(profile, topic):
            return "topic_opted_out"
        if sequence.consent == "required" and not profile.consent_at:
            return "no_consent"
        if step.only_if is not None and not self.member(profile, step.only_if.segment):
            return "not_in_segment"
        return None

    def following(self, profile: Profile, sequence: Sequence, step: Step) -> str:
        """The step after `step` when no engagement branch fires: a segment branch's target
        for its members, else the default next step."""
        branch = step.branches.segment
        if branch is not None and self.member(profile, branch.in_):
            return branch.goto
        return sequence.next_of(step.id)


def after_refusal(reason: str, sequence: Sequence, step: Step) -> Literal["end", "next"]:
    """A refused send ends the enrollment when it concerns the whole sequence, else the
    contact goes on to the following step (a step's own topic, a segment gate)."""
    if reason == "no_consent" or (reason == "topic_opted_out" and not step.topic):
        return "end"
    return "next"


def _receives(profile: Profile, topic: str) -> bool:
    return profile.topics is None or topic in profile.topics


def reentry_refusal(sequence: Sequence, current: Enrollment | None, now: datetime) -> str | None:
    """Why the sequence's entry rules refuse to (re)start it for a contact now: already in
    it, re-entry off, or its cooldown since the last run ended not over; None to enroll."""
    if current is None:
        return None
    if current.status == "active":
        return "already enrolled"
    if not sequence.entry.reentry:
        return "re-entry refused"
    cooldown = sequence.entry.cooldown
    if cooldown is not None and current.ended_at is not None:
        until = instant(current.ended_at) + cooldown
        if until > now:
            return f"cooling down until {iso(until.timestamp())}"
    return None

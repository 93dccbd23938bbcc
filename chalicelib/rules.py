"""What a contact's behaviour means for an enrollment: pure decisions, no I/O.

Rules act on human engagement unless a branch says `engagement: any`. Absence branches
(`not_opened: 3d` ...) are decided at their deadline from what happened before it, never by a
race with the pixel; a positive branch counts only engagement at or before the moment an
absence branch took the contact off the step (to the second), whichever of the stream and the
deadline timer comes first. A human click counts as an open (the person saw the email).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.sequences import AbsenceBranch, EventBranch, NotOpenedBranch, Sequence, Step
from chalicelib.stamps import instant

POSITIVE = ("opened", "clicked", "converted", "unsubscribed")
ABSENCE = ("not_opened", "not_clicked", "not_converted", "clicked_not_converted")
IMPLIED = {"clicked": ("clicked", "opened")}
"""The branches an event may take, in order of preference: a click is an open too."""
Event = Mapping[str, Any]


def counts(event: Event, engagement: str) -> bool:
    """Whether an event is engagement a rule may act on (`human` default, or `any`)."""
    verdict = event.get("verdict")
    if verdict is None:  # conversions and unsubscribes are people acting, not pixels
        return True
    return verdict == "human" or (engagement == "any" and verdict in ("machine", "unknown"))


def positive_target(step: Step, event: Event) -> str | None:
    """The step (or `exit`) an engagement event sends the enrollment to, if a branch matches.

    A human click is also a human open: a reader with images blocked who clicks takes the
    `opened` branch of a step that has no `clicked` branch.
    """
    kind = event.get("type")
    if kind not in POSITIVE:
        return None
    for name in IMPLIED.get(str(kind), (kind,)):
        branch: EventBranch | None = getattr(step.branches, name)
        if branch is not None and counts(event, branch.engagement):
            return branch.goto
    return None


def absence_branches(step: Step) -> list[tuple[str, AbsenceBranch]]:
    return [(name, b) for name in ABSENCE if (b := getattr(step.branches, name)) is not None]


def departure(
    step: Step,
    sent_at: datetime,
    send_events: Iterable[Event],
    contact_events: Iterable[Event],
    now: datetime,
) -> tuple[str, AbsenceBranch, datetime] | None:
    """The absence branch that took the enrollment off this step by `now`, with its deadline:
    of the branches whose deadline (send time + `within`, to the second) has passed, the
    earliest one met. None while the contact is still on the step."""
    send_events, contact_events = list(send_events), list(contact_events)
    passed = [
        (sent_at + branch.within, ABSENCE.index(name), name, branch)
        for name, branch in absence_branches(step)
        if sent_at + branch.within <= now
    ]
    for deadline, _, name, branch in sorted(passed, key=lambda found: found[:2]):
        if absence_met(name, branch, send_events, deadline, contact_events):
            return name, branch, deadline
    return None


def last_deadline(step: Step, sent_at: datetime) -> datetime | None:
    """When the step's last absence branch is decided (None without absence branches)."""
    return max((sent_at + b.within for _, b in absence_branches(step)), default=None)


def absence_met(
    name: str,
    branch: AbsenceBranch,
    send_events: Iterable[Event],
    deadline: datetime,
    contact_opens: Iterable[Event],
) -> bool:
    """Decide an absence branch at its deadline from the events of the step's send."""
    before = [e for e in send_events if _instant(e) <= deadline]

    def engaged(*kinds: str) -> bool:
        return any(e.get("type") in kinds and counts(e, branch.engagement) for e in before)

    if name == "not_opened":
        if (
            isinstance(branch, NotOpenedBranch)
            and branch.mpp_fallback == "clicks"
            and opens_unknowable(contact_opens)
        ):
            return not engaged("clicked")
        return not engaged("opened", "clicked")
    if name == "not_clicked":
        return not engaged("clicked")
    if name == "not_converted":
        return not engaged("converted")
    return engaged("clicked") and not engaged("converted")


def opens_unknowable(opens: Iterable[Event]) -> bool:
    """Every open this contact ever made was a machine's (Apple MPP and friends)."""
    verdicts = [e.get("verdict") for e in opens if e.get("type") == "opened"]
    return bool(verdicts) and all(v == "machine" for v in verdicts)


BURST_SECONDS = 2.0
BURST_WINDOW = (-BURST_SECONDS, BURST_SECONDS)
"""Offsets from a click, in seconds, between which a burst's other clicks fall."""
BURST_LINKS = 3


def is_burst(click: Event, send_events: Iterable[Event]) -> bool:
    """A scanner opening every link at once: this click and clicks on at least two other links
    of the same send within two seconds of it. A person clicks one link at a time."""
    if click.get("type") != "clicked":
        return False
    at = _instant(click)
    links = {
        e.get("link")
        for e in send_events
        if e.get("type") == "clicked" and abs((_instant(e) - at).total_seconds()) <= BURST_SECONDS
    }
    return len(links | {click.get("link")}) >= BURST_LINKS


def _instant(event: Event) -> datetime:
    return instant(str(event.get("at", "")))


def goal_reached(sequence: Sequence, event: Event, enrolled_at: str) -> bool:
    goal = sequence.goal
    kind = str(event.get("type"))
    if goal is None or goal.event not in IMPLIED.get(kind, (kind,)) or not counts(event, "human"):
        return False
    start = instant(enrolled_at)
    return start <= _instant(event) <= start + goal.within

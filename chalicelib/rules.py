"""What a contact's behaviour means for an enrollment: pure decisions, no I/O.

Rules act on human engagement unless a branch says `engagement: any`. Absence branches
(`not_opened: 3d` ...) are decided at their deadline from what happened before it, never by a
race with the pixel. A human click counts as an open (the person saw the email).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.sequences import AbsenceBranch, EventBranch, NotOpenedBranch, Sequence, Step
from chalicelib.stamps import instant

POSITIVE = ("opened", "clicked", "converted", "unsubscribed")
ABSENCE = ("not_opened", "not_clicked", "not_converted", "clicked_not_converted")
Event = Mapping[str, Any]


def counts(event: Event, engagement: str) -> bool:
    """Whether an event is engagement a rule may act on (`human` default, or `any`)."""
    verdict = event.get("verdict")
    if verdict is None:  # conversions and unsubscribes are people acting, not pixels
        return True
    return verdict == "human" or (engagement == "any" and verdict in ("machine", "unknown"))


def positive_target(step: Step, event: Event) -> str | None:
    """The step (or `exit`) an engagement event sends the enrollment to, if a branch matches."""
    kind = event.get("type")
    if kind not in POSITIVE:
        return None
    branch: EventBranch | None = getattr(step.branches, kind)
    if branch is None or not counts(event, branch.engagement):
        return None
    return branch.goto


def absence_branches(step: Step) -> list[tuple[str, AbsenceBranch]]:
    return [(name, b) for name in ABSENCE if (b := getattr(step.branches, name)) is not None]


def absence_met(
    name: str,
    branch: AbsenceBranch,
    send_events: Iterable[Event],
    deadline: str,
    contact_opens: Iterable[Event],
) -> bool:
    """Decide an absence branch at its deadline from the events of the step's send."""
    before = [e for e in send_events if e.get("at", "") <= deadline]

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
    if goal is None or event.get("type") != goal.event or not counts(event, "human"):
        return False
    start = instant(enrolled_at)
    return start <= _instant(event) <= start + goal.within

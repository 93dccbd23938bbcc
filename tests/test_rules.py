"""The pure branch decisions: what counts, which branch an event takes, when a step is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib import rules
from chalicelib.sequences import parse_sequence

SEQUENCE = parse_sequence("""
id: r
name: Rules
default_timezone: UTC
default_locale: en
goal: {event: opened, within: 10d}
steps:
  - id: first
    template: {en: {subject: "S", html: "<p>x</p>"}}
    next: exit
    branches:
      opened: thanks
      not_clicked: {within: 1d, goto: nudge}
      not_opened: {within: 3d, goto: resend}
  - id: thanks
    template: {en: {subject: "S", html: "<p>x</p>"}}
  - id: nudge
    template: {en: {subject: "S", html: "<p>x</p>"}}
  - id: resend
    template: {en: {subject: "S", html: "<p>x</p>"}}
""")
SENT = datetime(2026, 1, 6, 8, 2, 30, tzinfo=UTC)


def event(kind: str, after: timedelta, verdict: str = "human") -> dict[str, str]:
    at = (SENT + after).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"type": kind, "verdict": verdict, "at": at, "send_id": "s"}


def test_a_human_click_takes_the_opened_branch_but_a_scanner_click_does_not() -> None:
    step = SEQUENCE.step("first")
    assert rules.positive_target(step, event("clicked", timedelta(hours=1))) == "thanks"
    assert rules.positive_target(step, event("clicked", timedelta(hours=1), "scanner")) is None


def test_a_human_click_reaches_an_opened_goal() -> None:
    enrolled = SENT.isoformat()
    assert rules.goal_reached(SEQUENCE, event("clicked", timedelta(hours=1)), enrolled)
    assert not rules.goal_reached(
        SEQUENCE, event("clicked", timedelta(hours=1), "scanner"), enrolled
    )


def test_the_earliest_met_absence_branch_takes_the_contact_off_the_step() -> None:
    step = SEQUENCE.step("first")
    opened = [event("opened", timedelta(hours=2))]
    assert rules.departure(step, SENT, [], [], SENT + timedelta(hours=23)) is None
    found = rules.departure(step, SENT, opened, opened, SENT + timedelta(days=4))
    assert found is not None and (found[0], found[2]) == ("not_clicked", SENT + timedelta(days=1))
    clicked = [event("clicked", timedelta(hours=2))]
    assert rules.departure(step, SENT, clicked, clicked, SENT + timedelta(days=4)) is None
    assert rules.last_deadline(step, SENT) == SENT + timedelta(days=3)

"""Where a contact's lifecycle stage goes next: a pure decision from the stages file, the
current stage, the event being applied and the segments the contact is in now."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from chalicelib.segments import event_matches
from chalicelib.stages.model import Rule, Stages

__all__ = ["next_stage"]


def next_stage(
    stages: Stages,
    current: str | None,
    event: Mapping[str, Any] | None,
    member_of: Collection[str],
) -> str | None:
    """The stage to move to, or None to stay. A matching `backward` rule wins (the first
    one, in file order); otherwise the furthest forward stage any matching rule names."""
    fired = [rule for rule in stages.rules if _fires(rule, event, member_of)]
    for rule in fired:
        if rule.backward and rule.to != current:
            return rule.to
    best, rank = None, stages.rank(current)
    for rule in fired:
        if stages.rank(rule.to) > rank:
            best, rank = rule.to, stages.rank(rule.to)
    return best


def _fires(rule: Rule, event: Mapping[str, Any] | None, member_of: Collection[str]) -> bool:
    if rule.segment is not None:
        return rule.segment in member_of
    if event is None:
        return False
    if rule.converted:
        return event.get("type") == "converted"
    return rule.event is not None and event_matches(rule.event, event)

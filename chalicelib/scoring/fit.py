"""Fit: who the contact is, in points. Pure: each rule's condition is compiled once per run
with the segment language, and a contact's fit is a handful of look-ups with a receipt for
every rule (matched or not), every group's cap and the grade."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from chalicelib.scoring.model import GRADES, Fit, FitRule
from chalicelib.segments import Matcher, condition_matcher

__all__ = ["FitOutcome", "FitRules", "GroupOutcome", "RuleOutcome", "describe"]


@dataclass(frozen=True)
class RuleOutcome:
    label: str
    points: int
    matched: bool


@dataclass(frozen=True)
class GroupOutcome:
    id: str
    raw: int
    """The matched rules' points added up."""
    points: int
    """`raw` clamped to the group's [min, max]."""
    min: int | None
    max: int | None
    rules: tuple[RuleOutcome, ...]

    @property
    def capped(self) -> bool:
        return self.points != self.raw


@dataclass(frozen=True)
class FitOutcome:
    score: int
    grade: str
    groups: tuple[GroupOutcome, ...]


class FitRules:
    """A fit section compiled for a run at `now`."""

    def __init__(
        self, fit: Fit, now: datetime, *, topics: Iterable[str], stages: Iterable[str] = ()
    ) -> None:
        self.fit = fit
        topics, stages = tuple(topics), tuple(stages)
        self._tests: list[list[tuple[FitRule, Matcher]]] = [
            [
                (
                    rule,
                    condition_matcher(
                        rule.when, now, seed=f"fit:{group.id}:{i}", topics=topics, stages=stages
                    ),
                )
                for i, rule in enumerate(group.rules)
            ]
            for group in fit.groups
        ]

    def __call__(self, profile: Any) -> FitOutcome:
        groups = []
        for group, tests in zip(self.fit.groups, self._tests, strict=True):
            rules = tuple(
                RuleOutcome(rule.label or describe(rule), rule.points, test(profile))
                for rule, test in tests
            )
            raw = sum(rule.points for rule in rules if rule.matched)
            points = raw
            if group.max is not None:
                points = min(points, group.max)
            if group.min is not None:
                points = max(points, group.min)
            groups.append(GroupOutcome(group.id, raw, points, group.min, group.max, rules))
        score = sum(group.points for group in groups)
        return FitOutcome(score, self.grade(score), tuple(groups))

    def grade(self, score: int) -> str:
        grades = self.fit.grades
        for grade, least in zip(GRADES, (grades.A, grades.B, grades.C), strict=False):
            if score >= least:
                return grade
        return GRADES[-1]


def describe(rule: FitRule) -> str:
    """A rule's condition as the one-line YAML a marketer wrote."""
    data = rule.when.model_dump(mode="json", by_alias=True, exclude_none=True)
    return str(yaml.safe_dump(data, default_flow_style=True, sort_keys=False)).strip()

"""The scoring file (`scoring.yaml`): fit rules, engagement points with caps and decay, the
stage a contact is in, temperature bands on the fit x engagement grid, and the sales alert.

One scoring model per installation (like the lifecycle): every push is a new version of it.

- `fit`: groups of rules over who the contact is (profile fields, attributes, tags, stage,
  topics, event counts: the segment conditions, without recency), each rule adding points
  (negative allowed), each group's total clamped to its `max` / `min`; the fit score sets a
  grade A-D by `grades`.
- `engagement`: points per human open, click, conversion, unsubscribe, complaint and product
  event, each kind at most `daily_cap` points (in size) per UTC day, halved every `half_life`.
- `temperature`: engagement `levels` (high, medium, low) and the band (hot, warm, cold) of
  each level, overridable per grade and per stage.
- `alert`: when sales hear about a contact (turning hot, or an engagement threshold) and the
  band or engagement it must fall back to before it may alert again (hysteresis).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, StrictInt, model_validator

from chalicelib import fields, modelfiles
from chalicelib.errors import FileError
from chalicelib.fields import Duration, Model, Slug, at_least, at_most
from chalicelib.segments.model import Condition, EventMatch

__all__ = [
    "BANDS",
    "EMAIL_KINDS",
    "GRADES",
    "LEVELS",
    "SCORING_ID",
    "Alert",
    "Bands",
    "Engagement",
    "Fit",
    "FitGroup",
    "FitRule",
    "Kind",
    "Levels",
    "Points",
    "ProductRule",
    "Scoring",
    "TemperatureSpec",
    "validated_scoring",
]

SCORING_ID = "scoring"
"""One scoring model per installation: every push is a version of it."""
BANDS: tuple[str, ...] = get_args(fields.Temperature)
"""Temperatures, hottest first."""
LEVELS = ("high", "medium", "low")
GRADES = ("A", "B", "C", "D")
EMAIL_KINDS = ("opened", "clicked", "converted", "unsubscribed", "complained")
"""Timeline events that earn engagement points (opens and clicks only from a person)."""
MAX_POINTS = 1000

Band = Literal["hot", "warm", "cold"]
Grade = Literal["A", "B", "C", "D"]
PointsValue = Annotated[StrictInt, Field(ge=-MAX_POINTS, le=MAX_POINTS)]
Threshold = Annotated[StrictInt, Field(ge=1, le=1_000_000)]
Label = Annotated[str, Field(min_length=1, max_length=100)]


class FitRule(Model):
    """`points` when the contact matches `when` (a segment condition without recency)."""

    when: Condition
    points: PointsValue
    label: Label | None = Field(default=None, description="what the rule means, in receipts")


class FitGroup(Model):
    """Rules whose points add up, the total clamped to [min, max]."""

    id: Slug
    rules: Annotated[tuple[FitRule, ...], *at_least(1), *at_most(50)]
    max: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = Field(
        default=None, description="the most points the group gives"
    )
    min: Annotated[StrictInt, Field(ge=-100_000, le=0)] | None = Field(
        default=None, description="the most points the group takes away"
    )


class Grades(Model):
    """The least fit score of each grade; below C is D."""

    A: StrictInt
    B: StrictInt
    C: StrictInt

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if not self.A > self.B > self.C:
            raise ValueError("grades must be strictly descending: A > B > C")
        return self


class Fit(Model):
    groups: Annotated[tuple[FitGroup, ...], *at_least(1), *at_most(20)]
    grades: Grades

    @model_validator(mode="after")
    def _unique(self) -> Fit:
        ids = [group.id for group in self.groups]
        if len(set(ids)) != len(ids):
            raise ValueError("group ids must not repeat")
        return self


class Points(Model):
    """Points per event of a kind, and the most (in size) one UTC day of that kind earns."""

    points: PointsValue
    daily_cap: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None

    @model_validator(mode="after")
    def _nonzero(self) -> Points:
        if self.points == 0:
            raise ValueError("points: 0 scores nothing; leave the kind out")
        return self


class ProductRule(EventMatch, Points):
    """Points for a product event by name (and properties, with `where`)."""


class Engagement(Model):
    """Points per human engagement, halved every `half_life`. Machine opens and scanner
    clicks never score."""

    half_life: Duration
    opened: Points | None = None
    clicked: Points | None = None
    converted: Points | None = None
    unsubscribed: Points | None = None
    complained: Points | None = None
    events: Annotated[tuple[ProductRule, ...], *at_most(100)] = Field(
        default=(), description="product events; the first rule that matches an event scores it"
    )

    @model_validator(mode="after")
    def _some(self) -> Engagement:
        if not self.events and all(getattr(self, kind) is None for kind in EMAIL_KINDS):
            raise ValueError(f"give points for at least one of {', '.join(EMAIL_KINDS)}, events")
        return self


class Levels(Model):
    """The least engagement score of the high and medium levels; below medium is low."""

    high: Threshold
    medium: Threshold

    @model_validator(mode="after")
    def _descending(self) -> Levels:
        if not self.high > self.medium:
            raise ValueError("high must be greater than medium")
        return self


class Bands(Model):
    """The temperature of each engagement level."""

    high: Band = "hot"
    medium: Band = "warm"
    low: Band = "cold"


class TemperatureSpec(Model):
    """Levels, the band of each level, and other bands for some fit grades."""

    levels: Levels
    bands: Bands = Bands()
    by_grade: Annotated[dict[Grade, Bands], Field(max_length=4)] | None = None


class Temperature(TemperatureSpec):
    by_stage: Annotated[dict[Slug, TemperatureSpec], Field(max_length=30)] | None = Field(
        default=None, description="levels and bands for contacts in a stage"
    )


class EngagementAtLeast(Model):
    engagement: Threshold


class Alert(Model):
    """Alert sales when the contact reaches `when` (a band, or an engagement score), then not
    again until it has fallen to `rearm` (hysteresis: a score wobbling at the edge pages once)."""

    name: Slug = "hot-lead"
    when: Band | EngagementAtLeast = "hot"
    rearm: Band | EngagementAtLeast | None = Field(
        default=None, description="default: cold for a band, 80% of the engagement threshold"
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Alert:
        when, rearm = self.when, self.rearm
        if rearm is not None and isinstance(when, str) != isinstance(rearm, str):
            raise ValueError("when and rearm must both be bands or both engagement scores")
        if isinstance(when, str):
            if when == "cold":
                raise ValueError("when: cold never alerts sales; use hot or warm")
            if isinstance(rearm, str) and BANDS.index(rearm) <= BANDS.index(when):
                raise ValueError(f"rearm must be a band colder than {when}")
        elif isinstance(rearm, EngagementAtLeast) and rearm.engagement >= when.engagement:
            raise ValueError("rearm.engagement must be below when.engagement")
        return self

    @property
    def rearm_band(self) -> str | None:
        if isinstance(self.when, str):
            return self.rearm if isinstance(self.rearm, str) else "cold"
        return None

    @property
    def rearm_below(self) -> int | None:
        """Engagement under which a threshold alert is armed again."""
        if isinstance(self.when, EngagementAtLeast):
            if isinstance(self.rearm, EngagementAtLeast):
                return self.rearm.engagement
            return max(1, self.when.engagement * 4 // 5)
        return None


class StageSource(Model):
    """Where a contact's stage comes from: the lifecycle (default) or a custom attribute."""

    attribute: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")] | None = None


Kind = str
"""An engagement kind: `opened`, ..., or `event:<name>` (`event:<name>#<n>` when several
rules score one event name)."""


class Scoring(modelfiles.VersionedModel):
    """A validated scoring file; build it with `parse_scoring`, `load_scoring` or `from_json`."""

    model_config = ConfigDict(title="nurture scoring file")

    name: Annotated[str, Field(min_length=1, max_length=200)] = "Lead score"
    description: Annotated[str, Field(max_length=2000)] | None = None
    fit: Fit | None = None
    engagement: Engagement
    stage: StageSource = StageSource()
    temperature: Temperature
    alert: Alert | None = None

    @property
    def id(self) -> str:
        return SCORING_ID

    def product_kinds(self) -> list[tuple[Kind, ProductRule]]:
        """Each product rule with its engagement kind, in file order."""
        names = [rule.name for rule in self.engagement.events]
        return [
            (
                f"event:{rule.name}" if names.count(rule.name) == 1 else f"event:{rule.name}#{i}",
                rule,
            )
            for i, rule in enumerate(self.engagement.events)
        ]

    def spec_for(self, stage: str | None) -> TemperatureSpec:
        """The levels and bands of contacts in `stage`."""
        return (self.temperature.by_stage or {}).get(stage or "", self.temperature)

    def stages_named(self) -> tuple[str, ...]:
        return tuple(self.temperature.by_stage or ())

    @classmethod
    def from_json(cls, text: str, *, file: str = "<stored version>") -> Scoring:
        return validated_scoring(modelfiles.stored_data(text, file), file, {}, [])


_RECENCY_KEYS = frozenset({"opened", "clicked", "converted", "engaged"})
_SCORE_KEYS = frozenset({"temperature", "grade", "score"})


def validated_scoring(
    data: Any,
    file: str,
    lines: Mapping[str, int],
    errors: list[FileError],
    *,
    stages: tuple[str, ...] | None = None,
) -> Scoring:
    """Schema errors, fit rules that depend on time or on the score itself, and (given the
    pushed stages) stage names, all reported together."""
    checks = [*errors, *_fit_errors(data), *_stage_errors(data, stages)]
    return modelfiles.validated(Scoring, data, file, lines, checks)


def _fit_errors(data: Any) -> Iterator[FileError]:
    """Fit says who a contact is; it must not drift with the clock (only engagement decays,
    which is what lets a band crossing be foreseen) nor read the score it makes."""
    fit = data.get("fit") if isinstance(data, dict) else None
    groups = fit.get("groups") if isinstance(fit, dict) else None
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        rules = group.get("rules") if isinstance(group, dict) else None
        for r, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict):
                yield from _timeless(rule.get("when"), f"fit.groups[{g}].rules[{r}].when")


def _timeless(raw: Any, path: str, depth: int = 0) -> Iterator[FileError]:
    if not isinstance(raw, dict) or depth > 16:
        return
    for key, value in raw.items():
        here = f"{path}.{key}"
        if key in _RECENCY_KEYS:
            yield FileError(here, "fit cannot depend on recent behaviour; score it as engagement")
        elif key in _SCORE_KEYS:
            yield FileError(here, "fit cannot depend on the score it makes")
        elif key in ("within", "not_within"):
            yield FileError(here, "fit cannot change with the clock; score recency as engagement")
        elif key in ("all", "any") and isinstance(value, list):
            for i, child in enumerate(value):
                yield from _timeless(child, f"{here}[{i}]", depth + 1)
        elif isinstance(value, dict):
            yield from _timeless(value, here, depth + 1)


def _stage_errors(data: Any, stages: tuple[str, ...] | None) -> Iterator[FileError]:
    """Stages the temperature names that the pushed lifecycle does not list (when the stage
    comes from the lifecycle; an attribute may hold any text)."""
    if stages is None or not isinstance(data, dict):
        return
    source = data.get("stage")
    if isinstance(source, dict) and source.get("attribute"):
        return
    temperature = data.get("temperature")
    by_stage = temperature.get("by_stage") if isinstance(temperature, dict) else None
    for name in by_stage if isinstance(by_stage, dict) else ():
        if name not in stages:
            listed = ", ".join(stages) or "none are pushed"
            yield FileError(
                f"temperature.by_stage.{name}", f"unknown stage {name!r} (stages: {listed})"
            )

"""The segment model: conditions over one contact, as frozen pydantic models.

A condition is a mapping with exactly one key: `all` / `any` (lists), `not`, or one test of
the contact (`field`, `attribute`, `tag`, `interest`, `topic`, `stage`, `consent`, engagement
recency `opened` / `clicked` / `converted` / `engaged`, `event`, `bucket`, and the lead score:
`temperature`, `grade`, `score`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from chalicelib import modelfiles
from chalicelib.errors import FileError
from chalicelib.fields import Duration, Model, Slug, at_least, at_most
from chalicelib.summary import RECENT

__all__ = [
    "FIELDS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "RECENT",
    "AttributeTest",
    "BucketTest",
    "Compare",
    "Condition",
    "EventMatch",
    "EventTest",
    "FieldTest",
    "GradeTest",
    "InterestTest",
    "Range",
    "Recency",
    "ScoreTest",
    "Segment",
    "StageTest",
    "TemperatureTest",
    "named",
    "validated_segment",
]

FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "locale",
    "timezone",
    "country",
    "consent_source",
    "consent_at",
    "created_at",
    "status",
)
"""Profile fields a `field` test may name (custom attributes use `attribute`)."""
MAX_CONDITIONS = 100
MAX_DEPTH = 8

_NAME_RE = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
_PROPERTY_RE = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_ATTRIBUTE_RE = r"^[a-z][a-z0-9_]{0,63}$"
EventName = Annotated[str, Field(pattern=_NAME_RE, description="a product event name")]
PropertyName = Annotated[str, Field(pattern=_PROPERTY_RE)]
Label = Annotated[StrictStr, Field(min_length=1, max_length=100)]
DYNAMO_MAX = Decimal("9.99E+125")


def _number(value: Any) -> int | float:
    """A number DynamoDB can hold (38 digits, 1E-130..9.99E+125), never a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    number = Decimal(repr(value))
    if not number.is_finite() or abs(number) > DYNAMO_MAX:
        raise ValueError("must be a finite number within ±9.99E+125")
    if number and abs(number) < Decimal("1E-130"):
        raise ValueError("must be 0 or at least 1E-130 in size")
    if len(number.normalize().as_tuple().digits) > 38:
        raise ValueError("has more than 38 significant digits")
    return value


def _bound(value: Any) -> int | float | str:
    """A range bound: a number, or text compared as text (ISO dates order correctly)."""
    return value if isinstance(value, str) else _number(value)


def _scalar(value: Any) -> bool | int | float | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > 1000:
            raise ValueError("text longer than 1000 characters")
        return value
    if isinstance(value, int | float):
        return _number(value)
    raise ValueError("expected text, a number or true/false")


Number = Annotated[int | float, PlainValidator(_number), WithJsonSchema({"type": "number"})]
Bound = Annotated[
    int | float | str, PlainValidator(_bound), WithJsonSchema({"type": ["number", "string"]})
]
Scalar = Annotated[
    bool | int | float | str,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]


class Compare(Model):
    """Tests of one value; every test given must hold. Text compares exactly (case matters);
    numbers compare as numbers, also when the stored value is numeric text."""

    model_config = ConfigDict(populate_by_name=False)

    equals: Scalar | None = None
    in_: Annotated[tuple[Scalar, ...], *at_least(1), *at_most(100)] | None = Field(
        default=None, alias="in"
    )
    exists: StrictBool | None = Field(default=None, description="set (true) or absent (false)")
    gt: Bound | None = None
    gte: Bound | None = None
    lt: Bound | None = None
    lte: Bound | None = None
    starts_with: Annotated[StrictStr, Field(min_length=1)] | None = None
    ends_with: Annotated[StrictStr, Field(min_length=1)] | None = None
    within: Duration | None = Field(default=None, description="a timestamp at most this old")
    not_within: Duration | None = Field(
        default=None, description="a timestamp older than this, or none"
    )

    @model_validator(mode="after")
    def _some_test(self) -> Compare:
        given = [name for name in _TESTS if getattr(self, name) is not None]
        if not given:
            raise ValueError(f"give at least one of {', '.join(_TEST_KEYS)}")
        if self.exists is not None and len(given) > 1:
            raise ValueError("exists cannot be combined with other tests")
        return self


_TESTS = tuple(name for name in Compare.model_fields if name not in ("name",))
_TEST_KEYS = tuple("in" if name == "in_" else name for name in _TESTS)


class FieldTest(Compare):
    name: Literal[FIELDS]  # type: ignore[valid-type]


class AttributeTest(Compare):
    name: Annotated[str, Field(pattern=_ATTRIBUTE_RE, description="a custom attribute")]


def named(value: Any) -> Any:
    """`event: signed_up` is short for `{name: signed_up}` (interests and events too)."""
    return {"name": value} if isinstance(value, str) else value


def _equals(value: Any) -> Any:
    """`stage: customer` is short for `{equals: customer}`."""
    return {"equals": value} if isinstance(value, str) else value


def _where_shorthand(value: Any) -> Any:
    """`plan: pro` means `{equals: pro}`, `plan: [pro, team]` means `{in: [pro, team]}`."""
    if isinstance(value, list):
        return {"in": value}
    return value if isinstance(value, dict) else {"equals": value}


class InterestTest(Model):
    """The contact has the interest (from a human click, an import or the API)."""

    name: Label
    within: Duration | None = Field(
        default=None, description="only interests shown by a human click at most this long ago"
    )


class Recency(Model):
    """Human engagement (never a machine open or a scanner click) within, or not within, a
    duration; `not_within` also holds for a contact who never engaged."""

    within: Duration | None = None
    not_within: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> Recency:
        if (self.within is None) == (self.not_within is None):
            raise ValueError("give exactly one of within or not_within")
        return self


class Count(Model):
    min: StrictInt | None = Field(default=None, ge=0)
    max: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> Count:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be greater than max")
        return self


Where = Annotated[
    dict[
        PropertyName,
        Annotated[
            Compare,
            BeforeValidator(
                _where_shorthand, json_schema_input_type=Scalar | list[Scalar] | Compare
            ),
        ],
    ],
    *at_least(1, "minProperties"),
    Field(max_length=20),
]


class EventMatch(Model):
    """A product event by name, optionally only when its properties match `where`."""

    name: EventName
    where: Where | None = None


class EventTest(EventMatch):
    """The contact did `name` (at least once, or `count` times), optionally `within` a
    duration and only counting occurrences whose properties match `where`."""

    within: Duration | None = None
    count: Count | None = None

    @model_validator(mode="after")
    def _countable(self) -> EventTest:
        windowed = self.within is not None or self.where is not None
        highest = max(self.count.min or 0, self.count.max or 0) if self.count else 0
        if windowed and highest > RECENT:
            raise ValueError(
                f"with within or where, counts up to {RECENT} are exact "
                f"(the contact's last {RECENT} occurrences are kept); lower the count"
            )
        return self


_SOME = at_least(1)  # (StageTest has a field named at_least)


class StageTest(Model):
    """The contact's lifecycle stage: exactly, one of several, or from / before a stage in
    the configured order."""

    equals: Slug | None = None
    in_: Annotated[tuple[Slug, ...], *_SOME] | None = Field(default=None, alias="in")
    at_least: Slug | None = None
    before: Slug | None = None

    @model_validator(mode="after")
    def _one(self) -> StageTest:
        given = [v for v in (self.equals, self.in_, self.at_least, self.before) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, in, at_least or before")
        return self


class BucketTest(Model):
    """A deterministic random share of contacts: those whose hash of (seed, contact id) falls
    in [offset, offset + percent) of 100. The same contact always lands in the same bucket."""

    percent: StrictInt = Field(ge=1, le=100)
    offset: StrictInt = Field(default=0, ge=0, le=99)
    seed: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="default: the segment id"
    )

    @model_validator(mode="after")
    def _inside(self) -> BucketTest:
        if self.offset + self.percent > 100:
            raise ValueError("offset + percent must be at most 100")
        return self


_TEMPERATURES = Literal["hot", "warm", "cold"]
_GRADES = Literal["A", "B", "C", "D"]


class TemperatureTest(Model):
    """The contact's lead temperature (`scoring.yaml`), as last written: exactly or one of."""

    equals: _TEMPERATURES | None = None
    in_: Annotated[tuple[_TEMPERATURES, ...], *at_least(1)] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _one(self) -> TemperatureTest:
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals or in")
        return self


class GradeTest(Model):
    """The contact's fit grade (A-D): exactly or one of."""

    equals: _GRADES | None = None
    in_: Annotated[tuple[_GRADES, ...], *at_least(1)] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _one(self) -> GradeTest:
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals or in")
        return self


class Range(Model):
    """Bounds of a number; every bound given must hold."""

    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None

    @model_validator(mode="after")
    def _some(self) -> Range:
        if all(bound is None for bound in (self.gt, self.gte, self.lt, self.lte)):
            raise ValueError("give at least one of gt, gte, lt, lte")
        return self


class ScoreTest(Model):
    """The lead score: `engagement` decayed to the moment of evaluation, `fit` as scored."""

    engagement: Range | None = None
    fit: Range | None = None

    @model_validator(mode="after")
    def _some(self) -> ScoreTest:
        if self.engagement is None and self.fit is None:
            raise ValueError("give engagement, fit or both")
        return self


class Condition(Model):
    """Exactly one key: a combination (`all`, `any`, `not`) or one test of the contact."""

    model_config = ConfigDict(
        json_schema_extra={"minProperties": 1, "maxProperties": 1}, populate_by_name=False
    )

    all: Annotated[tuple[Condition, ...], *at_least(1)] | None = None
    any: Annotated[tuple[Condition, ...], *at_least(1)] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    field: FieldTest | None = None
    attribute: AttributeTest | None = None
    tag: Label | None = Field(default=None, description="the contact has this tag")
    interest: (
        Annotated[InterestTest, BeforeValidator(named, json_schema_input_type=Label | InterestTest)]
        | None
    ) = None
    topic: Slug | None = Field(
        default=None, description="the contact receives this topic (did not opt out of it)"
    )
    stage: (
        Annotated[StageTest, BeforeValidator(_equals, json_schema_input_type=Slug | StageTest)]
        | None
    ) = None
    consent: StrictBool | None = Field(
        default=None, description="consent is recorded (true) or not (false)"
    )
    opened: Recency | None = Field(default=None, description="last human open")
    clicked: Recency | None = Field(default=None, description="last human click")
    converted: Recency | None = Field(default=None, description="last conversion")
    engaged: Recency | None = Field(
        default=None, description="last human open, click or conversion"
    )
    event: (
        Annotated[EventTest, BeforeValidator(named, json_schema_input_type=EventName | EventTest)]
        | None
    ) = None
    bucket: BucketTest | None = None
    temperature: (
        Annotated[
            TemperatureTest,
            BeforeValidator(_equals, json_schema_input_type=_TEMPERATURES | TemperatureTest),
        ]
        | None
    ) = Field(default=None, description="the lead temperature (hot, warm, cold)")
    grade: (
        Annotated[GradeTest, BeforeValidator(_equals, json_schema_input_type=_GRADES | GradeTest)]
        | None
    ) = Field(default=None, description="the fit grade (A-D)")
    score: ScoreTest | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            keys = ", ".join("not" if n == "not_" else n for n in type(self).model_fields)
            raise ValueError(f"give exactly one of {keys}")
        return self

    def key(self) -> str:
        """The one key given (`all`, `event`, ...)."""
        for name in type(self).model_fields:
            if getattr(self, name) is not None:
                return "not" if name == "not_" else name
        raise AssertionError("validated to hold one key")


class Segment(modelfiles.VersionedModel):
    """A validated segment; build it with `load_segment`, `parse_segment` or `from_json`."""

    model_config = ConfigDict(title="nurture segment file")

    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    match: Condition

    @classmethod
    def from_json(cls, text: str, *, file: str = "<stored version>") -> Segment:
        return validated_segment(modelfiles.stored_data(text, file), file, {}, [])


def validated_segment(
    data: Any,
    file: str,
    lines: Mapping[str, int],
    errors: list[FileError],
    *,
    stages: tuple[str, ...] | None = None,
    topics: tuple[str, ...] | None = None,
) -> Segment:
    """Schema errors, size limits and (given the known stages and topics) the names used,
    all reported together."""
    leaves = list(_leaves(data.get("match") if isinstance(data, dict) else None, "match", 1))
    checks = [*errors, *_size_errors(leaves), *_name_errors(leaves, stages, topics)]
    return modelfiles.validated(Segment, data, file, lines, checks)


def _leaves(raw: Any, path: str, depth: int) -> Iterator[tuple[str, str, Any, int]]:
    """(path, key, value, depth) of every test in raw conditions, tolerating bad shapes."""
    if not isinstance(raw, dict) or len(raw) != 1:
        return
    ((key, value),) = raw.items()
    if depth > MAX_DEPTH:
        yield path, "", None, depth
    elif key in ("all", "any") and isinstance(value, list):
        for i, child in enumerate(value):
            yield from _leaves(child, f"{path}.{key}[{i}]", depth + 1)
    elif key == "not":
        yield from _leaves(value, f"{path}.not", depth + 1)
    else:
        yield path, str(key), value, depth


def _size_errors(leaves: list[tuple[str, str, Any, int]]) -> list[FileError]:
    errors = []
    if any(depth > MAX_DEPTH for *_, depth in leaves):
        errors.append(FileError("match", f"conditions nest deeper than {MAX_DEPTH} levels"))
    if len(leaves) > MAX_CONDITIONS:
        message = f"{len(leaves)} tests; the limit is {MAX_CONDITIONS}"
        errors.append(FileError("match", message))
    return errors


def _name_errors(
    leaves: list[tuple[str, str, Any, int]],
    stages: tuple[str, ...] | None,
    topics: tuple[str, ...] | None,
) -> Iterator[FileError]:
    """Stages and topics a segment names that do not exist (known only at push)."""
    for path, key, value, _ in leaves:
        if key == "stage" and stages is not None:
            named = [value] if isinstance(value, str) else _stage_names(value)
            for name in (n for n in named if isinstance(n, str) and n not in stages):
                listed = ", ".join(stages) or "none are pushed"
                yield FileError(f"{path}.stage", f"unknown stage {name!r} (stages: {listed})")
        if key == "topic" and topics is not None and isinstance(value, str) and value not in topics:
            known = ", ".join(topics)
            yield FileError(f"{path}.topic", f"unknown topic {value!r} (topics: {known})")


def _stage_names(value: Any) -> list[Any]:
    if not isinstance(value, dict):
        return []
    listed = value.get("in")
    return [
        *(value.get(k) for k in ("equals", "at_least", "before") if k in value),
        *(listed if isinstance(listed, list) else []),
    ]

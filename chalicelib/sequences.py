"""Sequence files: the marketer-facing YAML model of a drip sequence and its validation.

A sequence file is read with `load_sequence(path)` (or `parse_sequence(text)`), which reports
every problem at once as `SequenceInvalid`, each error naming the file, the YAML path
(`steps[2].branches.not_opened.within`), the line and what is wrong. A loaded `Sequence` is
self-contained: `html_file` / `text_file` references are read and inlined at load time, so a
stored version pins its template content and `content_hash()` changes when a template changes.

Editors validate and autocomplete files with the published JSON Schema
(`schemas/sequence.schema.json`, regenerate with `python -m chalicelib.sequences`) by putting
this first line in a sequence file (yaml-language-server, used by the VS Code YAML extension):

    # yaml-language-server: $schema=../../schemas/sequence.schema.json

The schema checks shape only; references between steps, cycles and duplicate keys are checked
here.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sized
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from chalicelib.errors import NurtureError
from chalicelib.localtime import validate_zone

MAX_FILE_BYTES = 256 * 1024
"""Upper bound for a sequence file and for each template file it references."""

MAX_DURATION = timedelta(days=3650)
EXIT = "exit"
SUPPRESS = "suppress"
"""A target that ends the sequence and suppresses the contact for good (a sunset step)."""
"""Branch / `next` target that ends the contact's enrollment."""

SCHEMA_ID = "https://nurture.dev/schemas/sequence.schema.json"
_CROSS_CHECKED = "cross_checked"

# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class SequenceError:
    """One problem in a sequence file; `path` is the YAML path (`""` for the whole file)."""

    path: str
    message: str
    line: int | None = None


class SequenceInvalid(NurtureError, ValueError):
    """A sequence file that cannot be used, with every problem found in it."""

    status = 422

    def __init__(self, file: str, errors: list[SequenceError]) -> None:
        self.file = file
        self.errors = tuple(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(_format_error(self.file, error) for error in self.errors)


def _format_error(file: str, error: SequenceError) -> str:
    where = f"{file}: {error.path}: " if error.path else f"{file}: "
    suffix = f" (line {error.line})" if error.line is not None else ""
    return f"{where}{error.message}{suffix}"


# ---------------------------------------------------------------------------------------------
# Durations and local times


_DURATION_UNITS = {  # largest first, for format_duration
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
_DURATION_RE = re.compile(r"(\d{1,7})([mhdw])")
_DURATION_HELP = "expected a whole number and a unit m, h, d or w (e.g. 30m, 48h, 3d, 1w)"


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """Parse `30m`, `48h`, `3d` or `1w`; zero only where the caller says it means "at once"."""
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid duration {text!r}: {_DURATION_HELP}")
    value = int(match[1]) * _DURATION_UNITS[match[2]]
    if not value and not allow_zero:
        raise ValueError(f"duration {text!r} must be longer than zero")
    if value > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than the {MAX_DURATION.days}d limit")
    return value


def format_duration(value: timedelta) -> str:
    """Inverse of `parse_duration`, using the largest unit that divides evenly (72h -> 3d)."""
    for unit, size in _DURATION_UNITS.items():
        if value % size == timedelta(0):
            return f"{value // size}{unit}"
    raise ValueError(f"{value} is not a whole number of minutes")


def _duration_validator(*, allow_zero: bool) -> PlainValidator:
    def validate(value: Any) -> timedelta:
        if isinstance(value, timedelta):
            value = format_duration(value)
        if not isinstance(value, str):
            raise ValueError(f"{_DURATION_HELP}, as text")
        return parse_duration(value, allow_zero=allow_zero)

    return PlainValidator(validate)


_DURATION_JSON = {"type": "string", "pattern": f"^{_DURATION_RE.pattern}$", "examples": ["3d"]}
Duration = Annotated[
    timedelta,
    _duration_validator(allow_zero=False),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_DURATION_JSON),
]
Delay = Annotated[
    timedelta,
    _duration_validator(allow_zero=True),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(_DURATION_JSON),
]

_TIME_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _parse_local_time(value: Any) -> time:
    if isinstance(value, time) and value == time(value.hour, value.minute):
        return value
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a local time "HH:MM" between 00:00 and 23:59, got {value!r}')
    return time(int(match[1]), int(match[2]))


LocalTime = Annotated[
    time,
    PlainValidator(_parse_local_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": f"^{_TIME_RE.pattern}$", "examples": ["09:00"]}),
]

# ---------------------------------------------------------------------------------------------
# Names


_SLUG_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_LOCALE_RE = r"^[a-z]{2,3}(-[A-Z]{2})?$"
Slug = Annotated[str, Field(pattern=_SLUG_RE, description="lowercase letters, digits, - and _")]
Locale = Annotated[str, Field(pattern=_LOCALE_RE, examples=["en", "pt-BR"])]
_PATTERN_MEANING = {
    _SLUG_RE: "must be 1-64 lowercase letters, digits, - or _, starting with a letter or digit",
    _LOCALE_RE: "must be a locale like en or pt-BR",
}
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _check_timezone(name: str) -> str:
    return validate_zone(name).key


def _check_step_id(name: str) -> str:
    if name in (EXIT, SUPPRESS):
        raise ValueError(f"{name!r} is reserved as a target that ends the sequence")
    return name


def _at_least(count: int, keyword: str = "minItems") -> tuple[AfterValidator, Any]:
    """Length floor checked after the items: pydantic's min_length miscounts when an item fails."""

    def check(value: Sized) -> Sized:
        if len(value) < count:
            raise ValueError(f"needs at least {count} {'entry' if count == 1 else 'entries'}")
        return value

    return AfterValidator(check), Field(json_schema_extra={keyword: count})


def _sorted_days(days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
    """Days in week order, so the same set of days always hashes the same."""
    if len(set(days)) != len(days):
        raise ValueError("days must not repeat")
    return tuple(sorted(days, key=WEEKDAYS.index))


Timezone = Annotated[
    str, AfterValidator(_check_timezone), Field(description="IANA zone", examples=["Europe/Berlin"])
]
StepId = Annotated[Slug, AfterValidator(_check_step_id)]
Target = Annotated[
    Slug,
    Field(
        description=f"a step id, {EXIT!r} to end the sequence, or {SUPPRESS!r} to end it and "
        "suppress the contact (sunset)"
    ),
]
Days = Annotated[tuple[Weekday, ...], *_at_least(1), AfterValidator(_sorted_days)]

# ---------------------------------------------------------------------------------------------
# Model


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuietHours(_Model):
    """Local hours when nothing is sent; may wrap midnight (22:00 to 07:00)."""

    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class SendWindow(_Model):
    """Local hours and weekdays in which a step may be sent."""

    start: LocalTime
    end: LocalTime
    days: Days = WEEKDAYS[:5]
    skip_holidays: StrictBool = Field(
        default=False, description="public holidays of the contact's country"
    )
    quiet_hours: QuietHours | None = None

    @model_validator(mode="after")
    def _start_before_end(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError("start must be earlier than end (a send window cannot wrap midnight)")
        return self


class FrequencyCap(_Model):
    """At most `max` emails per day or week to one contact, across sequences."""

    max: StrictInt = Field(gt=0)
    per: Literal["day", "week"]
    on_cap: Literal["postpone", "skip"] = "postpone"


class Goal(_Model):
    """Reaching `event` within `within` of enrolling ends the enrollment."""

    event: Literal["converted", "clicked", "opened"]
    within: Duration


class Entry(_Model):
    """Whether a contact may enroll again after leaving, and how long after."""

    reentry: StrictBool = False
    cooldown: Duration | None = None

    @model_validator(mode="after")
    def _cooldown_needs_reentry(self) -> Entry:
        if self.cooldown is not None and not self.reentry:
            raise ValueError("cooldown only applies when reentry is true")
        return self


def _check_subject(subject: str) -> str:
    if "\r" in subject or "\n" in subject:
        raise ValueError("subject must be one line (no CR or LF)")
    if not subject.strip():
        raise ValueError("subject must not be blank")
    return subject


class TemplateSpec(_Model):
    """One locale's email: subject plus html (and optional text) inline or from a file."""

    subject: Annotated[str, AfterValidator(_check_subject)]
    html: str | None = Field(default=None, min_length=1, description="inline jinja2 HTML template")
    html_file: str | None = Field(default=None, description="path relative to the sequence file")
    text: str | None = Field(
        default=None, min_length=1, description="inline jinja2 plain-text template"
    )
    text_file: str | None = Field(default=None, description="path relative to the sequence file")

    @model_validator(mode="after")
    def _one_source_each(self) -> TemplateSpec:
        if (self.html is None) == (self.html_file is None):
            raise ValueError("give exactly one of html or html_file")
        if self.text is not None and self.text_file is not None:
            raise ValueError("give at most one of text or text_file")
        return self


Templates = Annotated[dict[Locale, TemplateSpec], *_at_least(1, "minProperties")]


class Variant(_Model):
    """An A/B variant; contacts are split by weight."""

    id: Slug
    weight: StrictInt = Field(gt=0)
    template: Templates


class WaitUntil(_Model):
    """Wait for the next local `time` (on one of `days`, if given)."""

    time: LocalTime
    days: Days | None = None


Engagement = Literal["human", "any"]


class EventBranch(_Model):
    """Jump to `goto` as soon as the event happens."""

    goto: Target
    engagement: Engagement = Field(
        default="human", description="'any' also counts machine opens/clicks"
    )


class AbsenceBranch(EventBranch):
    """Jump to `goto` when the event has not happened `within` the step's send."""

    within: Duration


class NotOpenedBranch(AbsenceBranch):
    """`mpp_fallback: clicks` judges contacts whose opens are all machine opens by clicks."""

    mpp_fallback: Literal["clicks"] | None = None


def _goto_shorthand(value: Any) -> Any:
    """`opened: tips` is short for `opened: {goto: tips}`."""
    return {"goto": value} if isinstance(value, str) else value


ShorthandBranch = Annotated[
    EventBranch, BeforeValidator(_goto_shorthand, json_schema_input_type=Target | EventBranch)
]


class Branches(_Model):
    """Where a contact goes after this step, depending on what they did (or did not do)."""

    opened: ShorthandBranch | None = None
    clicked: ShorthandBranch | None = None
    converted: ShorthandBranch | None = None
    unsubscribed: ShorthandBranch | None = None
    not_opened: NotOpenedBranch | None = None
    not_clicked: AbsenceBranch | None = None
    not_converted: AbsenceBranch | None = None
    clicked_not_converted: AbsenceBranch | None = None

    @model_validator(mode="after")
    def _unsubscribed_exits(self) -> Branches:
        if self.unsubscribed is not None and self.unsubscribed.goto != EXIT:
            raise ValueError(f"unsubscribed contacts are never emailed again: use {EXIT!r}")
        return self


class Step(_Model):
    """One email of the sequence, when it goes out, and where the contact goes next."""

    id: StepId
    template: Templates | None = None
    variants: Annotated[tuple[Variant, ...], *_at_least(2), Field(max_length=10)] | None = None
    delay: Delay | None = Field(
        default=None, description="after the previous email (or enrollment)"
    )
    wait_until: WaitUntil | None = None
    next: Target | None = Field(default=None, description="default: the following step, then exit")
    branches: Branches = Branches()

    @model_validator(mode="after")
    def _one_of_each(self) -> Step:
        if (self.template is None) == (self.variants is None):
            raise ValueError("give exactly one of template or variants")
        if self.delay is not None and self.wait_until is not None:
            raise ValueError("give at most one of delay or wait_until")
        if self.variants and len({v.id for v in self.variants}) != len(self.variants):
            raise ValueError("variant ids must be unique")
        return self


class Sequence(_Model):
    """A validated sequence; build it with `load_sequence`, `parse_sequence` or `from_json`."""

    model_config = ConfigDict(title="nurture sequence file")

    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    default_timezone: Timezone
    default_locale: Locale
    send_window: SendWindow = SendWindow(start=time(9), end=time(17))
    frequency_cap: FrequencyCap | None = None
    goal: Goal | None = None
    entry: Entry = Entry()
    steps: Annotated[tuple[Step, ...], *_at_least(1), Field(max_length=100)]

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Sequence:
        """Direct construction gets the same cross-step checks the file loaders run."""
        if not (info.context or {}).get(_CROSS_CHECKED):
            errors = _cross_step_errors(self.model_dump(mode="json"))
            if errors:
                raise ValueError("; ".join(f"{e.path}: {e.message}" for e in errors))
        return self

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, normalized values) for storing a version."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def step(self, step_id: str) -> Step:
        """The step with this id (ids are unique, checked at load)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"sequence {self.id!r} has no step {step_id!r}")

    def next_of(self, step_id: str) -> str:
        """Where a step leads when no branch fires: `next`, else the following step, else exit."""
        ids = [step.id for step in self.steps]
        position = ids.index(step_id)
        following = ids[position + 1] if position + 1 < len(ids) else EXIT
        return self.steps[position].next or following

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: an identical re-upload gives the same hash."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str, *, file: str = "<stored version>") -> Sequence:
        """Load a version stored with `to_json`, re-checking it like a file."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SequenceInvalid(file, [SequenceError("", f"invalid JSON: {exc}")]) from exc
        return _validated(data, file, {}, [])


# ---------------------------------------------------------------------------------------------
# Loading


def load_sequence(path: Path | str) -> Sequence:
    """Read, validate and inline the templates of a sequence file."""
    path = Path(path)
    file = str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SequenceInvalid(file, [_too_big(size)])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SequenceInvalid(file, [SequenceError("", "the file is not UTF-8 text")]) from exc
    return parse_sequence(text, file=file, base_dir=path.parent)


def parse_sequence(text: str, *, file: str = "<string>", base_dir: Path | None = None) -> Sequence:
    """Validate sequence YAML; `html_file`/`text_file` are read relative to `base_dir`."""
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise SequenceInvalid(file, [_too_big(size)])
    data, lines, errors = _read_yaml(text, file)
    errors += _inline_template_files(data, base_dir)
    return _validated(data, file, lines, errors)


def _too_big(size: int) -> SequenceError:
    return SequenceError("", f"file is {size} bytes; the limit is {MAX_FILE_BYTES // 1024} KiB")


def _validated(
    data: Any, file: str, lines: Mapping[str, int], errors: list[SequenceError]
) -> Sequence:
    """Collect schema and cross-step errors together, so one run reports everything."""
    if not isinstance(data, dict):
        message = "the top level must be a mapping of keys (id, name, steps, ...)"
        raise SequenceInvalid(file, [*errors, SequenceError("", message)])
    errors = [*errors, *_cross_step_errors(data)]
    try:
        sequence = Sequence.model_validate(data, context={_CROSS_CHECKED: True})
    except ValidationError as exc:
        errors += _schema_errors(exc)
    if errors:
        located = [_with_line(error, lines) for error in errors]
        raise SequenceInvalid(file, sorted(located, key=lambda e: (e.line or 0, e.path)))
    return sequence


def _with_line(error: SequenceError, lines: Mapping[str, int]) -> SequenceError:
    """Attach the line of the nearest enclosing YAML node that exists in the file."""
    if error.line is not None:
        return error
    path = error.path
    while path and path not in lines:
        path = re.sub(r"(?:^|\.)[^.\[\]]*$|\[\d+\]$", "", path, count=1)
    return SequenceError(error.path, error.message, lines.get(path))


def _schema_errors(exc: ValidationError) -> list[SequenceError]:
    return [_schema_error(detail) for detail in exc.errors(include_url=False)]


def _schema_error(detail: Any) -> SequenceError:
    loc = [part for part in detail["loc"] if part != "[key]"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    path = path.removeprefix(".")
    if detail["type"] == "extra_forbidden":
        return SequenceError(path, _unknown_key_message(loc))
    if detail["type"] == "missing":
        return SequenceError(path, "is required")
    if detail["type"] == "value_error":
        return SequenceError(path, str(detail["ctx"]["error"]))
    message = _PATTERN_MEANING.get(detail.get("ctx", {}).get("pattern"), detail["msg"])
    prefix = "key: " if "[key]" in detail["loc"] else ""
    given = detail["input"]
    suffix = f" (got {given!r})" if isinstance(given, str | int | float) else ""
    return SequenceError(path, f"{prefix}{message}{suffix}")


def _unknown_key_message(loc: list[int | str]) -> str:
    allowed = sorted(_allowed_keys(loc[:-1]))
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed here: {', '.join(allowed)}"


def _allowed_keys(loc: list[int | str]) -> set[str]:
    """Field names of the model at `loc`, found by walking the model's annotations."""
    annotation: Any = Sequence
    for part in loc:
        annotation = _without_none(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field else None
        else:  # a list index or a mapping key: step into the item type
            items = [arg for arg in get_args(annotation) if arg is not Ellipsis]
            annotation = items[-1] if items else None
    annotation = _without_none(annotation)
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return set(annotation.model_fields) if is_model else set()


def _without_none(annotation: Any) -> Any:
    """`Annotated[X, ...] | None` -> X."""
    if get_origin(annotation) is Annotated:
        return _without_none(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _without_none(options[0]) if len(options) == 1 else annotation
    return annotation


# ---------------------------------------------------------------------------------------------
# YAML


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """Safe loader with YAML 1.2 scalars (`no`, `on`, `10:30` stay strings) and no aliases."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", mark)
        return super().compose_node(parent, index)


def _resolve_yaml_12_scalars() -> None:
    """YAML 1.1 reads `no` as false and `10:30` as 630; marketers mean the text."""
    for tag, pattern, first in (
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
        ("float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$", "-+.0123456789"),
        ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ):
        _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))


_resolve_yaml_12_scalars()


def _read_yaml(text: str, file: str) -> tuple[Any, dict[str, int], list[SequenceError]]:
    """Parse YAML into plain data, a path -> line index, and duplicate-key errors."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SequenceInvalid(file, [SequenceError("", "the file is empty")])
        lines: dict[str, int] = {}
        errors = list(_index_nodes(node, "", lines))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise SequenceInvalid(file, [SequenceError("", message, line)]) from exc
    except yaml.YAMLError as exc:
        raise SequenceInvalid(file, [SequenceError("", f"invalid YAML: {exc}")]) from exc
    except RecursionError as exc:
        raise SequenceInvalid(file, [SequenceError("", "the YAML is nested too deeply")]) from exc
    finally:
        loader.dispose()
    return data, lines, errors


def _index_nodes(node: yaml.Node, path: str, lines: dict[str, int]) -> Iterator[SequenceError]:
    """Record each path's line and report duplicate keys, which PyYAML silently overwrites."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _index_nodes(item, f"{path}[{index}]", lines)
    elif isinstance(node, yaml.MappingNode):
        first_seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            key = (key_node.tag, str(key_node.value))
            child = f"{path}.{key[1]}" if path else key[1]
            line = key_node.start_mark.line + 1
            if key in first_seen:
                message = f"duplicate key (first at line {first_seen[key]}; YAML keeps the last)"
                yield SequenceError(child, message, line)
            first_seen.setdefault(key, line)
            yield from _index_nodes(value_node, child, lines)


# ---------------------------------------------------------------------------------------------
# Template files


def _inline_template_files(data: Any, base_dir: Path | None) -> list[SequenceError]:
    """Replace `html_file`/`text_file` by the file's content, in place on freshly loaded data."""
    errors: list[SequenceError] = []
    for path, spec in _template_specs(data):
        for kind in ("html", "text"):
            reference = spec.get(f"{kind}_file")
            if not isinstance(reference, str) or spec.get(kind) is not None:
                continue
            try:
                spec[kind] = _read_template(reference, base_dir)
            except ValueError as exc:
                errors.append(SequenceError(f"{path}.{kind}_file", str(exc)))
                continue
            del spec[f"{kind}_file"]
    return errors


def _template_specs(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every template spec mapping in raw data, with its YAML path; tolerates bad shapes."""
    for i, step in _items(data, "steps"):
        yield from _locale_specs(step.get("template"), f"steps[{i}].template")
        for j, variant in _items(step, "variants"):
            yield from _locale_specs(variant.get("template"), f"steps[{i}].variants[{j}].template")


def _locale_specs(templates: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(templates, dict):
        for locale, spec in templates.items():
            if isinstance(spec, dict):
                yield f"{path}.{locale}", spec


def _items(data: Any, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Indexed mappings of the list `data[key]`, skipping anything of the wrong shape."""
    values = data.get(key) if isinstance(data, dict) else None
    if isinstance(values, list | tuple):
        yield from ((i, item) for i, item in enumerate(values) if isinstance(item, dict))


def _read_template(reference: str, base_dir: Path | None) -> str:
    if base_dir is None:
        raise ValueError("template files need a sequence file on disk; use html/text inline")
    root = base_dir.resolve()
    path = (root / reference).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{reference!r} is outside the sequence file's folder")
    if not path.is_file():
        raise ValueError(f"template file {reference!r} not found next to the sequence file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"template file {reference!r} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"template file {reference!r} is not UTF-8") from exc


# ---------------------------------------------------------------------------------------------
# Cross-step checks (on plain data, so they run even when the schema check fails elsewhere)


@dataclass(frozen=True)
class _Edge:
    """A way from one step to the next: `path` is where it is written, `zero` if it can fire at
    once (no `within` to wait for)."""

    source: int
    target: str
    path: str
    zero: bool


def _cross_step_errors(data: Mapping[str, Any]) -> list[SequenceError]:
    steps = dict(_items(data, "steps"))
    ids = {i: step["id"] for i, step in steps.items() if isinstance(step.get("id"), str)}
    return [
        *_duplicate_id_errors(ids),
        *_default_locale_errors(data),
        *(SequenceError(e.path, f"unknown step {e.target!r}") for e in _unknown_targets(data)),
        *_zero_delay_cycle_errors(data),
    ]


def _duplicate_id_errors(ids: Mapping[int, str]) -> Iterator[SequenceError]:
    first: dict[str, int] = {}
    for i, step_id in ids.items():
        if step_id in first:
            yield SequenceError(
                f"steps[{i}].id", f"duplicate step id (also steps[{first[step_id]}])"
            )
        first.setdefault(step_id, i)


def _default_locale_errors(data: Mapping[str, Any]) -> Iterator[SequenceError]:
    locale = data.get("default_locale")
    if not isinstance(locale, str):
        return
    for i, step in _items(data, "steps"):
        owners = [(f"steps[{i}]", step)]
        owners += [(f"steps[{i}].variants[{j}]", v) for j, v in _items(step, "variants")]
        for path, owner in owners:
            templates = owner.get("template")
            if isinstance(templates, dict) and locale not in templates:
                message = f"no template for default_locale {locale!r} (the fallback locale)"
                yield SequenceError(f"{path}.template", message)


def _edges(data: Mapping[str, Any]) -> list[_Edge]:
    """All `next` (explicit or implied) and branch edges of the raw or dumped sequence."""
    steps = list(_items(data, "steps"))
    edges: list[_Edge] = []
    for position, (i, step) in enumerate(steps):
        following = steps[position + 1][1].get("id") if position + 1 < len(steps) else EXIT
        target = step.get("next") or following
        if isinstance(target, str):
            edges.append(_Edge(i, target, f"steps[{i}].next", zero=True))
        branches = step.get("branches")
        for key, branch in branches.items() if isinstance(branches, dict) else ():
            path = f"steps[{i}].branches.{key}"
            if isinstance(branch, str):
                edges.append(_Edge(i, branch, path, zero=True))
            elif isinstance(branch, dict) and isinstance(branch.get("goto"), str):
                edges.append(_Edge(i, branch["goto"], f"{path}.goto", zero="within" not in branch))
    return edges


def _unknown_targets(data: Mapping[str, Any]) -> Iterator[_Edge]:
    known = {step.get("id") for _, step in _items(data, "steps")} | {EXIT, SUPPRESS}
    return (edge for edge in _edges(data) if edge.target not in known)


def _waits(step: Mapping[str, Any]) -> bool:
    """Whether entering this step takes time; unparseable delays are reported elsewhere."""
    delay = step.get("delay")
    if step.get("wait_until") is not None:
        return True
    if not isinstance(delay, str):
        return False
    try:
        return bool(parse_duration(delay, allow_zero=True))
    except ValueError:
        return False


def _zero_delay_cycle_errors(data: Mapping[str, Any]) -> Iterator[SequenceError]:
    """A loop that never waits would email a contact over and over within seconds."""
    steps = dict(_items(data, "steps"))
    index = {step.get("id"): i for i, step in steps.items()}
    graph: dict[int, list[tuple[int, _Edge]]] = {i: [] for i in steps}
    for edge in _edges(data):
        target = index.get(edge.target)
        if edge.zero and target is not None and not _waits(steps[target]):
            graph[edge.source].append((target, edge))
    done: set[int] = set()
    for start in graph:
        yield from _cycles_from(start, graph, [], done, steps)


def _cycles_from(
    node: int,
    graph: Mapping[int, list[tuple[int, _Edge]]],
    stack: list[int],
    done: set[int],
    steps: Mapping[int, Mapping[str, Any]],
) -> Iterator[SequenceError]:
    if node in done:
        return
    stack.append(node)
    for target, edge in graph[node]:
        if target in stack:
            loop = [str(steps[i].get("id")) for i in stack[stack.index(target) :]]
            route = " -> ".join([*loop, loop[0]])
            message = f"loop with no delay ({route}); add a delay or wait_until to one of its steps"
            yield SequenceError(edge.path, message)
        else:
            yield from _cycles_from(target, graph, stack, done, steps)
    stack.pop()
    done.add(node)


def unreachable_steps(sequence: Sequence) -> tuple[str, ...]:
    """Ids of steps no path from the first step leads to (worth a warning, not an error)."""
    data = sequence.model_dump(mode="json")
    successors: dict[str, set[str]] = {}
    for edge in _edges(data):
        successors.setdefault(sequence.steps[edge.source].id, set()).add(edge.target)
    seen: set[str] = set()
    pending = [sequence.steps[0].id]
    while pending:
        step_id = pending.pop()
        if step_id not in seen:
            seen.add(step_id)
            pending.extend(successors.get(step_id, ()))
    return tuple(step.id for step in sequence.steps if step.id not in seen)


# ---------------------------------------------------------------------------------------------
# JSON Schema


def sequence_json_schema() -> dict[str, Any]:
    """The JSON Schema published for editors, generated from the model so it cannot drift."""
    schema = Sequence.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_json_schema() -> str:
    """Exact text of `schemas/sequence.schema.json`."""
    return json.dumps(sequence_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render_json_schema(), end="")

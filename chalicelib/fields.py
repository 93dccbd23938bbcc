"""Field types shared by every marketer-facing file (sequences, segments, stages, scoring...).

Each type validates one value, serialises it back to the text a marketer writes, and publishes
its JSON Schema, so the files, the models and the editors' schemas agree.
"""

from __future__ import annotations

import re
from collections.abc import Sized
from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)

from chalicelib.localtime import validate_zone

__all__ = [
    "LOCALE",
    "MAX_DURATION",
    "PATTERN_MEANING",
    "WEEKDAYS",
    "Days",
    "Delay",
    "Duration",
    "LocalTime",
    "Locale",
    "Model",
    "Slug",
    "Temperature",
    "Timezone",
    "Weekday",
    "at_least",
    "at_most",
    "format_duration",
    "parse_duration",
    "parse_local_time",
]

MAX_DURATION = timedelta(days=3650)


class Model(BaseModel):
    """Base of every file model: immutable, and an unknown key is an error (a typo, usually)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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


def parse_local_time(value: Any) -> time:
    if isinstance(value, time) and value == time(value.hour, value.minute):
        return value
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a local time "HH:MM" between 00:00 and 23:59, got {value!r}')
    return time(int(match[1]), int(match[2]))


LocalTime = Annotated[
    time,
    PlainValidator(parse_local_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": f"^{_TIME_RE.pattern}$", "examples": ["09:00"]}),
]

# ---------------------------------------------------------------------------------------------
# Names


_SLUG_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_LOCALE_RE = r"^[a-z]{2,3}(-[A-Z]{2})?$"
LOCALE = re.compile(_LOCALE_RE)
Slug = Annotated[str, Field(pattern=_SLUG_RE, description="lowercase letters, digits, - and _")]
Temperature = Literal["hot", "warm", "cold"]
"""A lead's temperature (scoring.yaml's bands), hottest first."""
Locale = Annotated[str, Field(pattern=_LOCALE_RE, examples=["en", "pt-BR"])]
PATTERN_MEANING = {
    _SLUG_RE: "must be 1-64 lowercase letters, digits, - or _, starting with a letter or digit",
    _LOCALE_RE: "must be a locale like en or pt-BR",
}
"""What a pattern means, in words: error messages say this instead of the regular expression."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _check_timezone(name: str) -> str:
    return validate_zone(name).key


Timezone = Annotated[
    str, AfterValidator(_check_timezone), Field(description="IANA zone", examples=["Europe/Berlin"])
]

# ---------------------------------------------------------------------------------------------
# Collections


def at_least(count: int, keyword: str = "minItems") -> tuple[AfterValidator, Any]:
    """Length floor checked after the items: pydantic's min_length miscounts when an item fails."""

    def check(value: Sized) -> Sized:
        if len(value) < count:
            raise ValueError(f"needs at least {count} {'entry' if count == 1 else 'entries'}")
        return value

    return AfterValidator(check), Field(json_schema_extra={keyword: count})


def at_most(count: int) -> tuple[AfterValidator, Any]:
    """Length ceiling of a list, published as `maxItems` (pydantic's max_length says
    `maxLength`, a string keyword, once a validator wraps the list)."""

    def check(value: Sized) -> Sized:
        if len(value) > count:
            raise ValueError(f"has more than {count} entries")
        return value

    return AfterValidator(check), Field(json_schema_extra={"maxItems": count})


def _sorted_days(days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
    """Days in week order, so the same set of days always hashes the same."""
    if len(set(days)) != len(days):
        raise ValueError("days must not repeat")
    return tuple(sorted(days, key=WEEKDAYS.index))


Days = Annotated[tuple[Weekday, ...], *at_least(1), AfterValidator(_sorted_days)]

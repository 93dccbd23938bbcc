"""Segment membership as a pure function of one contact's `Profile`.

A segment is compiled once per evaluation run (`matcher(segment, now, ...)`) into nested
closures with every duration already turned into a cutoff timestamp, so testing a contact is
a handful of attribute and dictionary look-ups: no I/O, no event scan. Engagement recency,
interests' times and event counts come from the contact's summary (`chalicelib.summary`),
which the stream keeps up to date on the profile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import ge, gt, le, lt
from typing import Any

from chalicelib import summary
from chalicelib.profiles import Profile
from chalicelib.segments.model import (
    BucketTest,
    Compare,
    Condition,
    EventMatch,
    EventTest,
    Range,
    Recency,
    ScoreTest,
    Segment,
    StageTest,
)
from chalicelib.stamps import iso

__all__ = ["Matcher", "condition_matcher", "event_matches", "matcher"]

Matcher = Callable[[Profile], bool]
_RECENCY = {
    "opened": "last_opened_at",
    "clicked": "last_clicked_at",
    "converted": "last_converted_at",
    "engaged": "last_engaged_at",
}


@dataclass(frozen=True)
class _Setting:
    now: datetime
    seed: str
    topics: tuple[str, ...]
    stages: Mapping[str, int]

    def cutoff(self, age: timedelta) -> str:
        return iso((self.now - age).timestamp())


def matcher(
    segment: Segment, now: datetime, *, topics: Iterable[str], stages: Iterable[str] = ()
) -> Matcher:
    """Whether a contact is in `segment` at `now`; `topics` are the configured topics (a
    contact who never chose receives them all), `stages` the lifecycle stages in order."""
    setting = _Setting(now, segment.id, tuple(topics), {s: i for i, s in enumerate(stages)})
    return _compile(segment.match, setting)


def condition_matcher(
    condition: Condition,
    now: datetime,
    *,
    seed: str,
    topics: Iterable[str],
    stages: Iterable[str] = (),
) -> Matcher:
    """Whether a contact meets one condition (a fit rule's `when`); `seed` seeds `bucket`."""
    setting = _Setting(now, seed, tuple(topics), {s: i for i, s in enumerate(stages)})
    return _compile(condition, setting)


def event_matches(match: EventMatch, event: Mapping[str, Any], now: datetime | None = None) -> bool:
    """Whether a stored product event is `match`'s: its name, and its properties by `where`."""
    if event.get("type") != summary.PRODUCT or event.get("name") != match.name:
        return False
    setting = _Setting(now or datetime.now(UTC), "", (), {})
    properties = event.get("properties") or _EMPTY
    return all(
        _compare(spec, setting)(properties.get(prop)) for prop, spec in (match.where or {}).items()
    )


def _compile(condition: Condition, setting: _Setting) -> Matcher:
    key = condition.key()
    if key in ("all", "any"):
        parts = tuple(_compile(child, setting) for child in getattr(condition, key))
        return _all(parts) if key == "all" else _any(parts)
    if key == "not":
        inner = _compile(condition.not_, setting)  # type: ignore[arg-type]
        return lambda profile: not inner(profile)
    value = getattr(condition, key)
    if key in _RECENCY:
        return _recency(_RECENCY[key], value, setting)
    return _BUILDERS[key](value, setting)


# Plain loops, not all()/any() over a generator: about twice as fast on a few parts.


def _all(parts: tuple[Matcher, ...]) -> Matcher:
    def every(profile: Profile) -> bool:
        for part in parts:  # noqa: SIM110
            if not part(profile):
                return False
        return True

    return every


def _any(parts: tuple[Matcher, ...]) -> Matcher:
    def some(profile: Profile) -> bool:
        for part in parts:  # noqa: SIM110
            if part(profile):
                return True
        return False

    return some


# --- tests of the contact ----------------------------------------------------------------------


def _field(test: Compare, setting: _Setting) -> Matcher:
    name, check = test.name, _compare(test, setting)  # type: ignore[attr-defined]
    return lambda profile: check(getattr(profile, name))


def _attribute(test: Compare, setting: _Setting) -> Matcher:
    name, check = test.name, _compare(test, setting)  # type: ignore[attr-defined]
    return lambda profile: check(profile.attributes.get(name))


def _tag(name: str, setting: _Setting) -> Matcher:
    return lambda profile: name in profile.tags


def _interest(test: Any, setting: _Setting) -> Matcher:
    name = test.name
    if test.within is None:
        return lambda profile: name in profile.interests
    cutoff = setting.cutoff(test.within)
    return lambda profile: profile.interest_at.get(name, "") >= cutoff


def _topic(name: str, setting: _Setting) -> Matcher:
    def receives(profile: Profile) -> bool:
        chosen = profile.topics
        return name in setting.topics if chosen is None else name in chosen

    return receives


def _stage(test: StageTest, setting: _Setting) -> Matcher:
    if test.equals is not None or test.in_ is not None:
        names = frozenset((test.equals,) if test.equals else test.in_ or ())
        return lambda profile: profile.stage in names
    ranks, bound = setting.stages, setting.stages.get(test.at_least or test.before or "", -1)

    def rank(profile: Profile) -> int:
        return ranks.get(profile.stage or "", -1)

    if test.at_least is not None:
        return lambda profile: rank(profile) >= bound >= 0
    return lambda profile: rank(profile) < bound  # no stage yet is before every stage


def _consent(given: bool, setting: _Setting) -> Matcher:
    return lambda profile: bool(profile.consent_at) is given


def _recency(name: str, test: Recency, setting: _Setting) -> Matcher:
    if test.within is not None:
        cutoff = setting.cutoff(test.within)
        return lambda profile: (getattr(profile, name) or "") >= cutoff
    cutoff = setting.cutoff(test.not_within)  # type: ignore[arg-type]
    return lambda profile: (getattr(profile, name) or "") < cutoff


def _event(test: EventTest, setting: _Setting) -> Matcher:
    name = test.name
    low = 1 if test.count is None else test.count.min or 0
    high = None if test.count is None else test.count.max
    if test.within is None and test.where is None:

        def total(profile: Profile) -> int:
            entry = profile.events.get(name)
            return int(entry.get("n", 0)) if entry else 0

        count = total
    else:
        cutoff = setting.cutoff(test.within) if test.within is not None else ""
        where = [(prop, _compare(spec, setting)) for prop, spec in (test.where or {}).items()]

        def recent(profile: Profile) -> int:
            entry = profile.events.get(name)
            found = 0
            for seen in entry.get("recent", ()) if entry else ():
                if seen.get("at", "") >= cutoff:
                    properties = seen.get("p") or _EMPTY
                    if all(check(properties.get(prop)) for prop, check in where):
                        found += 1
            return found

        count = recent
    if high is None:
        return lambda profile: count(profile) >= low
    return lambda profile: low <= count(profile) <= high


def _bucket(test: BucketTest, setting: _Setting) -> Matcher:
    seed = (test.seed or setting.seed).encode() + b"\x1f"
    low, high = test.offset, test.offset + test.percent

    def inside(profile: Profile) -> bool:
        digest = hashlib.blake2b(seed + profile.contact_id.encode(), digest_size=4)
        return low <= int.from_bytes(digest.digest()) % 100 < high

    return inside


def _temperature(test: Any, setting: _Setting) -> Matcher:
    names = frozenset((test.equals,) if test.equals else test.in_ or ())
    return lambda profile: profile.score is not None and profile.score.temperature in names


def _grade(test: Any, setting: _Setting) -> Matcher:
    names = frozenset((test.equals,) if test.equals else test.in_ or ())
    return lambda profile: profile.score is not None and profile.score.grade in names


def _score(test: ScoreTest, setting: _Setting) -> Matcher:
    """Engagement decays to the evaluation's `now`; fit is as scored."""
    moment = int(setting.now.timestamp())
    checks: list[Callable[[Any], bool]] = []
    if test.engagement is not None:
        engagement = _range(test.engagement)
        checks.append(lambda state: engagement(state.engagement(moment)))
    if test.fit is not None:
        fit = _range(test.fit)
        checks.append(lambda state: state.fit is not None and fit(Decimal(state.fit)))

    def scored(profile: Profile) -> bool:
        state = profile.score
        return state is not None and all(check(state) for check in checks)

    return scored


def _range(test: Range) -> Check:
    bounds = [
        (Decimal(repr(bound)), compare)
        for bound, compare in ((test.gt, gt), (test.gte, ge), (test.lt, lt), (test.lte, le))
        if bound is not None
    ]
    return lambda value: all(compare(value, bound) for bound, compare in bounds)


_BUILDERS: dict[str, Callable[[Any, _Setting], Matcher]] = {
    "field": _field,
    "attribute": _attribute,
    "tag": _tag,
    "interest": _interest,
    "topic": _topic,
    "stage": _stage,
    "consent": _consent,
    "event": _event,
    "bucket": _bucket,
    "temperature": _temperature,
    "grade": _grade,
    "score": _score,
}
_EMPTY: Mapping[str, Any] = {}


# --- comparing one value -------------------------------------------------------------------------

Check = Callable[[Any], bool]


def _compare(test: Compare, setting: _Setting) -> Check:
    checks: list[Check] = []
    if test.exists is not None:
        wanted = test.exists
        return lambda value: (value is not None and value != "") is wanted
    if test.equals is not None:
        checks.append(_equals(test.equals))
    if test.in_ is not None:
        checks.append(_member(test.in_))
    for bound, compare in ((test.gt, gt), (test.gte, ge), (test.lt, lt), (test.lte, le)):
        if bound is not None:
            checks.append(_ordered(bound, compare))
    if test.starts_with is not None:
        prefix = test.starts_with
        checks.append(lambda value: isinstance(value, str) and value.startswith(prefix))
    if test.ends_with is not None:
        suffix = test.ends_with
        checks.append(lambda value: isinstance(value, str) and value.endswith(suffix))
    if test.within is not None:
        since = setting.now - test.within
        checks.append(lambda value: (moment := _moment(value)) is not None and moment >= since)
    if test.not_within is not None:
        before = setting.now - test.not_within
        checks.append(lambda value: (moment := _moment(value)) is None or moment < before)
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _equals(expected: Any) -> Check:
    if isinstance(expected, bool):
        return lambda value: value is expected
    if isinstance(expected, int | float):
        number = Decimal(repr(expected))
        return lambda value: _number(value) == number
    return lambda value: value == expected


def _member(options: tuple[Any, ...]) -> Check:
    texts = frozenset(o for o in options if isinstance(o, str))
    numbers = frozenset(
        Decimal(repr(o)) for o in options if isinstance(o, int | float) and not isinstance(o, bool)
    )
    flags = tuple(o for o in options if isinstance(o, bool))

    def member(value: Any) -> bool:
        if isinstance(value, str) and value in texts:
            return True
        if isinstance(value, bool):
            return value in flags
        return bool(numbers) and _number(value) in numbers

    return member


def _ordered(bound: Any, compare: Callable[[Any, Any], bool]) -> Check:
    """Text bounds compare text (ISO dates order correctly); number bounds compare numbers."""
    if isinstance(bound, str):
        return lambda value: isinstance(value, str) and compare(value, bound)
    number = Decimal(repr(bound))

    def ordered(value: Any) -> bool:
        found = _number(value)
        return found is not None and compare(found, number)

    return ordered


def _number(value: Any) -> Decimal | None:
    """Stored numbers are Decimal; numeric text (CSV cells) compares as a number too."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, str) and len(value) <= 64:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _moment(value: Any) -> datetime | None:
    """A timestamp value (ISO 8601; without an offset it is taken as UTC)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

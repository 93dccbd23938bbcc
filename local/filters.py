"""Lambda event-filter patterns, matched the way an event source mapping matches them.

The subset nurture's patterns use: lists of literals, `{"prefix": ...}`, `{"exists": bool}` and
`{"anything-but": [...]}`; nested objects must all match. The local player drops what no
pattern matches, as AWS does, so a record a feature needs but no filter lets through fails
locally too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_ABSENT = object()


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Whether `record` matches one filter pattern."""
    if not isinstance(record, Mapping):
        return False
    for name, wanted in pattern.items():
        value = record.get(name, _ABSENT)
        if isinstance(wanted, Mapping):
            if value is _ABSENT or not matches(wanted, value):
                return False
        elif not any(_allowed(rule, value) for rule in wanted):
            return False
    return True


def matches_any(patterns: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """Filters of one mapping are alternatives: a record passes if any matches."""
    return any(matches(pattern, record) for pattern in patterns)


def _allowed(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        ((kind, arg),) = rule.items()
        if kind == "exists":
            return (value is not _ABSENT) is bool(arg)
        if value is _ABSENT:
            return False
        if kind == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if kind == "anything-but":
            return value not in (arg if isinstance(arg, list) else [arg])
        raise ValueError(f"filter rule {kind!r} is not supported")
    return value is not _ABSENT and value == rule

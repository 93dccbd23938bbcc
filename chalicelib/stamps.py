"""The one timestamp format the table holds: UTC ISO 8601 with milliseconds and a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(epoch: float) -> str:
    """`1800000000.0` → `2027-01-15T08:00:00.000Z`."""
    return (
        (_EPOCH + timedelta(seconds=epoch))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def instant(stamp: str) -> datetime:
    """The aware datetime of a stored timestamp (inverse of `iso`)."""
    return datetime.fromisoformat(stamp)

"""The one timestamp format the table holds: UTC ISO 8601 with milliseconds and a `Z`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(epoch: float) -> str:
    """`1800000000.0` → `2027-01-15T08:00:00.000Z`."""
    return iso_utc(_EPOCH + timedelta(seconds=epoch))


def iso_utc(moment: datetime) -> str:
    """A time in UTC, to the millisecond (truncated): `moment.isoformat(timespec=
    "milliseconds")` with a `Z`, spelt out as it costs a third less CPU (on every hot path)."""
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - the cheapest spelling
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def instant(stamp: str) -> datetime:
    """The aware datetime of a stored timestamp (inverse of `iso`)."""
    return datetime.fromisoformat(stamp)


_MINUTE = "%Y-%m-%dT%H:%M"
_HOUR = "%Y-%m-%dT%H"


def minute(epoch: float) -> str:
    """The UTC minute of an instant: `1800000000.0` → `2027-01-15T08:00`."""
    return (_EPOCH + timedelta(seconds=epoch)).strftime(_MINUTE)


def minutes_after(after: str, through: str) -> Iterator[str]:
    """Each minute after `after` up to `through` (both minutes as `minute` writes them)."""
    at = datetime.strptime(after, _MINUTE)
    while True:
        at += timedelta(minutes=1)
        following = at.strftime(_MINUTE)
        if following > through:
            return
        yield following


def minutes_apart(earlier: str, later: str) -> int:
    """Whole minutes from one minute to another."""
    gap = datetime.strptime(later, _MINUTE) - datetime.strptime(earlier, _MINUTE)
    return int(gap.total_seconds() // 60)


def hours_after(after: str, through: str) -> Iterator[str]:
    """Each UTC hour (`2027-01-15T08`) after the hour `after` up to the hour `through`."""
    at = datetime.strptime(after, _HOUR)
    while (at := at + timedelta(hours=1)).strftime(_HOUR) <= through:
        yield at.strftime(_HOUR)


def day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def hour_before(hour: str, hours: int = 1) -> str:
    return (datetime.strptime(hour, _HOUR) - timedelta(hours=hours)).strftime(_HOUR)

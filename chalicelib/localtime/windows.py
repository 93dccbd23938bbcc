"""Window maths: the first local minute a step may go out, across weekdays, holidays and DST.

Everything here is pure: the current time, zones, windows and holiday calendars are passed in,
so the scheduler edge (EventBridge Scheduler, DynamoDB due buckets) stays thin and this stays
testable without AWS. Slots are whole UTC minutes, the precision EventBridge Scheduler honours.

DST policy (promises 8 and 11): a slot is the earliest *real* minute inside the window.
- a spring-forward gap removes wall-clock minutes: a window starting inside the gap opens at the
  first minute after it (02:30 on 2026-03-08 in America/New_York becomes 03:00 EDT, reason
  ``dst_gap_shifted``), so a window 02:30-03:15 still has 03:00-03:15; only a window wholly
  inside the gap has no minute that day (``dst_gap_skipped``);
- a fall-back overlap repeats wall-clock minutes: both passes are real, so the first one not
  already past is used (enrolled at 01:50 EDT, a 01:30-01:45 window opens at 01:30 EST).
Planning is therefore monotonic: a later ``now`` never gets an earlier send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from chalicelib.localtime.calendars import HolidayCalendar

MAX_SEARCH_DAYS = 400
MINUTES_PER_DAY = 24 * 60


class NoSendTimeError(ValueError):
    """No instant within MAX_SEARCH_DAYS satisfies the window: planning must not loop forever."""


def _minute_of_day(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _whole_minute(moment: time, label: str) -> None:
    if moment.second or moment.microsecond or moment.tzinfo is not None:
        raise ValueError(f"{label} {moment.isoformat()!r} must be a naive whole-minute time")


@dataclass(frozen=True)
class QuietHours:
    """Local hours with no sends; ``start > end`` crosses midnight (21:00-08:00)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        _whole_minute(self.start, "quiet_hours.start")
        _whole_minute(self.end, "quiet_hours.end")
        if self.start == self.end:
            raise ValueError(f"quiet_hours {self.start.isoformat()} to itself is ambiguous")

    def minutes(self) -> tuple[tuple[int, int], ...]:
        """Quiet spans as [start, end) minutes of one local day."""
        start, end = _minute_of_day(self.start), _minute_of_day(self.end)
        if start < end:
            return ((start, end),)
        return ((0, end), (start, MINUTES_PER_DAY))


@dataclass(frozen=True)
class SendWindow:
    """When a step may go out, in the recipient's local time.

    ``start``-``end`` is half-open (end exclusive); ``end == time(0)`` means midnight at the end
    of the day. ``weekdays`` uses ``date.weekday()`` numbers (Monday 0 .. Sunday 6), so skipping
    weekends is leaving out 5 and 6.
    """

    start: time
    end: time
    weekdays: frozenset[int] = frozenset(range(7))
    quiet: QuietHours | None = None
    intervals: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _whole_minute(self.start, "window.start")
        _whole_minute(self.end, "window.end")
        start, end = _minute_of_day(self.start), _minute_of_day(self.end) or MINUTES_PER_DAY
        if start >= end:
            raise ValueError(
                f"window {self.start.isoformat()}-{self.end.isoformat()} must end after it starts"
            )
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(
                f"window weekdays {sorted(self.weekdays)!r} must be a non-empty subset of 0-6"
            )
        quiet = self.quiet.minutes() if self.quiet else ()
        intervals = _subtract((start, end), quiet)
        if not intervals:
            raise ValueError("quiet hours cover the whole window: it can never be satisfied")
        object.__setattr__(self, "intervals", intervals)


def _subtract(
    span: tuple[int, int], holes: tuple[tuple[int, int], ...]
) -> tuple[tuple[int, int], ...]:
    """Parts of ``span`` outside every hole, in order."""
    parts = [span]
    for hole_start, hole_end in holes:
        parts = [
            piece
            for start, end in parts
            for piece in ((start, min(end, hole_start)), (max(start, hole_end), end))
            if piece[0] < piece[1]
        ]
    return tuple(parts)


# ---------------------------------------------------------------- slots


@dataclass(frozen=True)
class Slot:
    """A planned send: the UTC instant, the same instant in local time, and why it moved."""

    utc: datetime
    local: datetime
    reasons: tuple[str, ...] = ()


def ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def _blocked_day_reason(window: SendWindow, holidays: HolidayCalendar | None, day: date) -> str:
    """Why no send may happen on this local day, or '' if sends are allowed."""
    if day.weekday() not in window.weekdays:
        return "weekday_not_allowed"
    name = holidays.holiday_name(day) if holidays is not None else None
    return f"holiday:{name}" if name else ""


def _time_of_day_reason(window: SendWindow, minute: int) -> str:
    """Why a time on an allowed day is not sendable: outside the window, or in its quiet hours."""
    end = _minute_of_day(window.end) or MINUTES_PER_DAY
    inside_raw_window = _minute_of_day(window.start) <= minute < end
    return "quiet_hours" if inside_raw_window else "outside_window"


@dataclass(frozen=True)
class _Piece:
    """A stretch of one local day with one UTC offset, as [start, end) epoch seconds; wall-clock
    minute m of the day is the instant `midnight + 60 m` while it falls inside the stretch."""

    start: int
    end: int
    midnight: int
    after_gap: bool


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _offset(zone: ZoneInfo, epoch: int) -> int:
    offset = datetime.fromtimestamp(epoch, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=65536)
def _day_pieces(zone: ZoneInfo, day: date) -> tuple[_Piece, ...]:
    """The local day cut where its offset changes: one piece, or two on a DST change day."""
    naive = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    begin = _epoch(datetime(day.year, day.month, day.day, tzinfo=zone))
    following = day + timedelta(days=1)
    finish = _epoch(datetime(following.year, following.month, following.day, tzinfo=zone))
    first, last = _offset(zone, begin), _offset(zone, finish - 1)
    if first == last:
        return (_Piece(begin, finish, naive - first, False),)
    low, high = begin, finish - 1  # the change is the first second with the new offset
    while low + 1 < high:
        middle = (low + high) // 2
        low, high = (middle, high) if _offset(zone, middle) == first else (low, middle)
    return (
        _Piece(begin, high, naive - first, False),
        _Piece(high, finish, naive - last, last > first),
    )


def _ceil_epoch_minute(epoch: int) -> int:
    return -(-epoch // 60) * 60


def _slot_on(
    zone: ZoneInfo, window: SendWindow, day: date, not_before: int | None = None
) -> Slot | None:
    """The earliest real minute of local ``day`` inside the window (and not before
    ``not_before``), whatever the DST change that day: minutes a spring-forward gap removed
    are skipped, minutes a fall-back overlap repeats are usable on both passes."""
    best: tuple[int, bool] | None = None
    for piece in _day_pieces(zone, day):
        for start, end in window.intervals:
            low = max(piece.start, piece.midnight + start * 60, not_before or piece.start)
            high = min(piece.end, piece.midnight + end * 60)
            first = _ceil_epoch_minute(low)
            if first < high and (best is None or first < best[0]):
                shifted = piece.after_gap and first == piece.start > piece.midnight + start * 60
                best = (first, shifted and low != not_before)
    if best is None:
        return None
    utc = datetime.fromtimestamp(best[0], UTC)
    return Slot(utc, utc.astimezone(zone), ("dst_gap_shifted",) if best[1] else ())


@lru_cache(maxsize=65536)
def _first_slot_from(
    zone: ZoneInfo, window: SendWindow, holidays: HolidayCalendar | None, first_day: date
) -> Slot:
    """Earliest slot from the start of local ``first_day``; cached, since most plans share it."""
    reasons: list[str] = []
    for offset in range(MAX_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        blocked = _blocked_day_reason(window, holidays, day)
        if blocked:
            reasons.append(blocked)
            continue
        slot = _slot_on(zone, window, day)
        if slot is not None:
            return Slot(slot.utc, slot.local, _distinct(*reasons, *slot.reasons))
        reasons.append("dst_gap_skipped")
    raise NoSendTimeError(
        f"no send time within {MAX_SEARCH_DAYS} days from {first_day} in {zone.key} "
        f"for window {window.start.isoformat()}-{window.end.isoformat()}"
    )


def _distinct(*reasons: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))


def next_send_time(
    after: datetime,
    zone: ZoneInfo,
    window: SendWindow,
    holidays: HolidayCalendar | None = None,
) -> Slot:
    """The earliest real whole minute at or after ``after`` inside ``window`` in ``zone``.

    Monotonic: a later ``after`` never gets an earlier slot. Calling it again with
    ``after=slot.utc`` returns the same slot. Raises NoSendTimeError when nothing within
    MAX_SEARCH_DAYS fits (e.g. a calendar where every day is a holiday).
    """
    if after.tzinfo is None:
        raise ValueError(f"after {after.isoformat()!r} must be timezone-aware")
    start = ceil_minute(after.astimezone(UTC))
    local = start.astimezone(zone)
    today = local.date()
    reason = _blocked_day_reason(window, holidays, today)
    reasons = [reason]
    if not reason:
        slot = _slot_on(zone, window, today, _epoch(start))
        if slot is not None and slot.utc == start:
            return Slot(start, local)
        reasons = [_time_of_day_reason(window, local.hour * 60 + local.minute)]
        if slot is not None:
            return Slot(slot.utc, slot.local, _distinct(*reasons, *slot.reasons))
        if _slot_on(zone, window, today) is None:
            reasons.append("dst_gap_skipped")
    later = _first_slot_from(zone, window, holidays, today + timedelta(days=1))
    return Slot(later.utc, later.local, _distinct(*reasons, *later.reasons))


def next_time_of_day(
    after: datetime,
    zone: ZoneInfo,
    at: time,
    days: frozenset[int],
    window: SendWindow,
    holidays: HolidayCalendar | None = None,
) -> Slot:
    """The first local ``at`` at or after ``after`` on one of ``days`` that the window allows
    (weekday, holiday), then held to the window's rules (a `wait_until` step).

    In a spring-forward gap ``at`` becomes the first real minute after the gap; in a fall-back
    overlap the first pass not already past is used, as for windows.
    """
    _whole_minute(at, "time")
    start = ceil_minute(after.astimezone(UTC))
    first_day = start.astimezone(zone).date()
    reasons = ["wait_until"]
    for offset in range(MAX_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        blocked = "weekday_not_allowed" if day.weekday() not in days else ""
        blocked = blocked or _blocked_day_reason(window, holidays, day)
        if blocked:
            reasons.append(blocked)
            continue
        for moment in _wall_instants(zone, day, _minute_of_day(at)):
            if moment >= _epoch(start):
                slot = next_send_time(datetime.fromtimestamp(moment, UTC), zone, window, holidays)
                return Slot(slot.utc, slot.local, _distinct(*reasons, *slot.reasons))
    raise NoSendTimeError(f"no local {at.isoformat()} within {MAX_SEARCH_DAYS} days in {zone.key}")


def _wall_instants(zone: ZoneInfo, day: date, minute: int) -> list[int]:
    """The instants local ``day`` shows wall-clock ``minute``: one, two in an overlap, or (in a
    gap) the first real instant after it."""
    found = []
    for piece in _day_pieces(zone, day):
        moment = piece.midnight + minute * 60
        if piece.start <= moment < piece.end:
            found.append(moment)
        elif piece.after_gap and moment < piece.start and not found:
            found.append(piece.start)
    return found

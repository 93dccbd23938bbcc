"""The engagement ledger: decay at read, daily caps, folding, exact receipts, crossings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.scoring.ledger import CARRIED, DETAIL_DAYS, MAX_LINES, Ledger, cents, decay

DAY = 86_400
HALF = 30 * DAY
T0 = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp())


def test_decay_halves_every_half_life_and_never_grows() -> None:
    assert decay(0, HALF) == 1
    assert decay(-5, HALF) == 1
    assert decay(HALF, HALF) == Decimal("0.5")
    assert decay(2 * HALF, HALF) == Decimal("0.25")
    assert decay(300 * HALF, HALF) == 0


def test_a_score_read_later_is_decayed_without_rewriting_the_ledger() -> None:
    ledger, credited = Ledger(HALF, 0).add("clicked", T0, 10, None)
    assert credited == 10
    assert ledger.at(T0) == Decimal("10.00")
    assert ledger.at(T0 + HALF) == Decimal("5.00")
    assert ledger.at(T0 + 2 * HALF) == Decimal("2.50")
    assert ledger.lines[0].value == 10  # stored once, as of T0


def test_the_daily_cap_limits_points_per_kind_and_utc_day() -> None:
    ledger = Ledger(HALF, 0)
    credits = []
    for minute in range(5):
        ledger, credited = ledger.add("opened", T0 + minute * 60, 2, 5)
        credits.append(credited)
    assert credits == [2, 2, 1, 0, 0]
    (line,) = ledger.lines
    assert (line.events, line.offered, line.credited) == (5, 10, 5)
    ledger, credited = ledger.add("opened", T0 + DAY, 2, 5)  # a new UTC day
    assert credited == 2
    ledger, credited = ledger.add("clicked", T0 + 10, 4, 5)  # another kind, same day
    assert credited == 4


def test_negative_points_are_capped_by_size() -> None:
    ledger = Ledger(HALF, 0)
    ledger, first = ledger.add("unsubscribed", T0, -30, 40)
    ledger, second = ledger.add("unsubscribed", T0 + 1, -30, 40)
    assert (first, second) == (-30, -10)
    assert ledger.at(T0 + 1) == Decimal("-40.00")


def test_a_late_event_decays_from_its_own_time() -> None:
    early, _ = Ledger(HALF, 0).add("clicked", T0 + HALF, 1, None)
    ledger, _ = early.add("converted", T0, 8, None)  # arrives after, happened a half-life before
    assert ledger.ref == T0 + HALF
    assert ledger.at(T0 + HALF) == Decimal("5.00")


def test_old_days_fold_into_one_carried_line_that_keeps_counting() -> None:
    ledger = Ledger(HALF, 0)
    for day in range(5):
        ledger, _ = ledger.add("clicked", T0 + day * DAY, 5, None)
    later = T0 + (DETAIL_DAYS + 3) * DAY
    folded = ledger.folded(later)
    carried = [line for line in folded.lines if line.kind == CARRIED]
    assert len(carried) == 1 and carried[0].events == 3  # days before later - 90d
    assert len(folded.lines) == 3
    assert abs(folded.at(later) - ledger.at(later)) <= Decimal("0.01")


def test_the_ledger_never_holds_more_than_max_lines() -> None:
    ledger = Ledger(HALF, 0)
    for day in range(MAX_LINES + 30):
        ledger, _ = ledger.add("opened", T0 + day * 3600 * 12, 1, None)
        ledger = ledger.folded(T0 + day * 3600 * 12)
    assert len(ledger.lines) <= MAX_LINES


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["opened", "clicked", "converted", "unsubscribed"]),
            st.integers(0, 200 * DAY),
            st.integers(-50, 50).filter(bool),
            st.one_of(st.none(), st.integers(1, 30)),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 400 * DAY),
    st.integers(1, 60).map(lambda days: days * DAY),
)
def test_receipt_lines_add_up_to_the_score_at_any_instant(
    events: list[tuple[str, int, int, int | None]], later: int, half_life: int
) -> None:
    ledger = Ledger(half_life, 0)
    for kind, offset, points, cap in events:
        ledger, _ = ledger.folded(T0 + offset).add(kind, T0 + offset, points, cap)
    moment = T0 + later
    lines = ledger.read(moment)
    assert sum((value for _, value in lines), Decimal(0)) == ledger.at(moment)
    assert all(value == cents(value) for _, value in lines)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20 * DAY), st.integers(1, 40)), min_size=1, max_size=12),
    st.integers(1, 200),
)
def test_the_first_minute_is_exactly_when_the_score_falls_under_a_threshold(
    events: list[tuple[int, int]], threshold: int
) -> None:
    ledger = Ledger(HALF, 0)
    for offset, points in events:
        ledger, _ = ledger.add("clicked", T0 + offset, points, None)
    now = ledger.ref

    def holds(score: Decimal) -> bool:
        return score >= threshold

    minute = ledger.first_minute(now, holds)
    if not holds(ledger.at(now)):
        assert minute == (now // 60 + 1) * 60
        return
    assert minute is not None and minute % 60 == 0 and minute > now
    assert not holds(ledger.at(minute))
    assert minute - 60 <= now or holds(ledger.at(minute - 60))

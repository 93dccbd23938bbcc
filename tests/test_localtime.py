"""Tests for chalicelib.localtime: zones, send windows across DST, holidays, at() expressions."""

from __future__ import annotations

import calendar
import os
import re
import time as time_module
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chalicelib.contacts import country_codes
from chalicelib.localtime import (
    MULTI_ZONE_DEFAULTS,
    CountryHolidays,
    NoHolidays,
    NoSendTimeError,
    QuietHours,
    SendWindow,
    Slot,
    country_zone,
    country_zones,
    holiday_calendar,
    next_send_time,
    next_time_of_day,
    resolve_zone,
    validate_zone,
)
from chalicelib.schedule import at_expression, validate_at_expression

NEW_YORK = ZoneInfo("America/New_York")
RIGA = ZoneInfo("Europe/Riga")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LONDON = ZoneInfo("Europe/London")
TUE_THU = frozenset({1, 2, 3})
MON_FRI = frozenset(range(5))
NINE_TO_ELEVEN = SendWindow(time(9), time(11))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def transitions(zone: ZoneInfo, year: int) -> Iterator[tuple[datetime, timedelta, timedelta]]:
    """Offset changes of ``zone`` in ``year`` as (utc instant, offset before, offset after)."""
    moment, step = utc(year, 1, 1), timedelta(minutes=15)
    before = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        moment += step
        after = moment.astimezone(zone).utcoffset()
        if after != before:
            assert before is not None and after is not None
            yield moment, before, after
        before = after


def last_sunday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - 6) % 7)


# ---------------------------------------------------------------- zones


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus",
        "UTC+3",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "",
        " Europe/Riga",
        "europe/riga",
        "EST5EDT",
        "EST",
        "US/Eastern",
        "Etc/GMT+3",
        "GMT",
        "Factory",
        None,
        3,
        b"Europe/Riga",
    ],
)
def test_validate_zone_rejects_non_canonical_names_and_names_the_value(name: object) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        validate_zone(name)


@pytest.mark.parametrize(
    "name", ["Europe/Riga", "UTC", "Asia/Kathmandu", "Australia/Lord_Howe", "America/New_York"]
)
def test_validate_zone_accepts_iana_names(name: str) -> None:
    assert validate_zone(name).key == name


@pytest.mark.parametrize("code", sorted(country_zones()))
def test_every_country_with_zones_resolves_to_one_of_its_own_zones(code: str) -> None:
    zones = country_zones()[code]
    resolved = resolve_zone(None, code.lower(), "Asia/Kolkata")
    if len(zones) == 1 or code in MULTI_ZONE_DEFAULTS:
        assert (resolved.source, resolved.notes) == ("country", ())
        assert resolved.name in zones
    else:  # several zones and no clear majority: the contact's own zone is needed
        assert (resolved.name, resolved.source) == ("Asia/Kolkata", "sequence")
        assert resolved.notes == ("country_needs_zone",)
    assert code in country_codes()


def test_the_countries_the_old_table_missed_resolve() -> None:
    found = {code: resolve_zone(None, code, None).name for code in ("BY", "WS", "CU", "IR")}
    assert found == {
        "BY": "Europe/Minsk",
        "WS": "Pacific/Apia",
        "CU": "America/Havana",
        "IR": "Asia/Tehran",
    }


def test_multi_zone_defaults_are_only_for_countries_of_several_zones() -> None:
    for code, name in MULTI_ZONE_DEFAULTS.items():
        assert len(country_zones()[code]) > 1, code
        assert name in country_zones()[code]
        validate_zone(name)
    assert {c for c, z in country_zones().items() if len(z) > 1} - set(MULTI_ZONE_DEFAULTS) == {
        "AQ",
        "CD",
        "FM",
        "UM",
    }


def test_countries_without_zones_are_unknown() -> None:
    assert sorted(country_codes() - set(country_zones())) == ["BV", "HM"]
    assert country_zone("BV").kind == "unknown"
    assert resolve_zone(None, "BV", "Europe/Oslo").notes == ("unknown_country",)


def test_contact_zone_wins() -> None:
    resolved = resolve_zone("Asia/Kathmandu", "US", "Europe/Riga")
    assert (resolved.name, resolved.source, resolved.notes) == ("Asia/Kathmandu", "contact", ())


@pytest.mark.parametrize("bad", ["Mars/Olympus", "UTC+3", "../../etc/passwd", "", 42, ["x"]])
def test_invalid_contact_zone_falls_to_country_and_is_recorded(bad: object) -> None:
    resolved = resolve_zone(bad, "lv", "America/New_York")
    assert (resolved.name, resolved.source) == ("Europe/Riga", "country")
    assert resolved.notes == ("invalid_contact_zone",)


def test_unknown_country_falls_to_sequence_default() -> None:
    resolved = resolve_zone(None, "XX", "Asia/Kolkata")
    assert (resolved.name, resolved.source, resolved.notes) == (
        "Asia/Kolkata",
        "sequence",
        ("unknown_country",),
    )


def test_nothing_usable_falls_to_utc_never_the_server_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time_module.tzset()
    try:
        resolved = resolve_zone("Bad/Zone", None, "EST5EDT")
    finally:
        monkeypatch.undo()
        time_module.tzset()
    assert (resolved.name, resolved.source) == ("UTC", "utc")
    assert resolved.notes == ("invalid_contact_zone", "invalid_sequence_zone")
    assert os.environ.get("TZ") != "Asia/Tokyo"


def test_missing_values_are_skipped_without_notes() -> None:
    assert resolve_zone(None, None, None).notes == ()
    assert resolve_zone(None, None, "Europe/Riga").source == "sequence"


# ---------------------------------------------------------------- windows


def test_window_with_no_weekdays_can_never_be_satisfied() -> None:
    with pytest.raises(ValueError, match="weekdays"):
        SendWindow(time(9), time(11), frozenset())


def test_quiet_hours_covering_the_window_are_rejected() -> None:
    with pytest.raises(ValueError, match="never be satisfied"):
        SendWindow(time(22), time(23), quiet=QuietHours(time(21), time(8)))


@pytest.mark.parametrize(
    ("start", "end"), [(time(11), time(9)), (time(9), time(9)), (time(9, 0, 30), time(11))]
)
def test_malformed_windows_are_rejected(start: time, end: time) -> None:
    with pytest.raises(ValueError, match="window"):
        SendWindow(start, end)


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_send_time(datetime(2026, 3, 10, 9), RIGA, NINE_TO_ELEVEN)


@dataclass(frozen=True)
class EveryDayIsAHoliday:
    def holiday_name(self, day: date) -> str | None:
        return "forever"


def test_a_window_that_is_never_open_raises_instead_of_looping() -> None:
    with pytest.raises(NoSendTimeError, match="no send time within"):
        next_send_time(utc(2026, 3, 10), RIGA, NINE_TO_ELEVEN, EveryDayIsAHoliday())


def test_inside_the_window_sends_at_the_next_whole_minute() -> None:
    slot = next_send_time(utc(2026, 3, 10, 7, 0, 1), RIGA, NINE_TO_ELEVEN)  # 09:00:01 EET
    assert slot == Slot(utc(2026, 3, 10, 7, 1), utc(2026, 3, 10, 7, 1).astimezone(RIGA), ())


def test_the_window_end_is_exclusive() -> None:
    slot = next_send_time(utc(2026, 3, 10, 8, 59, 30), RIGA, NINE_TO_ELEVEN)  # 10:59:30 EET
    assert slot.utc == utc(2026, 3, 11, 7)
    assert slot.reasons == ("outside_window",)


def test_kathmandu_quarter_hour_offset() -> None:
    slot = next_send_time(utc(2026, 6, 1), KATHMANDU, NINE_TO_ELEVEN)  # 05:45 local
    assert slot.utc == utc(2026, 6, 1, 3, 15)  # 09:00 - 05:45
    assert (slot.local.hour, slot.local.minute) == (9, 0)


@pytest.mark.parametrize("month", [3, 10])
def test_riga_contact_enrolled_at_23_gets_09_next_day_even_across_dst(month: int) -> None:
    change_day = last_sunday(2026, month)
    offset_on_change_day = {t[0].astimezone(RIGA).date(): t[2] for t in transitions(RIGA, 2026)}
    offset_after = offset_on_change_day[change_day]  # KeyError if the rule were wrong
    enrolled = datetime.combine(change_day - timedelta(days=1), time(23), RIGA)
    slot = next_send_time(enrolled.astimezone(UTC), RIGA, NINE_TO_ELEVEN)
    expected = datetime.combine(change_day, time(9)) - offset_after
    assert slot.utc == expected.replace(tzinfo=UTC)
    assert slot.local.replace(tzinfo=None) == datetime.combine(change_day, time(9))
    assert slot.reasons == ("outside_window",)


def test_riga_saturday_night_enrolment_waits_for_tuesday() -> None:
    enrolled = datetime(2026, 3, 28, 23, tzinfo=RIGA)  # Saturday before the change
    slot = next_send_time(enrolled, RIGA, SendWindow(time(9), time(11), TUE_THU))
    assert slot.utc == utc(2026, 3, 31, 6)  # Tue 09:00 EEST (+03:00)
    assert slot.reasons == ("weekday_not_allowed",)


# Expected instants are worked out by hand from each zone's offsets.
DST_CASES = [
    # zone, window start, after, expected utc, expected local wall-clock, gap shifted
    # (a start inside a gap opens at the first real minute after it)
    (NEW_YORK, time(2, 30), utc(2026, 3, 8, 5), utc(2026, 3, 8, 7), (3, 0), True),
    (NEW_YORK, time(1, 30), utc(2026, 11, 1, 4), utc(2026, 11, 1, 5, 30), (1, 30), False),
    (RIGA, time(3, 30), utc(2026, 3, 28, 22), utc(2026, 3, 29, 1), (4, 0), True),
    (RIGA, time(3, 30), utc(2026, 10, 24, 22), utc(2026, 10, 25, 0, 30), (3, 30), False),
    (LORD_HOWE, time(2, 15), utc(2026, 10, 3, 12), utc(2026, 10, 3, 15, 30), (2, 30), True),
    (LORD_HOWE, time(1, 40), utc(2026, 4, 4, 12), utc(2026, 4, 4, 14, 40), (1, 40), False),
]


@pytest.mark.parametrize(("zone", "start", "after", "expected", "wall", "shifted"), DST_CASES)
def test_dst_gap_opens_at_its_end_and_overlap_takes_the_first_pass(
    zone: ZoneInfo,
    start: time,
    after: datetime,
    expected: datetime,
    wall: tuple[int, int],
    shifted: bool,
) -> None:
    slot = next_send_time(after, zone, SendWindow(start, time(5)))
    assert slot.utc == expected
    assert (slot.local.hour, slot.local.minute) == wall
    assert ("dst_gap_shifted" in slot.reasons) is shifted


@pytest.mark.parametrize(("zone", "expected"), [(case[0], case[3]) for case in DST_CASES])
def test_dst_cases_are_on_real_transition_days(zone: ZoneInfo, expected: datetime) -> None:
    change_days = {t[0].astimezone(zone).date() for t in transitions(zone, 2026)}
    assert expected.astimezone(zone).date() in change_days


def test_a_window_starting_in_the_gap_uses_the_real_minutes_left() -> None:
    # New York springs forward at 02:00 on 2026-03-08: 02:30-03:15 keeps 03:00-03:15 EDT.
    window = SendWindow(time(2, 30), time(3, 15))
    slot = next_send_time(utc(2026, 3, 8, 5), NEW_YORK, window)  # 00:00 EST
    assert slot.utc == utc(2026, 3, 8, 7)  # 03:00 EDT, the same day
    assert (slot.local.hour, slot.local.minute) == (3, 0)
    assert slot.reasons == ("outside_window", "dst_gap_shifted")
    inside = next_send_time(utc(2026, 3, 8, 7, 10), NEW_YORK, window)
    assert (inside.utc, inside.reasons) == (utc(2026, 3, 8, 7, 10), ())


def test_the_overlap_offers_its_second_pass_and_planning_is_monotonic() -> None:
    # New York falls back at 02:00 EDT on 2026-11-01: 01:00-02:00 happens twice.
    window = SendWindow(time(1, 30), time(1, 45))
    first_pass_late = next_send_time(utc(2026, 11, 1, 5, 50), NEW_YORK, window)  # 01:50 EDT
    second_pass_early = next_send_time(utc(2026, 11, 1, 6, 10), NEW_YORK, window)  # 01:10 EST
    assert first_pass_late.utc == second_pass_early.utc == utc(2026, 11, 1, 6, 30)  # 01:30 EST
    assert first_pass_late.local.fold == 1
    past_both = next_send_time(utc(2026, 11, 1, 6, 45), NEW_YORK, window)  # 01:45 EST
    assert past_both.local.date() == date(2026, 11, 2)


def test_window_swallowed_by_the_gap_is_skipped_that_day() -> None:
    slot = next_send_time(utc(2026, 3, 8, 5), NEW_YORK, SendWindow(time(2), time(3)))
    assert slot.utc == utc(2026, 3, 9, 6)  # Monday 02:00 EDT
    assert slot.reasons == ("outside_window", "dst_gap_skipped")


# ---------------------------------------------------------------- quiet hours


EVENINGS_QUIET = SendWindow(time(6), time(23), quiet=QuietHours(time(21), time(8)))


@pytest.mark.parametrize(
    ("local_after", "expected_local", "reason"),
    [
        (datetime(2026, 3, 10, 6, 30), datetime(2026, 3, 10, 8), "quiet_hours"),
        (datetime(2026, 3, 10, 12), datetime(2026, 3, 10, 12), None),
        (datetime(2026, 3, 10, 22), datetime(2026, 3, 11, 8), "quiet_hours"),
        (datetime(2026, 3, 10, 23, 30), datetime(2026, 3, 11, 8), "outside_window"),
        (datetime(2026, 3, 10, 3), datetime(2026, 3, 10, 8), "outside_window"),
    ],
)
def test_quiet_hours_across_midnight(
    local_after: datetime, expected_local: datetime, reason: str | None
) -> None:
    slot = next_send_time(local_after.replace(tzinfo=LONDON), LONDON, EVENINGS_QUIET)
    assert slot.local.replace(tzinfo=None) == expected_local
    assert slot.reasons == ((reason,) if reason else ())


def test_quiet_hours_can_split_an_all_day_window() -> None:
    window = SendWindow(time(0), time(0), quiet=QuietHours(time(12), time(13)))
    slot = next_send_time(datetime(2026, 3, 10, 12, 30, tzinfo=LONDON), LONDON, window)
    assert slot.local.replace(tzinfo=None) == datetime(2026, 3, 10, 13)
    assert slot.reasons == ("quiet_hours",)


# ---------------------------------------------------------------- holidays


def test_gb_christmas_and_boxing_day_are_skipped() -> None:
    assert date(2026, 12, 25).weekday() == 4  # a Friday
    window = SendWindow(time(9), time(11), MON_FRI)
    slot = next_send_time(utc(2026, 12, 24, 12), LONDON, window, holiday_calendar("GB"))
    assert slot.utc == utc(2026, 12, 29, 9)  # Mon 28th is Boxing Day (observed)
    assert "holiday:Christmas Day" in slot.reasons
    assert "weekday_not_allowed" in slot.reasons


def test_us_independence_day_observed_on_friday() -> None:
    assert date(2026, 7, 4).weekday() == 5  # a Saturday
    window = SendWindow(time(9), time(11), MON_FRI)
    slot = next_send_time(utc(2026, 7, 2, 20), NEW_YORK, window, holiday_calendar("us"))
    assert slot.utc == utc(2026, 7, 6, 13)  # Monday 09:00 EDT
    assert slot.reasons[:2] == ("outside_window", "holiday:Independence Day (observed)")


def test_without_a_calendar_holidays_are_ordinary_days() -> None:
    slot = next_send_time(utc(2026, 12, 25, 8), LONDON, NINE_TO_ELEVEN)
    assert slot.utc == utc(2026, 12, 25, 9)


@pytest.mark.parametrize("country", ["XX", "", None, 7])
def test_unknown_country_has_no_holidays_and_says_why(country: object) -> None:
    calendar_ = holiday_calendar(country)
    assert isinstance(calendar_, NoHolidays)
    assert calendar_.reason.startswith("holidays_unknown_country:")
    assert calendar_.holiday_name(date(2026, 12, 25)) is None


def test_country_calendar_looks_up_each_year() -> None:
    gb = holiday_calendar("GB")
    assert gb == CountryHolidays("GB")
    assert gb.holiday_name(date(2027, 1, 1)) == "New Year's Day"
    assert gb.holiday_name(date(2026, 12, 23)) is None


# ---------------------------------------------------------------- EventBridge Scheduler


def test_at_expression_formats_wall_clock() -> None:
    assert at_expression(utc(2026, 3, 8, 7, 30)) == "at(2026-03-08T07:30:00)"
    assert at_expression(datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)) == "at(2026-03-08T03:30:00)"
    with pytest.raises(ValueError, match="timezone-aware"):
        at_expression(datetime(2026, 3, 8, 3, 30))


@pytest.mark.parametrize(
    "expression",
    [
        "at(2026-03-08 07:30:00)",
        "at(2026-03-08T07:30)",
        "at(2026-03-08T07:30:60)",
        "at(2026-13-01T00:00:00)",
        "at(2026-02-30T00:00:00)",
        "at(2026-03-08T24:00:00)",
        "at(2026-03-08T07:30:00) ",
        "at(2026-03-08T07:30:00Z)",
        "cron(0 9 * * ? *)",
        "rate(5 minutes)",
        "",
        None,
    ],
)
def test_validate_at_expression_rejects_malformed(expression: object) -> None:
    with pytest.raises(ValueError, match="schedule expression"):
        validate_at_expression(expression)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_at_expression_round_trips(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    parsed = validate_at_expression(at_expression(moment.replace(tzinfo=UTC)))
    assert parsed == moment


# ---------------------------------------------------------------- properties

PROPERTY_ZONES = [
    "America/New_York",
    "Europe/Riga",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
    "Asia/Tehran",
    "Pacific/Apia",
    "Europe/London",
    "UTC",
]


@dataclass(frozen=True)
class WindowSpec:
    """An independent restatement of a window, so properties don't trust the code under test."""

    start: int
    end: int
    weekdays: frozenset[int]
    quiet: tuple[int, int] | None

    def window(self) -> SendWindow:
        quiet = QuietHours(*(_clock(m) for m in self.quiet)) if self.quiet else None
        return SendWindow(_clock(self.start), _clock(self.end % 1440), self.weekdays, quiet)

    def allows(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if local.weekday() not in self.weekdays or not self.start <= minute < self.end:
            return False
        if self.quiet is None:
            return True
        q_start, q_end = self.quiet
        quiet = (
            q_start <= minute < q_end if q_start < q_end else minute >= q_start or minute < q_end
        )
        return not quiet


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


@st.composite
def window_specs(draw: st.DrawFn) -> WindowSpec:
    start = draw(st.integers(0, 95)) * 15
    end = min(1440, start + draw(st.integers(1, 48)) * 15)
    weekdays = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
    quiet = draw(st.none() | st.tuples(st.integers(0, 95), st.integers(0, 95)))
    spec_quiet = (quiet[0] * 15, quiet[1] * 15) if quiet and quiet[0] != quiet[1] else None
    spec = WindowSpec(start, end, weekdays, spec_quiet)
    try:
        spec.window()
    except ValueError:
        assume(False)
    return spec


afters = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)
CHANGES = {
    name: [moment for moment, _, _ in transitions(ZoneInfo(name), 2026)] for name in PROPERTY_ZONES
}


@st.composite
def zoned_afters(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant, half the time within a day and a half of one of its DST changes."""
    name = draw(st.sampled_from(PROPERTY_ZONES))
    changes = CHANGES[name]
    if not changes or draw(st.booleans()):
        return name, draw(afters)
    near = draw(st.sampled_from(changes))
    return name, near + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
@given(zoned_afters(), window_specs())
def test_slot_is_after_inside_window_and_stable(
    zoned: tuple[str, datetime], spec: WindowSpec
) -> None:
    zone_name, after = zoned
    zone = ZoneInfo(zone_name)
    slot = next_send_time(after, zone, spec.window())
    assert slot.utc >= after
    assert slot.utc.tzinfo is UTC and slot.utc.second == slot.utc.microsecond == 0
    # timestamps, not ==: an aware datetime in a repeated hour never equals another zone's
    assert slot.local.timestamp() == slot.utc.timestamp() and slot.local.tzinfo is zone
    assert spec.allows(slot.utc.astimezone(zone))
    assert next_send_time(slot.utc, zone, spec.window()) == Slot(slot.utc, slot.local, ())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(zoned_afters(), window_specs())
def test_slot_is_the_earliest_allowed_minute(zoned: tuple[str, datetime], spec: WindowSpec) -> None:
    zone_name, after = zoned
    zone = ZoneInfo(zone_name)
    slot = next_send_time(after, zone, spec.window())
    assume(slot.utc - after <= timedelta(days=3))
    moment = after.replace(second=0, microsecond=0)
    moment += timedelta(minutes=1) if moment != after else timedelta()
    while moment < slot.utc:  # every real minute before the slot, gap and overlap included
        local = moment.astimezone(zone)
        assert not spec.allows(local), f"{local} was allowed"
        moment += timedelta(minutes=1)


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(zoned_afters(), st.integers(0, 3 * 86_400), window_specs())
def test_planning_is_monotonic_in_now(
    zoned: tuple[str, datetime], later_by: int, spec: WindowSpec
) -> None:
    zone_name, after = zoned
    zone = ZoneInfo(zone_name)
    earlier = next_send_time(after, zone, spec.window())
    later = next_send_time(after + timedelta(seconds=later_by), zone, spec.window())
    assert earlier.utc <= later.utc


# ---------------------------------------------------------------- wait_until

ALL_DAYS = frozenset(range(7))
ALL_DAY = SendWindow(time(0), time(0), ALL_DAYS)


def test_wait_until_takes_the_next_local_time_on_an_allowed_day() -> None:
    monday_noon = datetime(2025, 11, 24, 12, tzinfo=RIGA)
    window = SendWindow(time(9), time(17), MON_FRI)
    same_day = next_time_of_day(monday_noon, RIGA, time(14), ALL_DAYS, window)
    assert same_day.local.replace(tzinfo=None) == datetime(2025, 11, 24, 14)
    thursday = next_time_of_day(monday_noon, RIGA, time(14), frozenset({3}), window)
    assert thursday.local.replace(tzinfo=None) == datetime(2025, 11, 27, 14)
    assert thursday.reasons == ("wait_until", "weekday_not_allowed")
    tuesday = monday_noon + timedelta(days=1)
    weekend_or_monday = next_time_of_day(tuesday, RIGA, time(14), frozenset({5, 0}), window)
    assert weekend_or_monday.local.date() == date(2025, 12, 1)  # the window has no Saturday
    past = next_time_of_day(
        datetime(2025, 11, 24, 14, 1, tzinfo=RIGA), RIGA, time(14), ALL_DAYS, window
    )
    assert past.local.replace(tzinfo=None) == datetime(2025, 11, 25, 14)


def test_wait_until_skips_holidays_at_the_same_time() -> None:
    christmas_eve = datetime(2026, 12, 24, 15, tzinfo=LONDON)
    slot = next_time_of_day(
        christmas_eve, LONDON, time(10), ALL_DAYS, NINE_TO_ELEVEN, holiday_calendar("GB")
    )
    assert slot.local.replace(tzinfo=None) == datetime(2026, 12, 27, 10)


def test_wait_until_across_dst_gap_and_overlap() -> None:
    gap = next_time_of_day(utc(2026, 3, 8, 5), NEW_YORK, time(2, 30), ALL_DAYS, ALL_DAY)
    assert gap.utc == utc(2026, 3, 8, 7)  # 02:30 does not exist: 03:00 EDT
    late_first_pass = next_time_of_day(
        utc(2026, 11, 1, 5, 50), NEW_YORK, time(1, 30), ALL_DAYS, ALL_DAY
    )
    assert late_first_pass.utc == utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second pass

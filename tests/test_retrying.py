"""A failed due minute is fired again later and later for hours, then left to the DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import services
from chalicelib.retrying import LONGEST_WAIT, RETRY_FOR, next_attempt
from chalicelib.schedule import minute_key

DUE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_waits_grow_from_a_minute_to_half_an_hour() -> None:
    assert next_attempt(DUE, DUE) == DUE + timedelta(minutes=1)
    assert next_attempt(DUE, DUE + timedelta(minutes=20)) == DUE + timedelta(minutes=25)
    assert next_attempt(DUE, DUE + timedelta(hours=5)) == DUE + timedelta(hours=5, minutes=30)


def test_after_twelve_hours_the_minute_goes_to_the_dead_letter_queue() -> None:
    assert next_attempt(DUE, DUE + RETRY_FOR) is None


def test_an_outage_of_hours_is_covered_by_a_bounded_number_of_attempts() -> None:
    """Following the waits from the due minute: every attempt is later than the last, never
    more than half an hour apart, and attempts go on until twelve hours have passed."""
    now, attempts = DUE, 0
    while (later := next_attempt(DUE, now)) is not None:
        assert now < later <= now + LONGEST_WAIT
        now, attempts = later, attempts + 1
    assert now >= DUE + RETRY_FOR - LONGEST_WAIT and attempts < 60


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)))
def test_the_next_attempt_is_always_in_the_future_or_none(failing: timedelta) -> None:
    later = next_attempt(DUE, DUE + failing)
    assert later is None or later > DUE + failing


@pytest.fixture
def group(aws: None) -> str:
    services.client("scheduler").create_schedule_group(Name="nurture")
    return "nurture"


def schedules(group: str) -> dict[str, dict]:
    client = services.client("scheduler")
    found = client.list_schedules(GroupName=group)["Schedules"]
    return {s["Name"]: client.get_schedule(Name=s["Name"], GroupName=group) for s in found}


def test_a_due_minute_whose_timers_fail_is_fired_again_by_a_schedule_of_its_own(
    group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DynamoDB or SES outage: the invocation succeeds (Lambda's async retries and the DLQ
    would give up within minutes) and the minute is planned again; twelve hours on, it fails."""
    import app

    minute = minute_key(DUE)
    monkeypatch.setattr(services.journey(), "fire", lambda *_: 2)  # two timers failed
    monkeypatch.setattr(app.time, "time", lambda: (DUE + timedelta(minutes=20)).timestamp())
    answer = app.on_schedule({"minute": minute}, None)
    assert answer == {"minute": minute, "failed": 2, "again_at": "2026-03-02T09:25:00.000Z"}
    (planned,) = schedules(group).values()
    assert json.loads(planned["Target"]["Input"]) == {"minute": minute}
    assert planned["ScheduleExpression"] == "at(2026-03-02T09:25:00)"
    monkeypatch.setattr(app.time, "time", lambda: (DUE + RETRY_FOR).timestamp())
    with pytest.raises(RuntimeError, match="giving up to the DLQ"):
        app.on_schedule({"minute": minute}, None)
    assert len(schedules(group)) == 1  # nothing more planned: the DLQ has it

"""The holdout measured right, from the real stream on moto: conversions count only within
the sequence's goal window from each contact's enrolment (both ends included; 30 days without
a goal, as the report says), revenue is summed per group and currency, a date range keeps the
contacts enrolled on those days, and a redelivered stream counts nothing twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import catalog, conversions, services, store
from chalicelib.experiments.assign import held_out
from chalicelib.sequences import parse_sequence
from chalicelib.stamps import iso
from tests.test_journey import T0, Clock, World

HOLD = """
id: hold
name: Holdout
default_timezone: UTC
default_locale: en
holdout: 50%
goal: {event: converted, within: 7d}
send_window: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}
steps:
  - id: hello
    template: {en: {subject: Hi, html: '<p>Hi <a href="{{ unsubscribe_url }}">u</a></p>'}}
"""
WEEK = timedelta(days=7).total_seconds()


def people(group: str, count: int, prefix: str = "p") -> list[str]:
    """Contact ids the 50% holdout puts in `group`."""
    pool = (f"{prefix}{n:03d}" for n in range(1000))
    return [n for n in pool if held_out(n, "hold", 50) == (group == "held")][:count]


@pytest.fixture
def world(table: store.Table) -> World:
    world = World(table, Clock())
    catalog.push(services.versions(), parse_sequence(HOLD), "t")
    return world


def enroll(world: World, names: list[str]) -> None:
    for name in names:
        world.table.put_profile(name, {"email": f"{name}@example.com", "timezone": "UTC"})
        world.journey.enroll(name, "hold")
    world.player.pump()


def convert(
    world: World, name: str, order: str, at: float, value: str = "10", currency: str = "EUR"
) -> None:
    found = conversions.Conversion(order, name, "", Decimal(value), currency)
    conversions.record(world.table, services.parking(), found, iso(at), 2**31)


def holdout(since: str | None = None, until: str | None = None) -> dict[str, Any]:
    found = services.report("hold", since, until)["holdout"]
    assert found is not None
    return dict(found)


def redelivered(world: World) -> None:
    """Every record of the stream again, as a replaying Lambda would see it: nothing changes."""
    before = holdout(), holdout(since=T0.date().isoformat())
    world.player.checkpoints.clear()
    world.player.pump()
    assert (holdout(), holdout(since=T0.date().isoformat())) == before


def test_conversions_count_only_within_the_goal_window_from_enrolment(world: World) -> None:
    held, treated = people("held", 3), people("treated", 3)
    enroll(world, held + treated)
    start = world.clock()
    convert(world, held[0], "h-in", start + WEEK - 1)  # a second before the window ends
    convert(world, held[1], "h-out", start + WEEK + 1)  # a second after
    convert(world, treated[0], "t-edge", start + WEEK)  # the window's last second counts
    convert(world, treated[1], "t-out", start + WEEK + 1)
    convert(world, treated[2], "t-before", start - 1)  # before enrolling: not the sequence's
    world.player.pump()
    found = holdout()
    assert (found["held"], found["held_converted"]) == (3, 1)
    assert (found["treated"], found["treated_converted"]) == (3, 1)
    assert (found["window"], found["window_from"]) == ("1w", "goal")
    assert found["lift"] == pytest.approx(0.0)  # 1 of 3 either way
    redelivered(world)


def test_without_a_goal_the_report_states_the_default_window(world: World) -> None:
    catalog.push(services.versions(), parse_sequence(HOLD.replace("goal:", "# goal:")), "t")
    [name] = people("held", 1, "q")
    enroll(world, [name])
    convert(world, name, "late", world.clock() + 29 * 86_400)
    convert(world, name, "later", world.clock() + 31 * 86_400, "5")
    world.player.pump()
    found = holdout()
    assert (found["window"], found["window_from"]) == ("30d", "default")
    assert (found["held_converted"], found["held_revenue"]) == (1, {"EUR": "10"})


def test_revenue_is_summed_per_group_and_currency_within_the_window(world: World) -> None:
    held, treated = people("held", 2), people("treated", 2)
    enroll(world, held + treated)
    start = world.clock()
    convert(world, held[0], "h1", start + 3600, "10.50", "EUR")
    convert(world, held[0], "h2", start + 7200, "4", "USD")  # a second order: one contact
    convert(world, treated[0], "t1", start + 60, "20", "EUR")
    convert(world, treated[1], "t2", start + 120, "30.25", "EUR")
    convert(world, treated[1], "t3", start + 180, "7", "USD")
    convert(world, treated[1], "t4", start + WEEK + 1, "999", "EUR")  # outside the window
    world.player.pump()
    found = holdout()
    assert found["held_revenue"] == {"EUR": "10.50", "USD": "4"}
    assert found["treated_revenue"] == {"EUR": "50.25", "USD": "7"}
    assert (found["held_converted"], found["treated_converted"]) == (1, 2)
    redelivered(world)


def test_a_date_range_keeps_the_contacts_enrolled_in_it(world: World) -> None:
    early_held, early_treated = people("held", 2, "e"), people("treated", 2, "e")
    enroll(world, early_held + early_treated)
    convert(world, early_held[0], "e1", world.clock() + 60)
    world.clock.advance(days=3)
    late_held, late_treated = people("held", 1, "l"), people("treated", 3, "l")
    enroll(world, late_held + late_treated)
    convert(world, late_treated[0], "l1", world.clock() + 60, "8", "USD")
    convert(world, early_treated[0], "e2", world.clock() + 60)  # enrolled early: counts early
    world.player.pump()
    first, later = T0.date().isoformat(), (T0 + timedelta(days=3)).date().isoformat()
    whole = holdout()
    assert (whole["held"], whole["treated"]) == (3, 5)
    early = holdout(until=first)
    assert (early["held"], early["held_converted"], early["treated"]) == (2, 1, 2)
    assert early["treated_converted"] == 1 and early["treated_revenue"] == {"EUR": "10"}
    late = holdout(since=later)
    assert (late["held"], late["held_converted"], late["treated"]) == (1, 0, 3)
    assert late["treated_converted"] == 1 and late["treated_revenue"] == {"USD": "8"}
    assert late["undated"] == 0
    assert holdout(since=later, until=later)["treated"] == 3
    redelivered(world)


def test_holdout_counts_kept_before_enrolment_days_are_named_not_dropped(
    world: World,
) -> None:
    """A count written before cohorts had days is in the whole comparison, and a date range,
    which cannot place it, says how many contacts it left out."""
    enroll(world, people("held", 1))
    world.table.client.put_item(
        TableName=world.table.name,
        Item={
            "PK": {"S": "R#hold"},
            "SK": {"S": "H#held#3"},
            "group": {"S": "held"},
            "enrolled": {"N": "5"},
            "converted": {"N": "2"},
        },
    )
    assert (holdout()["held"], holdout()["held_converted"], holdout()["undated"]) == (6, 2, 0)
    ranged = holdout(since=T0.date().isoformat())
    assert (ranged["held"], ranged["held_converted"], ranged["undated"]) == (1, 0, 5)

"""Experiments: intervals (checked against published values), holdout assignment from the
contact id, the held-out contact enrolled but never sent, and the winner proposed as a file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from chalice.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from chalicelib import catalog, services, store
from chalicelib.compose import choose
from chalicelib.experiments.assign import held_out
from chalicelib.experiments.results import holdout, propose, variant_results
from chalicelib.experiments.stats import difference, wilson
from chalicelib.sequences import parse_sequence
from tests.conftest import events_of
from tests.test_conversions import post
from tests.test_journey import T0, Clock, World

AB = """
id: ab
name: A/B
default_timezone: UTC
default_locale: en
holdout: 10%
send_window: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}
steps:
  - id: hello
    variants:
      - {id: plain, weight: 1, template: {en: {subject: "Hello", html: "<p>Hi</p>"}}}
      - {id: bold, weight: 1, template: {en: {subject: "HELLO!", html: "<p>Hi!</p>"}}}
    winner: {metric: clicked, min_per_arm: 500, after: 7d}
"""


def test_wilson_matches_published_intervals() -> None:
    # Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662; 0/10 → 0 to 0.2775.
    found = wilson(81, 263)
    assert (round(found.low, 4), round(found.high, 4)) == (0.2553, 0.3662)
    none = wilson(0, 10)
    assert (none.low, round(none.high, 4)) == (0.0, 0.2775)
    assert wilson(0, 0).high == 1.0
    with pytest.raises(ValueError):
        wilson(11, 10)


def test_newcombe_difference_matches_the_published_example() -> None:
    # Newcombe (1998), table II, example (a): 56/70 - 48/80 = 0.2000 (0.0524 to 0.3339).
    d, low, high = difference(wilson(56, 70), wilson(48, 80))
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)


@given(st.integers(0, 10_000), st.integers(1, 10_000))
@example(0, 475)  # rounding once put the lower bound of 0 hits at 8.7e-19
def test_a_wilson_interval_holds_its_rate(hits: int, extra: int) -> None:
    found = wilson(hits, hits + extra)
    assert 0 <= found.low <= found.rate <= found.high <= 1


def test_holdout_assignment_comes_from_the_contact_id() -> None:
    ids = [f"contact{n:05d}" for n in range(20_000)]
    held = [i for i in ids if held_out(i, "ab", 10)]
    assert 0.09 < len(held) / len(ids) < 0.11
    assert held == [i for i in ids if held_out(i, "ab", 10)]
    assert not any(held_out(i, "ab", None) for i in ids[:100])
    other = {i for i in ids if held_out(i, "other", 10)}
    assert other != set(held)


def test_a_held_out_contact_is_enrolled_and_tracked_but_never_sent(
    table: store.Table,
) -> None:
    world = World(table, Clock())
    catalog.push(services.versions(), parse_sequence(AB), "t")
    pool = [f"c{n:03d}" for n in range(200)]
    held = [n for n in pool if held_out(n, "ab", 10)][:3]
    names = held + [n for n in pool if n not in held][:7]
    for name in names:
        table.put_profile(name, {"email": f"{name}@example.com", "timezone": "UTC"})
    counts = world.journey.enroll_many(names[::2], "ab")
    for name in names[1::2]:
        world.journey.enroll(name, "ab")
    assert counts["enrolled"] == 5
    world.run_until(T0 + timedelta(days=1))
    for name in names:
        enrollment = store.Enrollments(table).get(name, "ab")
        assert enrollment is not None
        assert enrollment.status == ("held_out" if name in held else "completed")
        assert bool(world.mails(f"{name}@example.com")) == (name not in held)
    step = parse_sequence(AB).step("hello")
    for name in set(names) - set(held):
        send = store.Enrollments(table).get(name, "ab")
        assert send is not None and send.send_id is not None
        stored = store.Sends(table).get(send.send_id)
        _, chosen = choose(step, None, "en", f"{name}\x1fab\x1fhello")
        assert stored is not None and chosen in ("plain", "bold")
        item = table.client.get_item(TableName=table.name, Key=store.send_key(send.send_id))
        assert item["Item"]["variant"] == {"S": chosen}
    again = world.journey.enroll(sorted(held)[0], "ab")
    assert again.status == "held_out"
    world.run_until(T0 + timedelta(days=2))
    assert not any(world.mails(f"{n}@example.com") for n in held)


def test_variant_results_carry_intervals() -> None:
    [row] = variant_results("hello", [{"variant": "plain", "sent": 263, "clicked": 81}])["variants"]
    assert (row["clicked"], round(row["clicked_low"], 4), row["converted"]) == (81, 0.2553, 0)


def test_holdout_lift_has_an_interval() -> None:
    found = holdout(10, treated=(70, 56), held=(80, 48))
    assert round(found["lift"], 4) == 0.2
    assert (round(found["lift_low"], 4), round(found["lift_high"], 4)) == (0.0524, 0.3339)


def test_a_clear_winner_is_proposed_as_a_file_to_push_never_switched() -> None:
    sequence = parse_sequence(AB)
    pushed = "2026-03-01T00:00:00.000Z"
    clear = {
        "hello": [
            {"variant": "plain", "sent": 1000, "clicked": 40},
            {"variant": "bold", "sent": 1000, "clicked": 80},
        ]
    }
    later = datetime(2026, 3, 9, tzinfo=UTC)
    assert propose(sequence, pushed, clear, datetime(2026, 3, 5, tzinfo=UTC)) is None
    small = {"hello": [{**arm, "sent": 400} for arm in clear["hello"]]}
    assert propose(sequence, pushed, small, later) is None
    close = {"hello": [{**clear["hello"][0], "clicked": 70}, clear["hello"][1]]}
    assert propose(sequence, pushed, close, later) is None
    found = propose(sequence, pushed, clear, later)
    assert found is not None
    assert (found["step_id"], found["winner"], found["metric"]) == ("hello", "bold", "clicked")
    assert "8.0%" in found["reason"] and "4.0%" in found["reason"]
    assert "-  variants:" in found["diff"] and "+  template:" in found["diff"]
    proposed = parse_sequence(found["file"])
    step = proposed.step("hello")
    assert step.variants is None and step.winner is None
    assert step.template is not None and step.template["en"].subject == "HELLO!"
    assert proposed.holdout == 10
    assert yaml.safe_load(found["file"])["id"] == "ab"
    assert parse_sequence(AB).step("hello").variants is not None  # nothing was switched


def test_unused_new_fields_leave_stored_versions_unchanged() -> None:
    plain = AB.replace("holdout: 10%\n", "").replace(
        "    winner: {metric: clicked, min_per_arm: 500, after: 7d}\n", ""
    )
    text = parse_sequence(plain).to_json()
    assert '"holdout"' not in text and '"winner"' not in text


def test_a_conversion_named_by_contact_id_is_recorded_once_for_known_contacts(
    client: Client, table: store.Table
) -> None:
    table.put_profile("held", {"email": "held@example.com"})
    doc = {"conversion_id": "order-7", "contact_id": "held", "value": 20, "currency": "EUR"}
    first = post(client, doc)
    assert json.loads(first.body) == {
        "conversion_id": "order-7",
        "contact_id": "held",
        "send_id": "",
        "duplicate": False,
    }
    assert json.loads(post(client, doc).body)["duplicate"] is True
    [converted] = events_of(table, "held", "converted")
    assert "send_id" not in converted and converted["value"] == 20
    unknown = post(client, {**doc, "conversion_id": "order-8", "contact_id": "ghost"})
    assert unknown.status_code == 404 and events_of(table, "ghost") == []


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"conversion_id": "o1", "contact_id": "held", "token": "x"}, "token"),
        ({"conversion_id": "o1", "contact_id": "a@b.c"}, "contact_id"),
        ({"conversion_id": "o1", "contact_id": ""}, "contact_id"),
        ({"conversion_id": "o1", "contact_id": 7}, "contact_id"),
        ({"conversion_id": "o1", "contact_id": "-x"}, "contact_id"),
    ],
)
def test_bad_contact_conversions_are_400(
    client: Client, table: store.Table, doc: dict[str, object], field: str
) -> None:
    table.put_profile("held", {"email": "held@example.com"})
    response = post(client, doc)
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"].startswith(f"{field}:")
    assert events_of(table, "held") == []

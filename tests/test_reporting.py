"""The report marketers read and export: the funnel per step and per A/B variant, unsubscribe
and skip reasons, revenue, the daily trend by send day and the holdout's groups, all counted
from the stream once (a redelivered stream changes nothing), answered as JSON or CSV by the
API and the CLI, with bad dates refused by name."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client
from click.testing import CliRunner

from chalicelib import catalog, conversions, services, store
from chalicelib.cli import nurture
from chalicelib.compose import choose
from chalicelib.experiments.assign import held_out
from chalicelib.funnel import Funnel
from chalicelib.sequences import parse_sequence
from chalicelib.stamps import iso
from tests.test_journey import BROWSER, T0, Clock, World

AB = """
id: ab
name: A/B with links
default_timezone: UTC
default_locale: en
holdout: 10%
send_window: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}
steps:
  - id: hello
    variants:
      - id: plain
        weight: 1
        template:
          en:
            subject: "Hello"
            html: >-
              <p><a href="https://shop.example.com/a">Shop</a>
              <a href="{{ unsubscribe_url }}">u</a></p>
      - id: bold
        weight: 1
        template:
          en:
            subject: "HELLO!"
            html: >-
              <p><a href="https://shop.example.com/b">Shop</a>
              <a href="{{ unsubscribe_url }}">u</a></p>
"""
AUTH = {"Authorization": "Bearer api-key-0123456789abcdef"}


def _report(since: str | None = None, until: str | None = None) -> dict[str, Any]:
    return services.report("ab", since, until)


@pytest.fixture
def month(table: store.Table) -> World:
    """16 contacts through the A/B sequence with a 10% holdout: opens by people and by Apple's
    proxy, clicks, an unsubscribe with its reason, purchases with values (one by a held-out
    contact, who got no mail), a skip for a paused contact."""
    world = World(table, Clock())
    catalog.push(services.versions(), parse_sequence(AB), "t")
    names = [f"c{n:03d}" for n in range(16)]
    for name in names:
        table.put_profile(name, {"email": f"{name}@example.com", "timezone": "UTC"})
    world.journey.enroll_many(names, "ab")
    world.run_until(T0 + timedelta(days=1))
    sent = [n for n in names if world.mails(f"{n}@example.com")]
    held = [n for n in names if held_out(n, "ab", 10)]
    assert held and set(sent) == set(names) - set(held)
    for name in sent[:10]:
        world.tracker.open(world.token(f"{name}@example.com", "o"), BROWSER)
    for name in sent[10:13]:
        world.tracker.open(world.token(f"{name}@example.com", "o"), "Mozilla/5.0")
    for name in sent[:6]:
        world.tracker.click(world.token(f"{name}@example.com", "c"), "GET", BROWSER)
    claims = world.tracker.unsubscribe_claims(world.token(f"{sent[7]}@example.com", "u"))
    world.tracker.unsubscribe(claims, "page", BROWSER, "too_many")
    buyers = [(sent[0], "o-1", "49.90", "EUR"), (sent[0], "o-2", "10.10", "EUR")]
    buyers += [(sent[1], "o-3", "5", "USD"), (held[0], "o-4", "30", "EUR")]
    for name, order, value, currency in buyers:
        enrollment = store.Enrollments(table).get(name, "ab")
        assert enrollment is not None
        found = conversions.Conversion(
            order, name, enrollment.send_id or "", Decimal(value), currency
        )
        conversions.record(table, services.parking(), found, iso(world.clock()), 2**31)
    world.run_until(T0 + timedelta(days=2))
    world.sent, world.held = sent, held  # type: ignore[attr-defined]
    return world


def _chosen(name: str) -> str:
    _, variant = choose(parse_sequence(AB).step("hello"), None, "en", f"{name}\x1fab\x1fhello")
    return str(variant)


def test_the_report_counts_variants_reasons_revenue_days_and_the_holdout(
    client: Client, month: World
) -> None:
    """One simulated audience (it takes a while on moto) read every way: the document, the
    API's JSON and CSV, the CLI's three formats, and again after a redelivered stream."""
    sent, held = month.sent, month.held  # type: ignore[attr-defined]
    doc = _report()
    [step] = doc["steps"]
    assert (step["sent"], step["opened"], step["clicked"]) == (len(sent), 10, 6)
    assert step["opened_machine"] == 3  # Apple's proxy: apart, never added to human opens
    assert step["converted"] == 2  # sends that converted; revenue counts every order
    assert step["revenue"] == {"EUR": "60.00", "USD": "5"}
    assert step["unsubscribed"] == 1 and step["unsubscribed_reasons"] == {"too_many": 1}
    variants = {v["variant"]: v for v in step["variants"]}
    assert set(variants) == {"plain", "bold"}
    for arm, counts in variants.items():
        assert counts["sent"] == sum(_chosen(n) == arm for n in sent)
        assert counts["clicked"] == sum(_chosen(n) == arm for n in sent[:6])
    assert sum(v["sent"] for v in variants.values()) == step["sent"]
    [day] = doc["days"]
    assert day["day"] == T0.date().isoformat() and day["sent"] == len(sent)
    assert doc["holdout"]["held"] == len(held) and doc["holdout"]["held_converted"] == 1
    assert doc["holdout"]["treated"] == len(sent)
    assert doc["holdout"]["treated_converted"] == 2
    [experiment] = doc["experiments"]
    assert {v["variant"] for v in experiment["variants"]} == {"plain", "bold"}
    assert _report(until=(T0 - timedelta(days=1)).date().isoformat())["steps"][0]["sent"] == 0
    _api_answers_json_and_csv(client, month)
    _cli_exports_csv_and_json_and_refuses_bad_dates()
    _redelivered(month)


def _redelivered(month: World) -> None:
    """Every record of the stream again, as a replaying Lambda would see it."""
    before = _report()
    month.player.checkpoints.clear()
    month.player.pump()  # every record of the stream again, as a replaying Lambda would see it
    assert _report() == before


def test_a_skip_is_counted_with_its_reason(table: store.Table) -> None:
    world = World(table, Clock())
    catalog.push(services.versions(), parse_sequence(AB), "t")
    name = next(f"p{n}" for n in range(100) if not held_out(f"p{n}", "ab", 10))
    table.put_profile(name, {"email": f"{name}@example.com", "timezone": "UTC"})
    world.journey.enroll(name, "ab")
    table.put_profile(name, {"email": "", "timezone": "UTC"})
    world.run_until(T0 + timedelta(days=1))
    [step] = _report()["steps"]
    assert step["skipped"] == 1 and step["sent"] == 0
    assert step["skipped_reasons"] == {"invalid_address": 1}


def _api_answers_json_and_csv(client: Client, month: World) -> None:
    answer = client.http.get("/api/reports/ab", headers=AUTH)
    assert answer.status_code == 200
    assert json.loads(answer.body)["steps"][0]["sent"] == len(month.sent)  # type: ignore[attr-defined]
    spreadsheet = client.http.get("/api/reports/ab", headers={**AUTH, "Accept": "text/csv"})
    assert spreadsheet.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(spreadsheet.body.decode())))
    assert [(r["step_id"], r["variant"]) for r in rows] == [
        ("hello", ""),
        ("hello", "plain"),
        ("hello", "bold"),
    ]
    assert rows[0]["revenue"] == "EUR 60.00; USD 5"
    assert rows[0]["unsubscribed_reasons"] == "too_many=1"
    assert int(rows[1]["sent"]) + int(rows[2]["sent"]) == int(rows[0]["sent"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("since=2026-02-30", "since"),
        ("until=2026-3-1", "until"),
        ("since=2026-03-02&until=2026-03-01", "until"),
        ("segment=vip", "segment"),
    ],
)
def test_bad_report_filters_are_400_naming_the_field(
    client: Client, table: store.Table, query: str, field: str
) -> None:
    catalog.push(services.versions(), parse_sequence(AB), "t")
    answer = client.http.get(f"/api/reports/ab?{query}", headers=AUTH)
    assert answer.status_code == 400, answer.body
    assert json.loads(answer.body)["error"].startswith(field)


def _cli_exports_csv_and_json_and_refuses_bad_dates() -> None:
    runner = CliRunner()
    table = runner.invoke(nurture, ["report", "--sequence", "ab"])
    assert table.exit_code == 0, table.output
    rows = [line.split("\t") for line in table.output.splitlines()[1:]]
    assert [row[0] for row in rows] == ["hello", "hello/plain", "hello/bold"]
    assert int(rows[1][1]) + int(rows[2][1]) == int(rows[0][1])  # sent, per variant
    exported = runner.invoke(nurture, ["report", "--sequence", "ab", "--format", "csv"])
    assert exported.output.splitlines()[0].startswith("step_id,variant,sent,delivered")
    whole = json.loads(
        runner.invoke(nurture, ["report", "--sequence", "ab", "--format", "json"]).output
    )
    assert whole == json.loads(json.dumps(_report(), default=str))
    bad = runner.invoke(nurture, ["report", "--sequence", "ab", "--since", "March"])
    assert bad.exit_code == 1 and "since" in bad.output
    shape = runner.invoke(nurture, ["report", "--sequence", "ab", "--format", "xml"])
    assert shape.exit_code == 2 and "--format" in shape.output


def test_funnel_reads_counters_written_before_variants_and_days(table: store.Table) -> None:
    """Counters stored before cells had a variant and a day still count, under no variant."""
    table.client.put_item(
        TableName=table.name,
        Item={
            "PK": {"S": "R#ab"},
            "SK": {"S": "N#hello#3"},
            "step_id": {"S": "hello"},
            "sent": {"N": "7"},
        },
    )
    counted = Funnel(table).counted("ab")
    assert counted.step("hello")["sent"] == 7
    assert counted.step("hello", "plain")["sent"] == 0

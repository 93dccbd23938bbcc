"""A report filtered by segment and stage counts what each contact was when its send was made:
the send is stamped with the contact's stage and segments when claimed, and every count for it
carries the stamp, so a contact who moves on afterwards stays where it was. Counts written
before sends were stamped are summed apart as unfilterable, never dropped or mixed in silently.
Unknown ids are refused by name (API and CLI), and a redelivered stream counts nothing twice."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client
from click.testing import CliRunner

from chalicelib import catalog, services, store
from chalicelib.cli import nurture
from chalicelib.experiments.assign import held_out
from chalicelib.sequences import parse_sequence
from tests.test_journey import BROWSER, T0, Clock, World
from tests.test_reporting import AB, AUTH

SEGMENT = "id: vip\nname: VIP\nmatch: {tag: vip}\n"
OTHER_SEGMENT = "id: fans\nname: Fans\nmatch: {tag: fan}\n"
STAGES = "name: Lifecycle\nstages: [lead, customer]\n"
# who, stage when sent, segments when sent, opens the mail
AUDIENCE = (
    ("ann", "lead", ("vip",), True),
    ("bob", "lead", (), True),
    ("cy", "customer", ("vip", "fans"), False),
    ("dee", "customer", ("fans",), True),
    ("eve", None, (), False),
)


def push(client: Client, path: str, body: str) -> None:
    answer = client.http.post(path, body=body, headers={**AUTH, "Content-Type": "application/yaml"})
    assert answer.status_code in (200, 201), answer.body


def profile(table: store.Table, name: str, stage: str | None, segments: tuple[str, ...]) -> None:
    """The contact's stage and segments as the behaviour summary keeps them."""
    attrs: dict[str, Any] = {"email": f"{name}@example.com", "timezone": "UTC"}
    if stage:
        attrs["stage"] = stage
    table.put_profile(name, attrs)
    if segments:
        table.client.update_item(
            TableName=table.name,
            Key={"PK": {"S": f"C#{name}"}, "SK": {"S": "PROFILE"}},
            UpdateExpression="SET #segments = :s",
            ExpressionAttributeNames={"#segments": "segments"},
            ExpressionAttributeValues={":s": {"SS": list(segments)}},
        )


@pytest.fixture
def sent(client: Client, table: store.Table) -> World:
    """Five contacts sent the A/B step as they stand in AUDIENCE; three open it; then every
    one of them moves to another stage and segment (after the send: the report must not
    follow them)."""
    push(client, "/api/segments", SEGMENT)
    push(client, "/api/segments", OTHER_SEGMENT)
    push(client, "/api/stages", STAGES)
    world = World(table, Clock())
    catalog.push(services.versions(), parse_sequence(AB), "t")
    names = [name for name, *_ in AUDIENCE]
    assert not any(held_out(name, "ab", 10) for name in names)
    for name, stage, segments, _ in AUDIENCE:
        profile(table, name, stage, segments)
    world.journey.enroll_many(names, "ab")
    world.run_until(T0 + timedelta(days=1))
    for name, *_, opens in AUDIENCE:
        assert world.mails(f"{name}@example.com")
        if opens:
            world.tracker.open(world.token(f"{name}@example.com", "o"), BROWSER)
    for name, *_ in AUDIENCE:
        profile(table, name, "customer", ("fans",))  # moved on after the send
    world.player.pump()
    return world


def totals(doc: dict[str, Any]) -> tuple[int, int]:
    [step] = doc["steps"]
    return step["sent"], step["opened"]


def expected(segment: str | None, stage: str | None) -> tuple[int, int]:
    kept = [
        opens
        for _, at, segments, opens in AUDIENCE
        if (stage is None or at == stage) and (segment is None or segment in segments)
    ]
    return len(kept), sum(kept)


@pytest.mark.parametrize(
    ("segment", "stage"),
    [("vip", None), (None, "lead"), (None, "customer"), ("fans", "customer"), ("vip", "lead")],
)
def test_a_report_keeps_the_sends_to_the_segment_and_stage_as_they_were_when_sent(
    client: Client, sent: World, segment: str | None, stage: str | None
) -> None:
    doc = services.report("ab", None, None, segment, stage)
    assert totals(doc) == expected(segment, stage)
    assert (doc["segment"], doc["stage"]) == (segment, stage)
    assert doc["unfilterable"]["sent"] == 0
    assert doc["holdout"]["segment_and_stage"].startswith("not applied")
    variants = doc["steps"][0]["variants"]
    assert sum(v["sent"] for v in variants) == expected(segment, stage)[0]
    query = "&".join(f"{k}={v}" for k, v in (("segment", segment), ("stage", stage)) if v)
    answer = client.http.get(f"/api/reports/ab?{query}", headers=AUTH)
    assert answer.status_code == 200 and totals(json.loads(answer.body)) == totals(doc)
    assert totals(services.report("ab", None, None)) == expected(None, None)
    assert services.report("ab", None, None)["unfilterable"] is None


def test_filtered_counts_are_unchanged_by_a_redelivered_stream(sent: World) -> None:
    before = [services.report("ab", None, None, s, g) for s, g in (("vip", None), (None, "lead"))]
    sent.player.checkpoints.clear()
    sent.player.pump()
    after = [services.report("ab", None, None, s, g) for s, g in (("vip", None), (None, "lead"))]
    assert after == before


def test_counts_from_before_stamps_are_named_apart_not_dropped_or_mixed_in(sent: World) -> None:
    """A mark written before sends carried a stamp (no `g`) counts in the whole report, and a
    filtered one leaves it out and says how much it left out."""
    for n, metric in enumerate(("sent", "sent", "opened")):
        cell = store.Cell("hello", "plain", T0.date().isoformat())
        write = store.count_once_write(
            f"old-{n % 2}", metric, "ab", cell, written="2026-01-01T00:00"
        )
        sent.table.apply(write)
    whole = services.report("ab", None, None)
    assert totals(whole) == (expected(None, None)[0] + 2, expected(None, None)[1] + 1)
    doc = services.report("ab", None, None, "vip", None)
    assert totals(doc) == expected("vip", None)
    assert (doc["unfilterable"]["sent"], doc["unfilterable"]["opened"]) == (2, 1)
    runner = CliRunner()
    shown = runner.invoke(nurture, ["report", "--sequence", "ab", "--segment", "vip"])
    assert shown.exit_code == 0, shown.output
    assert "note: 2 sends and 0 skips made before sends carried" in shown.output
    assert shown.output.splitlines()[-3].split("\t")[:2] == ["hello", str(expected("vip", None)[0])]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("segment=nobody", "segment"),
        ("segment=", "segment"),
        ("stage=champion", "stage"),
        ("stage=lead&segment=" + "x" * 300, "segment"),
        ("segment=vip&stage=%00", "stage"),
    ],
)
def test_unknown_segments_and_stages_are_400_naming_the_parameter(
    client: Client, sent: World, query: str, field: str
) -> None:
    before = store.Reports(sent.table).counted("ab", time.time())
    answer = client.http.get(f"/api/reports/ab?{query}", headers=AUTH)
    assert answer.status_code == 400, answer.body
    assert json.loads(answer.body)["error"].startswith(f"{field}:")
    assert store.Reports(sent.table).counted("ab", time.time()) == before


def test_a_stage_filter_without_a_lifecycle_is_refused(client: Client, table: store.Table) -> None:
    catalog.push(services.versions(), parse_sequence(AB), "t")
    answer = client.http.get("/api/reports/ab?stage=lead", headers=AUTH)
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"] == "stage: no lifecycle stages are pushed"


def test_the_lifecycle_is_listed_for_the_consoles_filter(
    client: Client, table: store.Table
) -> None:
    none = client.http.get("/api/stages", headers=AUTH)
    assert (none.status_code, json.loads(none.body)) == (200, {"name": None, "stages": []})
    push(client, "/api/stages", STAGES)
    shown = json.loads(client.http.get("/api/stages", headers=AUTH).body)
    assert shown == {"name": "Lifecycle", "stages": ["lead", "customer"]}
    odd = client.http.get("/api/stages?version=1", headers=AUTH)
    assert odd.status_code == 400 and json.loads(odd.body)["error"].startswith("version:")


def test_the_cli_refuses_unknown_ids_by_name(sent: World) -> None:
    runner = CliRunner()
    for option, value in (("--segment", "nobody"), ("--stage", "champion")):
        found = runner.invoke(nurture, ["report", "--sequence", "ab", option, value])
        assert found.exit_code == 1 and f"{option[2:]}:" in found.output, found.output
    mixed = runner.invoke(nurture, ["report", "--sequence", "ab", "--by", "stage", "--stage", "x"])
    assert mixed.exit_code == 2 and "--by cannot be combined" in mixed.output

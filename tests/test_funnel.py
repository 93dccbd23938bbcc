"""The funnel from the real stream on moto: counted once per send and metric (one mark each,
one write unit, no transaction), whatever the redelivery, the batch boundaries or a crash
between a mark and the next."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import services, store, streams
from chalicelib.config import DAY, settings
from chalicelib.funnel import Funnel
from chalicelib.redrive import lambda_record
from chalicelib.sequences import parse_sequence
from chalicelib.tokens import Purpose
from chalicelib.tracking import Tracker
from local.filters import matches_any
from local.player import Player
from tests.conftest import token_for

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"
APPLE_PROXY = "Mozilla/5.0"
SEQUENCE = parse_sequence(
    """
id: promo
name: Promo
default_timezone: UTC
default_locale: en
steps:
  - id: first
    template: {en: {subject: Hi, html: '<p>Hi <a href="{{ unsubscribe_url }}">u</a></p>'}}
  - id: second
    template: {en: {subject: Again, html: '<p>Again <a href="{{ unsubscribe_url }}">u</a></p>'}}
"""
)


def send(sends: store.Sends, send_id: str, contact: str, step: str, run: int = 1) -> None:
    """A send claimed and completed the way the sender does it."""
    attrs = {"sequence_id": "promo", "step_id": step, "run": run, "contact_id": contact}
    assert sends.claim(
        send_id, attrs, "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", None, contact
    )
    record = sends.get(send_id)
    assert record is not None
    assert sends.complete(record, f"ses-{send_id}", "2026-01-01T00:00:01Z")


@pytest.fixture
def world(table: store.Table) -> Iterator[dict[str, Any]]:
    sends = store.Sends(table)
    send(sends, "s1", "alice", "first")
    send(sends, "s2", "bob", "first")
    send(sends, "s3", "carol", "second")
    send(sends, "t0", "alice", "first", run=0)  # a test send: never counted
    ticks = iter(range(1_900_000_000, 1_900_000_000 + 100 * DAY, DAY))  # a day per request
    tracker = Tracker(settings(), services.keyring, table, services.parking(), lambda: next(ticks))
    for _ in range(3):  # the same person opening on three days: three events, one unique open
        tracker.open(token_for(Purpose.OPEN, "alice", "s1"), BROWSER)
    tracker.open(token_for(Purpose.OPEN, "bob", "s2"), APPLE_PROXY)  # machine
    link = token_for(Purpose.CLICK, "carol", "s3", link=0, url="https://e.example/")
    tracker.click(link, "GET", BROWSER)  # a human click is an open too
    tracker.open(token_for(Purpose.OPEN, "alice", "t0"), BROWSER)
    yield {"table": table}


def player(table: store.Table) -> Player:
    return Player(
        services.client("scheduler"),
        services.client("dynamodbstreams"),
        services.client("dynamodb"),
        table.name,
        "nurture",
        lambda event, _: None,
        lambda event, _: streams.handle(event, consumers(table)),
    )


def consumers(table: store.Table) -> list[streams.Consumer]:
    return [streams.engagement(services.journey(), Funnel(table))]


def counts(table: store.Table) -> dict[str, dict[str, int]]:
    rows = Funnel(table).report(SEQUENCE)
    return {row.step_id: {m: n for m, n in row.counts.items() if n} for row in rows}


EXPECTED = {
    "first": {"sent": 2, "opened": 1, "opened_machine": 1},
    "second": {"sent": 1, "opened": 1, "clicked": 1},
}


def stream_records(table: store.Table) -> list[dict[str, Any]]:
    """Every record of the table's stream, in the shape Lambda delivers."""
    client = services.client("dynamodbstreams")
    arn = services.client("dynamodb").describe_table(TableName=table.name)["Table"]
    arn = arn["LatestStreamArn"]
    found = []
    for shard in client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found += [
            lambda_record(r, arn) for r in client.get_records(ShardIterator=iterator)["Records"]
        ]
    return found


def test_each_send_counts_once_per_metric(world: dict[str, Any]) -> None:
    table = world["table"]
    opens = [e for e in table.events("alice") if e["type"] == "opened" and e["send_id"] == "s1"]
    assert len(opens) == 3
    player(table).pump()
    assert counts(table) == EXPECTED


def test_redelivering_the_whole_stream_changes_nothing(world: dict[str, Any]) -> None:
    table = world["table"]
    played = player(table)
    played.pump()
    played.checkpoints.clear()
    played.pump()
    assert counts(table) == EXPECTED


def test_other_batch_boundaries_on_retry_change_nothing(world: dict[str, Any]) -> None:
    table = world["table"]
    records = [r for r in stream_records(table) if matches_any(store.filter_patterns(), r)]
    for cut in (1, 3, len(records) // 2):  # overlapping retries, cut in different places
        streams.handle({"Records": records[:cut]}, consumers(table))
        streams.handle({"Records": records[cut - 1 :]}, consumers(table))
    assert counts(table) == EXPECTED


def test_a_crash_between_two_marks_is_healed_by_the_redelivered_record(
    world: dict[str, Any],
) -> None:
    """A human click marks `clicked` then `opened`: dying after the first mark, the record is
    reported failed and delivered again; the first mark is found there, the second written."""
    table = world["table"]
    events = services.client("dynamodb").meta.events
    failures = []

    def fail_once(params: dict[str, Any], **_: Any) -> None:
        if params["Item"]["SK"]["S"] == "U#opened#s3" and not failures:
            failures.append(params["Item"]["SK"]["S"])
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")

    events.register("before-parameter-build.dynamodb.PutItem", fail_once, unique_id="crash")
    try:
        played = player(table)
        played.pump()  # the record fails alone: Lambda hands it over again
        played.pump()
    finally:
        events.unregister("before-parameter-build.dynamodb.PutItem", unique_id="crash")
    assert failures
    assert counts(table) == EXPECTED


def test_a_mark_is_one_small_item_written_without_a_transaction(world: dict[str, Any]) -> None:
    table = world["table"]
    calls: list[str] = []
    events = services.client("dynamodb").meta.events

    def seen(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events.register("before-call.dynamodb.*", seen, unique_id="count")
    try:
        player(table).pump()
    finally:
        events.unregister("before-call.dynamodb.*", unique_id="count")
    assert "TransactWriteItems" not in calls
    marks = [
        item
        for item in services.client("dynamodb").scan(TableName=table.name)["Items"]
        if item["PK"]["S"].startswith("R#promo#")
    ]
    assert len(marks) == sum(sum(m.values()) for m in EXPECTED.values())
    assert all(set(item) == {"PK", "SK", "m", "s", "v", "d", "GSI1PK", "GSI1SK"} for item in marks)
    # One write unit in the table and one in the index (1 KB each), with room to spare.
    assert all(sum(len(k) + len(str(v)) for k, v in item.items()) < 400 for item in marks)

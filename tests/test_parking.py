"""Fault injection: the table fails on the hot path; the recipient is served, nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from app import replay_parked
from chalicelib import services
from chalicelib.store import Event, Table, event_write
from chalicelib.tokens import Purpose
from chalicelib.web import PIXEL
from tests.conftest import events_of, token_for

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/nurture-park"
BROWSER = "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17 Safari"


def fail(**_: object) -> None:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")


@pytest.fixture
def broken_table(table: Table) -> Iterator[Table]:
    events = services.client("dynamodb").meta.events
    for operation in ("PutItem", "UpdateItem", "TransactWriteItems"):
        events.register(f"before-call.dynamodb.{operation}", fail, unique_id=f"fail-{operation}")
    yield table
    for operation in ("PutItem", "UpdateItem", "TransactWriteItems"):
        events.unregister(f"before-call.dynamodb.{operation}", unique_id=f"fail-{operation}")


def parked_messages() -> list[dict]:
    answer = services.client("sqs").receive_message(QueueUrl=QUEUE, MaxNumberOfMessages=10)
    return answer.get("Messages", [])


def as_records(messages: list[dict]) -> list[dict]:
    return [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]


def test_failed_writes_are_parked_and_recipient_is_served(
    client: Client, broken_table: Table
) -> None:
    pixel = client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    click = client.http.get(
        f"/c/{token_for(Purpose.CLICK, link=0, url='https://e.example/')}",
        headers={"user-agent": BROWSER},
    )
    unsubscribe = client.http.post(
        f"/u/{token_for(Purpose.UNSUBSCRIBE)}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=b"List-Unsubscribe=One-Click",
    )
    assert (pixel.status_code, pixel.body) == (200, PIXEL)
    assert click.status_code == 302
    assert unsubscribe.status_code == 200
    parked = parked_messages()
    assert len(parked) == 3
    assert {json.loads(m["Body"])["why"] for m in parked} == {"ClientError"}


def test_replay_applies_each_parked_write_once(client: Client, broken_table: Table) -> None:
    client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    client.http.post(
        f"/u/{token_for(Purpose.UNSUBSCRIBE)}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=b"List-Unsubscribe=One-Click",
    )
    records = as_records(parked_messages())
    assert events_of(broken_table) == []
    # The table heals; the queue redelivers the same messages twice.
    for operation in ("PutItem", "UpdateItem", "TransactWriteItems"):
        services.client("dynamodb").meta.events.unregister(
            f"before-call.dynamodb.{operation}", unique_id=f"fail-{operation}"
        )
    for _ in range(2):
        assert replay_parked({"Records": records}, None) == {"batchItemFailures": []}
    assert len(events_of(broken_table, kind="opened")) == 1
    assert len(events_of(broken_table, kind="unsubscribed")) == 1
    assert broken_table.profile("alice")["status"] == "unsubscribed"  # type: ignore[index]


def test_poison_record_fails_alone(table: Table) -> None:
    write = event_write(Event("alice", "opened", "2026-01-01T00:00:00.000Z", "e1"))
    good = {"messageId": "good", "body": json.dumps({"write": write, "why": "x"})}
    poison = {"messageId": "poison", "body": "{not json"}
    answer = replay_parked({"Records": [poison, good]}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert [e["event_id"] for e in events_of(table)] == ["e1"]


def test_write_survives_in_logs_when_queue_is_down_too(
    client: Client, broken_table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    services.client("sqs").delete_queue(QueueUrl=QUEUE)
    response = client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    assert response.status_code == 200 and response.body == PIXEL
    [lost] = [r for r in caplog.records if r.getMessage() == "write lost to logs"]
    assert lost.levelname == "ERROR"
    assert lost.write[0]["Put"]["Item"]["type"] == {"S": "opened"}  # type: ignore[attr-defined]


def refuse(**_: object) -> None:
    raise ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Number overflow"}}, "PutItem"
    )


def test_a_write_the_table_refuses_is_never_parked(
    client: Client, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.PutItem", refuse, unique_id="refuse")
    try:
        response = client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    finally:
        events.unregister("before-call.dynamodb.PutItem", unique_id="refuse")
    assert (response.status_code, response.body) == (200, PIXEL)
    assert parked_messages() == []
    [refused] = [r for r in caplog.records if r.getMessage() == "write refused"]
    assert refused.levelname == "ERROR" and refused.why == "ValidationException"  # type: ignore[attr-defined]


def test_a_parked_write_the_table_refuses_is_dropped_not_retried(
    table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    write = event_write(Event("alice", "opened", "2026-01-01T00:00:00.000Z", "e1"))
    record = {"messageId": "m1", "body": json.dumps({"write": write, "why": "x"})}
    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.PutItem", refuse, unique_id="refuse")
    try:
        assert replay_parked({"Records": [record]}, None) == {"batchItemFailures": []}
    finally:
        events.unregister("before-call.dynamodb.PutItem", unique_id="refuse")
    assert [r.levelname for r in caplog.records if r.getMessage() == "parked write refused"] == [
        "ERROR"
    ]

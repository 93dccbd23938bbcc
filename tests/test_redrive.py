"""`nurture dlq redrive`: each dead-letter queue's messages, as AWS puts them there, are done
again once on moto; a message redriven twice (a duplicate, or a second run) changes nothing
more; one that fails again stays in its queue and is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chalicelib import parking, services, store
from chalicelib.cli import nurture
from chalicelib.funnel import Funnel
from chalicelib.redrive import lambda_record
from chalicelib.store import Table
from tests.conftest import events_of

SES = Path(__file__).parent / "fixtures" / "ses"


def queue(name: str) -> str:
    return str(services.client("sqs").create_queue(QueueName=name)["QueueUrl"])


def put(url: str, *bodies: Any) -> None:
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        services.client("sqs").send_message(QueueUrl=url, MessageBody=text)


def left(url: str) -> int:
    attributes = services.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def destination_record(payload: Any) -> dict[str, Any]:
    """What Lambda's on-failure destination puts in a queue after its async retries."""
    return {
        "version": "1.0",
        "timestamp": "2026-03-02T09:00:00.000Z",
        "requestContext": {
            "requestId": "r-1",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
    }


def redrive(name: str, url: str, *more: str) -> Any:
    return CliRunner().invoke(nurture, ["dlq", "redrive", name, "--queue-url", url, *more])


def test_parked_writes_are_applied_once_however_often_they_are_redriven(table: Table) -> None:
    event = store.Event("alice", "opened", "2026-03-02T09:00:00.000Z", "e-1", "s-1")
    body = {"write": store.event_write(event), "why": "ProvisionedThroughputExceededException"}
    url = queue("nurture-park-dlq")
    put(url, body, body, "not json")  # SQS may hold the same message twice
    result = redrive("park", url)
    assert result.exit_code == 1
    assert "park: 2 replayed, 1 left in the queue" in result.output
    assert "body: is not JSON" in result.output
    assert len(events_of(table, "alice", "opened")) == 1
    assert left(url) == 1
    later = queue("nurture-park-dlq-2")
    put(later, body, body)  # a later run, the write long since applied; one at a time
    assert "1 replayed, 0 left" in redrive("park", later, "--limit", "1").output
    assert left(later) == 1
    assert len(events_of(table, "alice", "opened")) == 1


def test_parked_writes_replay_through_the_queue_consumer_too(table: Table) -> None:
    """The park queue's own consumer, Powertools' batch processor: a bad message alone fails."""
    event = store.Event("bob", "clicked", "2026-03-02T09:00:00.000Z", "e-2", "s-2")
    good = json.dumps({"write": store.event_write(event)})
    answer = parking.replay(
        table,
        {
            "Records": [
                {"messageId": "m-1", "body": good, "eventSource": "aws:sqs"},
                {"messageId": "m-2", "body": "{", "eventSource": "aws:sqs"},
            ]
        },
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert len(events_of(table, "bob", "clicked")) == 1


def test_a_dead_due_minute_is_fired_again_by_a_schedule_a_minute_from_now(table: Table) -> None:
    services.client("scheduler").create_schedule_group(Name="nurture")
    url = queue("nurture-schedule-dlq")
    put(url, destination_record({"minute": "2026-03-02T09:00Z"}), {"minute": "2026-03-02T09:05Z"})
    result = redrive("schedule", url)
    assert result.exit_code == 0, result.output
    client = services.client("scheduler")
    found = client.list_schedules(GroupName="nurture")["Schedules"]
    inputs = {
        json.loads(client.get_schedule(Name=s["Name"], GroupName="nurture")["Target"]["Input"])[
            "minute"
        ]
        for s in found
    }
    assert inputs == {"2026-03-02T09:00Z", "2026-03-02T09:05Z"}
    assert left(url) == 0


def test_ses_events_are_recorded_once_when_redriven_twice(table: Table) -> None:
    event = json.loads((SES / "bounce_permanent_multi.json").read_text())
    url = queue("nurture-ses-event-dlq")
    put(url, destination_record(event), event)  # after Lambda's retries; undeliverable
    assert redrive("ses-event", url).exit_code == 0
    assert len(events_of(table, "alice", "bounced")) == 2  # one per recipient, not per message
    assert table.is_suppressed("alice@example.com")


def test_a_stream_batch_given_up_on_is_read_again_and_counted_once(table: Table) -> None:
    """The stream DLQ holds where the batch lies; its records are read from the stream again
    and handed to the consumers, whose effects are guarded (the funnel counts a send once)."""
    sends = store.Sends(table)
    attrs = {"sequence_id": "promo", "step_id": "first", "run": 1, "contact_id": "alice"}
    assert sends.claim("s-1", attrs, "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z", None, "alice")
    record = sends.get("s-1")
    assert record is not None and sends.complete(record, "ses-1", "2026-03-02T09:00:01Z")
    event = store.Event(
        "alice", "opened", "2026-03-02T10:00:00.000Z", "e-1", "s-1", {"verdict": "human"}
    )
    table.apply(store.event_write(event))
    client = services.client("dynamodbstreams")
    arn = services.client("dynamodb").describe_table(TableName=table.name)["Table"][
        "LatestStreamArn"
    ]
    (shard,) = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = client.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = [lambda_record(r, arn) for r in client.get_records(ShardIterator=iterator)["Records"]]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    failure = {
        "requestContext": {"condition": "RetryAttemptsExhausted"},
        "DDBStreamBatchInfo": {
            "shardId": shard["ShardId"],
            "startSequenceNumber": numbers[0],
            "endSequenceNumber": numbers[-1],
            "batchSize": len(numbers),
            "streamArn": arn,
        },
    }
    url = queue("nurture-stream-dlq")
    put(url, failure, failure)
    result = redrive("stream", url)
    assert result.exit_code == 0, result.output
    assert "2 replayed" in result.output
    first = Funnel(table).counted("promo").step("first")
    assert (first["sent"], first["opened"]) == (1, 1)


def test_redrive_needs_a_queue_and_names_the_option(table: Table) -> None:
    result = CliRunner().invoke(nurture, ["dlq", "redrive", "park"])
    assert result.exit_code == 2 and "--queue-url" in result.output
    result = CliRunner().invoke(nurture, ["dlq", "redrive", "import"])
    assert result.exit_code == 2 and "NURTURE_IMPORT_DLQ_URL" in result.output
    result = CliRunner().invoke(nurture, ["dlq", "redrive", "inbox", "--queue-url", "x"])
    assert result.exit_code == 2 and "inbox" in result.output


@pytest.mark.parametrize(
    ("name", "body", "why"),
    [
        ("park", {"write": "x"}, "write: is missing"),
        ("schedule", {"minute": ""}, "minute: is missing"),
        ("stream", {"requestContext": {}}, "DDBStreamBatchInfo: is missing"),
    ],
)
def test_a_message_that_is_not_what_the_queue_holds_stays_and_is_named(
    table: Table, name: str, body: dict[str, Any], why: str
) -> None:
    url = queue(f"nurture-{name}-dlq")
    put(url, body)
    result = redrive(name, url)
    assert result.exit_code == 1 and why in result.output
    assert left(url) == 1

"""What operators see: EMF metrics (sends, skips by reason, verdicts, parked writes, bad
tokens) and log lines that carry the Lambda context, read from what the handlers print."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

import app
from chalicelib import observability, services, store, streams
from chalicelib.tokens import Purpose
from tests.conftest import token_for
from tests.test_funnel import send, stream_records

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"


@dataclass
class Context:
    """The attributes of Lambda's context object Powertools reads."""

    function_name: str = "nurture-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:nurture-test"
    aws_request_id: str = "request-0123"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def printed(out: str) -> list[dict[str, Any]]:
    """Every JSON line a handler printed (EMF documents and log records)."""
    found = []
    for line in out.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def emf(out: str) -> dict[str, float]:
    """Metric name (with extra dimension values) -> value, over every EMF document."""
    values: dict[str, float] = {}
    for doc in printed(out):
        if "_aws" not in doc:
            continue
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "nurture" and doc["service"] == "nurture"
        extra = [doc[d] for dims in directive["Dimensions"] for d in dims if d != "service"]
        for metric in directive["Metrics"]:
            name = "/".join([metric["Name"], *extra])
            value = doc[metric["Name"]]
            values[name] = values.get(name, 0) + (sum(value) if isinstance(value, list) else value)
    return values


def test_bad_tokens_are_counted_by_purpose(
    client: Client, table: store.Table, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.http.get("/o/forged.token", headers={"user-agent": BROWSER})
    client.http.get("/c/forged.token", headers={"user-agent": BROWSER})
    client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    assert emf(capsys.readouterr().out) == {"BadTokens/open": 1, "BadTokens/click": 1}


def test_a_parked_write_is_counted(
    client: Client, table: store.Table, capsys: pytest.CaptureFixture[str]
) -> None:
    events = services.client("dynamodb").meta.events

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

    events.register("before-call.dynamodb.PutItem", fail, unique_id="fail-put")
    try:
        capsys.readouterr()
        client.http.get(f"/o/{token_for(Purpose.OPEN)}", headers={"user-agent": BROWSER})
    finally:
        events.unregister("before-call.dynamodb.PutItem", unique_id="fail-put")
    assert emf(capsys.readouterr().out) == {"ParkedWrites": 1}


def test_a_stream_batch_counts_sends_skips_and_verdicts(
    table: store.Table, capsys: pytest.CaptureFixture[str]
) -> None:
    sends = store.Sends(table)
    send(sends, "s1", "alice", "first")
    send(sends, "s2", "bob", "first")
    claimed = {"sequence_id": "promo", "step_id": "first", "run": 1, "contact_id": "carol"}
    assert sends.claim("s3", claimed, "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", None, "carol")
    record = sends.get("s3")
    assert record is not None
    skip = store.Event("carol", "skipped", "2026-01-01T00:00:01Z", "e1", "s3", {"reason": "paused"})
    assert sends.finish(record, "skipped", skip)
    services.tracker().open(token_for(Purpose.OPEN, "alice", "s1"), BROWSER)
    services.tracker().open(token_for(Purpose.OPEN, "bob", "s2"), "Mozilla/5.0")
    capsys.readouterr()
    handler = observability.handler(lambda event, _: streams.handle(event, [streams.counted]))
    answer = handler({"Records": stream_records(table)}, Context())
    assert answer == {"batchItemFailures": []}
    counted = emf(capsys.readouterr().out)
    assert counted["Sent"] == 2 and counted["Skipped"] == 1
    assert counted["SkippedByReason/paused"] == 1
    assert counted["OpenedHuman"] == 1 and counted["OpenedMachine"] == 1
    assert streams.counted in services.stream_consumers()  # what the Lambda's stream feeds


@pytest.mark.parametrize(
    "name",
    [
        "api",
        "replay_parked",
        "on_schedule",
        "on_stream",
        "on_ses_event",
        "deliver_webhooks",
        "retry_webhooks",
    ],
)
def test_every_batch_and_marketer_handler_puts_the_request_in_its_logs(
    table: store.Table, name: str
) -> None:
    """inject_lambda_context: whatever the handler logs carries the invocation."""
    from chalicelib import observability

    context = Context(aws_request_id=f"req-{name}")
    with contextlib.suppress(Exception):  # the events are empty: only the logger matters here
        getattr(app, name)({"Records": []}, context)
    keys = observability.logger.get_current_keys()
    assert keys["function_request_id"] == context.aws_request_id
    assert keys["function_name"] == "nurture-test"

"""Outbound costs: webhook deliveries per second per core, and what publishing adds to the
stream consumer per event.

1. Deliveries: the real `Deliverer.attempt` (read the record, health and secrets; sign; POST;
   record the success) to a receiver in another process on 127.0.0.1, the table calls
   answered by a botocore Stubber so the figure is our code's CPU, not a DynamoDB stand-in's.
   Printed: deliveries per CPU-second of this process (= per core), and the signing alone.
2. Stream consumer: the real outbound consumer (`Publisher`) per `clicked` event with one
   matching subscription (send origin read, bus PutEvents, delivery record, queue message),
   Stubber-answered; p50/p99 of the time it adds per event, without AWS round trips (it
   makes 4 requests per event; in AWS add their latency).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.stub import ANY, Stubber  # noqa: E402

from chalicelib import store  # noqa: E402
from chalicelib.outbound import (  # noqa: E402
    Bus,
    Deliverer,
    DeliveryQueue,
    DeliveryRef,
    Publisher,
    SubscriptionCache,
    Transport,
    parse_webhooks,
)
from chalicelib.outbound.signing import headers, new_secret  # noqa: E402
from chalicelib.stamps import iso  # noqa: E402

DELIVERIES = 2000
EVENTS = 5000
SECRET = new_secret()


def _receiver() -> tuple[subprocess.Popen[str], str]:
    code = (
        "import time\nfrom local.receiver import Receiver\n"
        "r = Receiver(lambda w: []).start()\nprint(r.origin, flush=True)\ntime.sleep(3600)\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _client(service: str) -> Any:
    return boto3.session.Session().client(service, region_name="us-east-1")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def deliveries(origin: str) -> None:
    dynamodb, sqs = _client("dynamodb"), _client("sqs")
    table = store.Table(dynamodb, "bench")
    hooks = parse_webhooks(
        f"webhooks:\n  - id: crm\n    url: {origin}/hooks/crm\n", allowed_origins=[origin]
    )
    deliverer = Deliverer(
        store.Deliveries(table),
        store.Webhooks(table),
        lambda: hooks.by_id(),
        Transport([origin], 5.0),
        DeliveryQueue(sqs, "https://sqs.invalid/q", "https://sqs.invalid/dlq"),
        retries=None,  # type: ignore[arg-type]  # every attempt succeeds: no retry planned
        disable_after=timedelta(hours=72),
    )
    body = '{"type":"clicked","id":"evt_1","data":{"verdict":"human"}}'
    item = {
        "webhook_id": _s("crm"),
        "event_id": _s("evt_1"),
        "event_type": _s("clicked"),
        "body": _s(body),
        "created_at": _s(iso(time.time())),
        "status": _s("pending"),
        "attempts": {"N": "0"},
        "redrives": {"N": "0"},
        "next_at": _s(iso(0)),
        "ttl": {"N": "1"},
    }
    secrets = {"secrets": {"L": [{"M": {"value": _s(SECRET), "created_at": _s(iso(0))}}]}}
    stub = Stubber(dynamodb)
    for _ in range(DELIVERIES):
        stub.add_response("get_item", {"Item": item})
        stub.add_response("get_item", {})  # health: never failed
        stub.add_response("get_item", {"Item": secrets})
        stub.add_response("transact_write_items", {})
    with stub:
        ref = DeliveryRef("crm", "evt_1")
        deliverer.attempt(ref)  # warm the connection path once
        started_cpu, started = time.process_time(), time.perf_counter()
        for _ in range(DELIVERIES - 1):
            assert deliverer.attempt(ref) == "delivered"
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    raw = body.encode()
    started_cpu = time.process_time()
    for n in range(20_000):
        headers(f"evt_{n}", 1_800_000_000, raw, [SECRET])
    signing = (time.process_time() - started_cpu) / 20_000
    n = DELIVERIES - 1
    print(
        f"deliveries: {n / cpu:,.0f}/s per core ({cpu / n * 1e6:,.0f} us CPU each, signing "
        f"{signing * 1e6:.1f} us of it); {n / wall:,.0f}/s wall on one thread, one connection "
        "per delivery, receiver in another process"
    )


def stream_consumer() -> None:
    dynamodb, sqs, events = _client("dynamodb"), _client("sqs"), _client("events")
    table = store.Table(dynamodb, "bench")
    cache = SubscriptionCache(store.Versions(table, "webhooks"), ttl=3600)
    hooks = parse_webhooks("webhooks:\n  - id: crm\n    url: https://93.184.216.34/h\n")
    publisher = Publisher(
        table,
        store.Deliveries(table),
        cache,
        DeliveryQueue(sqs, "https://sqs.invalid/q", "https://sqs.invalid/dlq"),
        Bus(events, "nurture"),
        30,
    )
    origin = {"Item": {"sequence_id": _s("welcome"), "step_id": _s("hi"), "run": {"N": "1"}}}
    dynamo_stub, sqs_stub, events_stub = Stubber(dynamodb), Stubber(sqs), Stubber(events)
    # The file in force, read once (its version, then its body), as the first event finds it.
    head = {
        "model_id": _s("webhooks"),
        "version": {"N": "1"},
        "content_hash": _s("h"),
        "name": _s("1 webhooks"),
        "pushed_at": _s(iso(0)),
    }
    body = {**head, "body": {"B": zlib.compress(hooks.to_json().encode())}}
    dynamo_stub.add_response("get_item", {"Item": head})
    dynamo_stub.add_response("get_item", {"Item": body})
    with dynamo_stub:
        assert cache.current() is not None
    for _ in range(EVENTS):
        dynamo_stub.add_response("get_item", origin)
        dynamo_stub.add_response("put_item", {})
        sqs_stub.add_response("send_message_batch", {"Successful": [], "Failed": []})
        events_stub.add_response(
            "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": ANY}
        )
    times = []
    with dynamo_stub, sqs_stub, events_stub:
        for n in range(EVENTS):
            change = store.Change(
                "INSERT",
                {
                    "PK": f"C#c{n}",
                    "SK": f"EV#2026-11-24T09:00:00.000Z#clicked#e{n}",
                    "type": "clicked",
                    "contact_id": f"c{n}",
                    "at": "2026-11-24T09:00:00.000Z",
                    "event_id": f"e{n}",
                    "send_id": f"s{n}",
                    "verdict": "human",
                    "verdict_reason": "browser",
                    "link": 1,
                },
            )
            started = time.perf_counter()
            publisher(change)
            times.append(time.perf_counter() - started)
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
    print(
        f"stream consumer: outbound adds p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms per "
        f"event ({EVENTS} clicked events, 1 subscription; 4 AWS requests each, not included)"
    )


if __name__ == "__main__":
    process, origin = _receiver()
    try:
        deliveries(origin)
    finally:
        process.terminate()
    stream_consumer()

"""Segments: evaluation speed on in-memory profiles, and `enroll --segment` memory.

1. A 10-test segment (fields, attributes, tags, interests, topics, stage, consent, engagement
   recency, event counts with a window and a property match) compiled once and run over
   in-memory `Profile`s: contacts per second on one core (CPU time). Target >= 100,000/s.
2. `nurture enroll --segment`'s pass (scan the profiles page by page, test each, enroll the
   members 500 at a time) against a moto server in its own process with 25,000 and then
   100,000 contacts: peak traced memory of this process during the pass for each, which must
   stay flat in the count (moto's own memory is not ours to count). The peak is one scan page
   (1 MB of items, as DynamoDB and moto page a scan: about 11,000 of these profiles, parsed
   by botocore) and one chunk of 500 enrollments, so both sizes are
   past a full page (a table smaller than one page peaks lower for that reason alone), and
   members are 1 in 20, so both fill whole chunks.

Run: python benchmarks/segments.py [--contacts 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    NURTURE_TABLE="nurture-bench",
    NURTURE_SENDER="news@nurture.example",
    NURTURE_SCHEDULE_TARGET_ARN="arn:aws:lambda:us-east-1:123456789012:function:on_schedule",
    NURTURE_SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/scheduler",
    NURTURE_SCHEDULE_DLQ_ARN="arn:aws:sqs:us-east-1:123456789012:dlq",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from boto3.dynamodb.types import TypeSerializer

from chalicelib import audience, catalog, services
from chalicelib.profiles import Profile
from chalicelib.segments import matcher, parse_segment
from chalicelib.sequences import parse_sequence
from chalicelib.stamps import iso

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SERIALIZER = TypeSerializer()
STAGES = ("awareness", "consideration", "decision", "customer")
TOPICS = ("product", "newsletter", "offers")
SEGMENT = {
    "id": "bench",
    "name": "Ten tests",
    "match": {
        "all": [
            {"field": {"name": "country", "in": ["DE", "AT", "CH"]}},
            {"attribute": {"name": "plan", "equals": "pro"}},
            {"attribute": {"name": "seats", "gte": 5}},
            {"not": {"tag": "churned"}},
            {"interest": {"name": "pricing", "within": "30d"}},
            {"topic": "offers"},
            {"stage": {"at_least": "consideration"}},
            {"consent": True},
            {"engaged": {"within": "90d"}},
            {"event": {"name": "order_placed", "within": "60d", "where": {"plan": "pro"}}},
        ]
    },
}
SEQUENCE = """
id: bench
name: Bench
default_timezone: UTC
default_locale: en
steps:
  - id: one
    template:
      en: {subject: Hi, html: '<p><a href="{{ unsubscribe_url }}">u</a></p>'}
"""


def stamp(days_ago: float) -> str:
    return iso((NOW - timedelta(days=days_ago)).timestamp())


def item(n: int, rng: random.Random, member: bool, table: bool = False) -> dict[str, Any]:
    """A stored profile; members pass every test, the others fail one of them at random."""
    if not member and table:  # the table's non-members: plain contacts from an import
        return {"contact_id": f"c{n:07d}", "email": f"c{n}@example.com", "country": "FR"}
    doc: dict[str, Any] = {
        "contact_id": f"c{n:07d}",
        "email": f"c{n}@example.com",
        "country": "DE",
        "attributes": {"plan": "pro", "seats": Decimal(12)},
        "tags": {"beta"},
        "interests": {"pricing"},
        "interest_at": {"pricing": stamp(3)},
        "stage": "decision",
        "consent_at": stamp(400),
        "last_engaged_at": stamp(10),
        "events": {
            "order_placed": {
                "n": Decimal(2),
                "first": stamp(50),
                "last": stamp(5),
                "recent": [
                    {"at": stamp(5), "id": f"o{n}", "p": {"plan": "pro", "total": Decimal(49)}},
                    {"at": stamp(50), "id": f"p{n}", "p": {"plan": "basic"}},
                ],
            }
        },
    }
    if not member:
        spoil = rng.randrange(5)
        if spoil == 0:
            doc["country"] = "FR"
        elif spoil == 1:
            doc["tags"] = {"churned"}
        elif spoil == 2:
            doc["stage"] = "awareness"
        elif spoil == 3:
            doc["last_engaged_at"] = stamp(200)
        else:
            doc["topics"] = ["product"]
    return doc


def evaluation(count: int = 200_000, rounds: int = 5) -> None:
    rng = random.Random(7)
    segment = parse_segment(json.dumps(SEGMENT), stages=STAGES, topics=TOPICS)
    test = matcher(segment, NOW, topics=TOPICS, stages=STAGES)
    profiles = [Profile.from_item(f"c{n}", item(n, rng, member=n % 4 == 0)) for n in range(count)]
    best, members = float("inf"), 0
    for _ in range(rounds):
        began = time.process_time()
        members = sum(1 for profile in profiles if test(profile))
        best = min(best, time.process_time() - began)
    print(f"segment evaluation, 10 tests, {count:,} in-memory profiles, best of {rounds}:")
    print(f"  {count / best:,.0f} contacts/s per core  (target >= 100,000/s); {members:,} members")


def low_level(plain: dict[str, Any]) -> dict[str, Any]:
    return {name: SERIALIZER.serialize(value) for name, value in plain.items()}


MEMBER_EVERY = 20


def enroll_pass(contacts: int) -> tuple[int, dict[str, int], float]:
    """Fill a fresh table, then measure the enroll --segment pass alone."""
    services.client.cache_clear()
    table = services.table()
    table.create()
    services.client("scheduler").create_schedule_group(Name="nurture")
    # moto copies the whole table for each transaction: push while the table is empty.
    catalog.push(services.versions(), parse_sequence(SEQUENCE), "t")
    rng = random.Random(11)
    table.put_batch(
        low_level(
            {"PK": f"C#c{n:07d}", "SK": "PROFILE", **item(n, rng, n % MEMBER_EVERY == 0, True)}
        )
        for n in range(contacts)
    )
    catalogue = services.catalogue()
    segment = parse_segment(json.dumps(SEGMENT), stages=STAGES, topics=TOPICS)
    test = matcher(segment, NOW, topics=catalogue.topics, stages=STAGES)
    journey = services.journey()
    began = time.perf_counter()
    tracemalloc.start()
    members = (p for p in audience.profiles(table.profiles()) if test(p))
    counts = audience.enroll_members(members, lambda ids: journey.enroll_many(ids, "bench"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    table.client.delete_table(TableName=table.name)
    services.client("scheduler").delete_schedule_group(Name="nurture")
    return peak, counts, time.perf_counter() - began


def moto_server() -> subprocess.Popen[bytes]:
    """A moto server of its own: the pass's memory is then this process's alone."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto server did not start")


def enroll_memory(largest: int) -> None:
    print(
        "enroll --segment (scan, test, enroll 500 at a time) on a moto server, "
        f"1 in {MEMBER_EVERY} a member:"
    )
    peaks = []
    server = moto_server()
    try:
        runs = [enroll_pass(contacts) for contacts in (largest // 4, largest)]
    finally:
        server.terminate()
    for contacts, (peak, counts, seconds) in zip((largest // 4, largest), runs, strict=True):
        peaks.append(peak)
        print(
            f"  {contacts:>7,} contacts: peak {peak / 1e6:6.1f} MB traced, "
            f"enrolled {counts.get('enrolled', 0):,}, {seconds:.0f} s"
        )
    ratio = peaks[1] / peaks[0]
    print(f"  peak at {largest:,} / peak at {largest // 4:,} = {ratio:.2f}x  (target: flat, ~1x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    evaluation()
    enroll_memory(parser.parse_args().contacts)

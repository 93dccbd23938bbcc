"""What a sequence's report reads and costs for 1,000,000 sends (target: answered in <= 2 s).

The funnel stores one mark per (send, metric) in 8 shards (`store/reports.py`), each stamped
with the contact's stage and segments when sent, and a report adds the marks up at read. So a
report reads every mark of the sequence: its cost grows with sends. This writes the marks of
a scaled model (MODEL_SENDS sends over 30 days: 4 cells, one step with 2 variants; delivered,
machine and human opens, clicks, conversions with revenue at realistic rates; every contact
with a stage and 0-3 segments) on in-process moto, then prints per 1,000,000 sends (the
measured figures times 1,000,000 / MODEL_SENDS: everything here is linear in marks):
- marks and their bytes (DynamoDB's item size: names plus values), and the read units of the
  8 shard queries (eventually consistent, as the report reads them: half a unit per 4 KB of
  each 1 MB page); with and without the stamps, so what filtering costs is in view;
- our code's time to add the marks up by cell and build the report, whole and filtered by a
  segment and a stage (the items handed over already fetched, so moto's slow serialisation is
  not counted); DynamoDB's own time for the pages is not measured here.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ["NURTURE_TABLE"] = "nurture-bench"
os.environ.pop("AWS_ENDPOINT_URL", None)

TARGET_SENDS = 1_000_000
MODEL_SENDS = int(os.environ.get("MODEL_SENDS", "20000"))
RUNS = int(os.environ.get("RUNS", "5"))
DAYS = 30
CELLS = (("announce", "plain"), ("announce", "curious"), ("reminder", ""), ("last_call", ""))
STAGES = ("awareness", "consideration", "decision", "customer", "advocate")
SEGMENTS = ("pricing-curious", "engaged-buyers", "hot-leads", "gone-quiet", "cold-fits", "vip")


def marks(rng: random.Random) -> Iterator[tuple[str, str, Any, Decimal]]:
    """(send id, metric, cell, amount) of every mark the model's sends leave."""
    from chalicelib import store

    for n in range(MODEL_SENDS):
        step, variant = CELLS[n % len(CELLS)]
        day = f"2026-03-{1 + n * DAYS // MODEL_SENDS:02d}"
        segments = frozenset(rng.sample(SEGMENTS, rng.choice((0, 1, 1, 2, 3))))
        cell = store.Cell(step, variant, day, rng.choice(STAGES), segments)
        send = f"{n:032x}"
        found = ["sent"]
        if rng.random() < 0.99:
            found.append("delivered")
        if rng.random() < 0.4:
            found.append("opened_machine")
        if rng.random() < 0.33:
            found.append("opened")
            if rng.random() < 0.2:
                found.append("clicked")
                if rng.random() < 0.2:
                    found.append("converted")
                    yield send, "revenue:EUR", cell, Decimal(rng.randrange(1900, 19900)) / 100
        for metric in found:
            yield send, metric, cell, Decimal(1)


def main() -> None:
    from moto import mock_aws

    with mock_aws():
        from chalicelib import catalog, reporting, services, store
        from chalicelib.funnel import tally
        from chalicelib.sequences import load_sequence
        from chalicelib.store.reports import SHARDS
        from local.month import FILE, SEQUENCE

        table = services.table()
        table.create()
        catalog.push(services.versions(), load_sequence(FILE), "2026-01-01T00:00:00.000Z")
        items = []
        for send, metric, cell, amount in marks(random.Random(1)):
            guard = f"revenue#{send}" if metric.startswith("revenue:") else None
            [write] = store.count_once_write(send, metric, SEQUENCE, cell, amount, guard)
            items.append(write["Put"]["Item"])
        table.put_batch(items)
        fetched = {
            f"R#{SEQUENCE}#{shard}": list(_query(table, f"R#{SEQUENCE}#{shard}"))
            for shard in range(SHARDS)
        }
        stored = [item for page in fetched.values() for item in page]
        fetched[f"R#{SEQUENCE}"] = list(_query(table, f"R#{SEQUENCE}"))
        assert len(stored) == len(items)
        scale = TARGET_SENDS / MODEL_SENDS
        stamped = sum(_size(item) for item in stored)
        bare = sum(
            _size({k: v for k, v in item.items() if k not in ("g", "sg")}) for item in stored
        )
        print(
            f"per {TARGET_SENDS:,} sends (measured on {MODEL_SENDS:,}, scaled x{scale:.0f}): "
            f"{len(stored) * scale:,.0f} marks, {stamped * scale / 2**20:,.0f} MiB "
            f"({stamped / len(stored):.0f} bytes a mark; {bare / len(stored):.0f} without the "
            f"stage and segment stamp, which adds {stamped / bare - 1:.0%}); the 8 shard "
            f"queries read {_units(fetched, scale, stamped=True):,.0f} read units eventually "
            f"consistent ({_units(fetched, scale, stamped=False):,.0f} without stamps)"
        )
        sequence, version = catalog.newest_stored(services.versions(), SEQUENCE)
        reports = _Prefetched(table, fetched)
        # moto's copy of the table and the fetched pages stay alive in this process: frozen,
        # the garbage collector does not walk them at every collection the report triggers.
        gc.collect()
        gc.freeze()
        for label, segment, stage in (
            ("whole", None, None),
            ("segment+stage", "hot-leads", "decision"),
        ):
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                counted = tally(reports.counters(SEQUENCE))
                doc = reporting.document(
                    sequence,
                    version.version,
                    version.pushed_at,
                    counted,
                    datetime.now(UTC),
                    segment=segment,
                    stage=stage,
                )
                times.append(time.perf_counter() - started)
            sent = sum(step["sent"] for step in doc["steps"])
            print(
                f"report {label}: {sent * scale:,.0f} of {TARGET_SENDS:,} sends kept; adding the "
                f"marks up and building the report took median "
                f"{statistics.median(times) * 1e3:,.0f} ms (worst {max(times) * 1e3:,.0f} ms) for "
                f"{MODEL_SENDS:,} sends, so about {statistics.median(times) * scale:,.1f} s of "
                f"one core for {TARGET_SENDS:,} (over {RUNS} runs; DynamoDB's page time apart)"
            )


class _Prefetched:
    """`store.Reports` reading partitions fetched once, so only our code is timed."""

    def __new__(cls, table: Any, fetched: dict[str, list[dict[str, Any]]]) -> Any:
        from chalicelib import store

        class Reports(store.Reports):
            def _query(self, pk: str, prefix: str, *, consistent: bool) -> Iterator[dict[str, Any]]:
                return (item for item in fetched[pk] if item["SK"]["S"].startswith(prefix))

        return Reports(table)


def _query(table: Any, pk: str) -> Iterator[dict[str, Any]]:
    pages = table.client.get_paginator("query").paginate(
        TableName=table.name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    for page in pages:
        yield from page["Items"]


def _units(fetched: dict[str, list[dict[str, Any]]], scale: float, *, stamped: bool) -> float:
    """Eventually consistent read units of the shard queries at the target's size: each shard's
    bytes scaled up, in 1 MB pages, half a unit per 4 KB of a page."""
    total = 0.0
    for pk, items in fetched.items():
        if pk.count("#") < 2:  # the sequence's own partition: holdout counts, not marks
            continue
        size = sum(
            _size(item if stamped else {k: v for k, v in item.items() if k not in ("g", "sg")})
            for item in items
        )
        scaled = size * scale
        pages, rest = divmod(scaled, 2**20)
        total += pages * (2**20 / 4096) / 2 + -(-rest // 4096) / 2
    return total


def _size(item: dict[str, dict[str, str]]) -> int:
    """DynamoDB's item size: each attribute's name plus its value."""
    total = 0
    for name, value in item.items():
        kind, raw = next(iter(value.items()))
        number = kind == "N"
        total += len(name) + (
            1 + (len(raw.replace("-", "").replace(".", "")) + 1) // 2
            if number
            else len(str(raw).encode())
        )
    return total


if __name__ == "__main__":
    main()

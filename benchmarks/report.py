"""How long a sequence's report takes for 1,000,000 sends, and what it reads (target: <= 2 s).

The funnel keeps counters per cell (step, A/B variant, UTC day of the send) in 8 shards, so a
report reads one partition whose size depends on steps, variants and days, never on sends.
This stores the counters a 1,000,000-send sequence leaves (4 steps, one with 2 variants, sent
over 30 and over 365 days; every metric, reasons and revenue filled in) on in-process moto,
reads them back as a report does, and prints what DynamoDB would charge for that query (one
read unit per 4 KB, strongly consistent, over 1 MB pages) and the time our code takes to sum
the rows and build the report (intervals, holdout, winner check). The query's own time on
moto is printed too, but moto's response serialisation is far slower than DynamoDB's.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ["NURTURE_TABLE"] = "nurture-bench"
os.environ.pop("AWS_ENDPOINT_URL", None)

SENDS = 1_000_000
RUNS = 5
DAYS_RUN = (30, 365)
CELLS = (("announce", "plain"), ("announce", "curious"), ("reminder", ""), ("last_call", ""))
SHARDS = 8


def counters(days: int) -> dict[tuple[str, str, str], dict[str, Decimal]]:
    """Totals per (step, variant, day) adding up to SENDS sends."""
    rng = random.Random(1)
    per_cell = SENDS // (len(CELLS) * days)
    cells = {}
    for day in range(days):
        stamp = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}"
        for step, variant in CELLS:
            sent = Decimal(per_cell)
            opened = Decimal(int(per_cell * rng.uniform(0.25, 0.4)))
            cells[(step, variant, f"{day // 336}-{stamp}")] = {
                "sent": sent,
                "delivered": sent - 9,
                "opened": opened,
                "opened_machine": Decimal(int(per_cell * 0.4)),
                "clicked": Decimal(int(opened * Decimal("0.2"))),
                "converted": Decimal(int(opened * Decimal("0.04"))),
                "unsubscribed": Decimal(3),
                "unsubscribed:too_many": Decimal(2),
                "unsubscribed:other": Decimal(1),
                "bounced": Decimal(9),
                "complained": Decimal(1),
                "skipped": Decimal(5),
                "skipped:capped": Decimal(5),
                "revenue:EUR": Decimal("1234.50"),
                "revenue:USD": Decimal("99.90"),
            }
    return cells


def main() -> None:
    from moto import mock_aws

    with mock_aws():
        from chalicelib import catalog, reporting, services, store
        from chalicelib.funnel import tally
        from chalicelib.sequences import load_sequence
        from local.month import FILE, SEQUENCE

        table = services.table()
        table.create()
        catalog.push(services.versions(), load_sequence(FILE), "2026-01-01T00:00:00.000Z")
        for days in DAYS_RUN:
            _clear(table, SEQUENCE)
            items = []
            for (step, variant, day), totals in counters(days).items():
                share = {k: v // SHARDS for k, v in totals.items()}
                cell = {store.Cell(step, variant, day): share}
                for shard in range(SHARDS):
                    items += store.settled_items(SEQUENCE, cell, {}, str(shard))
            table.put_batch(items)
            size, pages, units = _read_size(table, SEQUENCE)
            started = time.perf_counter()
            rows = store.Reports(table).counters(SEQUENCE)
            on_moto = time.perf_counter() - started
            sequence, stored = catalog.newest_stored(services.versions(), SEQUENCE)
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                doc = reporting.document(
                    sequence, stored.version, stored.pushed_at, tally(rows), datetime.now(UTC)
                )
                times.append(time.perf_counter() - started)
            sent = sum(step["sent"] for step in doc["steps"])
            print(
                f"report of {sent:,} sends over {days} days: reads {len(rows):,} counter items, "
                f"{size / 1024:,.0f} KB in {pages} query page(s) = {units:,} read units "
                f"(strongly consistent; half that eventually consistent); summing them and "
                f"building the report: median {statistics.median(times) * 1e3:.1f} ms, worst "
                f"{max(times) * 1e3:.1f} ms over {RUNS} runs (the query itself took "
                f"{on_moto:.2f} s on in-process moto, which serialises slowly)"
            )


def _clear(table: object, sequence_id: str) -> None:
    client = table.client  # type: ignore[attr-defined]
    name = table.name  # type: ignore[attr-defined]
    pages = client.get_paginator("query").paginate(
        TableName=name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"R#{sequence_id}"}},
        ProjectionExpression="PK, SK",
    )
    for page in pages:
        for item in page["Items"]:
            client.delete_item(TableName=name, Key=item)


def _read_size(table: object, sequence_id: str) -> tuple[int, int, int]:
    """Bytes of the partition's items (DynamoDB's item size: names plus values), pages of
    1 MB a query returns, and strongly consistent read units (4 KB each, per page)."""
    client = table.client  # type: ignore[attr-defined]
    pages = client.get_paginator("query").paginate(
        TableName=table.name,  # type: ignore[attr-defined]
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"R#{sequence_id}"}},
    )
    total, units, count, page_bytes = 0, 0, 0, 0
    for page in pages:
        for item in page["Items"]:
            size = sum(len(name) + _value_size(value) for name, value in item.items())
            total += size
            page_bytes += size
            if page_bytes >= 1024 * 1024:
                units += -(-page_bytes // 4096)
                count += 1
                page_bytes = 0
    units += -(-page_bytes // 4096)
    return total, count + 1, units


def _value_size(value: dict[str, str]) -> int:
    kind, raw = next(iter(value.items()))
    if kind == "N":
        return 1 + (len(raw.replace("-", "").replace(".", "")) + 1) // 2
    return len(str(raw).encode())


if __name__ == "__main__":
    main()

"""What a sequence's report reads and costs for 1,000,000 sends (target: answered in <= 2 s).

The funnel stores one mark per (send, metric), each stamped with the contact's stage and
segments when sent and indexed by the minute it was written; a job rolls the marks up into
minute totals, and folds those into a sequence's running totals (`chalicelib/rollup.py`); a
report reads those totals and the marks of the last few minutes. This builds the model
(MODEL_SENDS sends, 1,000,000 by default, over 30 days: 4 cells, one step with 2 variants;
delivered, machine and human opens, clicks, conversions with revenue at realistic rates,
engagement spread over the days after the send; every contact with a stage and 0-3 segments),
every mark made by `count_once_write` as the stream makes it, and prints:
- what the rollup writes and reads for it: the marks' index copies, the minute totals and the
  running totals each time the job's rule folds them in (the job's own code encodes them, so
  their sizes are real), in write and read units;
- what a report reads: the running totals stored on in-process moto with the minute totals
  since they were folded and the last minutes' marks, read through `Funnel.counted` and
  `reporting.document`, timed whole and filtered by a segment and a stage: on moto (its own
  serialisation included, far slower than DynamoDB's) and with DynamoDB's answers recorded
  once and replayed (our code alone: DynamoDB's page time apart); and its read units
  (consistent reads: one unit per 4 KB of each 1 MB page; the index's half a unit).
The marks themselves are not read by a report any more; the previous design, which added
them all up at read, took about 64 s of one core for 1,000,000 sends.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import statistics
import sys
import time
import types
from collections import defaultdict
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

MODEL_SENDS = int(os.environ.get("MODEL_SENDS", "1000000"))
RUNS = int(os.environ.get("RUNS", "5"))
DAYS = 30
START = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
CELLS = (("announce", "plain"), ("announce", "curious"), ("reminder", ""), ("last_call", ""))
STAGES = ("awareness", "consideration", "decision", "customer", "advocate")
SEGMENTS = ("pricing-curious", "engaged-buyers", "hot-leads", "gone-quiet", "cold-fits", "vip")


def marks(rng: random.Random, sequence: str) -> Iterator[tuple[float, dict[str, Any]]]:
    """(when written, stored item) of every mark the model's sends leave: the send's own at
    its time, engagement over the following days."""
    from chalicelib import store
    from chalicelib.stamps import minute

    for n in range(MODEL_SENDS):
        step, variant = CELLS[n % len(CELLS)]
        sent_at = START + n * DAYS * 86400 / MODEL_SENDS
        segments = frozenset(rng.sample(SEGMENTS, rng.choice((0, 1, 1, 2, 3))))
        cell = store.Cell(step, variant, minute(sent_at)[:10], rng.choice(STAGES), segments)
        send = f"{n:032x}"
        found = [("sent", sent_at, Decimal(1), None)]
        if rng.random() < 0.99:
            found.append(("delivered", sent_at + 5, Decimal(1), None))
        if rng.random() < 0.4:
            found.append(("opened_machine", sent_at + 60, Decimal(1), None))
        if rng.random() < 0.33:
            opened = sent_at + rng.expovariate(1 / 86400)
            found.append(("opened", opened, Decimal(1), None))
            if rng.random() < 0.2:
                found.append(("clicked", opened + 30, Decimal(1), None))
                if rng.random() < 0.2:
                    value = Decimal(rng.randrange(1900, 19900)) / 100
                    bought = opened + rng.expovariate(1 / 7200)
                    found.append(("converted", bought, Decimal(1), None))
                    found.append(("revenue:EUR", bought, value, f"revenue#{send}"))
        for metric, at, amount, guard in found:
            [write] = store.count_once_write(
                send, metric, sequence, cell, amount, guard, written=minute(at)
            )
            yield at, write["Put"]["Item"]


def main() -> None:
    from moto import mock_aws

    with mock_aws():
        from chalicelib import catalog, reporting, services, store
        from chalicelib.funnel import Funnel
        from chalicelib.rollup import FOLD_SHARE
        from chalicelib.sequences import load_sequence
        from chalicelib.stamps import hour_before, hours_after, minute
        from chalicelib.store.rollups import Progress, Rollups
        from chalicelib.store.tallies import Marks, encoded, merged
        from local.month import FILE, SEQUENCE

        table = services.table()
        table.create()
        catalog.push(services.versions(), load_sequence(FILE), "2026-01-01T00:00:00.000Z")
        now = START + (DAYS + 0.5) * 86400 + 1800
        hour, last = minute(now)[:13], minute(now - 240)
        by_minute: dict[str, Marks] = defaultdict(Marks)
        live = []
        count = index_units = mark_bytes = 0
        for at, item in marks(random.Random(1), SEQUENCE):
            count += 1
            size = _size(item)
            mark_bytes += size
            index_units += -(-size // 1024)
            written = minute(at)
            if at > now:
                continue  # not happened yet
            if written > last:
                live.append(item)
            else:
                by_minute[written].add(item)
        minute_units = minute_bytes = 0
        by_hour: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        for written, found in sorted(by_minute.items()):
            tallied = found.tally()
            texts = encoded(tallied)
            minute_bytes += sum(len(t) for t in texts)
            minute_units += sum(-(-(len(t) + 64) // 1024) for t in texts)
            by_hour[written[:13]].append((sum(len(t) for t in texts), tallied))
        # The job's folding (chalicelib/rollup.py), hour by hour up to the progress's hour.
        progress = Progress(last, hour_before(hour))
        running: dict[Any, Any] = {}
        folded, pending, running_chars, running_units, folds = "", [], 0, 0, 0
        for at in hours_after(hour_before(minute(START)[:13]), progress.hour):
            pending.extend(by_hour.get(at, []))
            due = sum(chars for chars, _ in pending) * FOLD_SHARE >= running_chars
            if pending and (at.endswith("T23") or not folded or due):
                running = merged([running.items(), *(t.items() for _, t in pending)])
                texts = encoded(running)
                running_chars = sum(len(t) for t in texts)
                running_units += sum(-(-(len(t) + 64) // 1024) for t in texts)
                folded, pending, folds = at, [], folds + 1
        rollups = Rollups(table, store.reports.SHARDS)
        rollups.put_running(SEQUENCE, folded, running)
        for written, found in by_minute.items():
            if written[:13] > folded:
                rollups.put_minute(SEQUENCE, written, found.tally())
        table.put_batch(live)
        rollups.advance(progress)
        print(
            f"{MODEL_SENDS:,} sends over {DAYS} days: {count:,} marks "
            f"({mark_bytes / count:.0f} bytes a mark with its index keys); the rollup writes "
            f"{index_units:,} index units (one a mark), {minute_units:,} for "
            f"{len(by_minute):,} minute totals ({minute_bytes / 2**20:,.1f} MiB) and "
            f"{running_units:,} for {folds} running totals (at the end {len(running):,} cells, "
            f"{running_chars / 2**20:,.1f} MiB); it reads {mark_bytes / 4096 / 2:,.0f} index "
            f"units for the marks and about {minute_bytes / 4096:,.0f} for the minute totals"
        )
        stored = list(_query(table, f"RT#{SEQUENCE}"))
        todays = [
            item
            for at in hours_after(folded, progress.minute[:13])
            for item in _query(table, f"RU#{at}")
        ]
        units = _units(stored, 1) + _units(todays, 1) + _units(live, 0.5)
        print(
            f"at {minute(now)} a report reads {len(stored)} items of running totals "
            f"({sum(map(_size, stored)) / 2**20:,.1f} MiB), {len(todays)} minute totals since "
            f"they were folded at {folded}:59 and {len(live):,} marks of the last minutes: "
            f"{units:,.0f} read units "
            f"(${units * 0.25e-6:.5f} on demand at $0.25 per million)"
        )
        sequence, version = catalog.newest_stored(services.versions(), SEQUENCE)
        gc.collect()
        gc.freeze()

        def report(segment: str | None, stage: str | None) -> dict[str, Any]:
            counted = Funnel(table, lambda: now).counted(SEQUENCE)
            return reporting.document(
                sequence,
                version.version,
                version.pushed_at,
                counted,
                datetime.fromtimestamp(now, UTC),
                segment=segment,
                stage=stage,
            )

        replay = _Replay(services.client("dynamodb"))
        for label, segment, stage in (
            ("whole", None, None),
            ("segment+stage", "hot-leads", "decision"),
        ):
            with replay.recording():
                doc = report(segment, stage)
            sent = sum(step["sent"] for step in doc["steps"])
            if label == "whole":
                assert sent == MODEL_SENDS, sent  # every send counted once
            on_moto, alone = [], []
            for _ in range(RUNS):
                started = time.perf_counter()
                report(segment, stage)
                on_moto.append(time.perf_counter() - started)
                with replay.replaying():
                    started = time.perf_counter()
                    assert report(segment, stage) == doc
                    alone.append(time.perf_counter() - started)
            print(
                f"report {label}: {sent:,} sends counted; read and built in median "
                f"{statistics.median(on_moto) * 1e3:,.0f} ms (worst {max(on_moto) * 1e3:,.0f} ms)"
                f" on moto, its serialisation included; our code alone (DynamoDB's answers "
                f"replayed): median {statistics.median(alone) * 1e3:,.0f} ms (worst "
                f"{max(alone) * 1e3:,.0f} ms), over {RUNS} runs"
            )


class _Replay:
    """DynamoDB's answers recorded once, then handed back without calling moto: what is left
    of a report's time is our code's."""

    def __init__(self, client: Any) -> None:
        self.events = client.meta.events
        self.answers: dict[str, Any] = {}

    @staticmethod
    def _key(model: Any, params: dict[str, Any]) -> str:
        return f"{model.name} {json.dumps(params, sort_keys=True, default=str)}"

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        def before(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["replay_key"] = self._key(model, params)

        def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            self.answers[context["replay_key"]] = parsed

        self.events.register("before-call.dynamodb", before, unique_id="replay-before")
        self.events.register("after-call.dynamodb", after, unique_id="replay-after")
        try:
            yield
        finally:
            self.events.unregister("before-call.dynamodb", unique_id="replay-before")
            self.events.unregister("after-call.dynamodb", unique_id="replay-after")

    @contextlib.contextmanager
    def replaying(self) -> Iterator[None]:
        answered = types.SimpleNamespace(status_code=200, headers={})

        def before(model: Any, params: dict[str, Any], **_: Any) -> Any:
            return answered, self.answers[self._key(model, params)]

        self.events.register("before-call.dynamodb", before, unique_id="replay")
        try:
            yield
        finally:
            self.events.unregister("before-call.dynamodb", unique_id="replay")


def _query(table: Any, pk: str) -> Iterator[dict[str, Any]]:
    pages = table.client.get_paginator("query").paginate(
        TableName=table.name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    for page in pages:
        yield from page["Items"]


def _units(items: list[dict[str, Any]], per_4kb: float) -> float:
    """Read units of a query returning `items`: per 1 MB page, `per_4kb` a 4 KB (1 for a
    consistent read, 0.5 for the index)."""
    size = sum(_size(item) for item in items)
    pages, rest = divmod(size, 2**20)
    return pages * (2**20 / 4096) * per_4kb + -(-rest // 4096) * per_4kb


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

"""The funnel's rollup on moto: a report reads running and minute totals and the last marks,
and counts every mark exactly once, whenever the job ran, stopped, crashed or ran twice."""

from __future__ import annotations

import json
import random
import time
from collections import Counter as Tally
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import rollup, services, store
from chalicelib.rollup import GRACE, KEEP_HOURS, RollUp
from chalicelib.stamps import minute, minutes_apart
from chalicelib.store import rollups as stored_rollups
from chalicelib.store.rollups import INDEX_SHARDS, Progress, Rollups
from chalicelib.store.tallies import decoded, encoded

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC).timestamp()
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
STEPS = (("hello", "plain"), ("hello", "curious"), ("nudge", ""))
METRICS = ("sent", "delivered", "opened", "clicked", "opened_machine")

Expected = Tally[tuple[str, str, str, str]]


class Marks:
    """Marks written as the stream writes them, at a moving clock, and what a report owes."""

    def __init__(self, table: store.Table, seed: int = 1) -> None:
        self.table = table
        self.rng = random.Random(seed)
        self.expected: Expected = Tally()
        self.sends = 0

    def write(self, at: float, count: int, sequence: str = "promo") -> None:
        for _ in range(count):
            self.sends += 1
            step, variant = self.rng.choice(STEPS)
            cell = store.Cell(step, variant, minute(at)[:10], "lead", frozenset({"vip"}))
            for metric in self.rng.sample(METRICS, self.rng.randint(1, 3)):
                send = f"s{self.sends}"
                write = store.count_once_write(send, metric, sequence, cell, written=minute(at))
                assert self.table.apply(write)
                assert not self.table.apply(write)  # a redelivered record counts nothing
                self.expected[(sequence, step, variant, metric)] += 1
            if self.rng.random() < 0.2:
                write = store.count_once_write(
                    f"s{self.sends}",
                    "revenue:EUR",
                    sequence,
                    cell,
                    Decimal("19.99"),
                    guard=f"revenue#c{self.sends}",
                    written=minute(at),
                )
                self.table.apply(write)
                self.expected[(sequence, step, variant, "revenue:EUR")] += Decimal("19.99")

    def owed(self, sequence: str = "promo") -> Expected:
        return Tally({k: v for k, v in self.expected.items() if k[0] == sequence})


def reported(table: store.Table, now: float, sequence: str = "promo") -> Expected:
    cells, _ = store.Reports(table).counted(sequence, now)
    found: Expected = Tally()
    for cell, totals in cells.items():
        for metric, value in totals.items():
            found[(sequence, cell.step_id, cell.variant, metric)] += value
    return found


def job(table: store.Table) -> RollUp:
    return RollUp(table, lambda: ["promo", "other"])


@pytest.fixture
def marks(table: store.Table) -> Marks:
    return Marks(table)


def test_reports_stay_exact_while_the_rollup_runs_minute_after_minute_across_midnight(
    table: store.Table, marks: Marks
) -> None:
    now = MIDNIGHT - 2400
    runs = 0
    while now < MIDNIGHT + 2400:
        marks.write(now, marks.rng.randint(0, 3))
        marks.write(now, 1, "other")
        if marks.rng.random() < 0.7:  # the job sometimes misses a minute
            progress = job(table).run(now)
            runs += 1
            assert progress.minute <= minute(now - GRACE - 60)
        assert reported(table, now) == marks.owed()
        assert reported(table, now, "other") == marks.owed("other")
        now += marks.rng.choice((13, 61, 300, 600))
    progress = Rollups(table, store.reports.SHARDS).progress()
    assert progress is not None and progress.hour == "2026-03-01T23"  # the hour rolled up
    assert runs > 5
    items = services.client("dynamodb").scan(TableName=table.name)["Items"]
    hours = {item["SK"]["S"][:13] for item in items if item["PK"]["S"] == "RT#promo"}
    assert max(hours) == "2026-03-01T23"  # running totals up to the end of the hour


def test_a_report_reads_totals_and_the_last_minutes_not_every_mark(
    table: store.Table, marks: Marks
) -> None:
    job(table).run(MIDNIGHT - 1800)
    for step in range(10):
        marks.write(MIDNIGHT - 1800 + step * 300, 10)
    now = MIDNIGHT + 1800
    job(table).run(now)
    marks.write(now - 30, 5)  # not rolled up yet: read from the index
    reads: list[dict[str, Any]] = []
    events = services.client("dynamodb").meta.events

    def seen(params: dict[str, Any], **_: Any) -> None:
        reads.append(params)

    events.register("before-parameter-build.dynamodb.Query", seen, unique_id="reads")
    try:
        assert reported(table, now) == marks.owed()
    finally:
        events.unregister("before-parameter-build.dynamodb.Query", unique_id="reads")
    keys = [str(q["ExpressionAttributeValues"][":pk"]["S"]) for q in reads]
    assert not any(key.startswith("R#promo#") for key in keys)  # no shard of marks read whole
    assert "R#promo" in keys
    assert sum(key.startswith("MW#") for key in keys) <= INDEX_SHARDS * (GRACE // 60 + 3)


def test_a_rollup_stopped_at_any_write_leaves_reports_exact_and_the_next_run_finishes(
    table: store.Table, marks: Marks
) -> None:
    job(table).run(MIDNIGHT - 60)  # the baseline
    for step in range(4):
        marks.write(MIDNIGHT - 120 + step * 60, 2)
    now = MIDNIGHT + 300
    snapshot = _snapshot(table)
    counting = _crashing_at(0)
    with counting:
        job(table).run(now)
    finished = _snapshot(table)
    assert counting.calls >= 6  # minute totals, a day total, progress
    for crash_at in range(1, counting.calls + 1):
        _restore(table, snapshot)
        with _crashing_at(crash_at), pytest.raises(ClientError):
            job(table).run(now)
        assert reported(table, now) == marks.owed(), crash_at
        job(table).run(now)
        assert reported(table, now) == marks.owed(), crash_at
        assert _snapshot(table) == finished, crash_at


def test_marks_from_before_the_index_are_counted_once_in_a_baseline(
    table: store.Table, marks: Marks
) -> None:
    marks.write(T0 - 3 * 86400, 10)
    client = services.client("dynamodb")
    for item in client.scan(TableName=table.name)["Items"]:  # as marks were written before
        client.update_item(
            TableName=table.name,
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression="REMOVE GSI1PK, GSI1SK",
        )
    marks.write(T0 - 100, 4)  # indexed, in a minute the first run closes: in the baseline
    marks.write(T0 + 30, 3)  # after it: rolled up by the minute
    job(table).run(T0)
    assert reported(table, T0 + 60) == marks.owed()
    job(table).run(T0 + 600)
    job(table).run(T0 + 600)
    assert reported(table, T0 + 600) == marks.owed()
    key = {"PK": {"S": "RT#promo"}, "SK": {"S": "2026-03-01T20#0"}}  # the first: 21:56 closed
    assert client.get_item(TableName=table.name, Key=key)["Item"]["n"] == {"N": "1"}


def test_a_report_adds_up_every_mark_when_the_rollup_lags_or_never_ran(
    table: store.Table, marks: Marks
) -> None:
    marks.write(T0, 10)
    assert reported(table, T0) == marks.owed()  # never ran: every mark added up
    job(table).run(T0 + 600)
    marks.write(T0 + 3 * 3600, 10)  # the job stops for three hours
    assert reported(table, T0 + 3 * 3600) == marks.owed()


def test_running_totals_take_in_minutes_once_grown_a_quarter_and_at_each_day_end(
    table: store.Table,
) -> None:
    """`promo` counts as much each hour as its running totals hold: folded every hour, and the
    replaced running totals dropped two hours later. `big` holds far more than its hours add:
    folded only at the day's end. Minute totals go two hours after their day's end."""
    rollups = Rollups(table, store.reports.SHARDS)
    cell = store.Cell("hello", "", "2026-03-01")
    many = {
        store.Cell("hello", "", "2026-02-01", "lead", frozenset({f"s{n}"})): {"sent": Decimal(1)}
        for n in range(40)
    }
    rollups.put_running("promo", "2026-03-01T02", {cell: {"sent": Decimal(2)}})
    rollups.put_running("big", "2026-03-01T02", many)
    for hour in range(3, 8):
        for sequence in ("promo", "big"):
            rollups.put_minute(sequence, f"2026-03-01T0{hour}:30", {cell: {"sent": Decimal(hour)}})
    rollups.advance(Progress("2026-03-01T07:50", "2026-03-01T02"))
    now = datetime(2026, 3, 1, 8, 10, tzinfo=UTC).timestamp()
    owed = 2 + sum(range(3, 8))

    def running_hours(sequence: str) -> list[str]:
        scan = services.client("dynamodb").scan(TableName=table.name)["Items"]
        return sorted({i["SK"]["S"][:13] for i in scan if i["PK"]["S"] == f"RT#{sequence}"})

    def reported_sent(sequence: str, at: float) -> Decimal:
        return store.Reports(table).counted(sequence, at)[0][cell]["sent"]

    for hour in range(3, 8):
        assert job(table).run(now) == Progress("2026-03-01T08:06", f"2026-03-01T0{hour}")
        assert reported_sent("promo", now) == owed
        assert reported_sent("big", now) == owed - 2
    assert running_hours("promo") == [f"2026-03-01T0{h}" for h in range(7 - KEEP_HOURS, 8)]
    assert running_hours("big") == ["2026-03-01T02"]
    # On to the next day: minute totals of the first are read until two hours after it ends.
    rollups.advance(Progress("2026-03-02T03:50", "2026-03-01T07"))
    later = datetime(2026, 3, 2, 6, 10, tzinfo=UTC).timestamp()
    while job(table).run(later).hour < "2026-03-02T05":
        assert reported_sent("promo", later) == owed
        assert reported_sent("big", later) == owed - 2
    assert running_hours("big") == ["2026-03-01T02", "2026-03-01T23"]
    scan = services.client("dynamodb").scan(TableName=table.name)["Items"]
    minute_hours = sorted({i["PK"]["S"] for i in scan if i["PK"]["S"].startswith("RU#")})
    assert minute_hours == [f"RU#2026-03-01T0{h}" for h in range(4, 8)]  # T03 went at 03-02T05
    assert reported_sent("big", later) == owed - 2


def test_progress_never_moves_back(table: store.Table) -> None:
    rollups = Rollups(table, store.reports.SHARDS)
    assert rollups.advance(Progress("2026-03-01T10:00", "2026-03-01T08"))
    assert not rollups.advance(Progress("2026-03-01T09:59", "2026-03-01T08"))
    assert not rollups.advance(Progress("2026-03-01T11:00", "2026-03-01T07"))
    assert rollups.progress() == Progress("2026-03-01T10:00", "2026-03-01T08")


def test_large_totals_are_parts_and_a_part_left_by_a_longer_attempt_is_not_read(
    table: store.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = {
        store.Cell("hello", "", "2026-03-01", "lead", frozenset({f"seg-{n}"})): {"sent": Decimal(n)}
        for n in range(40)
    }
    few = dict(list(many.items())[:3])
    assert len(encoded(many, 200)) > 5 and "".join(encoded(many)).count("seg-") == 40
    monkeypatch.setattr(stored_rollups, "PART_CHARS", 200)
    rollups = Rollups(table, store.reports.SHARDS)
    rollups.put_running("promo", "2026-03-01T10", many)
    assert rollups.running("promo", "2026-03-01T10") == many
    rollups.put_running("promo", "2026-03-01T10", few)
    found = services.client("dynamodb").query(
        TableName=table.name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "RT#promo"}},
    )["Items"]
    assert len(found) > len(encoded(few, 200))  # the longer attempt's parts are still there
    assert rollups.running("promo", "2026-03-01T10") == few
    newest = rollups.newest_running("promo", "2026-03-05T00")
    assert newest == ("2026-03-01T10", sum(map(len, encoded(few, 200))))
    assert rollups.newest_running("promo", "2026-03-01T09") is None
    assert dict(decoded(encoded(few)[0])) == few
    exact = {"revenue:EUR": Decimal("0.10"), "revenue:JPY": Decimal("1E+3"), "x": Decimal("-2.5")}
    [(_, back)] = decoded(encoded({store.Cell("hello"): exact})[0])
    assert {k: str(v) for k, v in back.items()} == {k: str(v) for k, v in exact.items()}


def test_the_lambda_rolls_up_through_the_services(table: store.Table, marks: Marks) -> None:
    import app

    marks.write(T0, 3)
    done = app.roll_up({}, None)
    progress = Rollups(table, store.reports.SHARDS).progress()
    assert progress is not None and done == {"minute": progress.minute, "hour": progress.hour}


def _snapshot(table: store.Table) -> list[dict[str, Any]]:
    items = services.client("dynamodb").scan(TableName=table.name)["Items"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def _restore(table: store.Table, items: list[dict[str, Any]]) -> None:
    current = _snapshot(table)
    table.delete_batch({"PK": i["PK"], "SK": i["SK"]} for i in current)
    table.put_batch(items)


class _crashing_at:
    """The `n`th write to the table fails (the job stops there; stopping at a read is the
    same as stopping at the next write)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0
        self.events = services.client("dynamodb").meta.events

    def _call(self, model: Any, **_: Any) -> None:
        if model.name not in ("PutItem", "BatchWriteItem", "DeleteItem", "UpdateItem"):
            return
        self.calls += 1
        if self.calls == self.n:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "Write")

    def __enter__(self) -> None:
        self.events.register("before-call.dynamodb", self._call, unique_id="crash")

    def __exit__(self, *_: Any) -> None:
        self.events.unregister("before-call.dynamodb", unique_id="crash")


def test_after_an_outage_the_job_catches_up_a_few_minutes_a_run_and_reports_stay_exact(
    table: store.Table, marks: Marks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup, "MINUTES_PER_RUN", 3)
    first = job(table).run(T0)
    for step in range(10):
        marks.write(T0 + step * 60, 2)
    now = T0 + 900
    progress = first
    for _ in range(3):
        progress = job(table).run(now)
        assert reported(table, now) == marks.owed()
    assert minutes_apart(first.minute, progress.minute) == 9
    while progress.minute < minute(now - GRACE - 60):
        progress = job(table).run(now)
    assert reported(table, now) == marks.owed()


def test_the_local_player_runs_the_rollup_once_a_minute(table: store.Table, marks: Marks) -> None:
    import app
    from local.player import Player

    runs: list[dict[str, Any]] = []

    def roll_up(event: dict[str, Any], context: Any) -> dict[str, Any]:
        runs.append(app.roll_up(event, context))
        return runs[-1]

    player = Player(None, None, None, table.name, "g", print, print, on_roll_up=roll_up)
    marks.write(T0, 2)
    assert [player.roll_up(t) for t in (T0, T0 + 30, T0 + 59, T0 + 60)] == [
        True,
        False,
        False,
        True,
    ]
    assert len(runs) == 2 and Rollups(table, store.reports.SHARDS).progress() is not None


PROMO = """
id: promo
name: Promo
default_timezone: UTC
default_locale: en
steps:
  - id: hello
    variants:
      - {id: plain, weight: 1, template: {en: {subject: "Hi", html: "<p>hi</p>"}}}
      - {id: curious, weight: 1, template: {en: {subject: "Hi?", html: "<p>hi?</p>"}}}
  - id: nudge
    delay: 1d
    template:
      en: {subject: "Still there?", html: "<p>nudge</p>"}
"""


def test_a_recount_adds_up_every_mark_whatever_the_rollups_totals(
    table: store.Table, marks: Marks
) -> None:
    """An audit of the rollup: `nurture report --recount` counts the marks themselves, so
    totals gone wrong (here deleted) show up as a difference from the plain report."""
    from click.testing import CliRunner

    from chalicelib import catalog
    from chalicelib.cli import nurture
    from chalicelib.sequences import parse_sequence

    catalog.push(services.versions(), parse_sequence(PROMO), "t")
    marks.write(T0, 30)
    now = time.time()  # the command line reports at the wall clock's time
    job(table).run(now)
    assert reported(table, now) == marks.owed()
    rolled = [i for i in _snapshot(table) if i["PK"]["S"] in ("RT#promo",)]
    assert rolled, "the marks were folded into running totals"
    table.delete_batch({"PK": i["PK"], "SK": i["SK"]} for i in rolled)
    assert reported(table, now) != marks.owed()  # the report trusts the totals
    cells, _ = store.Reports(table).counted("promo", now, recount=True)
    recounted: Expected = Tally()
    for cell, totals in cells.items():
        for metric, value in totals.items():
            recounted[("promo", cell.step_id, cell.variant, metric)] += value
    assert recounted == marks.owed()

    def sent_by_cli(*flags: str) -> dict[str, int]:
        result = CliRunner().invoke(
            nurture, ["report", "--sequence", "promo", "--format", "json", *flags]
        )
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        return {step["step_id"]: step["sent"] for step in doc["steps"]}

    owed = {
        step: sum(v for k, v in marks.owed().items() if k[1] == step and k[3] == "sent")
        for step in ("hello", "nudge")
    }
    assert sent_by_cli("--recount") == owed != sent_by_cli()
    refused = CliRunner().invoke(
        nurture, ["report", "--sequence", "promo", "--by", "stage", "--recount"]
    )
    assert refused.exit_code == 2 and "--recount" in refused.output

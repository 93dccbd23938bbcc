"""The funnel's marks rolled up by the minute and by the day, so a report reads totals.

Every mark (`reports.count_once_write`) is also in the index (GSI1) under the minute it was
written: `MW#{minute}#{shard}` / `R#{sequence}#{shard}#U#...`. The rollup job
(`chalicelib/rollup.py`) adds up each closed minute's marks into one item per sequence
(`RU#{day}` / `{sequence}#{minute}#{part}`); when a day closes, each sequence's running totals
of the day before plus its minute totals of the day become its running totals of the day
(`RT#{sequence}` / `{day}#{part}`: everything counted up to that day's end). The progress item
(`RU` / `PROGRESS`) says how far both have gone, and a report reads:
- the sequence's newest running totals up to the progress's `day`;
- minute totals after that day, up to its `minute`;
- the marks written after that minute, from the index.
So a report reads one set of running totals, however old the sequence, and each mark is
counted exactly once wherever a crashed or concurrent job stopped: progress moves only after
the totals it covers are stored, and totals stored again are the same.

Totals are JSON text (`store/tallies.py`) split into parts; part 0 is written last and says
how many parts there are, so a part left over by an earlier, longer attempt is never read.
Marks written before marks were indexed are added up once, when the job first runs, into each
sequence's first running totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.stamps import days_after, minutes_after
from chalicelib.store.items import _key, _value
from chalicelib.store.table import Table
from chalicelib.store.tallies import (
    PART_CHARS,
    Cell,
    Marks,
    Tally,
    Totals,
    decoded,
    encoded,
    merged,
)

INDEX = "GSI1"
INDEX_SHARDS = 4
"""Index partitions per minute: 4,000 marks a second before the index throttles writes."""
MARK = "U#"
_PROGRESS = _key("RU", "PROGRESS")


@dataclass(frozen=True)
class Progress:
    """Every mark written up to `minute` is in minute totals (or the baseline), and every day
    up to `day` in day totals (or the baseline)."""

    minute: str
    day: str


def mark_index(pk: str, sk: str, minute: str, shard: int) -> dict[str, Any]:
    """The index attributes of a mark written in `minute` (its `shard` spreads a busy minute)."""
    return {
        "GSI1PK": {"S": f"MW#{minute}#{shard % INDEX_SHARDS}"},
        "GSI1SK": {"S": f"{pk}#{sk}"},
    }


def sequence_of(mark: Mapping[str, Any]) -> str:
    """The sequence of a stored mark (`R#{sequence}#{shard}`)."""
    return str(mark["PK"]["S"])[2:].rpartition("#")[0]


class Rollups:
    def __init__(self, table: Table, shards: int) -> None:
        self.table = table
        self.client = table.client
        self.shards = shards

    def progress(self) -> Progress | None:
        found = self.client.get_item(TableName=self.table.name, Key=_PROGRESS, ConsistentRead=True)
        item = found.get("Item")
        return Progress(item["minute"]["S"], item["day"]["S"]) if item else None

    def advance(self, progress: Progress) -> bool:
        """Store `progress`, unless a run already went further (False)."""
        try:
            self.client.put_item(
                TableName=self.table.name,
                Item={**_PROGRESS, "minute": _value(progress.minute), "day": _value(progress.day)},
                ConditionExpression="attribute_not_exists(PK) OR (#m <= :m AND #d <= :d)",
                ExpressionAttributeNames={"#m": "minute", "#d": "day"},
                ExpressionAttributeValues={
                    ":m": _value(progress.minute),
                    ":d": _value(progress.day),
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def written(self, minute: str, sequence_id: str | None = None) -> Iterator[dict[str, Any]]:
        """The marks written in `minute` (of one sequence, or of all), from the index."""
        for shard in range(INDEX_SHARDS):
            condition = "GSI1PK = :pk"
            values = {":pk": _value(f"MW#{minute}#{shard}")}
            if sequence_id is not None:
                condition += " AND begins_with(GSI1SK, :sequence)"
                values[":sequence"] = _value(f"R#{sequence_id}#")
            yield from self._query(condition, values, index=True)

    def unindexed(self, sequence_id: str, through: str) -> Iterator[dict[str, Any]]:
        """The sequence's marks that no minute total will hold: those written before marks were
        indexed, and those indexed up to the minute `through`."""
        upper = f"MW#{through}#~"
        for shard in range(self.shards):
            values = {":pk": _value(f"R#{sequence_id}#{shard}"), ":mark": _value(MARK)}
            for item in self._query("PK = :pk AND begins_with(SK, :mark)", values):
                if "GSI1PK" not in item or item["GSI1PK"]["S"] <= upper:
                    yield item

    def put_minute(self, sequence_id: str, minute: str, tally: Tally) -> None:
        self._put(f"RU#{minute[:10]}", f"{sequence_id}#{minute}#", tally)

    def put_running(self, sequence_id: str, day: str, tally: Tally) -> None:
        """Everything the sequence counted up to the end of `day`."""
        self._put(f"RT#{sequence_id}", f"{day}#", tally)

    def running(self, sequence_id: str, through: str) -> Tally:
        """The sequence's newest running totals of a day up to `through` (none: empty)."""
        newest = self.client.query(
            TableName=self.table.name,
            KeyConditionExpression="PK = :pk AND SK < :upper",
            ExpressionAttributeValues={
                ":pk": _value(f"RT#{sequence_id}"),
                ":upper": _value(f"{through}#~"),
            },
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        if not newest:
            return {}
        day = newest[0]["SK"]["S"].partition("#")[0]
        values = {":pk": _value(f"RT#{sequence_id}"), ":day": _value(f"{day}#")}
        return dict(_cells(self._query("PK = :pk AND begins_with(SK, :day)", values)))

    def drop_running(self, sequence_id: str, before: str) -> None:
        """Delete the sequence's running totals of days before `before` (newer ones hold
        everything they held)."""
        values = {":pk": _value(f"RT#{sequence_id}"), ":upper": _value(f"{before}#")}
        found = self._query("PK = :pk AND SK < :upper", values)
        self.table.delete_batch({"PK": item["PK"], "SK": item["SK"]} for item in found)

    def minute_totals(
        self, day: str, sequence_id: str | None = None, through: str = "~"
    ) -> Iterator[tuple[str, Iterator[tuple[Cell, Totals]]]]:
        """(sequence, cells and totals) of each minute total of `day` up to the minute
        `through` (of one sequence, or of all)."""
        values = {":pk": _value(f"RU#{day}")}
        condition = "PK = :pk"
        if sequence_id is not None:
            condition += " AND begins_with(SK, :sequence)"
            values[":sequence"] = _value(f"{sequence_id}#")
        parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for item in self._query(condition, values):
            sequence, minute, _ = item["SK"]["S"].rsplit("#", 2)
            if minute <= through:
                parts[(sequence, minute)].append(item)
        for (sequence, _), items in parts.items():
            yield sequence, _cells(items)

    def drop_minutes(self, day: str) -> None:
        """Delete the minute totals of `day` (once its day totals are read instead)."""
        found = self._query("PK = :pk", {":pk": _value(f"RU#{day}")})
        self.table.delete_batch({"PK": item["PK"], "SK": item["SK"]} for item in found)

    def counted(self, sequence_id: str, progress: Progress, now_minute: str) -> Tally:
        """Everything the sequence counted: its running totals up to the progress's day, the
        minute totals after that day up to its minute, then the marks written since, up to the
        minute after `now_minute` (a writer's clock may run a little ahead)."""
        tallies: list[Iterable[tuple[Cell, Totals]]] = [
            self.running(sequence_id, progress.day).items()
        ]
        for day in days_after(progress.day, progress.minute[:10]):
            tallies.extend(
                cells for _, cells in self.minute_totals(day, sequence_id, progress.minute)
            )
        marks = Marks()
        for minute in minutes_after(progress.minute, _next_minute(now_minute)):
            for item in self.written(minute, sequence_id):
                marks.add(item)
        return merged([*tallies, marks.tally().items()])

    def _put(self, pk: str, prefix: str, tally: Tally) -> None:
        """The tally's parts under `prefix`; part 0, naming how many there are, last."""
        texts = encoded(tally, PART_CHARS) or ["[]"]
        items = [{**_key(pk, f"{prefix}{n}"), "t": _value(text)} for n, text in enumerate(texts)]
        items[0]["n"] = _value(len(texts))
        self.table.put_batch(items[1:])
        self.table.put_batch(items[:1])

    def _query(
        self, condition: str, values: Mapping[str, Any], *, index: bool = False
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dict(values),
        }
        if index:
            params["IndexName"] = INDEX
        else:
            params["ConsistentRead"] = True
        for page in self.client.get_paginator("query").paginate(**params):
            yield from page["Items"]


def _next_minute(minute: str) -> str:
    return next(minutes_after(minute, "~"))


def _cells(items: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Cell, Totals]]:
    """The cells of one stored total: its parts up to the count part 0 names (none without
    part 0: an attempt that stopped before writing it)."""
    by_part = {int(item["SK"]["S"].rpartition("#")[2]): item for item in items}
    first = by_part.get(0)
    if first is None:
        return
    for n in range(int(first["n"]["N"])):
        part = by_part.get(n)
        if part is not None:
            yield from decoded(part["t"]["S"])

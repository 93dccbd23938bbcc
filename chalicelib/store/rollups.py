"""The funnel's marks rolled up by the minute and by the hour, so a report reads totals.

Every mark (`reports.count_once_write`) is also in the index (GSI1) under the minute it was
written: `MW#{minute}#{shard}` / `R#{sequence}#{shard}#U#...`. The rollup job
(`chalicelib/rollup.py`) adds up each closed minute's marks into one item per sequence
(`RU#{hour}` / `{sequence}#{minute}#{part}`); at the close of some hours (when its minute
totals have grown enough, and at each UTC day's end), a sequence's running totals plus its
minute totals since become its running totals of that hour (`RT#{sequence}` / `{hour}#{part}`:
everything counted up to that hour's end). The progress item (`RU` / `PROGRESS`) says how far
both have gone, and a report reads:
- the sequence's newest running totals up to the progress's `hour`;
- its minute totals after those (all within the current UTC day) up to the progress's
  `minute`;
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

from chalicelib.stamps import day_before, hours_after, minutes_after
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
    """Every mark written up to `minute` is in minute totals or running totals, and every
    minute total up to the end of `hour` in running totals."""

    minute: str
    hour: str


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
        return Progress(item["minute"]["S"], item["hour"]["S"]) if item else None

    def advance(self, progress: Progress) -> bool:
        """Store `progress`, unless a run already went further (False)."""
        try:
            self.client.put_item(
                TableName=self.table.name,
                Item={
                    **_PROGRESS,
                    "minute": _value(progress.minute),
                    "hour": _value(progress.hour),
                },
                ConditionExpression="attribute_not_exists(PK) OR (#m <= :m AND #h <= :h)",
                ExpressionAttributeNames={"#m": "minute", "#h": "hour"},
                ExpressionAttributeValues={
                    ":m": _value(progress.minute),
                    ":h": _value(progress.hour),
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

    def marks(self, sequence_id: str, *, consistent: bool) -> Iterator[dict[str, Any]]:
        """Every mark of the sequence, shard after shard."""
        for shard in range(self.shards):
            values = {":pk": _value(f"R#{sequence_id}#{shard}"), ":mark": _value(MARK)}
            condition = "PK = :pk AND begins_with(SK, :mark)"
            yield from self._query(condition, values, consistent=consistent)

    def unindexed(self, sequence_id: str, through: str) -> Iterator[dict[str, Any]]:
        """The sequence's marks that no minute total will hold: those written before marks were
        indexed, and those indexed up to the minute `through`."""
        upper = f"MW#{through}#~"
        for item in self.marks(sequence_id, consistent=True):
            if "GSI1PK" not in item or item["GSI1PK"]["S"] <= upper:
                yield item

    def put_minute(self, sequence_id: str, minute: str, tally: Tally) -> None:
        self._put(f"RU#{minute[:13]}", f"{sequence_id}#{minute}#", tally)

    def put_running(self, sequence_id: str, hour: str, tally: Tally) -> None:
        """Everything the sequence counted up to the end of `hour`."""
        self._put(f"RT#{sequence_id}", f"{hour}#", tally)

    def newest_running(self, sequence_id: str, through: str) -> tuple[str, int] | None:
        """The hour of the sequence's newest running totals up to the hour `through`, and
        their size in characters (None: it has none)."""
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
            return None
        hour = newest[0]["SK"]["S"].partition("#")[0]
        first = self.client.get_item(
            TableName=self.table.name,
            Key=_key(f"RT#{sequence_id}", f"{hour}#0"),
            ConsistentRead=True,
            ProjectionExpression="b",
        )
        return hour, int(first["Item"]["b"]["N"])

    def running(self, sequence_id: str, hour: str) -> Tally:
        """The sequence's running totals of `hour`."""
        values = {":pk": _value(f"RT#{sequence_id}"), ":hour": _value(f"{hour}#")}
        return dict(_cells(self._query("PK = :pk AND begins_with(SK, :hour)", values)))

    def drop_running(self, sequence_id: str, kept_after: str) -> None:
        """Delete the sequence's running totals that newer ones of an hour up to `kept_after`
        replace (those after `kept_after`, and the newest before, stay)."""
        values = {":pk": _value(f"RT#{sequence_id}"), ":upper": _value(f"{kept_after}#~")}
        found = list(self._query("PK = :pk AND SK < :upper", values))
        newest = max((item["SK"]["S"].partition("#")[0] for item in found), default="")
        self.table.delete_batch(
            {"PK": item["PK"], "SK": item["SK"]}
            for item in found
            if item["SK"]["S"].partition("#")[0] < newest
        )

    def minute_totals(
        self, hour: str, sequence_id: str | None = None, through: str = "~"
    ) -> Iterator[tuple[str, int, Iterator[tuple[Cell, Totals]]]]:
        """(sequence, size in characters, cells and totals) of each minute total of `hour` up
        to the minute `through` (of one sequence, or of all)."""
        values = {":pk": _value(f"RU#{hour}")}
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
            yield sequence, sum(len(item["t"]["S"]) for item in items), _cells(items)

    def drop_minutes(self, hour: str) -> None:
        """Delete the minute totals of `hour` (once running totals hold them)."""
        found = self._query("PK = :pk", {":pk": _value(f"RU#{hour}")})
        self.table.delete_batch({"PK": item["PK"], "SK": item["SK"]} for item in found)

    def counted(self, sequence_id: str, progress: Progress, now_minute: str) -> Tally:
        """Everything the sequence counted: its newest running totals up to the progress's
        hour, the minute totals after them up to its minute, then the marks written since, up
        to the minute after `now_minute` (a writer's clock may run a little ahead)."""
        newest = self.newest_running(sequence_id, progress.hour)
        tallies: list[Iterable[tuple[Cell, Totals]]] = []
        if newest is not None:
            tallies.append(self.running(sequence_id, newest[0]).items())
        # Every sequence's minute totals up to the last day's end are in running totals.
        start = max(newest[0] if newest else "", last_day_end(progress.hour))
        for hour in hours_after(start, progress.minute[:13]):
            found = self.minute_totals(hour, sequence_id, progress.minute)
            tallies.extend(cells for _, _, cells in found)
        marks = Marks()
        for minute in minutes_after(progress.minute, _next_minute(now_minute)):
            for item in self.written(minute, sequence_id):
                marks.add(item)
        return merged([*tallies, marks.tally().items()])

    def _put(self, pk: str, prefix: str, tally: Tally) -> None:
        """The tally's parts under `prefix`; part 0, naming how many there are and their size
        in characters, last."""
        texts = encoded(tally, PART_CHARS) or ["[]"]
        items = [{**_key(pk, f"{prefix}{n}"), "t": _value(text)} for n, text in enumerate(texts)]
        items[0]["n"] = _value(len(texts))
        items[0]["b"] = _value(sum(len(text) for text in texts))
        self.table.put_batch(items[1:])
        self.table.put_batch(items[:1])

    def _query(
        self,
        condition: str,
        values: Mapping[str, Any],
        *,
        index: bool = False,
        consistent: bool = True,
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dict(values),
        }
        if index:
            params["IndexName"] = INDEX  # an index is read eventually consistent only
        elif consistent:
            params["ConsistentRead"] = True
        for page in self.client.get_paginator("query").paginate(**params):
            yield from page["Items"]


def last_day_end(hour: str) -> str:
    """The last hour of the last UTC day that ended by the end of `hour` (itself, at 23)."""
    return hour if hour.endswith("T23") else f"{day_before(hour[:10])}T23"


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

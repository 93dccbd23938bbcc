"""Funnel counts: per sequence and cell (step, A/B variant, day of the send); each send counted
once per metric, each conversion's revenue once, each contact once per holdout group.

A send reaching a metric is one mark (`R#{sequence}#{shard}` / `U#{metric or guard}#{send}`,
holding its cell and amount, and the contact's stage and segments as stamped on the send, so
a report can keep the sends to a segment or stage as they were when sent): one conditional
PutItem, one write unit and no transaction (a guard item and a counter increment in a
transaction cost four). A redelivered stream record finds its mark there and counts nothing
twice. Marks are spread over SHARDS partitions by send, so a large send does not make one
partition hot. Each mark is also indexed by the minute it was written, and a job rolls the
marks up into minute and day totals (`store/rollups.py`): a report reads those totals and only
the marks of the last minutes, not every mark (what that costs: `benchmarks/report.py`).

A sequence's holdout is counted per contact: the contact's membership (`C#{contact}` /
`X#{sequence}`, naming its group, when it enrolled and until when its conversions count) is
written with its cohort's `enrolled` count, marked converted with its cohort's `converted`
count, and each conversion's revenue (once per conversion id) is added to its cohort's
`revenue:{currency}`. A cohort is a group's contacts enrolled on one UTC day
(`R#{sequence}` / `H#{group}#{day}#{shard}`), so a report can narrow the comparison to
enrolments in a date range; counts written before days were kept (`H#{group}#{shard}`) have
no day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.stamps import minute, minutes_apart
from chalicelib.store.items import Write, _key, _plain, _value
from chalicelib.store.rollups import MARK, Rollups, mark_index
from chalicelib.store.sends import SEGMENTS_SEPARATOR
from chalicelib.store.table import Table
from chalicelib.store.tallies import Cell, Marks, Tally, Totals, merged

SHARDS = 8
LIVE_MINUTES = 120
"""How far behind the rollup may be for a report to add up the marks written since from the
index; further behind (the job stopped), a report adds up every mark instead."""


@dataclass(frozen=True)
class Cohort:
    """A holdout group's contacts enrolled on one UTC day (`""`: counted before days were)."""

    group: str
    day: str = ""


@dataclass(frozen=True)
class Membership:
    """A contact's place in a sequence's holdout: its group, when it enrolled, and the last
    instant a conversion counts (None for memberships written before windows were kept)."""

    sequence_id: str
    group: str
    enrolled_at: str
    until: str | None

    @property
    def cohort(self) -> Cohort:
        return Cohort(self.group, self.enrolled_at[:10] if self.until else "")


def _shard(ident: str) -> int:
    return int(hashlib.sha256(ident.encode()).hexdigest()[:4], 16) % SHARDS


def count_once_write(
    send_id: str,
    metric: str,
    sequence_id: str,
    cell: Cell,
    amount: Decimal | int = 1,
    guard: str | None = None,
    *,
    written: str,
) -> Write:
    """Add `amount` to `metric` of the cell once per (send, `guard` or the metric); the mark
    is indexed under the minute it is `written` (`stamps.minute`) for the rollup."""
    shard = _shard(send_id)
    pk, sk = f"R#{sequence_id}#{shard}", f"{MARK}{guard or metric}#{send_id}"
    item = {
        **_key(pk, sk),
        **mark_index(pk, sk, written, shard),
        "m": _value(metric),
        "s": _value(cell.step_id),
        "v": _value(cell.variant),
        "d": _value(cell.day),
    }
    if cell.stage is not None:  # stamped (`""`: no stage); no `sg`: in no segment
        item["g"] = _value(cell.stage)
    if cell.stage is not None and cell.segments:
        item["sg"] = _value(SEGMENTS_SEPARATOR.join(sorted(cell.segments)))
    if amount != 1:
        item["a"] = _value(amount)
    return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]


def holdout_enrolled_write(
    contact_id: str, sequence_id: str, group: str, at: str, until: str
) -> Write:
    """The contact joins `group` (`treated` or `held`) of the sequence's holdout, once; its
    conversions count from `at` to `until`."""
    membership = Membership(sequence_id, group, at, until)
    return [
        {
            "Put": {
                "Item": {
                    **_key(f"C#{contact_id}", f"X#{sequence_id}"),
                    "sequence_id": _value(sequence_id),
                    "group": _value(group),
                    "enrolled_at": _value(at),
                    "until": _value(until),
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        _cohort_add(contact_id, sequence_id, membership.cohort, "enrolled"),
    ]


def holdout_converted_write(contact_id: str, membership: Membership, at: str) -> Write:
    """The contact's first conversion in its holdout window."""
    return [
        {
            "Update": {
                "Key": _key(f"C#{contact_id}", f"X#{membership.sequence_id}"),
                "UpdateExpression": "SET converted_at = :at",
                "ConditionExpression": (
                    "attribute_exists(PK) AND attribute_not_exists(converted_at)"
                ),
                "ExpressionAttributeValues": {":at": _value(at)},
            }
        },
        _cohort_add(contact_id, membership.sequence_id, membership.cohort, "converted"),
    ]


def holdout_revenue_write(
    contact_id: str, membership: Membership, conversion_id: str, currency: str, amount: Decimal
) -> Write:
    """A conversion's value in the holdout window, added to its cohort's revenue once per
    conversion id (the ids counted are kept on the membership)."""
    return [
        {
            "Update": {
                "Key": _key(f"C#{contact_id}", f"X#{membership.sequence_id}"),
                "UpdateExpression": "ADD revenue_ids :ids",
                "ConditionExpression": "attribute_exists(PK) AND NOT contains(revenue_ids, :id)",
                "ExpressionAttributeValues": {
                    ":ids": {"SS": [conversion_id]},
                    ":id": _value(conversion_id),
                },
            }
        },
        _cohort_add(
            contact_id, membership.sequence_id, membership.cohort, f"revenue:{currency}", amount
        ),
    ]


def _cohort_add(
    contact_id: str, sequence_id: str, cohort: Cohort, metric: str, amount: Decimal | int = 1
) -> dict[str, Any]:
    day = f"{cohort.day}#" if cohort.day else ""
    return {
        "Update": {
            "Key": _key(f"R#{sequence_id}", f"H#{cohort.group}#{day}{_shard(contact_id)}"),
            "UpdateExpression": "ADD #metric :amount SET #group = :group, #day = :day",
            "ExpressionAttributeNames": {"#metric": metric, "#group": "group", "#day": "day"},
            "ExpressionAttributeValues": {
                ":amount": _value(amount),
                ":group": _value(cohort.group),
                ":day": _value(cohort.day),
            },
        }
    }


def settled_items(
    sequence_id: str,
    cells: Mapping[Cell, Mapping[str, Decimal]],
    cohorts: Mapping[Cohort, Mapping[str, Decimal]],
    origin: str,
) -> list[dict[str, Any]]:
    """Counter rows holding totals counted elsewhere (a simulated history), one per cell and
    cohort under their own `origin` suffix: writing them again replaces them, and the stream's
    own counting, in shards 0-7, is never touched."""
    items = []
    for cell, totals in cells.items():
        key = _key(f"R#{sequence_id}", f"N#{cell.step_id}#{cell.variant}#{cell.day}#{origin}")
        fields = {"step_id": cell.step_id, "variant": cell.variant, "day": cell.day}
        items.append({**key, **_attrs({**fields, **totals})})
    for cohort, totals in cohorts.items():
        key = _key(f"R#{sequence_id}", f"H#{cohort.group}#{cohort.day}#{origin}")
        items.append({**key, **_attrs({"group": cohort.group, "day": cohort.day, **totals})})
    return items


def _attrs(values: Mapping[str, str | Decimal]) -> dict[str, Any]:
    return {name: _value(value) for name, value in values.items()}


class Reports:
    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table
        self.rollups = Rollups(table, SHARDS)

    def counted(
        self, sequence_id: str, now: float, recount: bool = False
    ) -> tuple[Tally, dict[Cohort, Totals]]:
        """Everything counted for the sequence at `now`: totals per cell, and per holdout
        cohort. Marks are read as the rollup left them (`store/rollups.py`), or all added up
        when it has not run or lags behind, or when asked to `recount` (an audit of the
        rollup); counters written before marks are added in."""
        progress = None if recount else self.rollups.progress()
        if progress is not None and minutes_apart(progress.minute, minute(now)) > LIVE_MINUTES:
            progress = None
        counters: list[tuple[Cell, Totals]] = []
        cohorts: list[tuple[Cohort, Totals]] = []
        for item in self._partition(f"R#{sequence_id}"):
            sk = item["SK"]["S"]
            row: dict[str, Any] = _plain(item)
            row.pop("SK")
            row.pop("PK")
            if sk.startswith("H#"):
                cohort = Cohort(str(row.pop("group")), str(row.pop("day", "")))
                cohorts.append((cohort, _totals(row)))
            elif sk.startswith("N#"):  # a counter written before marks: still counted
                cell = Cell(
                    str(row.pop("step_id")), str(row.pop("variant", "")), str(row.pop("day", ""))
                )
                counters.append((cell, _totals(row)))
        if progress is None:
            marks = Marks()
            for item in self.rollups.marks(sequence_id, consistent=False):
                marks.add(item)
            cells = marks.tally()
        else:
            cells = self.rollups.counted(sequence_id, progress, minute(now))
        if counters:
            cells = merged([cells.items(), counters])
        return cells, merged([cohorts])

    def _partition(self, pk: str) -> Iterator[dict[str, Any]]:
        """Every item of the partition `pk`, read consistently."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(pk)},
            ConsistentRead=True,
        )
        for page in pages:
            yield from page["Items"]

    def memberships(self, contact_id: str) -> list[Membership]:
        """The contact's place in each sequence's holdout it joined."""
        found = self.client.query(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :x)",
            ExpressionAttributeValues={":pk": _value(f"C#{contact_id}"), ":x": _value("X#")},
            ConsistentRead=True,
        )
        rows = [_plain(item) for item in found["Items"]]
        return [
            Membership(
                str(row["sequence_id"]),
                str(row["group"]),
                str(row.get("enrolled_at", "")),
                str(row["until"]) if row.get("until") else None,
            )
            for row in rows
        ]


def _totals(row: dict[str, Any]) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in row.items()}

"""Funnel counters: per sequence and cell (step, A/B variant, day of the send), sharded; each
send counted once per metric, each conversion's revenue once, each contact once per holdout
group.

A guard item under the send (`S#{send}` / `U#{metric}`) and the counter increment are one
transaction, so a redelivered stream record never counts twice. Counters are spread over
shards so a large send does not make one partition hot; a report sums the shards. A report
reads one partition whose size grows with steps, variants, days and shards, never with sends.

A sequence's holdout is counted per contact: the contact's membership (`C#{contact}` /
`X#{sequence}`, naming its group) is written with its group's `enrolled` count, and marked
converted with its group's `converted` count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.store.items import Write, _key, _plain, _value
from chalicelib.store.table import Table

SHARDS = 8


@dataclass(frozen=True)
class Cell:
    """Where a send's counts go: its step, A/B variant (`""` without) and UTC day."""

    step_id: str
    variant: str = ""
    day: str = ""


@dataclass(frozen=True)
class Counter:
    """One stored counter row: its cell (or holdout `group`) and metric totals."""

    cell: Cell | None
    group: str | None
    totals: dict[str, Decimal]


def _shard(ident: str) -> int:
    return int(hashlib.sha256(ident.encode()).hexdigest()[:4], 16) % SHARDS


def count_once_write(
    send_id: str,
    metric: str,
    sequence_id: str,
    cell: Cell,
    amount: Decimal | int = 1,
    guard: str | None = None,
) -> Write:
    """Add `amount` to `metric` of the cell once per (send, `guard` or the metric)."""
    return [
        {
            "Put": {
                "Item": _key(f"S#{send_id}", f"U#{guard or metric}"),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        {
            "Update": {
                "Key": _key(
                    f"R#{sequence_id}",
                    f"N#{cell.step_id}#{cell.variant}#{cell.day}#{_shard(send_id)}",
                ),
                "UpdateExpression": (
                    "ADD #metric :amount SET step_id = :step, variant = :variant, #day = :day"
                ),
                "ExpressionAttributeNames": {"#metric": metric, "#day": "day"},
                "ExpressionAttributeValues": {
                    ":amount": _value(amount),
                    ":step": _value(cell.step_id),
                    ":variant": _value(cell.variant),
                    ":day": _value(cell.day),
                },
            }
        },
    ]


def holdout_enrolled_write(contact_id: str, sequence_id: str, group: str, at: str) -> Write:
    """The contact joins `group` (`treated` or `held`) of the sequence's holdout, once."""
    return [
        {
            "Put": {
                "Item": {
                    **_key(f"C#{contact_id}", f"X#{sequence_id}"),
                    "sequence_id": _value(sequence_id),
                    "group": _value(group),
                    "enrolled_at": _value(at),
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        _group_add(contact_id, sequence_id, group, "enrolled"),
    ]


def holdout_converted_write(contact_id: str, sequence_id: str, group: str, at: str) -> Write:
    """The contact's first conversion since joining the sequence's holdout `group`."""
    return [
        {
            "Update": {
                "Key": _key(f"C#{contact_id}", f"X#{sequence_id}"),
                "UpdateExpression": "SET converted_at = :at",
                "ConditionExpression": (
                    "attribute_exists(PK) AND attribute_not_exists(converted_at)"
                ),
                "ExpressionAttributeValues": {":at": _value(at)},
            }
        },
        _group_add(contact_id, sequence_id, group, "converted"),
    ]


def _group_add(contact_id: str, sequence_id: str, group: str, metric: str) -> dict[str, Any]:
    return {
        "Update": {
            "Key": _key(f"R#{sequence_id}", f"H#{group}#{_shard(contact_id)}"),
            "UpdateExpression": "ADD #metric :one SET #group = :group",
            "ExpressionAttributeNames": {"#metric": metric, "#group": "group"},
            "ExpressionAttributeValues": {":one": _value(1), ":group": _value(group)},
        }
    }


def settled_items(
    sequence_id: str,
    cells: Mapping[Cell, Mapping[str, Decimal]],
    groups: Mapping[str, Mapping[str, Decimal]],
    origin: str,
) -> list[dict[str, Any]]:
    """Counter rows holding totals counted elsewhere (a simulated history), one per cell and
    group under their own `origin` suffix: writing them again replaces them, and the stream's
    own counting, in shards 0-7, is never touched."""
    items = []
    for cell, totals in cells.items():
        key = _key(f"R#{sequence_id}", f"N#{cell.step_id}#{cell.variant}#{cell.day}#{origin}")
        fields = {"step_id": cell.step_id, "variant": cell.variant, "day": cell.day}
        items.append({**key, **_attrs({**fields, **totals})})
    for group, totals in groups.items():
        key = _key(f"R#{sequence_id}", f"H#{group}#{origin}")
        items.append({**key, **_attrs({"group": group, **totals})})
    return items


def _attrs(values: Mapping[str, str | Decimal]) -> dict[str, Any]:
    return {name: _value(value) for name, value in values.items()}


class Reports:
    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def counters(self, sequence_id: str) -> list[Counter]:
        """Every counter row of the sequence (shards apart; the caller sums them)."""
        rows = []
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(f"R#{sequence_id}")},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                row: dict[str, Any] = _plain(item)
                sk = str(row.pop("SK"))
                row.pop("PK")
                if sk.startswith("H#"):
                    group = str(row.pop("group"))
                    rows.append(Counter(None, group, _totals(row)))
                elif sk.startswith("N#"):
                    cell = Cell(
                        str(row.pop("step_id")),
                        str(row.pop("variant", "")),
                        str(row.pop("day", "")),
                    )
                    rows.append(Counter(cell, None, _totals(row)))
        return rows

    def holdout_groups(self, contact_id: str) -> dict[str, str]:
        """The holdout group the contact joined in each sequence (sequence id → group)."""
        found = self.client.query(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :x)",
            ExpressionAttributeValues={":pk": _value(f"C#{contact_id}"), ":x": _value("X#")},
            ConsistentRead=True,
        )
        rows = [_plain(item) for item in found["Items"]]
        return {str(row["sequence_id"]): str(row["group"]) for row in rows}


def _totals(row: dict[str, Any]) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in row.items()}

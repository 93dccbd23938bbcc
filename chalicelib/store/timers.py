"""Timers: due buckets by UTC minute; one Scheduler schedule per minute, not per contact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.store.items import _key, _plain, _value
from chalicelib.store.table import Table


@dataclass(frozen=True)
class Timer:
    """Something to do for one enrollment at a UTC minute: `send` a step or check a `deadline`."""

    due: str
    contact_id: str
    sequence_id: str
    run: int
    seq: int
    kind: str
    step_id: str
    branch: str = ""

    @property
    def key(self) -> dict[str, Any]:
        what = f"{self.kind}#{self.branch or self.step_id}"
        sk = f"{self.contact_id}#{self.sequence_id}#{self.run}#{self.seq}#{what}"
        return _key(f"D#{self.due}", sk)


class Timers:
    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def put(self, timer: Timer) -> bool:
        """Idempotent: the same timer planned twice is stored once."""
        return self._table.apply(
            [
                {
                    "Put": {
                        "Item": timer_item(timer),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            ]
        )

    def put_many(self, timers: list[Timer]) -> int:
        """Bulk-plan a cohort: 25 timers a request; rewriting an identical timer is harmless.

        Returns the number of requests made (unprocessed items are retried).
        """
        return self._table.put_batch(timer_item(t) for t in timers)

    def due(self, minute: str) -> list[Timer]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(f"D#{minute}")},
            ConsistentRead=True,
        )
        return [_timer(_plain(item)) for page in pages for item in page["Items"]]

    def drop(self, timer: Timer) -> None:
        self.client.delete_item(TableName=self._table.name, Key=timer.key)


_TIMER_FIELDS = ("due", "contact_id", "sequence_id", "run", "seq", "kind", "step_id", "branch")


def timer_item(timer: Timer) -> dict[str, Any]:
    return {**timer.key, **{name: _value(getattr(timer, name)) for name in _TIMER_FIELDS}}


def _timer(item: Mapping[str, Any]) -> Timer:
    return Timer(
        item["due"],
        item["contact_id"],
        item["sequence_id"],
        int(item["run"]),
        int(item["seq"]),
        item["kind"],
        item["step_id"],
        item.get("branch", ""),
    )

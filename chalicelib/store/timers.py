"""Timers: due buckets by UTC minute; one Scheduler schedule per minute, not per contact.

A bucket holds enrollment timers (`Timer`: send a step, check a deadline) and contact timers
(`ContactTimer`: check something about one contact, like a score's band crossing by decay).
Contact timers' sort keys start with `#`, which no contact id does, so each reader takes its
own.
"""

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


@dataclass(frozen=True)
class ContactTimer:
    """Something to check for one contact at a UTC minute (`kind`: `score`, ...)."""

    due: str
    contact_id: str
    kind: str

    @property
    def key(self) -> dict[str, Any]:
        return _key(f"D#{self.due}", f"#{self.kind}#{self.contact_id}")

    def put(self) -> dict[str, Any]:
        """The operation storing it (in a transaction with what planned it); storing it twice
        is harmless."""
        item = {
            **self.key,
            "due": _value(self.due),
            "contact_id": _value(self.contact_id),
            "kind": _value(self.kind),
        }
        return {"Put": {"Item": item}}

    def delete(self) -> dict[str, Any]:
        """The operation removing it (a deadline that moved)."""
        return {"Delete": {"Key": self.key}}


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
        return [
            _timer(_plain(item))
            for page in pages
            for item in page["Items"]
            if not item["SK"]["S"].startswith("#")
        ]

    def drop(self, timer: Timer | ContactTimer) -> None:
        self.client.delete_item(TableName=self._table.name, Key=timer.key)

    def contact_due(self, minute: str, kind: str) -> list[ContactTimer]:
        """The contact timers of `kind` in a due bucket."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :kind)",
            ExpressionAttributeValues={
                ":pk": _value(f"D#{minute}"),
                ":kind": _value(f"#{kind}#"),
            },
            ConsistentRead=True,
        )
        return [
            ContactTimer(minute, str(plain["contact_id"]), kind)
            for page in pages
            for plain in (_plain(item) for item in page["Items"])
        ]


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

"""One delivery record per (event, subscription), its retries in due-minute buckets and the
per-endpoint counters.

Every delivery transition is conditional on the record's `status`, `attempts` and `redrives`,
so a duplicated queue message, a replayed retry bucket or a second redrive changes nothing
twice. Counters move in the same transaction as the transition they count.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store.items import Write, _key, _plain, _value
from chalicelib.store.table import ConditionFailed, Table

SHARDS = 8
CONFLICT_RETRIES = 6


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription: the exact body sent and where its attempts stand."""

    webhook_id: str
    event_id: str
    event_type: str
    body: str
    created_at: str
    expires_at: int
    status: str = "pending"  # pending | delivered | dead
    attempts: int = 0
    redrives: int = 0
    next_at: str = ""
    last_status: int | None = None
    last_error: str | None = None
    finished_at: str | None = None
    dead_reason: str | None = None


@dataclass(frozen=True)
class RetryDue:
    """A delivery to try again in a due minute."""

    minute: str
    webhook_id: str
    event_id: str


@dataclass(frozen=True)
class Counts:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    by_day: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


class Deliveries:
    """Delivery records (`WD#{webhook}#{event}`), retry buckets (`WR#{minute}`) and counters
    (`WH#{webhook}` / `N#{day}#{shard}`)."""

    def __init__(self, table: Table, sleep: Any = time.sleep) -> None:
        self.client = table.client
        self._table = table
        self._sleep = sleep

    # --- deliveries -------------------------------------------------------------------------

    def create(self, delivery: Delivery) -> bool:
        """The one record of (event, subscription); False when it exists already."""
        item = {
            **_delivery_key(delivery.webhook_id, delivery.event_id),
            "webhook_id": _value(delivery.webhook_id),
            "event_id": _value(delivery.event_id),
            "event_type": _value(delivery.event_type),
            "body": _value(delivery.body),
            "created_at": _value(delivery.created_at),
            "status": _value(delivery.status),
            "attempts": _value(delivery.attempts),
            "redrives": _value(delivery.redrives),
            "next_at": _value(delivery.next_at or delivery.created_at),
            "ttl": _value(delivery.expires_at),
            "GSI1PK": _value(f"WD#{delivery.webhook_id}"),
            "GSI1SK": _value(f"{delivery.created_at}#{delivery.event_id}"),
        }
        if delivery.dead_reason:
            item["dead_reason"] = _value(delivery.dead_reason)
        return self._table.apply(
            [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]
        )

    def get(self, webhook_id: str, event_id: str) -> Delivery | None:
        found = self.client.get_item(
            TableName=self._table.name,
            Key=_delivery_key(webhook_id, event_id),
            ConsistentRead=True,
        )
        return _delivery(_plain(found["Item"])) if "Item" in found else None

    def delivered(self, delivery: Delivery, at: str, status: int) -> bool:
        """Mark delivered and count it, once."""
        return self._transact(
            [
                self._transition(
                    delivery,
                    "SET #status = :delivered, attempts = :attempts, finished_at = :at, "
                    "last_status = :code REMOVE last_error",
                    {
                        ":delivered": _value("delivered"),
                        ":attempts": _value(delivery.attempts + 1),
                        ":at": _value(at),
                        ":code": _value(status),
                    },
                ),
                _count(delivery, "delivered", at),
            ]
        )

    def retry_later(
        self,
        delivery: Delivery,
        at: str,
        retry_minute: str,
        next_at: str,
        status: int | None,
        error: str,
    ) -> bool:
        """Count a failed attempt and plan the next one in `retry_minute`'s bucket, once."""
        due = {
            **_key(f"WR#{retry_minute}", f"{delivery.webhook_id}#{delivery.event_id}"),
            "webhook_id": _value(delivery.webhook_id),
            "event_id": _value(delivery.event_id),
            "minute": _value(retry_minute),
        }
        return self._transact(
            [
                self._transition(
                    delivery,
                    "SET attempts = :attempts, next_at = :next, last_status = :code, "
                    "last_error = :error, last_attempt_at = :at",
                    {
                        ":attempts": _value(delivery.attempts + 1),
                        ":next": _value(next_at),
                        ":code": _value(status),
                        ":error": _value(error),
                        ":at": _value(at),
                    },
                ),
                {"Put": {"Item": due}},
                _count(delivery, "failed", at),
            ]
        )

    def dead(
        self,
        delivery: Delivery,
        at: str,
        reason: str,
        status: int | None,
        error: str | None,
        *,
        attempted: bool,
    ) -> bool:
        """Give up on a delivery (it goes to the dead-letter queue), once."""
        return self._transact(
            [
                self._transition(
                    delivery,
                    "SET #status = :dead, attempts = :attempts, finished_at = :at, "
                    "dead_reason = :reason, last_status = :code, last_error = :error",
                    {
                        ":dead": _value("dead"),
                        ":attempts": _value(delivery.attempts + (1 if attempted else 0)),
                        ":at": _value(at),
                        ":reason": _value(reason),
                        ":code": _value(status),
                        ":error": _value(error),
                    },
                ),
                _count(delivery, "dead", at),
            ]
        )

    def revive(self, delivery: Delivery, at: str) -> bool:
        """Redrive a dead delivery: pending again, due now, with a fresh set of retries."""
        update = {
            "Key": _delivery_key(delivery.webhook_id, delivery.event_id),
            "UpdateExpression": "SET #status = :pending, attempts = :zero, next_at = :at, "
            "redrives = redrives + :one REMOVE dead_reason, finished_at",
            "ConditionExpression": "#status = :dead AND redrives = :redrives",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":pending": _value("pending"),
                ":dead": _value("dead"),
                ":zero": _value(0),
                ":one": _value(1),
                ":at": _value(at),
                ":redrives": _value(delivery.redrives),
            },
        }
        return self._table.apply([{"Update": update}])

    def recent(self, webhook_id: str, limit: int) -> list[Delivery]:
        """The newest deliveries of a subscription, newest first."""
        answer = self.client.query(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": _value(f"WD#{webhook_id}")},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_delivery(_plain(item)) for item in answer["Items"]]

    # --- retry buckets ----------------------------------------------------------------------

    def due(self, minute: str) -> list[RetryDue]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": _value(f"WR#{minute}")},
            ConsistentRead=True,
        )
        return [
            RetryDue(minute, item["webhook_id"], item["event_id"])
            for page in pages
            for item in (_plain(i) for i in page["Items"])
        ]

    def drop_due(self, due: RetryDue) -> None:
        self.client.delete_item(
            TableName=self._table.name,
            Key=_key(f"WR#{due.minute}", f"{due.webhook_id}#{due.event_id}"),
        )

    # --- counters ---------------------------------------------------------------------------

    def counts(self, webhook_id: str, since_day: str) -> Counts:
        """Delivered, failed attempts and dead-lettered deliveries per day since `since_day`."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND SK >= :since",
            ExpressionAttributeValues={
                ":pk": _value(f"WH#{webhook_id}"),
                ":since": _value(f"N#{since_day}"),
            },
            ConsistentRead=True,
        )
        days: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for page in pages:
            for item in (_plain(i) for i in page["Items"]):
                if not str(item["SK"]).startswith("N#"):
                    continue
                day = str(item["SK"]).split("#")[1]
                for metric in ("delivered", "failed", "dead"):
                    days[day][metric] += int(item.get(metric, 0))
        total = {m: sum(d[m] for d in days.values()) for m in ("delivered", "failed", "dead")}
        return Counts(**total, by_day={day: dict(m) for day, m in sorted(days.items())})

    # --- helpers ----------------------------------------------------------------------------

    def _transition(
        self, delivery: Delivery, expression: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Update": {
                "Key": _delivery_key(delivery.webhook_id, delivery.event_id),
                "UpdateExpression": expression,
                "ConditionExpression": "#status = :pending AND attempts = :seen "
                "AND redrives = :redrives",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    **values,
                    ":pending": _value("pending"),
                    ":seen": _value(delivery.attempts),
                    ":redrives": _value(delivery.redrives),
                },
            }
        }

    def _transact(self, write: Write) -> bool:
        """Apply a transition; concurrent counter updates conflict now and then: retry them."""
        errors = self.client.exceptions
        for attempt in range(CONFLICT_RETRIES):
            try:
                self._table.run(write)
                return True
            except ConditionFailed:
                return False
            except errors.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons", [])
                if attempt + 1 == CONFLICT_RETRIES or not any(
                    r.get("Code") == "TransactionConflict" for r in reasons
                ):
                    raise
                self._sleep(0.02 * 2**attempt)
        raise AssertionError("unreachable: the loop returns or raises")


def _delivery_key(webhook_id: str, event_id: str) -> dict[str, Any]:
    return _key(f"WD#{webhook_id}#{event_id}", "DELIVERY")


def _count(delivery: Delivery, metric: str, at: str) -> dict[str, Any]:
    shard = int(hashlib.sha256(delivery.event_id.encode()).hexdigest()[:4], 16) % SHARDS
    return {
        "Update": {
            "Key": _key(f"WH#{delivery.webhook_id}", f"N#{at[:10]}#{shard}"),
            "UpdateExpression": "ADD #metric :one",
            "ExpressionAttributeNames": {"#metric": metric},
            "ExpressionAttributeValues": {":one": _value(1)},
        }
    }


def _delivery(item: Mapping[str, Any]) -> Delivery:
    code = item.get("last_status")
    return Delivery(
        item["webhook_id"],
        item["event_id"],
        item["event_type"],
        item["body"],
        item["created_at"],
        int(item.get("ttl", 0)),
        item["status"],
        int(item["attempts"]),
        int(item.get("redrives", 0)),
        item.get("next_at", ""),
        int(code) if code is not None else None,
        item.get("last_error"),
        item.get("finished_at"),
        item.get("dead_reason"),
    )

"""Sends: one item per (enrollment run, step), claimed before SES is called."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.store.items import Event, Scalar, Write, _key, _plain, _put_event, _value
from chalicelib.store.table import ConditionFailed, Table


@dataclass(frozen=True)
class SendRecord:
    """The state of one send as the table holds it."""

    send_id: str
    status: str
    attempt: int
    claimed_at: str
    lease_until: str
    accepted_at: str | None = None
    message_id: str | None = None
    contact_id: str = ""
    cap_period: str | None = None


@dataclass(frozen=True)
class CapRule:
    """At most `limit` sends per contact in `period` (a local day or week key like `W2026-47`)."""

    limit: int
    period: str
    expires_at: int


class Capped(Exception):
    """The contact's frequency cap for the period is used up."""


@dataclass(frozen=True)
class SendOrigin:
    """Which sequence step (and run; 0 is a test send) a send belongs to."""

    sequence_id: str
    step_id: str
    run: int


def send_key(send_id: str) -> dict[str, Any]:
    return _key(f"S#{send_id}", "META")


class Sends:
    """Claims and outcomes of sends; every transition is conditional on the claim it follows."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self.client = table.client

    def claim(
        self,
        send_id: str,
        attrs: Mapping[str, Scalar],
        now: str,
        lease_until: str,
        cap: CapRule | None,
        contact_id: str,
    ) -> bool:
        """Create the claim (and count it against the cap) atomically.

        False when a claim for this send already exists; raises `Capped` when the cap is used up.
        """
        item = {
            **send_key(send_id),
            "send_id": _value(send_id),
            "status": _value("claimed"),
            "attempt": _value(1),
            "claimed_at": _value(now),
            "lease_until": _value(lease_until),
        }
        item.update({name: _value(v) for name, v in attrs.items()})
        ops: Write = [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]
        if cap is not None:
            item["cap_period"] = _value(cap.period)
            ops.append(
                {
                    "Update": {
                        "Key": _key(f"C#{contact_id}", f"CAP#{cap.period}"),
                        "UpdateExpression": "ADD sends :one SET #ttl = if_not_exists(#ttl, :ttl)",
                        "ConditionExpression": "attribute_not_exists(sends) OR sends < :limit",
                        "ExpressionAttributeValues": {
                            ":one": _value(1),
                            ":limit": _value(cap.limit),
                            ":ttl": _value(cap.expires_at),
                        },
                        "ExpressionAttributeNames": {"#ttl": "ttl"},
                    }
                }
            )
        return self._transact_claim(ops)

    def reclaim(self, record: SendRecord, now: str, lease_until: str) -> bool:
        """Take over an expired claim; False when someone else took it first."""
        return self._update(
            record,
            "SET attempt = :next, claimed_at = :now, lease_until = :lease",
            {
                ":next": _value(record.attempt + 1),
                ":now": _value(now),
                ":lease": _value(lease_until),
            },
        )

    def origin(self, send_id: str) -> SendOrigin | None:
        found = self.client.get_item(
            TableName=self._table.name,
            Key=send_key(send_id),
            ProjectionExpression="sequence_id, step_id, #run",
            ExpressionAttributeNames={"#run": "run"},
        )
        item = _plain(found.get("Item", {}))
        if "sequence_id" not in item:
            return None
        return SendOrigin(item["sequence_id"], item["step_id"], int(item.get("run", 0)))

    def get(self, send_id: str) -> SendRecord | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=send_key(send_id), ConsistentRead=True
        )
        if "Item" not in found:
            return None
        item = _plain(found["Item"])
        return SendRecord(
            item["send_id"],
            item["status"],
            int(item["attempt"]),
            item["claimed_at"],
            item["lease_until"],
            item.get("ses_accepted_at"),
            item.get("message_id") or item.get("ses_message_id"),
            item.get("contact_id", ""),
            item.get("cap_period"),
        )

    def complete(self, record: SendRecord, message_id: str, at: str) -> bool:
        return self._update(
            record,
            "SET #status = :sent, message_id = :mid, sent_at = :at",
            {":sent": _value("sent"), ":mid": _value(message_id), ":at": _value(at)},
        )

    def finish(self, record: SendRecord, status: str, event: Event) -> bool:
        """End the send as `skipped` or `failed`, record why and give back its cap, atomically."""
        update = self._condition(
            record,
            "SET #status = :status, reason = :reason",
            {":status": _value(status), ":reason": _value(event.attrs.get("reason"))},
        )
        return self._table.apply([{"Update": update}, _put_event(event), *self._uncap(record)])

    def release(self, record: SendRecord) -> bool:
        """Drop a claim SES certainly did not act on (throttled, quota), so a later run retries."""
        spec = self._condition(record, "", {})
        spec.pop("UpdateExpression")
        return self._table.apply([{"Delete": spec}, *self._uncap(record)])

    def _uncap(self, record: SendRecord) -> Write:
        """Give a send that never went out back to the contact's frequency cap."""
        if record.cap_period is None:
            return []
        key = _key(f"C#{record.contact_id}", f"CAP#{record.cap_period}")
        return [
            {
                "Update": {
                    "Key": key,
                    "UpdateExpression": "ADD sends :minus",
                    "ExpressionAttributeValues": {":minus": _value(-1)},
                }
            }
        ]

    def _update(self, record: SendRecord, expression: str, values: dict[str, Any]) -> bool:
        return self._table.apply([{"Update": self._condition(record, expression, values)}])

    def _condition(
        self, record: SendRecord, expression: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Key": send_key(record.send_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :claimed AND attempt = :attempt",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                **values,
                ":claimed": _value("claimed"),
                ":attempt": _value(record.attempt),
            },
        }

    def _transact_claim(self, ops: Write) -> bool:
        """False when the claim exists already; `Capped` when only the cap's condition failed."""
        try:
            self._table.run(ops)
        except ConditionFailed as failed:
            if 0 in failed.positions:
                return False
            raise Capped from failed
        return True

"""Trigger receipts: one per (contact, sequence, triggering event), so a trigger enrolls once.

A receipt is claimed (`claimed`, with the time) before the enrollment and finished after it
with the outcome (`enrolled`, `already_enrolled`, `refused`, a skip reason). A receipt left
`claimed` marks a crash between the two: the retry looks at the enrollment before acting.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.store.items import Write, _key, _plain, _value
from chalicelib.store.table import Table

__all__ = ["Receipt", "Receipts"]

CLAIMED = "claimed"


@dataclass(frozen=True)
class Receipt:
    state: str
    claimed_at: str


class Receipts:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(
        self, contact_id: str, sequence_id: str, event_id: str, at: str, expires_at: int
    ) -> bool:
        """Claim the trigger; False when a receipt exists already."""
        item = {
            **_receipt_key(contact_id, sequence_id, event_id),
            "state": _value(CLAIMED),
            "claimed_at": _value(at),
            "ttl": _value(expires_at),
        }
        put = {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
        return self._table.apply([put])

    def get(self, contact_id: str, sequence_id: str, event_id: str) -> Receipt | None:
        found = self._table.client.get_item(
            TableName=self._table.name,
            Key=_receipt_key(contact_id, sequence_id, event_id),
            ConsistentRead=True,
        )
        if "Item" not in found:
            return None
        item = _plain(found["Item"])
        return Receipt(str(item["state"]), str(item["claimed_at"]))

    def finish(self, contact_id: str, sequence_id: str, event_id: str, state: str) -> bool:
        """Record the outcome of a claimed trigger (once: a finished receipt stays as it is)."""
        return self._table.apply(_finish(contact_id, sequence_id, event_id, state))


def _finish(contact_id: str, sequence_id: str, event_id: str, state: str) -> Write:
    update = {
        "Key": _receipt_key(contact_id, sequence_id, event_id),
        "UpdateExpression": "SET #state = :state",
        "ConditionExpression": "#state = :claimed",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": {":state": _value(state), ":claimed": _value(CLAIMED)},
    }
    return [{"Update": update}]


def _receipt_key(contact_id: str, sequence_id: str, event_id: str) -> dict[str, dict[str, str]]:
    return _key(f"C#{contact_id}", f"T#{sequence_id}#{event_id}")

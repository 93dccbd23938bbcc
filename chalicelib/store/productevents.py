"""Product events as items, written with one conditional put and no read.

An event named by contact id goes straight onto the contact's timeline. One named by email
address waits under the hash of the address (`M#{hash}`, beside the address's claim) until the
stream finds the contact that holds it and puts it on the contact's timeline: the hot path
never looks the address up. Both keys derive from the event's time and id only, so a retried
request (same `event_id` and `at`) writes the same item and is told it is a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.store.items import Write, _document, _value

__all__ = ["PRODUCT_EVENT", "ProductEvent", "product_event_item"]

PRODUCT_EVENT = "event"
"""The `type` of product events on the timeline (their own name is the `name` attribute)."""


@dataclass(frozen=True)
class ProductEvent:
    """One product event: for a contact (`contact_id`) or an address (`email_hash`)."""

    name: str
    event_id: str
    at: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    contact_id: str | None = None
    email_hash: str | None = None
    expires_at: int | None = None
    backfill: bool = False

    def for_contact(self, contact_id: str) -> ProductEvent:
        """The same event on a contact's timeline (an addressed event, resolved)."""
        return replace(self, contact_id=contact_id, email_hash=None)

    def write(self) -> Write:
        """Put the event unless it is there already (the condition tells a duplicate)."""
        item = product_event_item(self)
        return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]


def product_event_item(event: ProductEvent) -> dict[str, Any]:
    if event.contact_id is not None:
        owner = {"PK": {"S": f"C#{event.contact_id}"}, "contact_id": _value(event.contact_id)}
    elif event.email_hash is not None:
        owner = {"PK": {"S": f"M#{event.email_hash}"}, "email_hash": _value(event.email_hash)}
    else:
        raise ValueError("a product event needs a contact id or an email hash")
    item = {
        **owner,
        "SK": {"S": f"EV#{event.at}#{PRODUCT_EVENT}#{event.event_id}"},
        "type": _value(PRODUCT_EVENT),
        "name": _value(event.name),
        "event_id": _value(event.event_id),
        "at": _value(event.at),
    }
    if event.properties:
        item["properties"] = _document(event.properties)
    if event.expires_at is not None:
        item["ttl"] = _value(event.expires_at)
    if event.backfill:
        item["backfill"] = _value(True)
    return item

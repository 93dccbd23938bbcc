"""Product events as items, written with one conditional put and no read.

An event named by contact id goes straight onto the contact's timeline. One named by email
address waits under the hash of the address (`M#{hash}`, beside the address's claim) until the
stream finds the contact that holds it and puts it on the contact's timeline: the hot path
never looks the address up. Both keys derive from the event's time and id only, so a retried
request (same `event_id` and `at`) writes the same item and is told it is a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from chalicelib.store import jsontext
from chalicelib.store.items import Write

__all__ = ["PRODUCT_EVENT", "ProductEvent", "product_event_item"]

PRODUCT_EVENT = "event"
"""The `type` of product events on the timeline (their own name is the `name` attribute)."""


class ProductEvent(NamedTuple):
    """One product event: for a contact (`contact_id`) or an address (`email_hash`).

    A named tuple rather than a frozen dataclass: one is made per request on the hot path, and
    a frozen dataclass's `__init__` (an `object.__setattr__` per field) costs three times as
    much CPU."""

    name: str
    event_id: str
    at: str
    properties: Mapping[str, Any]
    contact_id: str | None = None
    email_hash: str | None = None
    expires_at: int | None = None
    backfill: bool = False

    def write(self) -> Write:
        """Put the event unless it is there already (the condition tells a duplicate)."""
        item = product_event_item(self)
        return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]


def product_event_item(event: ProductEvent) -> dict[str, Any]:
    """The item, spelt out attribute by attribute: all of it text of known type, the properties
    their JSON text (`jsontext`; it is built on the hot path of `POST /api/events`)."""
    owner: dict[str, Any]
    if event.contact_id is not None:
        owner = {"PK": {"S": f"C#{event.contact_id}"}, "contact_id": {"S": event.contact_id}}
    elif event.email_hash is not None:
        owner = {"PK": {"S": f"M#{event.email_hash}"}, "email_hash": {"S": event.email_hash}}
    else:
        raise ValueError("a product event needs a contact id or an email hash")
    item: dict[str, Any] = {
        **owner,
        "SK": {"S": f"EV#{event.at}#{PRODUCT_EVENT}#{event.event_id}"},
        "type": {"S": PRODUCT_EVENT},
        "name": {"S": event.name},
        "event_id": {"S": event.event_id},
        "at": {"S": event.at},
    }
    if event.properties:
        item["properties"] = {"S": jsontext.text(event.properties)}
    if event.expires_at is not None:
        item["ttl"] = {"N": str(event.expires_at)}
    if event.backfill:
        item["backfill"] = {"BOOL": True}
    return item

"""The single table: the only module that knows its key patterns and condition expressions.

Every change is expressed as a `Write`: a JSON-serialisable list of TransactWriteItems
operations whose conditions make a replay a no-op. That is what lets a failed write be parked
and replayed later, and a redelivered one be applied twice without a second effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib import emails

Write = list[dict[str, Any]]
Scalar = str | int | float | Decimal | bool | None

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Event:
    """One engagement or lifecycle event, under its normalised name (`opened`, `clicked`, ...)."""

    contact_id: str
    type: str
    at: str
    event_id: str
    send_id: str = ""
    attrs: Mapping[str, Scalar] = field(default_factory=dict)
    expires_at: int | None = None


def event_write(event: Event) -> Write:
    return [_put_event(event)]


def unsubscribe_write(event: Event) -> Write:
    """Mark the contact unsubscribed and audit it; a repeat finds it done and writes nothing."""
    update = {
        "Key": _key(f"C#{event.contact_id}", "PROFILE"),
        "UpdateExpression": "SET #status = :status, unsubscribed_at = :at, "
        "unsubscribe_method = :method, contact_id = :contact",
        "ConditionExpression": "attribute_not_exists(unsubscribed_at)",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {
            ":status": _value("unsubscribed"),
            ":at": _value(event.at),
            ":method": _value(event.attrs.get("method")),
            ":contact": _value(event.contact_id),
        },
    }
    return [{"Update": update}, _put_event(event)]


def preferences_write(
    contact_id: str, topics: Iterable[str], paused_until: str | None, at: str
) -> Write:
    """Set topic choices and pause; applying it twice leaves the same state."""
    values: dict[str, Any] = {
        ":topics": {"L": [_value(t) for t in sorted(set(topics))]},
        ":at": _value(at),
        ":contact": _value(contact_id),
        ":paused": _value(paused_until),
    }
    update = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": "SET topics = :topics, preferences_updated_at = :at, "
        "contact_id = :contact, paused_until = :paused",
        "ExpressionAttributeValues": values,
    }
    return [{"Update": update}]


def conversion_write(event: Event, conversion_id: str) -> Write:
    """Record a conversion once per client-supplied id; a replay is refused by the guard item."""
    guard = {
        "Item": {
            **_key(f"V#{conversion_id}", "CONVERSION"),
            "contact_id": _value(event.contact_id),
            "event_id": _value(event.event_id),
        },
        "ConditionExpression": "attribute_not_exists(PK)",
    }
    return [{"Put": guard}, _put_event(event)]


def suppression_write(email_hash: str, reason: str, at: str, message_id: str) -> Write:
    """Suppress an address for good; the first reason is kept and a repeat writes nothing."""
    item = {
        **_key(f"X#{email_hash}", "SUPPRESS"),
        "reason": _value(reason),
        "first_seen": _value(at),
        "ses_message_id": _value(message_id),
    }
    return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]


def soft_bounce_write(email_hash: str, message_id: str, at: str) -> Write:
    """Count one transient bounce per SES message: a redelivery finds its id already in the set."""
    update = {
        "Key": _key(f"X#{email_hash}", "SOFTBOUNCE"),
        "UpdateExpression": "SET last_at = :at ADD bounces :one, message_ids :ids",
        "ConditionExpression": "NOT contains(message_ids, :id)",
        "ExpressionAttributeValues": {
            ":at": _value(at),
            ":one": _value(1),
            ":ids": {"SS": [message_id]},
            ":id": _value(message_id),
        },
    }
    return [{"Update": update}]


def send_accepted_write(send_id: str, message_id: str, at: str) -> Write:
    """Note when SES accepted an existing send (first time wins); an unknown send is left alone."""
    update = {
        "Key": _key(f"S#{send_id}", "META"),
        "UpdateExpression": "SET ses_message_id = :mid, "
        "ses_accepted_at = if_not_exists(ses_accepted_at, :at)",
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeValues": {":mid": _value(message_id), ":at": _value(at)},
    }
    return [{"Update": update}]


def send_outcome_write(send_id: str, message_id: str, status: str, rank: int, at: str) -> Write:
    """Record a delivery outcome on an existing send unless one of equal or higher rank is there.

    The rank makes late, stale events (Delivery after Bounce) and duplicates no-ops.
    """
    update = {
        "Key": _key(f"S#{send_id}", "META"),
        "UpdateExpression": "SET ses_message_id = :mid, delivery_status = :status, "
        "delivery_rank = :rank, delivery_status_at = :at",
        "ConditionExpression": "attribute_exists(PK) AND "
        "(attribute_not_exists(delivery_rank) OR delivery_rank < :rank)",
        "ExpressionAttributeValues": {
            ":mid": _value(message_id),
            ":status": _value(status),
            ":rank": _value(rank),
            ":at": _value(at),
        },
    }
    return [{"Update": update}]


class Table:
    """Thin repository over a low-level DynamoDB client."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name

    def apply(self, write: Write) -> bool:
        """Apply `write`; False means its conditions found it already applied."""
        errors = self._client.exceptions
        try:
            if len(write) == 1 and "Put" in write[0]:
                self._client.put_item(TableName=self.name, **write[0]["Put"])
            elif len(write) == 1 and "Update" in write[0]:
                self._client.update_item(TableName=self.name, **write[0]["Update"])
            else:
                items = [
                    {op: {**spec, "TableName": self.name}}
                    for step in write
                    for op, spec in step.items()
                ]
                self._client.transact_write_items(TransactItems=items)
        except errors.ConditionalCheckFailedException:
            return False
        except errors.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) and all(
                r.get("Code") in ("None", "ConditionalCheckFailed", None) for r in reasons
            ):
                return False
            raise
        return True

    def profile(self, contact_id: str) -> dict[str, Any] | None:
        found = self._client.get_item(
            TableName=self.name, Key=_key(f"C#{contact_id}", "PROFILE"), ConsistentRead=True
        )
        return _plain(found["Item"]) if "Item" in found else None

    def put_profile(self, contact_id: str, attrs: Mapping[str, Scalar]) -> None:
        item = {**_key(f"C#{contact_id}", "PROFILE"), "contact_id": _value(contact_id)}
        item.update({name: _value(v) for name, v in attrs.items()})
        self._client.put_item(TableName=self.name, Item=item)

    def events(self, contact_id: str) -> list[dict[str, Any]]:
        """Every stored event of a contact, oldest first."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :ev)",
            ExpressionAttributeValues={":pk": _value(f"C#{contact_id}"), ":ev": _value("EV#")},
            ConsistentRead=True,
        )
        return [_plain(item) for page in pages for item in page["Items"]]

    def is_suppressed(self, email: str) -> bool:
        """Whether `email` must never be sent to again (checked before every send)."""
        found = self._client.get_item(
            TableName=self.name,
            Key=_key(f"X#{emails.email_hash(email)}", "SUPPRESS"),
            ConsistentRead=True,
            ProjectionExpression="PK",
        )
        return "Item" in found

    def soft_bounces(self, email_hash: str) -> int:
        """Transient bounces counted for an address (0 if none)."""
        found = self._client.get_item(
            TableName=self.name,
            Key=_key(f"X#{email_hash}", "SOFTBOUNCE"),
            ConsistentRead=True,
            ProjectionExpression="bounces",
        )
        return int(found.get("Item", {}).get("bounces", {}).get("N", 0))

    def create(self) -> None:
        """Create the table with its stream, GSI and TTL (local stack and tests; infra/ in AWS)."""
        strings = [
            {"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GSI1PK", "GSI1SK")
        ]
        self._client.create_table(
            TableName=self.name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=strings,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI1",
                    "KeySchema": [
                        {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                        {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self._client.get_waiter("table_exists").wait(TableName=self.name)
        self._client.update_time_to_live(
            TableName=self.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )


def _put_event(event: Event) -> dict[str, Any]:
    item = {
        **_key(f"C#{event.contact_id}", f"EV#{event.at}#{event.type}#{event.event_id}"),
        "type": _value(event.type),
        "contact_id": _value(event.contact_id),
        "at": _value(event.at),
        "event_id": _value(event.event_id),
    }
    if event.send_id:
        item["send_id"] = _value(event.send_id)
        item["GSI1PK"] = _value(f"S#{event.send_id}")
        item["GSI1SK"] = _value(f"EV#{event.at}#{event.type}")
    if event.expires_at is not None:
        item["ttl"] = _value(event.expires_at)
    for name, value in event.attrs.items():
        if value is not None:
            item[name] = _value(value)
    return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _value(value: Scalar) -> dict[str, Any]:
    """Low-level attribute value; written by hand because it is on the hot path."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    return {"S": value}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}

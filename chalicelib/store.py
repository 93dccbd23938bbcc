"""The single table: the only module that knows its key patterns and condition expressions.

Every change is expressed as a `Write`: a JSON-serialisable list of TransactWriteItems
operations whose conditions make a replay a no-op. That is what lets a failed write be parked
and replayed later, and a redelivered one be applied twice without a second effect.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

Write = list[dict[str, Any]]
Scalar = str | int | float | Decimal | bool | None

_deserializer = TypeDeserializer()
_LOOKUPS = (("M", "CONTACT"), ("X", "SUPPRESS"))  # email-hash keyed items a contact import reads


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


@dataclass(frozen=True)
class ProfileChange:
    """Contact fields an import sets: scalars, string sets to add to, custom attributes."""

    fields: Mapping[str, Scalar] = field(default_factory=dict)
    sets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    attributes: Mapping[str, Scalar] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.fields or self.sets or self.attributes)


@dataclass(frozen=True)
class KnownContact:
    """What the table knows about one address: its claimed id, profile and suppression."""

    contact_id: str | None = None
    profile: Mapping[str, Any] | None = None
    suppressed: bool = False


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


def email_claim_write(email_hash: str, contact_id: str, at: str) -> Write:
    """Bind an address to a new contact id; the first claim wins, a second finds it taken."""
    item = {
        **_key(f"M#{email_hash}", "CONTACT"),
        "contact_id": _value(contact_id),
        "created_at": _value(at),
    }
    return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]


def profile_create_write(contact_id: str, email_hash: str, change: ProfileChange, at: str) -> Write:
    """A new, subscribed profile; `attributes` always exists so updates can set one name."""
    item = {
        **_key(f"C#{contact_id}", "PROFILE"),
        **{name: _value(v) for name, v in change.fields.items()},
        **{name: _strings(values) for name, values in change.sets.items()},
        "attributes": {"M": {name: _value(v) for name, v in change.attributes.items()}},
        "contact_id": _value(contact_id),
        "email_hash": _value(email_hash),
        "status": _value("subscribed"),
        "created_at": _value(at),
        "updated_at": _value(at),
    }
    return [{"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}]


def profile_update_write(
    contact_id: str, change: ProfileChange, at: str, *, has_attributes: bool
) -> Write:
    """Set changed fields, add set members, set custom attributes; never status or email.

    Without an `attributes` map yet, the whole map is written, guarded against a racing one.
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {":at": _value(at)}
    sets = ["updated_at = :at"]
    adds = []
    conditions = ["attribute_exists(PK)"]
    for n, (name, value) in enumerate(change.fields.items()):
        names[f"#f{n}"], values[f":f{n}"] = name, _value(value)
        sets.append(f"#f{n} = :f{n}")
    for n, (name, members) in enumerate(change.sets.items()):
        names[f"#s{n}"], values[f":s{n}"] = name, _strings(members)
        adds.append(f"#s{n} :s{n}")
    if change.attributes and has_attributes:
        for n, (name, value) in enumerate(change.attributes.items()):
            names[f"#a{n}"], values[f":a{n}"] = name, _value(value)
            sets.append(f"attributes.#a{n} = :a{n}")
    elif change.attributes:
        values[":attrs"] = {"M": {name: _value(v) for name, v in change.attributes.items()}}
        sets.append("attributes = :attrs")
        conditions.append("attribute_not_exists(attributes)")
    update: dict[str, Any] = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": " ".join(
            ["SET " + ", ".join(sets), *(["ADD " + ", ".join(adds)] if adds else [])]
        ),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
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

    def known_contacts(self, email_hashes: Iterable[str]) -> dict[str, KnownContact]:
        """Claim, profile and suppression of each address, in two consistent batch reads."""
        hashes = list(dict.fromkeys(email_hashes))
        found = self._batch_get(
            [_key(f"{prefix}#{h}", sk) for h in hashes for prefix, sk in _LOOKUPS]
        )
        ids = {h: m["contact_id"] for h in hashes if (m := found.get((f"M#{h}", "CONTACT")))}
        profiles = self._batch_get([_key(f"C#{i}", "PROFILE") for i in ids.values()])
        return {
            h: KnownContact(
                contact_id=ids.get(h),
                profile=profiles.get((f"C#{ids[h]}", "PROFILE")) if h in ids else None,
                suppressed=(f"X#{h}", "SUPPRESS") in found,
            )
            for h in hashes
        }

    def _batch_get(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (PK, SK); keys in slices of 100, unprocessed ones retried."""
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request = {self.name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for attempt in itertools.count():
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.name, []):
                    plain = _plain(item)
                    items[(plain["PK"], plain["SK"])] = plain
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: back off, then retry
        return items

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


def _strings(values: Iterable[str]) -> dict[str, Any]:
    return {"SS": sorted(values)}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}

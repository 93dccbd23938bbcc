"""The single table: the only module that knows its key patterns and condition expressions.

Every change is expressed as a `Write`: a JSON-serialisable list of TransactWriteItems
operations whose conditions make a replay a no-op. That is what lets a failed write be parked
and replayed later, and a redelivered one be applied twice without a second effect.
"""

from __future__ import annotations

import itertools
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib import emails

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


def reclassify_write(event: Mapping[str, Any], verdict: str, reason: str) -> Write:
    """Correct a stored event's verdict (a burst of clicks seen only after the hot path)."""
    return [
        {
            "Update": {
                "Key": _key(str(event["PK"]), str(event["SK"])),
                "UpdateExpression": "SET verdict = :verdict, verdict_reason = :reason",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {
                    ":verdict": _value(verdict),
                    ":reason": _value(reason),
                },
            }
        }
    ]


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
        self.client = client
        self.name = name

    def apply(self, write: Write) -> bool:
        """Apply `write`; False means its conditions found it already applied."""
        errors = self.client.exceptions
        try:
            if len(write) == 1 and "Put" in write[0]:
                self.client.put_item(TableName=self.name, **write[0]["Put"])
            elif len(write) == 1 and "Update" in write[0]:
                self.client.update_item(TableName=self.name, **write[0]["Update"])
            else:
                items = [
                    {op: {**spec, "TableName": self.name}}
                    for step in write
                    for op, spec in step.items()
                ]
                self.client.transact_write_items(TransactItems=items)
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
        found = self.client.get_item(
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
                answer = self.client.batch_get_item(RequestItems=request)
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
        self.client.put_item(TableName=self.name, Item=item)

    def events(self, contact_id: str) -> list[dict[str, Any]]:
        """Every stored event of a contact, oldest first."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :ev)",
            ExpressionAttributeValues={":pk": _value(f"C#{contact_id}"), ":ev": _value("EV#")},
            ConsistentRead=True,
        )
        return [_plain(item) for page in pages for item in page["Items"]]

    def is_suppressed(self, email: str) -> bool:
        """Whether `email` must never be sent to again (checked before every send)."""
        found = self.client.get_item(
            TableName=self.name,
            Key=_key(f"X#{emails.email_hash(email)}", "SUPPRESS"),
            ConsistentRead=True,
            ProjectionExpression="PK",
        )
        return "Item" in found

    def soft_bounces(self, email_hash: str) -> int:
        """Transient bounces counted for an address (0 if none)."""
        found = self.client.get_item(
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
        self.client.create_table(
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
        self.client.get_waiter("table_exists").wait(TableName=self.name)
        self.client.update_time_to_live(
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


# --- sends: one item per (enrollment run, step), claimed before SES is called -------------------


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
        errors = self.client.exceptions
        try:
            if len(ops) == 1:
                self.client.put_item(TableName=self._table.name, **ops[0]["Put"])
            else:
                self.client.transact_write_items(
                    TransactItems=[
                        {op: {**spec, "TableName": self._table.name}}
                        for step in ops
                        for op, spec in step.items()
                    ]
                )
        except errors.ConditionalCheckFailedException:
            return False
        except errors.TransactionCanceledException as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise Capped from exc
            raise
        return True


# --- enrollments: one per (contact, sequence); `run` counts re-entries ----------------------------


@dataclass(frozen=True)
class Enrollment:
    """A contact's run through a sequence. `seq` counts transitions: every change is conditional
    on it, so a stale timer or a redelivered event can never move the enrollment twice."""

    contact_id: str
    sequence_id: str
    version: int
    run: int
    status: str
    step_id: str
    seq: int = 0
    send_id: str | None = None
    sent_at: str | None = None
    enrolled_at: str = ""


class Enrollments:
    """Enrollment items; a contact is in a sequence at most once at a time."""

    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def get(self, contact_id: str, sequence_id: str) -> Enrollment | None:
        found = self.client.get_item(
            TableName=self._table.name,
            Key=_key(f"C#{contact_id}", f"E#{sequence_id}"),
            ConsistentRead=True,
        )
        return _enrollment(_plain(found["Item"])) if "Item" in found else None

    def active(self, contact_id: str) -> list[Enrollment]:
        """The contact's active enrollments, across all sequences."""
        found = self.client.query(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :e)",
            FilterExpression="#status = :active",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pk": _value(f"C#{contact_id}"),
                ":e": _value("E#"),
                ":active": _value("active"),
            },
            ConsistentRead=True,
        )
        return [_enrollment(_plain(item)) for item in found["Items"]]

    def enroll(
        self, contact_id: str, sequence_id: str, version: int, step_id: str, at: str, reentry: bool
    ) -> tuple[Enrollment | None, bool]:
        """Start (or, where re-entry is allowed, restart) an enrollment; idempotent while active.

        Returns (the active enrollment or None when re-entry is refused, whether it is new).
        """
        fresh = Enrollment(
            contact_id, sequence_id, version, 1, "active", step_id, 0, None, None, at
        )
        put = {"Item": _enrollment_item(fresh), "ConditionExpression": "attribute_not_exists(PK)"}
        if self._table.apply([{"Put": put}]):
            return fresh, True
        current = self.get(contact_id, sequence_id)
        if current is None or current.status == "active":
            return current, False
        if not reentry:
            return None, False
        again = replace(fresh, run=current.run + 1)
        restarted = self._table.apply(
            [
                {
                    "Put": {
                        "Item": _enrollment_item(again),
                        "ConditionExpression": "#run = :run AND #status <> :active",
                        "ExpressionAttributeNames": {"#run": "run", "#status": "status"},
                        "ExpressionAttributeValues": {
                            ":run": _value(current.run),
                            ":active": _value("active"),
                        },
                    }
                }
            ]
        )
        return (again, True) if restarted else (self.get(contact_id, sequence_id), False)

    def advance(self, enrollment: Enrollment, step_id: str) -> bool:
        """Move to `step_id` (not yet sent); False when the enrollment moved on already."""
        return self._transition(
            enrollment,
            "SET step_id = :step, seq = seq + :one REMOVE send_id, sent_at",
            {":step": _value(step_id), ":one": _value(1)},
        )

    def mark_sent(self, enrollment: Enrollment, send_id: str, sent_at: str) -> bool:
        return self._transition(
            enrollment,
            "SET send_id = :send, sent_at = :at",
            {":send": _value(send_id), ":at": _value(sent_at)},
        )

    def end(self, enrollment: Enrollment, status: str, reason: str, at: str) -> bool:
        """Leave the sequence (`exited`, `goal_reached`, `completed`), whatever step it is on."""
        return self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"C#{enrollment.contact_id}", f"E#{enrollment.sequence_id}"),
                        "UpdateExpression": "SET #status = :status, ended_at = :at, "
                        "end_reason = :reason",
                        "ConditionExpression": "#run = :run AND #status = :active",
                        "ExpressionAttributeNames": {"#status": "status", "#run": "run"},
                        "ExpressionAttributeValues": {
                            ":status": _value(status),
                            ":at": _value(at),
                            ":reason": _value(reason),
                            ":run": _value(enrollment.run),
                            ":active": _value("active"),
                        },
                    }
                }
            ]
        )

    def _transition(self, enrollment: Enrollment, expression: str, values: dict[str, Any]) -> bool:
        return self._table.apply(
            [
                {
                    "Update": {
                        "Key": _key(f"C#{enrollment.contact_id}", f"E#{enrollment.sequence_id}"),
                        "UpdateExpression": expression,
                        "ConditionExpression": "#run = :run AND seq = :seq AND #status = :active",
                        "ExpressionAttributeNames": {"#status": "status", "#run": "run"},
                        "ExpressionAttributeValues": {
                            **values,
                            ":run": _value(enrollment.run),
                            ":seq": _value(enrollment.seq),
                            ":active": _value("active"),
                        },
                    }
                }
            ]
        )


def _enrollment_item(enrollment: Enrollment) -> dict[str, Any]:
    return {
        **_key(f"C#{enrollment.contact_id}", f"E#{enrollment.sequence_id}"),
        "contact_id": _value(enrollment.contact_id),
        "sequence_id": _value(enrollment.sequence_id),
        "version": _value(enrollment.version),
        "run": _value(enrollment.run),
        "status": _value(enrollment.status),
        "step_id": _value(enrollment.step_id),
        "seq": _value(enrollment.seq),
        "enrolled_at": _value(enrollment.enrolled_at),
    }


def _enrollment(item: Mapping[str, Any]) -> Enrollment:
    return Enrollment(
        item["contact_id"],
        item["sequence_id"],
        int(item["version"]),
        int(item["run"]),
        item["status"],
        item["step_id"],
        int(item.get("seq", 0)),
        item.get("send_id"),
        item.get("sent_at"),
        item.get("enrolled_at", ""),
    )


# --- timers: due buckets by UTC minute; one Scheduler schedule per minute, not per contact ------


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
                        "Item": _timer_item(timer),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            ]
        )

    def put_many(self, timers: list[Timer]) -> int:
        """Bulk-plan a cohort: 25 timers a request; rewriting an identical timer is harmless.

        Returns the number of requests made (unprocessed items are retried).
        """
        requests = 0
        for start in range(0, len(timers), 25):
            pending = [{"PutRequest": {"Item": _timer_item(t)}} for t in timers[start : start + 25]]
            while pending:
                requests += 1
                answer = self.client.batch_write_item(RequestItems={self._table.name: pending})
                pending = answer.get("UnprocessedItems", {}).get(self._table.name, [])
        return requests

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


def _timer_item(timer: Timer) -> dict[str, Any]:
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


# --- sequence versions: immutable, numbered; HEAD names the newest -------------------------------


@dataclass(frozen=True)
class SequenceVersion:
    sequence_id: str
    version: int
    content_hash: str
    name: str
    pushed_at: str
    body: str = ""


class Versions:
    """Sequence versions. Versions are never changed; a push adds one unless nothing changed."""

    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def head(self, sequence_id: str) -> SequenceVersion | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=_key(f"Q#{sequence_id}", "HEAD"), ConsistentRead=True
        )
        return _version(_plain(found["Item"]), with_body=False) if "Item" in found else None

    def get(self, sequence_id: str, version: int) -> SequenceVersion | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=_key(f"Q#{sequence_id}", f"V#{version:06d}")
        )
        return _version(_plain(found["Item"]), with_body=True) if "Item" in found else None

    def add(self, new: SequenceVersion) -> bool:
        """Store `new` as the next version; False when another push took that number first."""
        body = zlib.compress(new.body.encode("utf-8"), 6)
        item = {
            **_key(f"Q#{new.sequence_id}", f"V#{new.version:06d}"),
            **_version_attrs(new),
            "body": {"B": body},
        }
        head = {
            **_key(f"Q#{new.sequence_id}", "HEAD"),
            **_version_attrs(new),
            "GSI1PK": _value("SEQUENCES"),
            "GSI1SK": _value(new.sequence_id),
        }
        head_condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(PK)"}
            if new.version == 1
            else {
                "ConditionExpression": "version = :previous",
                "ExpressionAttributeValues": {":previous": _value(new.version - 1)},
            }
        )
        return self._table.apply(
            [
                {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Put": {"Item": head, **head_condition}},
            ]
        )

    def heads(self) -> list[SequenceVersion]:
        """The newest version of every sequence, by id."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :all",
            ExpressionAttributeValues={":all": _value("SEQUENCES")},
        )
        return [_version(_plain(i), with_body=False) for page in pages for i in page["Items"]]


def _version_attrs(version: SequenceVersion) -> dict[str, Any]:
    return {
        "sequence_id": _value(version.sequence_id),
        "version": _value(version.version),
        "content_hash": _value(version.content_hash),
        "name": _value(version.name),
        "pushed_at": _value(version.pushed_at),
    }


def _version(item: Mapping[str, Any], with_body: bool) -> SequenceVersion:
    body = zlib.decompress(bytes(item["body"])).decode("utf-8") if with_body else ""
    return SequenceVersion(
        item["sequence_id"],
        int(item["version"]),
        item["content_hash"],
        item["name"],
        item["pushed_at"],
        body,
    )

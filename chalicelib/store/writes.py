"""Idempotent writes of the recipient, contact and feedback use-cases (see `Table.apply`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store.items import Event, Scalar, Write, _key, _put_event, _strings, _value


@dataclass(frozen=True)
class ProfileChange:
    """Contact fields an import sets: scalars, string sets to add to, custom attributes."""

    fields: Mapping[str, Scalar] = field(default_factory=dict)
    sets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    attributes: Mapping[str, Scalar] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.fields or self.sets or self.attributes)


def event_write(event: Event) -> Write:
    return [_put_event(event)]


def engagement(
    contact_id: str,
    kind: str,
    at: str,
    send_id: str,
    link: int | None,
    verdict: str,
    reason: str,
    expires_at: int | None,
    **attrs: Scalar,
) -> Event:
    """An open or a click: one item per (send, kind, link, verdict and its reason) per UTC day,
    `at` the first moment to the second. A reload, a double click or the mail read again that
    day is the same item, so its conditional put fails (one write unit) and nothing reaches
    the stream; read again another day, it is a new item, so the contact's recency moves."""
    day = at[:10]
    seed = f"{send_id}\x1f{kind}\x1f{link}\x1f{verdict}\x1f{reason}\x1f{day}"
    fields = {"verdict": verdict, "verdict_reason": reason, "link": link, **attrs}
    return Event(
        contact_id,
        kind,
        at,
        hashlib.sha256(seed.encode()).hexdigest()[:16],
        send_id,
        fields,
        expires_at,
        slot=day,
    )


_ENGAGEMENT_KEYS = frozenset(
    (
        *("PK", "SK", "type", "contact_id", "at", "event_id", "send_id", "ttl"),
        *("link", "verdict", "verdict_reason"),
    )
)
"""What `engagement` sets itself; a stored engagement's other attributes move with it."""


def reclassify_writes(event: Mapping[str, Any], verdict: str, reason: str) -> tuple[Write, Write]:
    """Correct a stored engagement's verdict (a burst of clicks seen only after the hot path):
    the item moves to the key of its new verdict, so a person clicking the same link later that
    day still makes a new item. Two writes, applied in order, each one idempotent: the moved
    item, then the old one's removal; a crash between them is finished by the redelivery."""
    link = event.get("link")
    moved = engagement(
        str(event["contact_id"]),
        str(event["type"]),
        str(event["at"]),
        str(event.get("send_id", "")),
        None if link is None else int(link),
        verdict,
        reason,
        None if event.get("ttl") is None else int(event["ttl"]),
        **{k: v for k, v in event.items() if k not in _ENGAGEMENT_KEYS},
    )
    removal = {
        "Delete": {
            "Key": _key(str(event["PK"]), str(event["SK"])),
            "ConditionExpression": "attribute_exists(PK)",
        }
    }
    return [_put_event(moved)], [removal]


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


def pause_write(contact_id: str, paused_until: str | None, at: str) -> Write:
    """A marketer pauses (or, with None, resumes) an existing contact's mail."""
    expression = (
        "SET paused_until = :until, paused_at = :at"
        if paused_until
        else ("SET paused_at = :at REMOVE paused_until")
    )
    values = {":at": _value(at), **({":until": _value(paused_until)} if paused_until else {})}
    update = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(PK)",
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
            "send_id": _value(event.send_id),
            "event_id": _value(event.event_id),
            "at": _value(event.at),
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
    """Note one transient bounce per SES message, with its time (bounces count within a window):
    a redelivery finds its message id already in the set and writes nothing."""
    update = {
        "Key": _key(f"X#{email_hash}", "SOFTBOUNCE"),
        "UpdateExpression": "SET last_at = :at, "
        "bounce_times = list_append(if_not_exists(bounce_times, :none), :times) "
        "ADD message_ids :ids",
        "ConditionExpression": "NOT contains(message_ids, :id)",
        "ExpressionAttributeValues": {
            ":at": _value(at),
            ":none": {"L": []},
            ":times": {"L": [_value(at)]},
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


def send_settled_write(send_id: str, message_id: str, at: str) -> Write:
    """An `uncertain` send (a crash after SES was called) proved sent by its SES `Send` event."""
    update = {
        "Key": _key(f"S#{send_id}", "META"),
        "UpdateExpression": "SET #status = :sent, message_id = :mid, sent_at = :at",
        "ConditionExpression": "#status = :uncertain",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {
            ":sent": _value("sent"),
            ":uncertain": _value("uncertain"),
            ":mid": _value(message_id),
            ":at": _value(at),
        },
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

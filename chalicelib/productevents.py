"""Product events from the company's servers (`POST /api/events`): validated strictly, stored
with one conditional write and no read, acted on from the stream.

A request is signed like a conversion callback (`X-Nurture-Signature`, see `conversions`).
The body is one event `{"event_id", "contact", "name", "properties", "at"}` or, for backfills,
`{"events": [...]}` of up to 500. `contact` is a contact id, or an email address (anything
with an `@`): the hot path does not look the address up; the stream does (`resolve`).

Kept lean (json and re, no pydantic): it runs on the public API's hot path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from chalicelib import jsondoc, numbers, store
from chalicelib.contactnames import is_email
from chalicelib.emails import hash_identity, normalise_email
from chalicelib.errors import InvalidInput, TooLarge
from chalicelib.parking import Parking, commit
from chalicelib.stamps import iso_utc
from chalicelib.store import jsontext

__all__ = ["MAX_BATCH", "Accepted", "parse", "record", "record_batch", "resolve", "save"]

MAX_BODY_BYTES = 16 * 1024
MAX_BATCH_BODY_BYTES = 1024 * 1024
MAX_BATCH = 500
MAX_PROPERTIES_BYTES = 4096
MAX_DEPTH = 4
MAX_KEYS = 50
MAX_ITEMS = 100
MAX_TEXT = 1000
FUTURE_SECONDS = 300
DAY = 86_400
FIELDS = ("event_id", "contact", "name", "properties", "at")
_KNOWN = frozenset(FIELDS)
_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")
_CONTACT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)")


class Accepted(NamedTuple):
    """What a request carries: its events, and whether it was the batch form (a named tuple,
    made on the hot path, like `store.ProductEvent`)."""

    events: tuple[store.ProductEvent, ...]
    batch: bool


def parse(body: bytes, now: float, retention_days: int) -> Accepted:
    """Validate a request body; every error names its field (`events[3].properties.plan`)."""
    if len(body) > MAX_BATCH_BODY_BYTES:
        raise TooLarge("body", f"is larger than {MAX_BATCH_BODY_BYTES} bytes")
    doc = jsondoc.parse(body)
    if not isinstance(doc, dict):
        raise InvalidInput("body", "must be a JSON object")
    if "events" not in doc:
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge("body", f"is larger than {MAX_BODY_BYTES} bytes (one event)")
        small = len(body) * 2 <= MAX_PROPERTIES_BYTES
        event = _event(doc, "", now, retention_days, backfill=False, small=small)
        return Accepted((event,), batch=False)
    extra = sorted(set(doc) - {"events"})
    if extra:
        raise InvalidInput(extra[0], "is not a known field (a batch holds only events)")
    listed = doc["events"]
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_BATCH:
        raise InvalidInput("events", f"must be a list of 1 to {MAX_BATCH} events")
    events = [
        _event(item, f"events[{i}].", now, retention_days, backfill=True)
        for i, item in enumerate(listed)
    ]
    seen: dict[tuple[str, str], int] = {}
    for i, event in enumerate(events):
        key = (event.event_id, event.contact_id or event.email_hash or "")
        if key in seen:
            raise InvalidInput(f"events[{i}].event_id", f"repeats events[{seen[key]}]")
        seen[key] = i
    return Accepted(tuple(events), batch=True)


def save(table: store.Table, parking: Parking, accepted: Accepted) -> dict[str, Any]:
    """Store what a request carried; the answer says what was stored."""
    if accepted.batch:
        record_batch(table, accepted.events)
        return {"accepted": len(accepted.events)}
    [event] = accepted.events
    return {"event_id": event.event_id, "duplicate": not record(table, parking, event)}


def record(table: store.Table, parking: Parking, event: store.ProductEvent) -> bool:
    """Store one event with one conditional write; False when it was stored before."""
    return commit(table, parking, event.write())


def record_batch(table: store.Table, events: tuple[store.ProductEvent, ...]) -> int:
    """Store a backfill in batches of 25 (an event stored before is rewritten unchanged)."""
    return table.put_batch(store.product_event_item(event) for event in events)


def resolve(table: store.Table, addressed: Mapping[str, Any]) -> str | None:
    """Put an event named by email address on the timeline of the contact holding it; the
    contact id, or None for an address no contact holds (the event expires unused)."""
    digest = str(addressed.get("email_hash", ""))
    contact_id = table.claimed_ids([digest]).get(digest)
    if contact_id is None:
        return None
    event = store.ProductEvent(
        str(addressed["name"]),
        str(addressed["event_id"]),
        str(addressed["at"]),
        dict(addressed.get("properties") or {}),
        contact_id=contact_id,
        expires_at=int(addressed["ttl"]) if addressed.get("ttl") is not None else None,
        backfill=bool(addressed.get("backfill", False)),
    )
    table.apply(event.write())
    return contact_id


# --- fields ------------------------------------------------------------------------------------


def _event(
    doc: Any, prefix: str, now: float, retention_days: int, *, backfill: bool, small: bool = False
) -> store.ProductEvent:
    """One event; `small` says the whole body is at most half the properties limit, so its
    properties' stored text is within it without measuring it (numbers re-spelt stay well
    inside)."""
    if not isinstance(doc, dict):
        raise InvalidInput(prefix.rstrip(".") or "body", "must be a JSON object")
    if not doc.keys() <= _KNOWN:
        unknown = sorted(set(doc) - _KNOWN)
        raise InvalidInput(prefix + unknown[0], f"is not a known field ({', '.join(FIELDS)})")
    event_id = _matching(doc, "event_id", prefix, _ID, "1-128 of A-Z a-z 0-9 . _ : @ -")
    name = _matching(doc, "name", prefix, _NAME, "a letter, then up to 63 of A-Z a-z 0-9 . _ : -")
    at = _at(doc, prefix, now, retention_days)
    contact_id, email_hash = _contact(doc, prefix)
    properties = doc.get("properties")
    if properties is None:
        properties = {}
    _check(properties, f"{prefix}properties", 1)
    if not isinstance(properties, dict):
        raise InvalidInput(f"{prefix}properties", "must be a JSON object")
    size = 0 if small else len(jsontext.text(properties).encode())
    if size > MAX_PROPERTIES_BYTES:
        raise InvalidInput(
            f"{prefix}properties", f"is {size} bytes; the limit is {MAX_PROPERTIES_BYTES}"
        )
    return store.ProductEvent(
        name,
        event_id,
        at,
        properties,
        contact_id=contact_id,
        email_hash=email_hash,
        expires_at=int(now) + retention_days * DAY,
        backfill=backfill,
    )


def _text(doc: Mapping[str, Any], name: str, prefix: str) -> str:
    value = doc.get(name)
    if value is None:
        raise InvalidInput(prefix + name, "is required")
    if not isinstance(value, str):
        raise InvalidInput(prefix + name, "must be a string")
    return value


def _matching(
    doc: Mapping[str, Any], name: str, prefix: str, pattern: re.Pattern[str], what: str
) -> str:
    value = _text(doc, name, prefix)
    if not pattern.fullmatch(value):
        raise InvalidInput(prefix + name, f"must be {what}")
    return value


def _at(doc: Mapping[str, Any], prefix: str, now: float, retention_days: int) -> str:
    text = _text(doc, "at", prefix)
    if not _STAMP.fullmatch(text):
        raise InvalidInput(
            prefix + "at", "must be an ISO 8601 time with a UTC offset, like 2026-03-01T09:30:00Z"
        )
    try:
        moment = datetime.fromisoformat(text)  # the pattern requires an offset
    except ValueError:
        raise InvalidInput(prefix + "at", f"{text!r} is not a real time") from None
    seconds = moment.timestamp()
    if seconds > now + FUTURE_SECONDS:
        raise InvalidInput(prefix + "at", "is in the future")
    if seconds < now - retention_days * DAY:
        raise InvalidInput(prefix + "at", f"is older than the {retention_days}-day event retention")
    return iso_utc(moment.astimezone(UTC))


def _contact(doc: Mapping[str, Any], prefix: str) -> tuple[str | None, str | None]:
    value = _text(doc, "contact", prefix)
    if is_email(value):
        try:
            return None, hash_identity(normalise_email(value)[1])
        except ValueError as exc:
            raise InvalidInput(prefix + "contact", f"is not an email address: {exc}") from None
    if not _CONTACT_ID.fullmatch(value):
        raise InvalidInput(prefix + "contact", "must be a contact id or an email address")
    return value, None


def _check(value: Any, path: str, depth: int) -> None:
    """Property values: objects, lists, text, numbers DynamoDB stores, true/false, null. Told
    apart by exact type, as parsed JSON has them: the cheap test on the hot path."""
    kind = type(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            raise InvalidInput(path, f"nests deeper than {MAX_DEPTH} levels")
        if len(value) > MAX_KEYS:
            raise InvalidInput(path, f"has more than {MAX_KEYS} keys")
        for key, item in value.items():
            # A letter or _, then up to 63 of A-Z a-z 0-9 _: an ASCII identifier (these three
            # tests cost a sixth of a regular expression's, and they run for every key)
            if not (key.isascii() and key.isidentifier() and len(key) <= 64):
                raise InvalidInput(
                    f"{path}.{key[:64]}",
                    "property names are a letter or _, then up to 63 of A-Z a-z 0-9 _",
                )
            if type(item) is not str or len(item) > MAX_TEXT:  # short text: nothing to check
                _check(item, f"{path}.{key}", depth + 1)
    elif kind is list:
        if depth > MAX_DEPTH:
            raise InvalidInput(path, f"nests deeper than {MAX_DEPTH} levels")
        if len(value) > MAX_ITEMS:
            raise InvalidInput(path, f"has more than {MAX_ITEMS} items")
        for i, item in enumerate(value):
            if type(item) is not str or len(item) > MAX_TEXT:
                _check(item, f"{path}[{i}]", depth + 1)
    elif kind is int or kind is Decimal:
        try:
            numbers.storable(value)
        except ValueError as exc:
            raise InvalidInput(path, str(exc)) from None
    elif kind is str:
        if len(value) > MAX_TEXT:
            raise InvalidInput(path, f"is longer than {MAX_TEXT} characters")
    elif kind is not bool and value is not None:
        raise InvalidInput(path, "must be an object, a list, text, a number, true/false or null")

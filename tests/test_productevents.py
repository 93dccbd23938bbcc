"""`POST /api/events`: signed, strictly validated, one write and no read, idempotent on the
event id, parked when the table fails; events named by address reach their contact."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from hypothesis import given
from hypothesis import strategies as st

from app import replay_parked
from chalicelib import productevents, services
from chalicelib.conversions import sign_request
from chalicelib.errors import InvalidInput
from chalicelib.stamps import iso
from chalicelib.store import Table, jsontext
from tests.conftest import CONVERSION_SECRET

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/nurture-park"


def at(seconds_ago: float = 60) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def event(**overrides: Any) -> dict[str, Any]:
    doc = {
        "event_id": "cart-1",
        "contact": "ann",
        "name": "cart_updated",
        "properties": {
            "cart_url": "https://shop.example/cart/9",
            "total": 49.9,
            "items": [{"sku": "a-1", "qty": 2}],
        },
        "at": at(),
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def post(
    client: Client, doc: Any, *, raw: bytes | None = None, signature: str | None = None
) -> Any:
    body = raw if raw is not None else json.dumps(doc).encode()
    header = (
        sign_request(CONVERSION_SECRET, body, int(time.time())) if signature is None else signature
    )
    return client.http.post(
        "/api/events",
        headers={"content-type": "application/json", "x-nurture-signature": header},
        body=body,
    )


def product_events(table: Table, contact: str = "ann") -> list[dict[str, Any]]:
    return [e for e in table.events(contact) if e["type"] == "event"]


def test_one_event_is_stored_once_on_the_contacts_timeline(client: Client, table: Table) -> None:
    doc = event()
    first = post(client, doc)
    again = post(client, doc)
    assert (first.status_code, json.loads(first.body)) == (
        200,
        {"event_id": "cart-1", "duplicate": False},
    )
    assert json.loads(again.body) == {"event_id": "cart-1", "duplicate": True}
    [stored] = product_events(table)
    assert stored["name"] == "cart_updated" and stored["event_id"] == "cart-1"
    assert stored["properties"]["cart_url"] == "https://shop.example/cart/9"
    assert stored["properties"]["items"] == [{"sku": "a-1", "qty": 2}]
    assert "backfill" not in stored and stored["ttl"] > time.time()


def test_the_hot_path_is_one_write_and_no_read(client: Client, table: Table) -> None:
    calls: list[str] = []

    def seen(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb", seen, unique_id="count-calls")
    try:
        post(client, event(contact="Ann@Example.com"))
        post(client, event(event_id="cart-2"))
    finally:
        events.unregister("before-call.dynamodb", unique_id="count-calls")
    assert calls == ["PutItem", "PutItem"]


def test_a_backfill_is_stored_in_batches_and_starts_nothing(client: Client, table: Table) -> None:
    batch = {
        "events": [
            event(event_id=f"o-{n}", name="order_placed", at=at(86_400 * n)) for n in range(30)
        ]
    }
    answer = post(client, batch)
    assert (answer.status_code, json.loads(answer.body)) == (200, {"accepted": 30})
    assert post(client, batch).status_code == 200  # again: rewritten, not doubled
    stored = product_events(table)
    assert len(stored) == 30 and all(e["backfill"] is True for e in stored)


@pytest.mark.parametrize(
    "signature",
    ["", "t=1,v1=00", "v1=deadbeef", f"t={int(time.time()) - 3600},v1=00"],
)
def test_unsigned_or_badly_signed_requests_store_nothing(
    client: Client, table: Table, signature: str
) -> None:
    answer = post(client, event(), signature=signature)
    assert answer.status_code == 401
    assert product_events(table) == []


DEEP = {"a": {"b": {"c": {"d": {"e": 1}}}}}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (event(event_id=None), "event_id"),
        (event(event_id="has space"), "event_id"),
        (event(event_id="x" * 129), "event_id"),
        (event(name="9lives"), "name"),
        (event(name=""), "name"),
        (event(name=7), "name"),
        (event(contact=None), "contact"),
        (event(contact="not@an@address"), "contact"),
        (event(contact="-rf"), "contact"),
        (event(at=None), "at"),
        (event(at="2026-01-01T10:00:00"), "at"),
        (event(at="2026-02-30T10:00:00Z"), "at"),
        (event(at="yesterday"), "at"),
        (event(at=at(-3600)), "at"),
        (event(at="1990-01-01T00:00:00Z"), "at"),
        (event(properties=[1, 2]), "properties"),
        (event(properties={"bad key": 1}), "properties.bad key"),
        (event(properties={"x": "y" * 1001}), "properties.x"),
        (event(properties=DEEP), "properties.a.b.c.d"),
        (event(properties={"k": list(range(101))}), "properties.k"),
        (event(properties={f"k{n}": n for n in range(51)}), "properties"),
        (event(properties={f"k{n}": "v" * 900 for n in range(6)}), "properties"),
        (event(extra=1), "extra"),
        ({"events": []}, "events"),
        ({"events": [event(), event(event_id="x", name="!")]}, "events[1].name"),
        ({"events": [event(), event()]}, "events[1].event_id"),
        ({"events": [event()], "more": 1}, "more"),
        ([event()], "body"),
    ],
)
def test_bad_events_are_400_naming_the_field_and_store_nothing(
    client: Client, table: Table, doc: Any, field: str
) -> None:
    answer = post(client, doc)
    assert answer.status_code == 400, answer.body
    assert json.loads(answer.body)["error"].startswith(f"{field}: ")
    assert product_events(table) == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"event_id": "a", "properties": {"n": 1e200}}', 400),
        (b'{"event_id": "a", "properties": {"n": NaN}}', 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b'{"events": [' + b" " * 1024 * 1024 + b"]}", 413),
        (json.dumps(event(properties={"k": "v" * 900}) | {"pad": " " * 20_000}).encode(), 413),
        (b"\xff\xfe", 400),
        (b'{"properties": {"n": 1' + b"0" * 5000 + b"}}", 400),
    ],
)
def test_hostile_bodies_are_refused_cleanly(
    client: Client, table: Table, raw: bytes, status: int
) -> None:
    assert post(client, None, raw=raw).status_code == status
    assert product_events(table) == []


def test_a_number_past_dynamodbs_range_is_named(client: Client, table: Table) -> None:
    raw = json.dumps(event()).replace('"total": 49.9', '"total": 1e200').encode()
    answer = post(client, None, raw=raw)
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"].startswith("properties.total: ")


def fail(**_: object) -> None:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")


def test_a_failed_write_is_parked_and_replayed_once(client: Client, table: Table) -> None:
    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.PutItem", fail, unique_id="fail-put")
    try:
        answer = post(client, event())
    finally:
        events.unregister("before-call.dynamodb.PutItem", unique_id="fail-put")
    assert answer.status_code == 200 and product_events(table) == []
    messages = services.client("sqs").receive_message(QueueUrl=QUEUE, MaxNumberOfMessages=10)[
        "Messages"
    ]
    records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
    for _ in range(2):
        assert replay_parked({"Records": records}, None) == {"batchItemFailures": []}
    assert len(product_events(table)) == 1


NOW = 1_800_000_000.0


@given(
    moment=st.datetimes(
        min_value=datetime(2027, 1, 1),
        max_value=datetime(2027, 1, 15, 7, 59),
        timezones=st.just(UTC),
    ),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    digits=st.sampled_from([0, 1, 3, 6]),
)
def test_an_events_time_is_stored_as_the_table_spells_that_instant(
    moment: datetime, offset_minutes: int, digits: int
) -> None:
    """However the sender writes the instant (offset, fraction digits), `at` is `iso` of it: a
    retried event keeps its key."""
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.isoformat(timespec="seconds" if digits == 0 else "microseconds")
    if digits not in (0, 6):
        head, dot, rest = text.partition(".")
        text = head + dot + rest[:digits] + rest[6:]
    doc = {"event_id": "e-1", "contact": "ann", "name": "viewed", "at": text}
    [parsed] = productevents.parse(json.dumps(doc).encode(), NOW, 400).events
    assert parsed.at == iso(datetime.fromisoformat(text).timestamp())


@given(key=st.text(max_size=70) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,70}", fullmatch=True))
def test_property_names_are_a_letter_or_underscore_then_up_to_63_more(key: str) -> None:
    doc = {"event_id": "e-1", "contact": "ann", "name": "viewed", "at": iso(NOW - 60)}
    body = json.dumps({**doc, "properties": {key: 1}}).encode()
    named = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key) is not None
    try:
        productevents.parse(body, NOW, 400)
    except InvalidInput as exc:
        assert not named and str(exc).startswith("properties.")
    else:
        assert named


SCALARS = (
    st.none()
    | st.booleans()
    | st.text(max_size=20)
    | st.integers(-(10**38) + 1, 10**38 - 1)
    | st.decimals(allow_nan=False, allow_infinity=False)
)


def exact(value: Any) -> Any:
    """An independent statement of what reading back gives: every number a Decimal of the same
    digits and exponent (ints as Decimals, as DynamoDB's own numbers read back)."""
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.recursive(
            SCALARS,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner),
            max_leaves=12,
        ),
        max_size=6,
    )
)
def test_properties_stored_as_text_read_back_exactly(properties: dict[str, Any]) -> None:
    stored = jsontext.text(properties)
    assert json.loads(stored, parse_float=Decimal, parse_int=Decimal) == exact(properties)
    assert repr(jsontext.document(stored)) == repr(exact(properties))


def test_an_events_properties_are_one_text_attribute(client: Client, table: Table) -> None:
    """One attribute of JSON text, not a map: botocore validates and serialises a nested map
    attribute by attribute, on the hot path (benchmarks/hot_path.py)."""
    post(client, event())
    [raw] = services.client("dynamodb").scan(TableName=table.name)["Items"]
    assert set(raw["properties"]) == {"S"}
    assert json.loads(raw["properties"]["S"]) == {
        "cart_url": "https://shop.example/cart/9",
        "total": 49.9,
        "items": [{"sku": "a-1", "qty": 2}],
    }


def test_the_properties_limit_is_on_their_stored_text(client: Client, table: Table) -> None:
    """4,096 bytes of stored JSON text are accepted to the byte, however spaced the request
    was; one byte more is a 400 naming the field and its size."""
    lines = ["é" * 16] * 100  # two bytes a character: bytes, not characters, are counted
    base = len(jsontext.text({"lines": lines, "note": ""}).encode())
    fits = {"lines": lines, "note": "n" * (4096 - base)}
    assert len(json.dumps(fits, ensure_ascii=False).encode()) > 4096  # as sent, spaced
    assert post(client, event(properties=fits)).status_code == 200
    over = {"lines": lines, "note": "n" * (4097 - base)}
    answer = post(client, event(event_id="cart-2", properties=over))
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"] == ("properties: is 4097 bytes; the limit is 4096")
    assert [e["event_id"] for e in product_events(table)] == ["cart-1"]

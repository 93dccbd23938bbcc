from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from chalice.test import Client

from chalicelib import render, services
from chalicelib.conversions import sign_request
from chalicelib.store import Table
from chalicelib.tokens import Purpose, verify
from tests.conftest import CONVERSION_SECRET, events_of, token_for


def post(
    client: Client,
    doc: object,
    *,
    secret: str = CONVERSION_SECRET,
    skew: int = 0,
    raw: bytes | None = None,
    signature: str | None = None,
):
    body = raw if raw is not None else json.dumps(doc).encode()
    header = (
        signature if signature is not None else sign_request(secret, body, int(time.time()) + skew)
    )
    return client.http.post(
        "/api/conversions",
        body=body,
        headers={"content-type": "application/json", "x-nurture-signature": header},
    )


def order(conversion_id: str = "order-1001") -> dict[str, object]:
    return {
        "conversion_id": conversion_id,
        "token": token_for(Purpose.CONVERSION),
        "value": 49.9,
        "currency": "EUR",
    }


def test_conversion_is_attributed_and_counted_once(client: Client, table: Table) -> None:
    doc = order()
    first = post(client, doc)
    assert first.status_code == 200
    assert json.loads(first.body) == {
        "conversion_id": "order-1001",
        "contact_id": "alice",
        "send_id": "send-1",
        "duplicate": False,
    }
    replay = post(client, doc)
    assert replay.status_code == 200 and json.loads(replay.body)["duplicate"] is True
    [converted] = events_of(table, kind="converted")
    assert (converted["send_id"], converted["value"], converted["currency"]) == (
        "send-1",
        Decimal("49.9"),
        "EUR",
    )
    post(client, order("order-1002"))
    assert len(events_of(table, kind="converted")) == 2


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"secret": "wrong-secret-0123456789"}, b"does not match"),
        ({"skew": -3600}, b"outside the allowed window"),
        ({"skew": 3600}, b"outside the allowed window"),
        ({"signature": ""}, b"malformed timestamp"),
        ({"signature": "t=abc,v1=00"}, b"malformed timestamp"),
    ],
)
def test_bad_signatures_are_401(client: Client, table: Table, kwargs: dict, problem: bytes) -> None:
    response = post(client, order(), **kwargs)
    assert response.status_code == 401 and problem in response.body
    assert events_of(table) == []


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"token": "x"}, "conversion_id"),
        ({"conversion_id": "o 1", "token": "x"}, "conversion_id"),
        ({"conversion_id": "o1"}, "token"),
        ({"conversion_id": "o1", "token": "forged.token"}, "token"),
        ({"conversion_id": "o1", "token": "T", "value": "10"}, "value"),
        ({"conversion_id": "o1", "token": "T", "value": -1}, "value"),
        ({"conversion_id": "o1", "token": "T", "currency": "euro"}, "currency"),
        ({"conversion_id": "o1", "token": "T", "amount": 3}, "amount"),
        ([1, 2], "body"),
    ],
)
def test_bad_fields_are_400_naming_the_field(
    client: Client, table: Table, doc: object, field: str
) -> None:
    if isinstance(doc, dict) and doc.get("token") == "T":
        doc["token"] = token_for(Purpose.CONVERSION)
    response = post(client, doc)
    assert response.status_code == 400
    assert json.loads(response.body)["error"].startswith(f"{field}:")
    assert events_of(table) == []


def test_malformed_json_is_400(client: Client, table: Table) -> None:
    response = post(client, None, raw=b'{"conversion_id": ')
    assert response.status_code == 400
    assert json.loads(response.body)["error"] == "body: is not valid JSON"


def test_click_token_is_not_a_conversion_token(client: Client, table: Table) -> None:
    doc = {"conversion_id": "o1", "token": token_for(Purpose.CLICK, link=0, url="https://e.x/")}
    assert post(client, doc).status_code == 400


def test_a_conversion_token_from_an_email_link_attributes_the_sale(
    client: Client, table: Table
) -> None:
    """The template puts `conversion_token` into the landing-page link; the shop hands it back."""
    prepared = render.prepare(
        render.TemplateSet(
            "Hi", '<a href="https://shop.example/p?nt={{ conversion_token }}">Buy</a>'
        ),
        {},
        contact_id="bob",
        send_id="send-7",
        issued_at=int(time.time()) - 60,
        keyring=services.keyring(),
        base_url="https://t.example.test",
    )
    [click_token] = re.findall(r"/c/([A-Za-z0-9_.-]+)", prepared.html)
    landing = verify(click_token, Purpose.CLICK, services.keyring()).url or ""
    nt = parse_qs(urlsplit(landing).query)["nt"][0]
    answer = post(client, {"conversion_id": "order-77", "token": nt})
    assert json.loads(answer.body) == {
        "conversion_id": "order-77",
        "contact_id": "bob",
        "send_id": "send-7",
        "duplicate": False,
    }

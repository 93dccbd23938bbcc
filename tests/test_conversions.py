from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import Any
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
    # A replay answers the conversion as first recorded, even with another contact's token.
    replay = post(client, {**doc, "token": token_for(Purpose.CONVERSION, "mallory", "send-9")})
    assert replay.status_code == 200
    assert json.loads(replay.body) == {**json.loads(first.body), "duplicate": True}
    assert events_of(table, "mallory") == []
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
    assert json.loads(response.body)["error"].startswith("body: is not valid JSON")


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


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"conversion_id": "o1", "token": "T", "value": -0}', "value: must be a number from 0"),
        (b'{"conversion_id": "o1", "token": "T", "value": -0.0}', "value: must be a number from 0"),
        (b'{"conversion_id": "o1", "token": "T", "value": 1e999}', "value: is outside"),
        (b'{"conversion_id": "o1", "token": "T", "value": 1e-200}', "value: is outside"),
        (
            b'{"conversion_id": "o1", "token": "T", "value": '
            b"1.00000000000000000000000000000000000001}",
            "value: has more than 38 significant digits",
        ),
        (b'{"conversion_id": "o1", "token": "T", "value": NaN}', "body: is not valid JSON"),
        (b'{"conversion_id": "o1", "token": "T", "value": Infinity}', "body: is not valid JSON"),
        (b'{"conversion_id": "o1", "token": "T", "value": ' + b"9" * 5000 + b"}", "value:"),
        (b'{"conversion_id": "o1", "token": "T", "currency": "ZZZ"}', "currency: must be an ISO"),
        (b'{"conversion_id": "o1", "token": "T", "currency": "XTS"}', "currency: must be an ISO"),
        (b'{"conversion_id": "\\ud800", "token": "T"}', "body: holds a lone UTF-16 surrogate"),
        (b"[" * 8000 + b"]" * 8000, "body: is nested too deeply"),
        (b'\xef\xbb\xbf{"conversion_id": "o1"}', "body: is not valid JSON"),
        (b'{"conversion_id": "o1", "token": "T", "value": 0.1}' + b" " * 17_000, "body: is larger"),
    ],
)
def test_numbers_and_documents_a_store_would_refuse_are_400(
    client: Client, table: Table, raw: bytes, problem: str
) -> None:
    raw = raw.replace(b'"T"', json.dumps(token_for(Purpose.CONVERSION)).encode())
    response = post(client, None, raw=raw)
    assert response.status_code in (400, 413)
    assert json.loads(response.body)["error"].startswith(problem)
    assert events_of(table) == [] and table.recorded_conversion("o1") is None


def test_a_storable_value_at_the_edges_is_kept_exactly(client: Client, table: Table) -> None:
    doc = {**order(), "value": Decimal("999999999999.9999999999999999999999999"), "currency": "JPY"}
    assert (
        post(
            client,
            None,
            raw=json.dumps(doc, default=str).replace('"999', "999").replace('99"', "99").encode(),
        ).status_code
        == 200
    )
    [converted] = events_of(table, kind="converted")
    assert converted["value"] == Decimal("999999999999.9999999999999999999999999")


@pytest.mark.parametrize(
    "spell",
    [
        lambda t, v: f"t={t}, v1={v}",
        lambda t, v: f" t = {t} ,v1={v} ",
        lambda t, v: f"v1={'0' * 64},t={t},v1={v}",
        lambda t, v: f"t={t},v1={v.upper()}",
    ],
)
def test_signature_spellings_that_verify(client: Client, table: Table, spell: Any) -> None:
    body = json.dumps(order()).encode()
    stamp, digest = sign_request(CONVERSION_SECRET, body, int(time.time())).split(",")
    header = spell(stamp.removeprefix("t="), digest.removeprefix("v1="))
    assert post(client, None, raw=body, signature=header).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "t=\u0661\u0667" + "\u0660" * 8 + ",v1=00",  # Arabic-Indic digits: int() takes them
        "t=1,t=2,v1=00",
        "t=" + "9" * 5000 + ",v1=00",
        "v1=00",
    ],
)
def test_malformed_signature_timestamps_are_401(client: Client, table: Table, header: str) -> None:
    response = post(client, order(), signature=header)
    assert response.status_code == 401 and b"malformed timestamp" in response.body


def test_a_surrogate_escape_next_to_a_decimal_is_a_400(client: Client, table: Table) -> None:
    raw = b'{"conversion_id": "o1", "token": "T", "value": 1.5, "currency": "\\ud800"}'
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert json.loads(response.body)["error"].startswith("body: holds a lone UTF-16 surrogate")


def test_conversion_secrets_have_a_secret_of_their_own_in_aws(table: Table) -> None:
    """The public function reads the conversion secrets from their own Secrets Manager secret
    (never the marketer's API keys); without one they come from the API keys document."""
    from chalicelib import secrets
    from chalicelib.config import Settings

    arn = services.client("secretsmanager").create_secret(
        Name="nurture/test/conversion-secrets",
        SecretString=json.dumps({"conversion_secrets": ["a-conversion-secret-of-its-own"]}),
    )["ARN"]
    own = Settings(conversion_secrets_secret=arn, api_keys=json.dumps({"api_keys": {}}))
    assert secrets.conversion_secrets(own) == ("a-conversion-secret-of-its-own",)
    inline = Settings(api_keys=json.dumps({"conversion_secrets": ["inline-secret-0123456789"]}))
    assert secrets.conversion_secrets(inline) == ("inline-secret-0123456789",)

"""The public function answers HTTP API events of both payload formats through the same Chalice
routes: each request below is AWS's documented example event of that format (fixtures in
tests/fixtures/apigw) with the route's fields filled in."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Response

from app import public
from chalicelib import conversions, httpapi, services, store, web
from chalicelib.store import Table
from chalicelib.tokens import Purpose
from chalicelib.web import PIXEL
from tests.conftest import CONVERSION_SECRET, events_of, token_for

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "apigw"
V2 = json.loads((FIXTURES / "http-api-v2.json").read_text())
V1 = json.loads((FIXTURES / "http-api-v1.json").read_text())
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"
FORMATS = ("2.0", "1.0")


def request(
    version: str,
    method: str,
    route: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    encode: bool = True,
) -> dict[str, Any]:
    """The documented example of `version` with this route, path, headers and body."""
    path = route.replace("{token}", token or "")
    sent = {"user-agent": BROWSER, **(headers or {})}
    payload = (base64.b64encode(body).decode() if encode else body.decode()) if body else None
    if version == "2.0":
        event = copy.deepcopy(V2)
        for absent in ("cookies", "queryStringParameters", "stageVariables"):
            event.pop(absent)
        event.update(routeKey=f"{method} {route}", rawPath=path, rawQueryString="", headers=sent)
        event["requestContext"]["routeKey"] = event["routeKey"]
        event["requestContext"]["http"].update(method=method, path=path, userAgent=BROWSER)
        event["pathParameters"] = {"token": token} if token else None
        if payload is None:
            event.pop("body")
        else:
            event["body"] = payload
        event["isBase64Encoded"] = bool(body) and encode
        if not token:
            event.pop("pathParameters")
        return event
    event = copy.deepcopy(V1)
    event.update(
        resource=route,
        path=path,
        httpMethod=method,
        headers=sent,
        multiValueHeaders={k: [v] for k, v in sent.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        pathParameters={"token": token} if token else None,
        body=payload,
        isBase64Encoded=bool(body) and encode,
    )
    event["requestContext"].update(httpMethod=method, resourcePath=route, path=path)
    return event


def body_of(answer: dict[str, Any]) -> bytes:
    raw = answer.get("body") or ""
    return base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode()


def lower(headers: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize("version", FORMATS)
@pytest.mark.parametrize("accept", [None, "image/webp,*/*", "text/html", "application/json"])
def test_the_pixel_is_the_same_gif_for_every_accept_header(
    table: Table, version: str, accept: str | None
) -> None:
    contact = f"pixel-{version}-{accept}"
    token = token_for(Purpose.OPEN, contact, "send-px")
    answer = public(
        request(version, "GET", "/o/{token}", token, {"accept": accept} if accept else {}), None
    )
    assert answer["statusCode"] == 200
    assert body_of(answer) == PIXEL
    assert lower(answer["headers"])["content-type"] == "image/gif"
    assert lower(answer["headers"])["cache-control"].startswith("no-store")
    [event] = events_of(table, contact)
    assert (event["type"], event["verdict"]) == ("opened", "human")


@pytest.mark.parametrize("version", FORMATS)
def test_a_bad_token_gets_the_gif_and_records_nothing(table: Table, version: str) -> None:
    answer = public(request(version, "GET", "/o/{token}", "not-a-token"), None)
    assert (answer["statusCode"], body_of(answer)) == (200, PIXEL)
    assert table.client.scan(TableName=table.name)["Count"] == 0


@pytest.mark.parametrize("version", FORMATS)
@pytest.mark.parametrize(("method", "verdict"), [("GET", "human"), ("HEAD", "scanner")])
def test_a_click_redirects_to_the_signed_destination(
    table: Table, version: str, method: str, verdict: str
) -> None:
    contact = f"click-{version}-{method}"
    url = "https://example.com/pricing?plan=team#compare"
    token = token_for(Purpose.CLICK, contact, "send-c", link=2, url=url)
    answer = public(request(version, method, "/c/{token}", token), None)
    assert answer["statusCode"] == 302
    assert lower(answer["headers"])["location"] == url
    [event] = events_of(table, contact)
    assert event["verdict"] == verdict
    forged = public(request(version, "GET", "/c/{token}", token[:-2] + "xx"), None)
    assert forged["statusCode"] == 404 and "location" not in lower(forged["headers"])


@pytest.mark.parametrize("version", FORMATS)
@pytest.mark.parametrize("encode", [True, False])
def test_the_preferences_page_and_one_click_unsubscribe(
    table: Table, version: str, encode: bool
) -> None:
    contact = f"unsub-{version}-{encode}"
    table.put_profile(contact, {"email": f"{contact}@example.com"})
    token = token_for(Purpose.UNSUBSCRIBE, contact)
    page = public(request(version, "GET", "/u/{token}", token), None)
    assert page["statusCode"] == 200 and b"<form" in body_of(page)
    assert not events_of(table, contact, "unsubscribed")
    form = {"content-type": "application/x-www-form-urlencoded"}
    done = public(
        request(version, "POST", "/u/{token}", token, form, b"List-Unsubscribe=One-Click", encode),
        None,
    )
    assert done["statusCode"] == 200 and b"unsubscribed" in body_of(done)
    assert (table.profile(contact) or {})["status"] == "unsubscribed"
    assert len(events_of(table, contact, "unsubscribed")) == 1


@pytest.mark.parametrize("version", FORMATS)
def test_a_signed_conversion_is_recorded_once(table: Table, version: str) -> None:
    contact = f"buyer-{version}"
    doc = {"conversion_id": f"order-{version}", "token": token_for(Purpose.CONVERSION, contact)}
    body = json.dumps(doc).encode()
    signed = {
        "content-type": "application/json",
        conversions.SIGNATURE_HEADER: conversions.sign_request(
            CONVERSION_SECRET, body, int(time.time())
        ),
    }
    first = public(request(version, "POST", "/api/conversions", None, signed, body), None)
    again = public(request(version, "POST", "/api/conversions", None, signed, body), None)
    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert [json.loads(body_of(a))["duplicate"] for a in (first, again)] == [False, True]
    assert len(events_of(table, contact, "converted")) == 1
    unsigned = public(
        request(
            version, "POST", "/api/conversions", None, {"content-type": "application/json"}, body
        ),
        None,
    )
    assert unsigned["statusCode"] == 401


def test_a_request_outside_the_routes_is_a_404_not_a_500(table: Table) -> None:
    answer = public(copy.deepcopy(V2), None)  # the documented example itself: route $default
    assert answer["statusCode"] == 404


def test_two_point_oh_answers_join_repeated_headers_and_carry_cookies() -> None:
    answer = Response(
        body=b"x",
        status_code=200,
        headers={"Set-Cookie": ["a=1", "b=2"], "Vary": ["Accept", "Accept-Language"], "X": "y"},
    ).to_dict(["*/*"])
    shaped = httpapi.http_answer(answer)
    assert shaped["cookies"] == ["a=1", "b=2"]
    assert shaped["headers"]["Vary"] == "Accept,Accept-Language" and shaped["headers"]["X"] == "y"
    assert "multiValueHeaders" not in shaped and shaped["statusCode"] == 200


def test_two_point_oh_events_keep_cookies_and_repeated_query_values() -> None:
    rest = httpapi.rest_event(V2)
    assert rest["headers"]["cookie"] == "cookie1; cookie2"
    assert rest["multiValueQueryStringParameters"] == {
        "parameter1": ["value1", "value2"],
        "parameter2": ["value"],
    }
    assert rest["requestContext"]["identity"]["sourceIp"] == "192.0.2.1"
    assert rest["body"] == "Hello from Lambda" and rest["isBase64Encoded"] is False


@pytest.mark.parametrize("version", FORMATS)
def test_a_signed_product_event_is_stored_once(table: Table, version: str) -> None:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc = {"event_id": "cart-1", "contact": "alice", "name": "cart_updated", "at": at}
    body = json.dumps({**doc, "properties": {}}).encode()
    signature = conversions.sign_request(CONVERSION_SECRET, body, int(time.time()))
    headers = {"content-type": "application/json", "x-nurture-signature": signature}
    for duplicate in (False, True):
        answer = public(request(version, "POST", "/api/events", None, headers, body), None)
        assert answer["statusCode"] == 200
        assert json.loads(body_of(answer))["duplicate"] is duplicate
    assert [e["name"] for e in events_of(table, "alice", store.PRODUCT_EVENT)] == ["cart_updated"]
    unsigned = {"content-type": "application/json"}
    answer = public(request(version, "POST", "/api/events", None, unsigned, body), None)
    assert answer["statusCode"] == 401


def signed_event(event_id: str, contact: str) -> tuple[bytes, str]:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc = {"event_id": event_id, "contact": contact, "name": "cart_updated", "at": at}
    body = json.dumps(doc).encode()
    return body, conversions.sign_request(CONVERSION_SECRET, body, int(time.time()))


@pytest.mark.parametrize("version", FORMATS)
@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=utf-8", None]
)
def test_a_json_content_type_in_any_spelling_or_none_is_taken(
    table: Table, version: str, content_type: str | None
) -> None:
    """A route's own content type (any case, with parameters) goes straight to the view; none
    at all is JSON, as Chalice reads it."""
    contact = f"spelt-{version}-{content_type is None}-{(content_type or '').islower()}"
    body, signature = signed_event("cart-spelt", contact)
    headers = {"x-nurture-signature": signature}
    if content_type is not None:
        headers["content-type"] = content_type
    answer = public(request(version, "POST", "/api/events", None, headers, body), None)
    assert answer["statusCode"] == 200, body_of(answer)
    assert [e["name"] for e in events_of(table, contact, store.PRODUCT_EVENT)] == ["cart_updated"]


@pytest.mark.parametrize("version", FORMATS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/jsonx", "json"])
def test_a_content_type_a_route_does_not_take_is_a_415_and_stores_nothing(
    table: Table, version: str, content_type: str
) -> None:
    body, signature = signed_event("cart-415", f"typed-{version}")
    headers = {"content-type": content_type, "x-nurture-signature": signature}
    answer = public(request(version, "POST", "/api/events", None, headers, body), None)
    assert answer["statusCode"] == 415
    assert json.loads(body_of(answer))["error"].startswith("content-type: ")
    assert table.client.scan(TableName=table.name)["Count"] == 0


@pytest.mark.parametrize("version", FORMATS)
def test_a_method_a_route_does_not_take_is_a_405_in_the_projects_shape(version: str) -> None:
    answer = public(request(version, "GET", "/api/events"), None)
    assert answer["statusCode"] == 405
    assert json.loads(body_of(answer)) == {"error": "method: GET is not allowed here"}
    assert lower(answer["headers"])["allow"] == "POST"


@pytest.mark.parametrize("version", FORMATS)
def test_an_unexpected_error_on_a_post_is_the_projects_500(
    table: Table, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import services

    def broken() -> Table:
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "table", broken)
    body, signature = signed_event("cart-500", f"broken-{version}")
    headers = {"content-type": "application/json", "x-nurture-signature": signature}
    answer = public(request(version, "POST", "/api/events", None, headers, body), None)
    assert answer["statusCode"] == 500
    assert json.loads(body_of(answer)) == {"error": "internal error"}


@pytest.mark.parametrize("version", FORMATS)
def test_an_unexpected_error_on_a_read_is_the_projects_500(
    table: Table, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pixel, click and page views run without Chalice's handler; an error they did not
    expect still answers the one error shape (and is logged), never a Lambda failure."""
    from chalicelib import services

    class Broken:
        def click(self, *_: Any) -> str:
            raise RuntimeError("boom")

    monkeypatch.setattr(services, "tracker", Broken)
    token = token_for(Purpose.CLICK, link=0, url="https://example.com/")
    answer = public(request(version, "GET", "/c/{token}", token), None)
    assert answer["statusCode"] == 500
    assert json.loads(body_of(answer)) == {"error": "internal error"}


LOADED_LATER = (
    "aws_lambda_powertools",
    "jinja2",
    "pydantic",
    "yaml",
    "chalicelib.productevents",
    "chalicelib.store.breakdown",
    "chalicelib.store.changes",
    "chalicelib.store.summaries",
    "chalicelib.streams",
    "chalicelib.send",
    "chalicelib.journey",
)
"""What the public function's cold start does not import: templating, validation models and
Powertools load on first use; stream, sending and sequencing code is never its business."""


def test_the_public_entry_imports_nothing_its_routes_load_later() -> None:
    script = "import app, sys; print('\\n'.join(sys.modules))"
    loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    early = [
        m for m in loaded if m in LOADED_LATER or m.startswith(tuple(f"{p}." for p in LOADED_LATER))
    ]
    assert early == [], f"imported by app.py: {early}"


def test_the_public_function_checks_events_with_its_conversion_secret(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deployed, the public function has the conversion secrets' own secret and no API keys
    (infra: its environment): a signed product event is accepted with that secret alone."""
    from chalicelib.config import settings

    own = "a-conversion-secret-of-its-own"
    arn = services.client("secretsmanager").create_secret(
        Name="nurture/test/conversion-secrets",
        SecretString=json.dumps({"conversion_secrets": [own]}),
    )["ARN"]
    monkeypatch.delenv("NURTURE_API_KEYS")
    monkeypatch.setenv("NURTURE_CONVERSION_SECRETS_SECRET", arn)
    settings.cache_clear()
    try:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc = {"event_id": "cart-1", "contact": "alice", "name": "cart_updated", "at": at}
        body = json.dumps(doc).encode()
        answers = []
        for secret in (CONVERSION_SECRET, own):
            signature = conversions.sign_request(secret, body, int(time.time()))
            headers = {"content-type": "application/json", "x-nurture-signature": signature}
            answer = public(request("2.0", "POST", "/api/events", None, headers, body), None)
            answers.append(answer["statusCode"])
    finally:
        monkeypatch.undo()
        settings.cache_clear()
    assert answers == [401, 200]
    assert [e["name"] for e in events_of(table, "alice", store.PRODUCT_EVENT)] == ["cart_updated"]


@pytest.mark.parametrize(
    "response",
    [
        web.gif(),
        web.redirect("https://example.com/pricing?plan=team#compare"),
        web.html("<p>é</p>", 404),
        web.json_doc({"event_id": "cart-1", "duplicate": False}, 200, {"X-Extra": "1"}),
        web.problem("credentials: unknown API key", 401, headers={"WWW-Authenticate": "Bearer"}),
        Response(body=b"x", headers={"Set-Cookie": ["a=1", "b=2"], "Vary": "Accept"}),
        Response(body={"not": "bytes"}, headers={"Content-Type": "application/json"}),
    ],
)
def test_direct_answers_are_what_chalice_would_answer(response: Response) -> None:
    assert web.lambda_answer(response, ["*/*"]) == response.to_dict(["*/*"])
    assert web.lambda_answer(response, ["image/gif"]) == response.to_dict(["image/gif"])

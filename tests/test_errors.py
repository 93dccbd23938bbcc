"""Domain errors, their HTTP answers (one table), and the one error shape of every answer."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

import app as routes
import chalicelib
from chalicelib import errors, services
from chalicelib.config import settings
from chalicelib.errors import TokenExpired, TokenInvalid
from chalicelib.store import Table
from chalicelib.tokens import Claims, Purpose, sign
from chalicelib.tracking import Tracker
from chalicelib.web import MAX_LISTED_ERRORS, MAX_MESSAGE, problem

KEY = {"authorization": "Bearer api-key-0123456789abcdef"}


def error_classes() -> list[type[errors.NurtureError]]:
    return [
        kind
        for _, kind in inspect.getmembers(errors, inspect.isclass)
        if issubclass(kind, errors.NurtureError) and kind is not errors.NurtureError
    ]


def test_domain_errors_live_in_the_errors_module() -> None:
    for module in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, stack = [], [errors.NurtureError]
    while stack:
        found += (subclasses := stack.pop().__subclasses__())
        stack += subclasses
    assert {kind.__module__ for kind in found} == {"chalicelib.errors"}


@pytest.mark.parametrize("kind", error_classes(), ids=lambda kind: kind.__name__)
def test_every_domain_error_has_an_http_answer_in_the_table(kind: type) -> None:
    mapped = [base for base in kind.__mro__ if base in routes.STATUS]
    assert mapped, f"{kind.__name__} has no entry (or base entry) in app.STATUS"
    assert 400 <= routes.STATUS[mapped[0]] <= 599


def test_subclasses_answer_as_their_nearest_listed_base() -> None:
    assert routes.status_of(TokenExpired(0, 1)) == 404
    assert routes.status_of(TokenInvalid("signature mismatch")) == 404
    assert routes.status_of(errors.BadTemplate("html", 3, "boom")) == 400
    assert routes.status_of(errors.TooLarge("body", "too big")) == 413
    assert routes.status_of(errors.FileInvalid("f", [])) == 422


def test_expired_and_forged_tokens_are_different_errors(table: Table) -> None:
    now = 1_800_000_000.0
    tracker = Tracker(settings(), services.keyring, table, services.parking(), lambda: now)
    issued = int(now) - (settings().link_max_age_days + 1) * 86400
    old = sign(Claims(Purpose.CLICK, "ann", "s1", issued, 0, "https://e.com/"), services.keyring())
    with pytest.raises(TokenExpired) as expired:
        tracker.click(old, "GET", "curl/8")
    assert expired.value.issued_at == issued
    assert expired.value.max_age_seconds == settings().link_max_age_days * 86400
    fresh = sign(
        Claims(Purpose.CLICK, "ann", "s1", int(now), 0, "https://e.com/"), services.keyring()
    )
    with pytest.raises(TokenInvalid):
        tracker.click(fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB"), "GET", "x")
    with pytest.raises(TokenInvalid):
        tracker.click(
            sign(Claims(Purpose.OPEN, "ann", "s1", int(now)), services.keyring()), "GET", "x"
        )


def shape(response: Any) -> dict[str, Any]:
    """The project's error shape: a JSON object with an `error` string."""
    assert response.headers["Content-Type"] == "application/json"
    doc = json.loads(response.body)
    assert isinstance(doc, dict) and isinstance(doc["error"], str) and doc["error"]
    return doc


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/enrollments", "text/plain"),
        ("/api/sequences", "application/json"),
        ("/api/contacts", "application/pdf"),
        ("/api/conversions", "text/html"),
        ("/u/some-token", "application/json"),
    ],
)
def test_chalices_unsupported_media_type_comes_in_our_shape(
    client: Client, table: Table, path: str, content_type: str
) -> None:
    response = client.http.post(path, headers={"content-type": content_type, **KEY}, body=b"{}")
    assert response.status_code == 415
    assert shape(response)["error"].startswith(f"content-type: '{content_type}' is not accepted")


def test_chalices_method_not_allowed_comes_in_our_shape(client: Client, table: Table) -> None:
    response = client.http.delete("/api/sequences", headers=KEY)
    assert response.status_code == 405
    assert shape(response)["error"] == "method: DELETE is not allowed here"
    assert "POST" in response.headers["Allow"]


def test_an_unexpected_failure_is_a_500_in_our_shape_without_details(
    client: Client, table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(services, "versions", broken)
    response = client.http.get("/api/sequences", headers=KEY)
    assert response.status_code == 500
    assert shape(response) == {"error": "internal error"}


def test_twenty_thousand_unknown_keys_get_a_small_reply(client: Client, table: Table) -> None:
    body = "".join(f"k{n:05}: 1\n" for n in range(20_000)).encode()
    response = client.http.post(
        "/api/sequences/validate", headers={"content-type": "application/yaml", **KEY}, body=body
    )
    assert response.status_code == 422
    doc = shape(response)
    assert len(response.body) < 64 * 1024
    assert len(doc["errors"]) == MAX_LISTED_ERRORS
    assert doc["more_errors"] >= 20_000 - MAX_LISTED_ERRORS
    assert doc["error"].endswith(f"(and {len(doc['errors']) + doc['more_errors'] - 1} more)")


def test_an_import_with_thousands_of_bad_rows_gets_a_small_reply(
    client: Client, table: Table
) -> None:
    csv = b"email,first_name\n" + b"".join(b"nobody-%d,N\n" % n for n in range(3000))
    response = client.http.post(
        "/api/contacts", headers={"content-type": "text/csv", **KEY}, body=csv
    )
    assert response.status_code == 422
    doc = shape(response)
    assert doc["error"] == "3000 rows rejected" and doc["imported"] == 0
    assert [row["line"] for row in doc["errors"]] == list(range(2, 2 + MAX_LISTED_ERRORS))
    assert doc["more_errors"] == 3000 - MAX_LISTED_ERRORS
    assert len(response.body) < 32 * 1024


@pytest.mark.parametrize(
    "path",
    [
        f"/api/sequences/{'x' * 5000}",
        f"/api/reports/{'x' * 300}",
        f"/api/schedule/preview?contact_id={'c' * 300}&sequence_id=s",
        "/api/schedule/preview?contact_id=%0a&sequence_id=s",
        "/api/sequences/course?version=%C2%B2",
        "/api/sequences/course?version=%D9%A3",
        f"/api/sequences/course?version={'9' * 5000}",
    ],
)
def test_ids_and_numbers_in_the_url_are_checked_at_the_edge(
    client: Client, table: Table, path: str
) -> None:
    response = client.http.get(path, headers=KEY)
    assert response.status_code == 400
    field = shape(response)["error"].split(":")[0]
    assert field in {"sequence_id", "contact_id", "version"}


def test_long_messages_and_lists_are_clipped() -> None:
    doc = json.loads(problem("x" * 5000, 400, [{"message": "y" * 5000}] * 150).body)
    assert len(doc["error"]) == MAX_MESSAGE and len(doc["errors"][0]["message"]) == MAX_MESSAGE
    assert (len(doc["errors"]), doc["more_errors"]) == (MAX_LISTED_ERRORS, 50)


def test_an_upload_too_large_for_one_request_is_413_and_stores_nothing(
    client: Client, table: Table
) -> None:
    csv = b"email\n" + b"".join(b"p%d@example.com\n" % n for n in range(routes.MAX_IMPORT_ROWS))
    response = client.http.post(
        "/api/contacts", headers={"content-type": "text/csv", **KEY}, body=csv
    )
    assert response.status_code == 413
    assert shape(response)["error"].startswith("body: an upload holds at most 5,000 rows")
    assert list(table.profiles()) == []


def test_an_outage_during_an_api_import_is_503_saying_what_was_done(
    client: Client, table: Table
) -> None:
    def outage(**_: object) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchGetItem")

    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.BatchGetItem", outage, unique_id="outage")
    try:
        response = client.http.post(
            "/api/contacts",
            headers={"content-type": "text/csv", **KEY},
            body=b"email\nada@example.com\n",
        )
    finally:
        events.unregister("before-call.dynamodb.BatchGetItem", unique_id="outage")
    assert response.status_code == 503
    assert shape(response)["error"].startswith(
        "import interrupted (InternalServerError) after imported 0"
    )

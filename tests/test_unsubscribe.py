from __future__ import annotations

import pytest
from chalice.test import Client

from chalicelib.store import Table
from chalicelib.tokens import Purpose
from tests.conftest import events_of, headers, token_for

FORM = {"content-type": "application/x-www-form-urlencoded"}
ONE_CLICK = b"List-Unsubscribe=One-Click"


def multipart(fields: dict[str, str]) -> tuple[dict[str, str], bytes]:
    boundary = "----nurtureBoundary7MA4YWxk"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, body


def test_get_and_head_show_the_page_and_change_nothing(client: Client, table: Table) -> None:
    table.put_profile("alice", {"email_hash": "h"})
    before = table.profile("alice")
    token = token_for(Purpose.UNSUBSCRIBE)
    for _ in range(3):
        page = client.http.get(f"/u/{token}")
        assert page.status_code == 200
        assert headers(page)["content-type"].startswith("text/html")
        assert b"Unsubscribe from all emails" in page.body
        assert "set-cookie" not in headers(page)
        assert client.http.head(f"/u/{token}").status_code == 200
    assert table.profile("alice") == before
    assert events_of(table) == []


def test_one_click_unsubscribes_at_once_and_repeats_idempotently(
    client: Client, table: Table
) -> None:
    token = token_for(Purpose.UNSUBSCRIBE)
    for _ in range(3):
        response = client.http.post(f"/u/{token}", headers=FORM, body=ONE_CLICK)
        assert response.status_code == 200
        assert "set-cookie" not in headers(response) and "location" not in headers(response)
    profile = table.profile("alice")
    assert profile is not None
    assert (profile["status"], profile["unsubscribe_method"]) == ("unsubscribed", "one_click")
    [audit] = events_of(table, kind="unsubscribed")
    assert audit["method"] == "one_click" and "ttl" not in audit


def test_one_click_as_multipart(client: Client, table: Table) -> None:
    sent, body = multipart({"List-Unsubscribe": "One-Click"})
    response = client.http.post(f"/u/{token_for(Purpose.UNSUBSCRIBE)}", headers=sent, body=body)
    assert response.status_code == 200
    assert table.profile("alice")["unsubscribe_method"] == "one_click"  # type: ignore[index]


def test_page_unsubscribe_records_reason(client: Client, table: Table) -> None:
    body = b"action=unsubscribe&reason=too_many&reason_text=%3Cscript%3Ex%3C%2Fscript%3E"
    response = client.http.post(f"/u/{token_for(Purpose.UNSUBSCRIBE)}", headers=FORM, body=body)
    assert response.status_code == 200 and b"You are unsubscribed" in response.body
    [audit] = events_of(table, kind="unsubscribed")
    assert (audit["method"], audit["reason"]) == ("page", "too_many")
    assert audit["reason_text"] == "<script>x</script>"
    page = client.http.get(f"/u/{token_for(Purpose.UNSUBSCRIBE)}")
    assert b"You are unsubscribed" in page.body


def test_preferences_update_topics_and_pause(client: Client, table: Table) -> None:
    body = b"action=update&topics=product&topics=events&pause_days=30"
    sent, multi = multipart({"action": "update", "pause_days": "0"})
    token = token_for(Purpose.UNSUBSCRIBE)
    assert client.http.post(f"/u/{token}", headers=FORM, body=body).status_code == 200
    profile = table.profile("alice")
    assert profile is not None and profile["topics"] == ["events", "product"]
    assert profile["paused_until"] > profile["preferences_updated_at"]
    assert "unsubscribed_at" not in profile
    assert client.http.post(f"/u/{token}", headers=sent, body=multi).status_code == 200
    assert table.profile("alice")["paused_until"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"action=delete", b"action"),
        (b"action=update&topics=casino", b"topics"),
        (b"action=update&pause_days=7", b"pause_days"),
        (b"action=unsubscribe&reason=hate", b"reason"),
        (b"List-Unsubscribe=Yes", b"action"),
        (b"action=unsubscribe&reason_text=" + b"x" * 501, b"reason_text"),
    ],
)
def test_bad_form_names_the_field_and_changes_nothing(
    client: Client, table: Table, body: bytes, field: bytes
) -> None:
    response = client.http.post(f"/u/{token_for(Purpose.UNSUBSCRIBE)}", headers=FORM, body=body)
    assert response.status_code == 400
    assert field in response.body
    assert table.profile("alice") is None and events_of(table) == []


@pytest.mark.parametrize("purpose", [Purpose.CLICK, Purpose.OPEN, Purpose.CONVERSION])
def test_other_tokens_cannot_unsubscribe(client: Client, table: Table, purpose: Purpose) -> None:
    extra = {"link": 0, "url": "https://e.example/"} if purpose is Purpose.CLICK else {}
    token = token_for(purpose, **extra)  # type: ignore[arg-type]
    assert client.http.get(f"/u/{token}").status_code == 404
    assert client.http.post(f"/u/{token}", headers=FORM, body=ONE_CLICK).status_code == 404
    assert table.profile("alice") is None


def test_old_unsubscribe_links_never_expire(client: Client, table: Table) -> None:
    token = token_for(Purpose.UNSUBSCRIBE, age=20 * 365 * 86400)
    assert client.http.post(f"/u/{token}", headers=FORM, body=ONE_CLICK).status_code == 200
    assert table.profile("alice")["status"] == "unsubscribed"  # type: ignore[index]


def test_non_form_body_is_refused(client: Client, table: Table) -> None:
    response = client.http.post(
        f"/u/{token_for(Purpose.UNSUBSCRIBE)}",
        headers={"content-type": "application/json"},
        body=b"{}",
    )
    assert response.status_code == 415
    assert table.profile("alice") is None

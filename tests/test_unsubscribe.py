from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib import pages, services
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


# --- The page still works when the table does not; the unsubscribed state says when ---------


def outage(**_: object) -> None:
    raise ClientError({"Error": {"Code": "InternalServerError"}}, "GetItem")


@pytest.fixture
def table_down(table: Table) -> Iterator[Table]:
    events = services.client("dynamodb").meta.events
    operations = ("GetItem", "PutItem", "UpdateItem", "TransactWriteItems")
    for operation in operations:
        events.register(f"before-call.dynamodb.{operation}", outage, unique_id=f"down-{operation}")
    yield table
    for operation in operations:
        events.unregister(f"before-call.dynamodb.{operation}", unique_id=f"down-{operation}")


def test_the_page_shows_without_choices_when_the_table_is_down(
    client: Client, table_down: Table
) -> None:
    token = token_for(Purpose.UNSUBSCRIBE)
    page = client.http.get(f"/u/{token}")
    assert page.status_code == 200
    assert b"We cannot show your current choices just now" in page.body
    assert b"Unsubscribe from all emails" in page.body and b"Save preferences" not in page.body
    refused = client.http.post(f"/u/{token}", headers=FORM, body=b"action=delete")
    assert refused.status_code == 400 and b"We cannot show your current choices" in refused.body
    one_click = client.http.post(f"/u/{token}", headers=FORM, body=b"List-Unsubscribe=One-Click")
    assert one_click.status_code == 200 and b"You are unsubscribed" in one_click.body
    parked = services.client("sqs").receive_message(
        QueueUrl=services.client("sqs").get_queue_url(QueueName="nurture-park")["QueueUrl"]
    )
    assert len(parked["Messages"]) == 1  # the unsubscribe waits to be replayed, not lost


def test_after_unsubscribing_the_page_shows_the_date_and_how_to_come_back(
    client: Client, table: Table
) -> None:
    token = token_for(Purpose.UNSUBSCRIBE)
    client.http.post(f"/u/{token}", headers=FORM, body=b"List-Unsubscribe=One-Click")
    since = table.profile("alice")["unsubscribed_at"]  # type: ignore[index]
    date = pages.long_date(since).encode()
    page = client.http.get(f"/u/{token}")
    assert date in page.body and b"sign up again" in page.body
    assert b"Save preferences" not in page.body
    # A preferences form sent afterwards (another tab) answers the unsubscribed state.
    saved = client.http.post(
        f"/u/{token}", headers=FORM, body=b"action=update&topics=product&pause_days=0"
    )
    assert saved.status_code == 200 and b"Preferences saved" not in saved.body
    assert b"You are unsubscribed" in saved.body and date in saved.body
    assert "topics" not in table.profile("alice")  # type: ignore[operator]
    again = client.http.post(f"/u/{token}", headers=FORM, body=b"List-Unsubscribe=One-Click")
    assert date in again.body


def test_dates_read_as_people_write_them() -> None:
    assert pages.long_date("2026-11-20T12:30:00.000Z") == "20 November 2026"
    assert pages.long_date("2026-01-05T00:00:00Z") == "5 January 2026"
    assert pages.long_date("garbage") == "garbage"

"""One contact through the marketer API: search by email, profile, timeline pages and CSV,
pause and unenroll, GDPR export and erasure (the address is nowhere in the table after it)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import emails, feedback, services, store
from chalicelib.config import settings
from chalicelib.funnel import Funnel
from chalicelib.people.gdpr import Gdpr
from chalicelib.people.view import View
from chalicelib.sequences import parse_sequence
from tests.conftest import headers
from tests.test_journey import BROWSER, SEQUENCE, T0, Clock, World

KEY = {"authorization": "Bearer api-key-0123456789abcdef"}
JSON = {"content-type": "application/json"}
PEOPLE = (
    "email,first_name,timezone\nAnn@Example.com,Ann,Europe/Riga\nbob@example.com,Bob,Europe/Riga\n"
)


@pytest.fixture
def world(table: store.Table, client: Client) -> Iterator[World]:
    yield World(table, Clock())


def imported(client: Client) -> dict[str, str]:
    answer = client.http.post(
        "/api/contacts", headers={**KEY, "content-type": "text/csv"}, body=PEOPLE.encode()
    )
    assert answer.status_code == 200, answer.body
    return {row["email"].lower(): row["contact_id"] for row in json.loads(answer.body)["contacts"]}


def get(client: Client, path: str, **extra: str) -> tuple[int, Any]:
    answer = client.http.get(path, headers={**KEY, **extra})
    body = answer.body.decode() if isinstance(answer.body, bytes) else answer.body
    if answer.status_code == 200 and "json" not in headers(answer)["content-type"]:
        return answer.status_code, (body, headers(answer))
    return answer.status_code, json.loads(body)


def ses_event(kind: str, message_id: str, address: str, send_id: str, contact: str) -> dict:
    """An SES event as EventBridge delivers it."""
    mail = {
        "messageId": message_id,
        "timestamp": "2025-11-25T07:00:05.000Z",
        "destination": [address],
        "tags": {"send_id": [send_id], "contact_id": [contact]},
    }
    detail: dict[str, Any] = {"eventType": kind, "mail": mail}
    if kind == "Bounce":
        detail["bounce"] = {
            "bounceType": "Transient",
            "timestamp": "2025-11-25T07:00:06.000Z",
            "bouncedRecipients": [
                {"emailAddress": address, "diagnosticCode": f"smtp; 452 <{address}> mailbox full"}
            ],
        }
    if kind == "Delivery":
        detail["delivery"] = {
            "timestamp": "2025-11-25T07:00:06.000Z",
            "recipients": [address],
            "smtpResponse": f"250 ok <{address}>",
        }
    return {"detail-type": "SES event", "detail": detail}


def engaged(world: World, client: Client) -> dict[str, str]:
    """Ann and Bob enrolled and sent the first step; Ann opens, clicks, bounces once (soft),
    and is delivered; Bob unsubscribes with a reason."""
    ids = imported(client)
    ann, bob = ids["ann@example.com"], ids["bob@example.com"]
    for contact in (ann, bob):
        world.journey.enroll(contact, "engage")
    world.run_until(T0 + timedelta(days=1))
    world.tracker.open(world.token("Ann@example.com", "o"), BROWSER)
    world.clock.advance(minutes=5)
    world.tracker.click(world.token("Ann@example.com", "c"), "GET", BROWSER)
    send_id = store.Enrollments(world.table).get(ann, "engage").send_id  # type: ignore[union-attr]
    message = world.mails("Ann@example.com")[0].id
    for kind in ("Delivery", "Bounce"):
        feedback.ingest(
            world.table, ses_event(kind, message, "Ann@example.com", send_id, ann), settings()
        )
    claims = world.tracker.unsubscribe_claims(world.token("bob@example.com", "u"))
    world.tracker.unsubscribe(claims, "page", BROWSER, "too_many", "Weekly is plenty")
    world.run_until(T0 + timedelta(days=2))
    return {"ann": ann, "bob": bob}


def test_a_contact_is_found_by_email_and_shown_with_its_enrollments(
    world: World, client: Client
) -> None:
    people = engaged(world, client)
    status, found = get(client, "/api/contacts?email=%20ANN@example.COM")
    assert status == 200 and [c["contact_id"] for c in found["contacts"]] == [people["ann"]]
    assert found["contacts"][0]["email"] == "Ann@example.com"
    assert get(client, "/api/contacts?email=nobody@example.com") == (200, {"contacts": []})
    status, shown = get(client, f"/api/contacts/{people['bob']}")
    assert status == 200 and shown["status"] == "unsubscribed"
    [enrollment] = shown["enrollments"]
    assert (enrollment["sequence_id"], enrollment["status"]) == ("engage", "exited")
    assert shown["suppressed"] is None


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/contacts", "email"),
        ("/api/contacts?email=", "email"),
        ("/api/contacts?email=not-an-address", "email"),
        ("/api/contacts/-lead", "contact_id"),
        ("/api/contacts/a%20b", "contact_id"),
        (f"/api/contacts/{'x' * 129}", "contact_id"),
        ("/api/contacts/ann/timeline?limit=0", "limit"),
        ("/api/contacts/ann/timeline?limit=501", "limit"),
        ("/api/contacts/ann/timeline?limit=x", "limit"),
        ("/api/contacts/ann/timeline?since=yesterday", "since"),
        ("/api/contacts/ann/timeline?until=2025-13-01", "until"),
        ("/api/contacts/ann/timeline?since=2025-11-25T10:00:00", "since"),
        ("/api/contacts/ann/timeline?since=2025-11-26&until=2025-11-25", "until"),
        ("/api/contacts/ann/timeline?cursor=%21%21", "cursor"),
        ("/api/contacts/ann/timeline?cursor=WzFd", "cursor"),
        ("/api/contacts/ann/timeline?page=2", "page"),
    ],
)
def test_bad_reads_are_refused_naming_the_field(
    table: store.Table, client: Client, path: str, field: str
) -> None:
    status, answer = get(client, path)
    assert status == 400, answer
    assert answer["error"].startswith(f"{field}:")


def test_unknown_contacts_are_404(table: store.Table, client: Client) -> None:
    for path in (
        "/api/contacts/ghost",
        "/api/contacts/ghost/timeline",
        "/api/contacts/ghost/export",
    ):
        status, answer = get(client, path)
        assert status == 404 and answer["error"].startswith("contact_id:"), path
    erased = client.http.delete("/api/contacts/ghost", headers=KEY)
    assert erased.status_code == 404


def test_the_timeline_pages_newest_first_with_sends_and_reasons(
    world: World, client: Client
) -> None:
    people = engaged(world, client)
    status, whole = get(client, f"/api/contacts/{people['ann']}/timeline?limit=500")
    assert status == 200 and whole["next_cursor"] is None
    entries = whole["entries"]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    kinds = [e["type"] for e in entries]
    assert sorted(kinds) == ["bounced", "clicked", "delivered", "opened", "sent"]
    assert not [e for e in entries if {"PK", "SK"} & set(e)]  # where it is stored is not shown
    sent = next(e for e in entries if e["type"] == "sent")
    assert (sent["sequence_id"], sent["step_id"], sent["delivery_status"]) == (
        "engage",
        "first",
        "bounced",
    )
    opened = next(e for e in entries if e["type"] == "opened")
    assert (opened["step_id"], opened["verdict"]) == ("first", "human")
    paged: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = get(
            client,
            f"/api/contacts/{people['ann']}/timeline?limit=2"
            + (f"&cursor={cursor}" if cursor else ""),
        )
        assert status == 200 and len(page["entries"]) <= 2
        paged += page["entries"]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert paged == entries
    status, bob = get(client, f"/api/contacts/{people['bob']}/timeline")
    unsubscribed = next(e for e in bob["entries"] if e["type"] == "unsubscribed")
    assert (unsubscribed["reason"], unsubscribed["reason_text"]) == ("too_many", "Weekly is plenty")


def test_the_timeline_keeps_to_its_dates_and_exports_csv(world: World, client: Client) -> None:
    people = engaged(world, client)
    path = f"/api/contacts/{people['ann']}/timeline"
    assert get(client, f"{path}?until=2025-11-24")[1]["entries"] == []
    status, day = get(client, f"{path}?since=2025-11-25&until=2025-11-25")
    assert status == 200 and len(day["entries"]) == 5
    later = get(client, f"{path}?since=2025-11-25T21:03:00Z")[1]["entries"]
    assert [e["type"] for e in later] == ["clicked"]
    status, (text, found) = get(client, f"{path}?limit=3", accept="text/csv")
    assert status == 200 and found["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 and rows[0]["at"] >= rows[-1]["at"] and "x-next-cursor" in found
    assert {row["type"] for row in rows} <= {"bounced", "clicked", "delivered", "opened", "sent"}


def test_pause_and_unenroll(world: World, client: Client) -> None:
    ids = imported(client)
    ann = ids["ann@example.com"]
    world.journey.enroll(ann, "engage")
    paused = client.http.post(
        f"/api/contacts/{ann}/pause", headers={**KEY, **JSON}, body=b'{"days": 7}'
    )
    assert paused.status_code == 200 and json.loads(paused.body)["paused_until"]
    assert services.table().profile(ann)["paused_until"] == json.loads(paused.body)["paused_until"]
    resumed = client.http.post(
        f"/api/contacts/{ann}/pause", headers={**KEY, **JSON}, body=b'{"days": 0}'
    )
    assert json.loads(resumed.body)["paused_until"] is None
    assert "paused_until" not in services.table().profile(ann)
    left = client.http.delete(f"/api/contacts/{ann}/enrollments/engage", headers=KEY)
    assert left.status_code == 200 and json.loads(left.body)["status"] == "exited"
    again = client.http.delete(f"/api/contacts/{ann}/enrollments/engage", headers=KEY)
    assert json.loads(again.body)["status"] == "exited"
    world.run_until(T0 + timedelta(days=5))
    assert world.mails("Ann@example.com") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"days": -1}', "days"),
        (b'{"days": 366}', "days"),
        (b'{"days": "7"}', "days"),
        (b'{"days": true}', "days"),
        (b'{"days": 1.5}', "days"),
        (b"{}", "days"),
        (b'{"days": 1, "until": "x"}', "until"),
        (b"[1]", "body"),
        (b"{", "body"),
    ],
)
def test_bad_pauses_are_refused_and_change_nothing(
    table: store.Table, client: Client, body: bytes, field: str
) -> None:
    ann = imported(client)["ann@example.com"]
    before = table.profile(ann)
    answer = client.http.post(f"/api/contacts/{ann}/pause", headers={**KEY, **JSON}, body=body)
    assert answer.status_code == 400 and json.loads(answer.body)["error"].startswith(f"{field}:")
    assert table.profile(ann) == before


def test_acting_on_unknown_contacts_stores_nothing(table: store.Table, client: Client) -> None:
    answer = client.http.post(
        "/api/contacts/ghost/pause", headers={**KEY, **JSON}, body=b'{"days": 1}'
    )
    assert answer.status_code == 404
    assert table.profile("ghost") is None
    left = client.http.delete("/api/contacts/ghost/enrollments/engage", headers=KEY)
    assert left.status_code == 404 and json.loads(left.body)["error"].startswith("sequence_id:")


def dumped(item: Any) -> str:
    return json.dumps(item, default=repr)


def everything(table: store.Table) -> list[dict[str, Any]]:
    """Every item of the table, raw (a scan, as an auditor would run it)."""
    pages = table.client.get_paginator("scan").paginate(TableName=table.name)
    return [item for page in pages for item in page["Items"]]


def test_export_holds_everything_stored_about_the_contact(world: World, client: Client) -> None:
    people = engaged(world, client)
    status, found = get(client, f"/api/contacts/{people['ann']}/export")
    assert status == 200 and found["contact_id"] == people["ann"]
    assert found["profile"]["email"] == "Ann@example.com"
    assert {e["type"] for e in found["events"]} == {"opened", "clicked", "delivered", "bounced"}
    assert [s["step_id"] for s in found["sends"]] == ["first"]
    assert [e["sequence_id"] for e in found["enrollments"]] == ["engage"]
    stored = json.dumps(
        [i for i in everything(world.table) if people["ann"] in dumped(i)], default=str
    )
    exported = json.dumps(found)
    for event in found["events"]:
        assert event["event_id"] in stored and event["event_id"] in exported


def test_erasure_leaves_the_address_nowhere_and_the_counts_alone(
    world: World, client: Client
) -> None:
    people = engaged(world, client)
    ann = people["ann"]
    # A pending timer: Ann's deadline timers for the first step are still waiting.
    assert any(ann in dumped(i) for i in everything(world.table) if i["PK"]["S"].startswith("D#"))
    sequence = parse_sequence(SEQUENCE)
    counted = Funnel(world.table).report(sequence)
    answer = client.http.delete(f"/api/contacts/{ann}", headers=KEY)
    assert answer.status_code == 200, answer.body
    erased = json.loads(answer.body)
    assert erased["suppressed"] and erased["sends_stripped"] == 1

    items = everything(world.table)
    text = dumped(items).lower()
    assert "ann@example.com" not in text
    assert emails.identity("Ann@Example.com") not in text
    holding_id = [i for i in items if ann in dumped(i)]
    assert [i["PK"]["S"] for i in holding_id] == ["AUDIT#ERASURE"]
    [audit] = store.People(world.table).erasures()
    assert (audit["status"], audit["principal"], audit["contact_id"]) == ("done", "ci", ann)
    assert Funnel(world.table).report(sequence) == counted
    assert world.table.is_suppressed("ann@example.com")

    again = client.http.post(
        "/api/contacts",
        headers={**KEY, "content-type": "text/csv"},
        body=b"email,first_name\nann@EXAMPLE.com,Ann\n",
    )
    assert json.loads(again.body)["suppressed"] == 1
    assert "ann@example.com" not in dumped(everything(world.table)).lower()
    assert client.http.delete(f"/api/contacts/{ann}", headers=KEY).status_code == 404
    assert get(client, f"/api/contacts/{people['bob']}")[0] == 200


def test_an_interrupted_erasure_is_finished_by_running_it_again(
    world: World, client: Client
) -> None:
    people = engaged(world, client)
    ann = people["ann"]
    view = View(world.table, services.versions(), services.sequence)
    crashing = Gdpr(view, lambda: [], world.clock)
    calls = {"n": 0}
    real_delete = store.People.delete

    def crash_on_second(self: store.People, items: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("process died")
        return real_delete(self, items)

    store.People.delete = crash_on_second  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            crashing.erase(ann, "ops")
    finally:
        store.People.delete = real_delete  # type: ignore[method-assign]
    assert world.table.profile(ann) is not None  # the profile goes last
    assert world.table.is_suppressed("ann@example.com")  # and the suppression first
    services.gdpr().erase(ann, "ops")
    assert "ann@example.com" not in dumped(everything(world.table)).lower()
    audits = store.People(world.table).erasures()
    assert [a["status"] for a in audits] == ["started", "done"]


NEW_ROUTES = [
    ("GET", "/api/contacts?email=a@example.com", {}),
    ("GET", "/api/contacts/ann", {}),
    ("GET", "/api/contacts/ann/timeline", {}),
    ("GET", "/api/contacts/ann/export", {}),
    ("DELETE", "/api/contacts/ann", {}),
    ("POST", "/api/contacts/ann/pause", JSON),
    ("DELETE", "/api/contacts/ann/enrollments/engage", {}),
]


@pytest.mark.parametrize(("method", "path", "sent"), NEW_ROUTES)
@pytest.mark.parametrize("credentials", [{}, {"authorization": "Bearer wrong-key"}])
def test_contact_routes_need_an_api_key(
    table: store.Table,
    client: Client,
    method: str,
    path: str,
    sent: dict[str, str],
    credentials: dict[str, str],
) -> None:
    table.put_profile("ann", {"email": "ann@example.com"})
    response = client.http.request(
        method, path, headers={**sent, **credentials}, body=b'{"days": 1}'
    )
    assert response.status_code == 401
    assert table.profile("ann") == {
        "PK": "C#ann",
        "SK": "PROFILE",
        "contact_id": "ann",
        "email": "ann@example.com",
    }

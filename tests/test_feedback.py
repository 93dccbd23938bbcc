"""SES feedback: duplicates, several recipients, late events and poison records act once."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from app import on_ses_event
from chalicelib import emails, services
from chalicelib.config import Settings, settings
from chalicelib.errors import InvalidInput
from chalicelib.feedback import handle, normalise, parse
from chalicelib.store import Table
from tests.conftest import events_of

FIXTURES = Path(__file__).parent / "fixtures" / "ses"
MESSAGE = "0100018c5a2b7f3e-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d-000000"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def deliver(*events: dict[str, Any]) -> None:
    """Invoke the Lambda once per event, as EventBridge does."""
    for event in events:
        assert on_ses_event(event, None) == {"batchItemFailures": []}


def sqs(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{n}", "eventSource": "aws:sqs", "body": body}
            for n, body in enumerate(bodies)
        ]
    }


def raw(pk: str, sk: str) -> dict[str, Any] | None:
    found = services.client("dynamodb").get_item(
        TableName=settings().table, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True
    )
    item = found.get("Item")
    return {name: next(iter(value.values())) for name, value in item.items()} if item else None


def suppression(email: str) -> dict[str, Any] | None:
    return raw(f"X#{emails.email_hash(email)}", "SUPPRESS")


def all_suppressions() -> list[dict[str, Any]]:
    items = services.client("dynamodb").scan(TableName=settings().table)["Items"]
    return [i for i in items if i["SK"]["S"] == "SUPPRESS"]


def transient(message_id: str) -> dict[str, Any]:
    event = fixture("bounce_transient")
    event["detail"]["mail"]["messageId"] = message_id
    return event


@pytest.fixture
def send_item(table: Table) -> str:
    """The send record the sender writes when it claims `send-1` (before SES is called)."""
    services.client("dynamodb").put_item(
        TableName=table.name,
        Item={"PK": {"S": "S#send-1"}, "SK": {"S": "META"}, "contact_id": {"S": "alice"}},
    )
    return "send-1"


# ------------------------------------------------------------------ parsing (no AWS)


@pytest.mark.parametrize(
    ("name", "kind", "recipients", "at"),
    [
        ("send", "sent", ["alice@example.com"], "2026-11-20T09:00:00.120Z"),
        ("delivery", "delivered", ["alice@example.com"], "2026-11-20T09:00:02.789Z"),
        ("bounce_transient", "bounced", ["carol@example.net"], "2026-11-20T10:00:03.000Z"),
        ("complaint", "complained", ["alice@example.com"], "2026-11-20T12:30:00.000Z"),
        ("reject", "rejected", ["alice@example.com"], "2026-11-20T09:00:00.120Z"),
        ("delivery_delay", "delivery_delayed", ["alice@example.com"], "2026-11-20T09:10:00.000Z"),
        (
            "rendering_failure",
            "rendering_failed",
            ["alice@example.com"],
            "2026-11-20T09:00:00.120Z",
        ),
        ("sns_bounce", "bounced", ["dave@example.com"], "2026-11-20T11:00:01.000Z"),
        (
            "bounce_permanent_multi",
            "bounced",
            ["Alice@Example.com", "bob@example.org"],
            "2026-11-20T09:00:03.456Z",
        ),
    ],
)
def test_each_documented_shape_normalises_per_recipient(
    name: str, kind: str, recipients: list[str], at: str
) -> None:
    found = normalise(parse(fixture(name)))
    assert [(f.type, f.recipient, f.at) for f in found] == [(kind, r, at) for r in recipients]


def test_tags_map_the_event_back_to_send_and_contact() -> None:
    [found] = normalise(parse(fixture("delivery")))
    assert (found.send_id, found.contact_id, found.message_id) == ("send-1", "alice", MESSAGE)


def test_details_are_kept_and_diagnostics_trimmed() -> None:
    alice, _ = normalise(parse(fixture("bounce_permanent_multi")))
    assert alice.attrs["bounce_type"] == "Permanent"
    assert alice.attrs["bounce_sub_type"] == "General"
    assert alice.attrs["status"] == "5.1.1"
    diagnostic = str(alice.attrs["diagnostic_code"])
    assert diagnostic.startswith("smtp; 550 5.1.1") and diagnostic == diagnostic.strip()
    [complaint] = normalise(parse(fixture("complaint")))
    assert complaint.attrs["feedback_type"] == "abuse"
    [failure] = normalise(parse(fixture("rendering_failure")))
    assert failure.attrs["template"] == "welcome-en"


def test_event_id_is_stable_per_message_type_and_recipient() -> None:
    first = normalise(parse(fixture("bounce_permanent_multi")))
    again = normalise(parse(json.dumps(fixture("bounce_permanent_multi"))))
    assert [f.event_id for f in first] == [f.event_id for f in again]
    assert first[0].event_id != first[1].event_id
    [delivered] = normalise(parse(fixture("delivery")))
    [delayed] = normalise(parse(fixture("delivery_delay")))
    assert delivered.event_id != delayed.event_id


def test_open_and_click_are_ignored_not_rejected() -> None:
    event = fixture("delivery")
    event["detail"]["eventType"] = "Open"
    event["detail"]["open"] = {"ipAddress": "192.0.2.1", "timestamp": "2026-11-20T09:01:00Z"}
    assert normalise(parse(event)) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("{not json", "body"),
        ({"detail": {"eventType": "Bounce", "mail": {}}}, "mail.messageId"),
        ({"detail": {"mail": fixture("send")["detail"]["mail"]}}, "record"),
        ({"detail": {**fixture("bounce_transient")["detail"], "bounce": None}}, "record"),
        (["a", "list"], "record"),
    ],
)
def test_malformed_records_raise_a_domain_error_naming_the_field(
    payload: object, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(payload)
    assert caught.value.field == field


# ------------------------------------------------------------------ effects (moto)


def test_permanent_bounce_suppresses_each_recipient_once(table: Table) -> None:
    event = fixture("bounce_permanent_multi")
    deliver(event, copy.deepcopy(event))
    assert table.is_suppressed("alice@example.com")
    assert table.is_suppressed("  BOB@example.org ")
    assert not table.is_suppressed("carol@example.net")
    assert len(all_suppressions()) == 2
    assert suppression("alice@example.com") == {
        "PK": f"X#{emails.email_hash('alice@example.com')}",
        "SK": "SUPPRESS",
        "reason": "bounce",
        "first_seen": "2026-11-20T09:00:03.456Z",
        "ses_message_id": MESSAGE,
    }


def test_duplicate_delivery_stores_one_event_per_recipient(table: Table) -> None:
    event = fixture("bounce_permanent_multi")
    deliver(event, event, event)
    bounced = events_of(table, "alice", "bounced")
    assert len(bounced) == 2
    assert {e["bounce_type"] for e in bounced} == {"Permanent"}
    assert {e["ses_message_id"] for e in bounced} == {MESSAGE}


def test_complaint_suppresses_and_is_recorded(table: Table) -> None:
    deliver(fixture("complaint"))
    assert table.is_suppressed("alice@example.com")
    assert (suppression("alice@example.com") or {})["reason"] == "complaint"
    [complained] = events_of(table, "alice", "complained")
    assert complained["feedback_type"] == "abuse"
    assert complained["send_id"] == "send-1"


@pytest.mark.parametrize("name", ["delivery", "send", "reject", "delivery_delay"])
def test_other_outcomes_never_suppress(table: Table, name: str) -> None:
    deliver(fixture(name))
    assert not table.is_suppressed("alice@example.com")
    assert len(events_of(table, "alice")) == 1


def test_same_transient_bounce_three_times_counts_once(table: Table) -> None:
    deliver(transient("t-1"), transient("t-1"), transient("t-1"))
    hashed = emails.email_hash("carol@example.net")
    assert table.soft_bounces(hashed, since="") == 1
    assert not table.is_suppressed("carol@example.net")
    assert len(events_of(table, "carol", "bounced")) == 1


def test_transient_bounces_suppress_at_the_limit(table: Table) -> None:
    deliver(transient("t-1"), transient("t-2"))
    assert not table.is_suppressed("carol@example.net")
    deliver(transient("t-3"))
    assert table.is_suppressed("carol@example.net")
    assert (suppression("carol@example.net") or {})["reason"] == "soft_bounces"


def test_soft_bounce_limit_is_configurable(table: Table) -> None:
    handle(table, transient("t-1"), Settings(soft_bounce_limit=1))
    assert table.is_suppressed("carol@example.net")
    assert Settings().soft_bounce_limit == 3


def test_permanent_bounce_suppresses_even_after_transient_ones(table: Table) -> None:
    deliver(transient("t-1"))
    event = transient("t-2")
    event["detail"]["bounce"]["bounceType"] = "Permanent"
    deliver(event)
    assert (suppression("carol@example.net") or {})["reason"] == "bounce"


def test_send_event_records_acceptance_on_the_send(send_item: str) -> None:
    deliver(fixture("send"))
    send = raw("S#send-1", "META") or {}
    assert send["ses_message_id"] == MESSAGE
    assert send["ses_accepted_at"] == "2026-11-20T09:00:00.120Z"
    assert send["delivery_status"] == "sent"


def test_late_send_event_keeps_the_later_outcome(send_item: str) -> None:
    deliver(fixture("delivery"), fixture("send"))
    send = raw("S#send-1", "META") or {}
    assert send["delivery_status"] == "delivered"
    assert send["ses_accepted_at"] == "2026-11-20T09:00:00.120Z"


def test_stale_delivery_after_bounce_does_not_overwrite(table: Table, send_item: str) -> None:
    bounce = fixture("bounce_permanent_multi")
    deliver(bounce, fixture("delivery"), fixture("delivery_delay"))
    send = raw("S#send-1", "META") or {}
    assert (send["delivery_status"], send["delivery_status_at"]) == (
        "bounced",
        "2026-11-20T09:00:03.456Z",
    )
    assert {e["type"] for e in events_of(table, "alice")} == {
        "bounced",
        "delivered",
        "delivery_delayed",
    }


def test_bounce_after_delivery_moves_the_send_forward(send_item: str) -> None:
    deliver(fixture("delivery"))
    assert (raw("S#send-1", "META") or {})["delivery_status"] == "delivered"
    deliver(fixture("bounce_permanent_multi"), fixture("complaint"))
    assert (raw("S#send-1", "META") or {})["delivery_status"] == "complained"


def test_unknown_send_is_not_created(table: Table) -> None:
    deliver(fixture("send"), fixture("bounce_permanent_multi"))
    assert raw("S#send-1", "META") is None
    assert table.is_suppressed("alice@example.com")


def test_sns_notification_without_tags_still_suppresses(table: Table) -> None:
    message = json.dumps(fixture("sns_bounce"))
    event = {
        "Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": message}}]
    }
    assert on_ses_event(event, None) == {"batchItemFailures": []}
    assert table.is_suppressed("dave@example.com")
    assert events_of(table, "alice") == []


def test_sqs_body_with_sns_envelope_is_unwrapped(table: Table) -> None:
    envelope = {"Type": "Notification", "Message": json.dumps(fixture("sns_bounce"))}
    assert on_ses_event(sqs(json.dumps(envelope)), None) == {"batchItemFailures": []}
    assert table.is_suppressed("dave@example.com")


def test_malformed_record_is_dropped_logged_and_the_rest_proceeds(
    table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    poison = {"detail": {"eventType": "Bounce", "bounce": {"bounceType": "Permanent"}}}
    event = sqs(
        json.dumps(poison),
        json.dumps(fixture("complaint")),
        "{not json",
        json.dumps(fixture("sns_bounce")),
    )
    assert on_ses_event(event, None) == {"batchItemFailures": []}
    assert table.is_suppressed("alice@example.com")
    assert table.is_suppressed("dave@example.com")
    dropped = [r for r in caplog.records if r.getMessage() == "ses record dropped"]
    assert [(r.field, r.problem) for r in dropped] == [  # type: ignore[attr-defined]
        ("mail", "Field required"),
        (
            "body",
            "is not valid JSON (Expecting property name enclosed in double quotes: line 1 "
            "column 2 (char 1))",
        ),
    ]


def test_a_malformed_eventbridge_event_is_dropped_not_retried(table: Table) -> None:
    assert on_ses_event(
        {"detail-type": "Email Bounced", "detail": {"eventType": "Bounce"}}, None
    ) == {"batchItemFailures": []}
    assert all_suppressions() == []


def fail(**_: object) -> None:
    raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")


@pytest.fixture
def broken_table(table: Table) -> Iterator[Table]:
    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.PutItem", fail, unique_id="feedback-fail")
    yield table
    events.unregister("before-call.dynamodb.PutItem", unique_id="feedback-fail")


def test_table_error_raises_so_eventbridge_retries(broken_table: Table) -> None:
    with pytest.raises(ClientError):
        on_ses_event(fixture("complaint"), None)


def test_table_error_retries_only_that_sqs_message(broken_table: Table) -> None:
    event = sqs(json.dumps(fixture("complaint")), "{not json")
    assert on_ses_event(event, None) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_first_suppression_reason_is_kept(table: Table) -> None:
    deliver(fixture("bounce_permanent_multi"), fixture("complaint"))
    found = suppression("alice@example.com") or {}
    assert (found["reason"], found["first_seen"]) == ("bounce", "2026-11-20T09:00:03.456Z")


# --- Hostile and incomplete records -------------------------------------------------------


def test_records_items_that_are_not_objects_are_dropped_and_the_rest_applied(
    table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"messageId": "m9", "body": json.dumps(fixture("complaint"))}
    event = {"Records": [5, "text", None, [1], {"Sns": "not an object"}, good]}
    assert on_ses_event(event, None) == {"batchItemFailures": []}
    assert table.is_suppressed("alice@example.com")
    problems = [getattr(r, "problem", "") for r in caplog.records]
    assert problems.count("a Records item not an object") == 4


@pytest.mark.parametrize("spelling", ["not-spam", "NOT-SPAM"])
def test_a_not_spam_complaint_is_recorded_but_does_not_suppress(
    table: Table, spelling: str
) -> None:
    event = fixture("complaint")
    event["detail"]["complaint"]["complaintFeedbackType"] = spelling
    deliver(event)
    assert not table.is_suppressed("alice@example.com")
    [complained] = events_of(table, "alice", "complained")
    assert complained["feedback_type"] == spelling


def bounce_at(message_id: str, when: str) -> dict[str, Any]:
    event = transient(message_id)
    event["detail"]["bounce"]["timestamp"] = when
    return event


def test_soft_bounces_count_within_the_window_not_forever(table: Table) -> None:
    deliver(bounce_at("t-1", "2026-01-01T00:00:00Z"), bounce_at("t-2", "2026-02-15T00:00:00Z"))
    deliver(bounce_at("t-3", "2026-04-01T00:00:00Z"))
    assert not table.is_suppressed("carol@example.net")  # three, but never three in 30 days
    deliver(bounce_at("t-4", "2026-04-10T00:00:00Z"))
    assert not table.is_suppressed("carol@example.net")
    deliver(bounce_at("t-5", "2026-04-20T00:00:00Z"))
    assert (suppression("carol@example.net") or {})["reason"] == "soft_bounces"


def test_the_soft_bounce_window_is_configurable(table: Table) -> None:
    wide = Settings(soft_bounce_limit=2, soft_bounce_window_days=365)
    handle(table, bounce_at("t-1", "2026-01-01T00:00:00Z"), wide)
    handle(table, bounce_at("t-2", "2026-06-01T00:00:00Z"), wide)
    assert table.is_suppressed("carol@example.net")
    assert Settings().soft_bounce_window_days == 30


def without_times(event: dict[str, Any], detail: str) -> dict[str, Any]:
    record = event.get("detail", event)
    record[detail].pop("timestamp")
    record["mail"].pop("timestamp")
    return event


def test_a_hard_bounce_without_timestamps_suppresses_at_the_envelope_time(table: Table) -> None:
    deliver(without_times(fixture("bounce_permanent_multi"), "bounce"))
    assert table.is_suppressed("bob@example.org")
    assert suppression(
        "bob@example.org"
    )[
        "first_seen"
    ].startswith(  # type: ignore[index]
        fixture("bounce_permanent_multi")["time"][:19]
    )


def test_a_complaint_without_timestamps_in_sns_suppresses_at_the_sns_time(table: Table) -> None:
    message = without_times(fixture("complaint")["detail"], "complaint")
    envelope = {"Type": "Notification", "Timestamp": "2026-11-21T08:00:00.000Z"}
    deliver(sqs(json.dumps({**envelope, "Message": json.dumps(message)})))
    assert suppression("alice@example.com")["first_seen"].startswith(  # type: ignore[index]
        "2026-11-21T08:00:00"
    )


def test_a_bare_record_without_any_time_suppresses_when_it_is_handled(table: Table) -> None:
    message = without_times(fixture("complaint")["detail"], "complaint")
    handle(table, sqs(json.dumps(message)), settings(), clock=lambda: 1_800_000_000)
    found = suppression("alice@example.com") or {}
    assert found["first_seen"].startswith("2027-01-15T08:00:00")


@pytest.mark.parametrize("kind", ["bounce", "BOUNCE", "Bounce"])
def test_event_types_in_any_case_are_understood(table: Table, kind: str) -> None:
    event = fixture("bounce_permanent_multi")
    event["detail"]["eventType"] = kind
    deliver(event)
    assert table.is_suppressed("bob@example.org")

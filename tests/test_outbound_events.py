"""The outbound catalogue: what each stored change publishes, its schema, its stable id, the
bus, filters, emails only when asked, and signatures an independent verifier accepts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import standardwebhooks

from chalicelib import feedback, services, store, streams
from chalicelib.config import settings
from chalicelib.outbound import CATALOGUE, Bus, OutboundEvent, from_change
from chalicelib.outbound.schema import rendered
from chalicelib.stamps import iso
from chalicelib.tokens import Purpose
from chalicelib.tracking import Tracker
from local.player import Player
from tests.conftest import token_for
from tests.outbound_world import World

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schemas_match_the_models() -> None:
    for path, text in rendered().items():
        committed = (ROOT / path).read_text(encoding="utf-8")
        assert committed == text, f"run: python -m chalicelib.outbound ({path})"
    published = {p.stem for p in (ROOT / "schemas" / "events").glob("*.json")}
    assert published == set(CATALOGUE)


def _schema(kind: str) -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / "events" / f"{kind}.json").read_text())


class Capture:
    def __init__(self, table: store.Table) -> None:
        self.sends = store.Sends(table)
        self.events: list[OutboundEvent] = []

    def __call__(self, change: store.Change) -> store.Change:
        event = from_change(change, self.sends.origin)
        if event is not None:
            self.events.append(event)
        return change


@pytest.fixture
def captured(table: store.Table) -> Iterator[tuple[Capture, Player]]:
    capture = Capture(table)
    player = Player(
        services.client("scheduler"),
        services.client("dynamodbstreams"),
        services.client("dynamodb"),
        table.name,
        "nurture",
        lambda event, _: None,
        lambda event, _: streams.handle(event, [capture]),
    )
    yield capture, player


def _life_of_a_contact(table: store.Table) -> None:
    """A real enrollment, send, open, click, bounce and unsubscribe, through the real writes."""
    table.put_profile("alice", {"email": "alice@example.com"})
    enrollments, sends = store.Enrollments(table), store.Sends(table)
    now = time.time()
    enrollment, _ = enrollments.enroll("alice", "welcome", 2, "hello", iso(now), lambda e: False)
    assert enrollment is not None
    attrs = {
        "contact_id": "alice",
        "sequence_id": "welcome",
        "version": 2,
        "step_id": "hello",
        "run": 1,
    }
    sends.claim("send-1", attrs, iso(now), iso(now + 60), None, "alice")
    record = sends.get("send-1")
    assert record is not None
    sends.complete(record, "ses-1", iso(now))
    tracker = Tracker(settings(), services.keyring, table, services.parking())
    tracker.open(
        token_for(Purpose.OPEN, "alice", "send-1"), "Mozilla/5.0 (Macintosh) Firefox/120.0"
    )
    tracker.click(
        token_for(Purpose.CLICK, "alice", "send-1", link=1, url="https://x.example/a"),
        "GET",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0",
    )
    feedback.apply(
        table,
        feedback.Feedback(
            "bounced",
            "alice@example.com",
            "ses-1",
            iso(now),
            "send-1",
            "alice",
            {"bounce_type": "Transient", "status": "4.4.7"},
        ),
        settings(),
    )
    tracker.unsubscribe(
        tracker.unsubscribe_claims(token_for(Purpose.UNSUBSCRIBE, "alice", "send-1")),
        "one_click",
        "",
    )
    enrollments.end(enrollment, "exited", "unsubscribed", iso(now + 1))


def test_each_change_publishes_its_event_with_a_valid_document(
    table: store.Table, captured: tuple[Capture, Player]
) -> None:
    capture, player = captured
    _life_of_a_contact(table)
    player.pump()
    kinds = [e.type for e in capture.events]
    assert sorted(kinds) == sorted(
        ["enrolled", "sent", "opened", "clicked", "bounced", "unsubscribed", "exited"]
    )
    for event in capture.events:
        document = event.document("alice@example.com")
        jsonschema.validate(document, _schema(event.type))
        assert document["contact"] == {"id": "alice", "email": "alice@example.com"}
        assert "email" not in json.loads(event.body())["contact"]
    by_type = {e.type: e for e in capture.events}
    assert by_type["clicked"].data == {"verdict": "human", "reason": "browser", "link": 1}
    assert (by_type["clicked"].sequence_id, by_type["clicked"].step_id) == ("welcome", "hello")
    assert by_type["unsubscribed"].data == {"how": "one_click", "reason": None}
    assert by_type["exited"].data == {"reason": "unsubscribed", "run": 1}
    assert by_type["sent"].data == {"message_id": "ses-1"} and not by_type["sent"].test


def test_a_redelivered_stream_gives_the_same_ids(
    table: store.Table, captured: tuple[Capture, Player]
) -> None:
    capture, player = captured
    _life_of_a_contact(table)
    player.pump()
    first = [(e.type, e.id) for e in capture.events]
    player.checkpoints.clear()
    capture.events.clear()
    player.pump()
    assert [(e.type, e.id) for e in capture.events] == first
    assert len({i for _, i in first}) == len(first)


def test_types_outside_the_catalogue_and_ses_sent_are_not_published(
    table: store.Table, captured: tuple[Capture, Player]
) -> None:
    capture, player = captured
    for kind in ("sent", "delivery_delayed", "rendering_failed"):
        table.apply(store.event_write(store.Event("bob", kind, iso(time.time()), kind)))
    table.apply(
        store.event_write(
            store.Event(
                "bob", "alert", iso(time.time()), "a1", attrs={"name": "hot_lead", "score": 42}
            )
        )
    )
    player.pump()
    assert [(e.type, e.data) for e in capture.events] == [
        ("alert", {"name": "hot_lead", "reason": None, "score": 42.0, "temperature": None})
    ]


def test_events_land_on_the_eventbridge_bus(table: store.Table) -> None:
    events, sqs = services.client("events"), services.client("sqs")
    events.create_event_bus(Name="nurture")
    queue = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="tap",
        EventBusName="nurture",
        EventPattern=json.dumps({"source": ["nurture"], "detail-type": ["clicked"]}),
    )
    events.put_targets(Rule="tap", EventBusName="nurture", Targets=[{"Id": "q", "Arn": arn}])
    event = OutboundEvent("clicked", "evt_1", iso(time.time()), "alice", data={"verdict": "human"})
    Bus(events, "nurture").put(event)
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert (body["source"], body["detail-type"]) == ("nurture", "clicked")
    assert body["detail"]["id"] == "evt_1" and "email" not in body["detail"]["contact"]


# --- subscriptions: filters, emails, signatures -----------------------------------------------


@pytest.fixture
def world(table: store.Table) -> Iterator[World]:
    made = World(table)
    yield made
    made.close()


def test_filters_pick_types_sequences_human_verdicts_and_test_sends(world: World) -> None:
    world.subscribe(
        {"id": "people", "verdict": "human"},
        {"id": "welcome", "sequences": ["welcome"]},
        {"id": "tests", "test_sends": True, "events": ["opened"]},
    )
    store.Sends(world.table).claim(
        "send-t",
        {"contact_id": "t", "sequence_id": "welcome", "step_id": "s", "run": 0},
        iso(0),
        iso(0),
        None,
        "t",
    )
    store.Sends(world.table).claim(
        "send-w",
        {"contact_id": "w", "sequence_id": "welcome", "step_id": "s", "run": 1},
        iso(0),
        iso(0),
        None,
        "w",
    )
    for contact, send, verdict in (
        ("w", "send-w", "human"),
        ("w", "send-w", "machine"),
        ("t", "send-t", "human"),
    ):
        world.table.apply(
            store.event_write(
                store.Event(
                    contact,
                    "opened",
                    iso(world.clock()),
                    f"{send}-{verdict}",
                    send,
                    {"verdict": verdict},
                )
            )
        )
    world.settle()
    got = {
        hook: sorted(
            r.event["data"]["verdict"] + ("/test" if r.event["send"]["test"] else "")
            for r in world.receiver.received
            if r.path == f"/hooks/{hook}"
        )
        for hook in ("people", "welcome", "tests")
    }
    assert got == {
        "people": ["human"],
        "welcome": ["human", "machine"],
        "tests": ["human", "human/test", "machine"],
    }


def test_emails_go_only_to_subscriptions_that_ask(world: World) -> None:
    world.table.put_profile("ada", {"email": "ada@example.com"})
    world.subscribe({"id": "crm", "include_email": True}, {"id": "bare"})
    world.event("ada")
    world.settle()
    contacts = {r.path: r.event["contact"] for r in world.receiver.received}
    assert contacts == {
        "/hooks/crm": {"id": "ada", "email": "ada@example.com"},
        "/hooks/bare": {"id": "ada"},
    }


def test_an_independent_standard_webhooks_verifier_accepts_deliveries_across_a_rotation(
    world: World,
) -> None:
    world.clock.now = time.time()  # the verifier checks the timestamp against the real clock
    secrets = world.subscribe({"id": "crm"})
    old = secrets["crm"]
    world.event("ada")
    world.settle()
    new = world.admin.rotate("crm").value
    world.event("bob")
    world.settle()
    assert world.admin.retire("crm") == 1
    world.event("cy")
    world.settle()
    first, rotated, retired = world.receiver.received
    for delivery, verifying, refused in (
        (first, [old], [new]),
        (rotated, [old, new], []),
        (retired, [new], [old]),
    ):
        for secret in verifying:
            doc = standardwebhooks.Webhook(secret).verify(delivery.body, delivery.headers)
            assert doc["id"] == delivery.headers["webhook-id"]
        for secret in refused:
            with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
                standardwebhooks.Webhook(secret).verify(delivery.body, delivery.headers)
    tampered = first.body.replace(b"ada", b"eve")
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(old).verify(tampered, first.headers)


def test_retries_carry_the_id_and_body_of_the_first_attempt_with_a_fresh_timestamp(
    world: World,
) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status = 500
    world.event("ada")
    world.settle()
    world.receiver.status = 200
    world.run_for(timedelta(minutes=3))
    first, second = world.receiver.received
    assert first.message_id == second.message_id and first.body == second.body
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert first.verified and second.verified

"""Webhook delivery under faults: at least once to the receiver, exactly one delivery record
per (event, subscription), retried with backoff, dead-lettered, redriven once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from chalicelib import store
from chalicelib.outbound import DeliveryRef
from tests.outbound_world import World

CONTACTS = ("ada", "bob", "cy")


@pytest.fixture
def world(table: store.Table) -> Iterator[World]:
    made = World(table, timeout=0.5)
    yield made
    made.close()


def _events(world: World, per_contact: int = 3) -> None:
    for contact in CONTACTS:
        for n in range(per_contact):
            world.event(contact, "clicked" if n % 2 else "opened", n)


def test_receiver_down_for_an_hour_then_back_gets_every_event_once(world: World) -> None:
    world.subscribe({"id": "crm"}, {"id": "alerts", "events": ["clicked"]})
    world.receiver.stop()  # nothing listens: connection refused
    _events(world)
    world.run_for(timedelta(hours=1), step=timedelta(minutes=5))
    assert world.receiver.received == []
    world.receiver.start()
    world.run_for(timedelta(hours=2), step=timedelta(minutes=5))

    crm, alerts = world.received_ids("crm"), world.received_ids("alerts")
    assert len(crm) == 9 and set(crm.values()) == {1}
    assert len(alerts) == 3 and set(alerts.values()) == {1}
    assert all(r.verified for r in world.receiver.received)
    first = world.deliveries.get("crm", next(iter(crm)))
    assert first is not None and first.status == "delivered" and first.attempts >= 5
    views = {v.id: v for v in world.admin.views()}
    assert (views["crm"].delivered, views["alerts"].delivered) == (9, 3)
    assert views["crm"].failed >= 9 * 4 and views["crm"].dead == 0
    assert views["crm"].failing_since is None and views["crm"].disabled_at is None
    assert world.dead_letters() == []


@pytest.mark.parametrize(
    ("status", "delay", "error"),
    [(500, 0.0, "HTTP 500"), (200, 1.0, "timed out"), (302, 0.0, "redirects are not followed")],
)
def test_an_error_timeout_or_redirect_is_retried_with_the_same_id(
    world: World, status: int, delay: float, error: str
) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status, world.receiver.delay = status, delay
    world.event("ada")
    world.settle()
    delivery = world.deliveries.recent("crm", 1)[0]
    assert delivery.status == "pending" and delivery.attempts == 1
    assert error in (delivery.last_error or "")
    world.receiver.status, world.receiver.delay = 200, 0.1  # slow, but within the timeout
    world.run_for(timedelta(minutes=3))
    after = world.deliveries.get("crm", delivery.event_id)
    assert after is not None and after.status == "delivered" and after.attempts == 2
    ids = world.received_ids("crm")
    # A timed-out attempt may have reached the receiver: at least once, never a new id.
    assert list(ids) == [delivery.event_id]
    assert ids[delivery.event_id] == 2  # each attempt reached it; only the last was a success


def test_duplicate_stream_records_make_one_record_and_one_delivery(world: World) -> None:
    world.subscribe({"id": "crm"})
    _events(world, per_contact=2)
    world.settle()
    world.player.checkpoints.clear()  # the whole stream is handed over again
    world.settle()
    world.player.checkpoints.clear()
    world.run_for(timedelta(minutes=5))
    ids = world.received_ids("crm")
    assert len(ids) == 6 and set(ids.values()) == {1}
    assert len(world.deliveries.recent("crm", 100)) == 6


def test_a_crash_between_the_record_and_the_queue_is_healed_by_the_stream_retry(
    world: World,
) -> None:
    world.subscribe({"id": "crm"})
    world.event("ada")
    original = world.queue.send
    world.queue.send = lambda refs: (_ for _ in ()).throw(RuntimeError("crash"))  # type: ignore[method-assign]
    world.player.pump()  # the record is written, the message is not: the batch fails
    assert len(world.deliveries.recent("crm", 10)) == 1
    world.queue.send = original  # type: ignore[method-assign]
    world.settle()
    assert list(world.received_ids("crm").values()) == [1]


def test_a_crash_after_the_post_redelivers_the_same_id_and_records_it_once(world: World) -> None:
    world.subscribe({"id": "crm"})
    world.event("ada")
    world.crash_after_post = True
    world.settle()
    ids = world.received_ids("crm")
    assert list(ids.values()) == [2]  # at least once: the receiver deduplicates on webhook-id
    delivery = world.deliveries.recent("crm", 1)[0]
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert world.admin.views()[0].delivered == 1


def test_after_24_hours_of_failures_deliveries_are_dead_lettered_and_redriven_once(
    world: World,
) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status = 503
    world.event("ada")
    world.event("bob")
    world.run_for(timedelta(hours=30), step=timedelta(minutes=15))
    dead = world.deliveries.recent("crm", 10)
    assert [d.status for d in dead] == ["dead", "dead"]
    assert all(d.attempts == 10 and d.dead_reason == "exhausted" for d in dead)
    assert len(world.received_ids("crm")) == 2
    assert len(world.dead_letters()) == 2
    # A duplicated dead letter, and one delivery that succeeded meanwhile some other way.
    world.queue.dead_letter(store_ref(dead[0]), "exhausted")
    world.receiver.status = 200
    world.receiver.received.clear()

    dry = world.admin.redrive(100, dry_run=True)
    assert sorted(dry.redriven) == sorted([f"crm/{d.event_id}" for d in (*dead, dead[0])])
    assert world.deliveries.get("crm", dead[0].event_id).status == "dead"  # type: ignore[union-attr]

    report = world.admin.redrive(100, dry_run=False)
    assert len(report.redriven) == 2 and len(report.skipped) == 1
    world.settle()
    again = world.admin.redrive(100, dry_run=False)
    world.settle()
    assert again.redriven == [] and world.dead_letters() == []
    ids = world.received_ids("crm")
    assert len(ids) == 2 and set(ids.values()) == {1}
    assert [d.status for d in world.deliveries.recent("crm", 10)] == ["delivered", "delivered"]


def test_an_endpoint_failing_for_days_is_disabled_then_enabled_and_redriven(world: World) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status = 500
    for day in range(4):
        world.event("ada", n=day)
        world.run_for(timedelta(days=1), step=timedelta(hours=1))
    health = world.webhooks.health("crm")
    assert health.disabled_at is not None
    world.receiver.received.clear()
    world.event("bob")
    world.settle()
    assert world.receiver.received == []  # nothing goes to a disabled endpoint
    newest = world.deliveries.recent("crm", 1)[0]
    assert (newest.status, newest.dead_reason) == ("dead", "endpoint_disabled")

    world.receiver.status = 200
    assert world.admin.enable("crm")
    world.admin.redrive(100, dry_run=False)
    world.settle()
    assert newest.event_id in world.received_ids("crm")
    assert set(world.received_ids("crm").values()) == {1}


def test_delivery_resolves_once_and_connects_to_the_checked_address(world: World) -> None:
    world.subscribe({"id": "crm", "url": f"http://receiver.test:{world.receiver.port}/hooks/crm"})
    world.resolved.clear()
    world.event("ada")
    world.settle()
    assert world.resolved == ["receiver.test"]  # one lookup; the name itself never resolves
    assert list(world.received_ids("crm").values()) == [1]


def test_delivery_refuses_a_host_that_now_resolves_to_a_private_address(world: World) -> None:
    world.subscribe({"id": "crm", "url": "https://hooks.example.com/nurture"})
    world.event("ada")
    world.admin.resolver = world.transport.resolver = lambda host, port: ["10.0.0.7"]
    world.settle()
    delivery = world.deliveries.recent("crm", 1)[0]
    assert delivery.status == "pending" and "private address" in (delivery.last_error or "")
    assert world.receiver.received == []


def store_ref(delivery: store.Delivery) -> DeliveryRef:
    return DeliveryRef(delivery.webhook_id, delivery.event_id)


def test_a_retry_bucket_replayed_after_a_crash_delivers_nothing_twice(world: World) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status = 500
    world.event("ada")
    world.settle()
    world.receiver.status = 200
    delivery = world.deliveries.recent("crm", 1)[0]
    minute = delivery.next_at[:16] + "Z"
    world.clock.advance(timedelta(minutes=2))
    original = world.deliveries.drop_due
    world.deliveries.drop_due = lambda due: (_ for _ in ()).throw(RuntimeError("crash"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        world.deliverer.fire_retries(minute)  # queued, but the bucket item stays
    world.deliveries.drop_due = original  # type: ignore[method-assign]
    assert world.deliverer.fire_retries(minute) == 1  # the schedule's retry: queued again
    world.player.deliver_webhooks()
    assert list(world.received_ids("crm").values()) == [2]  # the failed attempt and one success
    assert world.deliveries.get("crm", delivery.event_id).attempts == 2  # type: ignore[union-attr]


def test_a_dead_lettered_retry_bucket_is_fired_again_by_redrive(world: World) -> None:
    world.subscribe({"id": "crm"})
    world.receiver.status = 500
    world.event("ada")
    world.settle()
    world.receiver.status = 200
    minute = world.deliveries.recent("crm", 1)[0].next_at[:16] + "Z"
    world.clock.advance(timedelta(minutes=2))
    # Lambda's on-failure destination wraps the schedule's input in `requestPayload`.
    world.sqs.send_message(
        QueueUrl=world.dlq_url, MessageBody=json.dumps({"requestPayload": {"minute": minute}})
    )
    report = world.admin.redrive(10, dry_run=False)
    assert report.minutes == [minute]
    world.player.deliver_webhooks()
    assert world.deliveries.recent("crm", 1)[0].status == "delivered"

"""Sequences that start on their own, once per trigger, on moto with the local player and a
simulated clock: product events, segments and stages entered, inactivity; exit on an event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import services, store
from chalicelib.localtime import ceil_minute
from chalicelib.schedule import minute_key
from chalicelib.stamps import instant, iso
from chalicelib.tokens import Purpose, verify
from tests.contactworld import ANYTIME, ContactWorld
from tests.test_journey import T0, Clock

CART = f"""
id: cart
name: Cart reminder
default_timezone: UTC
default_locale: en
send_window: {ANYTIME}
entry:
  reentry: true
  event: {{name: cart_updated, where: {{total: {{gte: 10}}}}}}
exit_on: {{event: order_placed}}
steps:
  - id: reminder
    delay: 4h
    template:
      en:
        subject: "You left something"
        html: '<p><a href="{{{{ event.cart_url | default("https://shop.example/cart") }}}}">Cart</a>
               <a href="{{{{ unsubscribe_url }}}}">u</a></p>'
  - id: offer
    delay: 1d
    template:
      en:
        subject: "10% off, today only"
        html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'
"""


def started(name: str, trigger: str) -> str:
    return f"""
id: {name}
name: {name}
default_timezone: UTC
default_locale: en
send_window: {ANYTIME}
entry: {trigger}
steps:
  - id: hello
    template:
      en: {{subject: "{name} hello", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
"""


@pytest.fixture
def world(table: store.Table) -> Iterator[ContactWorld]:
    world = ContactWorld(table, Clock())
    world.push(CART)
    for name in ("ann", "bob"):
        table.put_profile(
            name, {"email": f"{name}@example.com", "consent_at": "2025-01-01T00:00:00Z"}
        )
    yield world


def subjects(world: ContactWorld, name: str) -> list[str]:
    return world.subjects(f"{name}@example.com")


def cart_link(world: ContactWorld, name: str) -> str | None:
    token = world.token(f"{name}@example.com", "c")
    return verify(token, Purpose.CLICK, services.keyring()).url


def test_a_cart_event_starts_the_reminder_with_the_cart_link(world: ContactWorld) -> None:
    world.product_event(
        "ann", "cart_updated", "cart-1", total=Decimal(25), cart_url="https://shop.example/c/77"
    )
    world.product_event("bob", "cart_updated", "cart-2", total=Decimal(5))  # below the where
    world.run_until(T0 + timedelta(hours=3))
    assert subjects(world, "ann") == []  # the reminder waits 4 hours
    world.run_until(T0 + timedelta(hours=5))
    assert subjects(world, "ann") == ["You left something"]
    assert cart_link(world, "ann") == "https://shop.example/c/77"
    assert subjects(world, "bob") == [] and world.journey.enrollments.get("bob", "cart") is None


def test_a_redelivered_event_enrolls_once(world: ContactWorld) -> None:
    world.product_event("ann", "cart_updated", "cart-1", total=Decimal(25))
    world.player.pump()
    world.player.checkpoints.clear()  # the whole stream again, as after a Lambda retry
    world.player.pump()
    world.run_until(T0 + timedelta(days=3))
    assert subjects(world, "ann") == ["You left something", "10% off, today only"]
    assert world.journey.enrollments.get("ann", "cart").run == 1


@pytest.mark.parametrize("crash_on", ["enrollment", "receipt"])
def test_a_crash_between_trigger_and_enrollment_enrolls_once(
    world: ContactWorld, crash_on: str
) -> None:
    """The process dies writing the enrollment (or just after it, finishing the receipt); the
    stream hands the record over again and the contact is enrolled exactly once."""
    calls = services.client("dynamodb").meta.events
    target = "E#cart" if crash_on == "enrollment" else "T#cart#"

    def crash(params: dict[str, Any], **_: Any) -> None:
        if str(params.get("Key", params.get("Item", {})).get("SK", {}).get("S", "")).startswith(
            target
        ):
            raise RuntimeError("process died")

    world.product_event("ann", "cart_updated", "cart-1", total=Decimal(25))
    kind = "PutItem" if crash_on == "enrollment" else "UpdateItem"
    calls.register(f"before-parameter-build.dynamodb.{kind}", crash, unique_id="crash")
    try:
        world.player.pump()  # the record fails alone; the player will hand it over again
    finally:
        calls.unregister(f"before-parameter-build.dynamodb.{kind}", unique_id="crash")
    enrolled = world.journey.enrollments.get("ann", "cart")
    assert (enrolled is not None) == (crash_on == "receipt")
    world.player.checkpoints.clear()
    world.run_until(T0 + timedelta(days=3))
    assert subjects(world, "ann") == ["You left something", "10% off, today only"]
    assert world.journey.enrollments.get("ann", "cart").run == 1


def test_backfilled_and_stale_events_start_nothing(world: ContactWorld) -> None:
    world.product_event("ann", "cart_updated", "old-1", backfill=True, total=Decimal(25))
    stale = store.ProductEvent(
        "cart_updated", "old-2", "2025-11-20T00:00:00.000Z", {"total": 30}, "bob"
    )
    world.table.apply(stale.write())
    world.run_until(T0 + timedelta(days=3))
    assert subjects(world, "ann") == subjects(world, "bob") == []
    assert world.profile("ann").events["cart_updated"]["n"] == 1  # still counted


def test_an_order_ends_the_cart_sequence(world: ContactWorld) -> None:
    world.product_event("ann", "cart_updated", "cart-1", total=Decimal(25))
    world.run_until(T0 + timedelta(hours=5))
    world.product_event("ann", "order_placed", "order-1")
    world.run_until(T0 + timedelta(days=3))
    assert subjects(world, "ann") == ["You left something"]
    enrollment = world.journey.enrollments.get("ann", "cart")
    assert (
        enrollment.status,
        world.table.client.get_item(
            TableName=world.table.name,
            Key={"PK": {"S": "C#ann"}, "SK": {"S": "E#cart"}},
        )["Item"]["end_reason"]["S"],
    ) == ("exited", "exit_event")


def test_entering_a_segment_starts_a_sequence(world: ContactWorld) -> None:
    world.push_examples("pricing-curious", "engaged-buyers")
    world.push(started("sales", "{segment_entered: pricing-curious}"))
    world.sent_tagged("ann")
    world.click("ann", 0)  # a human click on the pricing link
    world.sent_tagged("bob")
    world.click("bob", 2)  # the blog: no interest
    world.run_until(world.clock.at() + timedelta(minutes=5))
    assert "sales hello" in subjects(world, "ann") and "sales hello" not in subjects(world, "bob")


def test_reaching_a_stage_starts_a_sequence(world: ContactWorld) -> None:
    world.push_examples("pricing-curious", "engaged-buyers")
    world.push(started("welcome-customer", "{stage_entered: customer}"))
    world.product_event("ann", "order_placed", "order-1")
    world.run_until(T0 + timedelta(minutes=5))
    world.player.checkpoints.clear()
    world.run_until(T0 + timedelta(minutes=10))
    assert subjects(world, "ann") == ["welcome-customer hello"]


def test_silence_starts_reengagement_once_and_engagement_moves_the_deadline(
    world: ContactWorld,
) -> None:
    world.push(started("winback", "{reentry: true, inactive: {no_human_engagement: 90d}}"))
    for name in ("ann", "bob"):
        world.sent_tagged(name)
        world.open(name)
    world.player.pump()
    ann = world.profile("ann")
    engaged = instant(str(ann.last_engaged_at))
    assert ann.inactive_at == minute_key(ceil_minute(engaged + timedelta(days=90)))
    world.run_until(T0 + timedelta(days=60))
    world.open("bob")  # bob reads again: his spell starts over
    world.run_until(T0 + timedelta(days=95))
    assert "winback hello" in subjects(world, "ann")
    assert "winback hello" not in subjects(world, "bob")
    world.run_until(T0 + timedelta(days=160))
    assert subjects(world, "bob").count("winback hello") == 1
    assert subjects(world, "ann").count("winback hello") == 1  # no second spell without engaging
    assert len(world.timeline("ann", "inactive")) == 1


def test_contacts_who_opted_out_of_the_topic_or_lack_consent_are_not_enrolled(
    world: ContactWorld,
) -> None:
    world.push(CART.replace("id: cart\n", "id: offers\ntopic: offers\nconsent: required\n"))
    world.table.put_profile("cid", {"email": "cid@example.com", "consent_at": "2025-01-01T00Z"})
    world.table.apply(store.preferences_write("cid", ["product"], None, "2025-06-01T00:00Z"))
    world.table.put_profile("dee", {"email": "dee@example.com"})  # no consent recorded
    for name in ("ann", "cid", "dee"):
        world.product_event(name, "cart_updated", f"cart-{name}", total=Decimal(50))
    world.run_until(T0 + timedelta(days=3))
    offers = {n: world.journey.enrollments.get(n, "offers") for n in ("ann", "cid", "dee")}
    assert offers["ann"] is not None and offers["cid"] is None and offers["dee"] is None
    receipts = {
        name: world.table.client.get_item(
            TableName=world.table.name,
            Key={"PK": {"S": f"C#{name}"}, "SK": {"S": f"T#offers#cart-{name}"}},
        )["Item"]["state"]["S"]
        for name in ("ann", "cid", "dee")
    }
    assert receipts == {"ann": "enrolled", "cid": "topic_opted_out", "dee": "no_consent"}


EXACT = {
    "total": Decimal(25),
    "cart_url": "https://shop.example/c/9",
    "digits": Decimal("12345678901234567890.123456789012345678"),
    "tiny": Decimal("1E-130"),
    "huge": Decimal("9.9999999999999999999999999999999999999E+125"),
    "text": 'a "quoted" \\ back\u2028slash </script> \U0001f6d2',
    "nothing": None,
    "flags": [True, False],
    "lines": [{"sku": "a-1", "qty": Decimal(2)}, {"sku": "b-2", "qty": Decimal("0.5")}],
    "empty": {"list": [], "map": {}},
}


def test_an_events_properties_reach_its_sequence_exactly(world: ContactWorld) -> None:
    """Stored as JSON text (cheap on the hot path), read back through the stream with every
    digit, type and character as sent: the enrollment keeps them for the templates."""
    world.product_event("ann", "cart_updated", "cart-1", **EXACT)
    world.player.pump()
    enrollment = world.journey.enrollments.get("ann", "cart")
    assert enrollment is not None
    assert repr(dict(enrollment.context)) == repr(EXACT)
    [stored] = [e for e in world.timeline("ann", "event") if e["name"] == "cart_updated"]
    assert repr(stored["properties"]) == repr(EXACT)


def test_an_event_stored_with_a_map_of_properties_still_starts_its_sequence(
    world: ContactWorld,
) -> None:
    """Events stored before properties were JSON text hold a DynamoDB map: read as they are."""
    properties = {"total": {"N": "25"}, "cart_url": {"S": "https://shop.example/c/old"}}
    item = store.product_event_item(
        store.ProductEvent("cart_updated", "cart-old", iso(world.clock()), {}, "ann")
    )
    services.client("dynamodb").put_item(
        TableName=world.table.name, Item={**item, "properties": {"M": properties}}
    )
    world.run_until(T0 + timedelta(hours=5))
    assert subjects(world, "ann") == ["You left something"]
    assert cart_link(world, "ann") == "https://shop.example/c/old"

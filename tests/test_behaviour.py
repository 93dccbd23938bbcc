"""The behaviour summary, interests, segments and stages kept from the stream, on moto with
the local player and a simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from chalicelib import audience, services, store
from chalicelib.segments import parse_segment
from chalicelib.stamps import iso
from chalicelib.tracking import CLICK_METHOD
from tests.contactworld import ContactWorld
from tests.test_journey import T0, Clock


@pytest.fixture
def world(table: store.Table) -> Iterator[ContactWorld]:
    world = ContactWorld(table, Clock())
    for name in ("ann", "bob"):
        table.put_profile(
            name, {"email": f"{name}@example.com", "consent_at": iso(T0.timestamp() - 86_400)}
        )
    yield world


def test_a_human_click_adds_its_links_interests_with_their_time(world: ContactWorld) -> None:
    world.sent_tagged("ann")
    world.click("ann", 1)
    world.player.pump()
    ann, at = world.profile("ann"), iso(world.clock())
    assert ann.interests == {"docs", "api"}
    assert dict(ann.interest_at) == {"docs": at, "api": at}
    assert (ann.last_clicked_at, ann.last_opened_at, ann.last_engaged_at) == (at, at, at)
    world.clock.advance(days=2)
    world.click("ann", 0)
    world.player.pump()
    later = world.profile("ann")
    assert later.interests == {"docs", "api", "pricing"}
    assert later.interest_at["pricing"] == iso(world.clock()) and later.interest_at["docs"] == at


def test_scanner_head_and_burst_clicks_and_machine_opens_teach_nothing(
    world: ContactWorld,
) -> None:
    world.sent_tagged("ann")
    world.click("ann", 0, method="HEAD")
    world.tracker.open(world.token("ann@example.com", "o"), "Mozilla/5.0")  # Apple MPP
    world.player.pump()
    world.clock.advance(minutes=1)
    for nth in range(3):  # every link within a second: a scanner with a browser's agent
        world.click("ann", nth)
    world.player.pump()
    item = world.table.profile("ann") or {}
    assert not {"interests", "last_clicked_at", "last_opened_at", "summary_seq"} & set(item)
    clicks = world.timeline("ann", "clicked")
    verdicts = {(e["verdict"], e.get("method", CLICK_METHOD)) for e in clicks}
    assert verdicts == {("scanner", "HEAD"), ("scanner", "GET")}


def test_product_events_are_counted_once_even_when_redelivered(world: ContactWorld) -> None:
    world.product_event("ann", "order_placed", "o-1", total=Decimal("49.90"), plan="pro")
    world.clock.advance(hours=1)
    world.product_event("ann", "order_placed", "o-2", total=Decimal(20), items=[{"sku": "x"}])
    world.player.pump()
    world.player.checkpoints.clear()  # Lambda hands the whole stream over again
    world.player.pump()
    orders = world.profile("ann").events["order_placed"]
    assert orders["n"] == 2
    assert [seen["id"] for seen in orders["recent"]] == ["o-2", "o-1"]
    assert orders["recent"][0]["p"] == {"total": Decimal(20)}  # scalars only are kept
    assert orders["recent"][1]["p"] == {"plan": "pro", "total": Decimal("49.90")}


def test_stages_advance_forward_only_unless_a_rule_says(world: ContactWorld) -> None:
    world.push_examples("pricing-curious", "engaged-buyers")
    world.product_event("ann", "cart_updated", "c-1")
    world.player.pump()
    assert world.profile("ann").stage == "decision"
    world.clock.advance(hours=1)
    world.product_event("ann", "order_placed", "o-1")
    world.player.pump()
    world.clock.advance(hours=1)
    world.product_event("ann", "cart_updated", "c-2")  # would be decision: forward only
    world.player.pump()
    assert world.profile("ann").stage == "customer"
    world.clock.advance(hours=1)
    world.product_event("ann", "subscription_cancelled", "x-1")
    world.player.pump()
    changes = [(e.get("from_stage"), e["to_stage"]) for e in world.timeline("ann", "stage_changed")]
    assert changes == [(None, "decision"), ("decision", "customer"), ("customer", "decision")]
    assert world.profile("bob").stage is None


def test_segments_are_entered_and_left_as_behaviour_changes(world: ContactWorld) -> None:
    world.push_examples("pricing-curious", "engaged-buyers")
    world.sent_tagged("ann")
    world.click("ann", 0)  # pricing: the contact is pricing-curious now
    world.player.pump()
    assert world.profile("ann").segments == {"pricing-curious"}
    assert world.profile("ann").stage == "consideration"  # the segment's stage rule
    world.clock.advance(hours=1)
    world.product_event("ann", "order_placed", "o-1")
    world.player.pump()
    assert world.profile("ann").segments == set()
    entered = [e["segment"] for e in world.timeline("ann", "segment_entered")]
    left = [e["segment"] for e in world.timeline("ann", "segment_left")]
    assert (entered, left) == (["pricing-curious"], ["pricing-curious"])


def test_a_profile_changed_by_an_import_is_re_evaluated(world: ContactWorld) -> None:
    vips = parse_segment("id: vips\nname: VIPs\nmatch: {tag: vip}\n")
    audience.push_segment(services.versions("segment"), vips, services.catalogue(), "t")
    change = store.ProfileChange(sets={"tags": frozenset({"vip"})})
    world.table.apply(store.profile_update_write("bob", change, "t", has_attributes=False))
    world.player.pump()
    world.player.checkpoints.clear()
    world.player.pump()
    assert world.profile("bob").segments == {"vips"}
    assert [e["segment"] for e in world.timeline("bob", "segment_entered")] == ["vips"]

"""The behaviour summary, interests, segments and stages kept from the stream, on moto with
the local player and a simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib import audience, catalog, services, store, streams
from chalicelib.behaviour import Behaviour
from chalicelib.funnel import Funnel
from chalicelib.profiles import Profile
from chalicelib.segments import load_segment, parse_segment
from chalicelib.sequences import parse_sequence
from chalicelib.stages import load_stages
from chalicelib.stamps import iso
from local.player import Player
from tests.test_journey import BROWSER, T0, Clock, World

ROOT = Path(__file__).resolve().parent.parent
TAGGED = """
id: tagged
name: Tagged links
default_timezone: UTC
default_locale: en
send_window: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}
steps:
  - id: first
    template:
      en:
        subject: "Hi"
        html: '<p><a href="https://shop.example/pricing" data-nurture-tag="pricing">Prices</a>
               <a href="https://shop.example/docs" data-nurture-tag="docs, api">Docs</a>
               <a href="https://shop.example/blog">Blog</a>
               <a href="{{ unsubscribe_url }}">u</a></p>'
"""


class ContactWorld(World):
    """The journeys world, with the stream also feeding the contacts' behaviour summaries."""

    def __init__(self, table: store.Table, clock: Clock) -> None:
        super().__init__(table, clock)
        catalog.push(services.versions(), parse_sequence(TAGGED), "t")
        self.player = Player(
            services.client("scheduler"),
            services.client("dynamodbstreams"),
            services.client("dynamodb"),
            table.name,
            "nurture",
            lambda event, _: self.journey.fire(event["minute"]),
            lambda event, _: streams.handle(
                event,
                [
                    streams.engagement(self.journey, Funnel(table)),
                    streams.behaviour(self.behaviour()),
                ],
            ),
        )

    def behaviour(self) -> Behaviour:
        return Behaviour(self.table, services.catalogue(), 400, self.clock)

    def profile(self, contact_id: str) -> Profile:
        return Profile.from_item(contact_id, self.table.profile(contact_id) or {})

    def timeline(self, contact_id: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.table.events(contact_id) if e["type"] == kind]

    def sent_tagged(self, contact_id: str) -> None:
        """Enroll in the tagged sequence and deliver its email, then let an hour pass."""
        self.journey.enroll(contact_id, "tagged")
        self.run_until(self.clock.at() + timedelta(minutes=5))
        self.clock.advance(hours=1)

    def click(self, contact_id: str, nth: int, method: str = "GET") -> None:
        token = self.token(f"{contact_id}@example.com", "c", nth=nth)
        self.tracker.click(token, method, BROWSER)

    def product_event(self, contact_id: str, name: str, event_id: str, **props: Any) -> None:
        event = store.ProductEvent(name, event_id, iso(self.clock()), props, contact_id)
        self.table.apply(event.write())


@pytest.fixture
def world(table: store.Table) -> Iterator[ContactWorld]:
    world = ContactWorld(table, Clock())
    for name in ("ann", "bob"):
        table.put_profile(
            name, {"email": f"{name}@example.com", "consent_at": iso(T0.timestamp() - 86_400)}
        )
    yield world


def push_examples(*segments: str) -> None:
    catalogue = services.catalogue()
    for segment in segments:
        found = load_segment(ROOT / "examples" / "segments" / f"{segment}.yaml")
        audience.push_segment(services.versions("segment"), found, catalogue, "t")
    stages = load_stages(ROOT / "examples" / "stages.yaml")
    audience.push_stages(services.versions("stages"), stages, services.catalogue(), "t")


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
    verdicts = {(e["verdict"], e.get("method")) for e in world.timeline("ann", "clicked")}
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
    push_examples("pricing-curious", "engaged-buyers")
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
    push_examples("pricing-curious", "engaged-buyers")
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

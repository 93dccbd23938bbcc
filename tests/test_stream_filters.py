"""The stream's filter criteria (`store.changes.STREAM`) let through every record a consumer
acts on: a record they drop, handed to every consumer anyway, writes nothing anywhere and means
no outbound event. A filter that dropped what the funnel, behaviour, triggers or outbound need
would be silent data loss."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import services, store, streams
from chalicelib.funnel import Funnel
from chalicelib.outbound.events import from_change
from chalicelib.stamps import iso
from chalicelib.store.changes import STREAM
from chalicelib.store.items import _plain
from local.filters import matches_any
from tests.contactworld import ContactWorld
from tests.test_journey import T0, Clock

READS = ("Get", "BatchGet", "Query", "Scan", "Describe", "List")


def record(action: str, keys: dict[str, str], **images: dict[str, str]) -> dict[str, Any]:
    def typed(image: dict[str, str]) -> dict[str, Any]:
        return {name: {"S": value} for name, value in image.items()}

    body: dict[str, Any] = {"Keys": typed(keys), "SequenceNumber": "1"}
    body.update({name: typed({**keys, **image}) for name, image in images.items()})
    return {"eventName": action, "dynamodb": body}


PATTERNS = store.filter_patterns()


@pytest.mark.parametrize(
    ("kind", "keys"),
    [
        ("event", {"PK": "C#c1", "SK": "EV#2026-01-01T00:00:00Z#opened#e1"}),
        ("addressed_event", {"PK": "M#ab12", "SK": "EV#2026-01-01T00:00:00Z#order_placed#o1"}),
        ("profile", {"PK": "C#c1", "SK": "PROFILE"}),
        ("enrollment", {"PK": "C#c1", "SK": "E#welcome"}),
    ],
)
def test_each_kind_passes_for_the_actions_its_consumers_read(
    kind: str, keys: dict[str, str]
) -> None:
    shape = STREAM[kind]  # type: ignore[index]
    for action in ("INSERT", "MODIFY", "REMOVE"):
        passed = matches_any(PATTERNS, record(action, keys, NewImage={}, OldImage={}))
        assert passed is (action in shape.actions), (kind, action)
    assert store.stream_kind(keys) == kind


@pytest.mark.parametrize(
    ("old", "new", "passes"),
    [
        ("claimed", "sent", True),
        ("claimed", "skipped", True),
        ("claimed", "uncertain", True),
        ("uncertain", "sent", True),
        ("claimed", "claimed", False),  # an attempt's SES call being recorded
        ("claimed", "failed", False),
        ("sent", "sent", False),  # SES outcomes and erasure of a settled send
    ],
)
def test_a_send_passes_only_when_it_settles(old: str, new: str, passes: bool) -> None:
    keys = {"PK": "S#s1", "SK": "META"}
    change = record("MODIFY", keys, OldImage={"status": old}, NewImage={"status": new})
    assert matches_any(PATTERNS, change) is passes


def test_timers_guards_counters_and_versions_are_dropped() -> None:
    for keys in (
        {"PK": "D#2026-01-01T00:00Z", "SK": "c1#welcome#1#0#send#a"},
        {"PK": "S#abc", "SK": "U#opened"},
        {"PK": "R#welcome", "SK": "N#first#3"},
        {"PK": "WD#crm#evt_1", "SK": "DELIVERY"},
    ):
        assert not matches_any(PATTERNS, record("INSERT", keys, NewImage={}))


class Writes:
    """Counts the calls that change something, on every client the consumers use."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        for service in ("dynamodb", "scheduler", "sesv2", "sqs", "events"):
            services.client(service).meta.events.register("before-call.*.*", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        if not model.name.startswith(READS):
            self.calls[model.name] += 1


@pytest.fixture
def world(table: store.Table) -> Iterator[ContactWorld]:
    world = ContactWorld(table, Clock())
    for name in ("ann", "bob"):
        table.put_profile(
            name, {"email": f"{name}@example.com", "consent_at": iso(T0.timestamp() - 86_400)}
        )
    yield world


def test_what_the_filters_drop_changes_nothing(world: ContactWorld) -> None:
    """A day of a contact's life through the unfiltered stream: every record the filters drop
    goes to every consumer too, and none of them writes or publishes anything for it."""
    world.push_examples("pricing-curious", "engaged-buyers")
    world.push_segment("id: vips\nname: VIPs\nmatch: {tag: vip}\n")
    consumers = [
        streams.engagement(world.journey, Funnel(world.table)),
        streams.behaviour(world.behaviour()),
        streams.triggers(world.triggers()),
    ]
    writes, dropped = Writes(), Counter[str]()

    def on_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
        kept = [r for r in event["Records"] if matches_any(PATTERNS, r)]
        for unwanted in (r for r in event["Records"] if r not in kept):
            dropped[str(unwanted["dynamodb"]["Keys"]["PK"]["S"]).split("#")[0]] += 1
            before = sum(writes.calls.values())
            streams.handle({"Records": [unwanted]}, consumers)
            change = store.Change(
                unwanted["eventName"],
                _plain(unwanted["dynamodb"].get("NewImage", {})),
                _plain(unwanted["dynamodb"].get("OldImage", {})),
            )
            assert sum(writes.calls.values()) == before, (unwanted, writes.calls)
            assert from_change(change, lambda _: None) is None, unwanted
        return world.on_stream({"Records": kept}, context) if kept else {}

    world.player.filters = ()
    world.player.on_stream = on_stream
    world.sent_tagged("ann")
    world.open("ann")
    world.click("ann", 0)
    world.product_event("ann", "order_placed", "o-1", total=Decimal("49.90"))
    world.product_event("bob", "cart_updated", "c-1")
    world.table.apply(
        store.profile_update_write(
            "bob", store.ProfileChange(sets={"tags": frozenset({"vip"})}), "t", has_attributes=False
        )
    )
    world.run_until(world.clock.at())
    assert world.profile("ann").segments == set()  # entered pricing-curious, left on the order
    assert world.profile("bob").segments == {"vips"}  # the import's profile change
    assert dropped["D"] and dropped["S"] and dropped["R"], dropped  # timers, sends, funnel

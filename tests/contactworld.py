"""The journeys test world (`tests.test_journey.World`) with everything contacts add: the
stream also keeps behaviour summaries, segments and stages and starts sequences on their
triggers; sends pass the topic, consent and segment gates; inactivity checks fire from the
due buckets. One simulated clock drives it all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from chalicelib import audience, catalog, services, store, streams
from chalicelib.behaviour import Behaviour
from chalicelib.caps import CapPolicy
from chalicelib.funnel import Funnel
from chalicelib.gates import Gates
from chalicelib.inactivity import Inactivity
from chalicelib.journey import Journey
from chalicelib.profiles import Profile
from chalicelib.segments import load_segment, parse_segment
from chalicelib.sequences import parse_sequence
from chalicelib.stages import load_stages
from chalicelib.stamps import iso
from chalicelib.triggers import Index, Triggers
from local.player import Player
from tests.test_journey import BROWSER, Clock, World

ROOT = Path(__file__).resolve().parent.parent
ANYTIME = '{start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}'
TAGGED = f"""
id: tagged
name: Tagged links
default_timezone: UTC
default_locale: en
send_window: {ANYTIME}
steps:
  - id: first
    template:
      en:
        subject: "Hi"
        html: '<p><a href="https://shop.example/pricing" data-nurture-tag="pricing">Prices</a>
               <a href="https://shop.example/docs" data-nurture-tag="docs, api">Docs</a>
               <a href="https://shop.example/blog">Blog</a>
               <a href="{{{{ unsubscribe_url }}}}">u</a></p>'
"""


class ContactWorld(World):
    def __init__(self, table: store.Table, clock: Clock) -> None:
        super().__init__(table, clock)
        self.push(TAGGED)
        self.gates = Gates(member=self.member)
        self.journey = Journey(
            table,
            services.versions(),
            self.scheduler,
            self.journey.sender,
            self.journey.sequence,
            CapPolicy("UTC"),
            clock,
            self.gates,
        )
        self.player = Player(
            services.client("scheduler"),
            services.client("dynamodbstreams"),
            services.client("dynamodb"),
            table.name,
            "nurture",
            self.on_schedule,
            self.on_stream,
        )

    # --- wiring, as services does it ----------------------------------------------------------

    def on_schedule(self, event: dict[str, Any], _: Any) -> int:
        minute = event["minute"]
        return self.journey.fire(minute) + self.inactivity().fire(minute)

    def on_stream(self, event: dict[str, Any], _: Any) -> dict[str, Any]:
        consumers = [
            streams.engagement(self.journey, Funnel(self.table)),
            streams.behaviour(self.behaviour()),
            streams.triggers(self.triggers()),
        ]
        return streams.handle(event, consumers)

    def index(self) -> Index:
        return Index.read(services.versions(), self.journey.sequence)

    def inactivity(self) -> Inactivity:
        return Inactivity(self.table, self.scheduler, self.index().inactivity, 400, self.clock)

    def behaviour(self) -> Behaviour:
        catalogue = services.catalogue()
        return Behaviour(self.table, catalogue, 400, self.clock, inactivity=self.inactivity())

    def triggers(self) -> Triggers:
        return Triggers(self.table, self.index(), self.journey, self.gates, self.clock)

    def member(self, profile: Profile, segment_id: str) -> bool:
        return services.catalogue().matcher(segment_id, self.clock.at())(profile)

    # --- what a marketer and the contacts do ----------------------------------------------------

    def push(self, sequence_yaml: str) -> None:
        catalog.push(services.versions(), parse_sequence(sequence_yaml), "t")

    def push_segment(self, text: str) -> None:
        segment = parse_segment(text)
        audience.push_segment(services.versions("segment"), segment, services.catalogue(), "t")

    def push_examples(self, *segments: str) -> None:
        for segment in segments:
            found = load_segment(ROOT / "examples" / "segments" / f"{segment}.yaml")
            catalogue = services.catalogue()
            audience.push_segment(services.versions("segment"), found, catalogue, "t")
        stages = load_stages(ROOT / "examples" / "stages.yaml")
        audience.push_stages(services.versions("stages"), stages, services.catalogue(), "t")

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

    def open(self, contact_id: str) -> None:
        self.tracker.open(self.token(f"{contact_id}@example.com", "o"), BROWSER)

    def product_event(
        self, contact_id: str, name: str, event_id: str, *, backfill: bool = False, **props: Any
    ) -> None:
        event = store.ProductEvent(
            name, event_id, iso(self.clock()), props, contact_id, backfill=backfill
        )
        self.table.apply(event.write())

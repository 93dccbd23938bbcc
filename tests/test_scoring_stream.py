"""Lead scores kept from the stream on moto, with the local player and a simulated clock:
people (never machines) score, an event scores once, decay crossings fire at their minute,
alerts page once per crossing, receipts add up, and a rescore survives a crash."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml

from chalicelib import services, store
from chalicelib.behaviour import Behaviour
from chalicelib.errors import FileInvalid
from chalicelib.redrive import lambda_record
from chalicelib.scoring.files import parse_scoring
from chalicelib.scoring.service import Scores, push_scoring
from chalicelib.sequences import parse_sequence
from chalicelib.stamps import iso
from chalicelib.triggers import preview
from tests.contactworld import ContactWorld
from tests.test_journey import BROWSER, Clock

SCORING = """
name: Test score
fit:
  grades: {A: 20, B: 10, C: 1}
  groups:
    - id: title
      max: 25
      rules:
        - {label: decides, when: {attribute: {name: job_title, equals: CEO}}, points: 20}
        - {label: senior, when: {tag: senior}, points: 10}
    - id: address
      min: -5
      rules:
        - label: personal mailbox
          when: {field: {name: email, ends_with: "@gmail.com"}}
          points: -10
engagement:
  half_life: 1d
  opened: {points: 2, daily_cap: 4}
  clicked: {points: 10, daily_cap: 30}
  converted: {points: 20}
  unsubscribed: {points: -15}
  events:
    - {name: demo_requested, points: 25}
    - {name: page_viewed, points: 3, daily_cap: 6}
temperature:
  levels: {high: 30, medium: 10}
alert:
  when: hot
  rearm: cold
"""


class ScoreWorld(ContactWorld):
    """The contacts world with scores kept from the stream and fired at their deadlines."""

    def on_schedule(self, event: dict[str, Any], _: Any) -> int:
        return super().on_schedule(event, _) + self.scores().fire(event["minute"])

    def scores(self) -> Scores:
        found = services.catalogue()
        return Scores(
            self.table,
            services.versions("scoring"),
            self.scheduler,
            found.topics,
            found.stage_names,
            400,
            self.clock,
        )

    def behaviour(self) -> Behaviour:
        return Behaviour(
            self.table,
            services.catalogue(),
            400,
            self.clock,
            scores=self.scores(),
            inactivity=self.inactivity(),
        )

    def push_scoring(self, text: str = SCORING) -> int:
        pushed = push_scoring(services.versions("scoring"), parse_scoring(text), "t", ())
        return pushed.version

    def engagement(self, contact_id: str) -> Decimal:
        state = self.profile(contact_id).score
        assert state is not None
        return state.engagement(int(self.clock()))

    def demo(self, contact_id: str, event_id: str) -> None:
        self.product_event(contact_id, "demo_requested", event_id)
        self.player.pump()

    def changes(self, contact_id: str) -> list[tuple[Any, ...]]:
        return [
            (e.get("from"), e["to"], e["transition"], e["cause"], e["at"])
            for e in self.timeline(contact_id, "temperature_changed")
        ]


@pytest.fixture
def world(table: store.Table) -> Iterator[ScoreWorld]:
    world = ScoreWorld(table, Clock())
    world.push_scoring()
    ann = store.ProfileChange(
        fields={"email": "ann@example.com"},
        sets={"tags": frozenset({"senior"})},
        attributes={"job_title": "CEO"},
    )
    table.apply(store.profile_create_write("ann", "h-ann", ann, iso(world.clock())))
    table.put_profile("bob", {"email": "bob@gmail.com"})
    world.player.pump()  # their fit is scored as they are imported
    yield world


def minute_of(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


# --- people, not machines -------------------------------------------------------------------------


def test_machine_opens_and_scanner_clicks_score_zero(world: ScoreWorld) -> None:
    world.sent_tagged("ann")
    world.click("ann", 0, method="HEAD")
    world.tracker.open(world.token("ann@example.com", "o"), "Mozilla/5.0")  # Apple MPP
    world.clock.advance(minutes=1)
    for nth in range(3):  # every link within a second: a burst, reclassified as a scanner
        world.click("ann", nth)
    world.player.pump()
    state = world.profile("ann").score
    assert state is not None and state.fit == 25  # the profile was scored, not the machines
    assert state.ledger.lines == () and world.engagement("ann") == 0
    explained = world.scores().explain("ann").doc()
    reasons = Counter(item["reason"].split(" (")[0] for item in explained["unscored"])
    assert reasons == {"scanner click": 4, "machine open": 1}
    world.clock.advance(minutes=5)
    world.tracker.open(world.token("ann@example.com", "o"), BROWSER)  # a person, later
    world.player.pump()
    assert world.engagement("ann") == 2


# --- once -----------------------------------------------------------------------------------------


def test_a_redelivered_or_duplicated_record_scores_once(world: ScoreWorld) -> None:
    world.demo("ann", "d-1")
    assert world.engagement("ann") == 25
    world.player.checkpoints.clear()  # Lambda hands the whole stream over again
    world.player.pump()
    assert world.engagement("ann") == 25
    # moto can emit a second INSERT record for one item: the same image, a later number.
    arn = services.client("dynamodb").describe_table(TableName=world.table.name)["Table"][
        "LatestStreamArn"
    ]
    streams_client = services.client("dynamodbstreams")
    records = []
    for shard in streams_client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams_client.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams_client.get_records(ShardIterator=iterator)["Records"]
    insert = next(
        r
        for r in records
        if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"].get("event_id") == {"S": "d-1"}
    )
    latest = max(int(r["dynamodb"]["SequenceNumber"]) for r in records)
    twin = {**insert, "dynamodb": {**insert["dynamodb"], "SequenceNumber": str(latest + 1)}}
    world.on_stream({"Records": [lambda_record(twin, arn)]}, None)
    assert world.engagement("ann") == 25
    assert [s.event_id for s in world.profile("ann").score.recent] == ["d-1"]  # type: ignore[union-attr]
    assert len(world.timeline("ann", "alert")) == 0  # 25: warm, no page


def test_scoring_an_event_is_one_write_and_no_read_beyond_the_profile(
    world: ScoreWorld,
) -> None:
    world.demo("ann", "d-1")
    behaviour = world.behaviour()
    behaviour.scores.scorer()  # type: ignore[union-attr]  # the model is read once per batch
    world.clock.advance(minutes=3)
    event = store.ProductEvent("page_viewed", "p-1", iso(world.clock()), {}, "ann")
    world.table.apply(event.write())
    image = next(e for e in world.table.events("ann") if e.get("event_id") == "p-1")
    calls: Counter[str] = Counter()
    client = services.client("dynamodb")

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.dynamodb", count)
    try:
        behaviour.on_event(image, "9" * 39)
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)
    assert calls == {"GetItem": 1, "TransactWriteItems": 1}
    assert world.engagement("ann") == Decimal("24.96") + 3


# --- decay ----------------------------------------------------------------------------------------


def test_a_decay_crossing_fires_cooled_once_at_the_right_minute(world: ScoreWorld) -> None:
    world.demo("ann", "d-1")
    world.clock.advance(minutes=10)
    world.demo("ann", "d-2")
    state = world.profile("ann").score
    assert state is not None and state.temperature == "hot" and state.due is not None
    # Independently of the deadline search: the first whole minute the score reads under 30.
    now = int(world.clock())
    minute = now // 60 * 60 + 60
    while state.engagement(minute) >= 30:
        minute += 60
    assert minute_of(state.due) == datetime.fromtimestamp(minute, UTC)
    world.run_until(minute_of(state.due) - timedelta(minutes=1))
    heated = [("cold", "warm", "heated", "event", iso(now - 600))]
    heated.append(("warm", "hot", "heated", "event", iso(now)))
    assert world.changes("ann") == heated
    world.run_until(minute_of(state.due))
    cooled = world.changes("ann")[2:]
    assert cooled == [("hot", "warm", "cooled", "decay", iso(minute))]
    world.run_until(minute_of(state.due) + timedelta(days=4))
    world.player.checkpoints.clear()
    world.player.pump()
    bands = [(frm, to) for frm, to, *_ in world.changes("ann")]
    assert bands == [("cold", "warm"), ("warm", "hot"), ("hot", "warm"), ("warm", "cold")]
    assert world.profile("ann").score.temperature == "cold"  # type: ignore[union-attr]


def test_hysteresis_pages_sales_once_per_crossing(world: ScoreWorld) -> None:
    world.demo("ann", "d-1")
    world.demo("ann", "d-2")  # 50: hot, alert
    world.run_until(world.clock.at() + timedelta(hours=20))  # decayed to warm
    assert world.profile("ann").score.temperature == "warm"  # type: ignore[union-attr]
    world.demo("ann", "d-3")  # hot again, but it never cooled to cold: no second page
    assert world.profile("ann").score.temperature == "hot"  # type: ignore[union-attr]
    assert len(world.timeline("ann", "alert")) == 1
    world.run_until(world.clock.at() + timedelta(days=4))  # cold: armed again
    assert world.profile("ann").score.armed  # type: ignore[union-attr]
    world.demo("ann", "d-4")
    world.demo("ann", "d-5")
    alerts = world.timeline("ann", "alert")
    assert len(alerts) == 2
    latest = max(alerts, key=lambda a: a["at"])
    assert latest["name"] == "hot-lead" and latest["temperature"] == "hot"
    assert latest["receipt"]["fit"]["grade"] == "A"
    total = sum(Decimal(line["value"]) for line in latest["receipt"]["engagement"]["lines"])
    assert total == Decimal(latest["receipt"]["engagement"]["score"])
    assert [e["event_id"] for e in latest["engagements"]][:2] == ["d-5", "d-4"]


HOT_OFFER = """
id: hot-offer
name: Hot offer
default_timezone: UTC
default_locale: en
entry: {temperature_became: hot}
steps:
  - id: offer
    template:
      en: {subject: "A call, on us", html: '<p><a href="{{ unsubscribe_url }}">u</a></p>'}
"""


def test_turning_hot_starts_a_temperature_became_sequence_once(world: ScoreWorld) -> None:
    world.push(HOT_OFFER)
    world.demo("ann", "d-1")  # 25: warm, nothing starts
    assert world.journey.enrollments.get("ann", "hot-offer") is None
    world.demo("ann", "d-2")  # 50: hot
    enrolled = world.journey.enrollments.get("ann", "hot-offer")
    assert enrolled is not None and enrolled.run == 1
    world.player.checkpoints.clear()  # the whole stream again: the receipt holds
    world.player.pump()
    assert world.journey.enrollments.get("ann", "hot-offer").run == 1  # type: ignore[union-attr]
    assert world.journey.enrollments.get("bob", "hot-offer") is None
    sequence = parse_sequence(HOT_OFFER)
    now = world.clock.at()
    found = preview(
        sequence,
        [world.profile("ann"), world.profile("bob")],
        now,
        world.member,
        world.gates,
        lambda contact_id: world.journey.enrollments.get(contact_id, "hot-offer"),
    )
    assert [(c.contact_id, c.why, c.outcome) for c in found] == [
        ("ann", "temperature hot", "already enrolled")
    ]


def test_a_temperature_trigger_names_a_band() -> None:
    with pytest.raises(FileInvalid) as refused:
        parse_sequence(HOT_OFFER.replace("temperature_became: hot", "temperature_became: boiling"))
    assert [e.path for e in refused.value.errors] == ["entry.temperature_became"]


# --- receipts -------------------------------------------------------------------------------


def test_receipts_add_up_to_the_score_with_caps_and_decay(world: ScoreWorld) -> None:
    for n in range(4):  # 4 x 3 points, capped at 6 a day
        world.product_event("ann", "page_viewed", f"p-{n}")
        world.clock.advance(minutes=1)
    world.product_event("ann", "demo_requested", "d-1")
    world.player.pump()
    world.clock.advance(hours=30)
    world.product_event("ann", "page_viewed", "p-9")
    world.table.apply(
        store.profile_update_write(
            "ann", store.ProfileChange(attributes={"job_title": "CEO"}), "t", has_attributes=True
        )
    )
    world.player.pump()
    for later in (0, 7, 50):
        world.clock.advance(hours=later)
        doc = world.scores().explain("ann").doc()
        lines = doc["engagement"]["lines"]
        assert sum(Decimal(line["value"]) for line in lines) == Decimal(doc["engagement"]["score"])
        assert sum(group["points"] for group in doc["fit"]["groups"]) == doc["fit"]["score"] == 25
        title = doc["fit"]["groups"][0]
        assert (title["raw"], title["points"], title["capped"]) == (30, 25, True)
    views = [line for line in lines if line["kind"] == "event:page_viewed"]
    assert [(v["events"], v["credited"], v["capped"]) for v in views] == [
        (4, "6", "6"),
        (1, "3", "0"),
    ]
    assert [item["points"] for item in views[0]["items"]] == ["3", "3", "0", "0"]


def test_the_stream_score_equals_a_replay_of_the_history(world: ScoreWorld) -> None:
    world.sent_tagged("bob")
    for hours in (0, 5, 30):
        world.clock.advance(hours=hours)
        world.tracker.click(world.token("bob@gmail.com", "c"), "GET", BROWSER)
        world.tracker.open(world.token("bob@gmail.com", "o"), BROWSER)
        world.product_event("bob", "page_viewed", f"p-{hours}")
        world.player.pump()
    stored = world.profile("bob").score
    scorer = world.scores().scorer()
    assert stored is not None and scorer is not None
    ledger, _, _ = scorer.replay(world.table.events("bob"), int(world.clock()))
    assert ledger.lines == stored.ledger.lines
    assert (stored.fit, stored.grade) == (-5, "D")  # -10 for the mailbox, floored at -5


# --- rescore --------------------------------------------------------------------------------


def test_a_rescore_is_resumable_after_a_crash_and_scores_each_contact_once(
    world: ScoreWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"c{n}" for n in range(7)]
    for n, name in enumerate(names):
        world.table.put_profile(name, {"email": f"{name}@example.com"})
        for k in range(n % 3 + 1):
            world.product_event(name, "demo_requested", f"{name}-{k}")
    world.player.pump()
    assert world.profile("c6").score.version == 1  # type: ignore[union-attr]
    data = yaml.safe_load(SCORING)
    data["engagement"]["events"][0]["points"] = 7
    version = world.push_scoring(yaml.safe_dump(data))
    scores = world.scores()
    written: Counter[str] = Counter()
    apply = world.table.apply

    def counting(write: store.Write) -> bool:
        done = apply(write)
        if done and "Update" in write[0]:
            written[write[0]["Update"]["Key"]["PK"]["S"]] += 1
        return done

    monkeypatch.setattr(world.table, "apply", counting)
    original = Scores._rescore_one
    seen = []

    def crashing(self: Scores, scorer: Any, item: Any) -> bool:
        seen.append(item["contact_id"])
        if len(seen) == 5:
            raise RuntimeError("the Lambda ran out of time")
        return original(self, scorer, item)

    monkeypatch.setattr(Scores, "_rescore_one", crashing)
    with pytest.raises(RuntimeError):
        scores.rescore(page_size=2)
    monkeypatch.setattr(Scores, "_rescore_one", original)
    report = world.scores().rescore(page_size=2)
    assert report.finished and report.version == version
    everyone = ["ann", "bob", *names]
    assert all(written[f"C#{name}"] == 1 for name in everyone), written
    scorer = world.scores().scorer()
    assert scorer is not None
    for n, name in enumerate(names):
        state = world.profile(name).score
        assert state is not None and state.version == version
        assert state.ledger.lines[0].credited == 7 * (n % 3 + 1)
        fresh = scorer.observe(
            world.profile(name), None, None, int(world.clock()), history=world.table.events(name)
        )
        assert fresh.state.ledger == state.ledger and fresh.state.temperature == state.temperature
    assert world.scores().rescore().finished  # nothing left to do


# --- use ------------------------------------------------------------------------------------------


def test_segments_and_stages_follow_the_temperature_both_ways(world: ScoreWorld) -> None:
    from chalicelib import audience
    from chalicelib.segments import parse_segment
    from chalicelib.stages import parse_stages

    catalogue = services.catalogue()
    hot = parse_segment("id: hot-leads\nname: Hot\nmatch: {temperature: hot}\n")
    audience.push_segment(services.versions("segment"), hot, catalogue, "t")
    lifecycle = parse_stages(
        "stages: [lead, sales-ready]\nrules:\n  - {to: sales-ready, segment: hot-leads}\n"
    )
    audience.push_stages(services.versions("stages"), lifecycle, services.catalogue(), "t")
    world.demo("ann", "d-1")
    world.demo("ann", "d-2")
    ann = world.profile("ann")
    assert ann.segments == {"hot-leads"} and ann.stage == "sales-ready"
    world.run_until(world.clock.at() + timedelta(days=1))  # cooled by decay alone
    world.player.pump()
    ann = world.profile("ann")
    assert ann.score is not None and ann.score.temperature == "warm"
    assert ann.segments == set() and ann.stage == "sales-ready"  # stages move forward only
    left = [e["segment"] for e in world.timeline("ann", "segment_left")]
    assert left == ["hot-leads"]


def test_a_gdpr_export_shows_and_erasure_removes_the_decay_deadline(world: ScoreWorld) -> None:
    from chalicelib.people.gdpr import Gdpr
    from chalicelib.schedule import pending_minutes

    world.demo("ann", "d-1")
    state = world.profile("ann").score
    assert state is not None and state.due is not None
    gdpr = Gdpr(
        services.contact_view(),
        lambda: pending_minutes(services.client("scheduler"), "nurture"),
        world.clock,
    )
    exported = gdpr.export("ann")["pending_timers"]
    assert [t.get("kind") for t in exported] == ["score"]
    gdpr.erase("ann", "test")
    assert store.Timers(world.table).contact_due(state.due, "score") == []

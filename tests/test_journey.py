"""Sequences run end to end on moto: enroll, timers and schedules, sends, behaviour, exits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import catalog, services, store, streams
from chalicelib.caps import CapPolicy
from chalicelib.compose import Composer
from chalicelib.config import settings
from chalicelib.errors import Unreachable
from chalicelib.funnel import Funnel
from chalicelib.journey import Journey, ReentryRefused
from chalicelib.people.view import Span, View
from chalicelib.schedule import Scheduler
from chalicelib.send import Sender
from chalicelib.sequences import load_sequence, parse_sequence
from chalicelib.tracking import Tracker
from local.player import Player

SEQUENCE = """
id: engage
name: Engagement
default_timezone: Europe/Riga
default_locale: en
send_window: {start: "09:00", end: "11:00", days: [tue, wed, thu]}
goal: {event: converted, within: 30d}
steps:
  - id: first
    template:
      en:
        subject: "Hello {{ contact.first_name | default('there') }}"
        html: '<html><body><a href="https://example.com/buy?x=1">Buy</a>
               <a href="https://example.com/pricing">Pricing</a>
               <a href="https://example.com/docs">Docs</a>
               <a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>'
    next: exit
    branches:
      not_opened: {within: 3d, goto: new_subject, mpp_fallback: clicks}
      not_clicked: {within: 4d, goto: other_cta}
      clicked: thanks
      unsubscribed: exit
  - id: new_subject
    template:
      en: {subject: "Did you see this?", html: '<p>Again <a href="{{ unsubscribe_url }}">u</a></p>'}
    next: exit
  - id: other_cta
    template:
      en: {subject: "Another way in", html: '<p>Try <a href="https://example.com/demo">demo</a></p>'}
    next: exit
  - id: thanks
    delay: 1d
    template:
      en:
        subject: "Thanks for looking"
        html: '<p>Thanks <a href="{{ unsubscribe_url }}">u</a></p>'
"""
# Monday 2025-11-24 21:00 UTC is 23:00 in Riga (UTC+2): after the Tue-Thu 09-11 window.
T0 = datetime(2025, 11, 24, 21, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ses"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sequences"
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:nurture-on_schedule"


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def at(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta).total_seconds()


class World:
    """The product wired on moto with one simulated clock, and the player AWS would be."""

    def __init__(self, table: store.Table, clock: Clock) -> None:
        self.table, self.clock = table, clock
        services.client("scheduler").create_schedule_group(Name="nurture")
        services.client("sesv2").create_email_identity(EmailIdentity=settings().sender)
        versions = services.versions()
        catalog.push(versions, parse_sequence(SEQUENCE), "t")

        def sequence(sequence_id: str, version: int) -> Any:
            return catalog.load(versions, sequence_id, version)

        sender = Sender(
            store.Sends(table),
            table,
            services.client("sesv2"),
            Composer(sequence, services.keyring, settings(), clock),
            "nurture",
            clock=clock,
            sleep=lambda s: None,
        )
        self.scheduler = Scheduler(
            services.client("scheduler"),
            "nurture",
            TARGET,
            "arn:aws:iam::123456789012:role/s",
            "arn:aws:sqs:q",
        )
        self.journey = Journey(
            table, versions, self.scheduler, sender, sequence, CapPolicy("UTC"), clock
        )
        self.tracker = Tracker(settings(), services.keyring, table, services.parking(), clock)
        self.player = Player(
            services.client("scheduler"),
            services.client("dynamodbstreams"),
            services.client("dynamodb"),
            table.name,
            "nurture",
            lambda event, _: self.journey.fire(event["minute"]),
            lambda event, _: streams.handle(
                event, [streams.engagement(self.journey, Funnel(table))]
            ),
        )

    def run_until(self, moment: datetime) -> None:
        self.player.pump()
        while True:
            due = self.player.due_schedules(moment)
            if not due:
                break
            self.clock.now = max(self.clock.now, due[0][0].timestamp())
            self.player.fire_due(due[0][0])
        self.clock.now = max(self.clock.now, moment.timestamp())
        self.player.pump()

    def mails(self, to: str) -> list[Any]:
        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        return [m for m in sent if to in m.destinations["ToAddresses"]]

    def subjects(self, to: str) -> list[str]:
        return [m.subject for m in self.mails(to)]

    def token(self, to: str, route: str, index: int = -1, nth: int = 0) -> str:
        body = self.mails(to)[index].body
        return re.findall(rf"/{route}/([A-Za-z0-9_.-]+)", body)[nth]


@pytest.fixture
def world(table: store.Table) -> Iterator[World]:
    clock = Clock()
    world = World(table, clock)
    for name in ("opener", "ghost", "buyer", "leaver", "clicker", "apple"):
        table.put_profile(
            name,
            {"email": f"{name}@example.com", "first_name": name.title(), "timezone": "Europe/Riga"},
        )
    yield world


def test_enrolled_at_23_local_is_scheduled_for_9_local_next_allowed_day(world: World) -> None:
    world.journey.enroll("opener", "engage")
    [timer] = world.journey.timers.due("2025-11-25T07:00Z")
    assert (timer.kind, timer.step_id) == ("send", "first")
    [listed] = services.client("scheduler").list_schedules(GroupName="nurture")["Schedules"]
    detail = services.client("scheduler").get_schedule(Name=listed["Name"], GroupName="nurture")
    assert detail["ScheduleExpression"] == "at(2025-11-25T07:00:00)"
    assert detail["ScheduleExpressionTimezone"] == "UTC"
    assert detail["ActionAfterCompletion"] == "DELETE"
    assert detail["Target"]["DeadLetterConfig"]["Arn"] == "arn:aws:sqs:q"
    world.run_until(T0 + timedelta(days=1))
    assert world.subjects("opener@example.com") == ["Hello Opener"]


def test_same_local_hour_when_daylight_saving_starts(world: World) -> None:
    # Riga springs forward on Sunday 2026-03-29; enrolled Saturday 23:00 local (21:00 UTC),
    # the next allowed day is Tuesday 31 March, 09:00 EEST = 06:00 UTC.
    world.clock.now = datetime(2026, 3, 28, 21, 0, tzinfo=UTC).timestamp()
    world.journey.enroll("opener", "engage")
    [timer] = world.journey.timers.due("2026-03-31T06:00Z")
    assert timer.step_id == "first"


def test_a_poison_stream_record_fails_alone(world: World) -> None:
    good = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "SequenceNumber": "1",
            "NewImage": {
                "PK": {"S": "C#nobody"},
                "SK": {"S": "EV#x"},
                "type": {"S": "opened"},
                "contact_id": {"S": "nobody"},
            },
        },
    }
    poison = {
        "eventID": "2",
        "eventName": "INSERT",
        "dynamodb": {
            "SequenceNumber": "2",
            "NewImage": {"PK": {"S": "C#x"}, "SK": {"S": "EV#y"}, "type": {"S": "opened"}},
        },
    }
    consumers = [streams.engagement(world.journey, Funnel(world.table))]
    answer = streams.handle({"Records": [good, poison]}, consumers)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}


def test_a_crash_before_the_first_timer_is_healed_by_enrolling_again(world: World) -> None:
    events = services.client("scheduler").meta.events

    def crash(**_: Any) -> None:
        raise RuntimeError("process died")

    events.register("before-call.scheduler.CreateSchedule", crash)
    try:
        with pytest.raises(RuntimeError):
            world.journey.enroll("opener", "engage")
    finally:
        events.unregister("before-call.scheduler.CreateSchedule", crash)
    world.scheduler._known.clear()
    assert world.journey.timers.due("2025-11-25T07:00Z") == []
    world.journey.enroll("opener", "engage")
    world.run_until(T0 + timedelta(days=1))
    assert world.subjects("opener@example.com") == ["Hello Opener"]


def test_many_contacts_share_one_schedule_per_instant(world: World) -> None:
    for name in ("opener", "ghost", "buyer", "leaver"):
        world.journey.enroll(name, "engage")
    schedules = services.client("scheduler").list_schedules(GroupName="nurture")["Schedules"]
    assert len(schedules) == 1
    assert len(world.journey.timers.due("2025-11-25T07:00Z")) == 4


def test_cohort_enrollment_batches_timers_and_shares_schedules(world: World) -> None:
    names = ["opener", "ghost", "buyer", "leaver", "nobody"]
    assert world.journey.enroll_many(names, "engage") == {
        "enrolled": 4,
        "already_enrolled": 0,
        "refused": 0,
        "unknown_contact": 1,
    }
    assert len(world.journey.timers.due("2025-11-25T07:00Z")) == 4
    assert len(services.client("scheduler").list_schedules(GroupName="nurture")["Schedules"]) == 1
    again = world.journey.enroll_many(names, "engage")  # e.g. a retry after a crash
    assert again["already_enrolled"] == 4 and again["enrolled"] == 0
    world.run_until(T0 + timedelta(days=1))
    assert len(world.mails("ghost@example.com")) == 1  # re-planned timers send nothing twice


def test_opened_not_clicked_gets_the_other_cta(world: World) -> None:
    world.journey.enroll("opener", "engage")
    world.run_until(T0 + timedelta(days=1))
    world.clock.advance(hours=2)
    world.tracker.open(world.token("opener@example.com", "o"), BROWSER)
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("opener@example.com") == ["Hello Opener", "Another way in"]


def test_never_opened_gets_the_new_subject_after_3_days(world: World) -> None:
    world.journey.enroll("ghost", "engage")
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("ghost@example.com") == ["Hello Ghost", "Did you see this?"]
    resend = world.mails("ghost@example.com")[1]
    assert resend.id and world.journey.enrollments.get("ghost", "engage").status == "completed"


def test_machine_opens_do_not_count_unless_mpp_fallback(world: World) -> None:
    world.journey.enroll("apple", "engage")
    world.run_until(T0 + timedelta(days=1))
    world.clock.advance(hours=1)
    world.tracker.open(world.token("apple@example.com", "o"), "Mozilla/5.0")
    world.run_until(T0 + timedelta(days=10))
    # Every open was Apple MPP, so not_opened falls back to clicks: none → new subject.
    assert world.subjects("apple@example.com") == ["Hello Apple", "Did you see this?"]


def test_click_takes_the_branch_once_even_if_repeated_and_redelivered(world: World) -> None:
    world.journey.enroll("clicker", "engage")
    world.run_until(T0 + timedelta(days=1))
    world.clock.advance(hours=1)
    token = world.token("clicker@example.com", "c")
    for _ in range(10):
        world.tracker.click(token, "GET", BROWSER)
    world.player.pump()
    world.player.checkpoints.clear()  # redeliver the whole stream from the start
    world.player.pump()
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("clicker@example.com") == ["Hello Clicker", "Thanks for looking"]


def test_a_scanner_burst_on_every_link_takes_no_branch(world: World) -> None:
    world.journey.enroll("clicker", "engage")
    world.run_until(T0 + timedelta(days=1))
    world.clock.advance(hours=1)
    for nth in range(3):  # a link scanner with a browser agent opens all links at once
        world.tracker.click(world.token("clicker@example.com", "c", nth=nth), "GET", BROWSER)
    world.run_until(T0 + timedelta(days=10))
    assert "Thanks for looking" not in world.subjects("clicker@example.com")
    clicks = [e for e in world.table.events("clicker") if e["type"] == "clicked"]
    assert {(e["verdict"], e["verdict_reason"]) for e in clicks} >= {("scanner", "burst")}


def test_a_person_clicking_after_a_scanner_burst_the_same_day_takes_the_branch(
    world: World,
) -> None:
    """The burst's click moves to the scanner's key (a crash between its two writes is
    finished by the redelivery), so the person's later click that day is a new human click."""
    world.journey.enroll("clicker", "engage")
    world.run_until(T0 + timedelta(days=1))
    world.clock.advance(hours=1)
    for nth in range(3):
        world.tracker.click(world.token("clicker@example.com", "c", nth=nth), "GET", BROWSER)
    events = services.client("dynamodb").meta.events
    crashed: list[bool] = []

    def crash_removing(params: dict[str, Any], **_: Any) -> None:
        if not crashed and any("Delete" in action for action in params["TransactItems"]):
            crashed.append(True)
            raise RuntimeError("process died between the move and the removal")

    events.register("provide-client-params.dynamodb.TransactWriteItems", crash_removing)
    try:
        world.player.pump()
    finally:
        events.unregister("provide-client-params.dynamodb.TransactWriteItems", crash_removing)
    world.player.pump()
    assert crashed
    clicks = [e for e in world.table.events("clicker") if e["type"] == "clicked"]
    assert {(e["verdict"], e["verdict_reason"]) for e in clicks} == {("scanner", "burst")}
    assert len(clicks) == 3  # moved, none left twice
    world.clock.advance(minutes=30)
    world.tracker.click(world.token("clicker@example.com", "c"), "GET", BROWSER)
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("clicker@example.com") == ["Hello Clicker", "Thanks for looking"]


def test_a_crash_while_taking_a_branch_is_healed_by_the_redelivered_record(world: World) -> None:
    world.journey.enroll("clicker", "engage")
    world.run_until(T0 + timedelta(days=1))
    world.clock.advance(hours=1)
    world.tracker.click(world.token("clicker@example.com", "c"), "GET", BROWSER)
    events = services.client("scheduler").meta.events

    def crash(**_: Any) -> None:
        raise RuntimeError("process died")

    events.register("before-call.scheduler.CreateSchedule", crash)
    try:
        world.player.pump()  # died planning the move to `thanks`: reported failed, retried
    finally:
        events.unregister("before-call.scheduler.CreateSchedule", crash)
    assert world.subjects("clicker@example.com") == ["Hello Clicker"]  # nothing half-written
    world.player.checkpoints.clear()
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("clicker@example.com") == ["Hello Clicker", "Thanks for looking"]


def test_conversion_exits_while_a_timer_is_pending(world: World) -> None:
    world.journey.enroll("buyer", "engage")
    world.run_until(T0 + timedelta(days=1))
    enrollment = world.journey.enrollments.get("buyer", "engage")
    assert enrollment is not None and enrollment.send_id
    event = store.Event(
        "buyer",
        "converted",
        world.clock.at().isoformat().replace("+00:00", "Z"),
        "conv-1",
        enrollment.send_id,
        {"conversion_id": "o-1"},
    )
    world.table.apply(store.event_write(event))
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("buyer@example.com") == ["Hello Buyer"]
    assert world.journey.enrollments.get("buyer", "engage").status == "goal_reached"


def test_unsubscribe_stops_everything(world: World) -> None:
    world.journey.enroll("leaver", "engage")
    world.run_until(T0 + timedelta(days=1))
    claims = world.tracker.unsubscribe_claims(world.token("leaver@example.com", "u"))
    world.tracker.unsubscribe(claims, "one_click", BROWSER)
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("leaver@example.com") == ["Hello Leaver"]
    assert world.journey.enrollments.get("leaver", "engage").status == "exited"


def test_a_bucket_too_big_for_one_invocation_is_handed_on(world: World) -> None:
    for name in ("opener", "ghost", "buyer", "leaver"):
        world.journey.enroll(name, "engage")
    world.clock.now = datetime(2025, 11, 25, 7, 0, tzinfo=UTC).timestamp()
    budget = iter([900.0, 900.0, 30.0])  # seconds left before each timer: the third is short
    world.journey.fire("2025-11-25T07:00Z", lambda: next(budget))
    assert (
        sum(len(world.mails(f"{n}@example.com")) for n in ("opener", "ghost", "buyer", "leaver"))
        == 2
    )
    names = [
        s["Name"]
        for s in services.client("scheduler").list_schedules(GroupName="nurture")["Schedules"]
    ]
    assert "due-20251125T0700Z-at-20251125T0701" in names
    world.run_until(datetime(2025, 11, 25, 7, 5, tzinfo=UTC))
    assert all(
        world.subjects(f"{n}@example.com") == [f"Hello {n.title()}"]
        for n in ("opener", "ghost", "buyer", "leaver")
    )


def test_schedule_firing_twice_sends_once(world: World) -> None:
    world.journey.enroll("opener", "engage")
    world.clock.now = datetime(2025, 11, 25, 7, 0, tzinfo=UTC).timestamp()
    for _ in range(2):
        world.journey.fire("2025-11-25T07:00Z")
    assert world.subjects("opener@example.com") == ["Hello Opener"]


def test_reentry_waits_for_the_cooldown(world: World) -> None:
    catalog.push(services.versions(), load_sequence(EXAMPLES / "engagement.yaml"), "t")
    first = world.journey.enroll("leaver", "engagement")
    world.journey.enrollments.end(first, "exited", "test", world.clock.at().isoformat())
    world.clock.advance(days=30)
    with pytest.raises(ReentryRefused):
        world.journey.enroll("leaver", "engagement")  # cooldown: 90d
    world.clock.advance(days=61)
    assert world.journey.enroll("leaver", "engagement").run == 2


def test_reentry_is_refused_unless_allowed(world: World) -> None:
    world.journey.enroll("leaver", "engage")
    assert world.journey.enroll("leaver", "engage").run == 1  # idempotent while active
    enrollment = world.journey.enrollments.get("leaver", "engage")
    assert enrollment is not None
    world.journey.enrollments.end(enrollment, "exited", "test", "t")
    with pytest.raises(ReentryRefused):
        world.journey.enroll("leaver", "engage")


def test_shipped_engagement_playbook_end_to_end(world: World) -> None:
    """Scripted recipients through examples/sequences/engagement.yaml, on a simulated clock."""
    playbook = load_sequence(EXAMPLES / "engagement.yaml")
    catalog.push(services.versions(), playbook, "t")
    new_subjects = {v.template["en"].subject for v in playbook.step("new_subject").variants or ()}
    for name in ("opener", "ghost", "buyer", "leaver"):
        world.journey.enroll(name, "engagement")
    world.run_until(T0 + timedelta(days=2))
    intro = "The follow-up most teams never send"
    assert all(
        world.subjects(f"{n}@example.com") == [intro]
        for n in ("opener", "ghost", "buyer", "leaver")
    )
    world.tracker.open(world.token("opener@example.com", "o"), BROWSER)
    world.tracker.open(world.token("buyer@example.com", "o"), BROWSER)
    world.tracker.click(world.token("buyer@example.com", "c"), "GET", BROWSER)
    buyer = world.journey.enrollments.get("buyer", "engagement")
    assert buyer is not None and buyer.send_id
    world.table.apply(
        store.event_write(
            store.Event(
                "buyer",
                "converted",
                world.clock.at().isoformat().replace("+00:00", "Z"),
                "order-9",
                buyer.send_id,
                {"conversion_id": "order-9"},
            )
        )
    )
    claims = world.tracker.unsubscribe_claims(world.token("leaver@example.com", "u"))
    world.tracker.unsubscribe(claims, "one_click", BROWSER)
    world.run_until(T0 + timedelta(days=21))

    assert world.subjects("opener@example.com") == [intro, "Rather see it first?"]
    ghost = world.subjects("ghost@example.com")
    assert ghost[0] == intro and ghost[1] in new_subjects and len(ghost) == 2
    assert world.subjects("buyer@example.com") == [intro, "Thanks, Buyer: three quick things"]
    assert world.subjects("leaver@example.com") == [intro]
    assert world.journey.enrollments.get("leaver", "engagement").status == "exited"

    funnel = {row.step_id: row for row in Funnel(world.table).report(playbook)}
    world.player.checkpoints.clear()
    world.player.pump()
    again = {row.step_id: row for row in Funnel(world.table).report(playbook)}
    assert again == funnel
    intro_counts = {
        m: funnel["intro"].counts[m]
        for m in ("sent", "opened", "clicked", "converted", "unsubscribed", "skipped")
    }
    assert intro_counts == {
        "sent": 4,
        "opened": 2,
        "clicked": 1,
        "converted": 1,
        "unsubscribed": 1,
        "skipped": 0,
    }
    assert funnel["intro"].rate("clicked") == 0.25
    assert funnel["new_cta"].counts["sent"] == 1 and funnel["new_subject"].counts["sent"] == 1
    assert funnel["thank_you"].counts["sent"] == 1 and funnel["offer"].counts["sent"] == 0


def test_a_permanent_bounce_stops_every_later_send(world: World) -> None:
    from app import on_ses_event

    world.journey.enroll("ghost", "engage")
    world.run_until(T0 + timedelta(days=1))
    bounce = json.loads((FIXTURES / "bounce_permanent_multi.json").read_text())
    bounce["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] = "Ghost@Example.com"
    bounce["detail"]["mail"]["tags"].update(contact_id=["ghost"])
    assert on_ses_event(bounce, None) == {"batchItemFailures": []}
    world.run_until(T0 + timedelta(days=10))
    assert world.subjects("ghost@example.com") == ["Hello Ghost"]
    enrollment = world.journey.enrollments.get("ghost", "engage")
    assert enrollment is not None and enrollment.status == "exited"
    skipped = [e for e in world.table.events("ghost") if e["type"] == "skipped"]
    assert [e["reason"] for e in skipped] == ["suppressed"]


def test_winback_sunset_suppresses_contacts_who_never_engage(world: World) -> None:
    catalog.push(services.versions(), load_sequence(EXAMPLES / "winback.yaml"), "t")
    world.journey.enroll("ghost", "winback")
    world.run_until(T0 + timedelta(days=45))
    assert len(world.mails("ghost@example.com")) == 3  # miss you, incentive, sunset
    enrollment = world.journey.enrollments.get("ghost", "winback")
    assert enrollment is not None and enrollment.status == "exited"
    assert world.table.is_suppressed("ghost@example.com")
    with pytest.raises(Unreachable, match="suppressed"):
        world.journey.enroll("ghost", "engage")
    world.run_until(T0 + timedelta(days=60))
    assert len(world.mails("ghost@example.com")) == 3
    assert world.journey.enrollments.get("ghost", "engage") is None


DEADLINE = """
id: deadline
name: Deadline to the second
default_timezone: UTC
default_locale: en
send_window: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}
steps:
  - id: first
    template:
      en: {subject: "First", html: '<p><a href="https://example.com/a">A</a></p>'}
    next: exit
    branches:
      opened: thanks
      not_opened: {within: 3d, goto: resend}
  - id: resend
    template:
      en: {subject: "Resend", html: "<p>Again</p>"}
    next: exit
  - id: thanks
    template:
      en: {subject: "Thanks", html: "<p>Thanks</p>"}
    next: exit
"""


def sent_at_half_past(world: World, contact: str) -> datetime:
    """Enroll in `deadline` and send its first step at 08:02:30, seconds past the minute."""
    catalog.push(services.versions(), parse_sequence(DEADLINE), "t")
    world.clock.now = datetime(2025, 11, 25, 8, 0, 10, tzinfo=UTC).timestamp()
    world.journey.enroll(contact, "deadline")
    world.clock.now = datetime(2025, 11, 25, 8, 2, 30, tzinfo=UTC).timestamp()
    world.journey.fire("2025-11-25T08:02Z")
    assert world.subjects(f"{contact}@example.com") == ["First"]
    return world.clock.at()


@pytest.mark.parametrize(("seconds", "expected"), [(-1, "Thanks"), (0, "Thanks"), (1, "Resend")])
def test_an_open_counts_only_up_to_the_deadline_to_the_second(
    world: World, seconds: int, expected: str
) -> None:
    sent = sent_at_half_past(world, "opener")
    world.clock.now = (sent + timedelta(days=3, seconds=seconds)).timestamp()
    world.tracker.open(world.token("opener@example.com", "o"), BROWSER)
    world.player.pump()  # the open streams before the deadline timer (due at 08:03) fires
    world.run_until(sent + timedelta(days=5))
    assert world.subjects("opener@example.com") == ["First", expected]


def test_a_late_open_after_the_deadline_timer_changes_nothing(world: World) -> None:
    sent = sent_at_half_past(world, "opener")
    world.run_until(sent + timedelta(days=3, minutes=1))  # the deadline timer fires first
    world.tracker.open(world.token("opener@example.com", "o", index=0), BROWSER)
    world.run_until(sent + timedelta(days=5))
    assert world.subjects("opener@example.com") == ["First", "Resend"]


def test_a_click_without_an_open_takes_the_opened_branch(world: World) -> None:
    sent = sent_at_half_past(world, "clicker")
    world.clock.now = (sent + timedelta(hours=1)).timestamp()
    world.tracker.click(world.token("clicker@example.com", "c"), "GET", BROWSER)  # images off
    world.run_until(sent + timedelta(days=5))
    assert world.subjects("clicker@example.com") == ["First", "Thanks"]
    assert not [e for e in world.table.events("clicker") if e["type"] == "opened"]


def all_day(sequence_id: str, zone: str, extra: str = "") -> str:
    """A one-step sequence that may send at any minute of any day."""
    return f"""
id: {sequence_id}
name: {sequence_id}
default_timezone: {zone}
default_locale: en
send_window: {{start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}}
{extra}
steps:
  - id: only
    template:
      en: {{subject: "{sequence_id}", html: "<p>{sequence_id}</p>"}}
"""


def push(*texts: str) -> None:
    for text in texts:
        catalog.push(services.versions(), parse_sequence(text), "t")


MONDAY_NOON = datetime(2025, 11, 24, 10, 0, tzinfo=UTC)  # 12:00 in Riga


def test_a_capped_sequence_counts_an_uncapped_sequence_sent_the_same_day(world: World) -> None:
    push(all_day("news", "UTC"), all_day("promo", "UTC", "frequency_cap: {max: 1, per: day}"))
    world.clock.now = MONDAY_NOON.timestamp()
    world.journey.enroll("opener", "news")
    world.run_until(MONDAY_NOON + timedelta(minutes=5))
    world.journey.enroll("opener", "promo")
    world.run_until(MONDAY_NOON + timedelta(hours=11))  # 23:00 in Riga
    assert world.subjects("opener@example.com") == ["news"]
    world.run_until(MONDAY_NOON + timedelta(hours=13))  # Tuesday 01:00 in Riga
    assert world.subjects("opener@example.com") == ["news", "promo"]
    sent = world.journey.enrollments.get("opener", "promo")
    assert sent is not None and sent.sent_at == "2025-11-24T22:00:00.000Z"  # Riga's midnight


def test_a_week_capped_send_counts_toward_the_day(world: World) -> None:
    push(
        all_day("weekly", "UTC", "frequency_cap: {max: 3, per: week}"),
        all_day("daily", "UTC", "frequency_cap: {max: 1, per: day}"),
    )
    world.clock.now = MONDAY_NOON.timestamp()
    world.journey.enroll("opener", "weekly")
    world.run_until(MONDAY_NOON + timedelta(minutes=5))
    world.journey.enroll("opener", "daily")
    world.run_until(MONDAY_NOON + timedelta(hours=11))
    assert world.subjects("opener@example.com") == ["weekly"]


def test_one_day_per_contact_whatever_the_sequences_zones(world: World) -> None:
    world.table.put_profile("nowhere", {"email": "nowhere@example.com"})  # no zone, no country
    cap = "frequency_cap: {max: 1, per: day}"
    push(all_day("tokyo", "Asia/Tokyo", cap), all_day("la", "America/Los_Angeles", cap))
    evening = datetime(2025, 11, 24, 20, 0, tzinfo=UTC)  # Tuesday in Tokyo, Monday in LA
    world.clock.now = evening.timestamp()
    world.journey.enroll("nowhere", "tokyo")
    world.journey.enroll("nowhere", "la")  # both due in the same minute
    world.run_until(evening + timedelta(hours=3, minutes=59))
    assert len(world.mails("nowhere@example.com")) == 1
    world.run_until(evening + timedelta(hours=4, minutes=1))  # midnight UTC, the default zone
    assert sorted(world.subjects("nowhere@example.com")) == ["la", "tokyo"]


def test_transactional_sequences_and_test_sends_neither_count_nor_wait(world: World) -> None:
    cap = "frequency_cap: {max: 1, per: day}"
    push(
        all_day("promo", "UTC", cap),
        all_day("other", "UTC", cap),
        all_day("receipt", "UTC", "transactional: true"),
    )
    world.clock.now = MONDAY_NOON.timestamp()
    assert world.journey.send_test("opener", "promo").status == "sent"  # not counted ...
    world.journey.enroll("opener", "promo")
    world.run_until(MONDAY_NOON + timedelta(minutes=5))
    assert world.journey.send_test("opener", "other").status == "sent"  # ... nor blocked
    world.journey.enroll("opener", "receipt")
    world.run_until(MONDAY_NOON + timedelta(minutes=10))
    world.journey.enroll("opener", "other")
    world.run_until(MONDAY_NOON + timedelta(hours=11))
    assert world.subjects("opener@example.com") == ["promo", "promo", "other", "receipt"]
    counters = world.table.client.get_item(
        TableName=world.table.name, Key={"PK": {"S": "C#opener"}, "SK": {"S": "CAP#D2025-11-24"}}
    )
    assert counters["Item"]["sends"] == {"N": "1"}


def test_a_paused_contact_waits_and_a_test_send_is_refused(world: World) -> None:
    push(all_day("news", "UTC"))
    world.clock.now = MONDAY_NOON.timestamp()
    until = "2025-11-26T08:00:00.000Z"
    world.table.put_profile(
        "opener", {"email": "opener@example.com", "timezone": "UTC", "paused_until": until}
    )
    assert world.journey.send_test("opener", "news").reason == "paused"
    world.journey.enroll("opener", "news")
    world.run_until(MONDAY_NOON + timedelta(days=1))
    assert world.mails("opener@example.com") == []
    world.run_until(MONDAY_NOON + timedelta(days=3))
    enrollment = world.journey.enrollments.get("opener", "news")
    assert enrollment is not None and enrollment.sent_at == "2025-11-26T08:00:00.000Z"
    assert world.subjects("opener@example.com") == ["news"]


class Died(BaseException):
    """The process dies: nothing after it runs, no handler sees it."""


@pytest.mark.parametrize("late", [timedelta(hours=1), timedelta(hours=24), None])
def test_a_crash_after_ses_never_sends_twice_on_the_player(
    world: World, late: timedelta | None
) -> None:
    from app import on_ses_event

    sent = sent_at_half_past_crashing(world)
    world.run_until(sent + timedelta(hours=1) - timedelta(seconds=1))
    record = world.journey.sender.sends.get(
        world.journey.enrollments.get("ghost", "deadline").send_id or ""
    )
    assert record is not None and record.status == "uncertain"
    if late is not None:  # SES's Send event, delivered late by EventBridge
        world.run_until(sent + late)
        [message] = world.mails("ghost@example.com")
        event = json.loads((FIXTURES / "send.json").read_text())
        event["detail"]["mail"].update(messageId=message.id, timestamp=sent.isoformat())
        event["detail"]["mail"]["tags"].update(send_id=[record.send_id], contact_id=["ghost"])
        assert on_ses_event(event, None) == {"batchItemFailures": []}
    world.run_until(sent + timedelta(days=5))
    assert world.subjects("ghost@example.com") == ["First", "Resend"]  # not opened in 3 days
    final = world.journey.sender.sends.get(record.send_id)
    assert final is not None and final.status == ("uncertain" if late is None else "sent")
    enrollment = world.journey.enrollments.get("ghost", "deadline")
    assert enrollment is not None and enrollment.status == "completed"
    report = Funnel(world.table).report(world.journey.sequence("deadline", 1))
    first = next(row.counts for row in report if row.step_id == "first")
    assert (first["sent"], first["uncertain"]) == (1, 1)
    timeline = View(world.table, services.versions(), world.journey.sequence).timeline(
        "ghost", Span()
    )
    [shown] = [e for e in timeline.entries if e.get("step_id") == "first"]
    assert shown["type"] == ("uncertain" if late is None else "sent")
    assert (shown["zone"], shown["zone_source"]) == ("Europe/Riga", "contact")


def sent_at_half_past_crashing(world: World) -> datetime:
    """`sent_at_half_past`, but the process dies as SES returns."""
    events = services.client("sesv2").meta.events

    def die(**_: Any) -> None:
        raise Died

    events.register("after-call.sesv2.SendEmail", die)
    try:
        with pytest.raises(Died):
            sent_at_half_past(world, "ghost")
    finally:
        events.unregister("after-call.sesv2.SendEmail", die)
    assert world.subjects("ghost@example.com") == ["First"]
    return world.clock.at()


def test_a_daily_quota_stop_ends_the_bucket_and_resumes_it_later(world: World) -> None:
    from botocore.exceptions import ClientError

    names = ("opener", "ghost", "buyer", "leaver", "clicker")
    for name in names:
        world.journey.enroll(name, "engage")
    calls = {"n": 0}

    def quota_at_second(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] >= 2:
            error = {"Code": "ThrottlingException", "Message": "Daily message quota exceeded."}
            raise ClientError({"Error": error}, "SendEmail")

    events = services.client("sesv2").meta.events
    events.register("before-call.sesv2.SendEmail", quota_at_second)
    try:
        world.run_until(datetime(2025, 11, 25, 7, 59, tzinfo=UTC))  # 07:00 fires, then stops
    finally:
        events.unregister("before-call.sesv2.SendEmail", quota_at_second)
    assert calls["n"] == 2  # stopped at once: no other timer of the bucket called SES
    assert sum(len(world.mails(f"{n}@example.com")) for n in names) == 1
    schedules = services.client("scheduler").list_schedules(GroupName="nurture")["Schedules"]
    names_left = {s["Name"] for s in schedules}
    assert "due-20251125T0700Z-at-20251125T0800" in names_left
    assert "due-20251125T0700Z" not in names_left  # done: no Scheduler retry is relied on
    world.run_until(datetime(2025, 11, 25, 8, 5, tzinfo=UTC))  # our own schedule, not a retry
    assert all(world.subjects(f"{n}@example.com") == [f"Hello {n.title()}"] for n in names)


WAITS = """
id: waits
name: Waits for Thursday
default_timezone: UTC
default_locale: en
send_window: {start: "09:00", end: "17:00", days: [mon, tue, wed, thu, fri]}
steps:
  - id: hello
    template: {en: {subject: "Hello", html: "<p>hi</p>"}}
  - id: thursday
    wait_until: {time: "14:00", days: [thu]}
    template: {en: {subject: "Thursday", html: "<p>hi</p>"}}
"""


def test_wait_until_sends_at_the_next_local_time_on_the_day(world: World) -> None:
    push(WAITS)
    world.clock.now = MONDAY_NOON.timestamp()  # 12:00 in Riga
    [row] = [r for r in world.journey.preview("opener", "waits") if r.step_id == "thursday"]
    assert (row.local, row.reasons[0]) == ("2025-11-27T14:00:00+02:00", "wait_until")
    world.journey.enroll("opener", "waits")
    world.run_until(MONDAY_NOON + timedelta(days=7))
    assert world.subjects("opener@example.com") == ["Hello", "Thursday"]
    enrollment = world.journey.enrollments.get("opener", "waits")
    assert enrollment is not None
    assert enrollment.sent_at == "2025-11-27T12:00:00.000Z"  # Thursday 14:00 in Riga


def test_the_zone_fallback_used_is_recorded_on_enrollments_and_sends(world: World) -> None:
    world.table.put_profile("traveller", {"email": "t@example.com", "country": "BY"})
    world.table.put_profile("nowhere", {"email": "n@example.com", "timezone": "Mars/Olympus"})
    for contact in ("traveller", "nowhere"):
        world.journey.enroll(contact, "engage")
    world.run_until(T0 + timedelta(days=2))
    found = {}
    for contact in ("traveller", "nowhere"):
        enrollment = world.journey.enrollments.get(contact, "engage")
        assert enrollment is not None and enrollment.send_id
        send = world.table.client.get_item(
            TableName=world.table.name, Key=store.send_key(enrollment.send_id)
        )["Item"]
        found[contact] = (enrollment.zone, send["zone"]["S"], send["zone_source"]["S"])
    assert found == {
        "traveller": (store.ZoneUsed("Europe/Minsk", "country"), "Europe/Minsk", "country"),
        "nowhere": (
            store.ZoneUsed("Europe/Riga", "sequence", "invalid_contact_zone"),
            "Europe/Riga",
            "sequence",
        ),
    }


@pytest.mark.parametrize("playbook", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_preview_is_what_the_player_sends_to_a_contact_who_never_engages(
    world: World, playbook: str
) -> None:
    catalog.push(services.versions(), load_sequence(EXAMPLES / f"{playbook}.yaml"), "t")
    world.table.put_profile("silent", {"email": "silent@example.com", "timezone": "Europe/Riga"})
    preview = [(row.step_id, row.utc) for row in world.journey.preview("silent", playbook)]
    sent: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        tags = {tag["Name"]: tag["Value"] for tag in params["EmailTags"]}
        sent.append(tags["send_id"])

    events = services.client("sesv2").meta.events
    events.register("before-parameter-build.sesv2.SendEmail", record)
    try:
        world.journey.enroll("silent", playbook)
        world.run_until(T0 + timedelta(days=90))
    finally:
        events.unregister("before-parameter-build.sesv2.SendEmail", record)
    actual = []
    for send_id in sent:
        item = world.table.client.get_item(TableName=world.table.name, Key=store.send_key(send_id))
        actual.append((item["Item"]["step_id"]["S"], item["Item"]["ses_calling_at"]["S"]))
    assert actual == preview
    assert len(preview) >= 2


def test_a_fired_timer_reads_the_profile_once(world: World) -> None:
    world.clock.now = MONDAY_NOON.timestamp()
    world.journey.enroll("opener", "engage")
    reads: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("SK", {}).get("S") == "PROFILE":
            reads.append(params["Key"]["PK"]["S"])

    events = services.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb.GetItem", count)
    try:
        world.run_until(datetime(2025, 11, 25, 7, 1, tzinfo=UTC))  # sends `first`
    finally:
        events.unregister("before-parameter-build.dynamodb.GetItem", count)
    assert world.subjects("opener@example.com") == ["Hello Opener"]
    assert reads == ["C#opener"]

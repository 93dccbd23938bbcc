"""Exactly-once sending, with faults injected into the real (moto-backed) clients."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import feedback, services, store
from chalicelib.config import settings
from chalicelib.emails import email_hash
from chalicelib.errors import ConfigError
from chalicelib.profiles import Profile
from chalicelib.send import Message, Outcome, QuotaExceeded, Sender, SendJob, Skip
from chalicelib.stamps import iso

SENDER = "news@nurture.example"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ses"
T0 = 1_800_000_000.0


class Crash(Exception):
    """Stands in for the process dying at the injected point."""


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def compose(job: SendJob, profile: Profile, send_id: str) -> Message:
    if profile.first_name == "skip-me":
        raise Skip("goal_reached")
    if profile.first_name == "crash-me":
        raise Crash  # the process dies while rendering, before SES is called
    return Message(SENDER, str(profile.email), f"Step {job.step_id}", f"<p>{send_id}</p>", send_id)


def sent_to() -> list[str]:
    messages = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    return [address for m in messages for address in m.destinations["ToAddresses"]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender(table: store.Table, clock: Clock) -> Iterator[Sender]:
    services.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    services.client("ses").verify_email_identity(EmailAddress=SENDER)
    for n in range(100):
        table.put_profile(f"c{n}", {"email": f"person{n}@example.com", "first_name": f"P{n}"})
    yield Sender(
        store.Sends(table),
        table,
        services.client("sesv2"),
        compose,
        "nurture",
        max_rate=50.0,
        clock=clock,
        sleep=clock.sleep,
    )


@pytest.fixture
def ses_hooks() -> Iterator[list[Any]]:
    """Register before-call hooks on the real SES client; removed after the test."""
    hooks: list[Any] = []
    events = services.client("sesv2").meta.events
    yield hooks
    for name, function in hooks:
        events.unregister(name, function)


def job(contact: str = "c0", step: str = "welcome") -> SendJob:
    return SendJob(contact, "welcome", 1, step, 1)


def deliver(sender: Sender, todo: SendJob, cap: store.CapRule | None = None) -> Outcome:
    """What the journey does for one job: read the profile once, then deliver."""
    item = sender.table.profile(todo.contact_id) or {}
    return sender.deliver(todo, Profile.from_item(todo.contact_id, item), cap)


def deliver_all(sender: Sender, jobs: list[SendJob]) -> list[Outcome]:
    """A batch that stops at a daily-quota stop, the rest coming back `deferred`."""
    outcomes: list[Outcome] = []
    for n, todo in enumerate(jobs):
        try:
            outcomes.append(deliver(sender, todo))
        except QuotaExceeded:
            return outcomes + [Outcome(j.send_id, "deferred", "quota") for j in jobs[n:]]
    return outcomes


def send_event(message_id: str, todo: SendJob, at: str) -> dict[str, Any]:
    """The SES `Send` event of a message as EventBridge delivers it, however late."""
    event = json.loads((FIXTURES / "send.json").read_text())
    event["detail"]["mail"].update(messageId=message_id, timestamp=at)
    event["detail"]["mail"]["tags"].update(send_id=[todo.send_id], contact_id=[todo.contact_id])
    return event


def die_after_ses(hooks: list[Any]) -> None:
    """SES accepted the message; the process dies before recording it."""

    def die(**_: Any) -> None:
        raise Crash

    services.client("sesv2").meta.events.register("after-call.sesv2.SendEmail", die)
    hooks.append(("after-call.sesv2.SendEmail", die))


def hook(hooks: list[Any], function: Any) -> None:
    services.client("sesv2").meta.events.register("before-call.sesv2.SendEmail", function)
    hooks.append(("before-call.sesv2.SendEmail", function))


def throttle(message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "TooManyRequestsException", "Message": message}}, "SendEmail"
    )


def test_a_job_sends_once_however_often_it_runs(sender: Sender) -> None:
    first = deliver(sender, job())
    assert first.status == "sent" and first.message_id
    for _ in range(3):
        again = deliver(sender, job())
        assert (again.status, again.reason, again.message_id) == ("done", "sent", first.message_id)
    assert sent_to() == ["person0@example.com"]


def test_crash_before_ses_is_called_is_taken_over_and_sent_once(
    sender: Sender, clock: Clock, table: store.Table
) -> None:
    table.put_profile("c0", {"email": "person0@example.com", "first_name": "crash-me"})
    jobs = [job(f"c{n}") for n in range(5)]
    with pytest.raises(Crash):
        deliver_all(sender, jobs)  # c0's render dies: claimed, SES never called
    table.put_profile("c0", {"email": "person0@example.com", "first_name": "P0"})
    # A rerun at once finds c0's claim still leased: nothing is sent twice or guessed.
    rerun = deliver_all(sender, jobs)
    assert rerun[0] == Outcome(jobs[0].send_id, "pending", "claimed_elsewhere")
    assert sorted(sent_to()) == [f"person{n}@example.com" for n in range(1, 5)]
    clock.now += sender.lease_seconds + 1
    later = deliver_all(sender, jobs)
    assert [o.status for o in later] == ["sent", "done", "done", "done", "done"]
    assert sorted(sent_to()) == sorted(f"person{n}@example.com" for n in range(5))


def test_crash_while_marking_the_call_is_taken_over_and_sent_once(
    sender: Sender, clock: Clock
) -> None:
    events = services.client("dynamodb").meta.events

    def die_marking(params: dict[str, Any], **_: Any) -> None:
        if "ses_calling_at" in params.get("UpdateExpression", ""):
            raise Crash

    events.register("before-parameter-build.dynamodb.UpdateItem", die_marking)
    try:
        with pytest.raises(Crash):
            deliver(sender, job())
    finally:
        events.unregister("before-parameter-build.dynamodb.UpdateItem", die_marking)
    clock.now += sender.lease_seconds + 1
    assert deliver(sender, job()).status == "sent"
    assert sent_to() == ["person0@example.com"]


def test_crash_after_ses_accepted_is_settled_by_the_send_event(
    sender: Sender, clock: Clock, table: store.Table, ses_hooks: list[Any]
) -> None:
    die_after_ses(ses_hooks)
    with pytest.raises(Crash):
        deliver(sender, job())
    assert sent_to() == ["person0@example.com"]
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert feedback.handle(table, send_event(message.id, job(), iso(clock.now)), settings()) == []
    clock.now += sender.lease_seconds + 1
    assert deliver(sender, job()) == Outcome(job().send_id, "done", "sent", message.id, iso(T0))
    assert deliver(sender, job()).status == "done"
    assert sent_to() == ["person0@example.com"]


@pytest.mark.parametrize("late", [3600, 86_400, None], ids=["1h-late", "24h-late", "never"])
def test_crash_after_ses_with_a_late_or_missing_send_event_is_uncertain_never_resent(
    sender: Sender, clock: Clock, table: store.Table, ses_hooks: list[Any], late: int | None
) -> None:
    die_after_ses(ses_hooks)
    with pytest.raises(Crash):
        deliver(sender, job())
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    clock.now += sender.lease_seconds + 1
    taken_over = deliver(sender, job())
    assert (taken_over.status, taken_over.reason, taken_over.went_out) == (
        "done",
        "uncertain",
        True,
    )
    assert taken_over.called_at == iso(T0)  # follow-ups count from when SES was called
    for _ in range(3):  # every later run: the outcome is unknown, SES is never called again
        clock.now += sender.lease_seconds + 1
        assert deliver(sender, job()).reason == "uncertain"
    record = sender.sends.get(job().send_id)
    assert record is not None and record.status == "uncertain"
    if late is not None:
        clock.now = T0 + late
        event = send_event(message.id, job(), iso(T0 + 0.2))
        assert feedback.handle(table, event, settings()) == []
        settled = sender.sends.get(job().send_id)
        assert settled is not None and settled.status == "sent"
        assert settled.message_id == message.id
        assert deliver(sender, job()).reason == "sent"
    assert sent_to() == ["person0@example.com"]


def test_a_read_timeout_from_ses_is_uncertain(
    sender: Sender, clock: Clock, ses_hooks: list[Any]
) -> None:
    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")

    hook(ses_hooks, timeout)
    with pytest.raises(ReadTimeoutError):
        deliver(sender, job())
    clock.now += sender.lease_seconds + 1
    assert deliver(sender, job()).reason == "uncertain"


def test_no_connection_to_ses_is_certain_and_retried(sender: Sender, ses_hooks: list[Any]) -> None:
    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com")

    hook(ses_hooks, unreachable)
    assert deliver(sender, job()) == Outcome(job().send_id, "deferred", "unreachable")
    services.client("sesv2").meta.events.unregister("before-call.sesv2.SendEmail", unreachable)
    assert deliver(sender, job()).status == "sent"
    assert sent_to() == ["person0@example.com"]


def test_a_process_that_lost_its_claim_never_calls_ses(
    sender: Sender, clock: Clock, table: store.Table
) -> None:
    slow = dataclasses.replace(sender, compose=lambda j, p, s: taken_over_meanwhile(j, p, s))

    def taken_over_meanwhile(todo: SendJob, profile: Profile, send_id: str) -> Message:
        clock.now += sender.lease_seconds + 1  # this render outlived the lease ...
        assert deliver(sender, todo).status == "sent"  # ... and another process took over
        return compose(todo, profile, send_id)

    assert deliver(slow, job()) == Outcome(job().send_id, "pending", "claimed_elsewhere")
    assert sent_to() == ["person0@example.com"]


def test_suppressed_address_is_skipped(sender: Sender, table: store.Table) -> None:
    table.apply(store.suppression_write(email_hash("PERSON0@example.com "), "bounced", "t", "m"))
    assert deliver(sender, job()) == Outcome(job().send_id, "skipped", "suppressed")
    assert sent_to() == []


def test_throttling_at_message_37_retries_the_rest_without_resending(
    sender: Sender, clock: Clock, ses_hooks: list[Any]
) -> None:
    calls = {"n": 0}

    def throttle_37th(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] in (37, 38, 39):
            raise throttle("Maximum sending rate exceeded.")

    hook(ses_hooks, throttle_37th)
    outcomes = deliver_all(sender, [job(f"c{n}") for n in range(100)])
    assert [o.status for o in outcomes] == ["sent"] * 100
    assert len(sent_to()) == 100 and len(set(sent_to())) == 100
    assert any(pause >= 0.25 for pause in clock.slept), "no backoff after throttling"


def test_daily_quota_stops_the_batch_and_a_later_run_finishes_it(
    sender: Sender, ses_hooks: list[Any]
) -> None:
    calls = {"n": 0}

    def quota_at_37(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 37:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ThrottlingException",
                        "Message": "Daily message quota exceeded.",
                    }
                },
                "SendEmail",
            )

    hook(ses_hooks, quota_at_37)
    jobs = [job(f"c{n}") for n in range(100)]
    outcomes = deliver_all(sender, jobs)
    assert [o.status for o in outcomes] == ["sent"] * 36 + ["deferred"] * 64
    assert len(sent_to()) == 36
    tomorrow = deliver_all(sender, jobs)
    assert [o.status for o in tomorrow] == ["done"] * 36 + ["sent"] * 64
    assert sorted(sent_to()) == sorted(f"person{n}@example.com" for n in range(100))


def test_persistent_throttling_defers_and_releases_the_claim(
    sender: Sender, ses_hooks: list[Any]
) -> None:
    def always(**_: Any) -> None:
        raise throttle("Maximum sending rate exceeded.")

    hook(ses_hooks, always)
    assert deliver(sender, job()).status == "deferred"
    services.client("sesv2").meta.events.unregister("before-call.sesv2.SendEmail", always)
    assert deliver(sender, job()).status == "sent"
    assert sent_to() == ["person0@example.com"]


def test_unsubscribed_and_skipped_contacts_get_nothing_and_a_reason(
    sender: Sender, table: store.Table
) -> None:
    table.put_profile("gone", {"email": "gone@example.com", "status": "unsubscribed"})
    table.put_profile("goal", {"email": "goal@example.com", "first_name": "skip-me"})
    table.put_profile("nomail", {"first_name": "N"})
    outcomes = [deliver(sender, job(c)) for c in ("gone", "goal", "nomail")]
    assert [(o.status, o.reason) for o in outcomes] == [
        ("skipped", "unsubscribed"),
        ("skipped", "goal_reached"),
        ("skipped", "invalid_address"),
    ]
    assert sent_to() == []
    [skipped] = [e for e in table.events("gone") if e["type"] == "skipped"]
    assert skipped["reason"] == "unsubscribed"
    assert deliver(sender, job("gone")).reason == "skipped"


def test_frequency_cap_counts_across_sequences_and_skips_give_it_back(
    sender: Sender, table: store.Table, clock: Clock
) -> None:
    week = store.CapRule("D2027-01-15", "W2027-02", int(clock.now) + 86400 * 14, 1, "week")
    other_sequence = SendJob("c0", "newsletter", 1, "issue-1", 1)
    assert deliver(sender, job("c0"), week).status == "sent"
    assert deliver(sender, other_sequence, week) == Outcome(
        other_sequence.send_id, "deferred", "capped"
    )
    table.put_profile("goal", {"email": "goal@example.com", "first_name": "skip-me"})
    assert deliver(sender, job("goal"), week).status == "skipped"
    table.put_profile("goal", {"email": "goal@example.com", "first_name": "G"})
    assert deliver(sender, SendJob("goal", "newsletter", 1, "issue-1", 1), week).status == "sent"
    assert sent_to() == ["person0@example.com", "goal@example.com"]


def test_permanent_rejection_is_recorded_not_retried(
    sender: Sender, ses_hooks: list[Any], table: store.Table
) -> None:
    def reject(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "MessageRejected", "Message": "Email address is not verified."}},
            "SendEmail",
        )

    hook(ses_hooks, reject)
    assert deliver(sender, job()).status == "failed"
    assert deliver(sender, job()).status == "done"
    [rejected] = [e for e in table.events("c0") if e["type"] == "rejected"]
    assert rejected["reason"] == "rejected:MessageRejected"
    assert iso(T0) <= rejected["at"]


def test_a_from_address_with_a_line_break_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NURTURE_SENDER", "news@nurture.example\r\nBcc: all@example.com")
    settings.cache_clear()
    services.journey.cache_clear()
    try:
        with pytest.raises(ConfigError, match="NURTURE_SENDER"):
            services.journey()
    finally:
        monkeypatch.undo()
        settings.cache_clear()
        services.journey.cache_clear()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "EST5EDT", ""])
def test_a_bad_default_timezone_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    monkeypatch.setenv("NURTURE_DEFAULT_TIMEZONE", zone)
    settings.cache_clear()
    services.journey.cache_clear()
    try:
        with pytest.raises(ConfigError, match="NURTURE_DEFAULT_TIMEZONE"):
            services.journey()
    finally:
        monkeypatch.undo()
        settings.cache_clear()
        services.journey.cache_clear()

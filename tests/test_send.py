"""Exactly-once sending, with faults injected into the real (moto-backed) clients."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import feedback, services, store
from chalicelib.config import settings
from chalicelib.emails import email_hash
from chalicelib.errors import ConfigError
from chalicelib.send import Message, Outcome, Sender, SendJob, Skip
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


def compose(job: SendJob, profile: Mapping[str, Any], send_id: str) -> Message:
    if profile.get("first_name") == "skip-me":
        raise Skip("goal_reached")
    return Message(SENDER, profile["email"], f"Step {job.step_id}", f"<p>{send_id}</p>", send_id)


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
    for hook in hooks:
        events.unregister("before-call.sesv2.SendEmail", hook)


def job(contact: str = "c0", step: str = "welcome") -> SendJob:
    return SendJob(contact, "welcome", 1, step, 1)


def hook(hooks: list[Any], function: Any) -> None:
    services.client("sesv2").meta.events.register("before-call.sesv2.SendEmail", function)
    hooks.append(function)


def throttle(message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "TooManyRequestsException", "Message": message}}, "SendEmail"
    )


def test_a_job_sends_once_however_often_it_runs(sender: Sender) -> None:
    first = sender.deliver(job())
    assert first.status == "sent" and first.message_id
    for _ in range(3):
        again = sender.deliver(job())
        assert (again.status, again.reason, again.message_id) == ("done", "sent", first.message_id)
    assert sent_to() == ["person0@example.com"]


def test_crash_between_claim_and_ses_is_recovered_without_duplicates(
    sender: Sender, clock: Clock, ses_hooks: list[Any]
) -> None:
    def die(**_: Any) -> None:
        raise Crash

    hook(ses_hooks, die)
    jobs = [job(f"c{n}") for n in range(5)]
    with pytest.raises(Crash):
        sender.deliver_all(jobs)
    services.client("sesv2").meta.events.unregister("before-call.sesv2.SendEmail", die)
    # A rerun at once finds c0's claim still leased: nothing is sent twice or guessed.
    rerun = sender.deliver_all(jobs)
    assert rerun[0] == Outcome(jobs[0].send_id, "pending", "claimed_elsewhere")
    assert sorted(sent_to()) == [f"person{n}@example.com" for n in range(1, 5)]
    clock.now += sender.lease_seconds + 1
    later = sender.deliver_all(jobs)
    assert [o.status for o in later] == ["sent", "done", "done", "done", "done"]
    assert sorted(sent_to()) == sorted(f"person{n}@example.com" for n in range(5))


def test_crash_after_ses_accepted_is_settled_by_the_send_event(
    sender: Sender, clock: Clock, table: store.Table
) -> None:
    events = services.client("dynamodb").meta.events

    def die(**_: Any) -> None:
        raise Crash

    events.register("before-call.dynamodb.UpdateItem", die)
    try:
        with pytest.raises(Crash):
            sender.deliver(job())
    finally:
        events.unregister("before-call.dynamodb.UpdateItem", die)
    assert sent_to() == ["person0@example.com"]
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    ses_event = json.loads((FIXTURES / "send.json").read_text())
    ses_event["detail"]["mail"]["messageId"] = message.id
    ses_event["detail"]["mail"]["tags"].update(send_id=[job().send_id], contact_id=["c0"])
    assert feedback.handle(table, ses_event, settings()) == []
    clock.now += sender.lease_seconds + 1
    assert sender.deliver(job()) == Outcome(job().send_id, "done", "sent", message.id)
    assert sender.deliver(job()).status == "done"
    assert sent_to() == ["person0@example.com"]


def test_suppressed_address_is_skipped(sender: Sender, table: store.Table) -> None:
    table.apply(store.suppression_write(email_hash("PERSON0@example.com "), "bounced", "t", "m"))
    assert sender.deliver(job()) == Outcome(job().send_id, "skipped", "suppressed")
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
    outcomes = sender.deliver_all([job(f"c{n}") for n in range(100)])
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
    outcomes = sender.deliver_all(jobs)
    assert [o.status for o in outcomes] == ["sent"] * 36 + ["deferred"] * 64
    assert len(sent_to()) == 36
    tomorrow = sender.deliver_all(jobs)
    assert [o.status for o in tomorrow] == ["done"] * 36 + ["sent"] * 64
    assert sorted(sent_to()) == sorted(f"person{n}@example.com" for n in range(100))


def test_persistent_throttling_defers_and_releases_the_claim(
    sender: Sender, ses_hooks: list[Any]
) -> None:
    def always(**_: Any) -> None:
        raise throttle("Maximum sending rate exceeded.")

    hook(ses_hooks, always)
    assert sender.deliver(job()).status == "deferred"
    services.client("sesv2").meta.events.unregister("before-call.sesv2.SendEmail", always)
    assert sender.deliver(job()).status == "sent"
    assert sent_to() == ["person0@example.com"]


def test_unsubscribed_and_skipped_contacts_get_nothing_and_a_reason(
    sender: Sender, table: store.Table
) -> None:
    table.put_profile("gone", {"email": "gone@example.com", "status": "unsubscribed"})
    table.put_profile("goal", {"email": "goal@example.com", "first_name": "skip-me"})
    table.put_profile("nomail", {"first_name": "N"})
    outcomes = [sender.deliver(job(c)) for c in ("gone", "goal", "nomail")]
    assert [(o.status, o.reason) for o in outcomes] == [
        ("skipped", "unsubscribed"),
        ("skipped", "goal_reached"),
        ("skipped", "invalid_address"),
    ]
    assert sent_to() == []
    [skipped] = [e for e in table.events("gone") if e["type"] == "skipped"]
    assert skipped["reason"] == "unsubscribed"
    assert sender.deliver(job("gone")) == Outcome(job("gone").send_id, "done", "skipped")


def test_frequency_cap_counts_across_sequences_and_skips_give_it_back(
    sender: Sender, table: store.Table, clock: Clock
) -> None:
    sender.cap = lambda job, profile: store.CapRule(1, "W2027-02", int(clock.now) + 86400 * 14)
    other_sequence = SendJob("c0", "newsletter", 1, "issue-1", 1)
    assert sender.deliver(job("c0")).status == "sent"
    assert sender.deliver(other_sequence) == Outcome(other_sequence.send_id, "deferred", "capped")
    table.put_profile("goal", {"email": "goal@example.com", "first_name": "skip-me"})
    assert sender.deliver(job("goal")).status == "skipped"
    table.put_profile("goal", {"email": "goal@example.com", "first_name": "G"})
    assert sender.deliver(SendJob("goal", "newsletter", 1, "issue-1", 1)).status == "sent"
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
    assert sender.deliver(job()).status == "failed"
    assert sender.deliver(job()).status == "done"
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

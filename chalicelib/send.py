"""Exactly-once sending through SES v2, and what an interrupted send means.

A send is claimed with a conditional write before SES is called; a rerun finds the claim and
never sends twice. Just before SES is called the claim is marked `calling` (conditional on the
claim's attempt, so a process that lost its claim never calls SES). A claim left by a crash is
taken over only after its lease expired:
- no `calling` mark: SES was never called, the takeover sends;
- a SES `Send` event arrived (`ses_accepted_at`, written by the feedback handler): it was sent;
- otherwise SES may or may not have accepted the message (SES v2 has no idempotency key): the
  send is recorded `uncertain` and SES is never called for it again. A late `Send` event settles
  it as `sent`. Nothing else can prove SES did not accept it, so it is never resent: a missing
  email is recoverable by a person, a duplicate is not.
Throttling is retried with backoff within the account's send rate; a daily quota stop releases
the claim and raises `QuotaExceeded`, so the caller stops at once (SES drops, it does not queue).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from chalicelib import store
from chalicelib.observability import logger
from chalicelib.profiles import Profile
from chalicelib.stamps import iso

THROTTLES = {"TooManyRequestsException", "ThrottlingException", "Throttling"}
PERMANENT = {
    "MessageRejected",
    "BadRequestException",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",
}
QUOTA_MESSAGE = "daily message quota exceeded"


@dataclass(frozen=True)
class SendJob:
    """One step of one enrollment run: the unit that is sent at most once."""

    contact_id: str
    sequence_id: str
    version: int
    step_id: str
    run: int
    nonce: str = ""
    """Set only for test sends, which are each a message of their own."""
    context: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The properties of the event that started the enrollment (`event` in templates)."""

    @property
    def send_id(self) -> str:
        """Deterministic, opaque id: the same job always claims the same item."""
        seed = f"{self.contact_id}\x1f{self.sequence_id}\x1f{self.run}\x1f{self.step_id}"
        seed += f"\x1f{self.nonce}" if self.nonce else ""
        return hashlib.sha256(seed.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Message:
    """A prepared email for one recipient."""

    sender: str
    to: str
    subject: str
    html: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    link_tags: tuple[tuple[str, ...], ...] = ()
    """Interests each tracked link carries, by link index (recorded on the send)."""
    variant: str = ""
    """The A/B variant of the step this message is (stored on the send and counted)."""
    links: tuple[str, ...] = ()
    """The destination signed into each tracked link, by link index."""


@dataclass(frozen=True)
class Outcome:
    send_id: str
    status: str  # sent | skipped | failed | deferred | pending | done
    reason: str = ""
    message_id: str = ""
    called_at: str = ""
    """When SES was called for a send that went out (or may have): what deadlines count from."""

    @property
    def went_out(self) -> bool:
        """Sent, or (after a crash) possibly sent: either way the contact has it, most likely."""
        return self.status == "sent" or (
            self.status == "done" and self.reason in ("sent", "uncertain")
        )


def unreachable(profile: Profile, table: store.Table) -> str | None:
    """Why no email may go to this contact at all (`unsubscribed`, `invalid_address`,
    `suppressed`), or None: checked before each send and at enrollment."""
    if profile.unsubscribed:
        return "unsubscribed"
    if not profile.email:
        return "invalid_address"
    if table.is_suppressed(profile.email):
        return "suppressed"
    return None


class Skip(Exception):
    """A reason not to send this job now; recorded as a `skipped` event with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class QuotaExceeded(Exception):
    """SES refused for the day: stop the batch, the rest is deferred and rescheduled."""


Composer = Callable[[SendJob, Profile, str], Message]
"""Builds the message for a job from the contact profile and send id; raises `Skip` to skip."""


@dataclass
class Sender:
    sends: store.Sends
    table: store.Table
    ses: Any
    compose: Composer
    configuration_set: str
    max_rate: float = 14.0
    lease_seconds: int = 900
    throttle_retries: int = 5
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    _last_send: float = 0.0

    def deliver(
        self,
        job: SendJob,
        profile: Profile,
        cap: store.CapRule | None,
        zone: store.ZoneUsed | None = None,
        refusal: str | None = None,
    ) -> Outcome:
        """Send `job` to `profile` at most once, counted against `cap` (None: not counted);
        `zone` (the zone fallback planning used) is recorded on the send. A `refusal` (a topic
        opt-out, missing consent, a segment gate) skips it with that reason.

        Raises `QuotaExceeded` after releasing the claim when SES's daily quota is used up.
        """
        record = self._claim(job, profile, cap, zone)
        if isinstance(record, Outcome):
            return record
        try:
            self._check(profile)
            if refusal is not None:
                raise Skip(refusal)
            message = self.compose(job, profile, job.send_id)
        except Skip as skip:
            return self._finish(job, record, "skipped", skip.reason)
        return self._send(job, record, message)

    def _claim(
        self,
        job: SendJob,
        profile: Profile,
        cap: store.CapRule | None,
        zone: store.ZoneUsed | None,
    ) -> store.SendRecord | Outcome:
        """Claim the send, stamped with what the contact is now (its lifecycle stage and
        segments), which the funnel's counts for it carry, so reports filter by them."""
        now = self.clock()
        attrs: dict[str, store.Scalar] = {
            "contact_id": job.contact_id,
            "sequence_id": job.sequence_id,
            "version": job.version,
            "step_id": job.step_id,
            "run": job.run,
            **store.audience_attrs(profile.stage, profile.segments),
        }
        try:
            claimed = self.sends.claim(
                job.send_id,
                attrs,
                iso(now),
                iso(now + self.lease_seconds),
                cap,
                job.contact_id,
                zone,
            )
        except store.Capped:
            return Outcome(job.send_id, "deferred", "capped")
        record = self.sends.get(job.send_id)
        if record is None:
            raise RuntimeError(f"send {job.send_id} vanished after its claim")
        if claimed:
            return record
        return self._resume(record, now)

    def _resume(self, record: store.SendRecord, now: float) -> store.SendRecord | Outcome:
        """A claim exists: finished, still running, accepted by SES, or abandoned by a crash."""
        called = record.calling_at or record.claimed_at
        if record.status != "claimed":
            return Outcome(record.send_id, "done", record.status, record.message_id or "", called)
        if record.accepted_at is not None:
            self.sends.complete(record, record.message_id or "", record.accepted_at)
            return Outcome(record.send_id, "done", "sent", record.message_id or "", called)
        if iso(now) < record.lease_until:
            return Outcome(record.send_id, "pending", "claimed_elsewhere")
        if record.calling_at is not None:
            if not self.sends.mark_uncertain(record, iso(now)):
                return Outcome(record.send_id, "pending", "claimed_elsewhere")
            logger.warning("send outcome unknown after a crash", extra={"send_id": record.send_id})
            return Outcome(record.send_id, "done", "uncertain", called_at=called)
        if not self.sends.reclaim(record, iso(now), iso(now + self.lease_seconds)):
            return Outcome(record.send_id, "pending", "claimed_elsewhere")
        logger.warning("took over an abandoned send", extra={"send_id": record.send_id})
        return self.sends.get(record.send_id) or record

    def _check(self, profile: Profile) -> None:
        reason = unreachable(profile, self.table)
        if reason is not None:
            raise Skip(reason)

    def _send(self, job: SendJob, record: store.SendRecord, message: Message) -> Outcome:
        for attempt in range(self.throttle_retries + 1):
            self._pace()
            called = iso(self.clock())
            if not self.sends.mark_calling(record, called, message.link_tags, message.variant):
                return Outcome(job.send_id, "pending", "claimed_elsewhere")  # taken over
            try:
                answer = self.ses.send_email(**self._request(job, message))
            except (EndpointConnectionError, ConnectTimeoutError):
                self.sends.release(record)  # never connected: SES certainly has nothing
                return Outcome(job.send_id, "deferred", "unreachable")
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                text = str(error.response.get("Error", {}).get("Message", "")).lower()
                if code in THROTTLES and QUOTA_MESSAGE in text:
                    self.sends.release(record)
                    raise QuotaExceeded from error
                if code in THROTTLES and attempt < self.throttle_retries:
                    self.sends.clear_calling(record)  # refused: a crash while waiting is safe
                    self.sleep(min(30.0, 0.25 * 2**attempt) * (0.5 + random.random() / 2))  # noqa: S311
                    continue
                if code in THROTTLES:
                    self.sends.release(record)
                    return Outcome(job.send_id, "deferred", "throttled")
                if code in PERMANENT:
                    return self._finish(job, record, "failed", f"rejected:{code}")
                raise  # anything else may have reached SES: a takeover records it uncertain
            message_id = answer["MessageId"]
            self.sends.complete(record, message_id, iso(self.clock()))
            return Outcome(job.send_id, "sent", message_id=message_id, called_at=called)
        raise AssertionError("unreachable: the loop returns or raises")

    def _request(self, job: SendJob, message: Message) -> dict[str, Any]:
        headers = [{"Name": name, "Value": value} for name, value in message.headers.items()]
        return {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Html": {"Data": message.html, "Charset": "UTF-8"},
                        "Text": {"Data": message.text, "Charset": "UTF-8"},
                    },
                    "Headers": headers,
                }
            },
            "ConfigurationSetName": self.configuration_set,
            "EmailTags": [
                {"Name": "send_id", "Value": job.send_id},
                {"Name": "contact_id", "Value": job.contact_id},
                {"Name": "sequence_id", "Value": job.sequence_id},
            ],
        }

    def _pace(self) -> None:
        """Stay within the account's maximum send rate (messages per second)."""
        gap = 1.0 / self.max_rate - (self.clock() - self._last_send)
        if gap > 0:
            self.sleep(gap)
        self._last_send = self.clock()

    def _finish(self, job: SendJob, record: store.SendRecord, status: str, reason: str) -> Outcome:
        now = self.clock()
        kind = "skipped" if status == "skipped" else "rejected"
        event = store.Event(
            job.contact_id,
            kind,
            iso(now),
            f"{job.send_id}-{record.attempt}",
            job.send_id,
            {"reason": reason, "step_id": job.step_id, "sequence_id": job.sequence_id},
        )
        self.sends.finish(record, status, event)
        return Outcome(job.send_id, status, reason)

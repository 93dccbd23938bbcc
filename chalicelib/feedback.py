"""SES feedback: bounces, complaints and deliveries become events, suppressions and send outcomes.

SES and EventBridge deliver at least once, in any order, sometimes one record for several
recipients. Every effect is keyed by (SES message id, event type, recipient) and written
conditionally, so a duplicate or a late, stale record changes nothing.

A record missing its timestamps still counts, at the envelope's time (EventBridge `time`, SNS
`Timestamp`, else when it was handled): a hard bounce or complaint always suppresses, unless
the complaint says `not-spam`. Transient bounces suppress at `soft_bounce_limit` within
`soft_bounce_window_days`. A malformed record, or a `Records` item that is not an object, is
logged and dropped, never retried.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from chalicelib import emails, jsondoc, store
from chalicelib.config import DAY, Settings
from chalicelib.errors import InvalidInput
from chalicelib.observability import logger
from chalicelib.stamps import instant, iso

MAX_TEXT = 500
# Later outcomes outrank earlier ones; an outcome never replaces one of equal or higher rank.
RANKS = {
    "sent": 1,
    "delivery_delayed": 2,
    "delivered": 3,
    "bounced": 4,
    "rejected": 4,
    "rendering_failed": 4,
    "complained": 5,
}
SOFT_BOUNCES = ("Transient", "Undetermined")
NOT_SPAM = "not-spam"

Attrs = dict[str, store.Scalar]
Recipients = list[tuple[str, Attrs]]


class _Shape(BaseModel):
    """SES JSON is camelCase and grows new fields; unknown ones are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Recipient(_Shape):
    email_address: str = Field(min_length=3)
    status: str | None = None
    diagnostic_code: str | None = None


class Mail(_Shape):
    message_id: str = Field(min_length=1)
    timestamp: datetime | None = None
    destination: list[str] = []
    tags: dict[str, list[str]] = {}


class _Detail(_Shape):
    """The type-specific object; by default it is about every destination, at send time."""

    def moment(self, mail: Mail) -> datetime | None:
        return mail.timestamp

    def recipients(self, mail: Mail) -> Recipients:
        return [(address, self.attrs()) for address in mail.destination]

    def attrs(self) -> Attrs:
        return {}


class _Timed(_Detail):
    timestamp: datetime | None = None

    def moment(self, mail: Mail) -> datetime | None:
        return self.timestamp or mail.timestamp


class Send(_Detail):
    pass


class Reject(_Detail):
    reason: str | None = None

    def attrs(self) -> Attrs:
        return {"reason": self.reason}


class Failure(_Detail):
    error_message: str | None = None
    template_name: str | None = None

    def attrs(self) -> Attrs:
        return {"error": _trim(self.error_message), "template": self.template_name}


class Bounce(_Timed):
    bounce_type: str
    bounce_sub_type: str | None = None
    bounced_recipients: list[Recipient] = Field(min_length=1)

    def recipients(self, mail: Mail) -> Recipients:
        common = {"bounce_type": self.bounce_type, "bounce_sub_type": self.bounce_sub_type}
        return [(r.email_address, {**common, **_smtp(r)}) for r in self.bounced_recipients]


class Complaint(_Timed):
    complained_recipients: list[Recipient] = Field(min_length=1)
    complaint_feedback_type: str | None = None

    def recipients(self, mail: Mail) -> Recipients:
        attrs: Attrs = {"feedback_type": self.complaint_feedback_type}
        return [(r.email_address, attrs) for r in self.complained_recipients]


class Delivery(_Timed):
    delivered_to: list[str] = Field(min_length=1, alias="recipients")
    smtp_response: str | None = None

    def recipients(self, mail: Mail) -> Recipients:
        attrs: Attrs = {"smtp_response": _trim(self.smtp_response)}
        return [(address, attrs) for address in self.delivered_to]


class DeliveryDelay(_Timed):
    delayed_recipients: list[Recipient] = Field(min_length=1)
    delay_type: str | None = None

    def recipients(self, mail: Mail) -> Recipients:
        return [
            (r.email_address, {"delay_type": self.delay_type, **_smtp(r)})
            for r in self.delayed_recipients
        ]


# SES kind -> (normalised event type, the record field holding its details).
KINDS = {
    "Send": ("sent", "send"),
    "Delivery": ("delivered", "delivery"),
    "Bounce": ("bounced", "bounce"),
    "Complaint": ("complained", "complaint"),
    "Reject": ("rejected", "reject"),
    "DeliveryDelay": ("delivery_delayed", "delivery_delay"),
    "RenderingFailure": ("rendering_failed", "failure"),
}


class SesRecord(_Shape):
    """An event-publishing record (`eventType`) or an SNS notification (`notificationType`)."""

    event_type: str | None = None
    notification_type: str | None = None
    mail: Mail
    send: Send = Send()
    reject: Reject = Reject()
    failure: Failure = Failure()
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    delivery: Delivery | None = None
    delivery_delay: DeliveryDelay | None = None
    envelope_time: datetime | None = None
    """When the envelope (EventBridge event, SNS message) says it was sent: not SES's field."""

    @property
    def kind(self) -> str:
        """`Bounce`, `RenderingFailure`, ... (SES also spells the latter `Rendering Failure`;
        any case is taken)."""
        spelled = (self.event_type or self.notification_type or "").replace(" ", "")
        return _KIND_SPELLINGS.get(spelled.lower(), spelled)

    def detail(self) -> _Detail | None:
        """The details of a kind we act on; None for the rest (Open, Click, Subscription)."""
        found: _Detail | None = getattr(self, KINDS[self.kind][1]) if self.kind in KINDS else None
        return found

    @model_validator(mode="after")
    def _has_details(self) -> SesRecord:
        if not self.kind:
            raise ValueError("eventType or notificationType is required")
        if self.kind in KINDS and self.detail() is None:
            raise ValueError(f"a {self.kind} record needs its {to_camel(KINDS[self.kind][1])!r}")
        return self


_KIND_SPELLINGS = {name.lower(): name for name in (*KINDS, "Open", "Click", "Subscription")}


@dataclass(frozen=True)
class Feedback:
    """One SES event for one recipient, under its normalised name."""

    type: str
    recipient: str
    message_id: str
    at: str
    send_id: str = ""
    contact_id: str = ""
    attrs: Mapping[str, store.Scalar] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """Deterministic, so a redelivered SES event lands on the same key."""
        seed = f"{self.message_id}\n{self.type}\n{emails.identity(self.recipient)}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]


def parse(payload: object, received: datetime | None = None) -> SesRecord:
    """The SES record in an EventBridge event, SNS envelope or JSON text; else InvalidInput.

    `envelope_time` is the envelope's own time, else `received`.
    """
    envelope_time = received
    for _ in range(3):  # at most: JSON text, an envelope, the JSON text it carries
        if isinstance(payload, str | bytes):
            payload = jsondoc.parse(payload)
        if isinstance(payload, dict) and "detail" in payload:
            envelope_time = _time(payload.get("time")) or envelope_time
            payload = payload["detail"]
        elif isinstance(payload, dict) and payload.get("Type") == "Notification":
            envelope_time = _time(payload.get("Timestamp")) or envelope_time
            payload = payload.get("Message")
        else:
            break
    try:
        record = SesRecord.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise InvalidInput(where, first["msg"]) from None
    return record.model_copy(update={"envelope_time": envelope_time})


def _time(value: object) -> datetime | None:
    """An envelope's ISO 8601 time, or None if it has none worth trusting."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def normalise(record: SesRecord) -> list[Feedback]:
    """One `Feedback` per recipient of `record`; none for the kinds we do not act on."""
    detail = record.detail()
    if detail is None:
        return []
    mail = record.mail
    tags = {name: values[0] for name, values in mail.tags.items() if values}
    moment = detail.moment(mail) or record.envelope_time
    if moment is None:
        raise InvalidInput("timestamp", "the record, its mail and its envelope have no time")
    at = iso(moment.timestamp())
    return [
        Feedback(
            KINDS[record.kind][0],
            address,
            mail.message_id,
            at,
            send_id=tags.get("send_id", ""),
            contact_id=tags.get("contact_id", ""),
            attrs=attrs,
        )
        for address, attrs in detail.recipients(mail)
    ]


def apply(table: store.Table, found: Feedback, settings: Settings) -> None:
    """Every effect of one `Feedback`, each a conditional write that a replay leaves unchanged."""
    if found.contact_id:
        table.apply(store.event_write(_event(found, settings)))
    if found.type == "complained":
        if str(found.attrs.get("feedback_type") or "").lower() != NOT_SPAM:
            _suppress(table, found, "complaint")
    elif found.attrs.get("bounce_type") == "Permanent":
        _suppress(table, found, "bounce")
    elif found.attrs.get("bounce_type") in SOFT_BOUNCES:
        hashed = emails.email_hash(found.recipient)
        table.apply(store.soft_bounce_write(hashed, found.message_id, found.at))
        window = timedelta(days=settings.soft_bounce_window_days)
        since = iso((instant(found.at) - window).timestamp())
        # Read back even after a duplicate: a crash before suppressing heals on redelivery.
        if table.soft_bounces(hashed, since) >= settings.soft_bounce_limit:
            _suppress(table, found, "soft_bounces")
    if found.send_id:
        _record_on_send(table, found)


def ingest(
    table: store.Table, payload: object, settings: Settings, received: datetime | None = None
) -> None:
    """Parse and apply one SES record; a malformed one is logged and dropped, never retried.

    `received` (when it was handled) stands in for the time of a record and envelope without
    any.
    """
    try:
        found = normalise(parse(payload, received))
    except InvalidInput as exc:
        logger.warning("ses record dropped", extra={"field": exc.field, "problem": exc.problem})
        return
    for one in found:
        apply(table, one, settings)


def answer(table: store.Table, event: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """`handle` as the Lambda answers it: the SQS messages to retry as `batchItemFailures`."""
    failed = handle(table, event, settings)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def handle(
    table: store.Table,
    event: Mapping[str, Any],
    settings: Settings,
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Apply a Lambda event from EventBridge, SNS or SQS; return the SQS message ids to retry.

    A DynamoDB error raises for EventBridge and SNS (they retry the invocation) and, for SQS,
    marks only that message for retry.
    """
    now = datetime.fromtimestamp(clock(), UTC)
    records = event.get("Records")
    if not isinstance(records, list):
        ingest(table, event, settings, now)
        return []
    failed = []
    for record in records:
        if not isinstance(record, dict):
            logger.warning("ses record dropped", extra={"problem": "a Records item not an object"})
            continue
        sns = record.get("Sns")
        if isinstance(sns, dict):
            ingest(table, sns.get("Message"), settings, _time(sns.get("Timestamp")) or now)
            continue
        message_id = record.get("messageId")
        try:
            ingest(table, record.get("body"), settings, now)
        except store.AWS_ERRORS:
            logger.exception("ses record failed", extra={"message_id": message_id})
            if isinstance(message_id, str):
                failed.append(message_id)
            else:
                raise  # no id to retry it alone by: the whole invocation is retried
    return failed


def _event(found: Feedback, settings: Settings) -> store.Event:
    moment = instant(found.at)
    return store.Event(
        contact_id=found.contact_id,
        type=found.type,
        at=found.at,
        event_id=found.event_id,
        send_id=found.send_id,
        attrs={"ses_message_id": found.message_id, **found.attrs},
        expires_at=int(moment.timestamp()) + settings.event_retention_days * DAY,
    )


def _suppress(table: store.Table, found: Feedback, reason: str) -> None:
    hashed = emails.email_hash(found.recipient)
    if table.apply(store.suppression_write(hashed, reason, found.at, found.message_id)):
        logger.info("address suppressed", extra={"email_hash": hashed, "reason": reason})


def _record_on_send(table: store.Table, found: Feedback) -> None:
    """Skipped quietly when the send is unknown or already has an equal or later outcome."""
    if found.type == "sent":  # also settles a send left `uncertain` by a crash, however late
        table.apply(store.send_accepted_write(found.send_id, found.message_id, found.at))
        table.apply(store.send_settled_write(found.send_id, found.message_id, found.at))
    outcome = store.send_outcome_write(
        found.send_id, found.message_id, found.type, RANKS[found.type], found.at
    )
    table.apply(outcome)


def _smtp(recipient: Recipient) -> Attrs:
    return {"status": recipient.status, "diagnostic_code": _trim(recipient.diagnostic_code)}


def _trim(text: str | None) -> str | None:
    return text.strip()[:MAX_TEXT] if text else None

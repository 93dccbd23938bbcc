"""SES feedback: bounces, complaints and deliveries become events, suppressions and send outcomes.

SES and EventBridge deliver at least once, in any order, sometimes one record for several
recipients. Every effect is keyed by (SES message id, event type, recipient) and written
conditionally, so a duplicate or a late, stale record changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from chalicelib import emails, store
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
    timestamp: datetime
    destination: list[str] = []
    tags: dict[str, list[str]] = {}


class _Detail(_Shape):
    """The type-specific object; by default it is about every destination, at send time."""

    def moment(self, mail: Mail) -> datetime:
        return mail.timestamp

    def recipients(self, mail: Mail) -> Recipients:
        return [(address, self.attrs()) for address in mail.destination]

    def attrs(self) -> Attrs:
        return {}


class _Timed(_Detail):
    timestamp: datetime

    def moment(self, mail: Mail) -> datetime:
        return self.timestamp


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

    @property
    def kind(self) -> str:
        """`Bounce`, `RenderingFailure`, ... (SES also spells the latter `Rendering Failure`)."""
        return (self.event_type or self.notification_type or "").replace(" ", "")

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


def parse(payload: object) -> SesRecord:
    """The SES record in an EventBridge event, SNS envelope or JSON text; else InvalidInput."""
    for _ in range(3):  # at most: JSON text, an envelope, the JSON text it carries
        if isinstance(payload, str | bytes):
            try:
                payload = json.loads(payload)
            except ValueError:
                raise InvalidInput("body", "not JSON") from None
        if isinstance(payload, dict) and "detail" in payload:
            payload = payload["detail"]
        elif isinstance(payload, dict) and payload.get("Type") == "Notification":
            payload = payload.get("Message")
        else:
            break
    try:
        return SesRecord.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        raise InvalidInput(where, first["msg"]) from None


def normalise(record: SesRecord) -> list[Feedback]:
    """One `Feedback` per recipient of `record`; none for the kinds we do not act on."""
    detail = record.detail()
    if detail is None:
        return []
    mail = record.mail
    tags = {name: values[0] for name, values in mail.tags.items() if values}
    at = iso(detail.moment(mail).timestamp())
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
    if found.type == "complained" or found.attrs.get("bounce_type") == "Permanent":
        _suppress(table, found, "complaint" if found.type == "complained" else "bounce")
    elif found.attrs.get("bounce_type") in SOFT_BOUNCES:
        hashed = emails.email_hash(found.recipient)
        table.apply(store.soft_bounce_write(hashed, found.message_id, found.at))
        # Read back even after a duplicate: a crash before suppressing heals on redelivery.
        if table.soft_bounces(hashed) >= settings.soft_bounce_limit:
            _suppress(table, found, "soft_bounces")
    if found.send_id:
        _record_on_send(table, found)


def ingest(table: store.Table, payload: object, settings: Settings) -> None:
    """Parse and apply one SES record; a malformed one is logged and dropped, never retried."""
    try:
        record = parse(payload)
    except InvalidInput as exc:
        logger.warning("ses record dropped", extra={"field": exc.field, "problem": exc.problem})
        return
    for found in normalise(record):
        apply(table, found, settings)


def handle(table: store.Table, event: Mapping[str, Any], settings: Settings) -> list[str]:
    """Apply a Lambda event from EventBridge, SNS or SQS; return the SQS message ids to retry.

    A DynamoDB error raises for EventBridge and SNS (they retry the invocation) and, for SQS,
    marks only that message for retry.
    """
    records = event.get("Records")
    if not isinstance(records, list):
        ingest(table, event, settings)
        return []
    failed = []
    for record in records:
        if "Sns" in record:
            ingest(table, record["Sns"].get("Message"), settings)
            continue
        try:
            ingest(table, record.get("body"), settings)
        except store.AWS_ERRORS:
            logger.exception("ses record failed", extra={"message_id": record.get("messageId")})
            failed.append(record["messageId"])
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

"""The outbound event catalogue: every event type nurture publishes and the shape of its `data`.

An outbound event is an envelope with a stable `type`, `id` (the same for every copy of the
event: receivers deduplicate on it), `time`, `contact`, `sequence`, `send` and `data`:

    {"type": "clicked", "id": "evt_...", "time": "2026-11-24T07:00:03.000Z",
     "contact": {"id": "c-1"}, "sequence": {"id": "engagement", "step": "intro"},
     "send": {"id": "...", "test": false}, "data": {"verdict": "human", ...}}

`contact.email` is present only in deliveries whose subscription asks for it. New fields may be
added to `data`; existing ones keep their meaning.

Adding an event type is a one-place change: a `Data` model below and its line in `CATALOGUE`
(then `python -m chalicelib.outbound > /dev/null` rewrites `schemas/events/`). Any feature that
stores an event item of that type (`store.Event`) is then published with no other change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

__all__ = [
    "CATALOGUE",
    "Contact",
    "Data",
    "Envelope",
    "SendRef",
    "SequenceRef",
    "envelope_model",
]


class Data(BaseModel):
    """Base of every `data` model: built from a stored item, extra attributes ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


Verdict = Literal["human", "machine", "unknown", "scanner"]


class Sent(Data):
    """SES accepted the message for delivery."""

    message_id: str | None = Field(None, description="SES message id")


class Delivered(Data):
    """The receiving mail server accepted the message."""

    smtp_response: str | None = None


class Bounced(Data):
    """The message bounced; `Permanent` bounces suppress the address."""

    bounce_type: str | None = Field(None, examples=["Permanent", "Transient"])
    bounce_sub_type: str | None = None
    status: str | None = Field(None, description="SMTP status code", examples=["5.1.1"])
    diagnostic_code: str | None = None


class Complained(Data):
    """The recipient marked the message as spam; the address is suppressed."""

    feedback_type: str | None = Field(None, examples=["abuse"])


class Rejected(Data):
    """SES (or nurture, before sending) refused the message."""

    reason: str | None = None


class Opened(Data):
    """The open pixel loaded. `verdict` says who: a person, a machine (Apple Mail Privacy
    Protection, image proxies) or unknown."""

    verdict: Verdict
    reason: str | None = Field(
        None, validation_alias=AliasChoices("reason", "verdict_reason"), examples=["apple_mpp"]
    )


class Clicked(Data):
    """A tracked link was followed. `verdict` is `human` or `scanner` (link scanners, HEAD
    requests, bursts of every link at once)."""

    verdict: Verdict
    reason: str | None = Field(None, validation_alias=AliasChoices("reason", "verdict_reason"))
    link: int | None = Field(None, description="index of the link in the message")


class Converted(Data):
    """A conversion attributed to the contact (and the send its token came from)."""

    conversion_id: str
    value: Decimal | None = Field(None, description="decimal amount, as text", examples=["49.9"])
    currency: str | None = Field(None, examples=["EUR"])


class Unsubscribed(Data):
    """The contact unsubscribed; `how` is `one_click` (List-Unsubscribe header) or `page`."""

    how: str | None = Field(None, validation_alias=AliasChoices("how", "method"))
    reason: str | None = Field(None, examples=["too_many"])


class Skipped(Data):
    """A planned send did not go out, and why (suppressed, unsubscribed, capped, ...)."""

    reason: str


class Enrolled(Data):
    """The contact entered a sequence (`run` counts re-entries)."""

    version: int
    run: int


class Ended(Data):
    """The contact left a sequence."""

    reason: str | None = None
    run: int


class StageChanged(Data):
    """The contact moved to another lifecycle stage."""

    from_stage: str | None = Field(None, alias="from")
    to_stage: str = Field(alias="to")


class TemperatureChanged(Data):
    """The contact's engagement temperature changed (human engagement only)."""

    from_temperature: str | None = Field(None, alias="from", examples=["warm"])
    to_temperature: str = Field(alias="to", examples=["hot"])
    score: float | None = None


class Alert(Data):
    """A sales alert: a scoring rule decided someone should act on this contact now."""

    name: str
    reason: str | None = None
    score: float | None = None
    temperature: str | None = None


class ContactUpdated(Data):
    """What a CRM keeps in sync about a contact."""

    stage: str | None = None
    score: float | None = None
    temperature: str | None = None
    tags: list[str] = Field(default_factory=list)
    unsubscribed: bool = False


CATALOGUE: dict[str, type[Data]] = {
    "sent": Sent,
    "delivered": Delivered,
    "bounced": Bounced,
    "complained": Complained,
    "rejected": Rejected,
    "opened": Opened,
    "clicked": Clicked,
    "converted": Converted,
    "unsubscribed": Unsubscribed,
    "skipped": Skipped,
    "enrolled": Enrolled,
    "exited": Ended,
    "goal_reached": Ended,
    "completed": Ended,
    "stage_changed": StageChanged,
    "temperature_changed": TemperatureChanged,
    "alert": Alert,
    "contact_updated": ContactUpdated,
}
"""Every published event type and its `data` model."""


class Contact(BaseModel):
    id: str
    email: str | None = Field(None, description="only when the subscription asks for emails")


class SequenceRef(BaseModel):
    id: str
    step: str | None = None


class SendRef(BaseModel):
    id: str
    test: bool = Field(False, description="a test send (`nurture send-test`), not a sequence's")


class Envelope(BaseModel):
    """What every event carries around its `data`."""

    type: str
    id: str = Field(description="stable per event: every copy and retry carries the same id")
    time: str = Field(
        description="when it happened, UTC ISO 8601", examples=["2026-11-24T07:00:03.000Z"]
    )
    contact: Contact
    sequence: SequenceRef | None
    send: SendRef | None
    data: dict[str, Any]


def envelope_model(event_type: str) -> type[BaseModel]:
    """The full model of one event type (for its published JSON Schema)."""
    data = CATALOGUE[event_type]
    model: type[BaseModel] = create_model(
        f"{_camel(event_type)}Event",
        __base__=Envelope,
        __doc__=data.__doc__,
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        data=(data, ...),
    )
    return model


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))

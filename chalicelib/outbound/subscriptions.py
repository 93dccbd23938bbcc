"""Webhook subscriptions: the `webhooks.yaml` file marketers push, and which events each wants.

    # yaml-language-server: $schema=../schemas/webhooks.schema.json
    webhooks:
      - id: crm
        url: https://crm.example.com/hooks/nurture
        events: [clicked, converted, unsubscribed]   # default: every type
        sequences: [engagement]                      # default: every sequence
        verdict: human                               # opens and clicks by people only
        include_email: true                          # default: contact ids only

The whole file is one immutable version; pushing it again unchanged adds none. Every problem
is reported at once as `file: path: message (line N)`. Secrets are not in the file: nurture
makes one per subscription on its first push (see `nurture webhooks secret`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, ValidationInfo, WithJsonSchema

from chalicelib import modelfiles
from chalicelib.errors import FileError, UnsafeWebhook
from chalicelib.fields import Model, Slug
from chalicelib.outbound.addresses import parse_target
from chalicelib.outbound.catalogue import CATALOGUE
from chalicelib.outbound.events import OutboundEvent

__all__ = [
    "ALLOWED_ORIGINS",
    "FILE_ID",
    "Subscription",
    "WebhooksFile",
    "load_stored",
    "parse_webhooks",
]

ALLOWED_ORIGINS = "allowed_origins"
"""Validation context: origins exempt from the https and public-address rules."""
FILE_ID = "webhooks"
"""The one subscriptions file's id among the versioned model files."""
STORED = "stored"
"""Validation context: a pushed version read back (URLs are checked again at delivery)."""
MAX_SUBSCRIPTIONS = 100
ENGAGEMENT = ("opened", "clicked")


def _check_type(name: str) -> str:
    if name not in CATALOGUE:
        raise ValueError(f"unknown event type {name!r}; known: {', '.join(sorted(CATALOGUE))}")
    return name


EventType = Annotated[str, AfterValidator(_check_type), WithJsonSchema({"enum": sorted(CATALOGUE)})]


def _check_url(url: str, info: ValidationInfo) -> str:
    if (info.context or {}).get(STORED):
        return url  # checked when pushed, and again at every delivery
    allowed = (info.context or {}).get(ALLOWED_ORIGINS, ())
    try:
        parse_target(url, allowed)
    except UnsafeWebhook as exc:
        raise ValueError(str(exc)) from None
    return url


WebhookUrl = Annotated[
    str,
    Field(max_length=2048, description="https URL of a public endpoint"),
    AfterValidator(_check_url),
]


class Subscription(Model):
    """One endpoint and the events it wants."""

    id: Slug
    url: WebhookUrl
    description: str = Field("", max_length=500)
    events: tuple[EventType, ...] | None = Field(
        None, min_length=1, description="event types to deliver; every type when absent"
    )
    sequences: tuple[Slug, ...] | None = Field(
        None, min_length=1, description="only events of these sequences; all when absent"
    )
    verdict: Literal["human", "any"] = Field(
        "any", description="`human`: only opens and clicks classified as a person's"
    )
    include_email: StrictBool = Field(False, description="add contact.email to each event")
    test_sends: StrictBool = Field(False, description="also events of `nurture send-test`")
    enabled: StrictBool = Field(True, description="false pauses deliveries")

    def wants(self, event: OutboundEvent) -> bool:
        if not self.enabled or (event.test and not self.test_sends):
            return False
        if self.events is not None and event.type not in self.events:
            return False
        if self.sequences is not None and event.sequence_id not in self.sequences:
            return False
        return not (
            self.verdict == "human"
            and event.type in ENGAGEMENT
            and event.data.get("verdict") != "human"
        )


class WebhooksFile(Model):
    """Every webhook subscription, in one file (versioned like every model file)."""

    webhooks: tuple[Subscription, ...] = Field(max_length=MAX_SUBSCRIPTIONS)

    @property
    def id(self) -> str:
        return FILE_ID

    @property
    def name(self) -> str:
        return f"{len(self.webhooks)} webhooks"

    def to_json(self) -> str:
        return self.model_dump_json()

    def content_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def by_id(self) -> dict[str, Subscription]:
        return {subscription.id: subscription for subscription in self.webhooks}


def parse_webhooks(
    text: str, *, file: str = "<string>", allowed_origins: Iterable[str] = ()
) -> WebhooksFile:
    """Validate a subscriptions file; `FileInvalid` lists every problem."""
    data, lines, errors = modelfiles.read_yaml(text, file)
    errors += _duplicate_ids(data)
    return modelfiles.validated(
        WebhooksFile, data, file, lines, errors, {ALLOWED_ORIGINS: tuple(allowed_origins)}
    )


def load_stored(body: str) -> WebhooksFile:
    """A pushed version, as stored (its JSON form)."""
    return WebhooksFile.model_validate_json(body, context={STORED: True})


def _duplicate_ids(data: Any) -> list[FileError]:
    hooks = data.get("webhooks") if isinstance(data, dict) else None
    seen: dict[str, int] = {}
    errors = []
    for i, hook in enumerate(hooks if isinstance(hooks, list) else []):
        name = hook.get("id") if isinstance(hook, dict) else None
        if isinstance(name, str) and name in seen:
            errors.append(
                FileError(f"webhooks[{i}].id", f"duplicate id (also webhooks[{seen[name]}])")
            )
        elif isinstance(name, str):
            seen[name] = i
    return errors

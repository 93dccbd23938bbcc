"""Outbound: every event onto an EventBridge bus and to signed webhooks (Standard Webhooks).

- `catalogue`: the event types and their `data`; `events`: stream changes → events.
- `publish`: the stream consumer (bus, one delivery record per subscription, queue).
- `deliver`: attempts, retries in due-minute buckets, dead letters, endpoint disabling.
- `subscriptions`: the `webhooks.yaml` model; `addresses`: where webhooks may go (no SSRF);
  `signing`: Standard Webhooks signatures; `transport`: the HTTP POST.
- `admin`: the marketer use cases; `schema`: the published JSON Schemas.
"""

from chalicelib.outbound.addresses import parse_target, refusal, resolve, system_resolver
from chalicelib.outbound.admin import (
    Pushed,
    Redriven,
    WebhookAdmin,
    WebhookView,
    delivery_summary,
)
from chalicelib.outbound.catalogue import CATALOGUE
from chalicelib.outbound.deliver import Deliverer
from chalicelib.outbound.events import OutboundEvent, from_change
from chalicelib.outbound.publish import Publisher, SubscriptionCache
from chalicelib.outbound.queues import Bus, DeliveryQueue, DeliveryRef
from chalicelib.outbound.signing import checked_secret
from chalicelib.outbound.subscriptions import Subscription, WebhooksFile, parse_webhooks
from chalicelib.outbound.transport import Answer, Transport

__all__ = [
    "CATALOGUE",
    "Answer",
    "Bus",
    "Deliverer",
    "DeliveryQueue",
    "DeliveryRef",
    "OutboundEvent",
    "Publisher",
    "Pushed",
    "Redriven",
    "Subscription",
    "SubscriptionCache",
    "Transport",
    "WebhookAdmin",
    "WebhookView",
    "WebhooksFile",
    "checked_secret",
    "delivery_summary",
    "from_change",
    "parse_target",
    "parse_webhooks",
    "refusal",
    "resolve",
    "system_resolver",
]

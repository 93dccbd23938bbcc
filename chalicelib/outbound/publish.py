"""Publishing from the table's stream: each outbound event onto the bus and, for every
subscription that wants it, one delivery record and a queue message.

This runs in the stream consumer, never on the recipient's request: the open and click
routes still make their one write and answer. It does no HTTP; the delivery queue's consumer
(`Deliverer`) does. A redelivered stream record finds its delivery records already there and
enqueues only those that never got their first attempt (a crash between the two writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import store
from chalicelib.outbound.events import OutboundEvent, from_change
from chalicelib.outbound.queues import Bus, DeliveryQueue, DeliveryRef
from chalicelib.outbound.subscriptions import FILE_ID, WebhooksFile, load_stored
from chalicelib.stamps import iso

__all__ = ["Publisher", "SubscriptionCache"]

DAY = 86_400


@dataclass
class SubscriptionCache:
    """The subscriptions in force: the newest version of the file, whose number is re-read at
    most every `ttl` seconds (one small read a batch) and whose body is read when it changes."""

    files: store.Versions
    ttl: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _checked: float | None = None
    _version: int = 0
    _parsed: WebhooksFile | None = None

    def current(self) -> WebhooksFile | None:
        now = self.clock()
        if self._checked is None or now - self._checked >= self.ttl:
            head = self.files.head(FILE_ID)
            if head is None:
                self._version, self._parsed = 0, None
            elif head.version != self._version:
                stored = self.files.get(FILE_ID, head.version)
                self._parsed = load_stored(stored.body) if stored else None
                self._version = head.version
            self._checked = now
        return self._parsed

    def by_id(self) -> dict[str, Any]:
        current = self.current()
        return current.by_id() if current else {}


@dataclass
class Publisher:
    table: store.Table
    deliveries: store.Deliveries
    subscriptions: SubscriptionCache
    queue: DeliveryQueue
    bus: Bus | None
    retention_days: int
    clock: Callable[[], float] = time.time
    _sends: Any = field(default=None, repr=False)

    def __call__(self, change: store.Change) -> store.Change:
        """A stream consumer (see `streams.handle`): publish what the change means."""
        event = from_change(change, self._origin)
        if event is not None:
            self.publish(event)
        return change

    def publish(self, event: OutboundEvent) -> list[DeliveryRef]:
        """Bus first, then deliveries; returns the deliveries enqueued now."""
        if self.bus is not None:
            self.bus.put(event)
        current = self.subscriptions.current()
        wanted = [s for s in (current.webhooks if current else ()) if s.wants(event)]
        if not wanted:
            return []
        email = self._email(event.contact_id) if any(s.include_email for s in wanted) else None
        now = self.clock()
        refs = []
        for subscription in wanted:
            delivery = store.Delivery(
                subscription.id,
                event.id,
                event.type,
                event.body(email if subscription.include_email else None),
                iso(now),
                int(now) + self.retention_days * DAY,
            )
            if self.deliveries.create(delivery) or self._never_tried(delivery):
                refs.append(DeliveryRef(subscription.id, event.id))
        self.queue.send(refs)
        return refs

    def _never_tried(self, delivery: store.Delivery) -> bool:
        found = self.deliveries.get(delivery.webhook_id, delivery.event_id)
        return (
            found is not None
            and found.status == "pending"
            and found.attempts == 0
            and found.redrives == 0
        )

    def _origin(self, send_id: str) -> store.SendOrigin | None:
        if self._sends is None:
            self._sends = store.Sends(self.table)
        origin: store.SendOrigin | None = self._sends.origin(send_id)
        return origin

    def _email(self, contact_id: str) -> str | None:
        email = (self.table.profile(contact_id) or {}).get("email")
        return str(email) if email else None

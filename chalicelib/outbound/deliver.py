"""Delivering one webhook: sign, POST, record the outcome, plan the retry or dead-letter it.

At least once: the queue message is deleted only after the outcome is recorded, so a crash
mid-attempt replays it. Exactly one record per (event, subscription), moved only by
transitions conditional on its `attempts` (see `store.Webhooks`), so a duplicated message or
replayed bucket records nothing twice. A retry is written with the failure it follows, in one
transaction, into a due-minute bucket whose Scheduler schedule exists before the write.
An endpoint failing for `disable_after` is disabled; what would go to it is dead-lettered,
and `redrive` sends it after the endpoint is enabled again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib import observability, store
from chalicelib.observability import logger
from chalicelib.outbound import backoff, signing
from chalicelib.outbound.queues import DeliveryQueue, DeliveryRef
from chalicelib.outbound.subscriptions import Subscription
from chalicelib.outbound.transport import Answer
from chalicelib.schedule import minute_key
from chalicelib.stamps import instant, iso

__all__ = ["Deliverer", "Poster", "RetryPlanner"]

EARLY_SLACK = timedelta(seconds=60)


class Poster(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer: ...


class RetryPlanner(Protocol):
    def ensure(self, utc_minute: datetime) -> bool: ...


@dataclass
class Deliverer:
    deliveries: store.Deliveries
    webhooks: store.Webhooks
    subscriptions: Callable[[], Mapping[str, Subscription]]
    poster: Poster
    queue: DeliveryQueue
    retries: RetryPlanner
    disable_after: timedelta
    clock: Callable[[], float] = time.time

    def handle(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """An SQS batch; returns the message ids to retry (a failure before any outcome)."""
        failed = []
        for record in records:
            try:
                self.attempt(DeliveryRef.parse(str(record["body"])))
            except Exception:
                logger.exception(
                    "webhook attempt failed", extra={"message_id": record.get("messageId")}
                )
                failed.append(str(record["messageId"]))
        return failed

    def attempt(self, ref: DeliveryRef) -> str:
        """Try one delivery now; returns what happened (for logs and tests)."""
        delivery = self.deliveries.get(ref.webhook_id, ref.event_id)
        now = self.clock()
        if delivery is None or delivery.status != "pending":
            return "done"
        if delivery.next_at and instant(delivery.next_at) > self._at(now) + EARLY_SLACK:
            return "early"  # a duplicate message: its retry bucket will bring it back
        subscription = self.subscriptions().get(ref.webhook_id)
        if subscription is None or not subscription.enabled:
            return self._dead(delivery, ref, "subscription_gone", None, None, attempted=False)
        health = self.webhooks.health(ref.webhook_id)
        if health.disabled_at:
            return self._dead(delivery, ref, "endpoint_disabled", None, None, attempted=False)
        answer = self.post(subscription.url, delivery.event_id, delivery.body, ref.webhook_id)
        if answer.ok:
            return self._delivered(delivery, answer, health.failing_since is not None)
        return self._failed(delivery, ref, answer)

    def post(self, url: str, message_id: str, body: str, webhook_id: str) -> Answer:
        secrets = [secret.value for secret in self.webhooks.secrets(webhook_id)]
        raw = body.encode("utf-8")
        headers = signing.headers(message_id, int(self.clock()), raw, secrets)
        return self.poster.post(url, headers, raw)

    def _delivered(self, delivery: store.Delivery, answer: Answer, was_failing: bool) -> str:
        at = iso(self.clock())
        if not self.deliveries.delivered(delivery, at, answer.status or 0):
            return "done"
        if was_failing:  # the endpoint's failing streak ends (no write while it is healthy)
            self.webhooks.note_success(delivery.webhook_id, at)
        observability.count("WebhookDelivered")
        return "delivered"

    def _failed(self, delivery: store.Delivery, ref: DeliveryRef, answer: Answer) -> str:
        now = self.clock()
        error = answer.summary()
        health = self.webhooks.note_failure(delivery.webhook_id, iso(now), error)
        observability.count("WebhookFailedAttempts")
        failing = self._at(now) - instant(health.failing_since or iso(now))
        if failing >= self.disable_after and self.webhooks.disable(delivery.webhook_id, iso(now)):
            logger.error("webhook endpoint disabled", extra={"webhook": delivery.webhook_id})
            observability.count("WebhookEndpointsDisabled")
        retry = backoff.next_attempt(
            f"{ref.webhook_id}#{ref.event_id}#{delivery.redrives}",
            delivery.attempts + 1,
            self._at(now),
        )
        if retry is None:
            return self._dead(delivery, ref, "exhausted", answer.status, error, attempted=True)
        self.retries.ensure(retry)  # the schedule exists before anything waits in its bucket
        stamp = iso(retry.timestamp())
        self.deliveries.retry_later(
            delivery, iso(now), minute_key(retry), stamp, answer.status, error
        )
        return "retry"

    def _dead(
        self,
        delivery: store.Delivery,
        ref: DeliveryRef,
        reason: str,
        status: int | None,
        error: str | None,
        *,
        attempted: bool,
    ) -> str:
        # The dead-letter message first: a crash before the record moves replays the attempt
        # (at worst a second message, which redrive ignores once the record is revived).
        self.queue.dead_letter(ref, reason)
        if self.deliveries.dead(
            delivery, iso(self.clock()), reason, status, error, attempted=attempted
        ):
            observability.count("WebhookDeadLettered")
            logger.warning(
                "webhook dead-lettered", extra={"webhook": ref.webhook_id, "reason": reason}
            )
        return "dead"

    def fire_retries(self, minute: str) -> int:
        """A due minute: every delivery waiting in its bucket goes back onto the queue."""
        due = self.deliveries.due(minute)
        self.queue.send([DeliveryRef(d.webhook_id, d.event_id) for d in due])
        for item in due:
            self.deliveries.drop_due(item)
        return len(due)

    @staticmethod
    def _at(epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, UTC)


def sample_body(now: float) -> str:
    """What `nurture webhooks test` sends: a clicked event that no contact made."""
    return json.dumps(
        {
            "type": "clicked",
            "id": "evt_test_" + str(int(now)),
            "time": iso(now),
            "contact": {"id": "test-contact"},
            "sequence": {"id": "test-sequence", "step": "test-step"},
            "send": {"id": "test-send", "test": True},
            "data": {"verdict": "human", "reason": "browser", "link": 0},
        },
        separators=(",", ":"),
    )

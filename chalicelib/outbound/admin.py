"""Marketer use cases for webhooks (CLI and API): push the file, list, rotate secrets, enable,
test a URL, read deliveries and redrive the dead-letter queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import store, versioning
from chalicelib.errors import (
    ConfigError,
    FileError,
    FileInvalid,
    InvalidInput,
    PushConflict,
    UnknownWebhook,
    UnsafeWebhook,
)
from chalicelib.outbound import signing
from chalicelib.outbound.addresses import Resolver, parse_target, resolve
from chalicelib.outbound.deliver import Deliverer, sample_body
from chalicelib.outbound.queues import DeliveryRef, dead_letter_refs
from chalicelib.outbound.subscriptions import FILE_ID, WebhooksFile, load_stored, parse_webhooks
from chalicelib.outbound.transport import Answer
from chalicelib.stamps import instant, iso

__all__ = ["Pushed", "Redriven", "WebhookAdmin", "WebhookView", "delivery_summary"]

STUCK_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Pushed:
    version: int
    created: bool
    new_secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookView:
    id: str
    url: str
    enabled: bool
    disabled_at: str | None
    failing_since: str | None
    last_error: str | None
    last_success_at: str | None
    secrets: int
    delivered: int
    failed: int
    dead: int


@dataclass(frozen=True)
class Redriven:
    redriven: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    minutes: list[str] = field(default_factory=list)


@dataclass
class WebhookAdmin:
    webhooks: store.Webhooks
    deliveries: store.Deliveries
    files: store.Versions
    deliverer: Deliverer
    dead_letters: Any  # the SQS client
    dead_letter_url: str
    allowed_origins: tuple[str, ...]
    resolver: Resolver
    clock: Callable[[], float] = time.time

    def validate(self, text: str, file: str) -> WebhooksFile:
        """The file's every problem at once, including URLs whose host resolves to a
        non-public address."""
        parsed = parse_webhooks(text, file=file, allowed_origins=self.allowed_origins)
        errors = []
        for i, hook in enumerate(parsed.webhooks):
            try:
                resolve(parse_target(hook.url, self.allowed_origins), self.resolver)
            except UnsafeWebhook as exc:
                errors.append(FileError(f"webhooks[{i}].url", str(exc)))
        if errors:
            raise FileInvalid(file, errors)
        return parsed

    def push(self, parsed: WebhooksFile) -> Pushed:
        """Store the file as its next version unless unchanged; new subscriptions get a
        secret (returned once here; `secret` shows it again)."""
        now = iso(self.clock())
        new_secrets = {}
        for hook in parsed.webhooks:
            secret = store.Secret(signing.new_secret(), now)
            if self.webhooks.add_secret(hook.id, secret, first=True):
                new_secrets[hook.id] = secret.value
        pushed = versioning.push(self.files, parsed, now)
        return Pushed(pushed.version, pushed.created, new_secrets)

    def current(self) -> WebhooksFile:
        if self.files.head(FILE_ID) is None:
            return WebhooksFile(webhooks=())
        return load_stored(versioning.stored(self.files, FILE_ID).body)

    def views(self, days: int = 7) -> list[WebhookView]:
        since = (datetime.fromtimestamp(self.clock(), UTC) - timedelta(days=days - 1)).date()
        views = []
        for hook in self.current().webhooks:
            health = self.webhooks.health(hook.id)
            counts = self.deliveries.counts(hook.id, since.isoformat())
            views.append(
                WebhookView(
                    hook.id,
                    hook.url,
                    hook.enabled,
                    health.disabled_at,
                    health.failing_since,
                    health.last_error,
                    health.last_success_at,
                    len(self.webhooks.secrets(hook.id)),
                    counts.delivered,
                    counts.failed,
                    counts.dead,
                )
            )
        return views

    def secrets(self, webhook_id: str) -> list[store.Secret]:
        self._known(webhook_id)
        return self.webhooks.secrets(webhook_id)

    def rotate(self, webhook_id: str) -> store.Secret:
        """A new secret that signs from now on, beside the old ones until they are retired."""
        self._known(webhook_id)
        secret = store.Secret(signing.new_secret(), iso(self.clock()))
        if not self.webhooks.add_secret(webhook_id, secret, first=False):
            self.webhooks.add_secret(webhook_id, secret, first=True)
        return secret

    def retire(self, webhook_id: str) -> int:
        """Stop signing with every secret but the newest; returns how many were retired."""
        listed = self.secrets(webhook_id)
        if len(listed) > 1 and not self.webhooks.keep_newest_secret(webhook_id, listed[0]):
            raise PushConflict(f"webhook {webhook_id!r}: rotated meanwhile, try again")
        return max(0, len(listed) - 1)

    def enable(self, webhook_id: str) -> bool:
        self._known(webhook_id)
        return self.webhooks.enable(webhook_id)

    def recent(self, webhook_id: str, limit: int) -> list[store.Delivery]:
        self._known(webhook_id)
        return self.deliveries.recent(webhook_id, limit)

    def sample_request(self, url: str, secret: str | None) -> tuple[dict[str, str], str]:
        """The signed sample event `test` would send to `url` (headers and body)."""
        try:
            parse_target(url, self.allowed_origins)
        except UnsafeWebhook as exc:
            raise InvalidInput("url", str(exc)) from None
        now = self.clock()
        body = sample_body(now)
        signing_secret = secret or signing.new_secret()
        message_id = f"evt_test_{int(now)}"
        return signing.headers(message_id, int(now), body.encode(), [signing_secret]), body

    def test(self, url: str, secret: str | None) -> tuple[dict[str, str], str, Answer]:
        """Send a sample event to `url` now; returns the request's headers, body and answer."""
        headers, body = self.sample_request(url, secret)
        return headers, body, self.deliverer.poster.post(url, headers, body.encode())

    def redrive(self, limit: int, dry_run: bool) -> Redriven:
        """Dead-lettered deliveries go back onto the queue once each; a delivery that was
        delivered (or revived by another redrive) meanwhile is left alone."""
        report = Redriven()
        seen = 0
        while seen < limit:
            messages = self._dead_letters(min(10, limit - seen))
            if not messages:
                break
            seen += len(messages)
            for message, doc in dead_letter_refs(messages):
                self._redrive_one(doc, report, dry_run)
                if dry_run:
                    self.dead_letters.change_message_visibility(
                        QueueUrl=self.dead_letter_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
                else:
                    self.dead_letters.delete_message(
                        QueueUrl=self.dead_letter_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            if dry_run:
                break
        return report

    def _dead_letters(self, count: int) -> list[dict[str, Any]]:
        try:
            answer = self.dead_letters.receive_message(
                QueueUrl=self.dead_letter_url, MaxNumberOfMessages=count, VisibilityTimeout=60
            )
        except self.dead_letters.exceptions.QueueDoesNotExist:
            raise ConfigError(
                f"no dead-letter queue at {self.dead_letter_url!r}: check NURTURE_WEBHOOK_DLQ_URL"
            ) from None
        return list(answer.get("Messages", []))

    def _redrive_one(self, doc: Any, report: Redriven, dry_run: bool) -> None:
        minute = _failed_minute(doc)
        if minute is not None:  # a retry bucket whose schedule or function failed
            report.minutes.append(minute)
            if not dry_run:
                self.deliverer.fire_retries(minute)
            return
        if not isinstance(doc, dict) or "webhook" not in doc or "event" not in doc:
            report.skipped.append("unreadable message")
            return
        ref = DeliveryRef(str(doc["webhook"]), str(doc["event"]))
        name = f"{ref.webhook_id}/{ref.event_id}"
        delivery = self.deliveries.get(ref.webhook_id, ref.event_id)
        if delivery is None or delivery.status == "delivered":
            report.skipped.append(name)
        elif dry_run:
            report.redriven.append(name)
        elif self._stuck(delivery) or self.deliveries.revive(delivery, iso(self.clock())):
            self.deliverer.queue.send([ref])
            report.redriven.append(name)
        else:
            report.skipped.append(name)

    def _stuck(self, delivery: store.Delivery) -> bool:
        """Pending long past its due time: its message died before any outcome (a poison
        message the queue's redrive policy moved), so nothing else will bring it back."""
        overdue = datetime.fromtimestamp(self.clock(), UTC) - STUCK_AFTER
        return delivery.status == "pending" and instant(delivery.next_at) < overdue

    def _known(self, webhook_id: str) -> None:
        if webhook_id not in self.current().by_id():
            raise UnknownWebhook(f"webhook: no subscription {webhook_id!r}")


def delivery_summary(delivery: store.Delivery) -> dict[str, Any]:
    """A delivery as the API and CLI show it (the body stays in the table)."""
    return {
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "redrives": delivery.redrives,
        "created_at": delivery.created_at,
        "next_at": delivery.next_at if delivery.status == "pending" else None,
        "finished_at": delivery.finished_at,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "dead_reason": delivery.dead_reason,
    }


def _failed_minute(doc: Any) -> str | None:
    """The minute of a retry bucket in a dead letter: the schedule's input as Scheduler
    dead-letters it, or wrapped in a Lambda on-failure record (`requestPayload`)."""
    if isinstance(doc, dict) and isinstance(doc.get("requestPayload"), dict):
        doc = doc["requestPayload"]
    if isinstance(doc, dict) and isinstance(doc.get("minute"), str):
        return str(doc["minute"])
    return None

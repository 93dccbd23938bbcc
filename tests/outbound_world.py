"""A world for outbound tests: moto queues and Scheduler, the local player, a real receiver
on 127.0.0.1, and every component on one injected clock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import services, store, streams
from chalicelib.outbound import (
    Deliverer,
    DeliveryQueue,
    Publisher,
    SubscriptionCache,
    Transport,
    WebhookAdmin,
)
from chalicelib.schedule import Scheduler
from chalicelib.stamps import iso
from local.player import Player
from local.receiver import Receiver

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
GROUP = "nurture-webhooks"


class Clock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta.total_seconds()


class World:
    def __init__(self, table: store.Table, *, timeout: float = 2.0) -> None:
        self.table = table
        self.clock = Clock()
        sqs = services.client("sqs")
        dlq = sqs.create_queue(QueueName="nurture-webhooks-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        policy = (
            f'{{"deadLetterTargetArn": "{arn["Attributes"]["QueueArn"]}", "maxReceiveCount": "5"}}'
        )
        queue = sqs.create_queue(
            QueueName="nurture-webhooks", Attributes={"RedrivePolicy": policy}
        )["QueueUrl"]
        self.sqs, self.queue_url, self.dlq_url = sqs, queue, dlq
        services.client("scheduler").create_schedule_group(Name=GROUP)
        self.webhooks = store.Webhooks(table)
        self.deliveries = store.Deliveries(table, sleep=lambda _: None)
        self.receiver = Receiver(self._secrets_of, clock=self.clock).start()
        self.resolved: list[str] = []
        self.transport = Transport(
            (self.receiver.origin, "http://receiver.test:" + str(self.receiver.port)),
            timeout,
            resolver=self._resolve,
        )
        self.queue = DeliveryQueue(sqs, queue, dlq)
        self.deliverer = Deliverer(
            self.deliveries,
            self.webhooks,
            SubscriptionCache(store.Versions(table, "webhooks"), ttl=0).by_id,
            self.transport,
            self.queue,
            Scheduler(
                services.client("scheduler"),
                GROUP,
                "arn:aws:lambda:us-east-1:123456789012:function:retry_webhooks",
                "arn:aws:iam::123456789012:role/nurture-webhook-scheduler",
                "arn:aws:sqs:us-east-1:123456789012:nurture-webhooks-dlq",
            ),
            timedelta(hours=72),
            self.clock,
        )
        self.publisher = Publisher(
            table,
            self.deliveries,
            SubscriptionCache(store.Versions(table, "webhooks"), ttl=0),
            self.queue,
            None,
            30,
            self.clock,
        )
        self.admin = WebhookAdmin(
            self.webhooks,
            self.deliveries,
            store.Versions(table, "webhooks"),
            self.deliverer,
            sqs,
            dlq,
            self.transport.allowed_origins,  # type: ignore[arg-type]
            self._resolve,
            self.clock,
        )
        self.crash_after_post = False
        self.player = Player(
            services.client("scheduler"),
            services.client("dynamodbstreams"),
            services.client("dynamodb"),
            table.name,
            "nurture",
            lambda event, _: None,
            lambda event, _: streams.handle(event, [self.publisher]),
            sqs,
            webhook_group=GROUP,
            on_webhook_retry=lambda event, _: self.deliverer.fire_retries(event["minute"]),
            webhook_queue_url=queue,
            on_webhook_queue=self._consume,
            visibility_seconds=0,
        )

    # --- set-up -----------------------------------------------------------------------------

    def subscribe(self, *hooks: dict[str, Any]) -> dict[str, str]:
        lines = ["webhooks:"]
        for hook in hooks:
            doc = {"url": self.receiver.url(hook["id"]), **hook}
            lines.append(f"  - id: {doc.pop('id')}")
            lines += [f"    {k}: {_yaml(v)}" for k, v in doc.items()]
        pushed = self.admin.push(self.admin.validate("\n".join(lines) + "\n", "webhooks.yaml"))
        return pushed.new_secrets

    def event(self, contact: str, kind: str = "clicked", n: int = 0, **attrs: Any) -> None:
        at = iso(self.clock() + n)
        defaults = (
            {"verdict": "human", "verdict_reason": "browser"}
            if kind in ("opened", "clicked")
            else {}
        )
        event = store.Event(
            contact, kind, at, f"{contact}-{kind}-{n}", f"send-{contact}", {**defaults, **attrs}
        )
        self.table.apply(store.event_write(event))

    # --- time -------------------------------------------------------------------------------

    def settle(self) -> None:
        """Stream, queue and due retries, as AWS would play them at this moment."""
        self.player.pump()
        self.player.deliver_webhooks()
        self.player.fire_due(datetime.fromtimestamp(self.clock(), UTC))
        self.player.deliver_webhooks()

    def run_for(self, span: timedelta, step: timedelta = timedelta(minutes=1)) -> None:
        end = self.clock() + span.total_seconds()
        self.settle()
        while self.clock() < end:
            self.clock.advance(step)
            self.settle()

    # --- what happened ----------------------------------------------------------------------

    def received_ids(self, webhook_id: str) -> Counter[str]:
        return Counter(
            r.message_id for r in self.receiver.received if r.path == f"/hooks/{webhook_id}"
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        found = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return found.get("Messages", [])

    def close(self) -> None:
        self.receiver.stop()

    def _consume(self, event: dict[str, Any], _: Any) -> dict[str, Any]:
        if self.crash_after_post:
            original = self.deliveries.delivered
            self.deliveries.delivered = _crash  # type: ignore[method-assign]
            try:
                failed = self.deliverer.handle(event["Records"])
            finally:
                self.deliveries.delivered = original  # type: ignore[method-assign]
                self.crash_after_post = False
        else:
            failed = self.deliverer.handle(event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    def _secrets_of(self, webhook_id: str) -> list[str]:
        return [s.value for s in self.webhooks.secrets(webhook_id)]

    def _resolve(self, host: str, port: int) -> list[str]:
        self.resolved.append(host)
        return {"receiver.test": ["127.0.0.1"], "127.0.0.1": ["127.0.0.1"]}.get(
            host, ["93.184.216.34"]
        )


def _crash(*args: Any, **kwargs: Any) -> bool:
    raise RuntimeError("crashed after the POST, before recording it")


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)

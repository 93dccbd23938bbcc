"""What AWS does between our functions, played locally: due schedules, the table's stream, the
park queue, the webhook delivery queue, the contact import queue and the rollup rule.

moto stores EventBridge Scheduler schedules but never fires them, and nothing polls its
DynamoDB Streams or SQS queues. The player does, feeding the same Lambda handlers AWS invokes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.redrive import lambda_record
from chalicelib.schedule import validate_at_expression
from chalicelib.store.changes import filter_patterns
from local.filters import matches_any

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class Player:
    scheduler: Any
    streams: Any
    dynamodb: Any
    table: str
    group: str
    on_schedule: Handler
    on_stream: Handler
    sqs: Any = None
    park_queue_url: str = ""
    on_park: Handler | None = None
    webhook_group: str = ""
    on_webhook_retry: Handler | None = None
    webhook_queue_url: str = ""
    on_webhook_queue: Handler | None = None
    import_queue_url: str = ""
    on_import: Handler | None = None
    on_roll_up: Handler | None = None
    roll_up_every: float = 60.0
    """Seconds between two rollup runs (an EventBridge rule runs it every minute in AWS)."""
    visibility_seconds: int = 30
    filters: tuple[dict[str, Any], ...] = tuple(filter_patterns())
    """The stream mapping's filter patterns (the deployed ones): records none matches are
    dropped, as Lambda drops them. Empty: every record is delivered."""
    checkpoints: dict[str, str] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict)
    _rolled_at: float = float("-inf")
    produced: int = 0
    """Stream records read, and `delivered` those handed to the handler (after the filters)."""
    delivered: int = 0

    def due_schedules(
        self, now: datetime, group: str | None = None
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """(instant, schedule) of every schedule of a group whose `at()` time has come."""
        found = []
        group = group or self.group
        pages = self.scheduler.get_paginator("list_schedules").paginate(GroupName=group)
        for page in pages:
            for summary in page["Schedules"]:
                detail = self.scheduler.get_schedule(Name=summary["Name"], GroupName=group)
                at = validate_at_expression(detail["ScheduleExpression"]).replace(tzinfo=UTC)
                if at <= now:
                    found.append((at, detail))
        return sorted(found, key=lambda pair: pair[0])

    def fire_due(self, now: datetime) -> int:
        """Invoke the target of each due schedule, oldest first, then delete it (as AWS does);
        webhook retries too, with the deliveries they put back on the queue."""
        fired = 0
        groups = [(self.group, self.on_schedule)]
        if self.webhook_group and self.on_webhook_retry is not None:
            groups.append((self.webhook_group, self.on_webhook_retry))
        for group, handler in groups:
            for _, detail in self.due_schedules(now, group):
                handler(json.loads(detail["Target"]["Input"]), None)
                self.scheduler.delete_schedule(Name=detail["Name"], GroupName=group)
                fired += 1
                self.pump()
                self.deliver_webhooks()
        return fired

    def deliver_webhooks(self) -> int:
        """Hand queued webhook deliveries to their consumer until the queue is empty."""
        if self.on_webhook_queue is None:
            return 0
        return self._drain(self.webhook_queue_url, self.on_webhook_queue)

    def run_imports(self) -> int:
        """Hand contact import job runs to the worker until the import queue is empty (a run
        that ran out of time queued the next one)."""
        if self.on_import is None:
            return 0
        return self._drain(self.import_queue_url, self.on_import)

    def roll_up(self, now: float) -> bool:
        """Run the funnel's rollup when a minute has passed since the last run."""
        if self.on_roll_up is None or now - self._rolled_at < self.roll_up_every:
            return False
        self._rolled_at = now
        self.on_roll_up({}, None)
        return True

    def _drain(self, queue_url: str, handler: Handler) -> int:
        """Hand a queue's messages to their consumer until it is empty; delete what it did not
        report as failed (a failed one is received again after `visibility_seconds`, as SQS
        does)."""
        handled = 0
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=self.visibility_seconds,
            ).get("Messages", [])
            if not messages:
                return handled
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                }
                for m in messages
            ]
            answer = handler({"Records": records}, None) or {}
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            handled += len(messages) - len(failed)
            if failed and (self.visibility_seconds > 0 or len(failed) == len(messages)):
                return handled  # the failed ones come back later, as SQS makes them visible

    def pump(self) -> int:
        """Deliver new stream records to the stream handler, shard by shard; return the count.

        Like Lambda's event source mapping, it checkpoints the last sequence number handed
        over (a batch that raises is handed over again) and asks for a fresh iterator after it
        each time: moto swaps in a copy of the table, stream included, when a transaction fails.
        """
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        delivered = 0
        for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            while True:
                records = self.streams.get_records(ShardIterator=self._iterator(arn, shard_id))[
                    "Records"
                ]
                if not records:
                    break
                shaped = [lambda_record(r, arn) for r in records]
                chosen = [r for r in shaped if not self.filters or matches_any(self.filters, r)]
                answer = (self.on_stream({"Records": chosen}, None) or {}) if chosen else {}
                done = self._handled(chosen, answer.get("batchItemFailures", []))
                self.produced += len(records)
                self.delivered += len(done)
                delivered += len(done)
                if len(done) == len(chosen):
                    self.checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                    continue
                failed = chosen[len(done)]["dynamodb"]["SequenceNumber"]
                position = next(
                    i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == failed
                )
                if position:
                    self.checkpoints[shard_id] = records[position - 1]["dynamodb"]["SequenceNumber"]
                break  # retried from the failed record on the next pump, as Lambda does
        return delivered

    def _handled(
        self, records: list[dict[str, Any]], failures: list[dict[str, str]]
    ) -> list[dict[str, Any]]:
        """The records before the first reported failure; a record failing three times is
        given up (Lambda would send it to the stream's dead-letter queue)."""
        if not failures:
            return records
        failed = failures[0]["itemIdentifier"]
        self._attempts[failed] = self._attempts.get(failed, 0) + 1
        position = next(
            i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == failed
        )
        return records[: position + 1] if self._attempts[failed] >= 3 else records[:position]

    def _iterator(self, arn: str, shard_id: str) -> str:
        after = self.checkpoints.get(shard_id)
        position: dict[str, str] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
            if after
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        answer = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **position)
        return str(answer["ShardIterator"])

    def replay_parked(self) -> int:
        """Deliver parked writes to their consumer; delete what it did not report as failed."""
        if self.on_park is None:
            return 0
        messages = self.sqs.receive_message(
            QueueUrl=self.park_queue_url, MaxNumberOfMessages=10
        ).get("Messages", [])
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        answer = self.on_park({"Records": records}, None) if records else {}
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.park_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages)

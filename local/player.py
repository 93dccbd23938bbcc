"""What AWS does between our functions, played locally: due schedules, the table's stream and
the park queue.

moto stores EventBridge Scheduler schedules but never fires them, and nothing polls its
DynamoDB Streams or SQS queues. The player does, feeding the same Lambda handlers AWS invokes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.localtime import validate_at_expression

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
    _iterators: dict[str, str] = field(default_factory=dict)

    def due_schedules(self, now: datetime) -> list[tuple[datetime, dict[str, Any]]]:
        """(instant, schedule) of every schedule of our group whose `at()` time has come."""
        found = []
        pages = self.scheduler.get_paginator("list_schedules").paginate(GroupName=self.group)
        for page in pages:
            for summary in page["Schedules"]:
                detail = self.scheduler.get_schedule(Name=summary["Name"], GroupName=self.group)
                at = validate_at_expression(detail["ScheduleExpression"]).replace(tzinfo=UTC)
                if at <= now:
                    found.append((at, detail))
        return sorted(found, key=lambda pair: pair[0])

    def fire_due(self, now: datetime) -> int:
        """Invoke the target of each due schedule, oldest first, then delete it (as AWS does)."""
        fired = 0
        for _, detail in self.due_schedules(now):
            self.on_schedule(json.loads(detail["Target"]["Input"]), None)
            self.scheduler.delete_schedule(Name=detail["Name"], GroupName=self.group)
            fired += 1
            self.pump()
        return fired

    def pump(self) -> int:
        """Deliver new stream records to the stream handler, shard by shard; return the count."""
        arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        delivered = 0
        for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or self.streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            while iterator:
                answer = self.streams.get_records(ShardIterator=iterator)
                records = answer["Records"]
                iterator = answer.get("NextShardIterator")
                if iterator:
                    self._iterators[shard_id] = iterator
                if not records:
                    break
                self.on_stream({"Records": [_lambda_record(r, arn) for r in records]}, None)
                delivered += len(records)
        return delivered

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


def _lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """The Streams API record in the shape Lambda's event source mapping delivers."""
    body = dict(record["dynamodb"])
    if isinstance(body.get("ApproximateCreationDateTime"), datetime):
        body["ApproximateCreationDateTime"] = body["ApproximateCreationDateTime"].timestamp()
    return {
        **{k: v for k, v in record.items() if k != "dynamodb"},
        "dynamodb": body,
        "eventSourceARN": arn,
    }

"""SQS queues: the park queue for tracking writes that failed, and dead-letter queues."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

DLQ_RETENTION = Duration.days(14)  # SQS's longest: time for a person to look and redrive
PARK_RETENTION = Duration.days(4)  # shorter than its DLQ: what it gives up is kept longer
MAX_RECEIVES = 5


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """A queue nobody consumes automatically: kept 14 days for inspection and redrive."""
    return sqs.Queue(
        scope,
        construct_id,
        retention_period=DLQ_RETENTION,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )


def consumed_queue(
    scope: Construct, prefix: str, consumer_timeout: Duration, retention: Duration
) -> tuple[sqs.Queue, sqs.Queue]:
    """A queue a Lambda consumes (`{prefix}Queue`) and its dead-letter queue (`{prefix}Dlq`),
    where a message goes after five failed receives."""
    dlq = dead_letter_queue(scope, f"{prefix}Dlq")
    queue = sqs.Queue(
        scope,
        f"{prefix}Queue",
        # AWS recommends six times the consumer timeout so retries are not double-delivered.
        visibility_timeout=Duration.seconds(consumer_timeout.to_seconds() * 6),
        retention_period=retention,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVES),
    )
    return queue, dlq


def park_queue(scope: Construct, consumer_timeout: Duration) -> tuple[sqs.Queue, sqs.Queue]:
    """Events the API could not write; its consumer replays them, poison ones go to the DLQ."""
    return consumed_queue(scope, "Park", consumer_timeout, PARK_RETENTION)

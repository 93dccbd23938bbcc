"""SQS queues: the park queue for tracking writes that failed, and dead-letter queues."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

DLQ_RETENTION = Duration.days(14)  # SQS's longest: time for a person to look and redrive
PARK_RETENTION = Duration.days(4)  # shorter than its DLQ: what it gives up is kept longer


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """A queue nobody consumes automatically: kept 14 days for inspection and redrive."""
    return sqs.Queue(
        scope,
        construct_id,
        retention_period=DLQ_RETENTION,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )


def park_queue(scope: Construct, consumer_timeout: Duration) -> tuple[sqs.Queue, sqs.Queue]:
    """Events the API could not write; its consumer replays them, poison ones go to the DLQ."""
    dlq = dead_letter_queue(scope, "ParkDlq")
    queue = sqs.Queue(
        scope,
        "ParkQueue",
        # AWS recommends six times the consumer timeout so retries are not double-delivered.
        visibility_timeout=Duration.seconds(consumer_timeout.to_seconds() * 6),
        retention_period=PARK_RETENTION,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
    )
    return queue, dlq

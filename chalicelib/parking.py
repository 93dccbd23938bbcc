"""Durable fallback for writes that fail on the recipient's hot path.

A write that fails for a reason a later attempt can overcome (throttling, an outage, a timeout,
a table or permission being repaired) goes to an SQS queue and is replayed by its consumer; the
recipient is served either way. Replays are safe because every `Write` is conditional (see
`store`). A write DynamoDB refuses as invalid (`WriteRefused`) is never parked: it could only
fail again until the dead-letter queue, so it is logged whole and raised.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import observability
from chalicelib.errors import WriteRefused
from chalicelib.store import AWS_ERRORS, Table, Write


class Parking:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def park(self, write: Write, why: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps({"write": write, "why": why})
        )


def commit(table: Table, parking: Parking, write: Write) -> bool:
    """Apply `write`, or park it when the table fails for now; `WriteRefused` if it never can.

    Returns False only when the write was found already applied. If parking fails too, the
    write is logged whole at ERROR so it can still be recovered from the logs. Each outcome is
    counted (`ParkedWrites`, `WritesLostToLogs`, `WritesRefused`): Powertools loads only then.
    """
    try:
        return table.apply(write)
    except WriteRefused as exc:
        logger = observability.logger
        logger.error("write refused", extra={"why": exc.code, "write": write})
        observability.count("WritesRefused")
        raise
    except AWS_ERRORS as exc:
        why = type(exc).__name__
    logger = observability.logger
    try:
        parking.park(write, why)
        logger.warning("write parked", extra={"why": why})
        observability.count("ParkedWrites")
    except AWS_ERRORS as exc:
        logger.error(
            "write lost to logs",
            extra={"why": why, "park_error": type(exc).__name__, "write": write},
        )
        observability.count("WritesLostToLogs")
    return True


def replay(table: Table, event: dict[str, Any]) -> dict[str, Any]:
    """Apply the parked writes of an SQS batch; Powertools' batch processor reports the
    messages to retry alone. A write DynamoDB refuses is logged whole and dropped: retrying it
    cannot succeed; a malformed message is retried until the queue dead-letters it."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def apply(record: SQSRecord) -> None:
        try:
            table.apply(json.loads(record.body)["write"])
        except WriteRefused as exc:
            observability.logger.error(
                "parked write refused", extra={"why": exc.code, "body": record.body}
            )

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=apply, processor=processor))

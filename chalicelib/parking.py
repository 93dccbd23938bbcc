"""Durable fallback for writes that fail on the recipient's hot path.

A write that fails for a reason a later attempt can overcome (throttling, an outage, a timeout,
a table or permission being repaired) goes to an SQS queue and is replayed by its consumer; the
recipient is served either way. Replays are safe because every `Write` is conditional (see
`store`). A write DynamoDB refuses as invalid (`WriteRefused`) is never parked: it could only
fail again until the dead-letter queue, so it is logged whole and raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

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
    write is logged whole at ERROR so it can still be recovered from the logs.
    """
    try:
        return table.apply(write)
    except WriteRefused as exc:
        from chalicelib.observability import logger  # Powertools loads only when something failed

        logger.error("write refused", extra={"why": exc.code, "write": write})
        raise
    except AWS_ERRORS as exc:
        why = type(exc).__name__
    from chalicelib.observability import logger

    try:
        parking.park(write, why)
        logger.warning("write parked", extra={"why": why})
    except AWS_ERRORS as exc:
        logger.error(
            "write lost to logs",
            extra={"why": why, "park_error": type(exc).__name__, "write": write},
        )
    return True


def replay(table: Table, records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Apply parked writes from SQS records; return the message ids that must be retried.

    A write DynamoDB refuses is logged whole and dropped: retrying it cannot succeed.
    """
    from chalicelib.observability import logger

    failed = []
    for record in records:
        try:
            table.apply(json.loads(record["body"])["write"])
        except WriteRefused as exc:
            logger.error("parked write refused", extra={"why": exc.code, "body": record["body"]})
        except (*AWS_ERRORS, ValueError, KeyError, TypeError):
            logger.exception("replay failed", extra={"message_id": record["messageId"]})
            failed.append(record["messageId"])
    return failed

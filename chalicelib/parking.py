"""Durable fallback for writes that fail on the recipient's hot path.

A failed `Write` goes to an SQS queue and is replayed by its consumer; the recipient is served
either way. Replays are safe because every `Write` is conditional (see `store`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.store import Table, Write

AWS_ERRORS = (BotoCoreError, ClientError)


class Parking:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def park(self, write: Write, why: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps({"write": write, "why": why})
        )


def commit(table: Table, parking: Parking, write: Write) -> bool:
    """Apply `write`, or park it when the table fails; never raises to the caller.

    Returns False only when the write was found already applied. If parking fails too, the
    write is logged whole at ERROR so it can still be recovered from the logs.
    """
    try:
        return table.apply(write)
    except AWS_ERRORS as exc:
        why = type(exc).__name__
    from chalicelib.observability import logger  # Powertools loads only when something failed

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
    """Apply parked writes from SQS records; return the message ids that must be retried."""
    from chalicelib.observability import logger

    failed = []
    for record in records:
        try:
            table.apply(json.loads(record["body"])["write"])
        except (*AWS_ERRORS, ValueError, KeyError, TypeError):
            logger.exception("replay failed", extra={"message_id": record["messageId"]})
            failed.append(record["messageId"])
    return failed

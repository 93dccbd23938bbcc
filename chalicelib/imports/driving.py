"""How the worker is driven: an SQS queue with one message per run of a job. A run that runs
out of time queues the next one before its own message is deleted; a run that crashes (or
times out) leaves its message to come back after the visibility timeout, and after the
queue's receive limit it waits in the dead-letter queue (`nurture contacts import-status ID
--resume` or `POST /api/imports/{id}/start` queues it again)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.imports.worker import Worker

__all__ = ["ImportQueue", "drive"]


class ImportQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    def send(self, job_id: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"import_id": job_id}))


def drive(
    event: dict[str, Any],
    worker: Worker,
    queue: ImportQueue,
    time_left: Callable[[], float],
) -> dict[str, Any]:
    """Run the job of each message; a failed run is reported alone (partial batch response)."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def run(record: SQSRecord) -> None:
        job_id = _job_id(record.body)
        if job_id and worker.run(job_id, time_left) == "more":
            queue.send(job_id)

    processor = BatchProcessor(event_type=EventType.SQS)
    return dict(process_partial_response(event=event, record_handler=run, processor=processor))


def _job_id(body: str) -> str:
    """The message's job id; a message that names none is dropped (nothing could run it)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    job_id = doc.get("import_id") if isinstance(doc, dict) else None
    return job_id if isinstance(job_id, str) else ""

"""Replaying dead letters: what each dead-letter queue holds and how it is safely done again.

Everything downstream is idempotent (conditional writes, claimed sends, counts guarded per
send), so a replayed message changes only what was not done yet. A message is deleted once
replayed; one that fails again stays in its queue (visible again at once) and is reported.

- park: parked writes that kept failing (`{"write": ...}`): the write is applied.
- schedule: due minutes Scheduler could not deliver (the schedule's input), or that failed
  after Lambda's retries (a destination record around it): fired again through a schedule a
  minute from now.
- ses-event: SES events EventBridge could not deliver, or that failed after Lambda's retries
  (a destination record): handed to the feedback handler.
- stream: where a batch the stream consumer gave up on lies in the stream
  (`DDBStreamBatchInfo`; records stay in the stream for 24 hours): read again and handed to
  the consumers.
- import: a run of a contact import job given up on after the import queue's receives
  (`{"import_id": ...}`): the job is queued again and the worker goes on from its checkpoint
  (rows before it are not read again; a chunk cut short is redone without a second effect);
  a job that is over already is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.errors import InvalidInput

QUEUES = ("park", "schedule", "ses-event", "stream", "import")
Replay = Callable[[Any], None]

__all__ = [
    "QUEUES",
    "Redriven",
    "import_replay",
    "lambda_record",
    "park_replay",
    "payload",
    "redrive",
    "schedule_replay",
    "ses_event_replay",
    "stream_records",
    "stream_replay",
]


@dataclass
class Redriven:
    replayed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(message id, why) of the messages left in the queue."""


def payload(body: str) -> Any:
    """The original event of a dead letter: a Lambda destination record's `requestPayload`,
    else the message body itself (what Scheduler, EventBridge and the park queue put there)."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidInput("body", "is not JSON") from None
    if isinstance(doc, dict) and "requestPayload" in doc and "requestContext" in doc:
        return doc["requestPayload"]
    return doc


def redrive(sqs: Any, queue_url: str, replay: Replay, limit: int | None = None) -> Redriven:
    """Replay up to `limit` messages of the queue (all of them when None). A message received
    a second time (it failed earlier in this run) ends the run: each has had its turn."""
    done, seen = Redriven(), set[str]()
    for batch in _batches(sqs, queue_url):
        over = False
        for message in batch:
            over = over or message["MessageId"] in seen
            over = over or (limit is not None and len(seen) >= limit)
            if over:  # given back at once, untouched
                _release(sqs, queue_url, message)
                continue
            seen.add(message["MessageId"])
            try:
                replay(payload(message["Body"]))
            except Exception as exc:  # a dead letter that fails again is reported and kept
                why = f"{type(exc).__name__}: {exc}"[:300]
                done.failed.append((message["MessageId"], why))
                _release(sqs, queue_url, message)
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            done.replayed += 1
        if over:
            break
    return done


def _release(sqs: Any, queue_url: str, message: Mapping[str, Any]) -> None:
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )


def _batches(sqs: Any, queue_url: str) -> Iterator[list[Mapping[str, Any]]]:
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
        )
        messages = answer.get("Messages", [])
        if not messages:
            return
        yield messages


def stream_records(streams: Any, info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The records a failure record points at (`DDBStreamBatchInfo`), in the shape Lambda
    delivers them; the stream keeps them for 24 hours."""
    batch = info.get("DDBStreamBatchInfo")
    if not isinstance(batch, Mapping):
        raise InvalidInput("DDBStreamBatchInfo", "is missing: not a stream failure record")
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    last, found = int(batch["endSequenceNumber"]), list[dict[str, Any]]()
    while iterator:
        answer = streams.get_records(ShardIterator=iterator)
        for record in answer["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return found
            found.append(lambda_record(record, batch["streamArn"]))
        if not answer["Records"]:
            break
        iterator = answer.get("NextShardIterator")
    return found


def lambda_record(record: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """A Streams API record in the shape Lambda's event source mapping delivers."""
    body = dict(record["dynamodb"])
    if isinstance(body.get("ApproximateCreationDateTime"), datetime):
        body["ApproximateCreationDateTime"] = body["ApproximateCreationDateTime"].timestamp()
    rest = {k: v for k, v in record.items() if k != "dynamodb"}
    return {**rest, "dynamodb": body, "eventSourceARN": arn}


# --- how each queue's dead letters are done again ---------------------------------------------


class Applier(Protocol):
    def apply(self, write: Any) -> bool: ...


class Resumer(Protocol):
    def resume(self, key: str, at: datetime) -> None: ...


class Starter(Protocol):
    def start(self, job_id: str, now: float) -> object: ...


Handler = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def park_replay(table: Applier) -> Replay:
    """A parked write: applied (conditional, so a write already applied changes nothing)."""

    def replay(doc: Any) -> None:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("write"), list):
            raise InvalidInput("write", "is missing: not a parked write")
        table.apply(doc["write"])

    return replay


def schedule_replay(scheduler: Resumer, clock: Callable[[], float]) -> Replay:
    """A due minute: fired again a minute from now by a schedule of its own, so the sender runs
    it with its own role; timers done are gone from the bucket and sends are claimed once."""

    def replay(doc: Any) -> None:
        minute = doc.get("minute") if isinstance(doc, Mapping) else None
        if not isinstance(minute, str) or not minute:
            raise InvalidInput("minute", "is missing: not a due minute")
        scheduler.resume(minute, datetime.fromtimestamp(clock(), UTC) + timedelta(minutes=1))

    return replay


def import_replay(imports: Starter, clock: Callable[[], float]) -> Replay:
    """A run of an import job: the job queued again, as `import-status --resume` does (an
    unknown job, or one never uploaded, fails the replay and stays)."""

    def replay(doc: Any) -> None:
        job_id = doc.get("import_id") if isinstance(doc, Mapping) else None
        if not isinstance(job_id, str) or not job_id:
            raise InvalidInput("import_id", "is missing: not a run of an import job")
        imports.start(job_id, clock())

    return replay


def batch_replay(handler: Handler, what: str) -> Replay:
    """An event handed to its handler again (SES events, stream records); a record it reports
    as failed fails the replay."""

    def replay(doc: Any) -> None:
        if not isinstance(doc, Mapping):
            raise InvalidInput("body", f"is not {what}")
        failed = handler(doc).get("batchItemFailures") or []
        if failed:
            raise RuntimeError(f"{len(failed)} record(s) failed again")

    return replay


def ses_event_replay(handler: Handler) -> Replay:
    return batch_replay(handler, "an SES event")


def stream_replay(streams: Any, handler: Handler) -> Replay:
    """A stream failure record: the records it points at, read from the stream again."""
    replay_records = batch_replay(handler, "stream records")

    def replay(doc: Any) -> None:
        if not isinstance(doc, Mapping):
            raise InvalidInput("body", "is not a stream failure record")
        replay_records({"Records": stream_records(streams, doc)})

    return replay

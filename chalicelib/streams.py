"""The table's DynamoDB stream: new events go to the rules, the funnel and the contact's
behaviour summary (`behaviour`), sends to the funnel, changed profiles to the summary.

Powertools' batch processor reports failed records alone (`batchItemFailures`), so one poison
record never blocks or replays the rest; redelivered records are harmless because every
transition and every count they cause is conditional.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.funnel import Funnel, event_metrics, send_metrics
from chalicelib.store import stream_kind


class EventSink(Protocol):
    def on_event(self, event: dict[str, Any]) -> dict[str, Any]: ...


class Learner(Protocol):
    """Keeps contacts' behaviour summaries (see `behaviour.Behaviour`)."""

    def on_event(self, event: Mapping[str, Any], sequence_number: str) -> object: ...

    def on_profile(
        self, new: Mapping[str, Any], old: Mapping[str, Any], sequence_number: str
    ) -> object: ...


def handle(
    event: dict[str, Any], sink: EventSink, funnel: Funnel, learner: Learner | None = None
) -> dict[str, Any]:
    def apply(record: DynamoDBRecord) -> None:
        if record.dynamodb is None or record.event_name is None:
            return
        new = dict(record.dynamodb.new_image or {})
        change, kind = record.event_name.name, stream_kind(new)
        number = str(record.dynamodb.sequence_number or "")
        if change == "INSERT" and kind == "event":
            seen = sink.on_event(new)  # the rules may reclassify it (a burst of clicks)
            funnel.count(str(seen.get("send_id", "")), event_metrics(seen))
            if learner is not None:
                learner.on_event(seen, number)  # as finally classified: never a burst
        elif kind == "profile" and learner is not None:
            learner.on_profile(new, dict(record.dynamodb.old_image or {}), number)
        elif change == "MODIFY" and kind == "send":
            metrics = send_metrics(dict(record.dynamodb.old_image or {}), new)
            funnel.count(str(new.get("send_id", "")), metrics)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return dict(process_partial_response(event=event, record_handler=apply, processor=processor))

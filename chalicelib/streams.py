"""The table's DynamoDB stream: new engagement events go to the rules, one record at a time.

Powertools' batch processor reports failed records alone (`batchItemFailures`), so one poison
record never blocks or replays the rest; redelivered records are harmless because every
transition they cause is conditional.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


class EventSink(Protocol):
    def on_event(self, event: dict[str, Any]) -> None: ...


def engagement(record: DynamoDBRecord) -> dict[str, Any] | None:
    """The event a record inserted, if it inserted one (`EV#...` items under a contact)."""
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return None
    image = record.dynamodb.new_image or {}
    if not str(image.get("SK", "")).startswith("EV#"):
        return None
    return dict(image)


def handle(event: dict[str, Any], sink: EventSink) -> dict[str, Any]:
    def apply(record: DynamoDBRecord) -> None:
        found = engagement(record)
        if found is not None:
            sink.on_event(found)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return dict(process_partial_response(event=event, record_handler=apply, processor=processor))

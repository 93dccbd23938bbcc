"""The table's DynamoDB stream, handed to an ordered list of consumers.

Each consumer receives the change (as `store.Change`) and returns it, possibly amended, to
the next: the rules come first because they may reclassify an event (a burst of clicks is a
scanner's), and what follows (the funnel, the contact's behaviour summary, outbound) sees the
event as finally classified. Add a consumer in `services.stream_consumers`.

Powertools' batch processor reports failed records alone (`batchItemFailures`), so one poison
record never blocks or replays the rest; redelivered records are harmless because every
transition, count and delivery record they cause is conditional.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib import observability
from chalicelib.funnel import Funnel, send_metrics
from chalicelib.store import Change, readable

Consumer = Callable[[Change], Change]


class EventSink(Protocol):
    def on_event(self, event: dict[str, Any]) -> dict[str, Any]: ...


class Learner(Protocol):
    """Keeps contacts' behaviour summaries (see `behaviour.Behaviour`)."""

    def on_event(self, event: Mapping[str, Any], sequence_number: str) -> object: ...

    def on_profile(
        self, new: Mapping[str, Any], old: Mapping[str, Any], sequence_number: str
    ) -> object: ...

    def on_addressed(self, event: Mapping[str, Any]) -> object: ...


class Starter(Protocol):
    """Starts and ends sequences on timeline events (see `triggers.Triggers`)."""

    def on_event(self, event: Mapping[str, Any]) -> object: ...


def handle(event: dict[str, Any], consumers: Sequence[Consumer]) -> dict[str, Any]:
    def apply(record: DynamoDBRecord) -> None:
        if record.dynamodb is None or record.event_name is None:
            return
        change = Change(
            record.event_name.name,
            readable(dict(record.dynamodb.new_image or {})),
            readable(dict(record.dynamodb.old_image or {})),
            str(record.dynamodb.sequence_number or ""),
        )
        for consumer in consumers:
            change = consumer(change)

    # A batch whose every record failed is answered like any other (all of them listed), not
    # raised: Lambda retries the same records either way, and the answer stays one shape.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    return dict(process_partial_response(event=event, record_handler=apply, processor=processor))


def engagement(sink: EventSink, funnel: Funnel) -> Consumer:
    """New events go to the rules and the funnel; sends that went out and new enrollments
    (holdout groups) to the funnel."""

    def consume(change: Change) -> Change:
        if change.kind == "event" and change.action == "INSERT":
            seen = sink.on_event(dict(change.new))  # the rules may reclassify it
            funnel.event(seen)
            return replace(change, new=seen)
        if change.kind == "send" and change.action == "MODIFY":
            funnel.count(str(change.new.get("send_id", "")), send_metrics(change.old, change.new))
        if change.kind == "enrollment" and change.action == "INSERT":
            funnel.enrolled(change.new)
        return change

    return consume


def behaviour(learner: Learner) -> Consumer:
    """Events (as finally classified: never a burst), product events named by address and
    profile changes keep the contact's behaviour summary."""

    def consume(change: Change) -> Change:
        if change.kind == "event" and change.action == "INSERT":
            learner.on_event(change.new, change.sequence)
        elif change.kind == "addressed_event" and change.action == "INSERT":
            learner.on_addressed(change.new)
        elif change.kind == "profile":
            learner.on_profile(change.new, change.old, change.sequence)
        return change

    return consume


def triggers(starter: Starter) -> Consumer:
    """New events (as finally classified) start and end the sequences that name them."""

    def consume(change: Change) -> Change:
        if change.kind == "event" and change.action == "INSERT":
            starter.on_event(change.new)
        return change

    return consume


def counted(change: Change) -> Change:
    """Operators' metrics of what the stream saw (EMF, flushed once by the handler): opens and
    clicks by verdict (`OpenedHuman`, `ClickedScanner`...), sends that went out, skipped (also
    by reason) or were left uncertain."""
    if change.kind == "event" and change.action == "INSERT":
        kind, verdict = str(change.new.get("type", "")), change.new.get("verdict")
        if kind in ("opened", "clicked") and verdict:
            observability.counts({f"{kind.title()}{str(verdict).title()}": 1})
    elif change.kind == "send" and change.action == "MODIFY":
        metrics = send_metrics(change.old, change.new)
        observability.counts({m.title(): 1 for m in metrics if ":" not in m})  # no reasons
        if "skipped" in metrics:
            observability.count("SkippedByReason", reason=str(change.new.get("reason") or "?"))
    return change

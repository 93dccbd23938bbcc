"""The AWS edges of outbound: the EventBridge bus, the delivery queue and its dead-letter queue.

Queue messages carry only which delivery to attempt (`{"webhook": id, "event": id}`); the
body sent and the attempt count live in the delivery record, so a duplicated message finds
the record already moved on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.outbound.events import OutboundEvent

__all__ = ["Bus", "DeliveryQueue", "DeliveryRef", "dead_letter_refs"]

SOURCE = "nurture"


@dataclass(frozen=True)
class DeliveryRef:
    webhook_id: str
    event_id: str

    def message(self, **extra: str) -> str:
        return json.dumps({"webhook": self.webhook_id, "event": self.event_id, **extra})

    @classmethod
    def parse(cls, body: str) -> DeliveryRef:
        doc = json.loads(body)
        return cls(str(doc["webhook"]), str(doc["event"]))


class Bus:
    """Events onto the EventBridge bus (source `nurture`, detail-type = the event type)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def put(self, event: OutboundEvent) -> None:
        answer = self.client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": event.type,
                    "Detail": event.body(),
                    "EventBusName": self.name,
                    "Time": datetime.fromisoformat(event.time) if event.time else datetime.now(UTC),
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            raise RuntimeError(f"EventBridge refused {event.id}: {failed.get('ErrorCode')}")


class DeliveryQueue:
    def __init__(self, client: Any, url: str, dead_letter_url: str) -> None:
        self.client = client
        self.url = url
        self.dead_letter_url = dead_letter_url

    def send(self, refs: Sequence[DeliveryRef]) -> None:
        """Enqueue deliveries to attempt, ten a request; raises if any is refused."""
        for start in range(0, len(refs), 10):
            chunk = refs[start : start + 10]
            answer = self.client.send_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(n), "MessageBody": r.message()} for n, r in enumerate(chunk)],
            )
            if answer.get("Failed"):
                raise RuntimeError(f"queue refused {len(answer['Failed'])} deliveries")

    def dead_letter(self, ref: DeliveryRef, reason: str) -> None:
        self.client.send_message(
            QueueUrl=self.dead_letter_url, MessageBody=ref.message(reason=reason)
        )


def dead_letter_refs(messages: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Any]]:
    """(message, parsed body) of dead-letter messages; unparseable bodies come back as None."""
    for message in messages:
        try:
            yield message, json.loads(message["Body"])
        except ValueError:
            yield message, None

"""The table changes the stream's consumers act on: one list, `STREAM`, that names each kind of
item by its key shape and says which of its changes matter.

`stream_kind` classifies a record's item from it; `filter_patterns` turns it into the filter
criteria of the stream's event source mapping, so Lambda is invoked only for these records (not
for timers, guards, counters, versions, deliveries or outcomes of a settled send), and the
local player drops the rest as AWS does. A consumer that needs another kind of change adds it
here (tests/test_stream_filters.py proves a record the filters drop changes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["STREAM", "Change", "Shape", "StreamKind", "filter_patterns", "stream_kind"]

StreamKind = Literal["event", "addressed_event", "send", "profile", "enrollment"]
Action = Literal["INSERT", "MODIFY", "REMOVE"]


@dataclass(frozen=True)
class Shape:
    """Items whose PK starts with `pk` and whose SK is `sk` (or starts with it, `sk_prefix`);
    the `actions` that matter, and what their images must hold (a Lambda filter fragment)."""

    pk: str
    sk: str
    sk_prefix: bool
    actions: tuple[Action, ...]
    images: Mapping[str, Any] = field(default_factory=dict)

    def holds(self, pk: str, sk: str) -> bool:
        return pk.startswith(self.pk) and (
            sk.startswith(self.sk) if self.sk_prefix else sk == self.sk
        )

    def pattern(self) -> dict[str, Any]:
        sk: Any = {"prefix": self.sk} if self.sk_prefix else self.sk
        keys = {"PK": {"S": [{"prefix": self.pk}]}, "SK": {"S": [sk]}}
        return {"eventName": list(self.actions), "dynamodb": {"Keys": keys, **self.images}}


def _status(*statuses: str) -> dict[str, Any]:
    return {"status": {"S": list(statuses)}}


STREAM: dict[StreamKind, Shape] = {
    # Engagement and lifecycle events on a contact's timeline: rules, funnel, behaviour,
    # triggers, outbound. Only ever inserted.
    "event": Shape("C#", "EV#", True, ("INSERT",)),
    # A product event named by email, not yet on a contact's timeline: behaviour.
    "addressed_event": Shape("M#", "EV#", True, ("INSERT",)),
    # A send leaving its claim (or an uncertain one proved sent): funnel, outbound `sent`.
    # Later updates of a settled send (SES outcomes, erasure) start from a settled status.
    "send": Shape(
        "S#",
        "META",
        False,
        ("MODIFY",),
        {
            "OldImage": _status("claimed", "uncertain"),
            "NewImage": _status("sent", "skipped", "uncertain"),
        },
    ),
    # A contact's profile created or changed (imports, API, stages): behaviour re-evaluates it.
    "profile": Shape("C#", "PROFILE", False, ("INSERT", "MODIFY")),
    # Enrollments started, moved or ended: outbound (enrolled, exited, completed ...).
    "enrollment": Shape("C#", "E#", True, ("INSERT", "MODIFY")),
}


def stream_kind(image: Mapping[str, Any]) -> StreamKind | None:
    """What a stream record's item is (see `STREAM`), or None."""
    pk, sk = str(image.get("PK", "")), str(image.get("SK", ""))
    return next((kind for kind, shape in STREAM.items() if shape.holds(pk, sk)), None)


def filter_patterns() -> list[dict[str, Any]]:
    """The event source mapping's filter criteria: one Lambda filter pattern per kind."""
    return [shape.pattern() for shape in STREAM.values()]


@dataclass(frozen=True)
class Change:
    """One stream record as plain values: `INSERT`, `MODIFY` or `REMOVE`, both images, and the
    record's sequence number (what a consumer keys its own idempotence on)."""

    action: str
    new: Mapping[str, Any] = field(default_factory=dict)
    old: Mapping[str, Any] = field(default_factory=dict)
    sequence: str = ""

    @property
    def kind(self) -> StreamKind | None:
        return stream_kind(self.new or self.old)

"""Scores on profiles: the conditional write of a score (with the events and timers it causes),
profiles page by page for a rescore, and the rescore's checkpoint.

The score is the profile's `score` map. A write outside the stream (a decay deadline, a
rescore) is conditional on the score it read (`score.at`): if anything wrote the contact's
score in between, it computed the newer score itself and this write is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from chalicelib.store.items import Event, Write, _key, _plain, _put_event, _value
from chalicelib.store.table import Table

__all__ = ["SCORE", "RescoreCheckpoint", "Rescores", "profile_pages", "score_write"]

SCORE = "score"
_serializer = TypeSerializer()


def score_write(
    contact_id: str,
    score: Mapping[str, Any],
    read_at: str | None,
    events: Sequence[Event] = (),
    operations: Sequence[dict[str, Any]] = (),
) -> Write:
    """Set the contact's score unless it changed since it was read at `read_at` (None: there
    was none), with the lifecycle `events` and timer `operations` it causes."""
    values: dict[str, Any] = {":score": _serializer.serialize(dict(score))}
    if read_at is None:
        condition = "attribute_exists(PK) AND attribute_not_exists(#score)"
    else:
        condition = "attribute_exists(PK) AND #score.#at = :read"
        values[":read"] = _value(read_at)
    update = {
        "Key": _key(f"C#{contact_id}", "PROFILE"),
        "UpdateExpression": "SET #score = :score",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#score": SCORE, **({"#at": "at"} if read_at else {})},
        "ExpressionAttributeValues": values,
    }
    return [{"Update": update}, *(_put_event(event) for event in events), *operations]


def profile_pages(
    table: Table, start: Mapping[str, Any] | None, page_size: int
) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """Contact profiles a page at a time from `start` (a key a previous page ended at), each
    page with the key to resume after it (None after the last)."""
    after: dict[str, Any] | None = dict(start) if start else None
    while True:
        request: dict[str, Any] = {
            "TableName": table.name,
            "FilterExpression": "SK = :profile",
            "ExpressionAttributeValues": {":profile": _value("PROFILE")},
            "Limit": page_size,
        }
        if after:
            request["ExclusiveStartKey"] = after
        page = table.client.scan(**request)
        after = page.get("LastEvaluatedKey")
        yield [_plain(item) for item in page["Items"]], after
        if not after:
            return


@dataclass(frozen=True)
class RescoreCheckpoint:
    """How far the rescore of one scoring version got: where to resume and what it did."""

    version: int
    resume: dict[str, Any] | None
    scored: int = 0
    unchanged: int = 0
    finished: bool = False


class Rescores:
    """Checkpoints of rescores, one per scoring version."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, version: int) -> RescoreCheckpoint | None:
        found = self._table.client.get_item(
            TableName=self._table.name, Key=self._key(version), ConsistentRead=True
        )
        if "Item" not in found:
            return None
        item = _plain(found["Item"])
        resume = item.get("resume")
        return RescoreCheckpoint(
            version,
            json.loads(resume) if resume else None,
            int(item.get("scored", 0)),
            int(item.get("unchanged", 0)),
            bool(item.get("finished", False)),
        )

    def put(self, checkpoint: RescoreCheckpoint) -> None:
        item = {
            **self._key(checkpoint.version),
            "resume": _value(json.dumps(checkpoint.resume) if checkpoint.resume else None),
            "scored": _value(checkpoint.scored),
            "unchanged": _value(checkpoint.unchanged),
            "finished": _value(checkpoint.finished),
        }
        self._table.client.put_item(TableName=self._table.name, Item=item)

    @staticmethod
    def _key(version: int) -> dict[str, Any]:
        return _key("K#scoring", f"RESCORE#{version:06d}")

"""One pass over the table pairing each contact's profile with its enrollment in a sequence
(for reports broken down by stage or segment). A scan returns a partition's items together,
sorted by sort key, so a contact's enrollment (`E#...`) arrives just before its `PROFILE`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.store.items import _plain, _value
from chalicelib.store.table import Table

__all__ = ["enrolled_profiles"]


def enrolled_profiles(
    table: Table, sequence_id: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(profile, enrollment) of every contact enrolled in `sequence_id` (any run, any state)."""
    pages = table.client.get_paginator("scan").paginate(
        TableName=table.name,
        FilterExpression="SK = :profile OR SK = :enrollment",
        ExpressionAttributeValues={
            ":profile": _value("PROFILE"),
            ":enrollment": _value(f"E#{sequence_id}"),
        },
    )
    waiting: dict[str, dict[str, Any]] = {}
    for page in pages:
        for raw in page["Items"]:
            item = _plain(raw)
            pk = str(item["PK"])
            if item["SK"] != "PROFILE":
                waiting = {pk: item}  # only the current partition's enrollment is kept
            elif pk in waiting:
                yield item, waiting.pop(pk)

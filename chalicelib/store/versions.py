"""Sequence versions: immutable and numbered; HEAD names the newest."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.store.items import _key, _plain, _value
from chalicelib.store.table import Table


@dataclass(frozen=True)
class SequenceVersion:
    sequence_id: str
    version: int
    content_hash: str
    name: str
    pushed_at: str
    body: str = ""


class Versions:
    """Sequence versions. Versions are never changed; a push adds one unless nothing changed."""

    def __init__(self, table: Table) -> None:
        self.client = table.client
        self._table = table

    def head(self, sequence_id: str) -> SequenceVersion | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=_key(f"Q#{sequence_id}", "HEAD"), ConsistentRead=True
        )
        return _version(_plain(found["Item"]), with_body=False) if "Item" in found else None

    def get(self, sequence_id: str, version: int) -> SequenceVersion | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=_key(f"Q#{sequence_id}", f"V#{version:06d}")
        )
        return _version(_plain(found["Item"]), with_body=True) if "Item" in found else None

    def add(self, new: SequenceVersion) -> bool:
        """Store `new` as the next version; False when another push took that number first."""
        body = zlib.compress(new.body.encode("utf-8"), 6)
        item = {
            **_key(f"Q#{new.sequence_id}", f"V#{new.version:06d}"),
            **_version_attrs(new),
            "body": {"B": body},
        }
        head = {
            **_key(f"Q#{new.sequence_id}", "HEAD"),
            **_version_attrs(new),
            "GSI1PK": _value("SEQUENCES"),
            "GSI1SK": _value(new.sequence_id),
        }
        head_condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(PK)"}
            if new.version == 1
            else {
                "ConditionExpression": "version = :previous",
                "ExpressionAttributeValues": {":previous": _value(new.version - 1)},
            }
        )
        return self._table.apply(
            [
                {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Put": {"Item": head, **head_condition}},
            ]
        )

    def heads(self) -> list[SequenceVersion]:
        """The newest version of every sequence, by id."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :all",
            ExpressionAttributeValues={":all": _value("SEQUENCES")},
        )
        return [_version(_plain(i), with_body=False) for page in pages for i in page["Items"]]


def _version_attrs(version: SequenceVersion) -> dict[str, Any]:
    return {
        "sequence_id": _value(version.sequence_id),
        "version": _value(version.version),
        "content_hash": _value(version.content_hash),
        "name": _value(version.name),
        "pushed_at": _value(version.pushed_at),
    }


def _version(item: Mapping[str, Any], with_body: bool) -> SequenceVersion:
    body = zlib.decompress(bytes(item["body"])).decode("utf-8") if with_body else ""
    return SequenceVersion(
        item["sequence_id"],
        int(item["version"]),
        item["content_hash"],
        item["name"],
        item["pushed_at"],
        body,
    )

"""Versions of marketers' model files (sequences, segments, stages, scoring, webhooks):
immutable and numbered; HEAD names the newest. Each kind has its own key prefix and its own
listing on GSI1."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.store.items import _key, _plain, _value
from chalicelib.store.table import Table

ModelKind = Literal["sequence", "segment", "stages", "scoring", "webhooks"]
_KINDS: dict[ModelKind, tuple[str, str]] = {
    "sequence": ("Q", "SEQUENCES"),
    "segment": ("G", "SEGMENTS"),
    "stages": ("L", "STAGES"),
    "scoring": ("K", "SCORING"),
    "webhooks": ("WF", "WEBHOOK_FILES"),
}


@dataclass(frozen=True)
class ModelVersion:
    model_id: str
    version: int
    content_hash: str
    name: str
    pushed_at: str
    body: str = ""


class Versions:
    """Versions of one kind of model. Versions are never changed; a push adds one unless
    nothing changed."""

    def __init__(self, table: Table, kind: ModelKind = "sequence") -> None:
        self.client = table.client
        self.kind: ModelKind = kind
        self._table = table
        self._prefix, self._listing = _KINDS[kind]

    def head(self, model_id: str) -> ModelVersion | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=self._key(model_id, "HEAD"), ConsistentRead=True
        )
        return _version(_plain(found["Item"]), with_body=False) if "Item" in found else None

    def get(self, model_id: str, version: int) -> ModelVersion | None:
        found = self.client.get_item(
            TableName=self._table.name, Key=self._key(model_id, f"V#{version:06d}")
        )
        return _version(_plain(found["Item"]), with_body=True) if "Item" in found else None

    def add(self, new: ModelVersion) -> bool:
        """Store `new` as the next version; False when another push took that number first."""
        body = zlib.compress(new.body.encode("utf-8"), 6)
        item = {
            **self._key(new.model_id, f"V#{new.version:06d}"),
            **_version_attrs(new),
            "body": {"B": body},
        }
        head = {
            **self._key(new.model_id, "HEAD"),
            **_version_attrs(new),
            "GSI1PK": _value(self._listing),
            "GSI1SK": _value(new.model_id),
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

    def heads(self) -> list[ModelVersion]:
        """The newest version of every model of this kind, by id."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :all",
            ExpressionAttributeValues={":all": _value(self._listing)},
        )
        return [_version(_plain(i), with_body=False) for page in pages for i in page["Items"]]

    def history(self, model_id: str) -> list[ModelVersion]:
        """Every version of one model, oldest first, without their bodies."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table.name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :v)",
            ExpressionAttributeValues={
                ":pk": self._key(model_id, "")["PK"],
                ":v": _value("V#"),
            },
            ProjectionExpression="model_id, version, content_hash, #name, pushed_at",
            ExpressionAttributeNames={"#name": "name"},
        )
        return [_version(_plain(i), with_body=False) for page in pages for i in page["Items"]]

    def _key(self, model_id: str, sk: str) -> dict[str, Any]:
        return _key(f"{self._prefix}#{model_id}", sk)


def _version_attrs(version: ModelVersion) -> dict[str, Any]:
    return {
        "model_id": _value(version.model_id),
        "version": _value(version.version),
        "content_hash": _value(version.content_hash),
        "name": _value(version.name),
        "pushed_at": _value(version.pushed_at),
    }


def _version(item: Mapping[str, Any], with_body: bool) -> ModelVersion:
    body = zlib.decompress(bytes(item["body"])).decode("utf-8") if with_body else ""
    return ModelVersion(
        item["model_id"],
        int(item["version"]),
        item["content_hash"],
        item["name"],
        item["pushed_at"],
        body,
    )

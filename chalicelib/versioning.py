"""Marketers' models pushed as immutable, numbered versions (sequences, segments, stages).

Pushing an unchanged file returns the existing version, so re-running a deploy script never
creates noise versions. What uses a model pins the version it started with and loads it by
number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chalicelib.errors import PushConflict, UnknownModel
from chalicelib.store import ModelVersion, Versions

__all__ = ["Pushed", "Versioned", "push", "stored"]

PUSH_ATTEMPTS = 5


class Versioned(Protocol):
    """What a model file offers to be versioned: its id and name, canonical JSON, its hash."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    def to_json(self) -> str: ...

    def content_hash(self) -> str: ...


@dataclass(frozen=True)
class Pushed:
    model_id: str
    version: int
    created: bool


def push(versions: Versions, model: Versioned, at: str) -> Pushed:
    """Store `model` as its next version unless the newest version has the same content."""
    digest = model.content_hash()
    for _ in range(PUSH_ATTEMPTS):
        head = versions.head(model.id)
        if head is not None and head.content_hash == digest:
            return Pushed(model.id, head.version, created=False)
        number = head.version + 1 if head is not None else 1
        if versions.add(ModelVersion(model.id, number, digest, model.name, at, model.to_json())):
            return Pushed(model.id, number, created=True)
    raise PushConflict(f"{versions.kind} {model.id!r}: too many concurrent pushes, try again")


def stored(versions: Versions, model_id: str, version: int | None = None) -> ModelVersion:
    """A pinned version (or, without `version`, the newest) with its body."""
    kind = versions.kind
    if version is None:
        head = versions.head(model_id)
        if head is None:
            raise UnknownModel(f"{kind}_id: no {kind} {model_id!r}")
        version = head.version
    found = versions.get(model_id, version)
    if found is None:
        raise UnknownModel(f"{kind} {model_id!r} has no version {version}")
    return found

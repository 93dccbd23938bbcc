"""Sequence versions as marketers push them: validated, numbered, immutable.

Pushing an unchanged file returns the existing version, so re-running a deploy script never
creates noise versions. Enrollments pin the version they started on and load it by number.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import NurtureError
from chalicelib.sequences import Sequence
from chalicelib.store import SequenceVersion, Versions

PUSH_ATTEMPTS = 5


class UnknownSequence(NurtureError):
    status = 404


class PushConflict(NurtureError):
    status = 409


@dataclass(frozen=True)
class Pushed:
    sequence_id: str
    version: int
    created: bool


def push(versions: Versions, sequence: Sequence, at: str) -> Pushed:
    """Store `sequence` as its next version unless the newest version has the same content."""
    digest = sequence.content_hash()
    for _ in range(PUSH_ATTEMPTS):
        head = versions.head(sequence.id)
        if head is not None and head.content_hash == digest:
            return Pushed(sequence.id, head.version, created=False)
        number = head.version + 1 if head is not None else 1
        candidate = SequenceVersion(
            sequence.id, number, digest, sequence.name, at, sequence.to_json()
        )
        if versions.add(candidate):
            return Pushed(sequence.id, number, created=True)
    raise PushConflict(f"sequence {sequence.id!r}: too many concurrent pushes, try again")


def load(versions: Versions, sequence_id: str, version: int | None = None) -> Sequence:
    """The pinned (or, without `version`, the newest) version of a sequence."""
    if version is None:
        head = versions.head(sequence_id)
        if head is None:
            raise UnknownSequence(f"sequence {sequence_id!r} does not exist")
        version = head.version
    stored = versions.get(sequence_id, version)
    if stored is None:
        raise UnknownSequence(f"sequence {sequence_id!r} has no version {version}")
    return Sequence.from_json(stored.body, file=f"{sequence_id}@v{version}")

"""Sequence versions as marketers push them: validated, numbered, immutable.

Pushing an unchanged file returns the existing version, so re-running a deploy script never
creates noise versions. Enrollments pin the version they started on and load it by number.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import render
from chalicelib.errors import FileError, FileInvalid, PushConflict, UnknownSequence
from chalicelib.sandbox import Part
from chalicelib.sequences import Sequence, parse_sequence
from chalicelib.store import SequenceVersion, Versions

PUSH_ATTEMPTS = 5


@dataclass(frozen=True)
class Pushed:
    sequence_id: str
    version: int
    created: bool


def validate(text: str, file: str) -> Sequence:
    """Parse an uploaded sequence and trial-render its templates; every problem at once."""
    sequence = parse_sequence(text, file=file)
    check_templates(sequence, file)
    return sequence


def check_templates(sequence: Sequence, file: str) -> None:
    """Trial-render every template in the sandbox; raise `FileInvalid` listing every failure."""
    errors = []
    for i, step in enumerate(sequence.steps):
        sets = [(f"steps[{i}].template", step.template)] if step.template else []
        sets += [
            (f"steps[{i}].variants[{j}].template", v.template)
            for j, v in enumerate(step.variants or ())
        ]
        for path, templates in sets:
            for locale, spec in (templates or {}).items():
                parts: tuple[tuple[Part, str | None], ...] = (
                    ("subject", spec.subject),
                    ("html", spec.html),
                    ("text", spec.text),
                )
                for part, source in parts:
                    if source is None:
                        continue
                    try:
                        render.validate_template(
                            source,
                            part,
                            sequence={"id": sequence.id, "name": sequence.name},
                            step={"id": step.id, "variant": ""},
                        )
                    except render.BadTemplate as exc:
                        # Template lines are not file lines: say which, in the message.
                        where = f"template line {exc.line}: " if exc.line else ""
                        path_ = f"{path}.{locale}.{part}"
                        errors.append(FileError(path_, where + exc.problem))
    if errors:
        raise FileInvalid(file, errors)


def push(versions: Versions, sequence: Sequence, at: str) -> Pushed:
    """Store `sequence` as its next version unless the newest version has the same content."""
    check_templates(sequence, sequence.id)
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


def newest(versions: Versions, sequence_id: str) -> tuple[Sequence, int]:
    """The newest version of a sequence and its number (what a new enrollment pins)."""
    head = versions.head(sequence_id)
    if head is None:
        raise UnknownSequence(f"sequence_id: no sequence {sequence_id!r}")
    return load(versions, sequence_id, head.version), head.version


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

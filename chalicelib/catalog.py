"""Sequence versions as marketers push them: validated, trial-rendered, then versioned
(`versioning`): numbered and immutable. Enrollments pin the version they started on."""

from __future__ import annotations

from chalicelib import render, versioning
from chalicelib.errors import FileError, FileInvalid
from chalicelib.sandbox import Part
from chalicelib.sequences import Sequence, parse_sequence
from chalicelib.store import ModelVersion, Versions
from chalicelib.versioning import Pushed

__all__ = ["Pushed", "check_templates", "load", "newest", "push", "validate"]


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
    return versioning.push(versions, sequence, at)


def newest(versions: Versions, sequence_id: str) -> tuple[Sequence, int]:
    """The newest version of a sequence and its number (what a new enrollment pins)."""
    found = versioning.stored(versions, sequence_id)
    return _sequence(found), found.version


def load(versions: Versions, sequence_id: str, version: int | None = None) -> Sequence:
    """The pinned (or, without `version`, the newest) version of a sequence."""
    return _sequence(versioning.stored(versions, sequence_id, version))


def _sequence(found: ModelVersion) -> Sequence:
    return Sequence.from_json(found.body, file=f"{found.model_id}@v{found.version}")

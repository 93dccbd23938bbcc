"""Sequence versions as marketers push them: validated, trial-rendered, then versioned
(`versioning`): numbered and immutable. Enrollments pin the version they started on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib import render, versioning
from chalicelib.config import settings
from chalicelib.errors import BadTemplate, FileError, FileInvalid
from chalicelib.sandbox import Part
from chalicelib.sequences import Sequence, load_sequence, parse_sequence, template_sites
from chalicelib.store import ModelVersion, Versions
from chalicelib.versioning import Pushed

if TYPE_CHECKING:
    from chalicelib.audience import Catalogue

__all__ = [
    "Pushed",
    "check_names",
    "check_templates",
    "load",
    "newest",
    "push",
    "template_errors",
    "validate",
    "validate_file",
]

PARTS: tuple[Part, ...] = ("subject", "html", "text")


def validate(text: str, file: str) -> Sequence:
    """Parse an uploaded sequence and trial-render its templates; every problem at once."""
    sequence = parse_sequence(text, file=file, check=template_errors)
    check_names(sequence, file)
    return sequence


def validate_file(path: Path) -> Sequence:
    """Load a sequence file (template files inlined) and trial-render its templates; every
    problem at once, schema and templates together."""
    sequence = load_sequence(path, check=template_errors)
    check_names(sequence, str(path))
    return sequence


def check_names(sequence: Sequence, file: str, catalogue: Catalogue | None = None) -> None:
    """The topics a sequence names are configured (`NURTURE_TOPICS`); given the catalogue (at
    push), the segments and stages it names are pushed."""
    errors = [FileError(path, problem) for path, problem in _unknown_names(sequence, catalogue)]
    if errors:
        raise FileInvalid(file, errors)


def _unknown_names(sequence: Sequence, catalogue: Catalogue | None) -> Iterator[tuple[str, str]]:
    topics = settings().topics
    named = [("topic", sequence.topic)] + [
        (f"steps[{i}].topic", step.topic) for i, step in enumerate(sequence.steps)
    ]
    for path, topic in named:
        if topic is not None and topic not in topics:
            yield path, f"unknown topic {topic!r} (NURTURE_TOPICS: {', '.join(topics)})"
    if catalogue is None:
        return
    segments = [("entry.segment_entered", sequence.entry.segment_entered)]
    for i, step in enumerate(sequence.steps):
        if step.only_if is not None:
            segments.append((f"steps[{i}].only_if.segment", step.only_if.segment))
        if step.branches.segment is not None:
            segments.append((f"steps[{i}].branches.segment.in", step.branches.segment.in_))
    for path, segment in segments:
        if segment is not None and segment not in catalogue.segments:
            yield path, f"unknown segment {segment!r}; push it first"
    stage = sequence.entry.stage_entered
    if stage is not None and stage not in catalogue.stage_names:
        listed = ", ".join(catalogue.stage_names) or "none are pushed"
        yield "entry.stage_entered", f"unknown stage {stage!r} (stages: {listed})"


def check_templates(sequence: Sequence, file: str) -> None:
    """Trial-render every template in the sandbox; raise `FileInvalid` listing every failure."""
    errors = template_errors(sequence.model_dump(mode="json"), uploaded=False)
    if errors:
        raise FileInvalid(file, errors)


def template_errors(data: Any, *, uploaded: bool = True) -> list[FileError]:
    """Trial-render every template of a sequence's raw data, whatever else is wrong with it.

    An uploaded marketing sequence (any but `transactional: true`) must offer a visible
    unsubscribe link in every HTML template and the unsubscribe URL in every hand-written
    text part; the re-check before storing (`uploaded=False`) checks safety only.
    """
    if not isinstance(data, dict):
        return []
    marketing = uploaded and data.get("transactional") is not True
    sequence = {"id": _text(data.get("id")), "name": _text(data.get("name"))}
    errors = []
    for site in template_sites(data):
        for part in PARTS:
            source = site.spec.get(part)
            if not isinstance(source, str):
                continue
            try:
                render.validate_template(
                    source,
                    part,
                    sequence=sequence,
                    step={"id": site.step_id, "variant": site.variant_id},
                    marketing=marketing,
                )
            except BadTemplate as exc:
                # Template lines are not file lines: say which, in the message.
                where = f"template line {exc.line}: " if exc.line else ""
                errors.append(FileError(f"{site.path}.{part}", where + exc.problem))
    return errors


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def push(
    versions: Versions, sequence: Sequence, at: str, catalogue: Catalogue | None = None
) -> Pushed:
    """Store `sequence` as its next version unless the newest version has the same content;
    given the catalogue, the segments and stages it names must be pushed."""
    check_templates(sequence, sequence.id)
    check_names(sequence, sequence.id, catalogue)
    return versioning.push(versions, sequence, at)


def newest(versions: Versions, sequence_id: str) -> tuple[Sequence, int]:
    """The newest version of a sequence and its number (what a new enrollment pins)."""
    sequence, found = newest_stored(versions, sequence_id)
    return sequence, found.version


def newest_stored(versions: Versions, sequence_id: str) -> tuple[Sequence, ModelVersion]:
    """The newest version of a sequence with its stored record (number, when pushed)."""
    found = versioning.stored(versions, sequence_id)
    return _sequence(found), found


def load(versions: Versions, sequence_id: str, version: int | None = None) -> Sequence:
    """The pinned (or, without `version`, the newest) version of a sequence."""
    return _sequence(versioning.stored(versions, sequence_id, version))


def _sequence(found: ModelVersion) -> Sequence:
    return Sequence.from_json(found.body, file=f"{found.model_id}@v{found.version}")

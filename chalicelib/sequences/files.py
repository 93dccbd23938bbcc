"""Reading sequence files: YAML with line numbers, template files inlined, then validated.

A loaded `Sequence` is self-contained: `html_file` / `text_file` references are read and
inlined at load time, so a stored version pins its template content and `content_hash()`
changes when a template changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chalicelib import modelfiles
from chalicelib.errors import FileError, FileInvalid
from chalicelib.modelfiles import MAX_FILE_BYTES
from chalicelib.sequences.graph import items
from chalicelib.sequences.model import Sequence, validated_sequence


def load_sequence(path: Path | str) -> Sequence:
    """Read, validate and inline the templates of a sequence file."""
    path = Path(path)
    file = str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileInvalid(file, [modelfiles.too_big(size)])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileInvalid(file, [FileError("", "the file is not UTF-8 text")]) from exc
    return parse_sequence(text, file=file, base_dir=path.parent)


def parse_sequence(text: str, *, file: str = "<string>", base_dir: Path | None = None) -> Sequence:
    """Validate sequence YAML; `html_file`/`text_file` are read relative to `base_dir`."""
    data, lines, errors = modelfiles.read_yaml(text, file)
    errors += _inline_template_files(data, base_dir)
    return validated_sequence(data, file, lines, errors)


def _inline_template_files(data: Any, base_dir: Path | None) -> list[FileError]:
    """Replace `html_file`/`text_file` by the file's content, in place on freshly loaded data."""
    errors: list[FileError] = []
    for path, spec in _template_specs(data):
        for kind in ("html", "text"):
            reference = spec.get(f"{kind}_file")
            if not isinstance(reference, str) or spec.get(kind) is not None:
                continue
            try:
                spec[kind] = _read_template(reference, base_dir)
            except ValueError as exc:
                errors.append(FileError(f"{path}.{kind}_file", str(exc)))
                continue
            del spec[f"{kind}_file"]
    return errors


def _template_specs(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every template spec mapping in raw data, with its YAML path; tolerates bad shapes."""
    for i, step in items(data, "steps"):
        yield from _locale_specs(step.get("template"), f"steps[{i}].template")
        for j, variant in items(step, "variants"):
            yield from _locale_specs(variant.get("template"), f"steps[{i}].variants[{j}].template")


def _locale_specs(templates: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(templates, dict):
        for locale, spec in templates.items():
            if isinstance(spec, dict):
                yield f"{path}.{locale}", spec


def _read_template(reference: str, base_dir: Path | None) -> str:
    if base_dir is None:
        raise ValueError("template files need a sequence file on disk; use html/text inline")
    root = base_dir.resolve()
    path = (root / reference).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{reference!r} is outside the sequence file's folder")
    if not path.is_file():
        raise ValueError(f"template file {reference!r} not found next to the sequence file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"template file {reference!r} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"template file {reference!r} is not UTF-8") from exc

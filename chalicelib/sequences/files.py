"""Reading sequence files: YAML with line numbers, template files inlined, then validated.

A loaded `Sequence` is self-contained: `html_file` / `text_file` references are read and
inlined at load time, so a stored version pins its template content and `content_hash()`
changes when a template changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import modelfiles
from chalicelib.errors import FileError, FileInvalid
from chalicelib.modelfiles import MAX_FILE_BYTES
from chalicelib.sequences.graph import items
from chalicelib.sequences.model import Sequence, validated_sequence

Check = Callable[[Any], list[FileError]]
"""A further check of a file's raw data (templates inlined), run even when the schema fails."""


@dataclass(frozen=True)
class TemplateSite:
    """One locale's template spec in raw data: its YAML path, step and variant ids (if they
    are strings), and the spec mapping itself."""

    path: str
    step_id: str
    variant_id: str
    spec: dict[str, Any]


def load_sequence(path: Path | str, check: Check | None = None) -> Sequence:
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
    return parse_sequence(text, file=file, base_dir=path.parent, check=check)


def parse_sequence(
    text: str, *, file: str = "<string>", base_dir: Path | None = None, check: Check | None = None
) -> Sequence:
    """Validate sequence YAML; `html_file`/`text_file` are read relative to `base_dir`.

    `check`'s errors are reported with the schema's, so one run lists every problem.
    """
    data, lines, errors = modelfiles.read_yaml(text, file)
    errors += _inline_template_files(data, base_dir)
    if check is not None:
        errors += check(data)
    return validated_sequence(data, file, lines, errors)


def _inline_template_files(data: Any, base_dir: Path | None) -> list[FileError]:
    """Replace `html_file`/`text_file` by the file's content, in place on freshly loaded data."""
    errors: list[FileError] = []
    for site in template_sites(data):
        path, spec = site.path, site.spec
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


def template_sites(data: Any) -> Iterator[TemplateSite]:
    """Every template spec mapping in raw data, with where it is; tolerates bad shapes."""
    for i, step in items(data, "steps"):
        step_id = _text(step.get("id"))
        yield from _sites(step.get("template"), f"steps[{i}].template", step_id, "")
        for j, variant in items(step, "variants"):
            path = f"steps[{i}].variants[{j}].template"
            yield from _sites(variant.get("template"), path, step_id, _text(variant.get("id")))


def _sites(templates: Any, path: str, step_id: str, variant_id: str) -> Iterator[TemplateSite]:
    if isinstance(templates, dict):
        for locale, spec in templates.items():
            if isinstance(spec, dict):
                yield TemplateSite(f"{path}.{locale}", step_id, variant_id, spec)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


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

"""Reading segment files: YAML with line numbers, validated with every problem at once."""

from __future__ import annotations

from pathlib import Path

from chalicelib import modelfiles
from chalicelib.errors import FileError, FileInvalid
from chalicelib.segments.model import Segment, validated_segment

__all__ = ["load_segment", "parse_segment"]


def load_segment(
    path: Path | str,
    *,
    stages: tuple[str, ...] | None = None,
    topics: tuple[str, ...] | None = None,
) -> Segment:
    path = Path(path)
    size = path.stat().st_size
    if size > modelfiles.MAX_FILE_BYTES:
        raise FileInvalid(str(path), [modelfiles.too_big(size)])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileInvalid(str(path), [FileError("", "the file is not UTF-8 text")]) from exc
    return parse_segment(text, file=str(path), stages=stages, topics=topics)


def parse_segment(
    text: str,
    *,
    file: str = "<string>",
    stages: tuple[str, ...] | None = None,
    topics: tuple[str, ...] | None = None,
) -> Segment:
    """Validate segment YAML; given `stages` and `topics`, the names it uses are checked too."""
    data, lines, errors = modelfiles.read_yaml(text, file)
    return validated_segment(data, file, lines, errors, stages=stages, topics=topics)

"""Reading segment files: YAML with line numbers, validated with every problem at once."""

from __future__ import annotations

from pathlib import Path

from chalicelib import modelfiles
from chalicelib.segments.model import Segment, validated_segment

__all__ = ["load_segment", "parse_segment"]


def load_segment(
    path: Path | str,
    *,
    stages: tuple[str, ...] | None = None,
    topics: tuple[str, ...] | None = None,
) -> Segment:
    text = modelfiles.read_text(Path(path))
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

"""Reading scoring files: YAML with line numbers, validated with every problem at once."""

from __future__ import annotations

from pathlib import Path

from chalicelib import modelfiles
from chalicelib.scoring.model import Scoring, validated_scoring

__all__ = ["load_scoring", "parse_scoring"]


def load_scoring(path: Path | str, *, stages: tuple[str, ...] | None = None) -> Scoring:
    return parse_scoring(modelfiles.read_text(Path(path)), file=str(path), stages=stages)


def parse_scoring(
    text: str, *, file: str = "<string>", stages: tuple[str, ...] | None = None
) -> Scoring:
    """Validate scoring YAML; given the pushed `stages`, the stages it names are checked too."""
    data, lines, errors = modelfiles.read_yaml(text, file)
    return validated_scoring(data, file, lines, errors, stages=stages)

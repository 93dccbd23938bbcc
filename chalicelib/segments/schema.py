"""The JSON Schema published for editors (`schemas/segment.schema.json`).

Start a segment file with `# yaml-language-server: $schema=../../schemas/segment.schema.json`.
Regenerate it with `python -m chalicelib.segments > schemas/segment.schema.json`.
"""

from __future__ import annotations

from typing import Any

from chalicelib import modelfiles
from chalicelib.segments.model import Segment


def segment_json_schema() -> dict[str, Any]:
    """The schema, generated from the model so it cannot drift."""
    return modelfiles.published_schema(Segment, "segment")


def render_json_schema() -> str:
    """Exact text of `schemas/segment.schema.json`."""
    return modelfiles.schema_text(segment_json_schema())

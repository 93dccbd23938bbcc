"""The JSON Schema published for editors (`schemas/segment.schema.json`).

Start a segment file with `# yaml-language-server: $schema=../../schemas/segment.schema.json`.
Regenerate it with `python -m chalicelib.segments > schemas/segment.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.segments.model import Segment

SCHEMA_ID = "https://nurture.dev/schemas/segment.schema.json"


def segment_json_schema() -> dict[str, Any]:
    """The schema, generated from the model so it cannot drift."""
    schema = Segment.model_json_schema(mode="validation", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_json_schema() -> str:
    """Exact text of `schemas/segment.schema.json`."""
    return json.dumps(segment_json_schema(), indent=2, ensure_ascii=False) + "\n"

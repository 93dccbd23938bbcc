"""The JSON Schema published for editors (`schemas/scoring.schema.json`).

Start a scoring file with `# yaml-language-server: $schema=../../schemas/scoring.schema.json`.
Regenerate it with `python -m chalicelib.scoring > schemas/scoring.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.scoring.model import Scoring

SCHEMA_ID = "https://nurture.dev/schemas/scoring.schema.json"


def scoring_json_schema() -> dict[str, Any]:
    """The schema, generated from the model so it cannot drift."""
    schema = Scoring.model_json_schema(mode="validation", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_json_schema() -> str:
    """Exact text of `schemas/scoring.schema.json`."""
    return json.dumps(scoring_json_schema(), indent=2, ensure_ascii=False) + "\n"

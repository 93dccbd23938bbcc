"""The JSON Schema published for editors (`schemas/scoring.schema.json`).

Start a scoring file with `# yaml-language-server: $schema=../../schemas/scoring.schema.json`.
Regenerate it with `python -m chalicelib.scoring > schemas/scoring.schema.json`.
"""

from __future__ import annotations

from typing import Any

from chalicelib import modelfiles
from chalicelib.scoring.model import Scoring


def scoring_json_schema() -> dict[str, Any]:
    """The schema, generated from the model so it cannot drift."""
    return modelfiles.published_schema(Scoring, "scoring")


def render_json_schema() -> str:
    """Exact text of `schemas/scoring.schema.json`."""
    return modelfiles.schema_text(scoring_json_schema())

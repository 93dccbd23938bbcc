"""The JSON Schema published for editors (`schemas/sequence.schema.json`).

Editors validate and autocomplete files with it when a sequence file starts with this line
(yaml-language-server, used by the VS Code YAML extension):

    # yaml-language-server: $schema=../../schemas/sequence.schema.json

The schema checks shape only; references between steps, cycles and duplicate keys are checked
by the loader. Regenerate it with `python -m chalicelib.sequences > schemas/sequence.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.sequences.model import Sequence

SCHEMA_ID = "https://nurture.dev/schemas/sequence.schema.json"


def sequence_json_schema() -> dict[str, Any]:
    """The schema, generated from the model so it cannot drift."""
    schema = Sequence.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_json_schema() -> str:
    """Exact text of `schemas/sequence.schema.json`."""
    return json.dumps(sequence_json_schema(), indent=2, ensure_ascii=False) + "\n"

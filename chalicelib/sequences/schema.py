"""The JSON Schema published for editors (`schemas/sequence.schema.json`).

Editors validate and autocomplete files with it when a sequence file starts with this line
(yaml-language-server, used by the VS Code YAML extension):

    # yaml-language-server: $schema=../../schemas/sequence.schema.json

The schema checks shape only; references between steps, cycles and duplicate keys are checked
by the loader. Regenerate it with `python -m chalicelib.sequences > schemas/sequence.schema.json`.
"""

from __future__ import annotations

from typing import Any

from chalicelib import modelfiles
from chalicelib.sequences.model import Sequence


def sequence_json_schema() -> dict[str, Any]:
    """The schema, generated from the model so it cannot drift."""
    return modelfiles.published_schema(Sequence, "sequence")


def render_json_schema() -> str:
    """Exact text of `schemas/sequence.schema.json`."""
    return modelfiles.schema_text(sequence_json_schema())

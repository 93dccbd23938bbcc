"""Lifecycle stages (`stages.yaml`): the ordered stages and the rules that move contacts
along them, validated like every marketer file and versioned on push.

- `model`: the file (`Stages`, `Rule`), its loading and its JSON Schema.
- `advance`: where a contact's stage goes next (pure).
"""

from chalicelib.stages.advance import next_stage
from chalicelib.stages.model import (
    STAGES_ID,
    Rule,
    Stages,
    load_stages,
    parse_stages,
    render_json_schema,
    stages_json_schema,
)

__all__ = [
    "STAGES_ID",
    "Rule",
    "Stages",
    "load_stages",
    "next_stage",
    "parse_stages",
    "render_json_schema",
    "stages_json_schema",
]

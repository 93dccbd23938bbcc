"""Sequence files: the marketer-facing YAML model of a drip sequence and its validation.

A sequence file is read with `load_sequence(path)` (or `parse_sequence(text)`), which reports
every problem at once as `FileInvalid`, each error naming the file, the YAML path
(`steps[2].branches.not_opened.within`), the line and what is wrong.

- `model`: the pydantic models (`Sequence`, `Step`, branches, windows, caps).
- `graph`: checks across steps (targets, loops without delay, locales) and reachability.
- `files`: reading YAML files and inlining their template files.
- `schema`: the JSON Schema published for editors.
"""

from chalicelib.fields import WEEKDAYS, format_duration, parse_duration
from chalicelib.modelfiles import MAX_FILE_BYTES
from chalicelib.sequences.files import TemplateSite, load_sequence, parse_sequence, template_sites
from chalicelib.sequences.graph import EXIT, SUPPRESS, unreachable_steps
from chalicelib.sequences.model import (
    AbsenceBranch,
    EventBranch,
    NotOpenedBranch,
    SendWindow,
    Sequence,
    Step,
    TemplateSpec,
    WaitUntil,
)
from chalicelib.sequences.schema import render_json_schema, sequence_json_schema

__all__ = [
    "EXIT",
    "MAX_FILE_BYTES",
    "SUPPRESS",
    "WEEKDAYS",
    "AbsenceBranch",
    "EventBranch",
    "NotOpenedBranch",
    "SendWindow",
    "Sequence",
    "Step",
    "TemplateSite",
    "TemplateSpec",
    "WaitUntil",
    "format_duration",
    "load_sequence",
    "parse_duration",
    "parse_sequence",
    "render_json_schema",
    "sequence_json_schema",
    "template_sites",
    "unreachable_steps",
]

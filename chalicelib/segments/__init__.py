"""Segment files: who a segment holds, as a YAML file validated like sequences, versioned on
push and evaluated as a pure function of one contact's profile and behaviour summary.

- `model`: the conditions (`all` / `any` / `not` and the tests of a contact).
- `evaluate`: a segment compiled into a fast matcher of stored profiles.
- `files`: reading YAML files; `schema`: the JSON Schema for editors.
"""

from chalicelib.segments.evaluate import (
    Matcher,
    condition_matcher,
    event_matches,
    matcher,
)
from chalicelib.segments.files import load_segment, parse_segment
from chalicelib.segments.model import EventMatch, EventName, EventTest, Segment, named
from chalicelib.segments.schema import render_json_schema, segment_json_schema

__all__ = [
    "EventMatch",
    "EventName",
    "EventTest",
    "Matcher",
    "Segment",
    "condition_matcher",
    "event_matches",
    "load_segment",
    "matcher",
    "named",
    "parse_segment",
    "render_json_schema",
    "segment_json_schema",
]

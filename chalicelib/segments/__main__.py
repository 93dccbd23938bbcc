"""`python -m chalicelib.segments` prints the segment JSON Schema."""

from chalicelib.segments.schema import render_json_schema

print(render_json_schema(), end="")

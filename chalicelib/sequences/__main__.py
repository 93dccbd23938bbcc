"""`python -m chalicelib.sequences` prints the sequence JSON Schema."""

from chalicelib.sequences.schema import render_json_schema

print(render_json_schema(), end="")

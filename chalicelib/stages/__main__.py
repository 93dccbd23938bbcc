"""`python -m chalicelib.stages` prints the stages JSON Schema."""

from chalicelib.stages.model import render_json_schema

print(render_json_schema(), end="")

"""`python -m chalicelib.scoring` prints the scoring JSON Schema."""

from chalicelib.scoring.schema import render_json_schema

print(render_json_schema(), end="")

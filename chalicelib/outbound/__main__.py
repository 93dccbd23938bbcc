"""`python -m chalicelib.outbound` rewrites the published JSON Schemas under `schemas/`."""

from pathlib import Path

from chalicelib.outbound.schema import write

for path in write(Path(__file__).resolve().parents[2]):
    print(path)

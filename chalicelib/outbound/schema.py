"""The JSON Schemas published for receivers (`schemas/events/{type}.json`) and for editors of
`webhooks.yaml` (`schemas/webhooks.schema.json`), generated from the models so they cannot
drift. Rewrite them with `python -m chalicelib.outbound`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.outbound.catalogue import CATALOGUE, envelope_model
from chalicelib.outbound.subscriptions import WebhooksFile

BASE = "https://nurture.dev/schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(event_type: str) -> dict[str, Any]:
    schema = envelope_model(event_type).model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": DRAFT, "$id": f"{BASE}/events/{event_type}.json", **schema}


def webhooks_schema() -> dict[str, Any]:
    schema = WebhooksFile.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": f"{BASE}/webhooks.schema.json", **schema}


def rendered() -> dict[str, str]:
    """Exact text of every published schema, by path relative to the repository root."""
    files = {f"schemas/events/{name}.json": _text(event_schema(name)) for name in sorted(CATALOGUE)}
    files["schemas/webhooks.schema.json"] = _text(webhooks_schema())
    return files


def write(root: Path) -> list[str]:
    """Rewrite the published schemas under `root`; return the paths written."""
    (root / "schemas" / "events").mkdir(parents=True, exist_ok=True)
    for path, text in rendered().items():
        (root / path).write_text(text, encoding="utf-8")
    return sorted(rendered())


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

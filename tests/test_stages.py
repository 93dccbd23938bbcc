"""Lifecycle stages: the file validates like every model file; stages move forward only, unless
a rule says otherwise; the furthest matching stage wins."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chalicelib.errors import FileInvalid
from chalicelib.stages import Stages, load_stages, next_stage, parse_stages, render_json_schema

ROOT = Path(__file__).resolve().parent.parent
LIFECYCLE = load_stages(ROOT / "examples" / "stages.yaml")


def event(name: str, **properties: Any) -> dict[str, Any]:
    return {"type": "event", "name": name, "properties": properties}


@pytest.mark.parametrize(
    ("current", "happened", "segments", "expected"),
    [
        (None, event("cart_updated"), (), "decision"),
        ("awareness", event("order_placed"), (), "customer"),
        ("customer", event("cart_updated"), (), None),  # forward only
        ("customer", event("subscription_cancelled"), (), "decision"),  # unless a rule says
        ("decision", event("subscription_cancelled"), (), None),  # already there
        ("decision", {"type": "converted"}, (), "customer"),
        ("decision", {"type": "converted"}, ("engaged-buyers",), "advocate"),  # furthest wins
        ("awareness", None, ("pricing-curious",), "consideration"),
        ("decision", None, ("pricing-curious",), None),
        ("awareness", {"type": "opened", "verdict": "human"}, (), None),
        ("awareness", event("page_viewed"), (), None),
    ],
)
def test_where_a_contact_goes(
    current: str | None, happened: Any, segments: tuple[str, ...], expected: str | None
) -> None:
    assert next_stage(LIFECYCLE, current, happened, set(segments)) == expected


def test_event_rules_can_match_properties() -> None:
    stages = parse_stages(
        "stages: [lead, customer, vip]\n"
        "rules:\n"
        "  - {to: customer, event: {name: order_placed}}\n"
        "  - {to: vip, event: {name: order_placed, where: {total: {gte: 1000}}}}\n"
    )
    assert next_stage(stages, "lead", event("order_placed", total=Decimal(50)), ()) == "customer"
    assert next_stage(stages, "lead", event("order_placed", total=Decimal(1500)), ()) == "vip"
    assert next_stage(stages, "vip", event("order_placed", total=Decimal(50)), ()) is None


def test_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(
        "stages: [lead, lead, Customer]\n"
        "rules:\n"
        "  - {to: champion, segment: fans}\n"
        "  - {to: lead, segment: fans, converted: true}\n"
        "  - {to: lead, converted: false}\n"
        "  - {to: lead, evnt: signed_up}\n",
        encoding="utf-8",
    )
    with pytest.raises(FileInvalid) as caught:
        load_stages(path)
    text = str(caught.value)
    for expected in (
        f"{path}: stages[2]: must be 1-64 lowercase letters",
        "rules[0].to: unknown stage 'champion' (stages: lead, lead, Customer) (line 3)",
        "rules[1]: give exactly one of event, converted or segment (line 4)",
        "rules[2]: converted: false never fires; remove the rule (line 5)",
        "rules[3].evnt: unknown key; did you mean 'event'?",
    ):
        assert expected in text, (expected, text)


def test_repeated_stages_are_refused() -> None:
    with pytest.raises(FileInvalid, match="stages must not repeat"):
        parse_stages("stages: [lead, customer, lead]\n")


def test_stored_json_round_trips() -> None:
    assert Stages.from_json(LIFECYCLE.to_json()) == LIFECYCLE
    assert LIFECYCLE.id == "lifecycle"


def test_committed_schema_matches_the_model_and_the_example() -> None:
    committed = (ROOT / "schemas" / "stages.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run: python -m chalicelib.stages > schemas/..."
    document = yaml.safe_load((ROOT / "examples" / "stages.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(document, yaml.safe_load(committed))
    document["rules"][0]["segmnet"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, yaml.safe_load(committed))

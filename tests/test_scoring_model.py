"""The scoring file: validation with every problem at once, the schema, the shipped models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from chalicelib.errors import FileInvalid
from chalicelib.scoring.files import load_scoring, parse_scoring
from chalicelib.scoring.model import Scoring
from chalicelib.scoring.schema import render_json_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "scoring").glob("*.yaml"))
STAGES = ("awareness", "consideration", "decision", "customer", "advocate")

MINIMAL = """\
engagement:
  half_life: 30d
  clicked: {points: 5}
temperature:
  levels: {high: 20, medium: 5}
"""


def test_a_minimal_file_gets_the_documented_defaults() -> None:
    scoring = parse_scoring(MINIMAL)
    assert scoring.name == "Lead score"
    assert scoring.fit is None and scoring.alert is None
    bands = scoring.temperature.bands
    assert (bands.high, bands.medium, bands.low) == ("hot", "warm", "cold")


def test_every_problem_at_once_with_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "scoring.yaml"
    path.write_text(
        """\
name: Broken
fit:
  grades: {A: 10, B: 20, C: 5}
  groups:
    - id: Title
      max: -3
      rules:
        - when: {attribute: {name: job_title, equals: CEO}}
          points: 5000
        - when: {opened: {within: 7d}}
          points: 5
        - when: {field: {name: created_at, within: 30d}}
          points: 5
        - when: {temperature: hot}
          points: 5
engagement:
  half_life: soon
  opened: {points: 0}
  clicked: {points: 5, daily_cap: 0}
  bounced: {points: -5}
  events:
    - {name: "bad name", points: 3}
temperature:
  levels: {high: 5, medium: 10}
  bands: {high: boiling}
  by_stage:
    champion: {levels: {high: 50, medium: 20}}
alert:
  when: cold
""",
        encoding="utf-8",
    )
    with pytest.raises(FileInvalid) as caught:
        load_scoring(path, stages=STAGES)
    text = str(caught.value)
    for expected in (
        f"{path}: fit.grades: grades must be strictly descending",
        "fit.groups[0].id: must be 1-64 lowercase letters",
        "fit.groups[0].max: Input should be greater than or equal to 0",
        "fit.groups[0].rules[0].points: Input should be less than or equal to 1000",
        "fit.groups[0].rules[1].when.opened: fit cannot depend on recent behaviour",
        "fit.groups[0].rules[2].when.field.within: fit cannot change with the clock",
        "fit.groups[0].rules[3].when.temperature: fit cannot depend on the score it makes",
        "engagement.half_life: invalid duration 'soon'",
        "engagement.opened: points: 0 scores nothing",
        "engagement.clicked.daily_cap: Input should be greater than or equal to 1",
        "engagement.bounced: unknown key",
        "engagement.events[0].name:",
        "temperature.levels: high must be greater than medium",
        "temperature.bands.high:",
        "temperature.by_stage.champion: unknown stage 'champion'",
        "alert: when: cold never alerts sales",
        "(line 3)",
    ):
        assert expected in text, (expected, text)


def test_alert_hysteresis_must_fall_below_what_alerts() -> None:
    base = yaml.safe_load(MINIMAL)
    for alert, message in (
        ({"when": "warm", "rearm": "hot"}, "rearm must be a band colder than warm"),
        ({"when": "hot", "rearm": "hot"}, "rearm must be a band colder than hot"),
        (
            {"when": {"engagement": 30}, "rearm": {"engagement": 30}},
            "rearm.engagement must be below when.engagement",
        ),
        ({"when": "hot", "rearm": {"engagement": 3}}, "both be bands or both engagement"),
    ):
        with pytest.raises(FileInvalid, match=message):
            parse_scoring(yaml.safe_dump({**base, "alert": alert}))
    threshold = parse_scoring(yaml.safe_dump({**base, "alert": {"when": {"engagement": 30}}}))
    assert threshold.alert is not None and threshold.alert.rearm_below == 24
    banded = parse_scoring(yaml.safe_dump({**base, "alert": {"when": "hot"}}))
    assert banded.alert is not None and banded.alert.rearm_band == "cold"


def test_stages_from_an_attribute_are_not_checked_against_the_lifecycle() -> None:
    data = yaml.safe_load(MINIMAL)
    data["stage"] = {"attribute": "lifecycle_stage"}
    data["temperature"]["by_stage"] = {"champion": {"levels": {"high": 50, "medium": 20}}}
    scoring = parse_scoring(yaml.safe_dump(data), stages=STAGES)
    assert scoring.stages_named() == ("champion",)


def test_several_rules_for_one_event_name_get_distinct_kinds() -> None:
    data = yaml.safe_load(MINIMAL)
    data["engagement"]["events"] = [
        {"name": "order_placed", "where": {"plan": "pro"}, "points": 20},
        {"name": "order_placed", "points": 10},
        {"name": "signed_up", "points": 5},
    ]
    kinds = [kind for kind, _ in parse_scoring(yaml.safe_dump(data)).product_kinds()]
    assert kinds == ["event:order_placed#0", "event:order_placed#1", "event:signed_up"]


def test_stored_json_round_trips_and_hashes_stably() -> None:
    scoring = load_scoring(ROOT / "examples" / "scoring" / "b2b.yaml")
    again = Scoring.from_json(scoring.to_json())
    assert again == scoring and again.content_hash() == scoring.content_hash()


def test_committed_schema_matches_the_model() -> None:
    committed = (ROOT / "schemas" / "scoring.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run: python -m chalicelib.scoring > schemas/..."


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_load_and_pass_the_published_schema(path: Path) -> None:
    scoring = load_scoring(path, stages=STAGES)
    assert scoring.temperature.levels.high > scoring.temperature.levels.medium
    schema = json.loads(render_json_schema())
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    document["temperature"]["bands"] = {"high": "boiling"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_both_shipped_models_exist() -> None:
    assert {path.stem for path in EXAMPLES} == {"b2b", "temperature"}

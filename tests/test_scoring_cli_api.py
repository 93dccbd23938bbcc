"""`nurture scoring` / `nurture score` and the scoring API against moto, as a marketer uses
them; bad input answers 4xx naming the field and stores nothing; the backtest on the demo
history."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from click.testing import CliRunner, Result

from chalicelib import services
from chalicelib.cli import nurture
from chalicelib.scoring.model import SCORING_ID
from chalicelib.store import Table
from local.history import seed_history

ROOT = Path(__file__).resolve().parent.parent
B2B = ROOT / "examples" / "scoring" / "b2b.yaml"
TEMPERATURE = ROOT / "examples" / "scoring" / "temperature.yaml"
HEADERS = {"Authorization": "Bearer api-key-0123456789abcdef"}
YAML = {**HEADERS, "Content-Type": "application/yaml"}
JSON = {**HEADERS, "Content-Type": "application/json"}


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


@pytest.fixture
def scheduled(table: Table) -> Table:
    """The table, and the Scheduler group decay deadlines go to."""
    services.client("scheduler").create_schedule_group(Name="nurture")
    return table


@pytest.fixture
def history(scheduled: Table) -> Iterator[Table]:
    """Some of the demo contacts and their eleven weeks of history (`python -m local.history`)."""
    seed_history(scheduled, time.time(), contacts_count=15)
    yield scheduled


def test_validate_push_show_and_rescore_from_the_command_line(table: Table, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("engagement: {half_life: 30d, clickd: {points: 5}}\ntemperature: {}\n")
    result = run("scoring", "validate", str(bad), str(B2B))
    assert result.exit_code == 1
    assert f"{bad}: engagement.clickd: unknown key; did you mean 'clicked'?" in result.output
    assert f"{bad}: temperature.levels: is required" in result.output
    assert f"{B2B}: ok (B2B lead score)" in result.output
    refused = run("scoring", "push", str(B2B))  # `by_stage: customer`, no lifecycle pushed
    assert refused.exit_code == 1
    assert "temperature.by_stage.customer: unknown stage 'customer'" in refused.output
    assert services.versions("scoring").head(SCORING_ID) is None
    pushed = run("scoring", "push", str(TEMPERATURE))
    assert pushed.exit_code == 0 and "scoring v1 (new version)" in pushed.output
    assert "scoring v1 (unchanged)" in run("scoring", "push", str(TEMPERATURE)).output
    assert "half_life: 2w" in run("scoring", "show").output  # 14d, in its largest unit
    assert run("scoring", "show", "--version", "9").exit_code == 1
    table.put_profile("ann", {"email": "ann@example.com"})
    rescored = run("scoring", "rescore")
    assert rescored.exit_code == 0 and rescored.output.endswith("scoring v1: finished\n")
    assert "1 rescored" in rescored.output


def test_explain_and_distribution_from_the_command_line(history: Table) -> None:
    assert run("scoring", "push", str(TEMPERATURE)).exit_code == 0
    assert run("scoring", "rescore").exit_code == 0
    explained = run("score", "explain", "lead000@demo.example")
    assert explained.exit_code == 0, explained.output
    total = re.search(r"^  total\s+(-?[\d.]+)$", explained.output, re.M)
    lines = re.findall(r"^  \S+\s+\S+\s+\d+\s+-?\d+\s+-?\d+\s+(-?[\d.]+)$", explained.output, re.M)
    assert total is not None and lines
    assert sum(map(Decimal, lines)) == Decimal(total.group(1))
    assert "machine open (apple_mpp)" in explained.output
    doc = json.loads(run("score", "explain", "--json", "demo0000").output)
    assert doc["contact_id"] == "demo0000" and doc["scoring"]["version"] == 1
    assert run("score", "explain", "nobody@example.com").exit_code == 1
    table = run("score", "distribution").output.splitlines()
    assert table[0] == "stage\thot\twarm\tcold\tunscored\ttotal"
    assert sum(int(row.split("\t")[-1]) for row in table[1:]) == 15
    goal = run("scoring", "backtest", str(B2B), "--goal", "event:demo_requested", "--window", "2w")
    assert "goal: event demo_requested within 2w after" in goal.output


def test_the_backtest_runs_on_the_demo_history(table: Table) -> None:
    seed_history(table, time.time())  # all of it: 100 contacts
    result = run("scoring", "backtest", str(B2B))
    assert result.exit_code == 0, result.output
    rows = {
        match[0]: (int(match[1]), int(match[2]))
        for match in re.findall(r"^(hot|warm|cold|all)\s+(\d+)\s+(\d+)", result.output, re.M)
    }
    assert rows["all"][0] == 100 and sum(rows[b][0] for b in ("hot", "warm", "cold")) == 100
    rate = {band: rows[band][1] / rows[band][0] for band in rows if rows[band][0]}
    assert rate["hot"] > rate["cold"]
    assert re.search(r"lift of hot over cold: \d+\.\d\dx", result.output), result.output


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--window", "soon", "window"),
        ("--window", "0d", "window"),
        ("--cutoff", "yesterday", "cutoff"),
        ("--goal", "bought", "goal"),
        ("--goal", "event:has space", "goal"),
    ],
)
def test_backtest_refuses_bad_options_naming_them(
    table: Table, option: str, value: str, field: str
) -> None:
    result = run("scoring", "backtest", str(B2B), option, value)
    assert result.exit_code == 1
    assert f"{field}:" in result.output


# --- the API -----------------------------------------------------------------------------------


def test_scoring_through_the_api(client: Client, table: Table) -> None:
    body = TEMPERATURE.read_text(encoding="utf-8")
    checked = client.http.post("/api/scoring/validate", headers=YAML, body=body)
    assert checked.status_code == 200 and checked.json_body["valid"] is True
    assert client.http.get("/api/scoring", headers=HEADERS).status_code == 404
    pushed = client.http.post("/api/scoring", headers=YAML, body=body)
    assert pushed.status_code == 201 and pushed.json_body == {"version": 1, "created": True}
    assert client.http.post("/api/scoring", headers=YAML, body=body).status_code == 200
    shown = client.http.get("/api/scoring", headers=HEADERS).json_body
    assert shown["version"] == 1 and shown["scoring"]["engagement"]["half_life"] == "2w"
    table.put_profile("ann", {"email": "ann@example.com"})
    rescored = client.http.post("/api/scoring/rescore", headers=JSON, body="{}")
    assert rescored.status_code == 200
    assert rescored.json_body == {"version": 1, "scored": 1, "unchanged": 0, "finished": True}
    receipt = client.http.get("/api/contacts/ann/score", headers=HEADERS)
    assert receipt.status_code == 200
    doc = receipt.json_body
    assert set(doc) == {
        "contact_id",
        "email",
        "scoring",
        "at",
        "stage",
        "temperature",
        "band",
        "fit",
        "engagement",
        "unscored",
        "alert",
        "stored",
    }
    assert doc["temperature"] == "cold" and doc["engagement"]["score"] == "0.00"
    spread = client.http.get("/api/scores/distribution", headers=HEADERS).json_body
    assert spread["columns"] == ["hot", "warm", "cold", "unscored"]
    assert spread["stages"] == {"(none)": {"hot": 0, "warm": 0, "cold": 1, "unscored": 0}}


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "field"),
    [
        ("POST", "/api/scoring", YAML, "engagement: {half_life: 30d}\n", 422, "engagement"),
        ("POST", "/api/scoring", YAML, "- a list\n", 422, "top level"),
        ("POST", "/api/scoring", YAML, "temperature: !!timestamp 2026-02-30\n", 422, "line 1"),
        ("POST", "/api/scoring/validate", YAML, "\xff", 400, "body"),
        ("POST", "/api/scoring/rescore", JSON, '{"pages": 0}', 400, "pages"),
        ("POST", "/api/scoring/rescore", JSON, '{"pages": true}', 400, "pages"),
        ("POST", "/api/scoring/rescore", JSON, '{"page": 3}', 400, "page"),
        ("POST", "/api/scoring/rescore", JSON, "[1]", 400, "body"),
        ("GET", "/api/scoring?version=0", HEADERS, None, 400, "version"),
        ("GET", "/api/scoring?version=%C2%B2", HEADERS, None, 400, "version"),
        ("GET", "/api/scoring?versions=1", HEADERS, None, 400, "versions"),
        ("GET", "/api/contacts/a%20b/score", HEADERS, None, 400, "contact_id"),
        ("GET", "/api/contacts/ann/score?x=1", HEADERS, None, 400, "x"),
        ("GET", "/api/scores/distribution?stage=a", HEADERS, None, 400, "stage"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_stores_nothing(
    client: Client,
    table: Table,
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None,
    status: int,
    field: str,
) -> None:
    sent: Any = body.encode("utf-8", "surrogateescape") if body == "\xff" else body
    if body == "\xff":
        sent = b"\xff"
    answer = client.http.request(method, path, headers=headers, body=sent)
    assert answer.status_code == status, answer.body
    assert field in answer.json_body["error"] + json.dumps(answer.json_body.get("errors", []))
    assert services.versions("scoring").head(SCORING_ID) is None


def test_the_receipt_of_an_unknown_contact_or_without_a_model_is_404(
    client: Client, table: Table
) -> None:
    missing = client.http.get("/api/contacts/nobody/score", headers=HEADERS)
    assert missing.status_code == 404 and "contact_id" in missing.json_body["error"]
    table.put_profile("ann", {"email": "ann@example.com"})
    unscored = client.http.get("/api/contacts/ann/score", headers=HEADERS)
    assert unscored.status_code == 404 and "scoring" in unscored.json_body["error"]
    assert client.http.get("/api/contacts/ann/score").status_code == 401

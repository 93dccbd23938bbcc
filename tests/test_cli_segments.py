"""`nurture segments` and `nurture stages` against moto, as a marketer runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

from chalice.test import Client
from click.testing import CliRunner, Result

from chalicelib import services
from chalicelib.cli import nurture
from chalicelib.stamps import iso
from chalicelib.store import Table

ROOT = Path(__file__).resolve().parent.parent
SEGMENTS = ROOT / "examples" / "segments"
STAGES = ROOT / "examples" / "stages.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


def test_validate_lists_every_problem_and_passes_good_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nname: Bad\nmatch:\n  any:\n    - tagg: vip\n    - opened: {}\n")
    result = run("segments", "validate", str(bad), str(SEGMENTS / "gone-quiet.yaml"))
    assert result.exit_code == 1
    assert f"{bad}: match.any[0].tagg: unknown key; did you mean 'tag'?" in result.output
    assert f"{bad}: match.any[1].opened: give exactly one of within or not_within" in result.output
    assert "gone-quiet.yaml: ok (gone-quiet)" in result.output


def test_push_checks_names_against_pushed_stages_and_topics(table: Table, tmp_path: Path) -> None:
    staged = tmp_path / "staged.yaml"
    staged.write_text("id: staged\nname: S\nmatch: {stage: {at_least: decision}}\n")
    refused = run("segments", "push", str(staged))
    assert refused.exit_code == 1
    assert "match.stage: unknown stage 'decision' (stages: none are pushed)" in refused.output
    early = run("stages", "push", str(STAGES))  # its rules name segments not pushed yet
    assert early.exit_code == 1
    assert "rules[0].segment: unknown segment 'pricing-curious'; push it first" in early.output
    pushed = run("segments", "push", *map(str, sorted(SEGMENTS.glob("*.yaml"))))
    assert pushed.exit_code == 0, pushed.output
    assert "engaged-buyers v1 (new version)" in pushed.output
    assert run("stages", "push", str(STAGES)).output.endswith("stages v1 (new version)\n")
    assert run("stages", "push", str(STAGES)).output.endswith("stages v1 (unchanged)\n")
    assert run("segments", "push", str(staged)).exit_code == 0
    listed = run("segments", "list").output.splitlines()
    assert [line.split("\t")[:2] for line in listed[1:]] == [
        ["cold-fits", "v1"],
        ["engaged-buyers", "v1"],
        ["gone-quiet", "v1"],
        ["hot-leads", "v1"],
        ["pricing-curious", "v1"],
        ["staged", "v1"],
    ]
    assert "at_least: decision" in run("segments", "show", "staged").output
    assert "- awareness" in run("stages", "show").output


def test_count_and_members_scan_every_contact_now(table: Table, tmp_path: Path) -> None:
    for n in range(30):
        table.put_profile(
            f"c{n}",
            {
                "email": f"c{n}@example.com",
                "country": "DE" if n % 3 == 0 else "FR",
                "created_at": iso(time.time()),
            },
        )
    table.put_profile("old", {"email": "old@example.com", "created_at": iso(0)})
    german = tmp_path / "german.yaml"
    german.write_text("id: german\nname: G\nmatch: {field: {name: country, equals: DE}}\n")
    assert run("segments", "push", str(german), str(SEGMENTS / "gone-quiet.yaml")).exit_code == 0
    assert run("segments", "count", "german").output == "10\n"
    members = run("segments", "members", "german").output.splitlines()
    assert sorted(members) == sorted(f"c{n}\tc{n}@example.com" for n in range(0, 30, 3))
    assert run("segments", "members", "gone-quiet").output == "old\told@example.com\n"
    missing = run("segments", "count", "nope")
    assert missing.exit_code == 1 and "segment_id: no segment 'nope'" in missing.output


def test_the_api_pushes_segments_and_stages_with_the_same_checks(
    client: Client, table: Table
) -> None:
    key = {"authorization": "Bearer api-key-0123456789abcdef"}
    auth = {**key, "content-type": "text/yaml"}
    staged = b"id: staged\nname: S\nmatch: {stage: customer}\n"
    refused = client.http.post("/api/segments", headers=auth, body=staged)
    assert refused.status_code == 422
    assert json.loads(refused.body)["errors"][0]["path"] == "match.stage"
    for path in sorted(SEGMENTS.glob("*.yaml")):
        answer = client.http.post("/api/segments", headers=auth, body=path.read_bytes())
        assert answer.status_code == 201, answer.body
    again = client.http.post(
        "/api/segments", headers=auth, body=SEGMENTS.joinpath("gone-quiet.yaml").read_bytes()
    )
    assert (again.status_code, json.loads(again.body)["created"]) == (200, False)
    pushed = client.http.post("/api/stages", headers=auth, body=STAGES.read_bytes())
    assert (pushed.status_code, json.loads(pushed.body)) == (201, {"version": 1, "created": True})
    assert client.http.post("/api/segments", headers=auth, body=staged).status_code == 201
    listed = json.loads(client.http.get("/api/segments", headers=key).body)["segments"]
    assert [s["segment_id"] for s in listed] == [
        "cold-fits",
        "engaged-buyers",
        "gone-quiet",
        "hot-leads",
        "pricing-curious",
        "staged",
    ]
    broken = client.http.post("/api/stages", headers=auth, body=b"stages: [a, a]\nrulez: []\n")
    assert broken.status_code == 422
    assert {e["path"] for e in json.loads(broken.body)["errors"]} >= {"rulez"}
    assert services.versions("stages").head("lifecycle").version == 1  # nothing stored

"""The marketer's tools against the running local stack, as the README tells a person to use
them: the CLI after `. .local/env`, and the HTTP API with the local API key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Stack
from tests.e2e.test_local_stack import fetch

NURTURE = Path(sys.executable).parent / "nurture"
BASH = "/bin/bash"


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `nurture` in a shell that sourced the stack's env file, like a person would."""
    command = f". {stack.state / 'env'} && {NURTURE} {' '.join(args)}"
    return subprocess.run(  # noqa: S603 - our own command line, built from constants
        [BASH, "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_cli_sees_the_pushed_playbooks_and_previews_the_demo_contact(stack: Stack) -> None:
    listed = cli(stack, "sequences", "list")
    assert listed.returncode == 0, listed.stderr
    assert {line.split("\t")[0] for line in listed.stdout.splitlines()} >= {
        "engagement",
        "course",
        "onboarding",
        "reengagement",
        "winback",
        "welcome",
    }
    preview = cli(stack, "schedule", "preview", "--sequence", "course", "--contact", "demo-contact")
    assert preview.returncode == 0, preview.stderr
    assert len(preview.stdout.splitlines()) == 1 + 7 and "Europe/Riga (contact)" in preview.stdout


def test_api_enrolls_with_the_local_key_and_refuses_without(stack: Stack) -> None:
    key = json.loads((stack.state / "secrets.json").read_text())["api"]["api_keys"]["local"]
    # A contact of its own: the demo contact may have unsubscribed in another test.
    csv = {"Content-Type": "text/csv", "Authorization": f"Bearer {key}"}
    imported = fetch(f"{stack.api}/api/contacts", "POST", b"email\nerin@example.com\n", csv)
    assert imported[0] == 200, imported
    body = json.dumps({"email": "erin@example.com", "sequence_id": "onboarding"}).encode()
    sent = {"Content-Type": "application/json"}
    authorized = {**sent, "Authorization": f"Bearer {key}"}
    csv = {"Content-Type": "text/csv", "Authorization": f"Bearer {key}"}
    assert fetch(f"{stack.api}/api/enrollments", "POST", body, sent)[0] == 401
    status, _, imported = fetch(
        f"{stack.api}/api/contacts", "POST", b"email\nerin@example.com\n", csv
    )
    assert status == 200, imported
    [erin] = json.loads(imported)["contacts"]
    status, _, answer = fetch(f"{stack.api}/api/enrollments", "POST", body, authorized)
    assert status == 201 and json.loads(answer)["step_id"] == "welcome"
    assert json.loads(answer)["contact_id"] == erin["contact_id"]
    status, _, report = fetch(f"{stack.api}/api/reports/onboarding", headers=authorized)
    assert status == 200 and json.loads(report)["steps"][0]["step_id"] == "welcome"

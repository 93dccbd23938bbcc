"""A newcomer's first hour on the running local stack, following the README and the demo's
banner literally: `. .local/env`, then plain `nurture` (on PATH), import, ids, enroll by email,
schedule preview, render, send-test, and the demo's clicks counted in `nurture report`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import Stack
from tests.e2e.test_local_stack import fetch

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


def shell(stack: Stack, command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A fresh shell that knows nothing of the venv, sources the env file, runs `command`."""
    return subprocess.run(  # noqa: S603 - our own command lines
        ["/bin/bash", "-c", f". {stack.state / 'env'} && {command}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_the_banner_tells_how_to_use_the_cli_and_the_api_key(stack: Stack) -> None:
    assert ". .local/env" in stack.banner
    assert "nurture report --sequence engagement" in stack.banner
    assert "Authorization: Bearer $NURTURE_API_KEY" in stack.banner
    assert "Demo contact dana@example.com (demo-contact): enrolled in engagement" in stack.banner
    api = shell(
        stack,
        f'curl -s -H "Authorization: Bearer $NURTURE_API_KEY" {stack.api}/api/sequences',
        stack.state,
    )
    assert api.returncode == 0 and '"engagement"' in api.stdout, api


def test_import_enroll_by_email_preview_render_send_test(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("email,first_name,country\nnina@example.com,Nina,DE\n")
    which = shell(stack, "command -v nurture && nurture --version", tmp_path)
    assert which.returncode == 0, which
    assert which.stdout.splitlines()[0] == str(Path(sys.executable).parent / "nurture")
    imported = shell(stack, "nurture contacts import people.csv", tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert re.search(r"nina@example\.com\s+(\S+)", imported.stdout), imported.stdout
    enrolled = shell(stack, "nurture enroll --sequence onboarding NINA@example.com", tmp_path)
    assert enrolled.returncode == 0, enrolled
    assert enrolled.stdout.startswith("enrolled 1,"), enrolled.stdout
    preview = shell(
        stack, "nurture schedule preview --sequence onboarding --contact nina@example.com", tmp_path
    )
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.splitlines()[0].startswith("step\t") and "Europe/Berlin" in preview.stdout
    rendered = shell(
        stack,
        "nurture render --sequence onboarding --contact nina@example.com --out proof --no-open",
        tmp_path,
    )
    assert rendered.returncode == 0, rendered.stderr
    html = next((tmp_path / "proof").glob("onboarding-*.html")).read_text()
    assert f"{stack.api}/o/" in html and f"{stack.api}/c/" in html
    assert "From: nurture demo <hello@nurture.example>" in rendered.stdout
    sent = shell(stack, "nurture send-test --sequence onboarding nina@example.com", tmp_path)
    assert sent.returncode == 0 and sent.stdout.startswith("sent "), sent


def test_the_demo_links_clicked_show_in_the_report(stack: Stack) -> None:
    status, _, _ = fetch(stack.links["click 1"], headers={"User-Agent": BROWSER})
    assert status == 302
    deadline, report = time.monotonic() + 30, ""
    while time.monotonic() < deadline:
        report = shell(stack, "nurture report --sequence engagement", stack.state).stdout
        intro = next(line for line in report.splitlines() if line.startswith("intro\t"))
        sent, _opened, clicked = intro.split("\t")[1:4]
        if clicked.startswith("1 ") and sent == "1":
            return
        time.sleep(0.5)
    raise AssertionError(f"the demo's click is not in the report:\n{report}")

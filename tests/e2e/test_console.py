"""The console in real headless Chromium against the running local stack and its simulated
month: every page at desktop and phone width (screenshots in test-artifacts/console/), the
numbers shown equal to the API's, keyboard and contrast checks, nothing fetched from anywhere
but the console, and the actions (pause, unenroll, erase) going through for a contact the
test imports and enrolls, whose send the funnel counts beside the month."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.conversions import sign_request
from local.month import SEQUENCE
from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_local_stack import fetch

ARTIFACTS = ROOT / "test-artifacts" / "console"
NURTURE = Path(sys.executable).parent / "nurture"
WIDTHS = {"desktop": 1280, "phone": 390}
HISTORY = SEQUENCE
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Kolkata",
)

CONTRAST = """
() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const poor = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") || !el.offsetParent) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < 4.5) poor.push(`${el.tagName} "${text}" ${ratio.toFixed(2)}`);
  }
  return poor;
}
"""


WIDE = """
() => {
  const edge = document.documentElement.clientWidth + 1;
  const wide = (el) => el && el.getBoundingClientRect().right > edge;
  return [...document.querySelectorAll("body *")]
    .filter((el) => wide(el) && !wide(el.parentElement))
    .map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
}
"""
"""The outermost elements reaching past the viewport's right edge."""


@dataclass(frozen=True)
class Console:
    login: str
    base: str
    key: str
    api: str
    signing: str
    """The secret that signs product events and conversions."""

    def get(self, path: str) -> Any:
        status, _, body = fetch(
            f"{self.api}{path}", headers={"Authorization": f"Bearer {self.key}"}
        )
        assert status == 200, body
        return json.loads(body)

    def post(self, path: str, body: bytes, kind: str) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": kind}
        status, _, answer = fetch(f"{self.api}{path}", "POST", body, headers)
        assert status in (200, 201), answer
        return json.loads(answer)


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[Console]:
    process = subprocess.Popen(  # noqa: S603 - our own command line
        ["/bin/bash", "-c", f". {stack.state / 'env'} && exec {NURTURE} dashboard --no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    login = ""
    for _ in range(5):
        found = re.search(r"http://127\.0\.0\.1:\d+/login\?token=\S+", process.stdout.readline())
        if found:
            login = found.group(0)
            break
    assert login, "the console printed no address"
    secrets = json.loads((stack.state / "secrets.json").read_text())["api"]
    key, signing = secrets["api_keys"]["local"], secrets["conversion_secrets"][0]
    try:
        yield Console(login, login.split("/login")[0], key, stack.api, signing)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def someone(console: Console) -> dict[str, Any]:
    """A contact of the test's own, enrolled in the month's sequence in a zone where its send
    window is open now (not held out), once its first email is sent and counted."""
    zone = next(z for z in ZONES if 9 <= datetime.now(UTC).astimezone(ZoneInfo(z)).hour < 18)
    sent_before = console.get(f"/api/reports/{HISTORY}")["steps"][0]["sent"]
    for n in range(20):
        email = f"cora.{n}@example.com"
        row = f"email,first_name,timezone\n{email},Cora,{zone}\n".encode()
        [found] = console.post("/api/contacts", row, "text/csv")["contacts"]
        enrolled = console.post(
            "/api/enrollments",
            json.dumps({"email": email, "sequence_id": HISTORY}).encode(),
            "application/json",
        )
        if enrolled["status"] == "active":
            break
    else:
        raise AssertionError("every contact tried was held out")
    contact = found["contact_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        timeline = console.get(f"/api/contacts/{contact}/timeline")["entries"]
        counted = console.get(f"/api/reports/{HISTORY}")["steps"][0]["sent"]
        if any(entry["type"] == "sent" for entry in timeline) and counted == sent_before + 1:
            return {**console.get(f"/api/contacts/{contact}"), "email": email}
        time.sleep(1)
    raise AssertionError(f"{contact} was not sent its first email and counted in 120 s")


@pytest.fixture(scope="module")
def pages(console: Console, browser: Any) -> Iterator[dict[str, Any]]:
    """A signed-in page per width; every URL any page requests is remembered."""
    opened: dict[str, Any] = {}
    requested: list[str] = []
    problems: list[str] = []
    for name, width in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.on("console", lambda message: problems.append(message.text))
        page.goto(console.login)
        opened[name] = page
    yield {"pages": opened, "requested": requested, "problems": problems}
    for page in opened.values():
        page.context.close()


def shoot(page: Any, width: str, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{width}-{name}.png"), full_page=True)
    if (width, name) == ("desktop", "sequence"):  # the top of it is README's docs/console.png
        clip = {"x": 0, "y": 0, "width": WIDTHS["desktop"], "height": 1100}
        page.screenshot(path=str(ARTIFACTS / "readme.png"), clip=clip, full_page=True)


def test_every_page_at_desktop_and_phone_width(
    console: Console, pages: dict[str, Any], someone: dict[str, Any]
) -> None:
    visits = {
        "sequences": "/",
        "sequence": f"/sequences/{HISTORY}",
        "experiments": "/experiments",
        "contacts": f"/contacts?q={someone['email']}",
        "contact": f"/contacts/{someone['contact_id']}",
        "erase": f"/contacts/{someone['contact_id']}/erase",
        "playbook": "/sequences/engagement",
    }
    for width, page in pages["pages"].items():
        for name, path in visits.items():
            response = page.goto(console.base + path)
            assert response is not None and response.status == 200, (width, path)
            assert page.locator("h1").count() == 1
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, width, page.evaluate(WIDE))
            assert page.evaluate(CONTRAST) == [], (width, path)
            for chart in page.locator("svg.chart").all():
                assert chart.get_attribute("role") == "img"
                assert (chart.locator("title").text_content() or "").strip()
            shoot(page, width, name)
    assert all(url.startswith(console.base) for url in pages["requested"])
    assert pages["problems"] == [], pages["problems"]


def test_the_numbers_shown_are_the_apis(
    console: Console, pages: dict[str, Any], someone: dict[str, Any]
) -> None:
    report = funnel_shown_is_the_apis(console, pages["pages"]["desktop"], "")
    total = sum(step["sent"] for step in report["steps"])
    assert total > 0 and report["experiments"], "the month has sends and an A/B test"


def test_the_funnel_filtered_by_segment_and_stage_is_the_apis(
    console: Console, pages: dict[str, Any], someone: dict[str, Any]
) -> None:
    """The demo's lifecycle and segments are the filter's choices; the month's totals, counted
    before sends carried stamps, are named as left out."""
    segment = console.get("/api/segments")["segments"][0]["segment_id"]
    stage = console.get("/api/stages")["stages"][0]
    for width, page in pages["pages"].items():
        for query in (f"?stage={stage}", f"?segment={segment}&stage={stage}"):
            report = funnel_shown_is_the_apis(console, page, query)
            left_out = page.locator('[data-metric="unfilterable-sent"]').inner_text()
            assert int(left_out.replace(",", "")) == report["unfilterable"]["sent"] > 0
            assert page.locator('select[name="stage"]').input_value() == stage
        shoot(page, width, "sequence-filtered")
    page = pages["pages"]["desktop"]
    page.goto(f"{console.base}/sequences/{HISTORY}")
    page.locator('select[name="stage"]').select_option(stage)
    page.get_by_role("button", name="Apply").click()
    assert page.url.endswith(f"stage={stage}"), page.url


def funnel_shown_is_the_apis(console: Console, page: Any, query: str) -> dict[str, Any]:
    """The funnel table and the sent card of the sequence page (with `query`) against the
    API's report with the same filters."""
    page.goto(f"{console.base}/sequences/{HISTORY}{query}")
    report: dict[str, Any] = console.get(f"/api/reports/{HISTORY}{query}")
    expected: dict[tuple[str, str], dict[str, int]] = {}
    for step in report["steps"]:
        expected[(step["step_id"], "")] = step
        for variant in step.get("variants") or []:
            expected[(step["step_id"], variant["variant"])] = variant
    shown = page.evaluate(
        """() => [...document.querySelectorAll('#funnel-table tbody tr')].map((row) => {
            const head = row.querySelector('th');
            const cells = {};
            for (const td of row.querySelectorAll('td[data-metric]')) {
              cells[td.dataset.metric] = td.childNodes[0].textContent.trim();
            }
            return [head.dataset.step, head.dataset.variant, cells];
        })"""
    )
    assert len(shown) == len(expected)
    for step, variant, cells in shown:
        counts = expected[(step, variant)]
        for metric, text in cells.items():
            if metric != "revenue":
                assert int(text.replace(",", "")) == counts.get(metric, 0), (step, variant, metric)
    total = sum(step["sent"] for step in report["steps"])
    assert page.locator('.cards [data-metric="sent"]').inner_text() == f"{total:,}"
    return report


SCORING = b"""name: Console check
engagement:
  half_life: 14d
  opened: {points: 2, daily_cap: 4}
  clicked: {points: 6}
  events:
    - name: console_checked
      points: 20
temperature:
  levels: {high: 24, medium: 6}
"""
"""A model without alerts, so nothing else the stack does (webhooks) changes by pushing it."""


def shown_score(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const text = (selector) => document.querySelector(selector)?.textContent.trim();
              return {
                temperature: text('[data-field="temperature"]'),
                engagement: text('[data-field="engagement"]'),
                lines: [...document.querySelectorAll('#score-receipt tr[data-line]')].map(
                  (row) => [row.dataset.line, row.querySelector('[data-field="line-now"]')
                    .textContent.trim()]),
                total: text('[data-field="receipt-total"]'),
                unscored: !!document.querySelector('[data-field="score-unscored"]'),
              };
            }"""
        )
    )


def api_score(doc: dict[str, Any]) -> dict[str, Any]:
    engagement = doc["engagement"]
    return {
        "temperature": doc["temperature"],
        "engagement": engagement["score"],
        "lines": [[line["kind"], line["value"]] for line in engagement["lines"]],
        "total": engagement["score"] if engagement["lines"] else None,
        "unscored": doc["stored"] is None,
    }


def test_the_score_receipt_shown_is_the_apis(
    console: Console, pages: dict[str, Any], someone: dict[str, Any]
) -> None:
    contact = someone["contact_id"]
    path = f"/api/contacts/{contact}/score"
    for page in pages["pages"].values():  # the stack starts with no scoring model
        page.goto(f"{console.base}/contacts/{contact}")
        missing = page.locator('[data-field="score-missing"]').inner_text()
        assert missing.startswith("No scoring model is pushed: push one"), missing
        assert page.locator("#score-receipt").count() == 0
    console.post("/api/scoring", SCORING, "application/yaml")
    body = json.dumps(
        {
            "event_id": f"console-{contact}",
            "contact": contact,
            "name": "console_checked",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ).encode()
    for round_ in ("never scored", "scored"):
        if round_ == "scored":
            signature = sign_request(console.signing, body, int(time.time()))
            headers = {"Content-Type": "application/json", "X-Nurture-Signature": signature}
            assert fetch(f"{console.api}/api/events", "POST", body, headers)[0] == 200
            deadline = time.monotonic() + 60
            while console.get(path)["stored"] is None:
                assert time.monotonic() < deadline, "the stream never scored the event"
                time.sleep(0.5)
        for width, page in pages["pages"].items():
            before = api_score(console.get(path))
            page.goto(f"{console.base}/contacts/{contact}")
            after = api_score(console.get(path))
            shown = shown_score(page)
            assert shown in (before, after), (round_, width, shown, before)
            assert shown["unscored"] == (round_ == "never scored")
            shoot(page, width, f"contact-score-{round_.replace(' ', '-')}")
    assert ["event:console_checked", "20.00"] in shown["lines"], shown  # 2 s of 14 d decay


def test_keyboard_reaches_the_content_first(console: Console, pages: dict[str, Any]) -> None:
    page = pages["pages"]["desktop"]
    page.goto(f"{console.base}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_pause_unenroll_and_erase_from_the_console(
    console: Console, pages: dict[str, Any], someone: dict[str, Any]
) -> None:
    page = pages["pages"]["desktop"]
    contact = someone["contact_id"]
    page.goto(f"{console.base}/contacts/{contact}")
    page.get_by_role("button", name="Pause").click()
    assert page.get_by_role("status").count() == 1, page.inner_text("body")
    assert page.get_by_role("status").inner_text() == "Mail paused."
    assert console.get(f"/api/contacts/{contact}")["paused_until"]
    page.get_by_role("button", name=f"Unenroll from {HISTORY}").click()
    assert page.get_by_role("status").inner_text() == "Unenrolled."
    shown = console.get(f"/api/contacts/{contact}")
    assert {e["status"] for e in shown["enrollments"]} == {"exited"}
    page.goto(f"{console.base}/contacts/{contact}/erase")
    page.get_by_label("Type the contact id").fill("not-it")
    page.get_by_role("button", name="Erase for good").click()
    assert "nothing was erased" in page.get_by_role("status").inner_text()
    page.get_by_label("Type the contact id").fill(contact)
    page.get_by_role("button", name="Erase for good").click()
    assert page.locator("h1").inner_text() == "Erased"
    status, _, _ = fetch(
        f"{console.api}/api/contacts/{contact}",
        headers={"Authorization": f"Bearer {console.key}"},
    )
    assert status == 404
    shoot(page, "desktop", "erased")

"""A person's path through the demo email on the running local stack (curl, then Chromium)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Stack

PHONE = {"width": 390, "height": 844}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Like curl: no Accept header unless given, redirects not followed."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_demo_email_was_sent_through_ses_with_tracked_links(stack: Stack) -> None:
    with urllib.request.urlopen(f"{stack.moto}/moto-api/data.json", timeout=10) as answer:  # noqa: S310
        messages = json.load(answer)["ses"]["Message"]
    # Other e2e tests may have sent mail to contacts of their own by now: the demo's is Dana's.
    [body] = [json.dumps(m) for m in messages if "dana@example.com" in json.dumps(m)]
    for url in stack.links.values():
        assert url in body


def test_pixel_click_and_tamper_like_curl(stack: Stack) -> None:
    before = len(stack.events())
    status, headers, body = fetch(stack.links["open pixel"])
    assert (status, headers["Content-Type"], body[:6]) == (200, "image/gif", b"GIF89a")
    status, headers, _ = fetch(stack.links["click 1"])
    assert (status, headers["Content-Type"]) == (302, "text/plain; charset=utf-8")
    assert headers["Location"].startswith("https://example.com/signup?utm_source=nurture")
    link = stack.links["click 2"]
    tampered = link[:-3] + ("xyz" if not link.endswith("xyz") else "abc")
    status, headers, body = fetch(tampered)
    assert status == 404 and "Location" not in headers and b"not valid" in body
    kinds = sorted(e["type"] for e in stack.events()[before:])
    assert kinds == ["clicked", "opened"]


def test_unsubscribe_page_in_chromium_then_one_click(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    url = stack.links["unsubscribe"]
    page = browser.new_page(viewport=PHONE)
    for _ in range(2):
        page.goto(url)
    assert fetch(url, method="HEAD")[0] == 200
    assert not [e for e in stack.events() if e["type"] == "unsubscribed"], "GET/HEAD changed state"
    page.get_by_label("I get too many emails").check()
    page.get_by_label("Anything else you would like to tell us?").fill("Weekly is plenty <b>x</b>")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "preferences.png"), full_page=True)
    page.get_by_role("button", name="Unsubscribe from all emails").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    [audit] = [e for e in stack.events() if e["type"] == "unsubscribed"]
    assert (audit["method"], audit["reason"]) == ("page", "too_many")
    assert audit["reason_text"] == "Weekly is plenty <b>x</b>"
    status, headers, _ = fetch(
        url,
        "POST",
        b"List-Unsubscribe=One-Click",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and "Set-Cookie" not in headers and "Location" not in headers
    assert len([e for e in stack.events() if e["type"] == "unsubscribed"]) == 1
    page.goto(url)  # back on the page later: the unsubscribed state, since when, and the way back
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert page.locator("time").get_attribute("datetime") == audit["at"]
    expect(page.get_by_text("sign up again", exact=False)).to_be_visible()
    expect(page.get_by_role("button", name="Save preferences")).to_have_count(0)
    page.close()

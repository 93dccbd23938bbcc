"""A newcomer's first webhook: click the demo link, and the local receiver gets the event,
signed, as the API's delivery record shows."""

from __future__ import annotations

import json
import time
import urllib.request

from tests.e2e.conftest import Stack
from tests.e2e.test_local_stack import fetch


def _deliveries(stack: Stack) -> list[dict[str, object]]:
    key = json.loads((stack.state / "secrets.json").read_text())["api"]["api_keys"]["local"]
    request = urllib.request.Request(  # noqa: S310 - the local stack's own API
        f"{stack.api}/api/webhooks/demo/deliveries?limit=100",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())["deliveries"]  # type: ignore[no-any-return]


def test_a_click_on_the_demo_link_is_delivered_to_the_local_receiver(stack: Stack) -> None:
    before = {d["event_id"] for d in _deliveries(stack)}
    status, _, _ = fetch(stack.links["click 2"])
    assert status == 302
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = [d for d in _deliveries(stack) if d["event_id"] not in before]
        if any(d["event_type"] == "clicked" and d["status"] == "delivered" for d in new):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no delivered click among {new}")
    clicked = next(d for d in new if d["event_type"] == "clicked")
    assert (clicked["attempts"], clicked["last_status"]) == (1, 200)

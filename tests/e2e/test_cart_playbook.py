"""The cart-abandonment playbook on the running local stack: the shop posts `cart_updated`,
the contact is enrolled by the trigger, and (on the player's clock, moved four hours and more
ahead) the reminder goes out carrying the cart link from the event."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

from chalicelib.conversions import sign_request
from tests.e2e.conftest import Stack
from tests.e2e.test_local_stack import fetch

CART_URL = "https://shop.example/cart/e2e-42?step=review"


def wait_for(what: str, found: Any, seconds: float = 45) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def sent_to(stack: Stack, address: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.moto}/moto-api/data.json", timeout=10) as answer:  # noqa: S310
        messages = json.load(answer)["ses"]["Message"]
    return [m for m in messages if address in json.dumps(m)]


def test_a_cart_event_enrolls_and_the_reminder_carries_the_cart_link(stack: Stack) -> None:
    secrets = json.loads((stack.state / "secrets.json").read_text())["api"]
    key = {"Authorization": f"Bearer {secrets['api_keys']['local']}"}
    imported = fetch(
        f"{stack.api}/api/contacts",
        "POST",
        b"email,first_name\ncara@example.com,Cara\n",
        {**key, "Content-Type": "text/csv"},
    )
    assert imported[0] == 200, imported[2]
    contact_id = json.loads(imported[2])["contacts"][0]["contact_id"]
    body = json.dumps(
        {
            "event_id": "cart-e2e-42",
            "contact": "Cara@Example.com",  # by address: the stream finds the contact
            "name": "cart_updated",
            "properties": {"cart_url": CART_URL, "items_count": 2},
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ).encode()
    signed = {
        "Content-Type": "application/json",
        "X-Nurture-Signature": sign_request(
            secrets["conversion_secrets"][0], body, int(time.time())
        ),
    }
    status, _, answer = fetch(f"{stack.api}/api/events", "POST", body, signed)
    assert (status, json.loads(answer)) == (200, {"event_id": "cart-e2e-42", "duplicate": False})
    assert json.loads(fetch(f"{stack.api}/api/events", "POST", body, signed)[2])["duplicate"]

    dynamodb = stack.client("dynamodb")

    def enrollment() -> dict[str, Any] | None:
        key = {"PK": {"S": f"C#{contact_id}"}, "SK": {"S": "E#cart"}}
        return dynamodb.get_item(TableName="nurture-local", Key=key).get("Item")

    assert wait_for("the trigger's enrollment", enrollment)["status"]["S"] == "active"
    assert sent_to(stack, "cara@example.com") == []  # the reminder waits four hours
    clock = stack.state / "clock-offset"
    clock.write_text(str(3 * 86_400))  # the player's clock three days ahead
    try:
        reminders = wait_for(
            "the reminder",
            lambda: [
                m
                for m in sent_to(stack, "cara@example.com")
                if "You left something in your cart" in json.dumps(m)
            ],
        )
    finally:
        clock.write_text("0")
    html = json.dumps(reminders[0])
    links = re.findall(rf"{re.escape(stack.api)}/c/[A-Za-z0-9_.-]+", html)
    destinations = {fetch(link)[1].get("Location") for link in links}
    assert CART_URL in destinations

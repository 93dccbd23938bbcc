"""Recipient pages in Chromium when the table cannot be read (in-process moto, no stack)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from playwright.sync_api import expect

from chalicelib import services
from chalicelib.store import Table
from chalicelib.tokens import Purpose
from tests.conftest import token_for

PHONE = {"width": 390, "height": 844}


def outage(**_: object) -> None:
    raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "GetItem")


@pytest.fixture
def table_down(table: Table) -> Iterator[Table]:
    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.GetItem", outage, unique_id="down")
    yield table
    events.unregister("before-call.dynamodb.GetItem", unique_id="down")


def test_the_preferences_page_degrades_to_unsubscribing_when_the_table_is_down(
    client: Client, table_down: Table, browser: Any
) -> None:
    response = client.http.get(f"/u/{token_for(Purpose.UNSUBSCRIBE)}")
    assert response.status_code == 200
    page = browser.new_page(viewport=PHONE)
    page.set_content(response.body.decode())
    expect(page.get_by_role("status")).to_contain_text("cannot show your current choices")
    expect(page.get_by_role("button", name="Unsubscribe from all emails")).to_be_visible()
    expect(page.get_by_role("button", name="Save preferences")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.close()

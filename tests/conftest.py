"""Shared fixtures. moto is imported and configured before anything creates a boto3 client."""

from __future__ import annotations

import base64
import json
import os
import time

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    NURTURE_TABLE="nurture-test",
    NURTURE_BASE_URL="https://t.example.test",
    NURTURE_SENDER="news@nurture.example",
    NURTURE_SCHEDULE_GROUP="nurture",
    NURTURE_SCHEDULE_TARGET_ARN="arn:aws:lambda:us-east-1:123456789012:function:on_schedule",
    NURTURE_SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/nurture-scheduler",
    NURTURE_SCHEDULE_DLQ_ARN="arn:aws:sqs:us-east-1:123456789012:nurture-schedule-dlq",
    NURTURE_PARK_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/nurture-park",
    NURTURE_WEBHOOK_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/nurture-webhooks",
    NURTURE_WEBHOOK_DLQ_URL="https://sqs.us-east-1.amazonaws.com/123456789012/nurture-webhooks-dlq",
    NURTURE_WEBHOOK_RETRY_TARGET_ARN="arn:aws:lambda:us-east-1:123456789012:function:retry_webhooks",
    NURTURE_WEBHOOK_SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/nurture-webhook-scheduler",
    NURTURE_WEBHOOK_SCHEDULE_DLQ_ARN="arn:aws:sqs:us-east-1:123456789012:nurture-webhooks-dlq",
    NURTURE_IMPORT_BUCKET="nurture-imports-test",
    NURTURE_IMPORT_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/nurture-imports",
    NURTURE_SIGNING_KEYS=json.dumps(
        {
            "active": "k2",
            "keys": {
                "k1": base64.b64encode(b"old-key-0123456789abcdef").decode(),
                "k2": base64.b64encode(b"new-key-0123456789abcdef").decode(),
            },
        }
    ),
    NURTURE_API_KEYS=json.dumps(
        {
            "api_keys": {"ci": "api-key-0123456789abcdef"},
            "conversion_secrets": ["conv-secret-0123456789abcdef"],
        }
    ),
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import settings
from moto import mock_aws

from chalicelib import services
from chalicelib.store import Table
from chalicelib.tokens import Claims, Keyring, Purpose, sign

CONVERSION_SECRET = "conv-secret-0123456789abcdef"

# No per-example deadline: on a machine shared with other work a first example can take a
# quarter second; work is bounded by limits, never by timing the tests.
settings.register_profile("nurture", deadline=None)
settings.load_profile("nurture")


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account with the table and the park queue; clients are reused."""
    with mock_aws():
        services.table().create()
        services.client("sqs").create_queue(QueueName="nurture-park")
        yield


@pytest.fixture
def table(aws: None) -> Table:
    return services.table()


@pytest.fixture
def keyring() -> Keyring:
    return services.keyring()


@pytest.fixture(scope="session")
def client() -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


def token_for(
    purpose: Purpose,
    contact: str = "alice",
    send: str = "send-1",
    *,
    age: float = 3600,
    link: int | None = None,
    url: str | None = None,
) -> str:
    """A genuine token for a message sent `age` seconds ago."""
    issued = int(time.time() - age)
    return sign(Claims(purpose, contact, send, issued, link, url), services.keyring())


def events_of(table: Table, contact: str = "alice", kind: str | None = None) -> list[dict]:
    return [e for e in table.events(contact) if kind is None or e["type"] == kind]


def headers(response: Any) -> dict[str, str]:
    """Response headers by lower-case name (HTTP header names are case-insensitive)."""
    return {name.lower(): value for name, value in response.headers.items()}


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium through Playwright, one for the whole run (Playwright's sync
    API allows one at a time)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()

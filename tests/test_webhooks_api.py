"""The webhook routes of the marketer API: authenticated, bad input answered 4xx naming the
field, nothing stored by a refused push."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalicelib import services, store

KEY = {"authorization": "Bearer api-key-0123456789abcdef"}
YAML = {"content-type": "application/yaml", **KEY}
JSON = {"content-type": "application/json", **KEY}
GOOD = b"webhooks:\n  - id: crm\n    url: https://93.184.216.34/hooks/nurture\n"


@pytest.fixture
def queues(table: store.Table) -> Iterator[None]:
    sqs = services.client("sqs")
    sqs.create_queue(QueueName="nurture-webhooks")
    sqs.create_queue(QueueName="nurture-webhooks-dlq")
    yield


def _doc(response: object) -> dict:  # type: ignore[type-arg]
    return json.loads(response.body)  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("method", "path", "sent"),
    [
        ("GET", "/api/webhooks", {}),
        ("POST", "/api/webhooks", {"content-type": "application/yaml"}),
        ("POST", "/api/webhooks/validate", {"content-type": "application/yaml"}),
        ("GET", "/api/webhooks/crm/deliveries", {}),
        ("GET", "/api/webhooks/crm/secrets", {}),
        ("POST", "/api/webhooks/crm/secrets", {}),
        ("POST", "/api/webhooks/crm/secrets/retire", {}),
        ("POST", "/api/webhooks/crm/enable", {}),
        ("POST", "/api/webhooks/test", {"content-type": "application/json"}),
        ("POST", "/api/webhooks/redrive", {"content-type": "application/json"}),
    ],
)
def test_every_webhook_route_needs_an_api_key(
    client: Client, queues: None, method: str, path: str, sent: dict[str, str]
) -> None:
    response = client.http.request(method, path, headers=sent, body=GOOD)
    assert response.status_code == 401
    assert services.versions("webhooks").head("webhooks") is None


def test_push_list_rotate_retire_and_deliveries(client: Client, queues: None) -> None:
    pushed = client.http.post("/api/webhooks", headers=YAML, body=GOOD)
    assert pushed.status_code == 201
    doc = _doc(pushed)
    assert (doc["version"], doc["created"]) == (1, True)
    first = doc["new_secrets"]["crm"]
    assert client.http.post("/api/webhooks", headers=YAML, body=GOOD).status_code == 200

    listed = _doc(client.http.get("/api/webhooks", headers=KEY))["webhooks"]
    assert [(w["id"], w["enabled"], w["delivered"], w["secrets"]) for w in listed] == [
        ("crm", True, 0, 1)
    ]
    rotated = client.http.post("/api/webhooks/crm/secrets", headers=KEY)
    assert rotated.status_code == 201
    secrets = _doc(client.http.get("/api/webhooks/crm/secrets", headers=KEY))["secrets"]
    assert [s["value"] for s in secrets] == [_doc(rotated)["value"], first]
    retired = client.http.post("/api/webhooks/crm/secrets/retire", headers=KEY)
    assert _doc(retired) == {"retired": 1}
    assert _doc(client.http.get("/api/webhooks/crm/deliveries", headers=KEY)) == {"deliveries": []}
    enabled = client.http.post("/api/webhooks/crm/enable", headers=KEY)
    assert _doc(enabled) == {"enabled": True, "was_disabled": False}
    redrive = client.http.post("/api/webhooks/redrive", headers=JSON, body=b'{"dry_run": true}')
    assert _doc(redrive) == {"dry_run": True, "redriven": [], "skipped": [], "minutes": []}


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"webhooks:\n  - id: crm\n    url: http://93.184.216.34/\n", 422, "webhooks[0].url"),
        (b"webhooks:\n  - id: crm\n    url: https://10.0.0.1/\n", 422, "webhooks[0].url"),
        (b"webhooks:\n  - id: crm\n    url: https://[::ffff:127.0.0.1]/\n", 422, "webhooks[0].url"),
        (b"webhooks:\n  - id: crm\n    urll: https://93.184.216.34/\n", 422, "webhooks[0].urll"),
        (b"webhooks: [\n", 422, "invalid YAML"),
        (b"\xff\xfe", 400, "body"),
        (
            b"webhooks:\n  - id: crm\n    url: https://93.184.216.34/\n    events: [x]\n",
            422,
            "events[0]",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_path_and_nothing_is_stored(
    client: Client, queues: None, body: bytes, status: int, names: str
) -> None:
    for path in ("/api/webhooks", "/api/webhooks/validate"):
        response = client.http.post(path, headers=YAML, body=body)
        assert response.status_code == status
        assert names in response.body.decode()
    assert services.versions("webhooks").head("webhooks") is None


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/webhooks/crm/deliveries?limit=abc", b"", "limit"),
        ("GET", "/api/webhooks/crm/deliveries?limit=\u00b2", b"", "limit"),
        ("GET", "/api/webhooks/crm/deliveries?limit=501", b"", "limit"),
        ("GET", "/api/webhooks?days=0", b"", "days"),
        ("POST", "/api/webhooks/test", b"{}", "url"),
        ("POST", "/api/webhooks/test", b'{"url": 7}', "url"),
        ("POST", "/api/webhooks/test", b'{"url": "http://93.184.216.34/"}', "url"),
        ("POST", "/api/webhooks/test", b'{"url": "https://169.254.169.254/"}', "url"),
        (
            "POST",
            "/api/webhooks/test",
            b'{"url": "https://93.184.216.34/", "secret": "abc"}',
            "secret",
        ),
        (
            "POST",
            "/api/webhooks/test",
            b'{"url": "https://93.184.216.34/", "secret": "whsec_!!"}',
            "secret",
        ),
        ("POST", "/api/webhooks/test", b"[1]", "body"),
        ("POST", "/api/webhooks/redrive", b'{"limit": "x"}', "limit"),
        ("POST", "/api/webhooks/redrive", b'{"limit": true}', "limit"),
        ("POST", "/api/webhooks/redrive", b'{"limit": 0}', "limit"),
        ("POST", "/api/webhooks/redrive", b'{"dry_run": "yes"}', "dry_run"),
        ("POST", "/api/webhooks/redrive", b"not json", "body"),
        ("POST", "/api/webhooks/redrive", b'{"dryrun": true}', "dryrun"),
        (
            "POST",
            "/api/webhooks/test",
            b'{"url": "https://93.184.216.34/", "sekret": "x"}',
            "sekret",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: Client, queues: None, method: str, path: str, body: bytes, field: str
) -> None:
    client.http.post("/api/webhooks", headers=YAML, body=GOOD)
    response = client.http.request(method, path, headers=JSON, body=body)
    assert response.status_code == 400, response.body
    assert _doc(response)["error"].startswith(f"{field}:")


def test_unknown_webhooks_are_404(client: Client, queues: None) -> None:
    client.http.post("/api/webhooks", headers=YAML, body=GOOD)
    for method, path in (
        ("GET", "/api/webhooks/nope/deliveries"),
        ("GET", "/api/webhooks/nope/secrets"),
        ("POST", "/api/webhooks/nope/secrets"),
        ("POST", "/api/webhooks/nope/enable"),
    ):
        assert client.http.request(method, path, headers=KEY).status_code == 404

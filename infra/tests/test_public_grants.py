"""The public function, as synthesized, serves every recipient route: each is driven on moto
through `app.public` (HTTP API payload 2.0) with exactly the environment the template gives the
function (its table, queue and secrets stood up on moto; no marketer key, secret or setting), so
a route that reaches for anything else answers 500 here as it would in AWS. Every call is
recorded and checked against the role's statements (action, table or index, leading keys): moto
enforces no IAM, so without this a missing grant would fail only in AWS."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import assertions
from deployed import public_function, secrets_named, stand_up
from infra_testing import INFRA

Json = dict[str, Any]
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def public_statements(template: assertions.Template) -> list[Json]:
    role = public_function(template)[1]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def table_calls(operation: str, params: Json) -> Iterator[tuple[str, str, bool]]:
    """(IAM action, partition key, on an index) of each item a DynamoDB call touches."""
    if operation == "TransactWriteItems":
        for entry in params["TransactItems"]:
            ((kind, body),) = entry.items()
            key = body.get("Key") or body.get("Item")
            yield f"dynamodb:{TRANSACT_ACTIONS[kind]}", key["PK"]["S"], False
    elif operation == "BatchWriteItem":
        for requests in params["RequestItems"].values():
            for request in requests:
                item = (request.get("PutRequest") or {}).get("Item") or request["DeleteRequest"][
                    "Key"
                ]
                yield "dynamodb:BatchWriteItem", item["PK"]["S"], False
    elif operation == "BatchGetItem":
        for wanted in params["RequestItems"].values():
            for key in wanted["Keys"]:
                yield "dynamodb:BatchGetItem", key["PK"]["S"], False
    elif operation in ("Query", "Scan"):
        values = params.get("ExpressionAttributeValues") or {}
        pk = values.get(":pk", {}).get("S", "*")
        yield f"dynamodb:{operation}", pk, "IndexName" in params
    else:
        key = params.get("Key") or params.get("Item")
        yield f"dynamodb:{operation}", key["PK"]["S"], False


def allowed(statements: list[Json], action: str, pk: str, index: bool) -> bool:
    for statement in statements:
        if action not in as_list(statement["Action"]):
            continue
        resources = json.dumps(statement["Resource"])
        if index and "/index/" not in resources:
            continue
        keys = (
            statement.get("Condition", {})
            .get("ForAllValues:StringLike", {})
            .get("dynamodb:LeadingKeys")
        )
        if keys is None or any(fnmatch.fnmatchcase(pk, pattern) for pattern in keys):
            return True
    return False


def forget_settings(*, clients: bool = False) -> None:
    """Drop the settings and what `services` built from them (and its clients if asked)."""
    from chalicelib import services
    from chalicelib.config import settings

    settings.cache_clear()
    for built in vars(services).values():
        if hasattr(built, "cache_clear") and (clients or built is not services.client):
            built.cache_clear()


@pytest.fixture
def deployed(
    template: assertions.Template, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A moto account holding what the public function's environment names, and the process
    environment set to that environment alone (with moto's credentials and region)."""
    from moto import mock_aws

    from chalicelib import services

    for name in list(os.environ):
        if name.startswith(("NURTURE_", "POWERTOOLS_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    forget_settings(clients=True)  # clients made before moto's mock, or for another region
    with mock_aws():
        environment = stand_up(template, services.client, "us-east-1")
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        forget_settings()
        yield environment
    forget_settings(clients=True)


@pytest.fixture
def recorded(deployed: dict[str, str]) -> Iterator[list[tuple[str, str, Json]]]:
    from chalicelib import services

    calls: list[tuple[str, str, Json]] = []

    def seen(model: Any, params: Json, **_: Any) -> None:
        calls.append((model.service_model.service_name, model.name, params))

    for service in ("dynamodb", "sqs"):
        services.client(service).meta.events.register("provide-client-params.*.*", seen)
    yield calls
    for service in ("dynamodb", "sqs"):
        services.client(service).meta.events.unregister("provide-client-params.*.*", seen)


def http(method: str, route: str, path: str, body: bytes = b"", **headers: str) -> Json:
    """An HTTP API payload 2.0 request."""
    event: Json = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"user-agent": "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15", **headers},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "192.0.2.1"},
            "requestId": "grants",
            "routeKey": f"{method} {route}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if "{token}" in route:
        event["pathParameters"] = {"token": path.rsplit("/", 1)[1]}
    if body:
        event["body"] = body.decode()
    return event


def repo_app() -> Any:
    """The repository's app.py (`app` on this path is the CDK entry point)."""
    spec = importlib.util.spec_from_file_location("nurture_app", INFRA.parent / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def token_for(purpose: Any, **more: Any) -> str:
    """Alice's token of a message sent an hour ago, signed with the deployed signing keys."""
    from chalicelib import services
    from chalicelib.tokens import Claims, sign

    return sign(
        Claims(purpose, "alice", "send-1", int(time.time()) - 3600, **more), services.keyring()
    )


def signed(doc: Json) -> tuple[bytes, dict[str, str]]:
    """A server-to-server body signed with the deployed conversion secret."""
    from chalicelib import conversions, services

    body = json.dumps(doc).encode()
    (secret,) = services.conversion_secrets()
    signature = conversions.sign_request(secret, body, int(time.time()))
    return body, {"content_type": "application/json", "x_nurture_signature": signature}


def test_every_call_of_the_recipient_routes_is_granted(
    template: assertions.Template, recorded: list[tuple[str, str, Json]]
) -> None:
    from chalicelib import services
    from chalicelib.tokens import Purpose

    services.table().put_profile("alice", {"email": "alice@example.com"})
    recorded.clear()  # the marketer's import above is not a recipient route
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    click = token_for(Purpose.CLICK, link=0, url="https://example.com/")
    unsubscribe = token_for(Purpose.UNSUBSCRIBE)
    form = {"content-type": "application/x-www-form-urlencoded"}
    requests = [
        http("GET", "/o/{token}", f"/o/{token_for(Purpose.OPEN)}"),
        http("GET", "/c/{token}", f"/c/{click}"),
        http("HEAD", "/c/{token}", f"/c/{click}"),
        http("GET", "/u/{token}", f"/u/{unsubscribe}"),
        http("POST", "/u/{token}", f"/u/{unsubscribe}", b"action=update&pause_days=30", **form),
        http("POST", "/u/{token}", f"/u/{unsubscribe}", b"List-Unsubscribe=One-Click", **form),
    ]
    for doc in (
        {"conversion_id": "o-1", "token": token_for(Purpose.CONVERSION), "value": 9.5},
        {"conversion_id": "o-2", "contact_id": "alice"},
    ):
        body, headers = signed(doc)
        requests.append(http("POST", "/api/conversions", "/api/conversions", body, **headers))
    for doc in (
        {"event_id": "e-1", "contact": "alice", "name": "cart_updated", "at": at},
        {"event_id": "e-2", "contact": "bob@example.com", "name": "signed_up", "at": at},
        {"events": [{"event_id": "e-3", "contact": "alice", "name": "viewed", "at": at}]},
    ):
        body, headers = signed(doc)
        requests.append(http("POST", "/api/events", "/api/events", body, **headers))
    for request in requests:
        request["headers"] = {k.replace("_", "-"): v for k, v in request["headers"].items()}
        answer = repo_app().public(request, None)
        assert answer["statusCode"] in (200, 302), (request["routeKey"], answer)

    statements = public_statements(template)
    checked = 0
    for service, operation, params in recorded:
        if service == "sqs":
            assert allowed(statements, f"sqs:{operation}", "", False), operation
            continue
        for action, pk, index in table_calls(operation, params):
            assert allowed(statements, action, pk, index), (action, pk, index)
            checked += 1
    assert checked >= len(requests)


def test_the_public_function_is_given_no_marketer_secret_and_may_read_its_own(
    template: assertions.Template, deployed: dict[str, str]
) -> None:
    named = secrets_named(template)
    assert set(named) == {"NURTURE_SIGNING_KEYS_SECRET", "NURTURE_CONVERSION_SECRETS_SECRET"}
    assert not {"NURTURE_API_KEYS", "NURTURE_API_KEYS_SECRET", "NURTURE_SENDER"} & set(deployed)
    statements = public_statements(template)
    for logical in named.values():
        assert any(
            "secretsmanager:GetSecretValue" in as_list(statement["Action"])
            and statement["Resource"] == {"Ref": logical}
            for statement in statements
        ), logical

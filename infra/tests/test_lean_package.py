"""The public function's package serves every recipient route with nothing else: the
distributions bundling.PUBLIC_DISTRIBUTIONS installs (and their dependencies, Chalice's
excepted), the app's sources, and what the Lambda runtime brings (boto3, botocore and theirs).
A fresh interpreter without site-packages runs each route through app.public, with exactly the
environment the synthesized stack gives the function, against a moto server holding what that
environment names (its table, queue and secrets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions
from deployed import stand_up
from infra_testing import INFRA
from nurture_infra.bundling import APP_SOURCES, PUBLIC_DISTRIBUTIONS
from nurture_infra.localruntime import RUNTIME, closure, link_distributions

from local.ports import moto_server

ROOT = INFRA.parent
SERVE_EVERY_ROUTE = r"""
import base64, json, sys, time
import app
from chalicelib import conversions, services
from chalicelib.tokens import Claims, Purpose, sign

keys = services.keyring()  # from Secrets Manager, as in AWS
(conversion_secret,) = services.conversion_secrets()
now = int(time.time()) - 3600
def token(purpose, **more):
    return sign(Claims(purpose, "alice", "send-1", now, **more), keys)

def call(method, route, token=None, body=b"", headers=None):
    path = route.replace("{token}", token or "")
    event = {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path,
        "rawQueryString": "", "headers": {"user-agent": "Mozilla/5.0 (X11)", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "192.0.2.1"},
                           "stage": "$default", "requestId": "r"},
        "isBase64Encoded": bool(body),
    }
    if token:
        event["pathParameters"] = {"token": token}
    if body:
        event["body"] = base64.b64encode(body).decode()
    return app.public(event, None)["statusCode"]

def signed(doc):
    body = json.dumps(doc).encode()
    stamp = conversions.sign_request(conversion_secret, body, int(time.time()))
    return body, {"content-type": "application/json", "x-nurture-signature": stamp}

at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
answers = [
    call("GET", "/o/{token}", token(Purpose.OPEN)),
    call("GET", "/c/{token}", token(Purpose.CLICK, link=0, url="https://example.com/")),
    call("GET", "/u/{token}", token(Purpose.UNSUBSCRIBE)),
    call("POST", "/u/{token}", token(Purpose.UNSUBSCRIBE), b"List-Unsubscribe=One-Click",
         {"content-type": "application/x-www-form-urlencoded"}),
    call("POST", "/api/conversions", None,
         *signed({"conversion_id": "o-1", "token": token(Purpose.CONVERSION)})),
    call("POST", "/api/events", None,
         *signed({"event_id": "e-1", "contact": "alice", "name": "cart_updated", "at": at})),
]
loaded = sorted({m.split(".")[0] for m, mod in sys.modules.items()
                 if (getattr(mod, "__file__", None) or "").startswith(sys.argv[1])})
print(json.dumps({"answers": answers, "loaded": loaded}))
"""


CREDENTIALS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@pytest.fixture
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_the_public_package_serves_every_recipient_route(
    tmp_path: Path, template: assertions.Template, endpoint: str
) -> None:
    import boto3

    from chalicelib.store import Table

    session = boto3.session.Session(
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    deployed = stand_up(template, client, CREDENTIALS["AWS_DEFAULT_REGION"])
    table = Table(client("dynamodb"), deployed["NURTURE_TABLE"])
    table.put_profile("alice", {"email": "alice@example.com"})
    package, runtime = tmp_path / "package", tmp_path / "runtime"
    package.mkdir()
    runtime.mkdir()
    link_distributions(closure(sorted(PUBLIC_DISTRIBUTIONS)), package)
    for name in APP_SOURCES:
        if (ROOT / name).exists():
            (package / name).symlink_to(ROOT / name)
    link_distributions(closure(list(RUNTIME)), runtime)
    environment = {
        **deployed,  # the function's own variables, nothing more
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{package}{os.pathsep}{runtime}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-S", "-c", SERVE_EVERY_ROUTE, str(package)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["answers"] == [200, 302, 200, 200, 200, 200]
    assert {"opened", "clicked", "unsubscribed"} <= {
        event["type"] for event in table.events("alice")
    }
    assert {"app", "chalice", "chalicelib", "jinja2"} <= set(answer["loaded"])
    assert not {"pydantic", "yaml", "holidays", "css_inline", "botocore"} & set(answer["loaded"])

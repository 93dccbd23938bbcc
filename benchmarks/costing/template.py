"""What the synthesized CloudFormation template says about the costed path: the front door of the
recipient routes (REST or HTTP API, payload format, access logs, tracing, WAF), the function
behind them, and the stream consumer's filters and batching. Synthesized offline (no bundling)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parent.parent.parent / "infra"
Json = dict[str, Any]


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str
    architecture: str
    memory_mb: int
    tracing: bool
    platform_logs: bool  # START/END/REPORT lines (off when the system log level is WARN+)


@dataclass(frozen=True)
class FrontDoor:
    kind: str  # "rest" or "http"
    payload_format: str  # "1.0" (REST shape) or "2.0"
    function: Function
    access_log_format: str
    tracing: bool
    waf: bool


@dataclass(frozen=True)
class StreamMapping:
    function: Function
    batch_size: int
    window_seconds: int
    filters: tuple[Json, ...]


@dataclass(frozen=True)
class Deployment:
    front_door: FrontDoor
    stream: StreamMapping
    functions: dict[str, Function]  # by handler string


def synthesize() -> Json:
    """The default stage's template, as `infra/check.sh` synthesizes it."""
    os.environ.setdefault("CDK_DEFAULT_ACCOUNT", "123456789012")
    os.environ.setdefault("CDK_DEFAULT_REGION", "us-east-1")
    node = subprocess.run(
        ["node", "-p", "process.versions.node.split('.')[0]"],  # noqa: S607 - node from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", node.stdout.strip())
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    sys.path.append(str(INFRA))  # after the repository: `app` stays the Lambda app
    from aws_cdk import Stack, assertions
    from nurture_infra.assembly import build_app

    absent = Path(tempfile.mkdtemp()) / "absent.json"
    app = build_app(
        {"aws:cdk:bundling-stacks": [], "config": str(absent), "sender": "news@example.com"}
    )
    (stack,) = [c for c in app.node.children if isinstance(c, Stack)]
    return dict(assertions.Template.from_stack(stack).to_json())


def read(template: Json) -> Deployment:
    resources: Json = template["Resources"]
    functions = {
        lid: _function(lid, r["Properties"])
        for lid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    return Deployment(
        _front_door(resources, functions),
        _stream(resources, functions),
        {f.handler: f for f in functions.values()},
    )


def _function(logical_id: str, props: Json) -> Function:
    system_level = props.get("LoggingConfig", {}).get("SystemLogLevel", "INFO")
    return Function(
        logical_id,
        props["Handler"],
        (props.get("Architectures") or ["x86_64"])[0],
        int(props.get("MemorySize", 128)),
        props.get("TracingConfig", {}).get("Mode") == "Active",
        system_level not in ("WARN", "ERROR", "FATAL"),
    )


def _referenced(value: Any, functions: dict[str, Function]) -> Function | None:
    """The Lambda function a template value points at (GetAtt or Ref, however nested)."""
    text = json.dumps(value)
    found = [f for lid, f in functions.items() if f'"{lid}"' in text]
    return found[0] if found else None


def _front_door(resources: Json, functions: dict[str, Function]) -> FrontDoor:
    of = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"]
    waf = any(r["Type"] == "AWS::WAFv2::WebACLAssociation" for r in resources.values())
    for route in of:
        if route["Properties"]["RouteKey"] == "GET /o/{token}":
            target = route["Properties"]["Target"]
            integration = next(
                r["Properties"]
                for lid, r in resources.items()
                if r["Type"] == "AWS::ApiGatewayV2::Integration" and lid in json.dumps(target)
            )
            stage = next(
                (
                    r["Properties"]
                    for r in resources.values()
                    if r["Type"] == "AWS::ApiGatewayV2::Stage"
                ),
                {},
            )
            function = _referenced(integration["IntegrationUri"], functions)
            assert function is not None, "the /o route's integration names no function"
            return FrontDoor(
                "http",
                integration.get("PayloadFormatVersion", "2.0"),
                function,
                stage.get("AccessLogSettings", {}).get("Format", ""),
                tracing=False,  # HTTP APIs have no X-Ray tracing of their own
                waf=waf,
            )
    parts = {
        lid: r["Properties"]
        for lid, r in resources.items()
        if r["Type"] == "AWS::ApiGateway::Resource"
    }

    def path(lid: str) -> str:
        parent = parts[lid]["ParentId"]
        up = parent.get("Ref") if isinstance(parent, dict) else None
        return (path(up) if up in parts else "") + "/" + parts[lid]["PathPart"]

    pixel = next(
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Method"
        and r["Properties"]["HttpMethod"] == "GET"
        and path(r["Properties"]["ResourceId"]["Ref"]) == "/o/{token}"
    )
    function = _referenced(pixel["Integration"]["Uri"], functions)
    assert function is not None, "the REST API's integration names no function"
    stage = next(
        (r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"), {}
    )
    return FrontDoor(
        "rest",
        "1.0",
        function,
        stage.get("AccessLogSetting", {}).get("Format", ""),
        tracing=bool(stage.get("TracingEnabled")),
        waf=waf,
    )


def _stream(resources: Json, functions: dict[str, Function]) -> StreamMapping:
    for resource in resources.values():
        props = (
            resource["Properties"] if resource["Type"] == "AWS::Lambda::EventSourceMapping" else {}
        )
        if "StreamArn" in json.dumps(props.get("EventSourceArn", "")):
            function = _referenced(props["FunctionName"], functions)
            assert function is not None
            filters = props.get("FilterCriteria", {}).get("Filters", [])
            return StreamMapping(
                function,
                int(props.get("BatchSize", 100)),
                int(props.get("MaximumBatchingWindowInSeconds", 0)),
                tuple(json.loads(f["Pattern"]) for f in filters),
            )
    raise LookupError("no stream event source mapping in the template")

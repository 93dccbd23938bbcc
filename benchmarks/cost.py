"""What a million opens, clicks, conversions and sends cost on AWS, measured from the calls the
real handlers make.

The deployment is read from the synthesized CDK template (`costing/template.py`): which API
type serves the recipient routes and with which payload, the function behind it (architecture,
memory, X-Ray), access logs, WAF, and the stream consumer's filters and batching. Then nurture
runs on moto: contacts are enrolled, the due minute fires the sender, SES reports Send and
Delivery, recipients open and click, a shop reports conversions. Every AWS call is metered
(`costing/meter.py`); the player delivers the table's stream through the template's filters.

Priced with `costing/prices.py`. Assumptions, stated where they are used: warm containers
(cold starts amortise over thousands of requests); Lambda duration = our CPU time scaled to the
memory's CPU share + an assumed in-region latency per AWS call; stream batches sized by the
reference traffic below; X-Ray at the default sampling rule (1 request/s + 5 %).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import importlib
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
KEY = base64.b64encode(b"cost-model-signing-key-0123456789").decode()
CONVERSION_SECRET = "cost-model-conversion-secret"
ACCOUNT, REGION = "123456789012", "us-east-1"
os.environ.update(
    AWS_ACCESS_KEY_ID="cost",
    AWS_SECRET_ACCESS_KEY="cost",
    AWS_DEFAULT_REGION=REGION,
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    NURTURE_TABLE="nurture-cost",
    NURTURE_BASE_URL="https://t.example.com",
    NURTURE_SENDER="news@example.com",
    NURTURE_PARK_QUEUE_URL=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/nurture-park",
    NURTURE_SCHEDULE_GROUP="nurture",
    NURTURE_SCHEDULE_TARGET_ARN=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:on_schedule",
    NURTURE_SCHEDULER_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/scheduler",
    NURTURE_SCHEDULE_DLQ_ARN=f"arn:aws:sqs:{REGION}:{ACCOUNT}:schedule-dlq",
    NURTURE_SIGNING_KEYS=json.dumps({"active": "k1", "keys": {"k1": KEY}}),
    NURTURE_API_KEYS=json.dumps({"api_keys": {}, "conversion_secrets": [CONVERSION_SECRET]}),
    # Engagement right after the send is machine/scanner by design; the model measures people.
    NURTURE_MACHINE_OPEN_SECONDS="0",
    NURTURE_SCANNER_CLICK_SECONDS="0",
    POWERTOOLS_SERVICE_NAME="nurture",
    POWERTOOLS_METRICS_NAMESPACE="nurture",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from costing import prices, template  # noqa: E402
from costing.meter import Invocation, Meter  # noqa: E402
from costing.prices import AS_OF, PRICES, price  # noqa: E402

RECIPIENTS = 40
OPENS_PER_DAY = 1_000_000
STREAM_SHARDS = 4
POLLS_PER_SECOND = 4  # Lambda reads each stream shard about every 250 ms
LAMBDA_FULL_CPU_MB = 1769  # one vCPU; less memory gets that share of it
PLATFORM_LOG_BYTES = 240  # START, END and REPORT lines of one invocation (text format)
RESPONSE_OVERHEAD_BYTES = 120  # status line, TLS framing: counted with the headers
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"
APPLE_PROXY = "Mozilla/5.0"  # Apple Mail Privacy Protection's prefetch
# Assumed in-region latency (ms) of each call the code waits for.
LATENCY_MS = {
    "dynamodb": 5.0,
    "dynamodb.TransactWriteItems": 15.0,
    "dynamodb.Query": 8.0,
    "dynamodb.BatchGetItem": 8.0,
    "dynamodb.BatchWriteItem": 10.0,
    "sqs": 15.0,
    "sesv2": 50.0,
    "scheduler": 40.0,
    "secrets-manager": 20.0,
}
MARKETER = "marketer's machine (CLI)"


class Context:
    """The parts of Lambda's context object the handlers use."""

    def __init__(self, function: str, memory_mb: int) -> None:
        self.function_name = function
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        self.aws_request_id = hashlib.md5(str(time.time_ns()).encode()).hexdigest()  # noqa: S324
        self.log_group_name = f"/aws/lambda/{function}"
        self.log_stream_name = "cost"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Bill:
    """Dollars of one scenario, per event, by service."""

    lines: dict[str, float]
    notes: Counter[str]

    @property
    def total(self) -> float:
        return sum(self.lines.values())


class Model:
    def __init__(self, deployment: template.Deployment, meter: Meter) -> None:
        self.deployment, self.meter = deployment, meter
        self.requests: list[dict[str, Any]] = []  # front-door responses, for transfer bytes
        self.schedules_fired = 0

    def handler(self, spec: str) -> Callable[..., Any]:
        module, name = spec.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    def invoke(self, spec: str, event: dict[str, Any]) -> Any:
        function = self.deployment.functions[spec]
        with self.meter.invocation(spec):
            return self.handler(spec)(event, Context(function.logical_id, function.memory_mb))

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        door = self.deployment.front_door
        event = (rest_event if door.payload_format == "1.0" else http_event)(
            method, path, body, headers or {}
        )
        answer = self.invoke(door.function.handler, event)
        self.requests.append(answer)
        return dict(answer)

    def bill(
        self, invocations: list[Invocation], events: int, records_in: int, records_out: int
    ) -> Bill:
        door, stream = self.deployment.front_door, self.deployment.stream
        lines: Counter[str] = Counter()
        notes: Counter[str] = Counter()
        rate = OPENS_PER_DAY / 86_400
        for call_owner in invocations:
            for call in call_owner.calls:
                lines["DynamoDB"] += call.wru * price("dynamodb_wru") + call.rru * price(
                    "dynamodb_rru"
                )
                notes["WRU"] += call.wru
                notes["RRU"] += call.rru
                if call.wru:  # where the write units go, by the function that spent them
                    notes[f"wru:{_short(call_owner.function)} {call.operation}"] += call.wru
                if call.service == "sqs":
                    lines["SQS"] += price("sqs_request")
                if call.service == "sesv2" and call.operation == "SendEmail":
                    lines["SES"] += price("ses_message")
        front = [i for i in invocations if i.function == door.function.handler]
        api_price = price("http_api_request" if door.kind == "http" else "rest_api_request")
        lines["API Gateway"] += len(front) * api_price
        if door.waf:
            lines["WAF"] += len(front) * price("waf_request")
        lines["Logs"] += (
            len(front) * access_log_bytes(door.access_log_format) * price("logs_gb") / 1e9
        )
        lines["Transfer"] += (
            sum(response_bytes(r) for r in self.requests) * price("transfer_out_gb") / 1e9
        )
        traced = door.tracing or door.function.tracing
        lines["X-Ray"] += len(front) * (sampled(rate) if traced else 0) * price("xray_trace")
        # The stream consumer: billed per invocation, records batched by the reference traffic.
        per_batch = records_per_invocation(rate * (records_in / max(events, 1)), stream)
        stream_calls = [i for i in invocations if i.function == stream.function.handler]
        stream_invocations = records_in / per_batch if records_in else 0
        notes["stream records"] += records_out
        notes["consumer records"] += records_in
        notes["consumer invocations"] += stream_invocations
        for owner in invocations:
            if owner.function == MARKETER:
                continue
            function = self.deployment.functions[owner.function]
            counted = 0.0 if owner.function == stream.function.handler else 1.0
            lines["Lambda"] += counted * price("lambda_request")
            lines["Lambda"] += gb_seconds(owner, function) * price(
                f"lambda_gb_s_{function.architecture}"
            )
            lines["Logs"] += owner.log_bytes * price("logs_gb") / 1e9
            if counted:
                notes["invocations"] += 1
                lines["Logs"] += (
                    (PLATFORM_LOG_BYTES if function.platform_logs else 0) * price("logs_gb") / 1e9
                )
                if function.tracing and owner.function != door.function.handler:
                    lines["X-Ray"] += sampled(rate) * price("xray_trace")
        if stream_calls:
            function = stream.function
            lines["Lambda"] += stream_invocations * price("lambda_request")
            lines["Logs"] += (
                stream_invocations
                * (PLATFORM_LOG_BYTES if function.platform_logs else 0)
                * price("logs_gb")
                / 1e9
            )
            if function.tracing:
                lines["X-Ray"] += (
                    stream_invocations * sampled(rate / per_batch) * price("xray_trace")
                )
        lines["Scheduler"] += self.schedules_fired * price("scheduler_invocation")
        notes["invocations"] += stream_invocations
        return Bill(
            {k: v / events for k, v in lines.items()},
            Counter({k: v / events for k, v in notes.items()}),
        )


def _short(function: str) -> str:
    """`app.on_stream` -> `on_stream`; the marketer's machine as `cli`."""
    return "cli" if function == MARKETER else function.removeprefix("app.")


def sampled(rate: float) -> float:
    """Share of requests X-Ray's default rule records at `rate` requests per second."""
    return min(1.0, (1 + 0.05 * max(0.0, rate - 1)) / rate)


def records_per_invocation(records_per_second: float, stream: template.StreamMapping) -> float:
    per_shard = records_per_second / STREAM_SHARDS
    waited = max(stream.window_seconds, 1 / POLLS_PER_SECOND)
    return min(float(stream.batch_size), max(1.0, per_shard * waited))


def gb_seconds(owner: Invocation, function: template.Function) -> float:
    share = min(1.0, function.memory_mb / LAMBDA_FULL_CPU_MB)
    waited = sum(
        LATENCY_MS.get(f"{c.service}.{c.operation}", LATENCY_MS.get(c.service, 5.0))
        for c in owner.calls
    )
    billed_ms = math.ceil(owner.cpu_seconds * 1000 / share + waited)
    return function.memory_mb / 1024 * billed_ms / 1000


def access_log_bytes(fmt: str) -> int:
    """One access-log line: the format with each $context variable at a typical 16 bytes."""
    return len(re.sub(r"\$context\.[A-Za-z.]+", "x" * 16, fmt)) if fmt else 0


def response_bytes(answer: dict[str, Any]) -> int:
    body = answer.get("body") or ""
    size = len(base64.b64decode(body)) if answer.get("isBase64Encoded") else len(body.encode())
    headers = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    size += sum(len(k) + len(str(v)) + 4 for k, v in headers.items())
    size += sum(len(k) + len(str(v)) + 4 for k, vs in multi.items() for v in vs)
    return size + RESPONSE_OVERHEAD_BYTES


def rest_event(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    resource = re.sub(r"^/([ocu])/[^/]+$", r"/\1/{token}", path)
    token = path.rsplit("/", 1)[-1] if resource != path else None
    merged = {"user-agent": BROWSER, "accept": "image/webp,*/*", **headers}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": merged,
        "multiValueHeaders": {k: [v] for k, v in merged.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"token": token} if token else None,
        "stageVariables": None,
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "cost",
            "identity": {"sourceIp": "198.51.100.1", "userAgent": merged["user-agent"]},
        },
    }


def http_event(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    route = re.sub(r"^/([ocu])/[^/]+$", r"/\1/{token}", path)
    token = path.rsplit("/", 1)[-1] if route != path else None
    merged = {"user-agent": BROWSER, "accept": "image/webp,*/*", **headers}
    return {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "cost",
            "domainName": "t.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.1",
                "userAgent": merged["user-agent"],
            },
            "requestId": "cost",
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        **({"pathParameters": {"token": token}} if token else {}),
        **(
            {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}
            if body
            else {"isBase64Encoded": False}
        ),
    }


def provision() -> None:
    from chalicelib import services

    services.table().create()
    services.client("sqs").create_queue(QueueName="nurture-park")
    services.client("sesv2").create_email_identity(EmailIdentity="news@example.com")
    services.client("sesv2").create_configuration_set(ConfigurationSetName="nurture")
    services.client("scheduler").create_schedule_group(Name="nurture")


def scenario(model: Model, player: Any, name: str, events: int, run: Callable[[], None]) -> Bill:
    player.produced = player.delivered = 0
    model.requests.clear()
    model.schedules_fired = 0
    run()
    player.pump()
    invocations = model.meter.take()
    return model.bill(invocations, events, player.delivered, player.produced)


def ses_events(kind: str, mail: Any) -> dict[str, Any]:
    fixture = json.loads((ROOT / "tests" / "fixtures" / "ses" / f"{kind}.json").read_text())
    event = copy.deepcopy(fixture)
    tags = (
        {t: [v] for t, v in (h.split("=", 1) for h in mail.tags)} if hasattr(mail, "tags") else {}
    )
    detail = event["detail"]
    detail["mail"]["messageId"] = mail.id
    detail["mail"]["destination"] = mail.destinations["ToAddresses"]
    detail["mail"]["tags"].update(tags)
    if "delivery" in detail:
        detail["delivery"]["recipients"] = mail.destinations["ToAddresses"]
    return event


def main() -> None:
    from moto import mock_aws

    deployment = template.read(template.synthesize())
    meter = Meter(ACCOUNT, REGION)
    with mock_aws():
        meter.install()
        provision()
        run(deployment, meter)


def run(deployment: template.Deployment, meter: Meter) -> None:
    from moto.ses.models import ses_backends

    from chalicelib import conversions, services
    from chalicelib.tokens import Claims, Purpose, sign
    from local.demo import push_examples
    from local.player import Player

    model = Model(deployment, meter)
    functions = deployment.functions
    player = Player(
        services.client("scheduler"),
        services.client("dynamodbstreams"),
        services.client("dynamodb"),
        os.environ["NURTURE_TABLE"],
        "nurture",
        lambda event, _: model.invoke("app.on_schedule", event),
        lambda event, _: model.invoke(deployment.stream.function.handler, event),
        filters=deployment.stream.filters,
    )
    push_examples(time.time())
    contacts = [f"c{n:04d}" for n in range(RECIPIENTS)]
    for contact in contacts:
        services.table().put_profile(
            contact,
            {"email": f"{contact}@example.com", "timezone": "America/New_York", "country": "US"},
        )
    player.pump()
    meter.take()
    sent: list[Any] = []
    fired: set[str] = set()

    def deliver(sequence_id: str) -> None:
        """Enroll everyone, fire the due minutes, report SES's Send and Delivery events."""
        with meter.invocation(MARKETER):
            services.journey().enroll_many(contacts, sequence_id)
        player.pump()
        scheduler = services.client("scheduler")
        for summary in scheduler.list_schedules(GroupName="nurture")["Schedules"]:
            if summary["Name"] in fired:
                continue
            fired.add(summary["Name"])
            detail = scheduler.get_schedule(Name=summary["Name"], GroupName="nurture")
            model.invoke(
                functions_by_role(functions, "on_schedule"), json.loads(detail["Target"]["Input"])
            )
            model.schedules_fired += 1
        player.pump()
        mails = ses_backends[ACCOUNT][REGION].sent_messages[len(sent) :]
        sent.extend(mails)
        feedback = functions_by_role(functions, "on_ses_event")
        for mail in mails:
            mail.tags = _tags_from_body(mail)  # moto keeps no EmailTags; the token has them
            for kind in ("send", "delivery"):
                model.invoke(feedback, ses_events(kind, mail))

    bills = {"send": scenario(model, player, "send", RECIPIENTS, lambda: deliver("engagement"))}
    assert len(sent) == RECIPIENTS, f"{len(sent)} of {RECIPIENTS} sent"

    def tokens(route: str, mails: list[Any]) -> list[str]:
        return [re.findall(rf"/{route}/([A-Za-z0-9_.-]+)", m.body)[0] for m in mails]

    first_mails = list(sent)
    opens, clicks = tokens("o", first_mails), tokens("c", first_mails)

    def open_all(agent: str = BROWSER, tokens: list[str] = opens) -> Callable[[], None]:
        def run() -> None:
            for token in tokens:
                model.request("GET", f"/o/{token}", headers={"user-agent": agent})

        return run

    bills["open (first ever)"] = scenario(model, player, "open", len(opens), open_all())
    pixel = model.requests[0]
    time.sleep(1.1)  # read again later the same day: the same item, nothing on the stream
    bills["open (same day)"] = scenario(model, player, "open", len(opens), open_all())
    bills["open (machine)"] = scenario(model, player, "open", len(opens), open_all(APPLE_PROXY))

    def click_all() -> None:
        for token in clicks:
            answer = model.request("GET", f"/c/{token}")
            assert answer["statusCode"] == 302, answer

    bills["click"] = scenario(model, player, "click", len(clicks), click_all)

    def convert_all() -> None:
        for n, mail in enumerate(sent):
            contact, send_id = _ids(mail)
            token = sign(
                Claims(Purpose.CONVERSION, contact, send_id, int(time.time())), services.keyring()
            )
            body = json.dumps(
                {"conversion_id": f"order-{n}", "token": token, "value": 49.9, "currency": "EUR"}
            ).encode()
            signature = conversions.sign_request(CONVERSION_SECRET, body, int(time.time()))
            answer = model.request(
                "POST",
                "/api/conversions",
                body,
                {"content-type": "application/json", "x-nurture-signature": signature},
            )
            assert answer["statusCode"] == 200, answer

    bills["conversion"] = scenario(model, player, "conversion", len(sent), convert_all)
    # A contact who engaged before opens the next mail: what most first opens of a send cost.
    scenario(model, player, "send", RECIPIENTS, lambda: deliver("welcome"))
    again = tokens("o", sent[len(first_mails) :])
    assert len(again) == RECIPIENTS, f"{len(again)} of {RECIPIENTS} sent the second mail"
    bills["open (first of a send)"] = scenario(
        model, player, "open", len(again), open_all(tokens=again)
    )
    floor = floor_bill(model, opens, pixel)
    report(deployment, bills, floor)


def functions_by_role(functions: dict[str, template.Function], name: str) -> str:
    return next(spec for spec in functions if spec.endswith(f".{name}"))


def _tags_from_body(mail: Any) -> list[str]:
    contact, send_id = _ids(mail)
    return [f"send_id={send_id}", f"contact_id={contact}"]


def _ids(mail: Any) -> tuple[str, str]:
    """Contact and send of a sent message, read back from its open token."""
    from chalicelib import services
    from chalicelib.tokens import Purpose, verify

    token = re.findall(r"/o/([A-Za-z0-9_.-]+)", mail.body)[0]
    claims = verify(token, Purpose.OPEN, services.keyring())
    return claims.contact_id, claims.send_id


def floor_bill(model: Model, opens: list[str], pixel: dict[str, Any]) -> Bill:
    """The least an open can cost on this design: HTTP API, one invocation that checks the HMAC
    and makes one PutItem, one WRU, the same pixel back."""
    from chalicelib import services

    client = services.client("dynamodb")
    key = base64.b64decode(KEY)
    door = model.deployment.front_door.function

    def floor(token: str) -> dict[str, Any]:
        body_text, tag_text = token.split(".")
        body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
        tag = base64.urlsafe_b64decode(tag_text + "=" * (-len(tag_text) % 4))
        if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest()[:16], tag):
            return {"statusCode": 404}
        fields = body.decode().split("\x1f")
        client.put_item(
            TableName=os.environ["NURTURE_TABLE"],
            Item={
                "PK": {"S": f"C#{fields[2]}"},
                "SK": {"S": f"EV#floor#{time.time_ns()}"},
                "verdict": {"S": "human"},
            },
        )
        return {"statusCode": 200}

    for token in opens:
        with model.meter.invocation("floor"):
            floor(token)
    invocations = model.meter.take()
    lines: Counter[str] = Counter()
    for owner in invocations:
        lines["API Gateway"] += price("http_api_request")
        lines["Lambda"] += price("lambda_request") + gb_seconds(owner, door) * price(
            f"lambda_gb_s_{door.architecture}"
        )
        lines["DynamoDB"] += price("dynamodb_wru")
    lines["Transfer"] += len(opens) * response_bytes(pixel) * price("transfer_out_gb") / 1e9
    return Bill({k: v / len(opens) for k, v in lines.items()}, Counter())


COLUMNS = (
    "API Gateway",
    "WAF",
    "Lambda",
    "DynamoDB",
    "SQS",
    "SES",
    "Scheduler",
    "Logs",
    "X-Ray",
    "Transfer",
)


def report(deployment: template.Deployment, bills: dict[str, Bill], floor: Bill) -> None:
    door, stream = deployment.front_door, deployment.stream
    fn = door.function
    rate = OPENS_PER_DAY / 86_400
    xray = "on" if door.tracing or fn.tracing else "off"
    print(f"cost model: AWS list prices, {prices.REGION}, as of {AS_OF}; warm containers")
    print(
        f"  front door (synthesized template): {door.kind.upper()} API, payload "
        f"{door.payload_format} -> {fn.handler} ({fn.architecture}, {fn.memory_mb} MB, "
        f"X-Ray {xray}, access log {access_log_bytes(door.access_log_format)} B/request, "
        f"WAF {'on' if door.waf else 'off'})"
    )
    print(
        f"  stream consumer: {stream.function.handler}, {len(stream.filters)} filter "
        f"pattern(s), batch {stream.batch_size}, window {stream.window_seconds} s; "
        f"at {OPENS_PER_DAY:,} opens/day over {STREAM_SHARDS} shards "
        f"{records_per_invocation(rate, stream):.1f} records per invocation"
    )
    used = [c for c in COLUMNS if any(b.lines.get(c) for b in (*bills.values(), floor))]
    print(
        "  $ per million events   "
        + "".join(f"{c[:9]:>10s}" for c in used)
        + "     total   WRU   RRU  invoc."
    )
    for name, bill in (*bills.items(), ("floor (open)", floor)):
        cells = "".join(f"{bill.lines.get(c, 0) * 1e6:10.3f}" for c in used)
        extra = (
            f"{bill.notes['WRU']:6.2f}{bill.notes['RRU']:6.2f}{bill.notes['invocations']:8.2f}"
            if bill.notes
            else ""
        )
        print(f"  {name:22s} {cells}  {bill.total * 1e6:8.2f}{extra}")
    print("  write units per event, by function and call:")
    for name, bill in bills.items():
        spent = sorted(
            ((k.removeprefix("wru:"), v) for k, v in bill.notes.items() if k.startswith("wru:")),
            key=lambda kv: -kv[1],
        )
        print(f"    {name:20s} " + ", ".join(f"{k} {v:.2f}" for k, v in spent))
    for name, bill in bills.items():
        if name.startswith("open"):
            opened = bill.total * 1e6
            print(
                f"  {name}: ${opened:.2f} per million = {opened / (floor.total * 1e6):.2f}x "
                f"the floor ${floor.total * 1e6:.2f}  (targets: <= $2.00, <= 1.2x)"
            )
    print(
        "  prices: "
        + "; ".join(
            f"{k} ${v:g} {u}"
            for k, (v, u) in PRICES.items()
            if k in ("http_api_request", "rest_api_request", "dynamodb_wru", "lambda_request")
        )
    )


if __name__ == "__main__":
    main()

"""Hot-path cost of the open pixel, the click redirect and a product event, against a floor.

Per-request CPU time of the public function's handler (`app.public`, called with HTTP API
payload 2.0 events, as deployed) versus a minimal handler that verifies the same HMAC and does
the same single PutItem of the same item on the same botocore Stubber. The product event
(`POST /api/events`, signed, validated, one conditional PutItem, no read) is compared with the
same floor, and with a floor of its own that checks the request's HMAC, parses the JSON and
puts the item. Rounds interleave the cases in a rotating order, and each round's ratio is taken
within the round, so a busy machine slows numerator and denominator alike; the median ratio is
the figure and the spread (min-max over rounds) says how far to trust it. Then
`python -X importtime` of the Lambda entry module versus `import boto3` alone, interleaved
pairwise the same way: with the app's bytecode, as packaged when the synth machine has the
runtime's Python (infra/nurture_infra/bundling.py), and from source (boto3's bytecode from the
runtime, everything else compiled at import), as packaged without one. Targets: open, click
and the product event <= 1.5x the floor; entry import <= 1.3x boto3. benchmarks/package.py
measures the built asset under the runtime's Python itself.

`python benchmarks/hot_path.py --instructions` counts instructions per request instead (under
valgrind, about two minutes): a figure a busy machine does not blur, to cross-check the times.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = b"k" * 32
SECRET = b"s" * 32
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    NURTURE_TABLE="bench",
    NURTURE_PARK_QUEUE_URL="https://sqs.invalid/q",
    NURTURE_SIGNING_KEYS=json.dumps(
        {"active": "k1", "keys": {"k1": base64.b64encode(KEY).decode()}}
    ),
    NURTURE_API_KEYS=json.dumps(
        {"api_keys": {"bench": "b" * 24}, "conversion_secrets": [SECRET.decode()]}
    ),
    POWERTOOLS_LOG_LEVEL="WARNING",
)
sys.path.insert(0, str(ROOT))

from botocore.stub import Stubber  # noqa: E402

from app import public  # noqa: E402
from chalicelib import services  # noqa: E402
from chalicelib.conversions import sign_request  # noqa: E402
from chalicelib.tokens import Claims, Purpose, sign  # noqa: E402

REQUESTS = 200
ROUNDS = 105
IMPORT_RUNS = 15
INSTRUCTION_REQUESTS = 300
WARM_UP = 5
AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"
PIXEL = base64.b64encode(b"GIF89a...").decode()


def event(route: str, token: str) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request, as API Gateway sends it."""
    path = f"/{route}/{token}"
    return {
        "version": "2.0",
        "routeKey": f"GET /{route}/{{token}}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"user-agent": AGENT, "accept": "image/webp,*/*", "host": "t.example.com"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.1.1.1"},
            "requestId": "bench",
            "routeKey": f"GET /{route}/{{token}}",
            "stage": "$default",
            "timeEpoch": 0,
        },
        "pathParameters": {"token": token},
        "isBase64Encoded": False,
    }


def floor_handler(client: Any, token: str) -> dict[str, Any]:
    """The least a correct handler does: check the HMAC, one PutItem of the item nurture
    writes (same attributes), answer the GIF."""
    body_text, tag_text = token.split(".")
    body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
    tag = base64.urlsafe_b64decode(tag_text + "=" * (-len(tag_text) % 4))
    if not hmac.compare_digest(hmac.new(KEY, body, hashlib.sha256).digest()[:16], tag):
        return {"statusCode": 404}
    fields = body.decode().split("\x1f")
    now = time.time()
    client.put_item(
        TableName="bench",
        Item={
            "PK": {"S": f"C#{fields[2]}"},
            "SK": {"S": f"EV#{now}#opened#x"},
            "type": {"S": "opened"},
            "contact_id": {"S": fields[2]},
            "send_id": {"S": fields[3]},
            "at": {"S": str(now)},
            "event_id": {"S": "x"},
            "ttl": {"N": "1"},
            "verdict": {"S": "human"},
            "verdict_reason": {"S": "mail_client"},
        },
        ConditionExpression="attribute_not_exists(PK)",
    )
    return {"statusCode": 200, "body": PIXEL, "isBase64Encoded": True}


def product_event() -> dict[str, Any]:
    """A signed `POST /api/events` as the HTTP API hands it over (signed now, per round)."""
    body = json.dumps(
        {
            "event_id": "cart-7f3a9c",
            "contact": "contact-1",
            "name": "cart_updated",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "properties": {
                "cart_url": "https://shop.example/cart/7f3a9c",
                "items_count": 3,
                "total": 129.9,
                "currency": "EUR",
            },
        }
    )
    headers = {
        "content-type": "application/json",
        "x-nurture-signature": sign_request(SECRET.decode(), body.encode(), int(time.time())),
    }
    return {
        "version": "2.0",
        "routeKey": "POST /api/events",
        "rawPath": "/api/events",
        "rawQueryString": "",
        "headers": {**headers, "host": "t.example.com"},
        "requestContext": {
            "http": {"method": "POST", "path": "/api/events", "sourceIp": "1.1.1.1"},
            "requestId": "bench",
            "routeKey": "POST /api/events",
            "stage": "$default",
            "timeEpoch": 0,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def events_floor(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The least a correct event handler does: check the body's HMAC, parse it, one PutItem of
    the item nurture writes (the properties as their JSON text, as nurture stores them)."""
    body = request["body"].encode()
    stamp, given = (
        p.split("=", 1)[1] for p in request["headers"]["x-nurture-signature"].split(",")
    )
    expected = hmac.new(SECRET, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        return {"statusCode": 401}
    doc = json.loads(body)
    client.put_item(
        TableName="bench",
        Item={
            "PK": {"S": f"C#{doc['contact']}"},
            "SK": {"S": f"EV#{doc['at']}#event#{doc['event_id']}"},
            "type": {"S": "event"},
            "name": {"S": doc["name"]},
            "event_id": {"S": doc["event_id"]},
            "contact_id": {"S": doc["contact"]},
            "at": {"S": doc["at"]},
            "properties": {"S": json.dumps(doc["properties"])},
            "ttl": {"N": "1"},
        },
        ConditionExpression="attribute_not_exists(PK)",
    )
    return {"statusCode": 200, "body": json.dumps({"event_id": doc["event_id"]})}


def per_request(stubber: Stubber, call: Callable[[], Any]) -> float:
    for _ in range(REQUESTS):
        stubber.add_response("put_item", {})
    start = time.process_time()
    for _ in range(REQUESTS):
        call()
    return (time.process_time() - start) / REQUESTS


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x (spread {min(values):.2f}-{max(values):.2f})"


def cases(client: Any, signed: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
    """Each case's request, through `app.public` or the floors; `signed[0]` is the product
    event (re-signed between rounds, so its timestamp stays inside the window)."""
    issued = int(time.time()) - 3600
    open_token = sign(Claims(Purpose.OPEN, "contact-1", "send-1", issued), services.keyring())
    click_token = sign(
        Claims(
            Purpose.CLICK,
            "contact-1",
            "send-1",
            issued,
            3,
            "https://example.com/pricing?plan=team#compare",
        ),
        services.keyring(),
    )
    opened, clicked = event("o", open_token), event("c", click_token)
    return {
        "open": lambda: public(opened, None),
        "click": lambda: public(clicked, None),
        "event": lambda: public(dict(signed[0]), None),
        "floor": lambda: floor_handler(client, open_token),
        "efloor": lambda: events_floor(client, signed[0]),
    }


def hot_path() -> None:
    client = services.client("dynamodb")
    signed = [product_event()]
    handlers = cases(client, signed)
    samples: dict[str, list[float]] = {name: [] for name in handlers}
    names = list(handlers)
    with Stubber(client) as stubber:
        for _ in range(2):  # the click and the event below write once each
            stubber.add_response("put_item", {})
        with contextlib.redirect_stdout(io.StringIO()) as emitted:  # its EMF line, not ours
            assert public(event("o", "bad"), None)["statusCode"] == 200
        assert '"BadTokens"' in emitted.getvalue(), "a bad token is counted"
        assert handlers["click"]()["statusCode"] == 302
        assert handlers["event"]()["statusCode"] == 200, "the event must be accepted"
        stubber.assert_no_pending_responses()
        for round_ in range(ROUNDS):
            signed[0] = product_event()  # a fresh signature, well inside the time window
            turn = round_ % len(names)
            for name in names[turn:] + names[:turn]:  # rotate who goes first
                samples[name].append(per_request(stubber, handlers[name]))
    print(
        f"hot path (app.public, HTTP API payload 2.0), {ROUNDS} interleaved rounds x "
        f"{REQUESTS} requests, CPU time per request (median, min-max):"
    )
    for name, values in samples.items():
        micros = [v * 1e6 for v in values]
        print(
            f"  {name:6s} {statistics.median(micros):7.1f} us ({min(micros):.1f}-{max(micros):.1f})"
        )
    for name, floor, note in (
        ("open", "floor", "(target <= 1.5x)"),
        ("click", "floor", "(target <= 1.5x)"),
        ("event", "floor", "(target <= 1.5x)"),
        ("event", "efloor", "(event floor: HMAC, JSON, PutItem)"),
    ):
        ratios = [a / b for a, b in zip(samples[name], samples[floor], strict=True)]
        print(f"  {name} / {floor} = {spread(ratios)}  {note}".rstrip())
    print("  event: 1 write (a conditional PutItem), 0 reads")


def run_case(name: str, count: int) -> None:
    """`count` requests of one case after a few to warm it up (the child of `instructions`)."""
    client = services.client("dynamodb")
    chosen = cases(client, [product_event()])[name]
    with Stubber(client) as stubber, contextlib.redirect_stdout(io.StringIO()):
        for _ in range(WARM_UP + count):
            stubber.add_response("put_item", {})
        for _ in range(WARM_UP + count):
            chosen()


def instruction_refs(valgrind: str, name: str, count: int) -> int:
    """Instructions a process running `count` requests of `name` executes (valgrind)."""
    result = subprocess.run(  # noqa: S603
        [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--case",
            name,
            str(count),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stderr.splitlines() if "I refs:" in " ".join(x.split()))
    return int(line.rsplit(":", 1)[1].replace(",", ""))


def instructions() -> None:
    """Instructions per request, each case's process with and without its requests: a count
    that a busy machine does not blur (CPU time per instruction differs between the cases,
    so this is a cross-check of the times above, not the target itself)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("instructions: valgrind is not installed (apt-get install -y valgrind)")
        return
    per = {
        name: (
            instruction_refs(valgrind, name, INSTRUCTION_REQUESTS)
            - instruction_refs(valgrind, name, 0)
        )
        / INSTRUCTION_REQUESTS
        for name in ("open", "click", "event", "floor", "efloor")
    }
    print(f"instructions per request (valgrind, {INSTRUCTION_REQUESTS} requests a case):")
    for name, count in per.items():
        print(f"  {name:6s} {count / 1000:7.0f}k")
    for name, floor in (("open", "floor"), ("click", "floor"), ("event", "floor")):
        print(f"  {name} / {floor} = {per[name] / per[floor]:.2f}x")


def import_micros(module: str, cache: str, write: bool = False) -> int:
    """`import module` in a fresh interpreter reading bytecode only from `cache` (and writing
    what it compiles there only if `write`)."""
    environment = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stderr.splitlines() if x.rstrip().endswith(f"| {module}"))
    return int(line.split("|")[1])


def bytecode_caches(runtime: Path, compiled: Path) -> None:
    """Fill `runtime` with the bytecode the Lambda runtime ships (the standard library, boto3
    and its dependencies): the app, Chalice and the rest of the package are compiled at every
    cold start, as in a package built without the runtime's Python. Fill `compiled` with
    everything, as the package built with it has it."""
    import_micros("boto3", str(runtime), write=True)
    shipped = set(runtime.rglob("*.pyc"))
    for cache in (runtime, compiled):
        import_micros("app", str(cache), write=True)
    import_micros("boto3", str(compiled), write=True)
    packaged = (str(ROOT), *{sysconfig.get_paths()[n] for n in ("purelib", "platlib")})
    for pyc in set(runtime.rglob("*.pyc")) - shipped:
        if (os.sep + str(pyc.relative_to(runtime))).startswith(packaged):
            pyc.unlink()


def import_time() -> None:
    print(f"cold import, {IMPORT_RUNS} interleaved pairs (python -X importtime, median):")
    with tempfile.TemporaryDirectory() as runtime, tempfile.TemporaryDirectory() as compiled:
        bytecode_caches(Path(runtime), Path(compiled))
        for cache, what, target in (
            (compiled, "app from bytecode (as packaged)", "(target <= 1.3x)"),
            (runtime, "app from source (no bytecode)", ""),
        ):
            pairs = []
            for run in range(IMPORT_RUNS):
                order = ("boto3", "app") if run % 2 else ("app", "boto3")
                measured = {module: import_micros(module, cache) for module in order}
                pairs.append((measured["app"], measured["boto3"]))
            apps, botos = [a for a, _ in pairs], [b for _, b in pairs]
            print(
                f"  {what:31s} app {statistics.median(apps) / 1000:6.1f} ms, boto3 "
                f"{statistics.median(botos) / 1000:6.1f} ms: app / boto3 = "
                f"{spread([a / b for a, b in pairs])}  {target}".rstrip()
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        run_case(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:] == ["--instructions"]:
        instructions()
    else:
        hot_path()
        import_time()

"""The embedded local stack: moto stands in for AWS, `chalice local` serves the API.

Run with `make demo` (or `python -m local.stack`). Provisions the table, queues and SES
identity, seeds a demo contact, subscribes a small webhook receiver to every event, sends the
demo email and prints its tracked links, then serves until stopped, playing what AWS would:
parked writes, the table's stream, due schedules and webhook deliveries. The receiver prints
each delivery it gets, with whether its signature verifies.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from local import demo
from local.demo import DemoMail
from local.player import Player
from local.receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "nurture-park"
REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "nurture"
WEBHOOK_GROUP = "nurture-webhooks"
WEBHOOK_QUEUE = "nurture-webhooks"
WEBHOOK_DLQ = "nurture-webhooks-dlq"
BUS = "nurture-local"
CLOCK_FILE = "clock-offset"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    environment = _environment(args)
    os.environ.update(environment)
    # The CLI in another terminal reaches this stack after `. .local/env`.
    env_file = args.state_dir / "env"
    env_file.write_text(
        "".join(f"export {name}='{value}'\n" for name, value in environment.items()),
        encoding="utf-8",
    )
    env_file.chmod(0o600)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address=args.host, port=args.moto_port, verbose=False)
    moto.start()
    api = None
    try:
        _provision(os.environ["NURTURE_SENDER"])
        pushed = demo.push_examples(time.time())
        receiver = _receiver(args)
        demo.subscribe(receiver.url(demo.WEBHOOK))
        mail = demo.send_demo()
        api = subprocess.Popen(  # noqa: S603
            [
                str(Path(sys.executable).parent / "chalice"),
                "local",
                "--no-autoreload",
                "--host",
                args.host,
                "--port",
                str(args.port),
                "--stage",
                "dev",
            ],
            cwd=ROOT,
        )
        _wait_for_port(args.host, args.port, api)
        _print_ready(args, mail, pushed, receiver.url(demo.WEBHOOK))
        _serve(api, args.state_dir / CLOCK_FILE)
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            api.wait(timeout=10)
        moto.stop()
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on")
    parser.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    parser.add_argument("--moto-port", type=int, default=5005, help="moto port (default 5005)")
    parser.add_argument(
        "--receiver-port", type=int, default=5006, help="webhook receiver port (default 5006)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".local",
        help="where the local signing keys and API secrets live",
    )
    return parser.parse_args(argv)


def _environment(args: argparse.Namespace) -> dict[str, str]:
    endpoint = f"http://{args.host}:{args.moto_port}"
    keys = _local_secrets(args.state_dir)
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "NURTURE_TABLE": "nurture-local",
        "NURTURE_BASE_URL": f"http://{args.host}:{args.port}",
        "NURTURE_API_URL": f"http://{args.host}:{args.port}",
        "NURTURE_PARK_QUEUE_URL": f"{endpoint}/{ACCOUNT}/{QUEUE}",
        "NURTURE_SENDER": "hello@nurture.example",
        "NURTURE_SCHEDULE_GROUP": GROUP,
        "NURTURE_SCHEDULE_TARGET_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:on_schedule",
        "NURTURE_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/nurture-scheduler",
        "NURTURE_SCHEDULE_DLQ_ARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nurture-schedule-dlq",
        "NURTURE_SIGNING_KEYS": json.dumps(keys["signing"]),
        "NURTURE_API_KEYS": json.dumps(keys["api"]),
        "NURTURE_EVENT_BUS": BUS,
        "NURTURE_WEBHOOK_QUEUE_URL": f"{endpoint}/{ACCOUNT}/{WEBHOOK_QUEUE}",
        "NURTURE_WEBHOOK_DLQ_URL": f"{endpoint}/{ACCOUNT}/{WEBHOOK_DLQ}",
        "NURTURE_WEBHOOK_SCHEDULE_GROUP": WEBHOOK_GROUP,
        "NURTURE_WEBHOOK_RETRY_TARGET_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:retry",
        "NURTURE_WEBHOOK_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/nurture-webhooks",
        "NURTURE_WEBHOOK_SCHEDULE_DLQ_ARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{WEBHOOK_DLQ}",
        # The local receiver is the one plain-http, loopback endpoint webhooks may reach.
        "NURTURE_WEBHOOK_ALLOWED_ORIGINS": f"http://{args.host}:{args.receiver_port}",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def _local_secrets(state_dir: Path) -> dict[str, dict[str, object]]:
    """Local keys live in a file, created once, so links keep working across restarts."""
    path = state_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    doc = {
        "signing": {
            "active": "local1",
            "keys": {"local1": base64.b64encode(secrets.token_bytes(32)).decode()},
        },
        "api": {
            "api_keys": {"local": secrets.token_urlsafe(24)},
            "conversion_secrets": [secrets.token_urlsafe(24)],
        },
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return doc


def _provision(sender: str) -> None:
    from chalicelib import services

    services.table().create()
    services.client("sqs").create_queue(QueueName=QUEUE)
    services.client("ses").verify_email_identity(EmailAddress=sender)
    services.client("sesv2").create_email_identity(EmailIdentity=sender)
    services.client("sesv2").create_configuration_set(ConfigurationSetName="nurture")
    services.client("scheduler").create_schedule_group(Name=GROUP)
    services.client("scheduler").create_schedule_group(Name=WEBHOOK_GROUP)
    services.client("events").create_event_bus(Name=BUS)
    sqs = services.client("sqs")
    dlq = sqs.create_queue(QueueName=WEBHOOK_DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": "5"})
    sqs.create_queue(QueueName=WEBHOOK_QUEUE, Attributes={"RedrivePolicy": redrive})


def _receiver(args: argparse.Namespace) -> Receiver:
    """The demo's webhook endpoint: prints each delivery and whether its signature verifies."""
    from chalicelib import services

    def secrets_of(webhook_id: str) -> list[str]:
        return [secret.value for secret in services.webhooks().secrets(webhook_id)]

    def echo(line: str) -> None:
        print(line, flush=True)

    return Receiver(secrets_of, args.host, args.receiver_port, echo=echo).start()


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"chalice local exited with {process.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"chalice local did not listen on {host}:{port} within 30 s")


def _print_ready(args: argparse.Namespace, mail: DemoMail, pushed: list[str], webhook: str) -> None:
    endpoint = f"http://{args.host}:{args.moto_port}"
    lines = [
        "",
        "nurture local stack is running (no AWS account involved).",
        f"  API                 http://{args.host}:{args.port}",
        f"  moto (AWS stand-in) {endpoint}   sent mail: {endpoint}/moto-api/data.json",
        f"  sequences           {', '.join(pushed)}",
        f"  webhooks            {webhook} (every event; deliveries print here)",
        "",
        f"Demo email sent to {demo.EMAIL} (SES message id {mail.message_id}).",
        "Paste these into a browser:",
        f"  open pixel   {mail.open_url}",
        *(f"  click {i + 1}      {u}" for i, u in enumerate(mail.click_urls)),
        f"  unsubscribe  {mail.unsubscribe_url}",
        "",
        "Stop with Ctrl-C.",
    ]
    print("\n".join(lines), flush=True)


def _serve(api: subprocess.Popen[bytes], clock_file: Path) -> None:
    """Play the AWS event sources until stopped: parked writes, the stream, due schedules.

    Schedules fire on the player's clock: now, plus the seconds written in `clock_file` (to
    see in a minute what a sequence does in hours: `echo 18000 > .local/clock-offset`)."""
    import app as lambdas
    from chalicelib import services

    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    player = Player(
        services.client("scheduler"),
        services.client("dynamodbstreams"),
        services.client("dynamodb"),
        os.environ["NURTURE_TABLE"],
        GROUP,
        lambdas.on_schedule,
        lambdas.on_stream,
        services.client("sqs"),
        os.environ["NURTURE_PARK_QUEUE_URL"],
        lambdas.replay_parked,
        webhook_group=WEBHOOK_GROUP,
        on_webhook_retry=lambdas.retry_webhooks,
        webhook_queue_url=os.environ["NURTURE_WEBHOOK_QUEUE_URL"],
        on_webhook_queue=lambdas.deliver_webhooks,
    )
    while not stopping and api.poll() is None:
        try:
            player.replay_parked()
            player.pump()
            player.deliver_webhooks()
            player.fire_due(datetime.now(UTC) + timedelta(seconds=_offset(clock_file)))
        except Exception as exc:  # a local hiccup must not stop the demo; print it
            print(f"local player: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        time.sleep(1)


def _offset(clock_file: Path) -> float:
    """Seconds the player's clock is ahead of now (0 without the file or with bad content)."""
    try:
        return max(0.0, float(clock_file.read_text(encoding="utf-8").strip() or 0))
    except (OSError, ValueError):
        return 0.0


if __name__ == "__main__":
    sys.exit(main())

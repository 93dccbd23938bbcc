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
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from types import FrameType

from local import demo, month, state
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
IMPORT_BUCKET = "nurture-imports"
IMPORT_QUEUE = "nurture-imports"
BUS = "nurture-local"
CLOCK_FILE = "clock-offset"
ALREADY_THERE = {
    "ResourceInUseException",
    "AlreadyExistsException",
    "ConflictException",
    "ResourceAlreadyExistsException",
    "ConfigurationSetAlreadyExistsException",
    "BucketAlreadyOwnedByYou",
}
SENDER = "nurture demo <hello@nurture.example>"
"""The From address of the local stack's mail: a display name, as recipients expect."""


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    busy = _busy_ports(args)
    if busy:
        print("\n".join(busy), file=sys.stderr)
        return 2
    environment = _environment(args)
    os.environ.update(environment)
    _write_env(args.state_dir / "env", environment)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address=args.host, port=args.moto_port, verbose=False)
    moto.start()
    restored = state.restore(args.state_dir)
    api, player = None, None
    try:
        _provision(os.environ["NURTURE_SENDER"])
        pushed = demo.push_examples(time.time())
        loaded = _load_month()
        pushed.append(month.SEQUENCE)
        receiver = _receiver(args)
        demo.subscribe(receiver.url(demo.WEBHOOK))
        started = demo.start(datetime.now(UTC))
        player = _player(restored.checkpoints)
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
        _print_ready(args, started, pushed, receiver.url(demo.WEBHOOK), restored.note, loaded)
        return _serve(api, args.state_dir / CLOCK_FILE, player)
    except OSError as exc:  # a port taken between the check and the start, mostly
        print(f"local stack: {exc}; stopping", file=sys.stderr)
        return 1
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            api.wait(timeout=10)
        _save(args.state_dir, player)
        moto.stop()


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
        "NURTURE_SENDER": SENDER,
        "NURTURE_SCHEDULE_GROUP": GROUP,
        "NURTURE_SCHEDULE_TARGET_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:on_schedule",
        "NURTURE_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/nurture-scheduler",
        "NURTURE_SCHEDULE_DLQ_ARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nurture-schedule-dlq",
        "NURTURE_SIGNING_KEYS": json.dumps(keys["signing"]),
        "NURTURE_API_KEYS": json.dumps(keys["api"]),
        "NURTURE_EVENT_BUS": BUS,
        "NURTURE_WEBHOOK_QUEUE_URL": f"{endpoint}/{ACCOUNT}/{WEBHOOK_QUEUE}",
        "NURTURE_WEBHOOK_DLQ_URL": f"{endpoint}/{ACCOUNT}/{WEBHOOK_DLQ}",
        "NURTURE_IMPORT_BUCKET": IMPORT_BUCKET,
        "NURTURE_IMPORT_QUEUE_URL": f"{endpoint}/{ACCOUNT}/{IMPORT_QUEUE}",
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
    """Create what the stack uses; what a restored state already holds is left as it is."""
    from chalicelib import services

    address = parseaddr(sender)[1]
    sqs, sesv2, scheduler = (services.client(n) for n in ("sqs", "sesv2", "scheduler"))
    _unless_there(services.table().create)
    sqs.create_queue(QueueName=QUEUE)
    services.client("ses").verify_email_identity(EmailAddress=address)
    _unless_there(lambda: sesv2.create_email_identity(EmailIdentity=address))
    _unless_there(lambda: sesv2.create_configuration_set(ConfigurationSetName="nurture"))
    _unless_there(lambda: scheduler.create_schedule_group(Name=GROUP))
    _unless_there(lambda: scheduler.create_schedule_group(Name=WEBHOOK_GROUP))
    _unless_there(lambda: services.client("events").create_event_bus(Name=BUS))
    dlq = sqs.create_queue(QueueName=WEBHOOK_DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": "5"})
    sqs.create_queue(QueueName=WEBHOOK_QUEUE, Attributes={"RedrivePolicy": redrive})
    sqs.create_queue(QueueName=IMPORT_QUEUE)
    _unless_there(lambda: services.client("s3").create_bucket(Bucket=IMPORT_BUCKET))


def _unless_there(create: Callable[[], object]) -> None:
    """Create a resource; one of that name already there (a restored state) is kept."""
    from botocore.exceptions import ClientError

    try:
        create()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ALREADY_THERE:
            raise


def _receiver(args: argparse.Namespace) -> Receiver:
    """The demo's webhook endpoint: prints each delivery and whether its signature verifies."""
    from chalicelib import services

    def secrets_of(webhook_id: str) -> list[str]:
        return [secret.value for secret in services.webhooks().secrets(webhook_id)]

    def echo(line: str) -> None:
        print(line, flush=True)

    return Receiver(secrets_of, args.host, args.receiver_port, echo=echo).start()


def _busy_ports(args: argparse.Namespace) -> list[str]:
    """Why the stack cannot start on its ports (taken by another process, or given twice)."""
    ports = (
        ("the API", "--port", args.port),
        ("moto, the AWS stand-in", "--moto-port", args.moto_port),
        ("the webhook receiver", "--receiver-port", args.receiver_port),
    )
    problems, seen = [], {}
    for what, option, port in ports:
        if port in seen:
            problems.append(f"port {port} is given for both {seen[port]} and {what} ({option})")
            continue
        seen[port] = what
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((args.host, port))
            except OSError as exc:
                problems.append(
                    f"port {port} on {args.host} ({what}) is not free: {exc.strerror}. "
                    f"Stop what uses it, or choose another: "
                    f".venv/bin/python -m local.stack {option} {port + 100}"
                )
    if problems:
        problems.append("nurture local stack not started: nothing was changed.")
    return problems


def _write_env(path: Path, environment: dict[str, str]) -> None:
    """What `. .local/env` sets in another terminal: the stack's settings, the API key for
    curl and the console, and the venv's bin on PATH for `nurture`."""
    keys = json.loads(environment["NURTURE_API_KEYS"])["api_keys"]
    exports = {**environment, "NURTURE_API_KEY": next(iter(keys.values()))}
    lines = [f"export {name}={shlex.quote(value)}\n" for name, value in exports.items()]
    lines.append(f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"\n')
    path.write_text("".join(lines), encoding="utf-8")
    path.chmod(0o600)


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


def _load_month() -> str:
    """The console's simulated month (`local/month.py`, totals only: it takes a moment), on
    the first start; a restored state keeps the month it had."""
    from chalicelib import services

    loaded = month.load(services.table(), services.versions(), time.time())
    if loaded is None:
        return f"the simulated month in {month.SEQUENCE} (kept from the last run)"
    groups = loaded.counted().holdout()
    contacts = groups["treated"].enrolled + groups["held"].enrolled
    return (
        f"{contacts:,} simulated contacts over {month.DAYS} days in {month.SEQUENCE} "
        "(an A/B test and a holdout)"
    )


def _print_ready(
    args: argparse.Namespace,
    started: demo.Demo,
    pushed: list[str],
    webhook: str,
    kept: str,
    loaded: str,
) -> None:
    endpoint = f"http://{args.host}:{args.moto_port}"
    api = f"http://{args.host}:{args.port}"
    lines = [
        "",
        "nurture local stack is running (no AWS account involved).",
        f"  API                 {api}",
        f"  moto (AWS stand-in) {endpoint}   sent mail: {endpoint}/moto-api/data.json",
        f"  sequences           {', '.join(pushed)}",
        f"  webhooks            {webhook} (every event; deliveries print here)",
        f"  local state         {kept}; saved to {args.state_dir} on Ctrl-C",
        "",
        f"Demo contact {demo.EMAIL} ({demo.CONTACT}): {started.enrolled}.",
    ]
    mail = started.mail
    if mail is None:
        lines.append("No email to the demo contact yet.")
    else:
        lines += [
            f"Its newest email, {mail.subject!r} (SES message id {mail.message_id}).",
            "Paste these into a browser:",
            f"  open pixel   {mail.open_url}",
            *(f"  click {i + 1}      {u}" for i, u in enumerate(mail.click_urls)),
            f"  unsubscribe  {mail.unsubscribe_url}",
        ]
    lines += [
        "",
        "In another terminal, from this directory:",
        "  . .local/env                       # puts nurture on PATH, points it at this stack",
        f"  nurture report --sequence {demo.SEQUENCE}   # your clicks, counted",
        f"  nurture contacts events {demo.EMAIL}",
        f'  curl -H "Authorization: Bearer $NURTURE_API_KEY" {api}/api/sequences',
        f"  (the API key is in {args.state_dir / 'secrets.json'}, and $NURTURE_API_KEY)",
        "",
        f"The console shows {loaded}:",
        "  nurture dashboard                  # after . .local/env",
        "",
        "Stop with Ctrl-C.",
    ]
    print("\n".join(lines), flush=True)


def _player(checkpoints: dict[str, str]) -> Player:
    import app as lambdas
    from chalicelib import services

    return Player(
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
        import_queue_url=os.environ["NURTURE_IMPORT_QUEUE_URL"],
        on_import=lambdas.import_worker,
        on_roll_up=lambdas.roll_up,
        checkpoints=checkpoints,
    )


def _serve(api: subprocess.Popen[bytes], clock_file: Path, player: Player) -> int:
    """Play the AWS event sources until stopped: parked writes, the stream, due schedules.
    0 when stopped (Ctrl-C, SIGTERM); 1 when `chalice local` died.

    Schedules fire on the player's clock: now, plus the seconds written in `clock_file` (to
    see in a minute what a sequence does in hours: `echo 18000 > .local/clock-offset`)."""
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and api.poll() is None:
        try:
            player.replay_parked()
            player.pump()
            player.deliver_webhooks()
            player.run_imports()
            player.roll_up(time.time())
            player.fire_due(datetime.now(UTC) + timedelta(seconds=_offset(clock_file)))
        except Exception as exc:  # a local hiccup must not stop the demo; print it
            print(f"local player: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        time.sleep(1)
    if stopping:
        return 0
    print(f"chalice local exited with {api.returncode}: the stack stops", file=sys.stderr)
    return 1


def _save(state_dir: Path, player: Player | None) -> None:
    """Keep moto's state for the next start; say loudly when it could not be kept."""
    if player is None:
        return  # stopped before the demo was in place: the saved state is left as it was
    try:
        path = state.save(state_dir, player.checkpoints)
    except Exception as exc:  # whatever it was, the user must hear it
        print(f"LOCAL STATE NOT SAVED ({type(exc).__name__}: {exc})", file=sys.stderr)
        return
    print(f"local state saved to {path}", flush=True)


def _offset(clock_file: Path) -> float:
    """Seconds the player's clock is ahead of now (0 without the file or with bad content)."""
    try:
        return max(0.0, float(clock_file.read_text(encoding="utf-8").strip() or 0))
    except (OSError, ValueError):
        return 0.0


if __name__ == "__main__":
    sys.exit(main())

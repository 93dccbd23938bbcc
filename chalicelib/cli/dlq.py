"""`nurture dlq redrive`: replay what a dead-letter queue holds, safely (see `redrive`)."""

from __future__ import annotations

import time
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import services
from chalicelib.cli.common import FAILED
from chalicelib.config import settings
from chalicelib.redrive import QUEUES, Replay

__all__ = ["COMMANDS"]

URL_SETTINGS = {
    "park": "park_dlq_url",
    "schedule": "schedule_dlq_url",
    "ses-event": "ses_event_dlq_url",
    "stream": "stream_dlq_url",
    "import": "import_dlq_url",
}


@click.group("dlq")
def dlq() -> None:
    """Dead-letter queues: what failed for good after every retry, replayed when fixed."""


@dlq.command("redrive")
@click.argument("queue", type=click.Choice(QUEUES))
@click.option(
    "--queue-url",
    help="The queue (default: NURTURE_PARK_DLQ_URL, NURTURE_SCHEDULE_DLQ_URL, "
    "NURTURE_SES_EVENT_DLQ_URL, NURTURE_STREAM_DLQ_URL or NURTURE_IMPORT_DLQ_URL, from the "
    "stack's outputs).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Replay at most this many messages.")
def redrive_command(queue: str, queue_url: str | None, limit: int | None) -> None:
    """Replay QUEUE's messages: each one done again is deleted; one that fails again stays in
    the queue and is listed with why (exit status 1). Safe to run twice: everything a message
    causes is recorded once."""
    from chalicelib.redrive import redrive

    url = queue_url or getattr(settings(), URL_SETTINGS[queue])
    if not url:
        env = f"NURTURE_{queue.upper().replace('-', '_')}_DLQ_URL"
        raise click.UsageError(f"--queue-url: give the queue's URL (or set {env})")
    try:
        done = redrive(services.client("sqs"), url, _replay(queue), limit)
    except (ClientError, BotoCoreError) as exc:  # no such queue, no access
        raise click.ClickException(f"--queue-url: {url}: {exc}") from None
    click.echo(f"{queue}: {done.replayed} replayed, {len(done.failed)} left in the queue")
    for message_id, why in done.failed:
        click.echo(f"  {message_id}: {why}", err=True)
    if done.failed:
        raise SystemExit(FAILED)


def _replay(queue: str) -> Replay:
    from chalicelib import redrive

    if queue == "park":
        return redrive.park_replay(services.table())
    if queue == "schedule":
        return redrive.schedule_replay(services.scheduler(), time.time)
    if queue == "ses-event":
        return redrive.ses_event_replay(_ses_events)
    if queue == "import":
        return redrive.import_replay(services.imports(), time.time)
    return redrive.stream_replay(services.client("dynamodbstreams"), _stream)


def _ses_events(event: Any) -> dict[str, Any]:
    from chalicelib import feedback

    return feedback.answer(services.table(), event, settings())


def _stream(event: Any) -> dict[str, Any]:
    from chalicelib import streams

    return streams.handle(dict(event), services.stream_consumers())


COMMANDS = [dlq]

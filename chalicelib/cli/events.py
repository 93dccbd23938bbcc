"""`nurture events send`: product events, validated and stored as the API stores them."""

from __future__ import annotations

import json
import secrets
import time
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chalicelib import services
from chalicelib.cli.common import or_fail
from chalicelib.config import settings
from chalicelib.stamps import iso

if TYPE_CHECKING:
    from chalicelib.productevents import Accepted

__all__ = ["COMMANDS"]


@click.group()
def events() -> None:
    """Product events (sign-ups, carts, orders...) for segments, stages and triggers."""


@events.command("send")
@click.option("--contact", help="Contact id or email address.")
@click.option("--name", help="Event name, e.g. cart_updated.")
@click.option(
    "--id",
    "event_id",
    help="Event id (default: a new one); the same id and time again is stored once.",
)
@click.option("--at", help="When it happened, ISO 8601 with offset (default: now).")
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="NAME=VALUE",
    help="A property; VALUE is read as JSON when it parses (42, true, [1]), else as text.",
)
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A backfill: JSON Lines of events ({event_id, contact, name, properties, at}), "
    "stored 500 at a time; backfilled events update summaries but start no sequence.",
)
def send_command(
    contact: str | None,
    name: str | None,
    event_id: str | None,
    at: str | None,
    properties: tuple[str, ...],
    file: Path | None,
) -> None:
    """Store one product event (--contact and --name), or backfill a file of them (--file)."""
    from chalicelib import productevents

    if file is not None:
        if contact or name or properties:
            raise click.UsageError("give either --file or one event's options")
        stored = 0
        with file.open("rb") as lines:
            while chunk := list(
                islice((ln for ln in lines if ln.strip()), productevents.MAX_BATCH)
            ):
                accepted = _parsed(b'{"events": [' + b",".join(chunk) + b"]}")
                productevents.record_batch(services.table(), accepted.events)
                stored += len(accepted.events)
        click.echo(f"backfilled {stored} events")
        return
    if not contact or not name:
        raise click.UsageError("give --contact and --name (or --file)")
    doc: dict[str, Any] = {
        "event_id": event_id or secrets.token_hex(12),
        "contact": contact,
        "name": name,
        "at": at or iso(time.time()),
        "properties": dict(_property(p) for p in properties),
    }
    accepted = _parsed(json.dumps(doc).encode())
    [event] = accepted.events
    fresh = productevents.record(services.table(), services.parking(), event)
    click.echo(f"{event.event_id} {'stored' if fresh else 'duplicate'}")


def _parsed(body: bytes) -> Accepted:
    from chalicelib import productevents

    return or_fail(lambda: productevents.parse(body, time.time(), settings().event_retention_days))


def _property(text: str) -> tuple[str, Any]:
    name, equals, raw = text.partition("=")
    if not equals:
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE", param_hint="--property")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


COMMANDS = (events,)

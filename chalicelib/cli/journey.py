"""`nurture enroll` and `nurture send-test`: what happens to contacts in a sequence."""

from __future__ import annotations

from typing import Any

import click

from chalicelib import services
from chalicelib.cli.common import FAILED, or_fail

__all__ = ["COMMANDS"]


@click.command("enroll")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--file", "id_file", type=click.File("r"), help="Contact ids, one per line.")
@click.argument("contact_ids", nargs=-1)
def enroll_command(sequence_id: str, id_file: Any, contact_ids: tuple[str, ...]) -> None:
    """Enroll CONTACT_IDS (and/or the ids in --file) in the newest version of a sequence.

    Each first send is planned in the contact's own zone inside the sequence's window;
    contacts already enrolled are left alone.
    """
    ids = [*contact_ids, *(line.strip() for line in id_file or () if line.strip())]
    if not ids:
        raise click.UsageError("give contact ids as arguments or with --file")
    counts = or_fail(lambda: services.journey().enroll_many(ids, sequence_id))
    click.echo(", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items()))


@click.command("send-test")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--step", "step_id", help="Step id (default: the first step).")
@click.argument("contact_id")
def send_test_command(sequence_id: str, step_id: str | None, contact_id: str) -> None:
    """Send one step of a sequence to CONTACT_ID now, through the real render and SES path."""
    outcome = or_fail(lambda: services.journey().send_test(contact_id, sequence_id, step_id))
    click.echo(f"{outcome.status} {outcome.reason} {outcome.message_id}".strip())
    if outcome.status != "sent":
        raise SystemExit(FAILED)


COMMANDS = (enroll_command, send_test_command)

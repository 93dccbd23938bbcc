"""`nurture enroll` and `nurture send-test`: what happens to contacts in a sequence."""

from __future__ import annotations

from typing import Any

import click

from chalicelib import contactnames, services
from chalicelib.cli.common import FAILED, FileRefused, moment, or_fail

__all__ = ["COMMANDS"]


@click.command("enroll")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option(
    "--file",
    "id_file",
    type=click.File("r", encoding="utf-8"),
    help="Contact ids or emails, one per line (UTF-8).",
)
@click.option("--segment", "segment_id", help="Enroll every member of this segment now.")
@click.argument("contacts", nargs=-1)
def enroll_command(
    sequence_id: str, id_file: Any, segment_id: str | None, contacts: tuple[str, ...]
) -> None:
    """Enroll CONTACTS (ids or email addresses; and/or those in --file), or every member of
    --segment, in the newest version of a sequence. Put `--` before ids that start with '-'.

    Each first send is planned in the contact's own zone inside the sequence's window;
    contacts already enrolled are left alone. Exit status 1 if any contact was not enrolled.
    A segment is evaluated over every profile in one streaming pass, enrolling 500 at a time.
    """
    if segment_id is not None:
        if contacts or id_file:
            raise click.UsageError("give --segment or contacts, not both")
        _enroll_segment(sequence_id, segment_id)
        return
    try:
        names = [*contacts, *(line.strip() for line in id_file or () if line.strip())]
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{id_file.name}: not UTF-8 text ({exc.reason})") from None
    if not names:
        raise click.UsageError("give contact ids or emails as arguments or with --file")
    found = contactnames.contact_ids(services.table(), names)
    unknown = [name for name, contact_id in found.items() if contact_id is None]
    ids = [contact_id for contact_id in found.values() if contact_id is not None]
    counts = or_fail(lambda: services.journey().enroll_many(ids, sequence_id))
    counts["unknown_contact"] += len(unknown)
    click.echo(", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items()))
    for name in unknown:
        click.echo(f"unknown contact: {name}", err=True)
    if counts["enrolled"] + counts["already_enrolled"] < len(found):
        raise SystemExit(FAILED)


def _enroll_segment(sequence_id: str, segment_id: str) -> None:
    from chalicelib.audience import enroll_members, profiles

    test = or_fail(lambda: services.catalogue().matcher(segment_id, moment()))
    journey = services.journey()
    members = (p for p in profiles(services.table().profiles()) if test(p))
    counts = or_fail(
        lambda: enroll_members(members, lambda ids: journey.enroll_many(ids, sequence_id))
    )
    click.echo(
        ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()) or "no members"
    )


@click.command("send-test")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--step", "step_id", help="Step id (default: the first step).")
@click.argument("contact")
def send_test_command(sequence_id: str, step_id: str | None, contact: str) -> None:
    """Send one step of a sequence to CONTACT (an id or email address) now, through the real
    render and SES path. Put `--` before an id that starts with '-'."""
    contact_id = or_fail(lambda: contactnames.contact_id(services.table(), contact))
    outcome = or_fail(lambda: services.journey().send_test(contact_id, sequence_id, step_id))
    click.echo(f"{outcome.status} {outcome.reason} {outcome.message_id}".strip())
    if outcome.status != "sent":
        raise SystemExit(FAILED)


COMMANDS = (enroll_command, send_test_command)

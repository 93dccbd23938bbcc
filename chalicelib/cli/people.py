"""`nurture contacts show|events|pause|unenroll|erase` and `export CONTACT`: one contact, by id
or email address, as the console shows it and acts on it; GDPR access and erasure."""

from __future__ import annotations

import getpass
import json
import time
from typing import Any

import click

from chalicelib import contactnames, services
from chalicelib.cli.common import or_fail

__all__ = ["COMMANDS", "export_contact"]

CONTACT = click.argument("contact")


def _contact_id(name: str) -> str:
    return or_fail(lambda: contactnames.contact_id(services.table(), name, "contact"))


def export_contact(name: str, output: Any) -> None:
    """Everything stored about one contact, as JSON (a GDPR access request)."""
    contact_id = _contact_id(name)
    found = or_fail(lambda: services.gdpr().export(contact_id))
    output.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")


@click.command("show")
@CONTACT
def show_command(contact: str) -> None:
    """The contact's profile and where each of its enrollments stands, as JSON."""
    contact_id = _contact_id(contact)
    found = or_fail(lambda: services.contact_view().profile(contact_id))
    click.echo(json.dumps(found, indent=2, ensure_ascii=False))


@click.command("events")
@CONTACT
@click.option("--since", help="From this date (2026-03-01) or UTC time (...T12:00:00Z).")
@click.option("--until", help="Up to this date (inclusive) or UTC time (exclusive).")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
)
def events_command(contact: str, since: str | None, until: str | None, file_format: str) -> None:
    """The contact's timeline (events, sends, skips with reasons), newest first: CSV with a
    header, or JSON Lines. Cells a spreadsheet would run as a formula are prefixed with '."""
    from chalicelib.contactfiles import export_csv
    from chalicelib.people.view import MAX_PAGE, TIMELINE_COLUMNS, Page, span

    contact_id = _contact_id(contact)
    view = services.contact_view()
    within = or_fail(lambda: span(since, until))
    cursor: str | None = None
    header = True

    def page_after(after: str | None) -> Page:
        return or_fail(lambda: view.timeline(contact_id, within, after, MAX_PAGE))

    while True:
        page = page_after(cursor)
        if file_format == "json":
            for entry in page.entries:
                click.echo(json.dumps(entry, ensure_ascii=False))
        else:
            lines = list(export_csv(page.entries, TIMELINE_COLUMNS))
            click.echo("".join(lines if header else lines[1:]), nl=False)
            header = False
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@click.command("pause")
@CONTACT
@click.option(
    "--days",
    type=click.IntRange(0, 365),
    required=True,
    help="Hold the contact's sends this many days (0 resumes now).",
)
def pause_command(contact: str, days: int) -> None:
    """Pause (or resume) the contact's mail; pending sends wait for the end of the pause."""
    from chalicelib.people import actions

    contact_id = _contact_id(contact)
    until = or_fail(lambda: actions.pause(services.table(), contact_id, days, time.time()))
    click.echo(f"{contact_id} paused until {until}" if until else f"{contact_id} resumed")


@click.command("unenroll")
@CONTACT
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
def unenroll_command(contact: str, sequence_id: str) -> None:
    """Take the contact out of a sequence; nothing more of it is sent."""
    from chalicelib.people import actions

    contact_id = _contact_id(contact)
    ended = or_fail(
        lambda: actions.unenroll(services.table(), contact_id, sequence_id, time.time())
    )
    click.echo(f"{contact_id} {sequence_id}: {ended['status']}")


@click.command("erase")
@CONTACT
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(contact: str, yes: bool) -> None:
    """Erase the contact (GDPR): profile, events, enrollments, timers and the personal data on
    its send records go; the address is kept only as a suppression hash, so no later import
    can re-subscribe it. The erasure is audited (contact id and who ran it, not the address)."""
    contact_id = _contact_id(contact)
    if not yes:
        click.confirm(
            f"Erase everything stored about {contact_id}? This cannot be undone", abort=True
        )
    principal = f"cli:{getpass.getuser()}"
    erased = or_fail(lambda: services.gdpr().erase(contact_id, principal))
    click.echo(
        f"erased {contact_id}: {erased['items_removed']} items removed, "
        f"{erased['sends_stripped']} send records stripped"
        + (", address suppressed" if erased["suppressed"] else "")
    )


COMMANDS = (show_command, events_command, pause_command, unenroll_command, erase_command)

"""`nurture schedule`: when sends happen, and why."""

from __future__ import annotations

import click

from chalicelib import contactnames, services
from chalicelib.cli.common import or_fail

__all__ = ["COMMANDS"]


@click.group()
def schedule() -> None:
    """Inspect when sends happen."""


@schedule.command("preview")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--contact", required=True, help="Contact id or email address.")
def preview_command(sequence_id: str, contact: str) -> None:
    """The sends a contact who never engages would get: each step's local and UTC time, how
    the contact gets there (enrolled, next, or a branch such as `not_opened 3d`), and why the
    time moved (window, weekday, holiday, quiet hours, wait_until, which zone fallback)."""
    contact_id = or_fail(lambda: contactnames.contact_id(services.table(), contact, "--contact"))
    rows = or_fail(lambda: services.journey().preview(contact_id, sequence_id))
    click.echo("step\tvia\tlocal time\tUTC\tzone (from)\twhy")
    for row in rows:
        why = ", ".join(row.reasons) or "in window"
        zone = f"{row.zone} ({row.zone_source})"
        click.echo(f"{row.step_id}\t{row.via}\t{row.local}\t{row.utc}\t{zone}\t{why}")


COMMANDS = (schedule,)

"""`nurture render`: a step's email for one contact, written to files to review, never sent."""

from __future__ import annotations

import tempfile
import webbrowser
from pathlib import Path

import click

from chalicelib import contactnames, services
from chalicelib.cli.common import or_fail

__all__ = ["COMMANDS"]


@click.command("render")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--step", "step_id", help="Step id (default: the first step).")
@click.option("--contact", required=True, help="Contact id or email address.")
@click.option("--variant", help="A/B variant id (default: the one this contact would get).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write to (default: a new temporary directory).",
)
@click.option("--no-open", is_flag=True, help="Only write the files; open no browser.")
def render_command(
    sequence_id: str,
    step_id: str | None,
    contact: str,
    variant: str | None,
    out: Path | None,
    no_open: bool,
) -> None:
    """Prepare the email a step of the newest version would send CONTACT, as the send does
    (locale, variant, tracked links, open pixel, List-Unsubscribe headers), write its HTML,
    its text part and the whole message (.eml), and open the HTML in a browser.

    Nothing is sent or stored. The tracking tokens are signed with a throwaway key: opening
    the file or clicking its links records nothing; each link's destination is listed here."""
    from chalicelib import proof

    table = services.table()
    contact_id = or_fail(lambda: contactnames.contact_id(table, contact, "contact"))
    made = or_fail(
        lambda: proof.prepare(
            table,
            services.versions(),
            services.composer(),
            contact_id,
            sequence_id,
            step_id,
            variant,
        )
    )
    written = proof.write(made, out or Path(tempfile.mkdtemp(prefix="nurture-render-")))
    message = made.message
    variant_note = f", variant {message.variant}" if message.variant else ""
    click.echo(f"{made.sequence_id} v{made.version}, step {made.step_id}{variant_note}")
    click.echo(f"From: {message.sender}\nTo: {message.to}\nSubject: {message.subject}")
    for name, value in message.headers.items():
        click.echo(f"{name}: {value}")
    for index, destination in enumerate(message.links):
        click.echo(f"link {index}: {destination}")
    for path in (written.html, written.text, written.eml):
        click.echo(f"wrote {path}")
    if not no_open:
        webbrowser.open(written.html.resolve().as_uri())


COMMANDS = (render_command,)

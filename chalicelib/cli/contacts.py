"""`nurture contacts`: import and export contact files."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chalicelib import services
from chalicelib.cli import imports, people
from chalicelib.cli.common import FAILED, FileRefused, now
from chalicelib.cli.people import export_contact
from chalicelib.contactfiles import READERS, export_csv
from chalicelib.contacts import (
    FirstPlaced,
    ImportReport,
    Placed,
    import_contacts,
    new_contact_id,
)
from chalicelib.errors import ImportInterrupted, InvalidInput

__all__ = ["COMMANDS"]

SHOWN_IDS = 10  # contact ids printed without --ids
EXPORT_COLUMNS = (
    "contact_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "locale",
    "timezone",
    "country",
    "tags",
    "interests",
    "status",
)


@click.group()
def contacts() -> None:
    """Import and manage contacts."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(sorted(READERS)),
    help="File format; by default taken from the file's extension.",
)
@click.option("--dry-run", is_flag=True, help="Validate and compare, but write nothing.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Contacts written at once (DynamoDB round trips overlap).",
)
@click.option(
    "--ids",
    "ids_file",
    type=click.File("w", encoding="utf-8", lazy=True),
    help="Write every row's contact id to this CSV file ('-' for standard output).",
)
@click.option(
    "--job/--no-job",
    default=None,
    help="Import as a job in AWS (upload, then a resumable import with an error report), or "
    f"from here. Default: a job for files over {imports.JOB_THRESHOLD >> 20} MiB.",
)
@click.option("--wait", is_flag=True, help="With a job: follow it until it is over.")
def import_command(
    file: Path,
    file_format: str | None,
    dry_run: bool,
    workers: int,
    ids_file: Any,
    job: bool | None,
    wait: bool,
) -> None:
    """Import contacts from FILE (CSV with a header line, or JSON Lines).

    Columns: email (required), first_name, last_name, company, locale, timezone (IANA),
    country (ISO alpha-2), tags and interests (';'-separated in CSV), consent_source,
    consent_at (ISO 8601 with offset); any other column is a custom attribute.
    Existing contacts get only the non-blank fields of their row; unsubscribed contacts
    stay unsubscribed and suppressed addresses are skipped. Re-running a file changes
    nothing. Rejected rows (including later duplicates of an address) are listed as
    'line N: field: reason'.

    The contact id of each row (created or matched) is printed for the first rows, and for
    every row with --ids (columns line, email, contact_id, outcome). Contacts are named by
    id or email address in every other command.

    Files over 5 MiB (or with --job) are imported as a job in AWS: uploaded, then imported
    in chunks that checkpoint, so a crash or timeout resumes where it stopped; rejected rows go
    to a CSV report (line, field, message) whose download URL is printed. --wait follows the
    job; `nurture contacts import-status ID` shows it later.

    Exit status: 0 all rows imported (or suppressed), 1 some rows rejected or no rows at all,
    2 file refused.
    """
    file_format = file_format or _format_of(file)
    if job is None:
        job = file.stat().st_size > imports.JOB_THRESHOLD and not dry_run and ids_file is None
    if job:
        if dry_run or ids_file is not None:
            raise click.UsageError("--dry-run and --ids read the table from here: not with --job")
        imports.run_job(file, file_format, wait)
        return
    if wait:
        raise click.UsageError("--wait follows an import job: add --job")
    reader = READERS[file_format]
    ids = _IdListing(ids_file)
    # The bar counts bytes read and is drawn only when stderr is a terminal.
    size = file.stat().st_size
    with file.open("rb") as stream, click.progressbar(length=size, file=sys.stderr) as bar:
        try:
            report = import_contacts(
                services.table(),
                reader(stream),
                now=now(),
                new_id=new_contact_id,
                dry_run=dry_run,
                workers=workers,
                on_batch=lambda: bar.update(stream.tell() - bar.pos),
                on_contact=ids.add,
            )
        except InvalidInput as err:
            raise FileRefused(f"{file}: {err}") from None
        except ImportInterrupted as stop:
            _print_report(stop.report, dry_run)
            ids.finish(ids_file)
            raise click.ClickException(str(stop)) from None
    _print_report(report, dry_run)
    ids.finish(ids_file)
    if report.rows == 0:
        raise click.ClickException(f"{file} holds no contact rows: nothing was imported")
    if not report.ok:
        raise SystemExit(FAILED)


class _IdListing:
    """Contact ids as rows are placed: all of them to the --ids file, else the first few."""

    def __init__(self, output: Any) -> None:
        self.shown = FirstPlaced(0 if output is not None else SHOWN_IDS)
        self.write: Callable[[list[object]], object] | None = None
        if output is not None:
            self.write = csv.writer(output, lineterminator="\n").writerow
            self.write(["line", "email", "contact_id", "outcome"])

    def add(self, placed: Placed) -> None:
        self.shown.add(placed)
        if self.write is not None:
            self.write([placed.line, placed.email, placed.contact_id or "", placed.outcome])

    def finish(self, output: Any) -> None:
        if output is not None:
            output.flush()
            name = getattr(output, "name", "-")
            if name not in ("-", "<stdout>"):
                click.echo(f"{self.shown.more} contact ids written to {name}")
            return
        if not self.shown.first:
            return
        click.echo("line\temail\tcontact id\toutcome")
        for placed in self.shown.first:
            contact_id = placed.contact_id or ("(new)" if placed.outcome == "imported" else "-")
            click.echo(f"{placed.line}\t{placed.email}\t{contact_id}\t{placed.outcome}")
        if self.shown.more:
            click.echo(f"... and {self.shown.more} more: write them all with --ids FILE")


@contacts.command("export")
@click.argument("contact", required=False)
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Where to write the CSV (or JSON) (default: standard output).",
)
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    help="Also export this custom attribute (repeatable).",
)
def export_command(contact: str | None, output: Any, attributes: tuple[str, ...]) -> None:
    """Write every contact as CSV. Cells that a spreadsheet would run as a formula (starting
    with = + - @, tab or CR) are prefixed with ' here; the stored value is unchanged.

    With CONTACT (an id or email address): everything stored about that contact as JSON
    (profile, enrollments, events, sends, caps, pending timers, suppression), for a GDPR
    access request."""
    if contact is not None:
        if attributes:
            raise click.UsageError("--attribute applies to the CSV of every contact")
        export_contact(contact, output)
        return
    for line in export_csv(services.table().profiles(), [*EXPORT_COLUMNS, *attributes]):
        output.write(line)


def _format_of(file: Path) -> str:
    suffix = file.suffix.lower().lstrip(".")
    if suffix not in READERS:
        raise click.UsageError(f"cannot tell the format of {file.name}; pass --format csv|jsonl")
    return suffix


def _print_report(report: ImportReport, dry_run: bool) -> None:
    prefix = "dry run, nothing written: " if dry_run else ""
    click.echo(f"{prefix}{report.summary()}")
    for rejected in report.rejected:
        click.echo(str(rejected))


for _command in (*people.COMMANDS, imports.import_status_command):
    contacts.add_command(_command)

COMMANDS = (contacts,)

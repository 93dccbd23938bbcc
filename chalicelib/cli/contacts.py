"""`nurture contacts`: import and export contact files."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import click

from chalicelib import services
from chalicelib.cli.common import FAILED, FileRefused, now
from chalicelib.contactfiles import READERS, export_csv
from chalicelib.contacts import ImportReport, import_contacts
from chalicelib.errors import InvalidInput

__all__ = ["COMMANDS"]

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
def import_command(file: Path, file_format: str | None, dry_run: bool, workers: int) -> None:
    """Import contacts from FILE (CSV with a header line, or JSON Lines).

    Columns: email (required), first_name, last_name, company, locale, timezone (IANA),
    country (ISO alpha-2), tags and interests (';'-separated in CSV), consent_source,
    consent_at (ISO 8601 with offset); any other column is a custom attribute.
    Existing contacts get only the non-blank fields of their row; unsubscribed contacts
    stay unsubscribed and suppressed addresses are skipped. Re-running a file changes
    nothing. Rejected rows (including later duplicates of an address) are listed as
    'line N: field: reason'.

    Exit status: 0 all rows imported (or suppressed), 1 some rows rejected, 2 file refused.
    """
    reader = READERS[file_format or _format_of(file)]
    # The bar counts bytes read and is drawn only when stderr is a terminal.
    size = file.stat().st_size
    with file.open("rb") as stream, click.progressbar(length=size, file=sys.stderr) as bar:
        try:
            report = import_contacts(
                services.table(),
                reader(stream),
                now=now(),
                new_id=lambda: secrets.token_urlsafe(12),
                dry_run=dry_run,
                workers=workers,
                on_batch=lambda: bar.update(stream.tell() - bar.pos),
            )
        except InvalidInput as err:
            raise FileRefused(f"{file}: {err}") from None
    _print_report(report, dry_run)
    if not report.ok:
        raise SystemExit(FAILED)


@contacts.command("export")
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Where to write the CSV (default: standard output).",
)
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    help="Also export this custom attribute (repeatable).",
)
def export_command(output: Any, attributes: tuple[str, ...]) -> None:
    """Write every contact as CSV. Cells that a spreadsheet would run as a formula (starting
    with = + - @, tab or CR) are prefixed with ' here; the stored value is unchanged."""
    for line in export_csv(services.table().profiles(), [*EXPORT_COLUMNS, *attributes]):
        output.write(line)


def _format_of(file: Path) -> str:
    suffix = file.suffix.lower().lstrip(".")
    if suffix not in READERS:
        raise click.UsageError(f"cannot tell the format of {file.name}; pass --format csv|jsonl")
    return suffix


def _print_report(report: ImportReport, dry_run: bool) -> None:
    prefix = "dry run, nothing written: " if dry_run else ""
    click.echo(
        f"{prefix}imported {report.imported}, updated {report.updated}, "
        f"unchanged {report.unchanged}, suppressed {report.suppressed}, "
        f"rejected {len(report.rejected)}"
    )
    for rejected in report.rejected:
        click.echo(str(rejected))


COMMANDS = (contacts,)

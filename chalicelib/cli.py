"""The `nurture` command line: one group, a subcommand group per idea.

It reaches AWS through `services`, so `AWS_ENDPOINT_URL` points it at the local stack's moto.
Exit codes: 0 success; 1 invalid input (rejected rows, invalid sequence files, domain errors);
2 usage errors or a file refused as a whole.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from chalicelib import services
from chalicelib.contactfiles import READERS, export_csv
from chalicelib.contacts import ImportReport, import_contacts
from chalicelib.errors import InvalidInput, NurtureError
from chalicelib.stamps import iso

if TYPE_CHECKING:
    from chalicelib.sequences import Sequence

T = TypeVar("T")

ROWS_REJECTED = 1


class FileRefused(click.ClickException):
    """The file as a whole cannot be imported (encoding, header); no row was read."""

    exit_code = 2


@click.group()
def nurture() -> None:
    """nurture: email drip sequences on AWS.

    Talks to the table named by NURTURE_TABLE; set AWS_ENDPOINT_URL to use the local stack.
    """


@nurture.group()
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
                now=_now(),
                new_id=lambda: secrets.token_urlsafe(12),
                dry_run=dry_run,
                workers=workers,
                on_batch=lambda: bar.update(stream.tell() - bar.pos),
            )
        except InvalidInput as err:
            raise FileRefused(f"{file}: {err}") from None
    _print_report(report, dry_run)
    if not report.ok:
        raise SystemExit(ROWS_REJECTED)


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


@nurture.group()
def sequences() -> None:
    """Validate, push and inspect sequence files (YAML, one per sequence)."""


@sequences.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def validate_command(files: tuple[Path, ...]) -> None:
    """Check FILES: schema, cross-step rules and a sandboxed trial render of every template.

    Every problem is listed as 'file: path: message'. Exit status 1 if any file is invalid.
    """
    checked = [_checked(path) for path in files]  # every file, even after a bad one
    if not all(checked):
        raise SystemExit(1)


@sequences.command("push")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def push_command(files: tuple[Path, ...]) -> None:
    """Validate FILES and store each as a new immutable version (unchanged files add none)."""
    from chalicelib import catalog

    valid = [sequence for path in files if (sequence := _checked(path)) is not None]
    if len(valid) != len(files):
        raise SystemExit(1)
    for sequence in valid:
        pushed = catalog.push(services.versions(), sequence, _now())
        state = "new version" if pushed.created else "unchanged"
        click.echo(f"{pushed.sequence_id} v{pushed.version} ({state})")


@sequences.command("list")
def list_command() -> None:
    """Every sequence with its newest version."""
    for head in services.versions().heads():
        click.echo(f"{head.sequence_id}\tv{head.version}\t{head.pushed_at}\t{head.name}")


@sequences.command("show")
@click.argument("sequence_id")
@click.option("--version", type=click.IntRange(1), help="A pinned version (default: newest).")
def show_command(sequence_id: str, version: int | None) -> None:
    """Print a stored version as YAML."""
    import yaml

    from chalicelib import catalog

    sequence = _or_fail(lambda: catalog.load(services.versions(), sequence_id, version))
    click.echo(yaml.safe_dump(json.loads(sequence.to_json()), sort_keys=False, allow_unicode=True))


@nurture.command("enroll")
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
    counts = _or_fail(lambda: services.journey().enroll_many(ids, sequence_id))
    click.echo(", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items()))


@nurture.command("send-test")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--step", "step_id", help="Step id (default: the first step).")
@click.argument("contact_id")
def send_test_command(sequence_id: str, step_id: str | None, contact_id: str) -> None:
    """Send one step of a sequence to CONTACT_ID now, through the real render and SES path."""
    outcome = _or_fail(lambda: services.journey().send_test(contact_id, sequence_id, step_id))
    click.echo(f"{outcome.status} {outcome.reason} {outcome.message_id}".strip())
    if outcome.status != "sent":
        raise SystemExit(1)


@nurture.command("report")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
def report_command(sequence_id: str) -> None:
    """The funnel of a sequence, step by step: sends and the unique human opens, clicks and
    conversions they led to (rates of sent), unsubscribes, bounces, complaints, skips, and
    machine opens (Apple MPP, proxies) apart."""
    from chalicelib import catalog
    from chalicelib.funnel import Funnel

    sequence, _ = _or_fail(lambda: catalog.newest(services.versions(), sequence_id))
    click.echo(
        "step\tsent\topened\tclicked\tconverted\tunsubscribed\tbounced\tcomplained"
        "\tskipped\tmachine opens"
    )
    for row in Funnel(services.table()).report(sequence):
        counts = row.counts
        rated = [f"{counts[m]} ({row.rate(m):.0%})" for m in ("opened", "clicked", "converted")]
        rest = [
            str(counts[m])
            for m in ("unsubscribed", "bounced", "complained", "skipped", "opened_machine")
        ]
        click.echo("\t".join([row.step_id, str(counts["sent"]), *rated, *rest]))


@nurture.group()
def schedule() -> None:
    """Inspect when sends happen."""


@schedule.command("preview")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option("--contact", "contact_id", required=True, help="Contact id.")
def preview_command(sequence_id: str, contact_id: str) -> None:
    """Each step's local and UTC send time on the default path, and why (window, weekday,
    holiday, quiet hours, which zone fallback)."""
    rows = _or_fail(lambda: services.journey().preview(contact_id, sequence_id))
    for row in rows:
        why = ", ".join(row.reasons) or "in window"
        click.echo(f"{row.step_id}\t{row.local}\t{row.utc}\t{row.zone} ({row.zone_source})\t{why}")


def _checked(path: Path) -> Sequence | None:
    from chalicelib import catalog
    from chalicelib.errors import FileInvalid
    from chalicelib.sequences import load_sequence

    try:
        sequence = load_sequence(path)
        catalog.check_templates(sequence, str(path))
    except FileInvalid as invalid:
        click.echo(str(invalid), err=True)
        return None
    click.echo(f"{path}: ok ({sequence.id}, {len(sequence.steps)} steps)")
    return sequence


def _or_fail(action: Callable[[], T]) -> T:
    """Run `action`; a domain error is printed as a clean message with exit status 1."""
    try:
        return action()
    except NurtureError as error:
        raise click.ClickException(str(error)) from None


def _now() -> str:
    """Timestamps the CLI writes, in the table's one format (as the API writes them)."""
    return iso(time.time())

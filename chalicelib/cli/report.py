"""`nurture report`: a sequence's funnel, step by step and per A/B variant."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from chalicelib import services
from chalicelib.cli.common import moment, or_fail

__all__ = ["COMMANDS"]

RATED = ("opened", "clicked", "converted")
COUNTED = ("unsubscribed", "bounced", "complained", "skipped", "opened_machine", "uncertain")


@click.command("report")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option(
    "--format",
    "shape",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table: tab-separated for reading; csv: one row per step and variant; json: the whole "
    "report (daily trend, reasons, experiments) as the API answers it.",
)
@click.option(
    "--by",
    type=click.Choice(["stage", "segment"]),
    help="Instead: its enrollments by the contacts' stage or segments now (one table scan).",
)
@click.option("--since", help="First UTC day of the sends counted (2026-03-01).")
@click.option("--until", help="Last UTC day of the sends counted, included.")
@click.option("--segment", help="Only sends to contacts who were in this segment when sent.")
@click.option("--stage", help="Only sends to contacts who were at this stage when sent.")
@click.option(
    "--recount",
    is_flag=True,
    help="Add up every count stored for the sequence instead of reading the rollup's totals: "
    "slower (it reads every send's counts), for auditing the rollup.",
)
def report_command(
    sequence_id: str,
    shape: str,
    by: str | None,
    since: str | None,
    until: str | None,
    segment: str | None,
    stage: str | None,
    recount: bool,
) -> None:
    """The funnel of a sequence, step by step and per A/B variant: sends and the deliveries,
    unique human opens, clicks and conversions they led to (rates of sent), unsubscribes,
    bounces, complaints, skips, machine opens (Apple MPP, proxies) apart, and revenue. With
    --by, how its enrollments stand, grouped by the contacts' lifecycle stage or by each
    segment they are in."""
    from chalicelib.reporting import csv_lines

    if by is not None:
        if segment is not None or stage is not None or recount:
            raise click.UsageError("--by cannot be combined with --segment, --stage or --recount")
        _breakdown(sequence_id, by)
        return
    doc = or_fail(lambda: services.report(sequence_id, since, until, segment, stage, recount))
    left_out = doc.get("unfilterable") or {}
    if left_out.get("sent") or left_out.get("skipped"):
        click.echo(
            f"note: {left_out['sent']:,} sends and {left_out['skipped']:,} skips made before "
            "sends carried the contact's stage and segments are left out (they cannot be "
            "filtered)",
            err=True,
        )
    if shape == "json":
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    if shape == "csv":
        click.echo("".join(csv_lines(doc)), nl=False)
        return
    click.echo(
        "step\tsent\topened\tclicked\tconverted\tunsubscribed\tbounced\tcomplained"
        "\tskipped\tmachine opens\tuncertain\tdelivered\trevenue"
    )
    for step in doc["steps"]:
        click.echo(_line(step, str(step["step_id"])))
        for variant in step.get("variants") or ():
            click.echo(_line(variant, f"{step['step_id']}/{variant['variant']}"))


def _line(counts: Mapping[str, Any], label: str) -> str:
    """The columns the table always had, then delivered and revenue; a variant's row is
    labelled `step/variant`."""
    sent = int(counts["sent"])
    rated = [f"{counts[m]} ({counts[m] / sent if sent else 0:.0%})" for m in RATED]
    revenue = " ".join(f"{c} {a}" for c, a in sorted((counts.get("revenue") or {}).items()))
    rest = [str(counts[m]) for m in COUNTED]
    return "\t".join([label, str(sent), *rated, *rest, str(counts["delivered"]), revenue])


def _breakdown(sequence_id: str, by: str) -> None:
    from chalicelib import audience, catalog

    or_fail(lambda: catalog.newest(services.versions(), sequence_id))
    rows = audience.report_by(services.table(), services.catalogue(), sequence_id, by, moment())
    columns = ("enrolled", *audience.STATUSES)
    click.echo("\t".join([by, *columns]))
    for group, counts in rows.items():
        click.echo("\t".join([group, *(str(counts[c]) for c in columns)]))


COMMANDS = (report_command,)

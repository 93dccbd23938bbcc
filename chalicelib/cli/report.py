"""`nurture report`: a sequence's funnel, step by step."""

from __future__ import annotations

import click

from chalicelib import services
from chalicelib.cli.common import moment, or_fail

__all__ = ["COMMANDS"]


@click.command("report")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
@click.option(
    "--by",
    type=click.Choice(["stage", "segment"]),
    help="Instead: its enrollments by the contacts' stage or segments now (one table scan).",
)
def report_command(sequence_id: str, by: str | None) -> None:
    """The funnel of a sequence, step by step: sends and the unique human opens, clicks and
    conversions they led to (rates of sent), unsubscribes, bounces, complaints, skips, and
    machine opens (Apple MPP, proxies) apart. With --by, how its enrollments stand, grouped
    by the contacts' lifecycle stage or by each segment they are in."""
    from chalicelib import catalog
    from chalicelib.funnel import Funnel

    sequence, _ = or_fail(lambda: catalog.newest(services.versions(), sequence_id))
    if by is not None:
        _breakdown(sequence_id, by)
        return
    click.echo(
        "step\tsent\topened\tclicked\tconverted\tunsubscribed\tbounced\tcomplained"
        "\tskipped\tmachine opens\tuncertain"
    )
    for row in Funnel(services.table()).report(sequence):
        counts = row.counts
        rated = [f"{counts[m]} ({row.rate(m):.0%})" for m in ("opened", "clicked", "converted")]
        rest = [
            str(counts[m])
            for m in (
                "unsubscribed",
                "bounced",
                "complained",
                "skipped",
                "opened_machine",
                "uncertain",
            )
        ]
        click.echo("\t".join([row.step_id, str(counts["sent"]), *rated, *rest]))


def _breakdown(sequence_id: str, by: str) -> None:
    from chalicelib import audience

    rows = audience.report_by(services.table(), services.catalogue(), sequence_id, by, moment())
    columns = ("enrolled", *audience.STATUSES)
    click.echo("\t".join([by, *columns]))
    for group, counts in rows.items():
        click.echo("\t".join([group, *(str(counts[c]) for c in columns)]))


COMMANDS = (report_command,)

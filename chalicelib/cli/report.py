"""`nurture report`: a sequence's funnel, step by step."""

from __future__ import annotations

import click

from chalicelib import services
from chalicelib.cli.common import or_fail

__all__ = ["COMMANDS"]


@click.command("report")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
def report_command(sequence_id: str) -> None:
    """The funnel of a sequence, step by step: sends and the unique human opens, clicks and
    conversions they led to (rates of sent), unsubscribes, bounces, complaints, skips, and
    machine opens (Apple MPP, proxies) apart."""
    from chalicelib import catalog
    from chalicelib.funnel import Funnel

    sequence, _ = or_fail(lambda: catalog.newest(services.versions(), sequence_id))
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


COMMANDS = (report_command,)

"""`nurture triggers preview`: who a sequence's trigger would start now, and why."""

from __future__ import annotations

import click

from chalicelib import services
from chalicelib.cli.common import moment, or_fail

__all__ = ["COMMANDS"]


@click.group()
def triggers() -> None:
    """Sequences that start on their own (entry: event, segment_entered, stage_entered,
    temperature_became, inactive)."""


@triggers.command("preview")
@click.option("--sequence", "sequence_id", required=True, help="Sequence id.")
def preview_command(sequence_id: str) -> None:
    """A dry run: every contact the trigger of SEQUENCE_ID holds for now (a product event in
    the last day, a segment or stage they are in, their temperature, a spell without human
    engagement), why, and
    whether they would enroll or why not (topic, consent, already in it, re-entry, cooldown).
    Nothing is written; one pass over the profiles."""
    from chalicelib import catalog
    from chalicelib.audience import profiles
    from chalicelib.triggers import preview

    sequence, _ = or_fail(lambda: catalog.newest(services.versions(), sequence_id))
    if sequence.entry.trigger is None:
        raise click.ClickException(f"sequence {sequence_id!r} has no entry trigger")
    now = moment()
    catalogue, enrollments = services.catalogue(), services.journey().enrollments
    matchers = catalogue.matchers(now)
    click.echo("contact\temail\twhy\toutcome")
    for found in preview(
        sequence,
        profiles(services.table().profiles()),
        now,
        lambda profile, segment: segment in matchers and matchers[segment](profile),
        services.gates(),
        lambda contact_id: enrollments.get(contact_id, sequence_id),
    ):
        click.echo(f"{found.contact_id}\t{found.email}\t{found.why}\t{found.outcome}")


COMMANDS = (triggers,)

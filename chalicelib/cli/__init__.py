"""The `nurture` command line: one root group, one module per command group.

It reaches AWS through `services`, so `AWS_ENDPOINT_URL` points it at the local stack's moto.
A new command group is a module here exposing `COMMANDS`, listed in `GROUPS` below.
Exit codes: 0 success; 1 invalid input (rejected rows, invalid sequence files, domain errors)
or nothing done; 2 usage errors or a file refused as a whole.
"""

from __future__ import annotations

import click

from chalicelib.cli import (
    contacts,
    dashboard,
    events,
    journey,
    proof,
    report,
    schedule,
    scoring,
    segments,
    sequences,
    triggers,
    webhooks,
)

__all__ = ["nurture"]

GROUPS = (
    contacts,
    sequences,
    segments,
    scoring,
    events,
    triggers,
    journey,
    proof,
    schedule,
    report,
    webhooks,
    dashboard,
)


@click.group()
@click.version_option(package_name="nurture", prog_name="nurture")
def nurture() -> None:
    """nurture: email drip sequences on AWS.

    Talks to the table named by NURTURE_TABLE; set AWS_ENDPOINT_URL to use the local stack.
    """


for _group in GROUPS:
    for _command in _group.COMMANDS:
        nurture.add_command(_command)

"""The `nurture` command line: one root group, one module per command group.

It reaches AWS through `services`, so `AWS_ENDPOINT_URL` points it at the local stack's moto.
A new command group is a module here exposing `COMMANDS`, listed in `GROUPS` below.
Exit codes: 0 success; 1 invalid input (rejected rows, invalid sequence files, domain errors),
nothing done, or AWS unreachable or refusing (one line, no traceback); 2 usage errors or a file
refused as a whole.
"""

from __future__ import annotations

from typing import Any

import click
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from chalicelib.cli import (
    config,
    contacts,
    dashboard,
    dlq,
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
    dlq,
    config,
    dashboard,
)


class _Root(click.Group):
    """The root group: AWS out of reach (the local stack not running, no credentials) or
    refusing a call is one line naming what to check, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EndpointConnectionError as exc:
            where = exc.kwargs.get("endpoint_url", "AWS")
            raise click.ClickException(
                f"cannot reach {where}: is the local stack running (make demo, then "
                ". .local/env)? For AWS, unset AWS_ENDPOINT_URL."
            ) from None
        except NoCredentialsError:
            raise click.ClickException(
                "no AWS credentials: set a profile (AWS_PROFILE) or, for the local stack, "
                "run . .local/env"
            ) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise click.ClickException(
                f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
            ) from None


@click.group(cls=_Root)
@click.version_option(package_name="nurture", prog_name="nurture")
def nurture() -> None:
    """nurture: email drip sequences on AWS.

    Talks to the table named by NURTURE_TABLE; set AWS_ENDPOINT_URL to use the local stack.
    """


for _group in GROUPS:
    for _command in _group.COMMANDS:
        nurture.add_command(_command)

"""`nurture config from-stack`: the CLI's environment, read from a deployed stack."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["COMMANDS", "environment"]

# Stack outputs the CLI reads, by the variable it reads them from.
OUTPUTS = {
    "ApiUrl": "NURTURE_API_URL",
    "ParkDlqUrl": "NURTURE_PARK_DLQ_URL",
    "ScheduleDlqUrl": "NURTURE_SCHEDULE_DLQ_URL",
    "SesEventDlqUrl": "NURTURE_SES_EVENT_DLQ_URL",
    "StreamDlqUrl": "NURTURE_STREAM_DLQ_URL",
    "ImportDlqUrl": "NURTURE_IMPORT_DLQ_URL",
}
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
API_FUNCTION = "ApiFunctionName"
"""The output naming the marketer function: its NURTURE_* settings are the CLI's."""


@click.group("config")
def config() -> None:
    """The CLI's own settings."""


@config.command("from-stack")
@click.argument("stack")
@click.option("--profile", help="The AWS profile to read the stack with (and to use later).")
@click.option("--region", help="The stack's region (default: the profile's).")
def from_stack_command(stack: str, profile: str | None, region: str | None) -> None:
    """Print `export` lines setting everything the CLI needs for the deployed STACK (its
    table, schedules, secrets' ARNs, queues, the marketer API's URL): `eval "$(nurture config
    from-stack Nurture-prod)"`, or save them to a file and source it. Nothing secret is printed:
    secrets are named by ARN and read with your credentials when used."""
    if region is not None and not REGION.fullmatch(region):
        raise click.BadParameter("must be an AWS region such as eu-west-1", param_hint="--region")
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        found = environment(session, stack)
    except ClientError as exc:
        raise click.ClickException(f"{stack}: {exc.response['Error']['Message']}") from None
    except BotoCoreError as exc:  # no such profile, no region, no credentials
        raise click.ClickException(f"{stack}: {exc}") from None
    if profile:
        found = {"AWS_PROFILE": profile, **found}
    for name, value in found.items():
        click.echo(f"export {name}={shlex.quote(value)}")


def environment(session: Any, stack: str) -> dict[str, str]:
    """The variables, from the stack's outputs and its marketer function's settings."""
    described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    outputs: Mapping[str, str] = {
        o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])
    }
    if API_FUNCTION not in outputs:
        raise click.ClickException(f"{stack}: has no {API_FUNCTION} output (not a nurture stack?)")
    function = session.client("lambda").get_function_configuration(
        FunctionName=outputs[API_FUNCTION]
    )
    settings = function.get("Environment", {}).get("Variables", {})
    found = {"AWS_REGION": session.region_name}
    found.update({k: v for k, v in sorted(settings.items()) if k.startswith("NURTURE_")})
    found.update({name: outputs[key] for key, name in OUTPUTS.items() if key in outputs})
    return found


COMMANDS = [config]

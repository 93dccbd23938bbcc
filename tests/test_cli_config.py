"""`nurture config from-stack` on moto: a stack's outputs and its marketer function's settings
become the CLI's environment; nothing else of the function (and no secret) is printed."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import zipfile

import pytest
from click.testing import CliRunner

from chalicelib import services
from chalicelib.cli import nurture

TEMPLATE = {
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "ApiFunctionName": {"Value": "nurture-prod-api"},
        "ApiUrl": {"Value": "https://abc.execute-api.us-east-1.amazonaws.com/v1"},
        "ParkDlqUrl": {"Value": "https://sqs.us-east-1.amazonaws.com/123456789012/park-dlq"},
        "ImportDlqUrl": {"Value": "https://sqs.us-east-1.amazonaws.com/123456789012/import-dlq"},
    },
}


def code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def api(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture
def stack(aws: None) -> str:
    role = services.client("iam").create_role(
        RoleName="nurture-api", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    services.client("lambda").create_function(
        FunctionName="nurture-prod-api",
        Runtime="python3.13",
        Role=role,
        Handler="app.api",
        Code={"ZipFile": code()},
        Environment={
            "Variables": {
                "NURTURE_TABLE": "nurture-prod",
                "NURTURE_API_KEYS_SECRET": "arn:aws:secretsmanager:us-east-1:1:secret:k",
                "NURTURE_SCHEDULE_GROUP": "nurture-prod",
                "PYTHONTZPATH": "",
                "POWERTOOLS_SERVICE_NAME": "nurture",
            }
        },
    )
    services.client("cloudformation").create_stack(
        StackName="Nurture-prod", TemplateBody=json.dumps(TEMPLATE)
    )
    return "Nurture-prod"


def test_the_cli_environment_comes_from_the_stack(stack: str) -> None:
    result = CliRunner().invoke(nurture, ["config", "from-stack", stack])
    assert result.exit_code == 0, result.output
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in result.output.splitlines()
    )
    assert {k: shlex.split(v)[0] if v != "''" else "" for k, v in exported.items()} == {
        "AWS_REGION": "us-east-1",
        "NURTURE_TABLE": "nurture-prod",
        "NURTURE_API_KEYS_SECRET": "arn:aws:secretsmanager:us-east-1:1:secret:k",
        "NURTURE_SCHEDULE_GROUP": "nurture-prod",
        "NURTURE_API_URL": "https://abc.execute-api.us-east-1.amazonaws.com/v1",
        "NURTURE_PARK_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/park-dlq",
        "NURTURE_IMPORT_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/import-dlq",
    }
    shell = subprocess.run(  # noqa: S603 - the printed lines, sourced by a real shell
        ["/bin/sh", "-c", result.output + 'printf %s "$NURTURE_API_URL"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert shell.stdout == "https://abc.execute-api.us-east-1.amazonaws.com/v1"


def test_an_unknown_stack_or_another_stack_is_a_clear_error(stack: str) -> None:
    result = CliRunner().invoke(nurture, ["config", "from-stack", "Nope"])
    assert result.exit_code == 1 and "Nope:" in result.output
    other = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    services.client("cloudformation").create_stack(
        StackName="Other", TemplateBody=json.dumps(other)
    )
    result = CliRunner().invoke(nurture, ["config", "from-stack", "Other"])
    assert result.exit_code == 1 and "no ApiFunctionName output" in result.output


def test_a_bad_profile_or_region_is_named(stack: str) -> None:
    result = CliRunner().invoke(nurture, ["config", "from-stack", stack, "--region", "mars"])
    assert result.exit_code == 2 and "--region" in result.output
    result = CliRunner().invoke(nurture, ["config", "from-stack", stack, "--profile", "nobody"])
    assert result.exit_code == 1 and "nobody" in result.output

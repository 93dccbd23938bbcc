"""Builds the CDK app (config → stack → cdk-nag) and reports findings that must fail synth."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import cx_api
from cdk_nag import AwsSolutionsChecks

from nurture_infra.config import CONFIG_FILE_CONTEXT_KEY, StackConfig, load_config
from nurture_infra.nag import suppress_reviewed_findings
from nurture_infra.stack import NurtureStack

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def build_app(context: dict[str, Any] | None = None, source_dir: Path = REPO_ROOT) -> cdk.App:
    """The app with its one stack, cdk-nag applied; context also comes from CDK_CONTEXT_JSON."""
    app = cdk.App(context=context)
    config = load_config(_context_values(app))
    stack = NurtureStack(
        app,
        f"Nurture-{config.stage}",
        config=config,
        source_dir=source_dir,
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
        description="nurture: email engagement tracking and follow-ups",
    )
    suppress_reviewed_findings(stack)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app


def _context_values(app: cdk.App) -> dict[str, Any]:
    """Config keys may be passed with -c; try_get_context sees CLI, cdk.json and env context."""
    keys = [CONFIG_FILE_CONTEXT_KEY, *StackConfig.__dataclass_fields__]
    return {key: app.node.try_get_context(key) for key in keys}


def synth_errors(assembly: cx_api.CloudAssembly) -> list[str]:
    """Error annotations (cdk-nag findings, CDK validation) that must fail the build."""
    return [
        f"{message.id}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level == cx_api.SynthesisMessageLevel.ERROR
    ]

"""Synthesize the stack once per session, offline: dummy account/region, Lambda bundling off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

INFRA = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(INFRA))
os.environ.setdefault("CDK_DEFAULT_ACCOUNT", "123456789012")
os.environ.setdefault("CDK_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault(
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    subprocess.run(
        ["node", "-p", "process.versions.node.split('.')[0]"],  # noqa: S607 - node from PATH
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip(),
)

from aws_cdk import App, assertions  # noqa: E402 - the env above must be set before jsii starts

SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}


def synth(app: App) -> assertions.Template:
    """The template of the app's only stack."""
    (stack,) = [child for child in app.node.children if hasattr(child, "template_options")]
    return assertions.Template.from_stack(stack)


def context(tmp_path_factory: pytest.TempPathFactory, **settings: Any) -> dict[str, Any]:
    """CDK context that ignores any developer's infra/config.json."""
    missing = tmp_path_factory.mktemp("config") / "absent.json"
    return {**SKIP_BUNDLING, "config": str(missing), **settings}


@pytest.fixture(scope="session")
def default_app(tmp_path_factory: pytest.TempPathFactory) -> App:
    from nurture_infra.assembly import build_app

    return build_app(context(tmp_path_factory, sender="news@example.com"))


@pytest.fixture(scope="session")
def template(default_app: App) -> assertions.Template:
    return synth(default_app)

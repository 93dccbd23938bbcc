"""Synthesize the stack once per session, offline: dummy account/region, Lambda bundling off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(__file__).resolve().parents[2]))  # the repository's `local`, after infra
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

# Imported only now: jsii starts node on import and reads the environment set above.
from aws_cdk import App, assertions
from infra_testing import context, synth
from nurture_infra.assembly import build_app


@pytest.fixture(scope="session")
def default_app(tmp_path_factory: pytest.TempPathFactory) -> App:
    """The default stage, sender given as an email address."""
    return build_app(context(tmp_path_factory, sender="news@example.com"))


@pytest.fixture(scope="session")
def template(default_app: App) -> assertions.Template:
    """Its template, for the aws_cdk.assertions checks."""
    return synth(default_app)

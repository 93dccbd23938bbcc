"""Helpers shared by the infra tests (a unique name: conftest is not importable twice)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, assertions

INFRA = Path(__file__).resolve().parent.parent
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}


def synth(app: App) -> assertions.Template:
    """The template of the app's only stack."""
    (stack,) = [child for child in app.node.children if isinstance(child, Stack)]
    return assertions.Template.from_stack(stack)


def context(tmp_path_factory: pytest.TempPathFactory, **settings: Any) -> dict[str, Any]:
    """CDK context that ignores any developer's infra/config.json."""
    missing = tmp_path_factory.mktemp("config") / "absent.json"
    return {**SKIP_BUNDLING, "config": str(missing), **settings}

"""The stream consumer's filter criteria, made from the app's one list of the changes its
consumers act on (`chalicelib/store/changes.py`).

That module needs only the standard library, so it is loaded by its path: the CDK app's
environment need not hold the app's own dependencies.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

CHANGES = Path(__file__).resolve().parents[2] / "chalicelib" / "store" / "changes.py"
_NAME = "nurture_stream_changes"


def stream_filter_patterns() -> list[dict[str, Any]]:
    """One Lambda filter pattern per kind of change the stream's consumers act on."""
    module = sys.modules.get(_NAME)
    if module is None:
        spec = importlib.util.spec_from_file_location(_NAME, CHANGES)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module  # dataclasses look their module up while they are made
        spec.loader.exec_module(module)
    patterns: list[dict[str, Any]] = module.filter_patterns()
    return patterns

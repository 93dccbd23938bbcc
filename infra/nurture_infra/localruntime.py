"""A directory laid out like a Lambda code asset, linked from this environment instead of built:
the distributions an asset installs, or what the Lambda Python runtime itself provides (boto3
and its dependencies). For running an asset's code locally (tests, benchmarks/package.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from nurture_infra.bundling import WITHOUT_DEPENDENCIES, distribution

RUNTIME = ("boto3",)  # with its dependencies, as the Lambda Python runtime has them


def closure(names: Iterable[str]) -> set[str]:
    """Distributions with every dependency pip would install (extras left out; Chalice's not)."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        name = distribution(todo.pop())
        if name in found:
            continue
        found.add(name)
        if name in WITHOUT_DEPENDENCIES:
            continue
        for requirement in metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[<>=!~; (\[]", requirement, maxsplit=1)[0])
    return found


def link_distributions(names: Iterable[str], into: Path) -> None:
    """Each distribution's top-level modules and metadata, where pip --target puts them."""
    into.mkdir(parents=True, exist_ok=True)
    for name in names:
        dist = metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            source = Path(str(dist.locate_file(top)))
            if top.endswith(".pth") or top == ".." or not source.exists():
                continue
            if not (into / top).exists():
                (into / top).symlink_to(source)

"""Lambda code assets built without Docker: Linux wheels for the Lambda runtime, plus app sources.

`chalice package` would stamp the local interpreter as the runtime and needs AWS access, so the
packages are assembled here instead; pip is told the target platform so wheels match Lambda.

Two assets: the full one (every function but the public one) and a lean one for the recipient
routes. Neither carries boto3 and botocore (the Lambda runtime has them) nor Chalice's
command-line dependencies (pip, setuptools, wcwidth, click, ...): Chalice is installed without
its dependencies, since serving requests needs none of them.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
# Wheels for each architecture (python3.13 runs on Amazon Linux 2023, glibc 2.34).
PIP_PLATFORMS = {"arm64": "manylinux_2_28_aarch64", "x86_64": "manylinux2014_x86_64"}
# The Lambda Python runtime ships boto3 with these; the CLI's click is not needed in Lambda.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "click"})
WITHOUT_DEPENDENCIES = frozenset({"chalice"})
# What the recipient routes import (infra/tests/test_lean_package.py serves them with only this).
PUBLIC_DISTRIBUTIONS = frozenset({"chalice", "aws-lambda-powertools", "jinja2"})


@dataclass(frozen=True)
class Asset:
    """What one code asset installs (`only` None: every requirement) and for which CPU."""

    name: str
    only: frozenset[str] | None
    architecture: lambda_.Architecture

    @property
    def platform(self) -> str:
        return PIP_PLATFORMS[self.architecture.name]


# The public function runs on arm64 (a fifth cheaper per GB-second). The full asset stays on
# x86_64: css-inline (composing emails) publishes no arm64 wheels of the pinned version.
PUBLIC = Asset("public", PUBLIC_DISTRIBUTIONS, lambda_.Architecture.ARM_64)
FULL = Asset("full", None, lambda_.Architecture.X86_64)
APP_SOURCES = ("app.py", "chalicelib", "templates", "vendor")
ASSET_EXCLUDES = [
    ".venv",
    ".git",
    ".chalice",
    "infra",
    "tests",
    "benchmarks",
    "node_modules",
    "local",
    "examples",
    "**/__pycache__",
    "*.pyc",
    ".*_cache",
    ".hypothesis",
]


def pip_command(
    requirements: Path, target: str, python_version: str, platform: str, *extra: str
) -> list[str]:
    """pip install restricted to binary wheels built for Lambda's Linux and Python version."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--target",
        target,
        *extra,
        "-r",
        str(requirements),
    ]


def distribution(line: str) -> str:
    """The normalised distribution name of a requirement line (`Jinja2==3.1` -> `jinja2`)."""
    name = re.split(r"[<>=!~;\[ ]", line.split("#", 1)[0].strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def selected_requirements(
    requirements: Path, only: frozenset[str] | None
) -> tuple[list[str], list[str]]:
    """(installed with their dependencies, installed without) pinned lines of requirements.txt,
    for every distribution (`only` None) or the ones named."""
    with_deps, without = [], []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        name = distribution(line) if line else ""
        if not name or name in RUNTIME_PROVIDED or (only is not None and name not in only):
            continue
        (without if name in WITHOUT_DEPENDENCIES else with_deps).append(line)
    return with_deps, without


def has_requirements(requirements: Path) -> bool:
    """pip refuses an empty requirements file, so a file of only comments means 'none'."""
    if not requirements.is_file():
        return False
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return any(lines)


@jsii.implements(ILocalBundling)
class PipBundler:
    """Runs on the synth machine (no Docker): installs wheels, then copies the app sources."""

    def __init__(
        self,
        source_dir: Path,
        runtime: lambda_.Runtime = LAMBDA_RUNTIME,
        asset: Asset = FULL,
    ) -> None:
        self.source_dir = source_dir
        self.python_version = runtime.name.removeprefix("python")
        self.asset = asset

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        """Called by CDK at synth time; returning True means Docker is never needed."""
        requirements = self.source_dir / "requirements.txt"
        if has_requirements(requirements):
            self.install(requirements, output_dir)
        for name in APP_SOURCES:
            source = self.source_dir / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    Path(output_dir) / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            elif source.is_file():
                shutil.copy2(source, output_dir)
        return True

    def install(self, requirements: Path, output_dir: str) -> None:
        with_deps, without = selected_requirements(requirements, self.asset.only)
        with tempfile.TemporaryDirectory() as scratch:
            for lines, extra in ((with_deps, ()), (without, ("--no-deps",))):
                if not lines:
                    continue
                listed = Path(scratch) / f"requirements{len(extra)}.txt"
                listed.write_text("\n".join(lines) + "\n")
                command = pip_command(
                    listed, output_dir, self.python_version, self.asset.platform, *extra
                )
                subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell


def app_code(source_dir: Path, asset: Asset = FULL) -> lambda_.Code:
    """The app with the asset's distributions; the Chalice app dispatches on the handler
    string, so one asset serves several functions."""
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=ASSET_EXCLUDES,
        # Both assets come from the same sources: the hash covers what each one installs.
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(source_dir, asset),
        bundling=BundlingOptions(
            image=LAMBDA_RUNTIME.bundling_image,  # only used if the local bundler fails
            local=PipBundler(source_dir, asset=asset),
        ),
    )


def asset_hash(source_dir: Path, asset: Asset) -> str:
    """The app sources, the requirements and the selection: what decides an asset's content."""
    only = asset.only
    digest = hashlib.sha256(repr((asset.platform, sorted(only or ()), only is None)).encode())
    files = [source_dir / "requirements.txt"]
    for name in APP_SOURCES:
        source = source_dir / name
        if source.is_dir():
            files += sorted(
                p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        else:
            files.append(source)
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(source_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()

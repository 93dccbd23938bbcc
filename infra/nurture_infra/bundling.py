"""Lambda code asset built without Docker: Linux wheels for the Lambda runtime, plus app sources.

`chalice package` would stamp the local interpreter as the runtime and needs AWS access, so the
package is assembled here instead; pip is told the target platform so wheels match Lambda.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
PIP_PLATFORM = "manylinux2014_x86_64"
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


def pip_command(requirements: Path, target: str, python_version: str) -> list[str]:
    """pip install restricted to binary wheels built for Lambda's Linux and Python version."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--platform",
        PIP_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--target",
        target,
        "-r",
        str(requirements),
    ]


def has_requirements(requirements: Path) -> bool:
    """pip refuses an empty requirements file, so a file of only comments means 'none'."""
    if not requirements.is_file():
        return False
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return any(lines)


@jsii.implements(ILocalBundling)
class PipBundler:
    """Runs on the synth machine (no Docker): installs wheels, then copies the app sources."""

    def __init__(self, source_dir: Path, runtime: lambda_.Runtime = LAMBDA_RUNTIME) -> None:
        self.source_dir = source_dir
        self.python_version = runtime.name.removeprefix("python")

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        """Called by CDK at synth time; returning True means Docker is never needed."""
        requirements = self.source_dir / "requirements.txt"
        if has_requirements(requirements):
            command = pip_command(requirements, output_dir, self.python_version)
            subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
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


def app_code(source_dir: Path) -> lambda_.Code:
    """One asset shared by every function: the Chalice app dispatches on the handler string."""
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            image=LAMBDA_RUNTIME.bundling_image,  # only used if the local bundler fails
            local=PipBundler(source_dir),
        ),
    )

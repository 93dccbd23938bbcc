"""Lambda code assets built without Docker: Linux wheels for the Lambda runtime, plus app sources.

`chalice package` would stamp the local interpreter as the runtime and needs AWS access, so the
packages are assembled here instead; pip is told the target platform so wheels match Lambda.

Two assets: the full one (every function but the public one) and a lean one for the recipient
routes. Neither carries boto3 and botocore (the Lambda runtime has them) nor Chalice's
command-line dependencies (pip, setuptools, wcwidth, click, ...): Chalice is installed without
its dependencies, since serving requests needs none of them.

Both carry bytecode for the runtime's Python when an interpreter of that version is on the synth
machine (`bytecode_compiler`): /var/task is read-only, so a package without it compiles every
module it imports at each cold start. Without one, the assets are built without bytecode and the
stack carries a warning saying so; synth never fails for it.
"""

from __future__ import annotations

import functools
import glob
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
from aws_cdk import Annotations, AssetHashType, BundlingOptions, ILocalBundling, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

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
# Lambda unpacks the zip into a read-only /var/task, and the CDK CLI zips with fixed file dates:
# a timestamp .pyc (source mtime and size) would be stale there and compiled again at every cold
# start. An unchecked-hash .pyc is used as it is: source and bytecode are deployed together and
# never change apart. -s/-p record /var/task paths, not the build directory's.
COMPILE_FLAGS = ("-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-p", "/var/task")
NO_BYTECODE_WARNING = (
    "No Python {version} interpreter on this machine (python{version} on PATH or under "
    "~/.pyenv/versions/{version}.*): the Lambda code is built without bytecode, so every cold "
    "start compiles the modules it imports. Install Python {version} and synth again."
)


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
        "--no-compile",  # pip would write bytecode for its own Python, not the runtime's
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


def python_version(runtime: lambda_.Runtime = LAMBDA_RUNTIME) -> str:
    """`3.13` for the python3.13 runtime."""
    return runtime.name.removeprefix("python")


def cache_tag(version: str) -> str:
    """The tag of the bytecode an interpreter of `version` reads (`cpython-313`)."""
    return "cpython-" + version.replace(".", "")


@functools.cache
def bytecode_compiler(version: str) -> str | None:
    """An interpreter on this machine that writes bytecode the runtime's Python reads: the first
    of python<version> on PATH and pyenv's <version>.* builds (newest first) that says it is
    one (a pyenv shim for a version not selected fails, and is passed over)."""
    candidates = [shutil.which(f"python{version}")]
    pattern = str(Path.home() / ".pyenv" / "versions" / f"{version}.*" / "bin" / f"python{version}")
    candidates += sorted(glob.glob(pattern), reverse=True)
    for candidate in filter(None, candidates):
        try:
            said = subprocess.run(  # noqa: S603 - an interpreter found by its name, fixed argv
                [candidate, "-c", "import sys; print(sys.implementation.cache_tag)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if said.returncode == 0 and said.stdout.strip() == cache_tag(version):
            return candidate
    return None


def copy_sources(source_dir: Path, output_dir: Path) -> None:
    """The app's own files (never a stale __pycache__ of the developer's Python)."""
    for name in APP_SOURCES:
        source = source_dir / name
        if source.is_dir():
            shutil.copytree(
                source,
                output_dir / name,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        elif source.is_file():
            shutil.copy2(source, output_dir)


def compile_bytecode(compiler: str, output_dir: Path) -> None:
    """Every module of the package compiled for the runtime, as unchecked-hash .pyc files."""
    command = [compiler, "-m", "compileall", *COMPILE_FLAGS, "-s", str(output_dir)]
    subprocess.run([*command, str(output_dir)], check=True)  # noqa: S603 - fixed argv


@jsii.implements(ILocalBundling)
class PipBundler:
    """Runs on the synth machine (no Docker): installs wheels, copies the app sources, then
    compiles them all with `compiler` (an interpreter of the runtime's version) if there is one."""

    def __init__(
        self,
        source_dir: Path,
        runtime: lambda_.Runtime = LAMBDA_RUNTIME,
        asset: Asset = FULL,
        compiler: str | None = None,
    ) -> None:
        self.source_dir = source_dir
        self.python_version = python_version(runtime)
        self.asset = asset
        self.compiler = compiler

    def try_bundle(self, output_dir: str, *args: Any, **options: Any) -> bool:
        """Called by CDK at synth time; returning True means Docker is never needed."""
        requirements = self.source_dir / "requirements.txt"
        if has_requirements(requirements):
            self.install(requirements, output_dir)
        copy_sources(self.source_dir, Path(output_dir))
        if self.compiler:
            compile_bytecode(self.compiler, Path(output_dir))
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


def app_code(scope: Construct, source_dir: Path, asset: Asset = FULL) -> lambda_.Code:
    """The app with the asset's distributions, compiled for the runtime if this machine can;
    the Chalice app dispatches on the handler string, so one asset serves several functions."""
    version = python_version()
    compiler = bytecode_compiler(version)
    stack = Stack.of(scope)
    if compiler is None and stack.bundling_required:
        Annotations.of(stack).add_warning_v2(
            "nurture:NoBytecode", NO_BYTECODE_WARNING.format(version=version)
        )
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=ASSET_EXCLUDES,
        # Both assets come from the same sources: the hash covers what each one installs.
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(source_dir, asset, cache_tag(version) if compiler else None),
        bundling=BundlingOptions(
            image=LAMBDA_RUNTIME.bundling_image,  # only used if the local bundler fails
            local=PipBundler(source_dir, asset=asset, compiler=compiler),
        ),
    )


def asset_hash(source_dir: Path, asset: Asset, bytecode: str | None) -> str:
    """The app sources, the requirements, the selection and the bytecode (its tag, or None):
    what decides an asset's content."""
    only = asset.only
    chosen = (asset.platform, sorted(only or ()), only is None, bytecode)
    digest = hashlib.sha256(repr(chosen).encode())
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

"""Bytecode in the Lambda code: compiled for the runtime's Python by an interpreter of that
version when the synth machine has one, used as it is from a read-only /var/task whatever the
files' dates; without one, the synth still builds (no bytecode) and warns."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import Stack, assertions
from infra_testing import INFRA, context
from nurture_infra.assembly import build_app
from nurture_infra.bundling import (
    PUBLIC,
    PipBundler,
    asset_hash,
    bytecode_compiler,
    cache_tag,
    compile_bytecode,
    copy_sources,
    python_version,
)

ROOT = INFRA.parent
FIXTURE_APP = INFRA / "tests" / "fixtures" / "app"
VERSION = python_version()
TAG = cache_tag(VERSION)
ZIP_DATE = 315532800  # 1980-01-01: the date the CDK CLI gives every file it zips
COMPILER = bytecode_compiler(VERSION)
needs_compiler = pytest.mark.skipif(
    COMPILER is None,
    reason=f"no Python {VERSION} interpreter on this machine (python{VERSION} on PATH or "
    f"~/.pyenv/versions/{VERSION}.*): bundling builds without bytecode here",
)


@pytest.fixture
def no_runtime_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine without the runtime's Python: on PATH only a `python3.13` that is another
    version (as a pyenv shim of an unselected version would be), and no pyenv builds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / f"python{VERSION}").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path))
    bytecode_compiler.cache_clear()
    yield
    bytecode_compiler.cache_clear()


def header(pyc: Path) -> tuple[bytes, int]:
    """A .pyc's magic number and flags (1: hash-based, source never checked)."""
    data = pyc.read_bytes()
    return data[:4], int.from_bytes(data[4:8], "little")


def run(python: str, code: str, path: Path) -> subprocess.CompletedProcess[str]:
    environment = {"PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin"}
    return subprocess.run(  # noqa: S603 - a found interpreter, a fixed script
        [python, "-S", "-c", code],
        env=environment,
        cwd=path,  # -c puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=False,
    )


def synthesized_assets(
    source_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Path], Stack]:
    """The app synthesized with Lambda bundling on (the fixture app needs no pip)."""
    settings = context(tmp_path_factory, sender="news@example.com")
    del settings["aws:cdk:bundling-stacks"]
    app = build_app(settings, source_dir=source_dir)
    assembly = app.synth()
    (stack,) = [child for child in app.node.children if isinstance(child, Stack)]
    return sorted(Path(assembly.directory).glob("asset.*")), stack


@needs_compiler
def test_a_bundle_built_with_the_runtimes_python_carries_unchecked_hash_bytecode(
    tmp_path: Path,
) -> None:
    assert COMPILER is not None
    PipBundler(FIXTURE_APP, asset=PUBLIC, compiler=COMPILER).try_bundle(str(tmp_path))
    magic = run(COMPILER, "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())", ROOT)
    for pyc in (
        tmp_path / "__pycache__" / f"app.{TAG}.pyc",
        tmp_path / "chalicelib" / "__pycache__" / f"__init__.{TAG}.pyc",
    ):
        assert header(pyc) == (bytes.fromhex(magic.stdout.strip()), 1), pyc


@needs_compiler
def test_every_module_of_the_app_is_compiled(tmp_path: Path) -> None:
    assert COMPILER is not None
    copy_sources(ROOT, tmp_path)
    compile_bytecode(COMPILER, tmp_path)
    modules = list(tmp_path.rglob("*.py"))
    assert len(modules) > 50 and tmp_path / "app.py" in modules
    compiled = [p.parent / "__pycache__" / f"{p.stem}.{TAG}.pyc" for p in modules]
    assert [pyc for pyc in compiled if not pyc.is_file()] == []
    assert not list(tmp_path.rglob(f"*.{sys.implementation.cache_tag}.pyc"))  # no stale 3.11 ones


@needs_compiler
def test_the_runtime_runs_the_bytecode_from_a_read_only_package_of_zip_dates(
    tmp_path: Path,
) -> None:
    """Every file dated as the zip has it, the source changed after compiling: the runtime's
    Python still runs the compiled module (it never compares the source), writing nothing."""
    assert COMPILER is not None
    PipBundler(FIXTURE_APP, compiler=COMPILER).try_bundle(str(tmp_path))
    (tmp_path / "chalicelib" / "__init__.py").write_text("raise SystemExit('compiled again')\n")
    for path in (tmp_path, *tmp_path.rglob("*")):
        os.utime(path, (ZIP_DATE, ZIP_DATE))
    before = sorted(tmp_path.rglob("*"))
    tmp_path.chmod(0o555)
    try:
        done = run(COMPILER, "import chalicelib; print(chalicelib.__doc__)", tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert done.stdout.strip() == "Placeholder package copied by the bundler test.", done.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_a_python3_13_that_is_another_version_is_not_a_compiler(no_runtime_python: None) -> None:
    assert bytecode_compiler(VERSION) is None


def test_the_asset_hash_changes_with_the_bytecode() -> None:
    """A synth with bytecode and one without never share an asset (CDK would skip the upload)."""
    assert asset_hash(FIXTURE_APP, PUBLIC, TAG) != asset_hash(FIXTURE_APP, PUBLIC, None)


def test_without_the_runtimes_python_the_synth_builds_without_bytecode_and_warns(
    no_runtime_python: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assets, stack = synthesized_assets(FIXTURE_APP, tmp_path_factory)
    assert len(assets) >= 2 and all((a / "app.py").is_file() for a in assets)
    assert not [p for a in assets for p in a.rglob("*.pyc")]
    assertions.Annotations.from_stack(stack).has_warning(
        "*", assertions.Match.string_like_regexp(f"No Python {VERSION} interpreter")
    )


@needs_compiler
def test_with_the_runtimes_python_the_synthesized_assets_carry_bytecode(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assets, stack = synthesized_assets(FIXTURE_APP, tmp_path_factory)
    assert len(assets) >= 2
    for asset in assets:
        assert (asset / "__pycache__" / f"app.{TAG}.pyc").is_file(), asset
    warnings = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("interpreter on this machine")
    )
    assert warnings == []

"""The Docker-free bundler: Linux wheels for the Lambda Python, then the app's own files."""

from __future__ import annotations

from pathlib import Path

from infra_testing import INFRA
from nurture_infra.bundling import LAMBDA_RUNTIME, PipBundler, has_requirements, pip_command

FIXTURE_APP = INFRA / "tests" / "fixtures" / "app"


def test_pip_targets_lambda_linux_and_python() -> None:
    command = pip_command(Path("requirements.txt"), "/out", "3.13")
    for flag, value in (
        ("--platform", "manylinux2014_x86_64"),
        ("--python-version", "3.13"),
        ("--implementation", "cp"),
        ("--target", "/out"),
    ):
        assert command[command.index(flag) + 1] == value
    assert "--only-binary=:all:" in command


def test_bundler_copies_app_sources_only(tmp_path: Path) -> None:
    assert not has_requirements(FIXTURE_APP / "requirements.txt")
    assert PipBundler(FIXTURE_APP).try_bundle(str(tmp_path)) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py", "chalicelib", "templates"]
    assert (tmp_path / "templates" / "page.html").is_file()


def test_bundler_uses_the_runtime_python_version() -> None:
    assert PipBundler(FIXTURE_APP).python_version == LAMBDA_RUNTIME.name.removeprefix("python")

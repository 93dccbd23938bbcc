"""The Docker-free bundler: Linux wheels for the Lambda Python, then the app's own files."""

from __future__ import annotations

from pathlib import Path

from infra_testing import INFRA
from nurture_infra.bundling import (
    FULL,
    LAMBDA_RUNTIME,
    PUBLIC,
    PUBLIC_DISTRIBUTIONS,
    PipBundler,
    distribution,
    has_requirements,
    pip_command,
    selected_requirements,
)

REQUIREMENTS = INFRA.parent / "requirements.txt"

FIXTURE_APP = INFRA / "tests" / "fixtures" / "app"


def test_pip_targets_lambda_linux_and_python() -> None:
    command = pip_command(Path("requirements.txt"), "/out", "3.13", PUBLIC.platform)
    for flag, value in (
        ("--platform", "manylinux_2_28_aarch64"),  # the functions run on arm64
        ("--python-version", "3.13"),
        ("--implementation", "cp"),
        ("--target", "/out"),
    ):
        assert command[command.index(flag) + 1] == value
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command  # pip's bytecode would be for the build machine's Python


def test_bundler_copies_app_sources_only(tmp_path: Path) -> None:
    assert not has_requirements(FIXTURE_APP / "requirements.txt")
    assert PipBundler(FIXTURE_APP).try_bundle(str(tmp_path)) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py", "chalicelib", "templates"]
    assert (tmp_path / "templates" / "page.html").is_file()


def test_bundler_uses_the_runtime_python_version() -> None:
    assert PipBundler(FIXTURE_APP).python_version == LAMBDA_RUNTIME.name.removeprefix("python")


def test_the_wheels_match_each_assets_architecture() -> None:
    """The public function on arm64; the rest on x86_64 (css-inline has no arm64 wheels)."""
    assert (PUBLIC.architecture.name, PUBLIC.platform) == ("arm64", "manylinux_2_28_aarch64")
    assert (FULL.architecture.name, FULL.platform) == ("x86_64", "manylinux2014_x86_64")


def test_no_asset_carries_boto3_or_chalices_command_line() -> None:
    """The runtime has boto3 and botocore; Chalice goes in without pip, setuptools, wcwidth."""
    with_deps, without = selected_requirements(REQUIREMENTS, None)
    names = {distribution(line) for line in with_deps}
    assert not names & {"boto3", "botocore", "click", "chalice"}
    assert [distribution(line) for line in without] == ["chalice"]
    assert {"pydantic", "holidays", "jinja2", "tzdata"} <= names


def test_the_public_asset_is_only_what_the_recipient_routes_import() -> None:
    with_deps, without = selected_requirements(REQUIREMENTS, PUBLIC_DISTRIBUTIONS)
    assert {distribution(line) for line in with_deps} == {"aws-lambda-powertools", "jinja2"}
    assert [distribution(line) for line in without] == ["chalice"]
    assert all("==" in line for line in (*with_deps, *without))  # pinned as in requirements.txt


def test_requirement_names_are_normalised() -> None:
    assert distribution("Jinja2==3.1.6  # templates") == "jinja2"
    assert distribution("aws_lambda.powertools[tracer]>=3") == "aws-lambda-powertools"

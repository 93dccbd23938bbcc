"""`nurture segments` and `nurture stages`: validate, push and inspect segment and lifecycle
files; count and list a segment's members now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chalicelib import services
from chalicelib.cli.common import FAILED, moment, now, or_fail
from chalicelib.errors import FileInvalid

if TYPE_CHECKING:
    from chalicelib.segments import Segment
    from chalicelib.stages import Stages

__all__ = ["COMMANDS"]

FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@click.group()
def segments() -> None:
    """Segment files (YAML, one per segment): who a segment holds, evaluated on demand and as
    contacts change."""


@segments.command("validate")
@FILES
def validate_command(files: tuple[Path, ...]) -> None:
    """Check FILES; every problem is listed as 'file: path: message'. Stages and topics they
    name are checked on push, against what is pushed and configured."""
    if not all([_segment(path) for path in files]):
        raise SystemExit(FAILED)


@segments.command("push")
@FILES
def push_command(files: tuple[Path, ...]) -> None:
    """Validate FILES and store each as a new immutable version (unchanged files add none)."""
    from chalicelib import audience

    catalogue = services.catalogue()
    valid = [
        s
        for path in files
        if (s := _segment(path, catalogue.stage_names, catalogue.topics)) is not None
    ]
    if len(valid) != len(files):
        raise SystemExit(FAILED)
    for segment in valid:
        pushed = audience.push_segment(services.versions("segment"), segment, catalogue, now())
        state = "new version" if pushed.created else "unchanged"
        click.echo(f"{pushed.model_id} v{pushed.version} ({state})")


@segments.command("list")
def list_command() -> None:
    """Every segment with its newest version."""
    click.echo("segment\tversion\tpushed\tname")
    for head in services.versions("segment").heads():
        click.echo(f"{head.model_id}\tv{head.version}\t{head.pushed_at}\t{head.name}")


@segments.command("show")
@click.argument("segment_id")
@click.option("--version", type=click.IntRange(1), help="A pinned version (default: newest).")
def show_command(segment_id: str, version: int | None) -> None:
    """Print a stored version as YAML."""
    from chalicelib import versioning
    from chalicelib.segments import Segment

    found = or_fail(lambda: versioning.stored(services.versions("segment"), segment_id, version))
    _print_yaml(Segment.from_json(found.body).to_json())


@segments.command("count")
@click.argument("segment_id")
def count_command(segment_id: str) -> None:
    """How many contacts are in SEGMENT_ID now (one pass over every profile)."""
    from chalicelib.audience import profiles

    test = or_fail(lambda: services.catalogue().matcher(segment_id, moment()))
    click.echo(sum(1 for profile in profiles(services.table().profiles()) if test(profile)))


@segments.command("members")
@click.argument("segment_id")
def members_command(segment_id: str) -> None:
    """The contact id and email of every member of SEGMENT_ID now, as they are found."""
    from chalicelib.audience import profiles

    test = or_fail(lambda: services.catalogue().matcher(segment_id, moment()))
    for profile in profiles(services.table().profiles()):
        if test(profile):
            click.echo(f"{profile.contact_id}\t{profile.email or ''}")


@click.group()
def stages() -> None:
    """The lifecycle stages file (stages.yaml): ordered stages and the rules that move contacts."""


@stages.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def stages_validate_command(file: Path) -> None:
    """Check FILE; every problem is listed as 'file: path: message'."""
    if _stages(file) is None:
        raise SystemExit(FAILED)


@stages.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def stages_push_command(file: Path) -> None:
    """Validate FILE and store it as the lifecycle's next version (the segments its rules name
    must be pushed first)."""
    from chalicelib import audience

    lifecycle = _stages(file)
    if lifecycle is None:
        raise SystemExit(FAILED)
    catalogue = services.catalogue()
    try:
        pushed = audience.push_stages(services.versions("stages"), lifecycle, catalogue, now())
    except FileInvalid as invalid:
        click.echo(str(invalid).replace("stages: ", f"{file}: ", 1), err=True)
        raise SystemExit(FAILED) from None
    state = "new version" if pushed.created else "unchanged"
    click.echo(f"stages v{pushed.version} ({state})")


@stages.command("show")
def stages_show_command() -> None:
    """Print the newest lifecycle as YAML."""
    from chalicelib.audience import newest_stages

    lifecycle = newest_stages(services.versions("stages"))
    if lifecycle is None:
        raise click.ClickException("no stages pushed yet")
    _print_yaml(lifecycle.to_json())


def _segment(
    path: Path, stage_names: tuple[str, ...] | None = None, topics: tuple[str, ...] | None = None
) -> Segment | None:
    from chalicelib.segments import load_segment

    try:
        segment = load_segment(path, stages=stage_names, topics=topics)
    except FileInvalid as invalid:
        click.echo(str(invalid), err=True)
        return None
    click.echo(f"{path}: ok ({segment.id})")
    return segment


def _stages(path: Path) -> Stages | None:
    from chalicelib.stages import load_stages

    try:
        lifecycle = load_stages(path)
    except FileInvalid as invalid:
        click.echo(str(invalid), err=True)
        return None
    click.echo(f"{path}: ok ({len(lifecycle.stages)} stages, {len(lifecycle.rules)} rules)")
    return lifecycle


def _print_yaml(canonical_json: str) -> None:
    import yaml

    document: Any = json.loads(canonical_json)
    click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


COMMANDS = (segments, stages)

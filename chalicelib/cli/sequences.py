"""`nurture sequences`: validate, push and inspect sequence files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chalicelib import services
from chalicelib.cli.common import FAILED, now, or_fail

if TYPE_CHECKING:
    from chalicelib.sequences import Sequence

__all__ = ["COMMANDS"]

FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@click.group()
def sequences() -> None:
    """Validate, push and inspect sequence files (YAML, one per sequence)."""


@sequences.command("validate")
@FILES
def validate_command(files: tuple[Path, ...]) -> None:
    """Check FILES: schema, cross-step rules and a sandboxed trial render of every template.

    Every problem is listed as 'file: path: message'. Exit status 1 if any file is invalid.
    """
    checked = [_checked(path) for path in files]  # every file, even after a bad one
    if not all(checked):
        raise SystemExit(FAILED)


@sequences.command("push")
@FILES
def push_command(files: tuple[Path, ...]) -> None:
    """Validate FILES and store each as a new immutable version (unchanged files add none)."""
    from chalicelib import catalog

    valid = [sequence for path in files if (sequence := _checked(path)) is not None]
    if len(valid) != len(files):
        raise SystemExit(FAILED)
    for sequence in valid:
        pushed = catalog.push(services.versions(), sequence, now())
        state = "new version" if pushed.created else "unchanged"
        click.echo(f"{pushed.model_id} v{pushed.version} ({state})")


@sequences.command("list")
def list_command() -> None:
    """Every sequence with its newest version."""
    click.echo("sequence\tversion\tpushed at\tname")
    for head in services.versions().heads():
        click.echo(f"{head.model_id}\tv{head.version}\t{head.pushed_at}\t{head.name}")


@sequences.command("show")
@click.argument("sequence_id")
@click.option("--version", type=click.IntRange(1), help="A pinned version (default: newest).")
def show_command(sequence_id: str, version: int | None) -> None:
    """Print a stored version as YAML."""
    import yaml

    from chalicelib import catalog

    sequence = or_fail(lambda: catalog.load(services.versions(), sequence_id, version))
    click.echo(yaml.safe_dump(json.loads(sequence.to_json()), sort_keys=False, allow_unicode=True))


def _checked(path: Path) -> Sequence | None:
    from chalicelib import catalog
    from chalicelib.errors import FileInvalid
    from chalicelib.sequences import load_sequence

    try:
        sequence = load_sequence(path)
        catalog.check_templates(sequence, str(path))
    except FileInvalid as invalid:
        click.echo(str(invalid), err=True)
        return None
    click.echo(f"{path}: ok ({sequence.id}, {len(sequence.steps)} steps)")
    return sequence


COMMANDS = (sequences,)

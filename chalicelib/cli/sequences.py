"""`nurture sequences`: validate, push and inspect sequence files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from chalicelib import catalog

    sequence = or_fail(lambda: catalog.load(services.versions(), sequence_id, version))
    click.echo(_as_yaml(sequence), nl=False)


@sequences.command("inline")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Where to write it (default: standard output).",
)
def inline_command(file: Path, output: Any) -> None:
    """Validate FILE and write it self-contained, its html_file and text_file templates
    inline: what POST /api/sequences takes (Content-Type: application/yaml)."""
    if (sequence := _checked(file, quiet=True)) is None:
        raise SystemExit(FAILED)
    output.write(f"# {file.name} with its template files inline (nurture sequences inline)\n")
    output.write(_as_yaml(sequence))


def _as_yaml(sequence: Sequence) -> str:
    """A sequence as YAML, multi-line templates as literal blocks a person can read."""
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    data = sequence.model_dump(mode="json", exclude_none=True)
    return str(yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100))


def _checked(path: Path, *, quiet: bool = False) -> Sequence | None:
    from chalicelib import catalog
    from chalicelib.errors import FileInvalid

    try:
        sequence = catalog.validate_file(path)
    except FileInvalid as invalid:
        click.echo(str(invalid), err=True)
        return None
    if not quiet:
        click.echo(f"{path}: ok ({sequence.id}, {len(sequence.steps)} steps)")
    return sequence


COMMANDS = (sequences,)

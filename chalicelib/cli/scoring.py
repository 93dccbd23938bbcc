"""`nurture scoring` (the scoring file: validate, push, show, rescore, backtest) and `nurture
score` (a contact's receipt, the bands by stage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chalicelib import contactnames, services
from chalicelib.cli.common import FAILED, now, or_fail
from chalicelib.errors import FileInvalid

if TYPE_CHECKING:
    from chalicelib.scoring.model import Scoring

__all__ = ["COMMANDS"]

FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@click.group()
def scoring() -> None:
    """The scoring file (scoring.yaml): fit, engagement, stage, temperature and the alert."""


@scoring.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def validate_command(files: tuple[Path, ...]) -> None:
    """Check FILES; every problem is listed as 'file: path: message'. Stages they name are
    checked on push, against the pushed lifecycle."""
    if not all([_scoring(file) is not None for file in files]):
        raise SystemExit(FAILED)


@scoring.command("push")
@FILE
def push_command(file: Path) -> None:
    """Validate FILE and store it as the next scoring version (unchanged: none). Contacts are
    rescored on their next event; `nurture scoring rescore` rescores everyone now."""
    from chalicelib.scoring.service import push_scoring

    stages = services.catalogue().stage_names
    model = _scoring(file, stages)
    if model is None:
        raise SystemExit(FAILED)
    pushed = or_fail(lambda: push_scoring(services.versions("scoring"), model, now(), stages))
    state = "new version" if pushed.created else "unchanged"
    click.echo(f"scoring v{pushed.version} ({state})")
    if pushed.created:
        click.echo("rescore everyone now with: nurture scoring rescore")


@scoring.command("show")
@click.option("--version", type=click.IntRange(1), help="A pinned version (default: newest).")
def show_command(version: int | None) -> None:
    """Print a stored scoring version as YAML."""
    import yaml

    from chalicelib import versioning
    from chalicelib.scoring.model import SCORING_ID, Scoring

    found = or_fail(lambda: versioning.stored(services.versions("scoring"), SCORING_ID, version))
    document: Any = json.loads(Scoring.from_json(found.body).to_json())
    click.echo(f"# scoring v{found.version}, pushed {found.pushed_at}")
    click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)


@scoring.command("rescore")
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
def rescore_command(page_size: int) -> None:
    """Bring every contact's score to the newest version, page by page. Interrupted, it
    resumes from the last finished page when run again."""
    scores = services.scores()

    def progress(report: Any) -> None:
        click.echo(f"v{report.version}: {report.scored} rescored, {report.unchanged} unchanged")

    report = or_fail(lambda: scores.rescore(page_size=page_size, on_page=progress))
    click.echo(f"scoring v{report.version}: {'finished' if report.finished else 'stopped'}")


@scoring.command("backtest")
@FILE
@click.option(
    "--window",
    default="30d",
    show_default=True,
    help="How long after the cutoff a conversion counts (e.g. 30d).",
)
@click.option(
    "--cutoff",
    help="When the bands are taken (UTC date or time; default: now minus the window).",
)
@click.option(
    "--goal",
    default="converted",
    show_default=True,
    help="What counts as converting: converted, or event:NAME (a product event).",
)
def backtest_command(file: Path, window: str, cutoff: str | None, goal: str) -> None:
    """Try FILE on the stored history: each contact's band at the cutoff, then the share of
    each band that converted within the window, and the lift of hot over cold."""
    from chalicelib.scoring.backtest import Goal, backtest, parse_cutoff

    model = _scoring(file)
    if model is None:
        raise SystemExit(FAILED)
    goal_test = or_fail(lambda: Goal.parse(goal))
    span = or_fail(lambda: parse_cutoff(cutoff, window))
    found = services.catalogue()
    report = backtest(
        services.table(), model, span, goal_test, topics=found.topics, stages=found.stage_names
    )
    click.echo(report.text(), nl=False)


@click.group()
def score() -> None:
    """Contacts' lead scores: receipts and bands."""


@score.command("explain")
@click.argument("contact")
@click.option("--json", "as_json", is_flag=True, help="The receipt as JSON (the API's shape).")
def explain_command(contact: str, as_json: bool) -> None:
    """Every fit rule and engagement line of CONTACT's score (an id or an email address), with
    points, caps and decay; the lines add up to the score."""
    contact_id = or_fail(lambda: contactnames.contact_id(services.table(), contact, "contact"))
    found = or_fail(lambda: services.scores().explain(contact_id))
    if as_json:
        click.echo(json.dumps(found.doc(), indent=2, ensure_ascii=False))
    else:
        click.echo(found.text(), nl=False)


@score.command("distribution")
def distribution_command() -> None:
    """How many contacts are hot, warm and cold in each stage now (one pass over profiles)."""
    found = or_fail(lambda: services.scores().distribution())
    click.echo("\t".join(("stage", *found.columns, "total")))
    for stage, row in sorted(found.rows.items()):
        counts = [row[column] for column in found.columns]
        click.echo("\t".join((stage, *map(str, counts), str(sum(counts)))))


def _scoring(path: Path, stages: tuple[str, ...] | None = None) -> Scoring | None:
    from chalicelib.scoring.files import load_scoring

    try:
        model = load_scoring(path, stages=stages)
    except FileInvalid as invalid:
        click.echo(str(invalid), err=True)
        return None
    click.echo(f"{path}: ok ({model.name})")
    return model


COMMANDS = (scoring, score)

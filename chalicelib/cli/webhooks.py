"""`nurture webhooks`: subscriptions file, the per-endpoint report, secrets, tests, redrive."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chalicelib import services
from chalicelib.cli.common import FAILED, FileRefused, or_fail
from chalicelib.errors import NurtureError

__all__ = ["COMMANDS"]

TARGETS = click.Choice(["aws", "stdout"])
TO_HELP = "stdout: a dry run that prints what would be done and changes nothing."


@click.group("webhooks")
def webhooks() -> None:
    """Signed webhooks (Standard Webhooks) for CRMs, sales alerts and automation tools."""


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileRefused(f"{file}: the file is not UTF-8 text") from None


@webhooks.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def validate_command(files: tuple[Path, ...]) -> None:
    """Check subscriptions files: every problem as `file: path: message`, URLs resolved."""
    admin = services.webhook_admin()
    failed = False
    for file in files:
        try:
            parsed = admin.validate(_read(file), str(file))
        except NurtureError as error:
            click.echo(str(error), err=True)
            failed = True
            continue
        click.echo(f"{file}: ok ({len(parsed.webhooks)} webhooks)")
    if failed:
        raise SystemExit(FAILED)


@webhooks.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "target", type=TARGETS, default="aws", show_default=True, help=TO_HELP)
def push_command(file: Path, target: str) -> None:
    """Validate FILE and store it as the next version (unchanged: no new version). A new
    subscription's secret is printed once; `nurture webhooks secret ID` shows it again."""
    admin = services.webhook_admin()
    parsed = or_fail(lambda: admin.validate(_read(file), str(file)))
    if target == "stdout":
        click.echo(json.dumps(parsed.model_dump(mode="json"), indent=2))
        return
    pushed = or_fail(lambda: admin.push(parsed))
    state = "new version" if pushed.created else "unchanged"
    click.echo(f"webhooks v{pushed.version} ({state})")
    for webhook_id, secret in sorted(pushed.new_secrets.items()):
        click.echo(f"  {webhook_id}: signing secret {secret}")


@webhooks.command("list")
@click.option("--days", type=click.IntRange(1, 400), default=7, show_default=True)
def list_command(days: int) -> None:
    """Every endpoint with its state and, over the last DAYS, deliveries, failed attempts and
    dead-lettered deliveries (the webhook report)."""
    click.echo("webhook\tstate\tdelivered\tfailed attempts\tdead\tfailing since\tlast error\turl")
    for view in or_fail(lambda: services.webhook_admin().views(days)):
        state = "disabled" if view.disabled_at else ("enabled" if view.enabled else "paused")
        click.echo(
            "\t".join(
                [
                    view.id,
                    state,
                    str(view.delivered),
                    str(view.failed),
                    str(view.dead),
                    view.failing_since or "-",
                    view.last_error or "-",
                    view.url,
                ]
            )
        )


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def deliveries_command(webhook_id: str, limit: int) -> None:
    """The newest deliveries of one endpoint, with their attempts and last answer."""
    from chalicelib.outbound import delivery_summary

    found = or_fail(lambda: services.webhook_admin().recent(webhook_id, limit))
    click.echo("created\tevent\ttype\tstatus\tattempts\tlast answer")
    for row in map(delivery_summary, found):
        answer = row["last_error"] or (f"HTTP {row['last_status']}" if row["last_status"] else "-")
        click.echo(
            f"{row['created_at']}\t{row['event_id']}\t{row['event_type']}\t{row['status']}"
            f"\t{row['attempts']}\t{answer}"
        )


@webhooks.command("secret")
@click.argument("webhook_id")
@click.option("--rotate", is_flag=True, help="Add a new secret; old ones still sign until retired.")
@click.option("--retire", is_flag=True, help="Stop signing with every secret but the newest.")
def secret_command(webhook_id: str, rotate: bool, retire: bool) -> None:
    """Show an endpoint's signing secrets (newest first), rotate or retire them. During a
    rotation every delivery carries one signature per secret, so receivers holding either
    verify."""
    admin = services.webhook_admin()
    if rotate and retire:
        raise click.UsageError("--rotate and --retire are separate steps")
    if rotate:
        secret = or_fail(lambda: admin.rotate(webhook_id))
        click.echo(f"new secret {secret.value} (the old ones keep signing until --retire)")
        return
    if retire:
        click.echo(f"retired {or_fail(lambda: admin.retire(webhook_id))} secret(s)")
        return
    for secret in or_fail(lambda: admin.secrets(webhook_id)):
        click.echo(f"{secret.value}\tcreated {secret.created_at}")


@webhooks.command("enable")
@click.argument("webhook_id")
def enable_command(webhook_id: str) -> None:
    """Enable an endpoint that was disabled after failing for long; then `redrive` sends
    what was dead-lettered meanwhile."""
    changed = or_fail(lambda: services.webhook_admin().enable(webhook_id))
    click.echo(f"{webhook_id}: enabled" if changed else f"{webhook_id}: was not disabled")


@webhooks.command("test")
@click.argument("url")
@click.option("--secret", help="Sign with this whsec_ secret (default: a throwaway one).")
@click.option("--to", "target", type=TARGETS, default="aws", show_default=True, help=TO_HELP)
def test_command(url: str, secret: str | None, target: str) -> None:
    """POST a signed sample event to URL now and show the answer (the same checks as every
    delivery: https, public address, no redirects)."""
    from chalicelib.outbound import checked_secret

    admin = services.webhook_admin()
    secret = or_fail(lambda: checked_secret(secret))
    if target == "stdout":
        headers, body = or_fail(lambda: admin.sample_request(url, secret))
        click.echo("".join(f"{name}: {value}\n" for name, value in headers.items()) + "\n" + body)
        return
    headers, _, answer = or_fail(lambda: admin.test(url, secret))
    click.echo(f"webhook-id {headers['webhook-id']}: {answer.summary()} in {answer.seconds:.2f} s")
    if answer.body:
        click.echo(answer.body)
    if not answer.ok:
        raise SystemExit(FAILED)


@webhooks.command("redrive")
@click.option("--limit", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option("--to", "target", type=TARGETS, default="aws", show_default=True, help=TO_HELP)
def redrive_command(limit: int, target: str) -> None:
    """Send dead-lettered deliveries again, each once (ones delivered meanwhile are skipped)."""
    report = or_fail(lambda: services.webhook_admin().redrive(limit, dry_run=target == "stdout"))
    verb = "would redrive" if target == "stdout" else "redriven"
    for name in report.redriven:
        click.echo(f"{verb}\t{name}")
    for name in report.skipped:
        click.echo(f"skipped\t{name}")
    for minute in report.minutes:
        click.echo(f"retry bucket\t{minute}")
    click.echo(f"{len(report.redriven)} {verb}, {len(report.skipped)} skipped")


COMMANDS = (webhooks,)

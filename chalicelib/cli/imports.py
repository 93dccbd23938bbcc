"""Contact import jobs from the command line: upload a file to its presigned URL, start the
job, and follow it (`nurture contacts import FILE --job --wait`,
`nurture contacts import-status ID`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from chalicelib import services
from chalicelib.cli.common import FAILED, or_fail
from chalicelib.imports import Status

__all__ = ["JOB_THRESHOLD", "import_status_command", "run_job"]

JOB_THRESHOLD = 5 << 20
"""Files larger than this are imported as a job in AWS (resumable, near the table) unless
`--no-job` is given; smaller ones are written from here, row by row."""
POLL_SECONDS = 2.0
UPLOAD_TIMEOUT = 600.0


def run_job(file: Path, file_format: str, wait: bool) -> None:
    """Create a job for `file`, upload it, start it; with `wait`, follow it to the end."""
    imports = services.imports()
    size = file.stat().st_size
    created = or_fail(lambda: imports.create(file_format, size, "cli", time.time()))
    job_id = created.job.job_id
    click.echo(f"import {job_id}: uploading {size:,} bytes", err=True)
    _upload(created.upload_url, size, file)
    or_fail(lambda: imports.start(job_id, time.time()))
    if not wait:
        click.echo(f"import {job_id} started; follow it with:")
        click.echo(f"  nurture contacts import-status {job_id} --wait")
        return
    _follow(job_id)


@click.command("import-status")
@click.argument("import_id")
@click.option("--wait", is_flag=True, help="Follow the job until it is over.")
@click.option(
    "--resume",
    is_flag=True,
    help="Queue the job's next run again (a job whose run was dead-lettered resumes from its "
    "checkpoint; a finished job is left as it is).",
)
def import_status_command(import_id: str, wait: bool, resume: bool) -> None:
    """Show an import job: its state, rows read, accepted and rejected, and where its error
    report is. Exit status: 0 done with no rows rejected (or, without --wait, not over yet),
    1 rows rejected or the job failed."""
    imports = services.imports()
    if resume:
        or_fail(lambda: imports.start(import_id, time.time()))
    if wait:
        _follow(import_id)
        return
    found = or_fail(lambda: imports.status(import_id, time.time()))
    _print(found)
    _exit_for(found)


def _upload(url: str, size: int, file: Path) -> None:
    import urllib3

    try:
        with file.open("rb") as body:
            answer = urllib3.request(
                "PUT",
                url,
                body=body,
                headers={"Content-Length": str(size)},
                timeout=urllib3.Timeout(connect=10.0, read=UPLOAD_TIMEOUT),
                retries=False,
            )
    except urllib3.exceptions.HTTPError as error:
        raise click.ClickException(f"the upload failed: {error}") from None
    if answer.status != 200:
        detail = answer.data[:300].decode("utf-8", "replace")
        raise click.ClickException(f"the upload was refused (HTTP {answer.status}): {detail}")


def _follow(job_id: str) -> None:
    """Show the job's progress (bytes read) until it is over, then its summary."""
    imports = services.imports()
    found = or_fail(lambda: imports.status(job_id, time.time()))
    if found.job.state == "awaiting_upload":
        raise click.ClickException(
            f"import {job_id} has not started: PUT the file to its upload URL, then start it"
        )
    with click.progressbar(length=max(found.job.size, 1), file=sys.stderr, label=job_id) as bar:
        while found.job.state not in ("done", "failed"):
            bar.update(found.job.progress.offset - bar.pos)
            time.sleep(POLL_SECONDS)
            found = or_fail(lambda: imports.status(job_id, time.time()))
        bar.update(found.job.progress.offset - bar.pos)
    _print(found)
    _exit_for(found)


def _print(found: Status) -> None:
    job, at = found.job, found.job.progress
    click.echo(
        f"import {job.job_id}: {job.state}, {at.rows:,} rows read ({at.offset:,} of "
        f"{job.size:,} bytes): imported {at.imported}, updated {at.updated}, "
        f"unchanged {at.unchanged}, suppressed {at.suppressed}, rejected {at.rejected}"
    )
    if job.problem:
        click.echo(f"the file was refused: {job.problem}")
    if found.report_url:
        click.echo(f"rejected rows (line, field, message), until {found.report_expires_at}:")
        click.echo(found.report_url)


def _exit_for(found: Status) -> None:
    if found.job.state == "failed" or found.job.progress.rejected:
        raise SystemExit(FAILED)

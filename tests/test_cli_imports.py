"""`nurture contacts import --job` and `nurture contacts import-status`: the upload goes over
HTTP to a moto server (as to S3), a worker thread plays the import queue's Lambda."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from chalicelib import imports, services
from chalicelib.cli import imports as cli_imports
from chalicelib.cli import nurture
from chalicelib.config import settings
from chalicelib.store import Table
from local.ports import moto_server


def run(*args: str) -> Result:
    return CliRunner().invoke(nurture, list(args))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto server on a free port that every client of `services` talks to over HTTP (the
    clients other tests cached, and objects holding them, are left as they are)."""
    with moto_server() as endpoint:

        @functools.cache
        def client(service: str) -> Any:
            return boto3.session.Session().client(service, endpoint_url=endpoint)

        monkeypatch.setattr(services, "client", client)
        monkeypatch.setattr(cli_imports, "POLL_SECONDS", 0.2)
        services.table().create()
        services.client("s3").create_bucket(Bucket=settings().import_bucket)
        services.client("sqs").create_queue(QueueName="nurture-imports")
        yield


def _play_the_queue(stop: threading.Event) -> None:
    sqs, url = services.client("sqs"), settings().import_queue_url
    while not stop.is_set():
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []):
            record = {"messageId": message["MessageId"], "body": message["Body"]}
            worker = services.import_worker()
            imports.drive({"Records": [record]}, worker, services.import_queue(), lambda: 1e9)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        stop.wait(0.1)


def test_a_job_import_uploads_starts_and_waits_for_the_summary(
    served: None, tmp_path: Path
) -> None:
    source = tmp_path / "people.csv"
    source.write_text("email,country\n" + "".join(f"c{n}@example.com,DE\n" for n in range(9)))
    source.write_text(source.read_text() + "bad@example.com,Narnia\n")
    stop = threading.Event()
    player = threading.Thread(target=_play_the_queue, args=(stop,), daemon=True)
    player.start()
    try:
        result = run("contacts", "import", str(source), "--job", "--wait")
    finally:
        stop.set()
        player.join(timeout=10)
    assert result.exit_code == 1, result.output  # one row rejected
    assert "done, 10 rows read" in result.stdout and "imported 9," in result.stdout
    assert "rejected rows (line, field, message)" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("http://127.0.0.1:")
    assert len(list(Table(services.client("dynamodb"), settings().table).profiles())) == 9


def test_without_wait_the_job_id_and_how_to_follow_it_are_printed(
    served: None, tmp_path: Path
) -> None:
    source = tmp_path / "people.jsonl"
    source.write_text('{"email": "j@example.com"}\n')
    started = run("contacts", "import", str(source), "--job")
    assert started.exit_code == 0, started.output
    job_id = started.stdout.split()[1]
    assert f"nurture contacts import-status {job_id} --wait" in started.stdout
    shown = run("contacts", "import-status", job_id)
    assert shown.exit_code == 0 and f"import {job_id}: queued" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--job", "--dry-run"), "--dry-run and --ids"),
        (("--job", "--ids", "ids.csv"), "--dry-run and --ids"),
        (("--wait",), "--wait follows an import job"),
    ],
)
def test_options_the_job_path_cannot_honour_are_refused(
    table: Table, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    source = tmp_path / "people.csv"
    source.write_text("email\nx@example.com\n")
    result = CliRunner().invoke(nurture, ["contacts", "import", str(source), *args])
    assert result.exit_code == 2 and message in result.output
    assert list(table.profiles()) == []


def test_import_status_of_an_unknown_or_unstarted_job_is_a_clear_error(table: Table) -> None:
    services.client("s3").create_bucket(Bucket=settings().import_bucket)
    unknown = run("contacts", "import-status", "0123abcd", "--wait")
    assert unknown.exit_code == 1 and "no import 0123abcd" in unknown.output
    created = services.imports().create("csv", 10, "test", 1.8e9)
    waiting = run("contacts", "import-status", created.job.job_id, "--wait")
    assert waiting.exit_code == 1 and "has not started" in waiting.output
    resumed = run("contacts", "import-status", created.job.job_id, "--resume")
    assert resumed.exit_code == 1 and "nothing uploaded yet" in resumed.output

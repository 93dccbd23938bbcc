"""Contact import jobs: the API, the worker's chunks and checkpoints, crashes and redelivery,
and the error report, against moto (uploads through the presigned URL with `requests`, which
moto serves in process)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chalice.test import Client

from chalicelib import services
from chalicelib.config import settings
from chalicelib.contactfiles import Position, csv_from, jsonl_from, read_csv
from chalicelib.imports import Worker
from chalicelib.store import Table
from chalicelib.store.imports import ImportJobs
from tests.conftest import headers

KEY = {"authorization": "Bearer api-key-0123456789abcdef", "content-type": "application/json"}
NOW = "2026-03-01T09:00:00.000Z"


class Crash(Exception):
    """Stands in for the process dying (or Lambda's timeout) at the point it is raised."""


@pytest.fixture
def imports(aws: None) -> Iterator[None]:
    services.client("s3").create_bucket(Bucket=settings().import_bucket)
    services.client("sqs").create_queue(QueueName="nurture-imports")
    yield


def shape(response: Any) -> dict[str, Any]:
    return json.loads(response.body)


def create(client: Client, body: bytes, file_format: str = "csv") -> dict[str, Any]:
    response = client.http.post(
        "/api/imports", headers=KEY, body=json.dumps({"format": file_format, "size": len(body)})
    )
    assert response.status_code == 201, response.body
    job = shape(response)
    upload = job["upload"]
    put = requests.put(upload["url"], data=body, headers=upload["headers"], timeout=10)
    assert put.status_code == 200, put.text
    return job


def start(client: Client, job_id: str) -> Any:
    return client.http.post(f"/api/imports/{job_id}/start", headers=KEY)


def status(client: Client, job_id: str) -> dict[str, Any]:
    response = client.http.get(f"/api/imports/{job_id}", headers=KEY)
    assert response.status_code == 200
    return shape(response)


def worker(chunk_rows: int = 3) -> Worker:
    made = services.import_worker()
    made.chunk_rows = chunk_rows
    return made


def drain(run_worker: Worker | None = None, time_left: float = 1e9) -> int:
    """Deliver the import queue's messages to the Lambda handler until it is empty."""
    import app

    sqs, url = services.client("sqs"), settings().import_queue_url
    runs = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages"):
        record = {"messageId": messages[0]["MessageId"], "body": messages[0]["Body"]}
        from chalicelib import imports

        found = imports.drive(
            {"Records": [record]},
            run_worker or worker(),
            services.import_queue(),
            lambda: time_left,
        )
        assert found == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        runs += 1
        assert app  # the handler module loads with its routes
    return runs


def people_csv(count: int, *, bad_every: int = 0, start: int = 0) -> bytes:
    lines = ["email,first_name,country"]
    for n in range(start, start + count):
        country = "XX" if bad_every and n % bad_every == bad_every - 1 else "DE"
        lines.append(f"p{n}@example.com,Name{n},{country}")
    return ("\r\n".join(lines) + "\r\n").encode()


def stored(table: Table) -> dict[str, dict[str, Any]]:
    return {p["email"]: p for p in table.profiles()}


def report_rows(job: dict[str, Any]) -> list[list[str]]:
    body = requests.get(job["error_report"]["url"], timeout=10)
    assert body.status_code == 200
    return list(csv.reader(io.StringIO(body.text)))


# ---------------------------------------------------------------- the whole path


def test_a_job_imports_an_uploaded_file_in_chunks_and_reports_rejected_rows(
    client: Client, imports: None, table: Table
) -> None:
    body = people_csv(20, bad_every=7)
    job = create(client, body)
    assert job["state"] == "awaiting_upload" and job["upload"]["method"] == "PUT"
    assert job["upload"]["headers"] == {"Content-Length": str(len(body))}
    assert job["start"] == f"/api/imports/{job['import_id']}/start"
    answer = start(client, job["import_id"])
    assert answer.status_code == 202 and shape(answer)["state"] == "queued"

    assert drain(time_left=0) == 7  # 20 rows, 3 a chunk, one chunk a run when time is short
    done = status(client, job["import_id"])
    assert done["state"] == "done"
    assert (done["rows"], done["accepted"], done["rejected"], done["imported"]) == (20, 18, 2, 18)
    assert done["bytes_read"] == done["size"] == len(body)
    assert done["started_at"] <= done["finished_at"]
    assert len(stored(table)) == 18 and "p6@example.com" not in stored(table)
    rows = report_rows(done)
    assert rows[0] == ["line", "field", "message"]
    assert [r[:2] for r in rows[1:]] == [["8", "country"], ["15", "country"]]
    assert "ISO 3166" in rows[1][2]


def test_jsonl_and_multiline_csv_cells_resume_on_row_boundaries(
    client: Client, imports: None, table: Table
) -> None:
    body = (
        b'email,company\r\na@example.com,"Two\r\nlines"\r\nb@example.com,B\r\nc@example.com,C\r\n'
    )
    job = create(client, body)
    start(client, job["import_id"])
    drain(worker(chunk_rows=1), time_left=0)
    assert stored(table)["a@example.com"]["company"] == "Two\r\nlines"
    assert status(client, job["import_id"])["imported"] == 3

    lines = [json.dumps({"email": f"j{n}@example.com", "tags": ["x"]}) for n in range(5)]
    body = ("\n".join(lines) + "\n\n").encode()
    job = create(client, body, "jsonl")
    start(client, job["import_id"])
    drain(worker(chunk_rows=2), time_left=0)
    done = status(client, job["import_id"])
    assert (done["state"], done["imported"], done["rejected"]) == ("done", 5, 0)
    assert "error_report" not in done


def test_positions_resume_reading_exactly_where_a_read_stopped() -> None:
    text = '\ufeffemail,company\nA@example.com,x\r\nb@example.com,"q\nq"\r\n\nc@example.com,\xff\n'
    data = text.encode("utf-8", "surrogatepass")
    whole = list(csv_from(io.BytesIO(data), Position()))
    for cut in range(len(whole)):
        at = whole[cut][1]
        rest = list(csv_from(io.BytesIO(data[at.offset :]), at))
        assert rest == whole[cut + 1 :]
    assert whole[-1][1].offset == len(data)
    assert [row for row, _ in whole] == list(read_csv(io.BytesIO(data)))
    lines = b'{"email": "a@example.com"}\n\n{"email": "b@example.com"}\n'
    first, second = list(jsonl_from(io.BytesIO(lines), Position()))
    assert list(jsonl_from(io.BytesIO(lines[first[1].offset :]), first[1])) == [second]
    assert second[0].line == 3


def test_a_later_row_for_an_address_placed_in_an_earlier_chunk_is_a_duplicate(
    client: Client, imports: None, table: Table
) -> None:
    body = b"email,first_name\r\nd@example.com,First\r\nx@example.com,X\r\nD@EXAMPLE.com,Later\r\n"
    job = create(client, body)
    start(client, job["import_id"])
    drain(worker(chunk_rows=1), time_left=0)
    done = status(client, job["import_id"])
    assert (done["imported"], done["rejected"]) == (2, 1)
    assert stored(table)["d@example.com"]["first_name"] == "First"
    assert report_rows(done)[1][:2] == ["4", "email"]


def test_a_file_refused_as_a_whole_fails_the_job_with_the_reason(
    client: Client, imports: None, table: Table
) -> None:
    job = create(client, b"name,company\r\nx,y\r\n")
    start(client, job["import_id"])
    drain()
    failed = status(client, job["import_id"])
    assert failed["state"] == "failed" and failed["problem"].startswith("email: no 'email' column")
    assert list(table.profiles()) == []


# ---------------------------------------------------------------- crashes and redelivery


def _crash_on(worker: Worker, name: str, call: int) -> None:
    """Make `worker.jobs.<name>` or `worker.objects.<name>` raise on its `call`-th call."""
    owner = worker.jobs if hasattr(worker.jobs, name) else worker.objects
    real = getattr(owner, name)
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call:
            raise Crash(name)
        return real(*args, **kwargs)

    setattr(owner, name, crashing)


@pytest.mark.parametrize(
    ("point", "call"),
    [
        ("advance", 2),  # a chunk written, its checkpoint not
        ("write_part", 3),  # contacts and addresses written, the report part not
        ("record_placed", 2),  # the second chunk remembered nothing yet
    ],
)
def test_a_crash_between_chunks_resumes_at_the_checkpoint_writing_nothing_twice(
    client: Client, imports: None, table: Table, point: str, call: int
) -> None:
    body = people_csv(14, bad_every=5) + b"p1@example.com,Again,DE\r\n"
    job = create(client, body)
    start(client, job["import_id"])
    crashing = worker(chunk_rows=3)
    _crash_on(crashing, point, call)
    with pytest.raises(Crash):
        crashing.run(job["import_id"], lambda: 1e9)
    midway = status(client, job["import_id"])
    assert midway["state"] == "running" and 0 < midway["rows"] < 15
    before = stored(table)

    drain()  # the message comes back (visibility timeout), a fresh worker resumes
    done = status(client, job["import_id"])
    assert (done["rows"], done["rejected"], done["imported"]) == (15, 3, 12)
    after = stored(table)
    assert len(after) == 12
    for email, profile in before.items():  # rows written before the crash: untouched
        assert after[email] == profile
    rows = report_rows(done)
    assert [r[:2] for r in rows[1:]] == [["6", "country"], ["11", "country"], ["16", "email"]]


def test_a_crash_in_the_middle_of_a_chunk_resumes_it_without_a_second_effect(
    client: Client, imports: None, table: Table
) -> None:
    body = people_csv(12)
    job = create(client, body)
    start(client, job["import_id"])
    puts = {"n": 0}

    def die_on_the_seventh_profile(params: dict[str, Any], **_: Any) -> None:
        puts["n"] += 1
        if puts["n"] == 7:
            raise Crash("mid-chunk")

    events = services.client("dynamodb").meta.events
    events.register("before-call.dynamodb.PutItem", die_on_the_seventh_profile)
    try:
        with pytest.raises(Crash):
            worker(chunk_rows=10).run(job["import_id"], lambda: 1e9)
    finally:
        events.unregister("before-call.dynamodb.PutItem", die_on_the_seventh_profile)
    assert status(client, job["import_id"])["rows"] == 0  # the chunk never checkpointed
    partial = stored(table)
    assert 0 < len(partial) < 10

    drain()
    done = status(client, job["import_id"])
    assert (done["rows"], done["imported"], done["rejected"]) == (12, 12, 0)
    after = stored(table)
    assert sorted(after) == sorted(f"p{n}@example.com" for n in range(12))
    for email, profile in partial.items():
        assert after[email]["contact_id"] == profile["contact_id"]  # one contact each


def test_a_redelivered_message_and_a_second_start_change_nothing(
    client: Client, imports: None, table: Table
) -> None:
    job = create(client, people_csv(7))
    start(client, job["import_id"])
    start(client, job["import_id"])  # two messages for one job
    assert drain(worker(chunk_rows=2)) == 2
    done = status(client, job["import_id"])
    assert (done["rows"], done["imported"], done["unchanged"]) == (7, 7, 0)
    first = stored(table)
    services.import_queue().send(job["import_id"])  # redelivered after the job is over
    assert drain() == 1
    assert status(client, job["import_id"]) == done and stored(table) == first


def test_two_workers_on_one_job_advance_its_checkpoint_once(
    client: Client, imports: None, table: Table
) -> None:
    job = create(client, people_csv(6))
    start(client, job["import_id"])
    jobs = ImportJobs(table)
    ahead = worker(chunk_rows=3)
    at = jobs.get(job["import_id"])
    assert at is not None
    assert ahead.run(job["import_id"], lambda: 0) == "more"  # moved past the first chunk
    late = worker(chunk_rows=3)
    late.jobs.get = lambda _job_id: at  # type: ignore[method-assign]  # read before that
    assert late.run(job["import_id"], lambda: 1e9) == "idle"
    assert status(client, job["import_id"])["rows"] == 3
    drain()
    assert status(client, job["import_id"])["rows"] == 6


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "xlsx", "size": 10}, "format"),
        ({"size": 10}, "format"),
        ({"format": ["csv"], "size": 10}, "format"),
        ({"format": "csv"}, "size"),
        ({"format": "csv", "size": 0}, "size"),
        ({"format": "csv", "size": "10"}, "size"),
        ({"format": "csv", "size": True}, "size"),
        ({"format": "csv", "size": 1.5}, "size"),
        ({"format": "csv", "size": 10, "name": "x"}, "name"),
    ],
)
def test_a_bad_job_request_is_400_naming_the_field_and_stores_nothing(
    client: Client, imports: None, table: Table, body: dict[str, Any], field: str
) -> None:
    response = client.http.post("/api/imports", headers=KEY, body=json.dumps(body))
    assert response.status_code == 400
    assert shape(response)["error"].startswith(f"{field}:")
    assert _jobs(table) == []


def test_a_file_over_the_limit_is_413_naming_size(
    client: Client, imports: None, table: Table
) -> None:
    too_big = settings().import_max_bytes + 1
    response = client.http.post(
        "/api/imports", headers=KEY, body=json.dumps({"format": "csv", "size": too_big})
    )
    assert response.status_code == 413 and shape(response)["error"].startswith("size:")
    assert _jobs(table) == []


def test_unknown_ids_are_404_and_malformed_ones_400(client: Client, imports: None) -> None:
    assert client.http.get("/api/imports/0123abcd", headers=KEY).status_code == 404
    assert start(client, "0123abcd").status_code == 404
    bad = client.http.get("/api/imports/a%23b", headers=KEY)
    assert bad.status_code == 400 and shape(bad)["error"].startswith("import_id:")


def test_starting_before_the_upload_is_409_and_queues_nothing(
    client: Client, imports: None, table: Table
) -> None:
    response = client.http.post(
        "/api/imports", headers=KEY, body=json.dumps({"format": "csv", "size": 10})
    )
    job_id = shape(response)["import_id"]
    refused = start(client, job_id)
    assert refused.status_code == 409 and "nothing uploaded" in shape(refused)["error"]
    assert status(client, job_id)["state"] == "awaiting_upload"
    assert drain() == 0


def test_the_job_routes_need_the_marketer_key(client: Client, imports: None) -> None:
    response = client.http.post(
        "/api/imports",
        headers={"content-type": "application/json"},
        body=json.dumps({"format": "csv", "size": 10}),
    )
    assert response.status_code == 401 and headers(response)["www-authenticate"] == "Bearer"
    assert client.http.get("/api/imports/0123abcd").status_code == 401


def test_a_message_naming_no_job_is_dropped(imports: None) -> None:
    from chalicelib import imports as jobs

    for body in ("not json", "[]", '{"import_id": 5}', '{"import_id": "nope"}'):
        answer = jobs.drive(
            {"Records": [{"messageId": "m", "body": body}]},
            worker(),
            services.import_queue(),
            lambda: 1e9,
        )
        assert answer == {"batchItemFailures": []}


def test_the_synchronous_import_points_at_the_job_path_when_too_large(
    client: Client, imports: None, table: Table
) -> None:
    import app as routes

    body = b"email\n" + b"x" * (routes.MAX_IMPORT_BYTES + 1)
    response = client.http.post(
        "/api/contacts",
        headers={"authorization": KEY["authorization"], "content-type": "text/csv"},
        body=body,
    )
    assert response.status_code == 413
    assert "POST /api/imports" in shape(response)["error"]
    assert list(table.profiles()) == []


def _jobs(table: Table) -> list[dict[str, Any]]:
    items = table.client.scan(TableName=table.name)["Items"]
    return [item for item in items if item["PK"]["S"].startswith("IMP#")]


def test_a_file_put_again_after_the_start_fails_the_job_and_none_of_it_is_read(
    client: Client, imports: None, table: Table
) -> None:
    """The upload URL takes PUTs until it expires: the job reads only the file it was started
    on, so a later PUT (here of the same size, as the URL demands) is refused, not imported."""
    body = people_csv(9)
    job = create(client, body)
    start(client, job["import_id"])
    assert worker(chunk_rows=3).run(job["import_id"], lambda: 0) == "more"  # one chunk in
    upload = job["upload"]
    replaced = body.replace(b"Name", b"Nome")
    again = requests.put(upload["url"], data=replaced, headers=upload["headers"], timeout=10)
    assert again.status_code == 200 and len(replaced) == len(body)

    drain()
    failed = status(client, job["import_id"])
    assert failed["state"] == "failed" and failed["rows"] == 3
    assert failed["problem"].startswith("upload: was replaced after the import started")
    names = sorted(profile.get("first_name") for profile in stored(table).values())
    assert names == ["Name0", "Name1", "Name2"]


# ---------------------------------------------------------------- the dead-letter queue


def dead_letter_queue(max_receives: int) -> str:
    """The import queue's dead-letter queue, with the queue's redrive policy as deployed."""
    sqs = services.client("sqs")
    dlq = sqs.create_queue(QueueName="nurture-imports-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    policy = {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": str(max_receives)}
    sqs.set_queue_attributes(
        QueueUrl=settings().import_queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
    return str(dlq)


def deliver_failing(run_worker: Worker) -> bool:
    """One receive of the import queue handed to the handler, whose run fails (the whole
    batch, so the invocation fails): the message is not deleted and comes back at once. False
    when the queue had nothing to deliver."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from chalicelib import imports as jobs

    sqs, url = services.client("sqs"), settings().import_queue_url
    messages = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")
    if not messages:
        return False
    record = {"messageId": messages[0]["MessageId"], "body": messages[0]["Body"]}
    with pytest.raises(BatchProcessingError):
        jobs.drive({"Records": [record]}, run_worker, services.import_queue(), lambda: 1e9)
    return True


def redrive_imports(dlq: str) -> Any:
    from click.testing import CliRunner

    from chalicelib.cli import nurture

    return CliRunner().invoke(nurture, ["dlq", "redrive", "import", "--queue-url", dlq])


def test_a_run_dead_lettered_then_redriven_resumes_and_imports_each_row_once(
    client: Client, imports: None, table: Table
) -> None:
    dlq = dead_letter_queue(max_receives=2)
    job = create(client, people_csv(10))
    start(client, job["import_id"])
    first = worker(chunk_rows=3)
    _crash_on(first, "advance", 2)  # chunk 1 checkpointed, chunk 2 written but not
    assert deliver_failing(first)
    second = worker(chunk_rows=3)
    _crash_on(second, "advance", 1)  # the outage goes on: chunk 2 written again, no checkpoint
    assert deliver_failing(second)
    assert not deliver_failing(worker())  # received twice: SQS moved it to the dead letters
    midway = stored(table)
    assert status(client, job["import_id"])["rows"] == 3 and len(midway) == 6

    sqs = services.client("sqs")
    dead = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"][0]["Body"]
    sqs.send_message(QueueUrl=dlq, MessageBody=dead)  # SQS may hold a message twice
    result = redrive_imports(dlq)
    assert result.exit_code == 0, result.output
    assert "import: 2 replayed, 0 left in the queue" in result.output
    assert drain() == 2  # the job resumed from its checkpoint; the second run found it done
    done = status(client, job["import_id"])
    assert (done["state"], done["rows"], done["imported"], done["rejected"]) == ("done", 10, 10, 0)
    after = stored(table)
    assert sorted(after) == sorted(f"p{n}@example.com" for n in range(10))
    for email, profile in midway.items():  # one contact each, as the crashed runs left it
        assert after[email]["contact_id"] == profile["contact_id"]

    sqs.send_message(QueueUrl=dlq, MessageBody=dead)  # redriven again, long after
    assert "import: 1 replayed, 0 left" in redrive_imports(dlq).output
    assert drain() == 0  # a job over already is not queued again
    assert status(client, job["import_id"]) == done and stored(table) == after


def test_a_dead_letter_naming_no_job_stays_and_is_named(client: Client, imports: None) -> None:
    dlq = dead_letter_queue(max_receives=5)
    made = client.http.post("/api/imports", headers=KEY, body='{"format": "csv", "size": 9}')
    awaiting = shape(made)["import_id"]  # never uploaded
    for doc in ({"import_id": "0123456789abcdef"}, {"job": 1}, {"import_id": awaiting}):
        services.client("sqs").send_message(QueueUrl=dlq, MessageBody=json.dumps(doc))
    result = redrive_imports(dlq)
    assert result.exit_code == 1
    assert "import: 0 replayed, 3 left in the queue" in result.output
    assert "no import 0123456789abcdef" in result.output
    assert "import_id: is missing" in result.output
    assert "nothing uploaded yet" in result.output
    assert drain() == 0

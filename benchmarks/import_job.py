"""Contact import jobs: 20,000 and 100,000 rows through the job path on a moto server, each in
a fresh process (the worker's own memory, moto's in another process): rows/s and peak RSS.

The file goes up through the presigned URL, the job is started, and the import queue's
messages are handed to the Lambda handler with a 180 s budget per invocation (the deployed
timeout), as the local stack's player does. Peak memory must not grow with the row count.
Run: python benchmarks/import_job.py [--rows 20000 100000]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET_SECONDS = 180.0

from local.ports import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.endpoint)
        return
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        for rows in args.rows:
            subprocess.run(  # noqa: S603
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(rows),
                    "--endpoint",
                    f"http://127.0.0.1:{port}",
                ],
                check=True,
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # holding 100,000 contacts, it can take a while
            server.kill()


def child(rows: int, endpoint: str) -> None:
    """One import of `rows` rows in this process; prints one line."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from import_contacts import write_csv  # the same file as the direct import's benchmark

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        NURTURE_TABLE=f"bench-{rows}",
        NURTURE_IMPORT_BUCKET=f"bench-imports-{rows}",
    )
    from chalicelib import services

    sqs = services.client("sqs")
    queue = sqs.create_queue(QueueName=f"bench-imports-{rows}")["QueueUrl"]
    os.environ["NURTURE_IMPORT_QUEUE_URL"] = queue
    services.table().create()
    services.client("s3").create_bucket(Bucket=os.environ["NURTURE_IMPORT_BUCKET"])

    import app
    from chalicelib.cli.imports import _upload

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        write_csv(path, rows)
        imports = services.imports()
        created = imports.create("csv", path.stat().st_size, "bench", time.time())
        job_id = created.job.job_id
        _upload(created.upload_url, path.stat().st_size, path)
        began = time.perf_counter()
        imports.start(job_id, time.time())
        runs = 0
        while messages := sqs.receive_message(QueueUrl=queue).get("Messages"):
            deadline = time.monotonic() + BUDGET_SECONDS
            record = {"messageId": messages[0]["MessageId"], "body": messages[0]["Body"]}
            app.import_worker({"Records": [record]}, _Context(deadline))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
            runs += 1
        elapsed = time.perf_counter() - began
        job = imports.status(job_id, time.time()).job
    at = job.progress
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"job import {rows:>7,} rows  {path_size(at.offset)}  {at.rows / elapsed:6,.0f} rows/s  "
        f"({elapsed:5.0f} s, {runs} runs; {job.state}: imported {at.imported:,}, "
        f"rejected {at.rejected:,})  peak RSS {peak:5.0f} MiB",
        flush=True,
    )


class _Context:
    """What the handler reads of a Lambda context: who it is and the time left."""

    function_name = "nurture-bench-import-contacts"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def path_size(size: int) -> str:
    return f"{size / 2**20:5.1f} MiB"


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"moto server did not listen on {port}")


if __name__ == "__main__":
    main()

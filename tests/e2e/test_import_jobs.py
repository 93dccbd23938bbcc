"""A large contact file through the job path on the running local stack: the CLI uploads it to
the presigned URL (moto's S3), starts the job, and the player hands the import queue to the
worker as Lambda would; `--wait` follows it to the summary and the error report's URL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tests.e2e.conftest import Stack
from tests.e2e.test_local_stack import fetch
from tests.e2e.test_newcomer import shell


def test_a_job_import_runs_on_the_stack_and_its_report_downloads(
    stack: Stack, tmp_path: Path
) -> None:
    rows = [f"job{n}@example.com,Job{n},{'XX' if n == 7 else 'DE'}" for n in range(40)]
    (tmp_path / "many.csv").write_text("email,first_name,country\n" + "\n".join(rows) + "\n")
    done = shell(stack, "nurture contacts import many.csv --job --wait", tmp_path)
    assert done.returncode == 1, done  # one row rejected
    assert re.search(r": done, 40 rows read .* imported 39, .* rejected 1$", done.stdout, re.M)
    url = done.stdout.strip().splitlines()[-1]
    status, _, body = fetch(url)
    assert status == 200
    lines = list(csv.reader(io.StringIO(body.decode())))
    assert lines[0] == ["line", "field", "message"] and lines[1][:2] == ["9", "country"]
    job_id = re.search(r"^import (\w+): done", done.stdout, re.M)
    assert job_id is not None
    again = shell(stack, f"nurture contacts import-status {job_id.group(1)}", tmp_path)
    assert again.returncode == 1 and "rejected 1" in again.stdout
    found = shell(stack, "nurture contacts show job39@example.com", tmp_path)
    assert found.returncode == 0 and "Job39" in found.stdout, found

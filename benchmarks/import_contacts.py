"""Contact import: parsing throughput and peak memory for 20k vs 100k rows, and a full import.

Parsing alone must keep memory flat in file size; de-duplication keeps one 16-byte digest per
distinct address. The full import runs against in-process moto (about 2 ms per call there).
Run: python benchmarks/import_contacts.py [--import-rows 20000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["NURTURE_TABLE"] = "nurture-bench"
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws

from chalicelib import services
from chalicelib.contactfiles import read_csv
from chalicelib.contacts import Row, first_occurrences, import_contacts

HEADER = "email,first_name,last_name,company,locale,timezone,country,tags,plan\n"
ZONES = ("Europe/Riga", "America/Sao_Paulo", "Asia/Tokyo", "Australia/Sydney")


def write_csv(path: Path, rows: int) -> None:
    """A realistic file, written row by row; every 100th row is malformed."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for n in range(rows):
            zone = "Mars/Olympus" if n % 100 == 99 else ZONES[n % len(ZONES)]
            out.write(
                f"user{n}@example.com,First{n},Last{n},Company {n % 977},en-GB,{zone},"
                f"DE,newsletter;beta,plan{n % 5}\n"
            )


def consume(rows: Iterable[Row]) -> int:
    return sum(1 for _ in rows)


def measure(label: str, path: Path, pipeline: Callable[[Path], int]) -> None:
    began = time.perf_counter()
    count = pipeline(path)
    elapsed = time.perf_counter() - began
    tracemalloc.start()
    pipeline(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = path.stat().st_size
    print(
        f"{label:<14} {count:>7,} rows  {size / 2**20:6.1f} MiB file  "
        f"{count / elapsed:>9,.0f} rows/s  peak {peak / 2**20:6.2f} MiB"
    )


def parse_only(path: Path) -> int:
    with path.open("rb") as stream:
        return consume(read_csv(stream))


def parse_and_dedupe(path: Path) -> int:
    with path.open("rb") as stream:
        return consume(first_occurrences(read_csv(stream)))


def full_import(path: Path) -> None:
    with mock_aws():
        table = services.table()
        table.create()
        for run in ("first run", "second run"):
            began = time.perf_counter()
            with path.open("rb") as stream:
                report = import_contacts(
                    table,
                    read_csv(stream),
                    now="2026-01-01T00:00:00Z",
                    new_id=lambda: secrets.token_urlsafe(12),
                )
            elapsed = time.perf_counter() - began
            rows = report.imported + report.updated + report.unchanged + len(report.rejected)
            print(
                f"import {run}: {elapsed:6.1f} s = {rows / elapsed:,.0f} rows/s  "
                f"(imported {report.imported}, updated {report.updated}, "
                f"unchanged {report.unchanged}, rejected {len(report.rejected)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--import-rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for rows in (20_000, 100_000):
            path = Path(folder) / f"contacts-{rows}.csv"
            write_csv(path, rows)
            measure("parse", path, parse_only)
            measure("parse+dedupe", path, parse_and_dedupe)
        path = Path(folder) / "import.csv"
        write_csv(path, args.import_rows)
        full_import(path)
    print(f"max RSS of the whole run: {_max_rss_mib():.0f} MiB")


def _max_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()

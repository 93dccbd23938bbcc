"""The local stack, started once as a user starts it, on free ports, for the e2e tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Stack:
    api: str
    moto: str
    links: dict[str, str]
    state: Path
    banner: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def events(self, contact: str = "demo-contact") -> list[dict[str, Any]]:
        items = self.client("dynamodb").query(
            TableName="nurture-local",
            KeyConditionExpression="PK = :pk AND begins_with(SK, :ev)",
            ExpressionAttributeValues={":pk": {"S": f"C#{contact}"}, ":ev": {"S": "EV#"}},
        )["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def launch(state: Path) -> tuple[subprocess.Popen[str], Stack]:
    """Start the local stack on free ports with its state in `state`, as a user starts it;
    return once it printed its banner (the process keeps running)."""
    port, moto_port, receiver_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NURTURE_"))}
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "local.stack",
            "--port",
            str(port),
            "--moto-port",
            str(moto_port),
            "--receiver-port",
            str(receiver_port),
            "--state-dir",
            str(state),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    links, lines = {}, []
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.match(r"\s+(open pixel|click \d|unsubscribe)\s+(\S+)", line)
        if found:
            links[found.group(1)] = found.group(2)
        if line.startswith("Stop with Ctrl-C"):
            break
    if "unsubscribe" not in links:
        process.kill()
        pytest.fail("local stack did not start:\n" + "".join(lines))
    api, moto = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{moto_port}"
    return process, Stack(api, moto, links, state, "".join(lines))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    process, started = launch(tmp_path_factory.mktemp("state"))
    try:
        yield started
    finally:
        process.terminate()
        process.wait(timeout=20)

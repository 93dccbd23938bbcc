"""The local stack's life as a newcomer meets it: a busy port stops it before anything starts,
a restart keeps what was pushed and imported, and a dead API stops it with a non-zero exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ROOT, launch
from tests.e2e.test_newcomer import shell


def test_a_busy_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken, socket.socket() as moto:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        moto.bind(("127.0.0.1", 0))
        moto_port = moto.getsockname()[1]
        moto.close()  # free: the stack must not start moto on it either
        port = taken.getsockname()[1]
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "local.stack", "--port", str(port),
             "--moto-port", str(moto_port), "--state-dir", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 2, result
    assert f"port {port} on 127.0.0.1 (the API) is not free" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "running" not in result.stdout
    assert not (tmp_path / "env").exists()


def test_a_restart_keeps_what_was_pushed_and_imported(tmp_path: Path) -> None:
    process, stack = launch(tmp_path / "state")
    try:
        (tmp_path / "people.csv").write_text("email\nrosa@example.com\n")
        assert shell(stack, "nurture contacts import people.csv", tmp_path).returncode == 0
        enrolled = shell(stack, "nurture enroll --sequence welcome rosa@example.com", tmp_path)
        assert enrolled.stdout.startswith("enrolled 1,"), enrolled
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "local state saved" in out, out
    process, stack = launch(tmp_path / "state")
    try:
        assert "restored from" in stack.banner and "(kept)" in stack.banner, stack.banner
        shown = shell(stack, "nurture contacts show rosa@example.com", tmp_path)
        assert shown.returncode == 0 and '"welcome"' in shown.stdout, shown
        again = shell(stack, "nurture enroll --sequence welcome rosa@example.com", tmp_path)
        assert again.stdout.startswith("enrolled 0, already enrolled 1"), again
        listed = shell(stack, "nurture sequences list", tmp_path)
        assert "\nwelcome\tv1\t" in listed.stdout, listed
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_when_the_api_dies_the_stack_stops_with_a_non_zero_exit(tmp_path: Path) -> None:
    process, _ = launch(tmp_path / "state")
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    [chalice] = [pid for pid in children if b"chalice" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(int(chalice), signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 1, out
    assert "chalice local exited with -9: the stack stops" in out
    assert "Traceback" not in out

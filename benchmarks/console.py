"""How fast the console's pages render locally, in headless Chromium, against the running local
stack with its simulated month (target: the first page in under 1 s), and how long the stack
takes to print its links (the month loaded first).

Starts `python -m local.stack` on free ports and `nurture dashboard`, signs a browser in, then
loads each page several times and prints the median and worst time from navigation start to
the load event (server work, API calls, HTML, CSS and the inline SVG charts included).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = 7

from local.ports import free_port  # noqa: E402

TARGET_SECONDS = 1.0


def wait_for(process: subprocess.Popen[str], pattern: str, seconds: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if re.search(pattern, line):
            return line
    raise SystemExit(f"did not see {pattern!r} within {seconds:.0f} s")


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM_FLAGS  # sets test settings here; the stack gets none

    state = Path(tempfile.mkdtemp(prefix="nurture-bench-"))
    port, moto = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NURTURE_"))}
    stack = subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "local.stack", "--port", str(port)),
            *("--moto-port", str(moto), "--state-dir", str(state)),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = None
    started = time.monotonic()
    try:
        loaded = wait_for(stack, r"^The console shows", 120)
        print(f"local stack ready in {time.monotonic() - started:.1f} s: {loaded.strip()}")
        nurture = Path(sys.executable).parent / "nurture"
        console = subprocess.Popen(  # noqa: S603
            ["/bin/bash", "-c", f". {state / 'env'} && exec {nurture} dashboard --no-open"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        login = re.search(r"http://\S+/login\?token=\S+", wait_for(console, "login", 30))
        assert login is not None
        base = login.group(0).split("/login")[0]
        pages = ["/", "/sequences/spring-launch", "/experiments", "/sequences/engagement"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(login.group(0))
            medians = {}
            for path in pages:
                times = []
                for _ in range(RUNS):
                    page.goto(base + path)
                    timing = json.loads(
                        page.evaluate(
                            "JSON.stringify(performance.getEntriesByType('navigation')[0])"
                        )
                    )
                    times.append(timing["loadEventEnd"] / 1000)
                medians[path] = statistics.median(times)
                print(
                    f"console {path:<26} median {medians[path]:.3f} s, "
                    f"worst {max(times):.3f} s over {RUNS} loads"
                )
            browser.close()
        verdict = "met" if medians["/"] < TARGET_SECONDS else "NOT met"
        print(f"first page: {medians['/']:.3f} s (target < {TARGET_SECONDS:.0f} s: {verdict})")
    finally:
        for process in (console, stack):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()

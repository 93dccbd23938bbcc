"""How true are the engagement verdicts? Recall on automated agents, false positives on people.

Reads labelled user agents (one per line) from a directory holding `automated.txt` (crawlers,
link scanners, preview fetchers, HTTP libraries, headless browsers) and `browsers.txt` (real
browsers and mail clients). The data is not part of the project: by default it is read from
`shared/data/useragents/` beside the checkout (or beside its parent, for a worktree); pass
another directory as the first argument or in NURTURE_USERAGENTS. Without the data it says so
and exits 0, so `make bench` goes on.

Each agent is classified as a click (GET, an hour after the send) and as an open. Targets:
>= 90% of automated agents are scanner clicks; <= 0.1% of browser agents are not human clicks.

Run: python benchmarks/classify.py [DIRECTORY] [--misses]
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.classify import HUMAN, SCANNER, classify_click, classify_open  # noqa: E402

HOUR = 3600.0
CANDIDATES = [up / "shared" / "data" / "useragents" for up in (ROOT.parent, ROOT.parent.parent)]


def agents(directory: Path, name: str) -> list[str]:
    lines = (directory / name).read_text("utf-8").splitlines()
    return [line for line in lines if line.strip()]


def main(argv: list[str]) -> int:
    show_misses = "--misses" in argv
    args = [a for a in argv if a != "--misses"]
    given = args[0] if args else os.environ.get("NURTURE_USERAGENTS")
    found = [Path(given)] if given else [c for c in CANDIDATES if c.is_dir()]
    directory = found[0] if found else CANDIDATES[0]
    if not (directory / "automated.txt").is_file():
        print(f"skipped: no labelled agents in {directory} (pass the directory of automated.txt)")
        return 0 if not given else 2
    automated = agents(directory, "automated.txt")
    browsers = agents(directory, "browsers.txt")

    clicks = [classify_click("GET", agent, HOUR, 10) for agent in automated]
    caught = sum(verdict.kind == SCANNER for verdict in clicks)
    reasons = Counter(verdict.reason for verdict in clicks if verdict.kind == SCANNER)
    opens = Counter(classify_open(agent, HOUR, 2).kind for agent in automated)

    person_clicks = [classify_click("GET", agent, HOUR, 10) for agent in browsers]
    misjudged = [(a, v) for a, v in zip(browsers, person_clicks, strict=True) if v.kind != HUMAN]
    person_opens = Counter(classify_open(agent, HOUR, 2).kind for agent in browsers)

    recall = caught / len(automated)
    false_positives = len(misjudged) / len(browsers)
    print(f"labelled agents from {directory}")
    print(
        f"automated agents caught on clicks: {caught} of {len(automated)} = {recall:.1%}"
        "  (target >= 90%)"
    )
    print("  by reason: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
    print("  as opens: " + ", ".join(f"{k} {n}" for k, n in opens.most_common()))
    print(
        f"browser agents misjudged on clicks: {len(misjudged)} of {len(browsers)} = "
        f"{false_positives:.3%}  (target <= 0.1%)"
    )
    print("  as opens: " + ", ".join(f"{k} {n}" for k, n in person_opens.most_common()))
    for agent, verdict in misjudged:
        print(f"  misjudged ({verdict.reason}): {agent}")
    if show_misses:
        for agent, verdict in zip(automated, clicks, strict=True):
            if verdict.kind != SCANNER:
                print(f"  missed: {agent}")
    return 0 if recall >= 0.9 and false_positives <= 0.001 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

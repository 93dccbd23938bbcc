"""Lambda package size and cold-start import per function.

Size: each asset built exactly as the deployment builds it (infra/nurture_infra/bundling.py:
arm64 wheels from PyPI, the app's sources), unpacked and zipped, with its largest parts.
Cold import: a fresh interpreter without site-packages, holding only the asset's distributions
(linked from this environment) and what the Lambda runtime provides (boto3), imports the
function's entry and what its first invocation imports; median of interleaved runs. Lambda
gives a function memory/1769 of a vCPU, so at 512 MB an import takes about 3.5 times as long.
Then, when this machine has the runtime's Python (bundling.bytecode_compiler), the public asset
as built, run by that Python: the entry import (`import app`) with the asset's bytecode and
without it, against `import boto3` from a runtime directory compiled as Lambda's image ships it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "infra"))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault(
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    subprocess.run(
        ["node", "-p", "process.versions.node.split('.')[0]"],  # noqa: S607 - node from PATH
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip(),
)

from nurture_infra.bundling import (  # noqa: E402
    APP_SOURCES,
    FULL,
    PUBLIC,
    PUBLIC_DISTRIBUTIONS,
    PipBundler,
    bytecode_compiler,
    compile_bytecode,
    python_version,
)
from nurture_infra.functions import ALL_SPECS  # noqa: E402
from nurture_infra.localruntime import RUNTIME, closure, link_distributions  # noqa: E402

RUNS = 7
MB = 1024 * 1024
# What each function's first invocation imports beyond app.py (they are imported lazily).
FIRST_CALL = {
    "app.public": ["chalicelib.pages", "chalicelib.productevents"],
    "app.api": ["chalicelib.catalog", "chalicelib.journey", "chalicelib.contacts"],
    "app.replay_parked": ["chalicelib.observability"],
    "app.on_stream": [
        "chalicelib.streams",
        "chalicelib.journey",
        "chalicelib.send",
        "chalicelib.behaviour",
        "chalicelib.triggers",
    ],
    "app.on_ses_event": ["chalicelib.feedback"],
    "app.on_schedule": ["chalicelib.journey", "chalicelib.send", "chalicelib.compose"],
    "app.deliver_webhooks": ["chalicelib.outbound", "chalicelib.schedule"],
    "app.retry_webhooks": ["chalicelib.outbound", "chalicelib.schedule"],
    "app.import_worker": ["chalicelib.imports"],
}
REQUIREMENTS = [
    line.split("#", 1)[0].strip()
    for line in (ROOT / "requirements.txt").read_text().splitlines()
    if line.split("#", 1)[0].strip()
]


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sizes(scratch: Path, compiler: str | None) -> None:
    bytecode = f"bytecode from {compiler}" if compiler else "no bytecode: no runtime Python here"
    print(f"package size (as deployed: wheels for each asset's architecture, {bytecode}):")
    for name, asset in (("full (5 functions)", FULL), ("public (arm64)", PUBLIC)):
        only = asset.only
        out = scratch / asset.name
        out.mkdir()
        PipBundler(ROOT, asset=asset, compiler=compiler).try_bundle(str(out))
        archive = shutil.make_archive(str(out), "zip", out)
        parts = sorted(
            ((tree_size(p) if p.is_dir() else p.stat().st_size, p.name) for p in out.iterdir()),
            reverse=True,
        )
        largest = ", ".join(f"{n} {s / MB:.1f}" for s, n in parts[:5])
        print(
            f"  {name:18s} {tree_size(out) / MB:6.1f} MB unpacked, "
            f"{Path(archive).stat().st_size / MB:5.1f} MB zipped; largest (MB): {largest}"
        )
        for banned in ("botocore", "boto3", "pip", "setuptools", "wcwidth"):
            assert not (out / banned).exists(), f"{banned} in the {name} asset"
        if only is not None:
            assert not (out / "holidays").exists()


def layout(scratch: Path, only: frozenset[str] | None) -> Path:
    """The asset's distributions from this environment, the app's sources, the runtime's boto3."""
    asset = scratch / ("linked-public" if only else "linked-full")
    names = closure(sorted(only) if only else REQUIREMENTS) - closure(RUNTIME) - {"click"}
    link_distributions(names, asset / "package")
    for name in APP_SOURCES:
        if (ROOT / name).exists():
            (asset / "package" / name).symlink_to(ROOT / name)
    link_distributions(closure(RUNTIME), asset / "runtime")
    return asset


def import_ms(asset: Path, modules: list[str], python: str = sys.executable) -> float:
    """Wall time of importing `modules` in a fresh interpreter holding only the asset (its
    `package` and `runtime` directories), writing no bytecode (/var/task is read-only)."""
    script = (
        "import time\nstart = time.perf_counter()\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print((time.perf_counter() - start) * 1000)"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{asset / 'package'}{os.pathsep}{asset / 'runtime'}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(  # noqa: S603 - a chosen interpreter, a fixed script
        [python, "-S", "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=asset,
    )
    return float(result.stdout.strip())


def cold_imports(scratch: Path) -> None:
    assets = {
        None: layout(scratch, None),
        PUBLIC_DISTRIBUTIONS: layout(scratch, PUBLIC_DISTRIBUTIONS),
    }
    samples: dict[str, list[float]] = {spec.handler: [] for spec in ALL_SPECS}
    samples["import boto3 alone"] = []
    for _ in range(RUNS):
        for spec in ALL_SPECS:
            only = PUBLIC_DISTRIBUTIONS if spec.handler == "app.public" else None
            modules = ["app", *FIRST_CALL[spec.handler]]
            samples[spec.handler].append(import_ms(assets[only], modules))
        samples["import boto3 alone"].append(import_ms(assets[None], ["boto3"]))
    print(f"cold import per function (entry + first call's imports, median of {RUNS}, wall):")
    for handler, values in samples.items():
        memory = next((s.memory_mb for s in ALL_SPECS if s.handler == handler), 512)
        at_memory = statistics.median(values) * max(1.0, 1769 / memory)
        print(
            f"  {handler:20s} {statistics.median(values):7.1f} ms here "
            f"(spread {min(values):.0f}-{max(values):.0f}), ~{at_memory:.0f} ms at {memory} MB"
        )


def runtime_imports(scratch: Path, compiler: str | None) -> None:
    """The public asset as built, under the runtime's Python, with and without its bytecode."""
    if compiler is None:
        print(f"public asset under Python {python_version()}: skipped, no such interpreter here")
        return
    runtime, links = scratch / "runtime", scratch / "runtime-links"
    link_distributions(closure(RUNTIME), links)
    for linked in links.iterdir():
        copy = shutil.copytree if linked.is_dir() else shutil.copy2
        copy(linked.resolve(), runtime / linked.name)  # type: ignore[operator]
    for cache in runtime.rglob("__pycache__"):
        shutil.rmtree(cache)
    compile_bytecode(compiler, runtime)  # Lambda's image carries boto3's bytecode
    built = scratch / PUBLIC.name
    stripped = scratch / "public-without-bytecode"
    shutil.copytree(built, stripped, ignore=shutil.ignore_patterns("__pycache__"))
    assets = {}
    for name, package in (("with", built), ("without", stripped)):
        assets[name] = scratch / f"run-{name}"
        assets[name].mkdir()
        (assets[name] / "package").symlink_to(package)
        (assets[name] / "runtime").symlink_to(runtime)
    samples: dict[str, list[float]] = {"with": [], "without": [], "boto3": []}
    for _ in range(RUNS * 3):
        samples["with"].append(import_ms(assets["with"], ["app"], compiler))
        samples["without"].append(import_ms(assets["without"], ["app"], compiler))
        samples["boto3"].append(import_ms(assets["with"], ["boto3"], compiler))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"public asset under {compiler} (entry `import app`, median of {RUNS * 3}, wall): "
        f"with bytecode {medians['with']:.1f} ms, without {medians['without']:.1f} ms, "
        f"import boto3 {medians['boto3']:.1f} ms"
    )
    for name in ("with", "without"):
        ratios = [a / b for a, b in zip(samples[name], samples["boto3"], strict=True)]
        print(
            f"  app {name} bytecode / boto3 = {statistics.median(ratios):.2f}x "
            f"(spread {min(ratios):.2f}-{max(ratios):.2f})  (target <= 1.3x)"
        )


if __name__ == "__main__":
    found = bytecode_compiler(python_version())
    with tempfile.TemporaryDirectory() as scratch:
        sizes(Path(scratch), found)
        cold_imports(Path(scratch))
        runtime_imports(Path(scratch), found)

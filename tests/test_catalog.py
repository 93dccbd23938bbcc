from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib import catalog, services
from chalicelib.errors import UnknownModel
from chalicelib.sequences import load_sequence, parse_sequence
from chalicelib.store import ModelVersion, Table, Versions

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sequences" / "welcome.yaml"


@pytest.fixture
def versions(table: Table) -> Versions:
    return Versions(services.table())


def test_push_versions_and_dedupes_unchanged_content(versions: Versions) -> None:
    sequence = load_sequence(EXAMPLE)
    assert catalog.push(versions, sequence, "2026-01-01T00:00:00Z") == catalog.Pushed(
        "welcome", 1, created=True
    )
    assert catalog.push(versions, sequence, "2026-01-02T00:00:00Z").created is False
    changed = parse_sequence(
        EXAMPLE.read_text().replace("Welcome series", "Welcome, v2"), base_dir=EXAMPLE.parent
    )
    assert catalog.push(versions, changed, "2026-01-03T00:00:00Z").version == 2
    assert catalog.load(versions, "welcome", 1) == sequence
    assert catalog.load(versions, "welcome").name == "Welcome, v2"
    assert [(h.model_id, h.version) for h in versions.heads()] == [("welcome", 2)]


def test_concurrent_push_loses_the_race_then_retries(versions: Versions) -> None:
    sequence = load_sequence(EXAMPLE)
    catalog.push(versions, sequence, "t1")
    head = versions.head("welcome")
    assert head is not None
    stale = ModelVersion("welcome", 1, "other", "x", "t2", "{}")
    assert versions.add(stale) is False
    assert catalog.load(versions, "welcome", 1) == sequence


def test_unknown_sequence_or_version_is_404(versions: Versions) -> None:
    with pytest.raises(UnknownModel):
        catalog.load(versions, "nope")
    catalog.push(versions, load_sequence(EXAMPLE), "t")
    with pytest.raises(UnknownModel, match="no version 7"):
        catalog.load(versions, "welcome", 7)

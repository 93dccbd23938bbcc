"""Segment files: validation like sequences, and membership as a pure function of a profile."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import FileInvalid
from chalicelib.profiles import Profile
from chalicelib.segments import load_segment, matcher, parse_segment, render_json_schema

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STAGES = ("awareness", "consideration", "decision", "customer")
TOPICS = ("product", "newsletter", "offers")


def member(match: Any, item: dict[str, Any], segment_id: str = "s") -> bool:
    text = json.dumps({"id": segment_id, "name": "S", "match": match})  # JSON is YAML
    segment = parse_segment(text, stages=STAGES, topics=TOPICS)
    profile = Profile.from_item(str(item.get("contact_id", "c")), item)
    return matcher(segment, NOW, topics=TOPICS, stages=STAGES)(profile)


def ago(**delta: float) -> str:
    from datetime import timedelta

    return (NOW - timedelta(**delta)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


CONTACT: dict[str, Any] = {
    "contact_id": "c-1",
    "email": "ann@shop.example",
    "country": "DE",
    "created_at": ago(days=40),
    "consent_at": ago(days=40),
    "attributes": {"plan": "pro", "seats": Decimal(12), "mrr": "49.90", "trial_end": "2026-03-05"},
    "tags": {"vip", "beta"},
    "interests": {"pricing", "api"},
    "interest_at": {"pricing": ago(days=3)},
    "topics": ["product", "offers"],
    "stage": "decision",
    "last_opened_at": ago(days=2),
    "last_clicked_at": ago(days=20),
    "last_engaged_at": ago(days=2),
    "events": {
        "order_placed": {
            "n": Decimal(14),
            "first": ago(days=300),
            "last": ago(days=5),
            "recent": [
                {"at": ago(days=5), "id": "o3", "p": {"plan": "pro", "total": Decimal("120.5")}},
                {"at": ago(days=45), "id": "o2", "p": {"plan": "basic", "total": Decimal(20)}},
                {"at": ago(days=100), "id": "o1", "p": {"plan": "pro", "total": Decimal(99)}},
            ],
        }
    },
}


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({"field": {"name": "country", "equals": "DE"}}, True),
        ({"field": {"name": "country", "in": ["AT", "CH"]}}, False),
        ({"field": {"name": "email", "ends_with": "@shop.example"}}, True),
        ({"field": {"name": "company", "exists": False}}, True),
        ({"field": {"name": "created_at", "within": "30d"}}, False),
        ({"field": {"name": "created_at", "not_within": "30d"}}, True),
        ({"attribute": {"name": "plan", "equals": "pro"}}, True),
        ({"attribute": {"name": "seats", "gte": 10, "lt": 20}}, True),
        ({"attribute": {"name": "mrr", "gt": 49.8}}, True),  # numeric text from a CSV
        ({"attribute": {"name": "mrr", "equals": 49.9}}, True),
        ({"attribute": {"name": "trial_end", "gte": "2026-03-01"}}, True),
        ({"attribute": {"name": "missing", "exists": True}}, False),
        ({"tag": "vip"}, True),
        ({"tag": "VIP"}, False),
        ({"interest": "api"}, True),
        ({"interest": {"name": "pricing", "within": "7d"}}, True),
        ({"interest": {"name": "api", "within": "7d"}}, False),  # imported: no click time
        ({"topic": "offers"}, True),
        ({"topic": "newsletter"}, False),  # opted out: chose topics without it
        ({"stage": "decision"}, True),
        ({"stage": {"in": ["customer", "awareness"]}}, False),
        ({"stage": {"at_least": "consideration"}}, True),
        ({"stage": {"before": "customer"}}, True),
        ({"consent": True}, True),
        ({"opened": {"within": "7d"}}, True),
        ({"clicked": {"within": "7d"}}, False),
        ({"clicked": {"not_within": "7d"}}, True),
        ({"converted": {"not_within": "365d"}}, True),  # never converted
        ({"engaged": {"within": "3d"}}, True),
        ({"event": "order_placed"}, True),
        ({"event": "signed_up"}, False),
        ({"event": {"name": "order_placed", "count": {"min": 14}}}, True),
        ({"event": {"name": "order_placed", "count": {"max": 13}}}, False),
        ({"event": {"name": "order_placed", "within": "60d", "count": {"min": 2}}}, True),
        ({"event": {"name": "order_placed", "within": "30d", "count": {"min": 2}}}, False),
        ({"event": {"name": "order_placed", "where": {"plan": "pro"}, "count": {"min": 2}}}, True),
        ({"event": {"name": "order_placed", "where": {"total": {"gt": 100}}}}, True),
        ({"event": {"name": "order_placed", "where": {"plan": ["gold", "basic"]}}}, True),
        ({"event": {"name": "order_placed", "within": "7d", "where": {"plan": "basic"}}}, False),
        ({"all": [{"tag": "vip"}, {"field": {"name": "country", "equals": "DE"}}]}, True),
        ({"all": [{"tag": "vip"}, {"tag": "nope"}]}, False),
        ({"any": [{"tag": "nope"}, {"interest": "api"}]}, True),
        ({"not": {"tag": "vip"}}, False),
        ({"bucket": {"percent": 100}}, True),
    ],
)
def test_each_test_of_a_contact(match: Any, expected: bool) -> None:
    assert member(match, CONTACT) is expected


def test_a_contact_who_never_chose_topics_receives_all_configured_ones() -> None:
    assert member({"topic": "newsletter"}, {**CONTACT, "topics": None}) is True


def test_an_empty_profile_is_in_no_positive_test_and_every_negative_one() -> None:
    for match in ({"tag": "vip"}, {"event": "x"}, {"opened": {"within": "9d"}}, {"consent": True}):
        assert member(match, {}) is False
    for match in ({"clicked": {"not_within": "9d"}}, {"stage": {"before": "decision"}}):
        assert member(match, {}) is True


def test_buckets_are_deterministic_disjoint_and_about_their_size() -> None:
    profiles = [{"contact_id": f"c-{n}"} for n in range(4000)]
    first = [member({"bucket": {"percent": 20}}, p, "test-a") for p in profiles]
    second = [member({"bucket": {"percent": 80, "offset": 20}}, p, "test-a") for p in profiles]
    assert first == [member({"bucket": {"percent": 20}}, p, "test-a") for p in profiles]
    assert all(a != b for a, b in zip(first, second, strict=True))
    assert 700 < sum(first) < 900
    seeded = [member({"bucket": {"percent": 20, "seed": "other"}}, p, "test-a") for p in profiles]
    assert seeded != first


PROFILES = st.fixed_dictionaries(
    {"contact_id": st.text(max_size=8)},
    optional={
        "tags": st.sets(st.sampled_from(["vip", "beta", "x"])),
        "country": st.sampled_from(["DE", "FR"]),
        "last_opened_at": st.sampled_from([ago(days=1), ago(days=50)]),
        "attributes": st.fixed_dictionaries(
            {}, optional={"seats": st.integers(-5, 50).map(Decimal), "plan": st.just("pro")}
        ),
    },
)
CONDITIONS = st.sampled_from(
    [
        {"tag": "vip"},
        {"field": {"name": "country", "equals": "DE"}},
        {"opened": {"within": "30d"}},
        {"attribute": {"name": "seats", "gt": 10}},
        {"attribute": {"name": "plan", "exists": True}},
        {"any": [{"tag": "beta"}, {"tag": "x"}]},
    ]
)


@given(PROFILES, CONDITIONS, CONDITIONS)
def test_not_all_any_are_boolean_algebra(profile: dict[str, Any], a: Any, b: Any) -> None:
    x, y = member(a, profile), member(b, profile)
    assert member({"not": a}, profile) is (not x)
    assert member({"all": [a, b]}, profile) is (x and y)
    assert member({"any": [a, b]}, profile) is (x or y)


# --- files ----------------------------------------------------------------------------------------


def test_every_problem_at_once_with_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """\
id: Bad Id
name: Bad
match:
  all:
    - tag: vip
      interest: pricing
    - opened: {within: soon}
    - event: {name: order_placed, within: 30d, count: {min: 50}}
    - field: {name: shoe_size, equals: 44}
    - attribute: {name: plan, equalz: pro}
    - stage: {at_least: champion}
    - topic: gossip
    - bucket: {percent: 60, offset: 50}
    - attribute: {name: seats, gt: 1.0e200}
""",
        encoding="utf-8",
    )
    with pytest.raises(FileInvalid) as caught:
        load_segment(path, stages=STAGES, topics=TOPICS)
    text = str(caught.value)
    for expected in (
        f"{path}: id: must be 1-64 lowercase letters",
        "match.all[0]: give exactly one of all, any, not, field,",
        "match.all[1].opened.within: invalid duration 'soon'",
        "match.all[2].event: with within or where, counts up to 10 are exact",
        "match.all[3].field.name:",
        "match.all[4].attribute.equalz: unknown key; did you mean 'equals'?",
        "match.all[7].bucket: offset + percent must be at most 100",
        "match.all[5].stage: unknown stage 'champion'",
        "match.all[6].topic: unknown topic 'gossip' (topics: product, newsletter, offers)",
        "match.all[8].attribute.gt: must be a finite number within",
        "(line 5)",
    ):
        assert expected in text, (expected, text)


def test_names_are_checked_against_the_stages_and_topics(tmp_path: Path) -> None:
    text = "id: s\nname: S\nmatch:\n  any:\n    - stage: champion\n    - topic: gossip\n"
    with pytest.raises(FileInvalid) as caught:
        parse_segment(text, file="s.yaml", stages=STAGES, topics=TOPICS)
    assert str(caught.value).splitlines() == [
        "s.yaml: match.any[0].stage: unknown stage 'champion' (stages: awareness, "
        "consideration, decision, customer) (line 5)",
        "s.yaml: match.any[1].topic: unknown topic 'gossip' (topics: product, newsletter, "
        "offers) (line 6)",
    ]
    assert parse_segment(text).id == "s"  # without them (validate offline), names pass


def test_nesting_and_size_are_bounded() -> None:
    deep: Any = {"tag": "x"}
    for _ in range(12):
        deep = {"not": deep}
    with pytest.raises(FileInvalid, match="nest deeper than 8 levels"):
        parse_segment(yaml.safe_dump({"id": "s", "name": "S", "match": deep}))
    wide = {"any": [{"tag": f"t{n}"} for n in range(101)]}
    with pytest.raises(FileInvalid, match="101 tests; the limit is 100"):
        parse_segment(yaml.safe_dump({"id": "s", "name": "S", "match": wide}))


def test_stored_json_round_trips_and_hashes_stably() -> None:
    segment = load_segment(ROOT / "examples" / "segments" / "engaged-buyers.yaml")
    again = type(segment).from_json(segment.to_json())
    assert again == segment and again.content_hash() == segment.content_hash()


def test_committed_schema_matches_the_model() -> None:
    committed = (ROOT / "schemas" / "segment.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(), "run: python -m chalicelib.segments > schemas/..."


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples" / "segments").glob("*.yaml")), ids=lambda p: p.stem
)
def test_examples_load_and_pass_the_published_schema(path: Path) -> None:
    segment = load_segment(path, topics=(*TOPICS, "events"))
    assert segment.id == path.stem
    schema = json.loads(render_json_schema())
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    broken = yaml.safe_load(path.read_text(encoding="utf-8"))
    broken["match"] = {"tag": "a", "interest": "b"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)

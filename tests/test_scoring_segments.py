"""Segments over the lead score: temperature and grade as written, engagement decayed to the
moment of evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.errors import FileInvalid
from chalicelib.profiles import Profile
from chalicelib.scoring.ledger import Ledger
from chalicelib.scoring.state import ScoreState
from chalicelib.segments import matcher, parse_segment

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HALF = 86_400


def scored(engagement: int, temperature: str, grade: str | None, fit: int | None) -> Profile:
    ledger, _ = Ledger(HALF, 0).add("clicked", int(NOW.timestamp()), engagement, None)
    state = ScoreState(3, fit, grade, None, ledger, temperature, "t")
    return Profile("ann", score=state)


def member(match: Any, profile: Profile, now: datetime = NOW) -> bool:
    segment = parse_segment(f"id: s\nname: S\nmatch: {match}\n")
    return matcher(segment, now, topics=()).__call__(profile)


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("{temperature: hot}", True),
        ("{temperature: {in: [warm, cold]}}", False),
        ("{grade: B}", True),
        ("{grade: {in: [A]}}", False),
        ("{score: {engagement: {gte: 40}}}", True),
        ("{score: {engagement: {gt: 40}}}", False),
        ("{score: {fit: {gte: 20, lt: 30}}}", True),
        ("{score: {engagement: {gte: 10}, fit: {gt: 25}}}", False),
    ],
)
def test_each_score_test(match: str, expected: bool) -> None:
    assert member(match, scored(40, "hot", "B", 25)) is expected


def test_engagement_is_decayed_to_the_moment_of_evaluation() -> None:
    profile = scored(40, "hot", None, None)
    assert member("{score: {engagement: {gte: 20}}}", profile, NOW + timedelta(hours=23))
    assert not member("{score: {engagement: {gte: 20}}}", profile, NOW + timedelta(hours=25))


def test_an_unscored_contact_matches_no_score_test_and_every_negation() -> None:
    bare = Profile("bob")
    for match in ("{temperature: cold}", "{grade: D}", "{score: {engagement: {lte: 0}}}"):
        assert not member(match, bare)
        assert member(f"{{not: {match}}}", bare)


def test_bad_score_tests_name_their_path() -> None:
    with pytest.raises(FileInvalid) as caught:
        parse_segment(
            "id: s\nname: S\nmatch:\n  all:\n    - temperature: tepid\n    - grade: {in: [E]}\n"
            "    - score: {engagement: {}}\n    - score: {}\n"
        )
    text = str(caught.value)
    for expected in (
        "match.all[0].temperature",
        "match.all[1].grade.in[0]",
        "match.all[2].score.engagement: give at least one of gt, gte, lt, lte",
        "match.all[3].score: give engagement, fit or both",
    ):
        assert expected in text, (expected, text)


def test_templates_see_temperature_grade_and_the_decayed_score() -> None:
    from chalicelib import services
    from chalicelib.compose import Composer
    from chalicelib.config import settings
    from chalicelib.send import SendJob
    from chalicelib.sequences import parse_sequence

    offer = parse_sequence("""
id: offer
name: Offer
default_timezone: UTC
default_locale: en
steps:
  - id: one
    template:
      en:
        subject: "{% if contact.temperature == 'hot' %}Your offer{% else %}News{% endif %}"
        html: "<p>{{ contact.grade }} {{ contact.score.engagement if contact.score else '-' }}</p>"
""")
    later = (NOW + timedelta(days=1)).timestamp()
    composer = Composer(lambda *_: offer, services.keyring, settings(), lambda: later)
    profile = scored(40, "hot", "B", 25)
    message = composer(SendJob("ann", "offer", 1, "one", 1), profile, "s1")
    assert message.subject == "Your offer" and "<p>B 20.00</p>" in message.html
    bare = composer(SendJob("bob", "offer", 1, "one", 1), Profile("bob", email="b@x.io"), "s2")
    assert bare.subject == "News" and "<p>None -</p>" in bare.html

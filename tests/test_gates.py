"""Topics and consent honoured at send time, a step gated on a segment, a branch on one; the
preferences page's promise ("We will only send you what you chose") kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from chalice.test import Client

from chalicelib import store
from chalicelib.funnel import Funnel
from tests.contactworld import ANYTIME, ContactWorld
from tests.test_journey import T0, Clock

NEWS = f"""
id: news
name: Newsletter
default_timezone: UTC
default_locale: en
send_window: {ANYTIME}
topic: newsletter
steps:
  - id: issue_1
    template:
      en: {{subject: "Issue 1", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
  - id: deal
    delay: 1d
    topic: offers
    template:
      en: {{subject: "A deal", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
  - id: vip_only
    delay: 1d
    only_if: {{segment: vips}}
    template:
      en: {{subject: "For VIPs", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
    branches:
      segment: {{in: vips, goto: vip_thanks}}
  - id: issue_2
    delay: 1d
    template:
      en: {{subject: "Issue 2", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
    next: exit
  - id: vip_thanks
    delay: 1d
    template:
      en: {{subject: "Thanks, VIP", html: '<p><a href="{{{{ unsubscribe_url }}}}">u</a></p>'}}
"""


@pytest.fixture
def world(table: store.Table) -> Iterator[ContactWorld]:
    world = ContactWorld(table, Clock())
    world.push_segment("id: vips\nname: VIPs\nmatch: {tag: vip}\n")
    world.push(NEWS)
    world.push(
        NEWS.replace("id: news", "id: strict").replace("topic: newsletter", "consent: required")
    )
    for name in ("ann", "vic", "oli", "nat"):
        table.put_profile(name, {"email": f"{name}@example.com"})
    vip = store.ProfileChange(sets={"tags": frozenset({"vip"})})
    table.apply(store.profile_update_write("vic", vip, "t", has_attributes=False))
    yield world


def subjects(world: ContactWorld, name: str) -> list[str]:
    return world.subjects(f"{name}@example.com")


def choose(world: ContactWorld, name: str, topics: list[str]) -> None:
    world.table.apply(store.preferences_write(name, topics, None, "2025-11-01T00:00:00.000Z"))


def skips(world: ContactWorld, name: str) -> list[tuple[str, str]]:
    return [(e["step_id"], e["reason"]) for e in world.timeline(name, "skipped")]


def test_each_contact_gets_what_they_chose_and_their_segments_allow(world: ContactWorld) -> None:
    choose(world, "oli", ["newsletter"])  # no offers
    for name in ("ann", "vic", "oli"):
        world.journey.enroll(name, "news")
    world.run_until(T0 + timedelta(days=6))
    assert subjects(world, "ann") == ["Issue 1", "A deal", "Issue 2"]
    assert subjects(world, "vic") == ["Issue 1", "A deal", "For VIPs", "Thanks, VIP"]
    assert subjects(world, "oli") == ["Issue 1", "Issue 2"]
    assert skips(world, "ann") == [("vip_only", "not_in_segment")]
    assert skips(world, "oli") == [("deal", "topic_opted_out"), ("vip_only", "not_in_segment")]


def test_opting_out_of_the_sequences_topic_ends_it_with_the_reason(world: ContactWorld) -> None:
    world.journey.enroll("ann", "news")
    world.run_until(T0 + timedelta(hours=2))
    choose(world, "ann", ["offers"])  # the page, later: no more newsletter
    world.run_until(T0 + timedelta(days=6))
    assert subjects(world, "ann") == ["Issue 1", "A deal"]  # the deal's own topic: offers
    assert skips(world, "ann") == [("vip_only", "topic_opted_out")]  # ends the sequence
    enrollment = world.journey.enrollments.get("ann", "news")
    assert enrollment is not None and enrollment.status == "exited"


def test_consent_required_skips_contacts_without_it(world: ContactWorld) -> None:
    world.table.put_profile(
        "nat", {"email": "nat@example.com", "consent_at": "2025-01-01T00:00:00Z"}
    )
    for name in ("ann", "nat"):
        world.journey.enroll(name, "strict")
    world.run_until(T0 + timedelta(days=6))
    assert subjects(world, "ann") == []
    assert skips(world, "ann") == [("issue_1", "no_consent")]
    assert subjects(world, "nat")[:1] == ["Issue 1"]
    report = Funnel(world.table).report(world.journey.sequence("strict", 1))
    assert report[0].counts["skipped"] == 1


def test_the_preferences_page_promise_is_kept(world: ContactWorld, client: Client) -> None:
    """Unticking a topic on the page stops exactly that topic's mail: 'We will only send you
    what you chose'."""
    world.journey.enroll("ann", "news")
    world.run_until(T0 + timedelta(hours=2))
    token = world.token("ann@example.com", "u")
    page = client.http.get(f"/u/{token}")
    assert b"We will only send you" not in page.body and b'value="offers" checked' in page.body
    saved = client.http.post(
        f"/u/{token}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=b"action=update&topics=newsletter&pause_days=0",
    )
    assert b"We will only send you what you chose." in saved.body
    world.run_until(T0 + timedelta(days=6))
    assert subjects(world, "ann") == ["Issue 1", "Issue 2"]  # no offers, newsletter goes on
    assert ("deal", "topic_opted_out") in skips(world, "ann")


def test_preview_shows_the_skips_a_contact_would_meet(world: ContactWorld) -> None:
    choose(world, "oli", ["newsletter"])
    rows = world.journey.preview("oli", "news")
    assert [(r.step_id, r.skipped) for r in rows] == [
        ("issue_1", None),
        ("deal", "topic_opted_out"),
        ("vip_only", "not_in_segment"),
        ("issue_2", None),
    ]
    assert json.loads(json.dumps([r.skipped for r in world.journey.preview("vic", "news")])) == [
        None,
        None,
        None,
        None,
    ]

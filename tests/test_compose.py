from __future__ import annotations

from collections import Counter
from dataclasses import replace

from chalicelib import services
from chalicelib.compose import Composer, choose
from chalicelib.config import settings
from chalicelib.profiles import Profile
from chalicelib.send import SendJob
from chalicelib.sequences import Sequence, parse_sequence
from chalicelib.tokens import Purpose, verify

SEQUENCE = parse_sequence("""
id: ab
name: AB
default_timezone: UTC
default_locale: en
uneven_locales: true
steps:
  - id: one
    variants:
      - id: a
        weight: 3
        template:
          en: {subject: "A {{ contact.first_name | default('you') }}", html: "<p>A</p>"}
          pt: {subject: "A pt", html: "<p>A</p>"}
      - id: b
        weight: 1
        template:
          en: {subject: "B", html: "<p>B</p>"}
""")


def test_locale_falls_back_from_region_to_language_to_default() -> None:
    step = SEQUENCE.steps[0]
    seed = next(f"c{n}" for n in range(100) if choose(step, "en", "en", f"c{n}")[1] == "a")
    assert choose(step, "pt-BR", "en", seed)[0].subject == "A pt"
    assert choose(step, "pt", "en", seed)[0].subject == "A pt"
    assert choose(step, "fr", "en", seed)[0].subject.startswith("A {{")


def test_variants_split_by_weight_and_stay_put_for_a_contact() -> None:
    step = SEQUENCE.steps[0]
    picks = Counter(choose(step, "en", "en", f"c{n}")[1] for n in range(4000))
    assert 0.70 < picks["a"] / 4000 < 0.80
    assert {choose(step, "en", "en", "same")[1] for _ in range(5)} == {
        choose(step, "en", "en", "same")[1]
    }


def test_message_has_one_click_unsubscribe_headers_and_only_public_fields() -> None:
    def sequence(sequence_id: str, version: int) -> Sequence:
        return SEQUENCE

    config = replace(settings(), unsubscribe_mailto="unsubscribe@nurture.example")
    composer = Composer(sequence, services.keyring, config, lambda: 1_800_000_000.0)
    item = {
        "email": "x@example.com",
        "first_name": "<b>X</b>",
        "email_hash": "secret",
        "attributes": {"plan": "pro"},
    }
    profile = Profile.from_item("c1", item)
    message = composer(SendJob("c1", "ab", 1, "one", 1), profile, "send-9")
    unsubscribe = message.headers["List-Unsubscribe"]
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.endswith(", <mailto:unsubscribe@nurture.example>")
    token = unsubscribe[1:].split(">")[0].rsplit("/u/", 1)[1]
    claims = verify(token, Purpose.UNSUBSCRIBE, services.keyring())
    assert (claims.contact_id, claims.send_id) == ("c1", "send-9")
    assert "email_hash" not in profile.template_fields()
    assert profile.template_fields()["plan"] == "pro"


def test_templates_see_tags_interests_and_stage() -> None:
    personal = parse_sequence("""
id: personal
name: P
default_timezone: UTC
default_locale: en
steps:
  - id: one
    template:
      en:
        subject: "{% if 'pricing' in contact.interests %}Our prices{% else %}Hello{% endif %}"
        html: "<p>{{ contact.stage or 'new' }} {{ contact.tags | join(',') }}</p>"
""")
    composer = Composer(lambda *_: personal, services.keyring, settings(), lambda: 1.8e9)
    item = {"email": "x@example.com", "tags": {"b", "a"}, "interests": {"pricing"}}
    message = composer(SendJob("c1", "personal", 1, "one", 1), Profile.from_item("c1", item), "s")
    assert message.subject == "Our prices" and "<p>new a,b</p>" in message.html
    staged = Profile.from_item("c2", {"email": "y@example.com", "stage": "customer"})
    message = composer(SendJob("c2", "personal", 1, "one", 1), staged, "s2")
    assert message.subject == "Hello" and "<p>customer </p>" in message.html

"""The shipped playbooks' messages as recipients get them: subjects without a first name, text
parts without hidden clutter and with every link tracked, and (in Chromium) a call to action
as wide as a phone and text that meets WCAG contrast."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.compose import choose
from chalicelib.render import TemplateSet, prepare
from chalicelib.sequences import Sequence, TemplateSpec, load_sequence
from chalicelib.tokens import Keyring, Purpose, verify

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sequences"
RING = Keyring(active="k1", keys={"k1": b"shipped-mail-key-0123456789"})
BASE = "https://t.example.test"
CLICK = re.compile(rf"{re.escape(BASE)}/c/[\w-]+\.[\w-]+")
COMMENT = re.compile(r"<!--.*?-->", re.S)


def messages() -> Iterator[tuple[str, Sequence, TemplateSpec]]:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        sequence = load_sequence(path)
        for step in sequence.steps:
            owners = [("", step.template)] if step.template else []
            owners += [(f"/{v.id}", v.template) for v in step.variants or ()]
            for variant, templates in owners:
                for locale, spec in (templates or {}).items():
                    yield f"{sequence.id}.{step.id}{variant}.{locale}", sequence, spec


MESSAGES = list(messages())
IDS = [where for where, _, _ in MESSAGES]


def prepared(spec: TemplateSpec, contact: dict[str, Any]) -> Any:
    return prepare(
        TemplateSet(spec.subject, spec.html or "", spec.text),
        contact,
        contact_id="c-1",
        send_id="s-1",
        issued_at=1_800_000_000,
        keyring=RING,
        base_url=BASE,
    )


def link_index(url: str) -> int:
    claims = verify(html.unescape(url).removeprefix(f"{BASE}/c/"), Purpose.CLICK, RING)
    assert claims.link is not None
    return claims.link


def test_every_locale_of_a_sequence_is_offered_by_every_step() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        sequence = load_sequence(path)
        sets = [set(s.template) for s in sequence.steps if s.template]
        sets += [set(v.template) for s in sequence.steps for v in s.variants or ()]
        assert all(locales == sets[0] for locales in sets), path.stem
    welcome = load_sequence(EXAMPLES / "welcome.yaml")
    for step in welcome.steps:
        for seed in ("c-1", "c-2", "c-3", "c-4"):
            spec, _ = choose(step, "de-AT", "en", seed)
            assert 'lang="de"' in (spec.html or ""), step.id


@pytest.mark.parametrize(("where", "sequence", "spec"), MESSAGES, ids=IDS)
def test_subjects_read_well_without_a_first_name(
    where: str, sequence: Sequence, spec: TemplateSpec
) -> None:
    named = prepared(spec, {"email": "ada@example.com", "first_name": "Ada"}).subject
    nameless = prepared(spec, {"email": "ada@example.com"}).subject
    assert nameless == named.replace(", Ada", "").replace("Ada, ", ""), where
    assert not nameless[:1].islower() and "  " not in nameless, nameless


@pytest.mark.parametrize(("where", "sequence", "spec"), MESSAGES, ids=IDS)
def test_text_parts_are_tracked_and_free_of_hidden_clutter(
    where: str, sequence: Sequence, spec: TemplateSpec
) -> None:
    message = prepared(spec, {"email": "ada@example.com"})
    text = message.text
    assert "\u2007" not in text and "\u034f" not in text  # the preheader's padding
    assert not text.startswith("NURTURE")  # the wordmark
    raw = re.findall(r"https?://\S+", CLICK.sub("", text))
    assert [u for u in raw if "/legal/privacy" not in u and f"{BASE}/u/" not in u] == []
    html_links = [(m.start(), link_index(m[0])) for m in CLICK.finditer(message.html)]
    comments = [m.span() for m in COMMENT.finditer(message.html)]
    outlook_only = {i for at, i in html_links if any(s <= at < e for s, e in comments)}
    text_links = [link_index(u) for u in CLICK.findall(text)]
    assert text_links and not outlook_only & set(text_links), where


MEASURE = """() => {
  const button = document.querySelector('a.button');
  const cell = button.closest('td.px');
  const style = getComputedStyle(cell);
  const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [button.getBoundingClientRect().width, inner, document.documentElement.scrollWidth];
}"""

CONTRAST = """() => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = (c) => c.slice(0, 3).map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!node.textContent.trim() || !box.width || style.visibility === 'hidden') continue;
    const [a, b] = [lum(rgb(style.color)), lum(background(el))];
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight) >= 700);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    found.push([node.textContent.trim().slice(0, 30), ratio, large ? 3 : 4.5]);
  }
  return found;
}"""


@pytest.mark.parametrize(("where", "sequence", "spec"), MESSAGES, ids=IDS)
def test_in_chromium_the_call_to_action_fills_a_phone_and_text_is_legible(
    browser: Any, where: str, sequence: Sequence, spec: TemplateSpec
) -> None:
    message = prepared(spec, {"email": "ada@example.com", "first_name": "Ada"})
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.route("**/*", lambda route: route.abort())  # the pixel and images stay offline
    try:
        page.set_content(message.html)
        button, cell, page_width = page.evaluate(MEASURE)
        assert button >= cell - 1 and page_width <= 375, (where, button, cell, page_width)
        low = [(t, round(r, 2)) for t, r, least in page.evaluate(CONTRAST) if r < least]
        assert low == [], where
        page.set_viewport_size({"width": 1024, "height": 800})
        button, cell, _ = page.evaluate(MEASURE)
        assert 200 <= button < cell, where  # a button, not a bar, where there is room
    finally:
        page.close()

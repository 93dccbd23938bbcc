"""Turn a marketer's template set into a ready-to-send message for one contact.

Templates are validated at upload (`validate_template`: static AST checks, a trial render
against a sample contact, link checks) and compiled once per source text (`prepare` renders
the same template for a whole batch). Per message: render, rewrite links, add the pixel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import Template

from chalicelib import htmlsource
from chalicelib.errors import BadTemplate, InvalidInput
from chalicelib.linkrewrite import (
    UnsafeLink,
    insert_pixel,
    rewrite_links,
    track_text,
    track_written_text,
)
from chalicelib.links import tracked_url
from chalicelib.profiles import TEMPLATE_FIELDS
from chalicelib.sandbox import Part, compile_part, render_part
from chalicelib.tokens import Claims, Keyring, Purpose, sign

__all__ = [
    "BadTemplate",
    "Prepared",
    "TemplateSet",
    "list_unsubscribe_headers",
    "prepare",
    "validate_template",
]

SAMPLE_CONTACT: Mapping[str, Any] = MappingProxyType(
    {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "email": "ada@example.com",
        "locale": "en",
        "tags": ["vip"],
        "interests": ["pricing"],
        "stage": "customer",
    }
)
"""What a trial render at upload sees: custom attributes need `| default(...)`; every contact
has `tags` and `interests` (lists, maybe empty) and `stage` (None before the first)."""
_BARE_CONTACT: Mapping[str, Any] = MappingProxyType(
    {"email": "ada@example.com", "tags": [], "interests": [], "stage": None}
)
"""A contact with nothing but its address (and empty lists): any other field may be missing."""
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class _SampleEvent(dict[str, Any]):
    """What a trial render at upload sees as `event`: any property, as a sample link (the
    real properties come with the triggering event; use `| default(...)` for optional ones)."""

    def __missing__(self, name: str) -> str:
        return "https://example.com/sample"


_SAMPLE_EVENT: Mapping[str, Any] = _SampleEvent()
_SAMPLE_URL = "https://example.invalid/u/sample"
_SAMPLE_CONVERSION = "c2FtcGxl.c2FtcGxl"
_FORBIDDEN_IN_HEADER = frozenset("\r\n\x00<>,")


@dataclass(frozen=True)
class TemplateSet:
    """One step's templates; without `text`, the text part is derived from `html`."""

    subject: str
    html: str
    text: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A message ready for SES: `links[i]` is the destination signed into link index i and
    `link_tags[i]` the interests a human click on it shows (`data-nurture-tag`)."""

    subject: str
    html: str
    text: str
    headers: Mapping[str, str]
    links: tuple[str, ...]
    link_tags: tuple[tuple[str, ...], ...] = ()


def validate_template(
    source: str,
    kind: Part,
    *,
    sequence: Mapping[str, Any] = _EMPTY,
    step: Mapping[str, Any] = _EMPTY,
    marketing: bool = False,
) -> None:
    """Reject at upload what would fail or be unsafe at send time; raise `BadTemplate`.

    A `marketing` message must let the reader unsubscribe: its HTML shows a link to
    `unsubscribe_url` (or `preferences_url`) and a hand-written text part holds the URL.
    """
    try:
        _validate(source, kind, sequence, step, marketing)
    except BadTemplate as exc:
        hint = _hint(exc.problem)
        if not hint:
            raise
        raise BadTemplate(exc.part, exc.line, f"{exc.problem} ({hint})") from exc


def _validate(
    source: str,
    kind: Part,
    sequence: Mapping[str, Any],
    step: Mapping[str, Any],
    marketing: bool,
) -> None:
    context = _context(
        SAMPLE_CONTACT, _SAMPLE_URL, sequence, step, _SAMPLE_CONVERSION, _SAMPLE_EVENT
    )
    rendered = render_part(_compiled(source, kind), kind, context)
    bare = _context(_BARE_CONTACT, _SAMPLE_URL, sequence, step, _SAMPLE_CONVERSION, _SAMPLE_EVENT)
    try:
        render_part(_compiled(source, kind), kind, bare)
    except BadTemplate as exc:
        missing = _MISSING_FIELD.search(exc.problem)
        if missing is None:
            raise
        raise BadTemplate(
            exc.part,
            exc.line,
            f"fails for a contact without {missing[1]}: write "
            f'contact.{missing[1]} | default("...")',
        ) from exc
    if kind == "subject":
        _check_subject(rendered)
    elif kind == "html":
        try:
            rewrite_links(rendered, lambda _, destination: destination, {_SAMPLE_URL})
        except UnsafeLink as exc:
            raise BadTemplate("html", _line(source, exc.href), str(exc)) from exc
        try:
            render_part(_derived_text(source), "text", context)
        except BadTemplate as exc:
            raise BadTemplate("html", None, f"the text part derived from it: {exc}") from exc
        shown = {href for href, label in htmlsource.visible_links(rendered) if label}
        if marketing and _SAMPLE_URL not in shown:
            raise BadTemplate("html", None, _NO_UNSUBSCRIBE_LINK)
    elif marketing and _SAMPLE_URL not in rendered:
        raise BadTemplate("text", None, _NO_UNSUBSCRIBE_URL)


_NO_UNSUBSCRIBE_LINK = (
    "a marketing email needs a visible unsubscribe link, such as "
    '<a href="{{ unsubscribe_url }}">Unsubscribe or change preferences</a> '
    "(receipts and account mail: mark the sequence transactional: true)"
)
_NO_UNSUBSCRIBE_URL = (
    "a marketing email's text part needs the unsubscribe URL, such as "
    "'Unsubscribe: {{ unsubscribe_url }}' (receipts and account mail: mark the sequence "
    "transactional: true)"
)
_UNDEFINED = re.compile(r"'(\w+)' is undefined")
_MISSING_FIELD = re.compile(r"has no attribute '(\w+)'")


def _hint(problem: str) -> str:
    """What the marketer probably meant by a name templates do not know."""
    found = _UNDEFINED.search(problem)
    if found and found[1] in TEMPLATE_FIELDS:
        return f"contact fields are under contact: write contact.{found[1]}"
    return ""


def prepare(
    templates: TemplateSet,
    contact: Mapping[str, Any],
    *,
    contact_id: str,
    send_id: str,
    issued_at: int,
    keyring: Keyring,
    base_url: str,
    unsubscribe_mailto: str | None = None,
    sequence: Mapping[str, Any] = _EMPTY,
    step: Mapping[str, Any] = _EMPTY,
    event: Mapping[str, Any] = _EMPTY,
) -> Prepared:
    """Render, track and sign one message; a failing template raises `BadTemplate` alone.
    `event` holds the properties of the event that started the enrollment (a cart link)."""

    def url(purpose: Purpose, link: int | None = None, destination: str | None = None) -> str:
        claims = Claims(purpose, contact_id, send_id, issued_at, link, destination)
        return tracked_url(base_url, purpose, sign(claims, keyring))

    unsubscribe = url(Purpose.UNSUBSCRIBE)
    conversion = sign(Claims(Purpose.CONVERSION, contact_id, send_id, issued_at), keyring)
    context = _context(contact, unsubscribe, sequence, step, conversion, event)
    subject = _check_subject(
        render_part(_compiled(templates.subject, "subject"), "subject", context)
    )
    try:
        rewritten = rewrite_links(
            render_part(_compiled(templates.html, "html"), "html", context),
            lambda index, destination: url(Purpose.CLICK, index, destination),
            {unsubscribe},
        )
    except UnsafeLink as exc:
        raise BadTemplate("html", None, str(exc)) from exc
    if templates.text is None:
        derived = render_part(_derived_text(templates.html), "text", context)
        text, links = track_text(htmlsource.tidy_text(derived), rewritten), rewritten.links
    else:
        written = render_part(_compiled(templates.text, "text"), "text", context)
        text, extra = track_written_text(
            written,
            rewritten,
            lambda index, destination: url(Purpose.CLICK, index, destination),
            {unsubscribe},
        )
        links = rewritten.links + extra
    return Prepared(
        subject=subject,
        html=insert_pixel(rewritten.html, url(Purpose.OPEN)),
        text=text,
        headers=list_unsubscribe_headers(unsubscribe, unsubscribe_mailto),
        links=links,
        link_tags=rewritten.tags + ((),) * (len(links) - len(rewritten.links)),
    )


def list_unsubscribe_headers(unsubscribe_url: str, mailto: str | None) -> dict[str, str]:
    """RFC 2369 `List-Unsubscribe` with RFC 8058 one-click; `mailto` is an address or URI."""
    targets = [unsubscribe_url]
    if mailto:
        targets.append(mailto if mailto.lower().startswith("mailto:") else f"mailto:{mailto}")
    for target in targets:
        if _FORBIDDEN_IN_HEADER.intersection(target):
            raise InvalidInput("List-Unsubscribe", f"{target!r} holds CR, LF, NUL, '<', '>' or ','")
    return {
        "List-Unsubscribe": ", ".join(f"<{target}>" for target in targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _context(
    contact: Mapping[str, Any],
    unsubscribe_url: str,
    sequence: Mapping[str, Any],
    step: Mapping[str, Any],
    conversion_token: str,
    event: Mapping[str, Any],
) -> dict[str, Any]:
    """The names a template sees; the /u/ page is both unsubscribe and preferences.

    `conversion_token` goes into landing-page links (`?nt={{ conversion_token }}`): the shop
    hands it back in its server-to-server conversion callback, which attributes the sale.
    `event` is the triggering event's properties (`{{ event.cart_url }}`); empty otherwise.
    """
    return {
        "event": event,
        "contact": contact,
        "sequence": sequence,
        "step": step,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": unsubscribe_url,
        "conversion_token": conversion_token,
    }


@lru_cache(maxsize=512)
def _compiled(source: str, part: Part) -> Template:
    """Compile once per source text (cached by its hash); HTML gets its CSS inlined first."""
    return compile_part(htmlsource.inline_css(source) if part == "html" else source, part)


@lru_cache(maxsize=256)
def _derived_text(html_source: str) -> Template:
    """The text part of an HTML template, from its CSS-inlined form (so a class that hides an
    element hides it from the text too)."""
    return compile_part(htmlsource.derive_text(htmlsource.inline_css(html_source)), "text")


def _check_subject(subject: str) -> str:
    if "\r" in subject or "\n" in subject:
        raise BadTemplate("subject", None, "the rendered subject holds a line break (CR or LF)")
    return subject


def _line(source: str, href: str) -> int | None:
    at = source.find(href)
    return source[:at].count("\n") + 1 if at >= 0 else None

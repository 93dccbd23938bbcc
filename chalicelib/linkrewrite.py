"""Rewrite a rendered message's links to tracked click URLs, and add the open pixel.

One regex pass over the HTML finds `<a>`, `<area>` and VML (`<v:roundrect>`…) start tags, including
those inside Outlook's `<!--[if mso]>` conditional comments (any comment, in fact). Each http(s)
`href` gets the next link index in document order, so the same destination twice gets two.
Left alone: `mailto:`, `tel:`, `sms:`, `#anchors`, empty hrefs, the `untracked` URLs
(unsubscribe, preferences) and tags carrying `data-nurture-notrack`, which is stripped.

A tracked link may carry interests: `data-nurture-tag="pricing"` (several in one attribute,
separated by spaces or commas, or several attributes). They are stripped from the HTML and
returned by link index; a human click on the link adds them to the contact's interests.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from chalicelib.htmlsource import ATTRIBUTE, LINK_END, LINK_START, attribute_value
from chalicelib.links import UnsafeDestination, check_destination

NOTRACK = "data-nurture-notrack"
TAG = "data-nurture-tag"
_INTEREST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
"""What an interest from a link may be called; other words in the attribute are dropped."""
MAX_LINK_TAGS = 10
_TAG = re.compile(
    r"""<(?:a|area|v:[a-z]+)(\s(?:[^>"']|"[^"]*(?:"|\Z)|'[^']*(?:'|\Z))*)(?:>|\Z)""", re.I
)
"""A start tag, up to its `>` outside quotes; it cannot fail once begun, so scanning is linear."""
_BODY_END = re.compile("</body", re.I)
_PASSTHROUGH = ("mailto:", "tel:", "sms:", "#")
_TEXT_LINK = re.compile(f"{LINK_START}([^{LINK_START}{LINK_END}]*){LINK_END}")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_WRITTEN_URL = re.compile(r"https?://[^\s<>\"'\x00-\x1f\x7f]+", re.I)
_TRAILING = ".,;:!?'\""
_CLOSERS = {")": "(", "]": "["}


class UnsafeLink(ValueError):
    """A link whose destination a click must never redirect to."""

    def __init__(self, href: str, problem: str) -> None:
        super().__init__(f"link {href!r} {problem}")
        self.href = href


@dataclass(frozen=True)
class Rewritten:
    """The HTML with tracked links; `links[i]` is link i's destination, `urls[i]` its click URL
    and `tags[i]` the interests it carries.

    `conditional` holds the indexes of links inside comments or VML: the copies only Outlook
    shows (`<!--[if mso]><v:roundrect href=...>`), which a text part never points at.
    `untracked` are the destinations of links marked `data-nurture-notrack`.
    """

    html: str
    links: tuple[str, ...]
    urls: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...] = ()
    conditional: frozenset[int] = field(default_factory=frozenset)
    untracked: frozenset[str] = field(default_factory=frozenset)

    def primary_urls(self) -> dict[str, list[str]]:
        """Each destination's click URLs in document order; its Outlook-only copies only when
        no link that every client shows goes there."""
        found: dict[str, list[str]] = {}
        for index, (link, url) in enumerate(zip(self.links, self.urls, strict=True)):
            if index not in self.conditional:
                found.setdefault(link, []).append(url)
        conditional: dict[str, list[str]] = {}
        for index in sorted(self.conditional):
            conditional.setdefault(self.links[index], []).append(self.urls[index])
        return {**conditional, **found}


Tracker = Callable[[int, str], str]
"""Given a link index and its destination, return the tracked URL."""


def rewrite_links(document: str, track: Tracker, untracked: Collection[str]) -> Rewritten:
    """Rewrite every trackable link; raise `UnsafeLink` for a non-http(s) destination."""
    links: list[str] = []
    urls: list[str] = []
    tags: list[tuple[str, ...]] = []
    conditional: set[int] = set()
    marked: set[str] = set()
    comments = [m.span() for m in _COMMENT.finditer(document)]
    comment_starts = [start for start, _ in comments]

    def in_comment(position: int) -> bool:
        at = bisect.bisect_right(comment_starts, position) - 1
        return at >= 0 and position < comments[at][1]

    def tag(match: re.Match[str]) -> str:
        attrs = match[1]
        href, notrack, interests = _href_and_markers(attrs)
        for marker in sorted(
            [*interests, *([notrack] if notrack else [])], key=_start, reverse=True
        ):
            attrs = attrs[: marker.start()].rstrip() + attrs[marker.end() :]
        if notrack and href and href[2]:
            marked.add(attribute_value(href[2]))
        elif href and href[2]:
            destination = _trackable(attribute_value(href[2]), untracked)
            if destination is not None:
                if match[0][:3].lower() == "<v:" or in_comment(match.start()):
                    conditional.add(len(links))
                links.append(destination)
                urls.append(track(len(links) - 1, destination))
                tags.append(_interests(interests))
                href = _href_and_markers(attrs)[0]
                assert href is not None and href[2]  # only markers were removed
                quoted = f'"{html.escape(urls[-1])}"'
                attrs = attrs[: href.start(2)] + quoted + attrs[href.end(2) :]
        return (
            match[0][: match.start(1) - match.start()]
            + attrs
            + match[0][match.end(1) - match.start() :]
        )

    rewritten = _TAG.sub(tag, document)
    return Rewritten(
        rewritten,
        tuple(links),
        tuple(urls),
        tuple(tags),
        frozenset(conditional),
        frozenset(marked),
    )


def _href_and_markers(
    attrs: str,
) -> tuple[re.Match[str] | None, re.Match[str] | None, list[re.Match[str]]]:
    """The first `href` attribute (as browsers use the first), the no-track marker and the
    interest markers."""
    href = notrack = None
    interests = []
    for attr in ATTRIBUTE.finditer(attrs):
        name = attr[1].lower()
        if name == "href" and href is None:
            href = attr
        elif name == NOTRACK:
            notrack = attr
        elif name == TAG:
            interests.append(attr)
    return href, notrack, interests


def _start(match: re.Match[str]) -> int:
    return match.start()


def _interests(markers: list[re.Match[str]]) -> tuple[str, ...]:
    """The valid interest names of a link's markers, in order, once each, at most ten."""
    words = (
        word
        for marker in markers
        for word in re.split(r"[\s,]+", attribute_value(marker[2] or ""))
        if _INTEREST.fullmatch(word)
    )
    return tuple(dict.fromkeys(words))[:MAX_LINK_TAGS]


def _trackable(destination: str, untracked: Collection[str]) -> str | None:
    """The destination to sign (made ASCII, see `links`), or None for one left alone."""
    if not destination or destination.lower().startswith(_PASSTHROUGH):
        return None
    if destination in untracked:
        return None
    try:
        return check_destination(destination)
    except UnsafeDestination as exc:
        raise UnsafeLink(destination, str(exc)) from exc


def _signed_form(destination: str) -> str:
    try:
        return check_destination(destination)
    except UnsafeDestination:
        return destination


def insert_pixel(document: str, open_url: str) -> str:
    """Add the open pixel once, just before `</body>` (or at the end without one)."""
    pixel = (
        f'<img src="{html.escape(open_url)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    at = document.rfind("</body")
    if at < 0:
        at = max((m.start() for m in _BODY_END.finditer(document)), default=-1)
    return document + pixel if at < 0 else document[:at] + pixel + document[at:]


def track_text(text: str, rewritten: Rewritten) -> str:
    """Swap the derived text part's link markers for the tracked URLs, in document order.

    A destination seen n times in the HTML takes its n URLs in turn, those of links every
    client shows first (never an Outlook-only copy while there is another); an untracked one
    stays.
    """
    queues = rewritten.primary_urls()

    def tracked(match: re.Match[str]) -> str:
        queue = queues.get(match[1]) or queues.get(_signed_form(match[1]))
        if not queue:
            return match[1]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    text = _TEXT_LINK.sub(tracked, text)
    return text.replace(LINK_START, "").replace(LINK_END, "") if LINK_START in text else text


def track_written_text(
    text: str, rewritten: Rewritten, track: Tracker, untracked: Collection[str]
) -> tuple[str, tuple[str, ...]]:
    """Track the http(s) URLs written into a hand-made text part.

    A destination the HTML links to takes that link's click URL (its first one every client
    shows); another gets the next index after the HTML's links. Returns the text and those
    further destinations. The `untracked` URLs (unsubscribe), those the HTML marks
    `data-nurture-notrack` and unsafe ones stay as written.
    """
    tracked = {link: urls[0] for link, urls in rewritten.primary_urls().items()}
    extra: list[str] = []

    def swap(match: re.Match[str]) -> str:
        url, tail = _without_trailing_punctuation(match[0])
        if url in untracked or url in rewritten.untracked:
            return match[0]
        try:
            destination = check_destination(url)
        except UnsafeDestination:
            return match[0]
        if destination not in tracked:
            tracked[destination] = track(len(rewritten.links) + len(extra), destination)
            extra.append(destination)
        return tracked[destination] + tail

    return _WRITTEN_URL.sub(swap, text), tuple(extra)


def _without_trailing_punctuation(url: str) -> tuple[str, str]:
    """Split the sentence's punctuation off a URL written in prose: `(see https://x.io/a).`"""
    end = len(url)
    while end:
        last = url[end - 1]
        opener = _CLOSERS.get(last)
        if last in _TRAILING or (opener and url.count(opener, 0, end) < url.count(last, 0, end)):
            end -= 1
            continue
        break
    return url[:end], url[end:]

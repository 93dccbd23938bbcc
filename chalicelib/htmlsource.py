"""Compile-time transforms of an HTML template's source: CSS inlining and the derived text part.

Neither depends on personalisation, so both run once per template, not once per message (CSS
inlining alone costs milliseconds). Jinja code is masked first so the HTML tools see opaque
placeholders: statements become comments (a table's parser never moves those), expressions text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import css_inline

from chalicelib.errors import BadTemplate

LINK_START, LINK_END = "\x02", "\x03"
"""Delimit a link's destination in the derived text, to be swapped for its tracked URL."""

ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
"""One attribute of a start tag: group 1 its name, group 2 its raw (quoted) value if any."""
_CHARREF = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;)")
_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_COMMENT_OR_CODE = re.compile(r"<!--.*?-->|" + _CODE.pattern, re.S)
_PLACEHOLDER = re.compile("<!--\ue000(\\d+)\ue001-->|\ue000(\\d+)\ue001")
_IMPLIED_TBODY = re.compile("</?tbody>")
"""The HTML parser adds `<tbody>`; inside a `{% for %}` over rows it would repeat unbalanced."""
_LINE_EDGES = re.compile(r"[ \t]*\n[ \t]*")
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Masked:
    """HTML whose jinja code is replaced by numbered placeholders, and that code by number."""

    html: str
    code: tuple[str, ...]

    def restore(self, text: str, *, escape_text: bool = False) -> str:
        """Put the code back; with `escape_text`, make literal `{` in `text` inert for jinja."""
        if escape_text:
            text = text.replace("{", "{{ '{' }}")
        return _PLACEHOLDER.sub(lambda m: self.code[int(m[1] or m[2])], text)

    def moved(self, text: str) -> int | None:
        """The index of the first placeholder missing or out of order in `text`, if any."""
        found = [int(m[1] or m[2]) for m in _PLACEHOLDER.finditer(text)]
        for expected, index in enumerate(found):
            if index != expected:
                return min(index, expected)
        return None if len(found) == len(self.code) else len(found)


def attribute_value(raw: str) -> str:
    """Decode a raw attribute value as a browser does for URLs.

    Unlike `html.unescape`, a named reference without `;` stays literal, so `?a=1&region=eu`
    keeps `&region` (not `®ion`), as HTML's attribute parsing rules say.
    """
    value = raw[1:-1] if raw[:1] in ("'", '"') else raw
    if "&" not in value.replace("&amp;", ""):
        return value.replace("&amp;", "&").strip()
    return _CHARREF.sub(lambda m: html.unescape(m[0]), value).strip()


def mask(source: str) -> Masked:
    """Mask jinja code; inside HTML comments (Outlook's conditional ones) everything is text."""
    code: list[str] = []

    def placeholder(text: str, statement: bool) -> str:
        code.append(text)
        marker = f"\ue000{len(code) - 1}\ue001"
        return f"<!--{marker}-->" if statement else marker

    def segment(match: re.Match[str]) -> str:
        text = match[0]
        if text.startswith("<!--"):
            return _CODE.sub(lambda inner: placeholder(inner[0], False), text)
        return placeholder(text, not text.startswith("{{"))

    return Masked(_COMMENT_OR_CODE.sub(segment, source), tuple(code))


def inline_css(source: str) -> str:
    """Move `<style>` rules into `style` attributes, keeping `@media` rules in a `<style>` block."""
    if "<style" not in source.lower():
        return source
    masked = mask(source)
    try:
        inlined = _INLINER.inline(masked.html)
    except css_inline.InlineError as exc:
        raise BadTemplate("html", None, f"CSS inlining failed: {exc}") from exc
    moved = masked.moved(inlined)
    if moved is not None:
        raise BadTemplate(
            "html",
            _line(source, masked.code[moved]),
            f"CSS inlining would move or copy {masked.code[moved]!r}; "
            "keep template code out of <style> rules",
        )
    if "<tbody" not in source.lower():
        inlined = _IMPLIED_TBODY.sub("", inlined)
    return masked.restore(inlined)


def derive_text(source: str) -> str:
    """A text template from an HTML template: paragraphs, line breaks, list items, links."""
    masked = mask(source)
    parser = _TextParser()
    parser.feed(masked.html)
    parser.close()
    text = _LINE_EDGES.sub("\n", "".join(parser.out))
    return masked.restore(tidy_text(text), escape_text=True)


def visible_links(document: str) -> list[tuple[str, str]]:
    """(href, label) of every link a reader sees: outside comments, `<head>` and hidden
    elements, with the text (or image alt) it shows."""
    parser = _TextParser()
    parser.feed(document)
    parser.close()
    return parser.links


def tidy_text(text: str) -> str:
    """Keep at most one blank line between paragraphs (lines are trimmed at compile time)."""
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


def _line(source: str, code: str) -> int:
    return source[: source.find(code)].count("\n") + 1


_SKIPPED = frozenset({"head", "style", "script", "title"})
_VOID = frozenset(str.split("area base br col embed hr img input link meta source track wbr"))
_HIDING_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\b", re.I)
_PARAGRAPHS = frozenset(
    str.split("p div h1 h2 h3 h4 h5 h6 table ul ol blockquote section article header footer")
)
_BREAKS = {"br": "\n", "tr": "\n", "li": "\n- ", "td": " ", "th": " ", "hr": "\n\n----\n\n"}


def _href(tag: str) -> str:
    """The first `href` of a raw start tag, decoded as `attribute_value` does."""
    hrefs = (m[2] or "" for m in ATTRIBUTE.finditer(tag) if m[1].lower() == "href")
    return attribute_value(next(hrefs, ""))


def is_hidden(attrs: list[tuple[str, str | None]]) -> bool:
    """Whether an element is hidden from some readers: `hidden`, `aria-hidden="true"`, or an
    inline `display:none` / `visibility:hidden` (a preheader and its padding, say)."""
    found = dict(attrs)
    return (
        "hidden" in found
        or (found.get("aria-hidden") or "").strip().lower() == "true"
        or bool(_HIDING_STYLE.search(found.get("style") or ""))
    )


class _TextParser(HTMLParser):
    """HTML to text; links become `text (url)`, with the url between the link markers.

    Hidden elements (`is_hidden`) are left out, with everything inside them: a preheader's
    padding characters and decorative `aria-hidden` parts such as a wordmark.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._skipping = 0
        self._hidden: list[str] = []  # tags opened inside a hidden element, it first
        self._link: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden or is_hidden(attrs):
            if tag not in _VOID:
                self._hidden.append(tag)
        elif tag in _SKIPPED:
            self._skipping += 1
        elif tag in _PARAGRAPHS:
            self.out.append("\n\n")
        elif tag in _BREAKS:
            self.out.append(_BREAKS[tag])
        elif tag == "a":
            self._close_link()
            self._link = (_href(self.get_starttag_text() or ""), len(self.out))
        elif tag == "img" and self._link is not None:
            self.out.append(dict(attrs).get("alt") or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not (self._hidden or is_hidden(attrs)):
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            if tag in self._hidden:  # closes it and whatever was left open inside it
                del self._hidden[len(self._hidden) - 1 - self._hidden[::-1].index(tag) :]
        elif tag in _SKIPPED:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _PARAGRAPHS:
            self.out.append("\n\n")
        elif tag == "a":
            self._close_link()

    def handle_data(self, data: str) -> None:
        if not (self._skipping or self._hidden):
            self.out.append(re.sub(r"\s+", " ", data))

    def handle_comment(self, data: str) -> None:
        if not self._hidden and _PLACEHOLDER.fullmatch(f"<!--{data}-->"):
            self.out.append(f"<!--{data}-->")

    def _close_link(self) -> None:
        if self._link is None:
            return
        href, start = self._link
        self._link = None
        label = "".join(self.out[start:]).strip()
        self.links.append((href, label))
        if not href or href.startswith("#") or f"mailto:{label}" == href:
            return
        target = f"{LINK_START}{href}{LINK_END}"
        if label and label != href:
            self.out.append(f" ({target})")
        else:
            del self.out[start:]
            self.out.append(target)

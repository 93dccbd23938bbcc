"""Engagement verdicts: is an open or click a person, or a machine acting for one?

Machines (Apple Mail Privacy Protection, image proxies, link scanners, preview fetchers, HTTP
libraries, headless browsers, crawlers) fetch pixels and links without a person looking. Their
hits are recorded with the verdict and its reason, never dropped, and rules act on human
engagement by default. Only the verdict is kept, not the IP or the agent.

The vocabulary lives in `data/agents.json`, one entry per token with the reason for it. Tokens
match on word boundaries, never as substrings, and the device model of an Android agent and any
URL or host name in an agent are ignored: a person is never a scanner because of a word in a
phone model (`CUBOT`), a company (`San Francisco`) or a home page. Besides the tokens, three
shapes give an agent away: a `+http://...` contact (the robots' convention), a `(compatible;
...)` comment that names no browser and no platform, and no browser, mail client or phone
platform named at all. `benchmarks/classify.py` measures the verdicts against labelled agents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

__all__ = ["HUMAN", "MACHINE", "SCANNER", "UNKNOWN", "Verdict", "classify_click", "classify_open"]

HUMAN = "human"
MACHINE = "machine"
UNKNOWN = "unknown"
SCANNER = "scanner"

NON_BROWSER = "non_browser_agent"
VOCABULARY = Path(__file__).resolve().parent / "data" / "agents.json"
MAX_AGENT = 1024
"""Characters of a User-Agent header looked at; the rest cannot change the verdict."""

_TOKEN = re.compile(r"[a-z0-9]+")
"""Words: alphanumeric runs of the lower-cased agent."""
_CONTACT = re.compile(r"\+\s*(?:https?://|www\.)", re.IGNORECASE)
_MAY_HOLD_ADDRESS = re.compile(r"://|www\.|\.[a-z]{2}")
_ADDRESS = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*"
    r"|(?<![\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w-])(?:/\S*)?",
    re.IGNORECASE,
)
"""URLs and host names: a home page names its owner, not the agent."""
_ANDROID_MODEL = re.compile(
    r"(android[^;()]*;(?:\s*(?:u|wv|[a-z]{2,3}(?:[-_][a-z]{2,4})?)\s*;)*)[^;()]*"
)
"""`android 9; [de-de;] <device model> build/...`: the model is a product name, not an agent."""
_COMPATIBLE = re.compile(r"\(\s*compatible\s*;([^()]*)")
_DIGITS = "0123456789"


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str


@dataclass(frozen=True)
class _Vocabulary:
    words: dict[str, str]
    names: tuple[tuple[frozenset[str], re.Pattern[str], str], ...]
    suffixes: dict[str, str]
    suffix_ends: tuple[str, ...]
    compound_only: frozenset[str]
    people: frozenset[str]
    platforms: frozenset[str]


@cache
def _vocabulary() -> _Vocabulary:
    """Read once per process, on first use: the import of the pixel's Lambda stays cheap."""
    data = json.loads(VOCABULARY.read_text("utf-8"))
    automated = data["automated"]
    words = {e["token"]: e["reason"] for e in automated if e["match"] == "word"}
    suffixes = {e["token"]: e["reason"] for e in automated if e["match"] != "word"}
    return _Vocabulary(
        words={token: reason for token, reason in words.items() if _TOKEN.fullmatch(token)},
        names=tuple(
            _name(token, reason) for token, reason in words.items() if not _TOKEN.fullmatch(token)
        ),
        suffixes=suffixes,
        suffix_ends=tuple(sorted(suffixes, key=len, reverse=True)),
        compound_only=frozenset(e["token"] for e in automated if e["match"] == "compound"),
        people=frozenset(e["token"] for e in data["people"]),
        platforms=frozenset(e["token"] for e in data["platforms"]),
    )


def _name(token: str, reason: str) -> tuple[frozenset[str], re.Pattern[str], str]:
    """A name of several words (`python-requests`, `feed fetcher`): its words, and the pattern
    that finds them together, checked only when every word is there."""
    parts = _TOKEN.findall(token)
    pattern = r"(?<![a-z0-9])" + r"[-_\s]+".join(parts) + r"(?![a-z0-9])"
    return frozenset(parts), re.compile(pattern), reason


@lru_cache(maxsize=1024)
def _machine_reason(agent: str) -> str | None:
    """Why `agent` is not a person's browser or mail client, or None if it is one.

    Remembered per agent: a container sees the same few agents (the image proxies, Apple's
    relay, the common browsers) again and again.
    """
    text, words = _read(agent)
    if reason := _automated(agent, text, words):
        return reason
    if _vocabulary().people.isdisjoint(words):
        return NON_BROWSER
    return None


def _read(agent: str) -> tuple[str, set[str]]:
    """The lower-cased agent without addresses and Android device models, and its words."""
    text = agent.lower()
    if _MAY_HOLD_ADDRESS.search(text):
        text = _ADDRESS.sub(" ", text)
    if "android" in text and (model := _ANDROID_MODEL.search(text)):
        text = text[: model.end(1)] + text[model.end() :]
    return text, set(_TOKEN.findall(text))


def _automated(agent: str, text: str, words: set[str]) -> str | None:
    """The reason `agent` is a program acting on its own, or None if nothing says so.

    Written for the hot path: set lookups on the words, the rest only for likely hits.
    """
    vocabulary = _vocabulary()
    if found := words & vocabulary.words.keys():
        return vocabulary.words[min(found)]
    for parts, pattern, name_reason in vocabulary.names:
        if words.issuperset(parts) and pattern.search(text):
            return name_reason
    ends = vocabulary.suffix_ends
    for word in sorted(w for w in words if w.rstrip(_DIGITS).endswith(ends)):
        if suffix_reason := _suffix_reason(word, agent, vocabulary):
            return suffix_reason
    if _CONTACT.search(agent):
        return "robot_contact"
    comment = _COMPATIBLE.search(text)
    if comment and not set(_TOKEN.findall(comment[1])) & (vocabulary.people | vocabulary.platforms):
        return "compatible_non_browser"
    return None


def _suffix_reason(word: str, agent: str, vocabulary: _Vocabulary) -> str | None:
    """`Googlebot`, `YandexBot`, `trendictionbot0`, `DF Bot`; not `CUBOT` unless `CUBOT/1.0`."""
    stem = word.rstrip(_DIGITS)
    token = next(t for t in vocabulary.suffix_ends if stem.endswith(t))
    if stem == token:
        return None if token in vocabulary.compound_only else vocabulary.suffixes[token]
    # A compound: an all-capitals one is a model name (CUBOT) unless it is a product (ACMEBOT/3.1).
    spelled = re.findall(rf"(?<![a-z0-9])({word})(?![a-z0-9])(/?)", agent, re.IGNORECASE)
    if all(name.isupper() and not slash for name, slash in spelled):
        return None
    return vocabulary.suffixes[token]


def classify_open(
    user_agent: str, seconds_since_send: float, machine_seconds: float, method: str = "GET"
) -> Verdict:
    """Verdict for a pixel fetch. Apple MPP's relay sends exactly `Mozilla/5.0`; a HEAD asks
    about the image without showing it, so no person saw it."""
    if method.upper() == "HEAD":
        return Verdict(MACHINE, "head_request")
    agent = user_agent.strip()[:MAX_AGENT]
    if not agent:
        return Verdict(UNKNOWN, "no_user_agent")
    if agent.lower() == "mozilla/5.0":
        return Verdict(MACHINE, "apple_mpp")
    if reason := _machine_reason(agent):
        return Verdict(UNKNOWN if reason == NON_BROWSER else MACHINE, reason)
    if seconds_since_send < machine_seconds:
        return Verdict(MACHINE, "seconds_after_send")
    return Verdict(HUMAN, "mail_client")


def classify_click(
    method: str, user_agent: str, seconds_since_send: float, scanner_seconds: float
) -> Verdict:
    """Verdict for a tracked-link hit; HEAD is never a person clicking."""
    agent = user_agent.strip()[:MAX_AGENT]
    if method.upper() == "HEAD":
        return Verdict(SCANNER, "head_request")
    if not agent:
        return Verdict(SCANNER, "no_user_agent")
    if reason := _machine_reason(agent):
        return Verdict(SCANNER, reason)
    if seconds_since_send < scanner_seconds:
        return Verdict(SCANNER, "seconds_after_send")
    return Verdict(HUMAN, "browser")

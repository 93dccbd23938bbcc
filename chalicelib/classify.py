"""Engagement verdicts: is an open or click a person, or a machine acting for one?

Machines (Apple Mail Privacy Protection, image proxies, link scanners) fetch pixels and links
without a person looking. Their hits are recorded with the verdict and its reason, never
dropped, and rules act on human engagement by default. Only the verdict is kept, not the IP.
"""

from __future__ import annotations

from dataclasses import dataclass

HUMAN = "human"
MACHINE = "machine"
UNKNOWN = "unknown"
SCANNER = "scanner"

# Substrings of User-Agent headers, lower-cased, with the reason recorded for each.
_IMAGE_PROXIES = (
    ("googleimageproxy", "google_image_proxy"),
    ("yahoomailproxy", "yahoo_image_proxy"),
    ("ymailproxy", "yahoo_image_proxy"),
    ("outlook-iosandroid", "outlook_mobile_proxy"),
)
_LINK_SCANNERS = (
    ("mimecast", "mimecast"),
    ("proofpoint", "proofpoint"),
    ("barracuda", "barracuda"),
    ("microsoft office existence discovery", "microsoft_discovery"),
    ("safelinks", "microsoft_safe_links"),
    ("bingpreview", "bing_preview"),
    ("trendmicro", "trend_micro"),
    ("fortiguard", "fortinet"),
    ("sophos", "sophos"),
    ("symantec", "symantec"),
    ("forcepoint", "forcepoint"),
    ("cisco", "cisco"),
    ("urlscan", "urlscan"),
    ("bot", "bot_agent"),
    ("spider", "bot_agent"),
    ("crawler", "bot_agent"),
)
_NON_BROWSER = (
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
    "axios/",
    "node-fetch",
)


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str


def classify_open(user_agent: str, seconds_since_send: float, machine_seconds: float) -> Verdict:
    """Verdict for a pixel fetch. Apple MPP's relay sends exactly `Mozilla/5.0`."""
    agent = user_agent.strip().lower()
    if agent == "mozilla/5.0":
        return Verdict(MACHINE, "apple_mpp")
    for needle, reason in (*_IMAGE_PROXIES, *_LINK_SCANNERS):
        if needle in agent:
            return Verdict(MACHINE, reason)
    if not agent:
        return Verdict(UNKNOWN, "no_user_agent")
    if agent.startswith(_NON_BROWSER):
        return Verdict(UNKNOWN, "non_browser_agent")
    if seconds_since_send < machine_seconds:
        return Verdict(MACHINE, "seconds_after_send")
    return Verdict(HUMAN, "mail_client")


def classify_click(
    method: str, user_agent: str, seconds_since_send: float, scanner_seconds: float
) -> Verdict:
    """Verdict for a tracked-link hit; HEAD is never a person clicking."""
    agent = user_agent.strip().lower()
    if method.upper() == "HEAD":
        return Verdict(SCANNER, "head_request")
    for needle, reason in _LINK_SCANNERS:
        if needle in agent:
            return Verdict(SCANNER, reason)
    if not agent:
        return Verdict(SCANNER, "no_user_agent")
    if agent.startswith(_NON_BROWSER):
        return Verdict(SCANNER, "non_browser_agent")
    if seconds_since_send < scanner_seconds:
        return Verdict(SCANNER, "seconds_after_send")
    return Verdict(HUMAN, "browser")

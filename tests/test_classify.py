"""Engagement verdicts on hand-written, realistic user agents (the labelled corpus is measured
by benchmarks/classify.py, never copied here)."""

from __future__ import annotations

import json

import pytest

from chalicelib import classify
from chalicelib.classify import classify_click, classify_open

HOUR = 3600.0

PEOPLE = [
    # Phones whose model names hold words a substring match took for robots or scanners.
    "Mozilla/5.0 (Linux; Android 11; CUBOT NOTE 20 PRO Build/RP1A.200720.011) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/108.0.5359.128 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.6045.163 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; U; Android 2.2; en-gb; San Francisco Build/FRF91) AppleWebKit/533.1"
    " (KHTML, like Gecko) Version/4.0 Mobile Safari/533.1",
    "Mozilla/5.0 (Linux; Android 9; Spider Build/PPR1.180610.011) AppleWebKit/537.36"
    " (KHTML, like Gecko) Chrome/96.0.4664.104 Mobile Safari/537.36",
    # Company names and home pages in a browser's own string.
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; Installed by Symantec"
    " Package; .NET CLR 2.0.50727)",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1; http://www.bigpond-customer.net)",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; Matrix Y2K - Preview Browser)",
    # Everyday browsers and mail clients.
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.67",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko)"
    " SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Mobile/15E148 [GoogleGmail/6.0]",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.11.0",
]


@pytest.mark.parametrize("agent", PEOPLE)
def test_people_are_people_whatever_their_phone_is_called(agent: str) -> None:
    assert classify_click("GET", agent, HOUR, 10) == classify.Verdict("human", "browser")
    assert classify_open(agent, HOUR, 2) == classify.Verdict("human", "mail_client")


AUTOMATED = [
    ("Outlook-iOS-Android/1.0", "outlook_mobile_proxy"),
    ("Apache-HttpClient/4.5.14 (Java/17.0.8)", "http_library"),
    ("python-httpx/0.27.0", "http_library"),
    ("Python/3.12 aiohttp/3.9.5", "http_library"),
    ("python-requests/2.32.3", "http_library"),
    ("curl/8.5.0", "http_library"),
    ("Go-http-client/2.0", "http_library"),
    ("okhttp/4.12.0", "http_library"),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " HeadlessChrome/124.0.6367.60 Safari/537.36",
        "headless_browser",
    ),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "link_preview"),
    ("WhatsApp/2.23.20.0 A", "link_preview"),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "link_preview"),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " BingPreview/1.0b",
        "link_preview",
    ),
    ("Mozilla/5.0 (compatible; Mimecast URL Protect)", "mimecast"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot_agent"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML,"
        " like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1)",
        "bot_agent",
    ),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "bot_agent"),
    (
        "Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)",
        "bot_agent",
    ),
    ("ACMEBOT/3.1 (site audit)", "bot_agent"),
    (
        "Mozilla/5.0 (compatible; LinkGuardian/2.1; +https://linkguardian.example/about)",
        "robot_contact",
    ),
    ("Mozilla/5.0 (compatible; AcmeMailSecurity/4.0)", "compatible_non_browser"),
    ("Java/1.8.0_392", "non_browser_agent"),
    ("Mozilla/5.0", "non_browser_agent"),
]


@pytest.mark.parametrize(("agent", "reason"), AUTOMATED)
def test_programs_are_scanner_clicks_with_their_reason(agent: str, reason: str) -> None:
    assert classify_click("GET", agent, HOUR, 10) == classify.Verdict("scanner", reason)


@pytest.mark.parametrize(("agent", "reason"), [a for a in AUTOMATED if a[0] != "Mozilla/5.0"])
def test_programs_are_not_human_opens(agent: str, reason: str) -> None:
    verdict = classify_open(agent, HOUR, 2)
    expected = "unknown" if reason == "non_browser_agent" else "machine"
    assert verdict == classify.Verdict(expected, reason)


def test_apple_privacy_relay_and_image_proxies_are_machine_opens() -> None:
    assert classify_open("Mozilla/5.0", HOUR, 2) == classify.Verdict("machine", "apple_mpp")
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    assert classify_open(gmail, HOUR, 2).reason == "google_image_proxy"


def test_method_missing_agent_and_timing() -> None:
    browser = PEOPLE[7]
    assert classify_click("HEAD", browser, HOUR, 10).reason == "head_request"
    assert classify_click("GET", "  ", HOUR, 10) == classify.Verdict("scanner", "no_user_agent")
    assert classify_click("GET", browser, 3, 10).reason == "seconds_after_send"
    assert classify_open("", HOUR, 2) == classify.Verdict("unknown", "no_user_agent")
    assert classify_open(browser, 1, 2).reason == "seconds_after_send"


def test_only_the_head_of_a_huge_agent_is_read() -> None:
    padded = PEOPLE[7] + " x" * 500_000 + " Googlebot/2.1"
    assert classify_click("GET", padded, HOUR, 10).kind == "human"
    assert classify_click("GET", "Googlebot/2.1 " + "y" * 1_000_000, HOUR, 10).kind == "scanner"


def test_every_vocabulary_entry_has_a_reason_and_a_known_match_kind() -> None:
    data = json.loads(classify.VOCABULARY.read_text("utf-8"))
    for entry in data["automated"]:
        assert entry["match"] in {"word", "suffix", "compound"}, entry
        assert entry["reason"] and entry["why"] and entry["token"] == entry["token"].lower()
    for entry in data["people"] + data["platforms"]:
        assert entry["why"] and entry["token"] == entry["token"].lower()
    tokens = [e["token"] for e in data["automated"] + data["people"] + data["platforms"]]
    assert len(tokens) == len(set(tokens))

"""The demo: one contact, one email through SES (moto) with a pixel, two tracked links and
an unsubscribe link, so a person can try every recipient route in a browser."""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape

from chalicelib import services
from chalicelib.config import settings
from chalicelib.links import tracked_url
from chalicelib.tokens import Claims, Purpose, sign

CONTACT = "demo-contact"
EMAIL = "dana@example.com"
SENDER = "hello@nurture.example"
LINKS = (
    "https://example.com/pricing?plan=team&utm_source=nurture#compare",
    "https://example.com/docs/getting-started",
)


@dataclass(frozen=True)
class DemoMail:
    message_id: str
    open_url: str
    click_urls: tuple[str, ...]
    unsubscribe_url: str
    conversion_token: str


def send_demo() -> DemoMail:
    """Sign the demo links, send the email through SES and return what a person can click."""
    base, keys = settings().base_url, services.keyring()
    send_id, issued = f"demo-{int(time.time())}", int(time.time())

    def url(purpose: Purpose, link: int | None = None, dest: str | None = None) -> str:
        return tracked_url(
            base, purpose, sign(Claims(purpose, CONTACT, send_id, issued, link, dest), keys)
        )

    clicks = tuple(url(Purpose.CLICK, i, dest) for i, dest in enumerate(LINKS))
    unsubscribe, opened = url(Purpose.UNSUBSCRIBE), url(Purpose.OPEN)
    conversion = sign(Claims(Purpose.CONVERSION, CONTACT, send_id, issued), keys)
    html = (
        "<html><body><p>Hi Dana,</p><p>Welcome to nurture. "
        f'<a href="{escape(clicks[0])}">See the team plan</a> or '
        f'<a href="{escape(clicks[1])}">read the guide</a>.</p>'
        f'<p><a href="{escape(unsubscribe)}">Unsubscribe or change preferences</a></p>'
        f'<img src="{escape(opened)}" width="1" height="1" alt=""></body></html>'
    )
    answer = services.client("sesv2").send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [EMAIL]},
        Content={
            "Simple": {
                "Subject": {"Data": "Welcome to nurture"},
                "Body": {"Html": {"Data": html}, "Text": {"Data": f"Hi Dana, see {clicks[0]}"}},
                "Headers": [
                    {"Name": "List-Unsubscribe", "Value": f"<{unsubscribe}>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                ],
            }
        },
        EmailTags=[{"Name": "send_id", "Value": send_id}],
    )
    return DemoMail(answer["MessageId"], opened, clicks, unsubscribe, conversion)

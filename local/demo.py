"""The demo: the shipped segments, stages and playbooks pushed, one contact imported and enrolled
in the engagement playbook, whose first email goes out at once through the real path (compose,
sandboxed render, link rewriting, SES on moto), so a person can try every recipient route in a
browser and see it counted in `nurture report --sequence engagement`.

On a restart the stored state is kept: the contact is already enrolled (or has unsubscribed),
nothing is sent again, and the links of the newest email the contact got are printed again.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chalicelib import audience, catalog, services
from chalicelib.config import settings
from chalicelib.contactfiles import read_csv
from chalicelib.contacts import import_contacts
from chalicelib.schedule import minute_key
from chalicelib.segments import load_segment
from chalicelib.sequences import load_sequence
from chalicelib.stages import load_stages
from chalicelib.stamps import iso

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sequences"
SEGMENTS = EXAMPLES.parent / "segments"
STAGES = EXAMPLES.parent / "stages.yaml"
CONTACT = "demo-contact"
EMAIL = "dana@example.com"
SEQUENCE = "engagement"
WEBHOOK = "demo"


@dataclass(frozen=True)
class DemoMail:
    message_id: str
    subject: str
    open_url: str
    click_urls: tuple[str, ...]
    unsubscribe_url: str


@dataclass(frozen=True)
class Demo:
    """What the demo did this start: a line for the banner, and the newest email (if any)."""

    enrolled: str
    mail: DemoMail | None


def push_examples(at: float) -> list[str]:
    """Push the shipped segments, the lifecycle stages, then every playbook (in the order
    they name each other); pushing again adds no version."""
    pushed = []
    for path in sorted(SEGMENTS.glob("*.yaml")):
        segment = load_segment(path)
        result = audience.push_segment(
            services.versions("segment"), segment, services.catalogue(), iso(at)
        )
        pushed.append(f"{result.model_id} v{result.version}")
    lifecycle = load_stages(STAGES)
    result = audience.push_stages(
        services.versions("stages"), lifecycle, services.catalogue(), iso(at)
    )
    pushed.append(f"stages v{result.version}")
    for path in sorted(EXAMPLES.glob("*.yaml")):
        sequence = load_sequence(path)
        result = catalog.push(services.versions(), sequence, iso(at), services.catalogue())
        pushed.append(f"{result.model_id} v{result.version}")
    return pushed


def subscribe(url: str) -> None:
    """Subscribe the local receiver to every event, the demo's test sends included."""
    admin = services.webhook_admin()
    text = f"webhooks:\n  - id: {WEBHOOK}\n    url: {url}\n    test_sends: true\n"
    admin.push(admin.validate(text, "demo-webhooks.yaml"))


def start(at: datetime) -> Demo:
    """Import the demo contact, enroll it in the engagement playbook with its first email sent
    at once (its minute's bucket fired here, as the schedule would), and find that email."""
    from chalicelib.errors import ReentryRefused, Unreachable

    row = f"email,first_name,timezone,country\n{EMAIL},Dana,Europe/Riga,LV\n"
    import_contacts(
        services.table(),
        read_csv(io.BytesIO(row.encode())),
        now=iso(at.timestamp()),
        new_id=lambda: CONTACT,
    )
    journey = services.journey()
    kept = journey.enrollments.get(CONTACT, SEQUENCE)
    if kept is not None and kept.status == "active":
        enrolled = f"in {SEQUENCE} since {kept.enrolled_at}, at step {kept.step_id} (kept)"
        return Demo(enrolled, newest_mail(EMAIL))
    try:
        enrollment = journey.enroll(CONTACT, SEQUENCE, first_at=at)
    except (Unreachable, ReentryRefused) as refused:
        return Demo(f"not enrolled again ({refused})", newest_mail(EMAIL))
    journey.fire(minute_key(at))
    return Demo(f"enrolled in {SEQUENCE} at {enrollment.enrolled_at}", newest_mail(EMAIL))


def newest_mail(email: str) -> DemoMail | None:
    """The newest email sent to `email` with its tracked links, if it has them (moto runs in
    this process)."""
    from moto.backends import get_backend

    sent = [
        m
        for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
        if email in m.destinations.get("ToAddresses", ())
    ]
    if not sent:
        return None
    message = sent[-1]
    # Tokens name no host: links from a run on other ports are shown on this run's API.
    base = settings().base_url
    links = re.findall(r"https?://[^/\s\"'<>]+/([ocu])/([A-Za-z0-9_.-]+)", message.body)
    url = {kind: [f"{base}/{kind}/{t}" for k, t in links if k == kind] for kind in "ocu"}
    if not (url["o"] and url["c"] and url["u"]):
        return None
    return DemoMail(message.id, message.subject, url["o"][0], tuple(url["c"][:2]), url["u"][0])

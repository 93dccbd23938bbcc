"""The demo: the shipped segments, stages and playbooks pushed, one contact, and the
engagement playbook's first email sent through the real path (compose, sandboxed render, link
rewriting, SES on moto), so a person can try every recipient route in a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chalicelib import audience, catalog, services
from chalicelib.config import settings
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
    open_url: str
    click_urls: tuple[str, ...]
    unsubscribe_url: str


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


def send_demo() -> DemoMail:
    """Send the engagement playbook's first step to the demo contact and return its links."""
    services.table().put_profile(
        CONTACT, {"email": EMAIL, "first_name": "Dana", "timezone": "Europe/Riga", "country": "LV"}
    )
    outcome = services.journey().send_test(CONTACT, SEQUENCE)
    if outcome.status != "sent":
        raise SystemExit(f"demo email not sent: {outcome}")
    from moto.backends import get_backend  # the local stack runs moto in this process

    html = next(
        m.body
        for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
        if m.id == outcome.message_id
    )
    base = settings().base_url
    links = re.findall(rf"{re.escape(base)}/([ocu])/([A-Za-z0-9_.-]+)", html)
    url = {kind: [f"{base}/{kind}/{t}" for k, t in links if k == kind] for kind in "ocu"}
    return DemoMail(outcome.message_id, url["o"][0], tuple(url["c"][:2]), url["u"][0])

"""The local demo on moto: its contact imported and enrolled, the first email sent at once as a
real enrollment send (so the report counts it), and a second start sending nothing again."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import contactnames, services
from chalicelib.config import settings
from chalicelib.store import Table
from local import demo


def test_the_demo_enrolls_its_contact_and_sends_its_first_email_once(table: Table) -> None:
    services.client("ses").verify_email_identity(EmailAddress=settings().sender)
    services.client("scheduler").create_schedule_group(Name="nurture")
    demo.push_examples(time.time())
    at = datetime.now(UTC)
    first = demo.start(at)
    assert first.enrolled.startswith("enrolled in engagement"), first.enrolled
    assert contactnames.contact_id(table, "Dana@Example.com") == demo.CONTACT
    enrollment = services.journey().enrollments.get(demo.CONTACT, demo.SEQUENCE)
    assert enrollment is not None and enrollment.run >= 1 and enrollment.send_id
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert len(sent) == 1 and first.mail is not None and first.mail.message_id == sent[0].id
    assert first.mail.open_url.startswith(f"{settings().base_url}/o/")
    assert len(first.mail.click_urls) == 2
    again = demo.start(at)  # a restart on the kept state
    assert again.enrolled.endswith("(kept)") and "step intro" in again.enrolled
    assert len(sent) == 1 and again.mail == first.mail

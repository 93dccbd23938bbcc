"""A proof: the email one step would send one contact, prepared as the send prepares it
(locale, A/B variant, sandboxed render, tracked links, open pixel, List-Unsubscribe headers),
for a person to review before anything goes out. Nothing is sent and nothing is stored.

Its tracking tokens have the real form but are signed with a throwaway key, so opening the
proof (its pixel) or clicking its links records nothing: the click page says the link is not
valid. The destination of every tracked link comes with the proof instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path

from chalicelib import catalog
from chalicelib.compose import Composer
from chalicelib.errors import BadTemplate, ContactNotFound, InvalidInput, UnknownStep
from chalicelib.profiles import Profile
from chalicelib.send import Message, SendJob, Skip
from chalicelib.store import Table, Versions
from chalicelib.tokens import Keyring

__all__ = ["Proof", "Written", "prepare", "write"]

PROOF_KEY = "proof"


@dataclass(frozen=True)
class Proof:
    sequence_id: str
    version: int
    step_id: str
    message: Message


@dataclass(frozen=True)
class Written:
    html: Path
    text: Path
    eml: Path


def prepare(
    table: Table,
    versions: Versions,
    composer: Composer,
    contact_id: str,
    sequence_id: str,
    step_id: str | None = None,
    variant: str | None = None,
) -> Proof:
    """The message the newest version's step (default: the first) would send the contact;
    `variant` picks an A/B variant (default: the one this contact would get)."""
    item = table.profile(contact_id)
    if item is None:
        raise ContactNotFound(f"contact: no contact {contact_id!r}")
    sequence, version = catalog.newest(versions, sequence_id)
    step_id = step_id or sequence.steps[0].id
    try:
        step = sequence.step(step_id)
    except KeyError:
        raise UnknownStep(f"step: {sequence_id!r} has no step {step_id!r}") from None
    known = [v.id for v in step.variants or ()]
    if variant is not None and variant not in known:
        offered = ", ".join(known) or "none"
        raise InvalidInput("variant", f"step {step_id!r} has no variant {variant!r} ({offered})")
    throwaway = Keyring(PROOF_KEY, {PROOF_KEY: secrets.token_bytes(32)})
    compose = replace(composer, keys=lambda: throwaway)
    job = SendJob(contact_id, sequence_id, version, step_id, 0, secrets.token_hex(6))
    try:
        message = compose(job, Profile.from_item(contact_id, item), job.send_id, variant)
    except Skip as skipped:
        cause = skipped.__cause__
        if isinstance(cause, BadTemplate):
            raise cause from None
        raise
    return Proof(sequence_id, version, step_id, message)


def write(proof: Proof, directory: Path) -> Written:
    """The HTML part, the text part, and the whole message as an .eml file (headers and
    both parts, for a mail client), named after the sequence, step and variant."""
    message = proof.message
    stem = "-".join(p for p in (proof.sequence_id, proof.step_id, message.variant) if p)
    directory.mkdir(parents=True, exist_ok=True)
    written = Written(
        directory / f"{stem}.html", directory / f"{stem}.txt", directory / f"{stem}.eml"
    )
    written.html.write_text(message.html, encoding="utf-8")
    written.text.write_text(message.text, encoding="utf-8")
    mail = EmailMessage()
    mail["From"] = message.sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    for name, value in message.headers.items():
        mail[name] = value
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    written.eml.write_bytes(mail.as_bytes())
    return written

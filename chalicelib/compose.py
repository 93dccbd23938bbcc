"""From a send job to a ready message: the pinned step, the contact's locale, the A/B variant.

Variants are chosen by a hash of (contact, sequence, step), so a retried send renders the same
variant; locales fall back from `pt-BR` to `pt` to the sequence's default.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import render
from chalicelib.config import Settings
from chalicelib.profiles import Profile
from chalicelib.send import Message, SendJob, Skip
from chalicelib.sequences import Sequence, Step, TemplateSpec
from chalicelib.tokens import Keyring


def choose(
    step: Step, locale: str | None, default_locale: str, seed: str, variant: str | None = None
) -> tuple[TemplateSpec, str]:
    """The template for this contact and the variant id (`""` without A/B variants); a
    `variant` named by its id is taken as it is (a proof of that variant)."""
    templates = step.template
    if variant is not None:
        templates = next((v.template for v in step.variants or () if v.id == variant), None)
    elif step.variants:
        point = int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % sum(
            v.weight for v in step.variants
        )
        for candidate in step.variants:
            if point < candidate.weight:
                templates, variant = candidate.template, candidate.id
                break
            point -= candidate.weight
    if templates is None:  # the model requires template or variants: a variant it lacks
        raise KeyError(f"step {step.id!r} has no variant {variant!r}")
    variant = variant or ""
    wanted = (locale or "").replace("_", "-")
    for key in (wanted, wanted.split("-")[0], default_locale):
        if key in templates:
            return templates[key], variant
    raise KeyError(f"step {step.id!r} has no {default_locale!r} template")


@dataclass(frozen=True)
class Composer:
    sequences: Callable[[str, int], Sequence]
    keys: Callable[[], Keyring]
    settings: Settings
    clock: Callable[[], float] = time.time

    def __call__(
        self, job: SendJob, profile: Profile, send_id: str, variant: str | None = None
    ) -> Message:
        sequence = self.sequences(job.sequence_id, job.version)
        step = sequence.step(job.step_id)
        spec, chosen = choose(
            step,
            profile.locale,
            sequence.default_locale,
            f"{job.contact_id}\x1f{job.sequence_id}\x1f{job.step_id}",
            variant,
        )
        try:
            prepared = render.prepare(
                render.TemplateSet(spec.subject, spec.html or "", spec.text),
                profile.template_fields(self.clock()),
                contact_id=job.contact_id,
                send_id=send_id,
                issued_at=int(self.clock()),
                keyring=self.keys(),
                base_url=self.settings.base_url,
                unsubscribe_mailto=self.settings.unsubscribe_mailto or None,
                sequence={"id": sequence.id, "name": sequence.name},
                step={"id": step.id, "variant": chosen},
                event=job.context,
            )
        except render.BadTemplate as exc:
            raise Skip("template_error") from exc
        return Message(
            self.settings.sender,
            str(profile.email),
            prepared.subject,
            prepared.html,
            prepared.text,
            prepared.headers,
            prepared.link_tags,
            chosen,
            prepared.links,
        )

"""The composition root: AWS clients and use-case objects, built once per Lambda container.

boto3 honours `AWS_ENDPOINT_URL`, which is how the local stack points everything at moto.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import boto3

from chalicelib import secrets
from chalicelib.config import settings
from chalicelib.errors import ConfigError, InvalidInput
from chalicelib.parking import Parking
from chalicelib.store import Table
from chalicelib.tokens import Keyring
from chalicelib.tracking import Tracker

if TYPE_CHECKING:
    from chalicelib.audience import Catalogue
    from chalicelib.behaviour import Behaviour
    from chalicelib.compose import Composer
    from chalicelib.gates import Gates
    from chalicelib.imports import ImportObjects, ImportQueue, Imports
    from chalicelib.imports import Worker as ImportWorker
    from chalicelib.inactivity import Inactivity
    from chalicelib.journey import Journey
    from chalicelib.outbound import Deliverer, DeliveryQueue, Publisher, WebhookAdmin
    from chalicelib.people.gdpr import Gdpr
    from chalicelib.people.view import View
    from chalicelib.profiles import Profile
    from chalicelib.rollup import RollUp
    from chalicelib.schedule import Scheduler
    from chalicelib.scoring.service import Scores
    from chalicelib.sequences import Sequence
    from chalicelib.store import Deliveries, ModelKind, Versions, Webhooks
    from chalicelib.streams import Consumer
    from chalicelib.triggers import Index, Triggers


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service)


def table() -> Table:
    return Table(client("dynamodb"), settings().table)


def versions(kind: ModelKind = "sequence") -> Versions:
    from chalicelib.store import Versions

    return Versions(table(), kind)


def catalogue() -> Catalogue:
    """The newest segments and stages with the configured topics (two listings; each version
    is parsed once per container)."""
    from chalicelib.audience import Catalogue

    return Catalogue.read(versions("segment"), versions("stages"), settings().topics)


def behaviour(index: Index | None = None) -> Behaviour:
    """The contacts' behaviour summaries, segments, stages, scores and inactivity checks; built
    per stream batch, so a pushed segment, stage, scoring or sequence change is used from the
    next batch on."""
    from chalicelib.behaviour import Behaviour

    found = catalogue()
    return Behaviour(
        table(),
        found,
        settings().event_retention_days,
        scores=scores(found),
        inactivity=inactivity(index),
    )


def parking() -> Parking:
    return Parking(client("sqs"), settings().park_queue_url)


def keyring() -> Keyring:
    return secrets.keyring(settings())


def api_secrets() -> secrets.ApiSecrets:
    return secrets.api_secrets(settings())


def conversion_secrets() -> tuple[str, ...]:
    return secrets.conversion_secrets(settings())


@cache
def tracker() -> Tracker:
    return Tracker(settings(), keyring, table(), parking())


@lru_cache(maxsize=64)
def sequence(sequence_id: str, version: int) -> Sequence:
    """A pinned sequence version; versions are immutable, so each is loaded once per container."""
    from chalicelib import catalog

    return catalog.load(versions(), sequence_id, version)


def composer() -> Composer:
    """From a send job to a ready message: the sequence version, keys and settings it uses."""
    from chalicelib.compose import Composer

    return Composer(sequence, keyring, settings())


@cache
def journey() -> Journey:
    """Sending and sequencing; imported on first use to keep them off the pixel's cold start."""
    from chalicelib.caps import CapPolicy
    from chalicelib.journey import Journey
    from chalicelib.localtime import validate_zone
    from chalicelib.send import Sender
    from chalicelib.store import Sends

    config = settings()
    missing = [
        name
        for name, value in (
            ("NURTURE_SENDER", config.sender),
            ("NURTURE_SCHEDULE_TARGET_ARN", config.schedule_target_arn),
            ("NURTURE_SCHEDULER_ROLE_ARN", config.scheduler_role_arn),
            ("NURTURE_SCHEDULE_DLQ_ARN", config.schedule_dlq_arn),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"sending and scheduling need {', '.join(missing)}")
    if any(char in config.sender for char in "\r\n\x00"):
        raise ConfigError("NURTURE_SENDER: line breaks are not allowed in a From address")
    try:
        validate_zone(config.default_timezone)
    except ValueError as err:
        raise ConfigError(f"NURTURE_DEFAULT_TIMEZONE: {err}") from None
    sender = Sender(
        Sends(table()),
        table(),
        client("sesv2"),
        composer(),
        config.ses_configuration_set,
        max_rate=config.ses_max_send_rate,
    )
    caps = CapPolicy(config.default_timezone)
    return Journey(table(), versions(), scheduler(), sender, sequence, caps, gates=gates())


@cache
def scheduler() -> Scheduler:
    """One-time schedules for due minutes (one per container: it remembers what it made)."""
    from chalicelib.schedule import Scheduler

    config = settings()
    return Scheduler(
        client("scheduler"),
        config.schedule_group,
        config.schedule_target_arn,
        config.scheduler_role_arn,
        config.schedule_dlq_arn,
    )


def scores(found: Catalogue | None = None) -> Scores:
    """Lead scores: from the stream, at decay deadlines, receipts and rescoring; the newest
    scoring version is read once per use (a push applies from the next batch on)."""
    from chalicelib.scoring.service import Scores

    found = found or catalogue()
    return Scores(
        table(),
        versions("scoring"),
        scheduler(),
        found.topics,
        found.stage_names,
        settings().event_retention_days,
    )


def gates() -> Gates:
    """Topic, consent and segment rules of sends; segments are evaluated when a step asks."""
    from chalicelib.gates import Gates

    return Gates(member=_member)


def _member(profile: Profile, segment_id: str) -> bool:
    from datetime import UTC, datetime

    found = catalogue()
    if segment_id not in found.segments:
        return False  # a segment named at push that is gone: nobody is in it
    return found.matcher(segment_id, datetime.now(UTC))(profile)


def triggers_index() -> Index:
    """The newest sequences that start or end on their own (one listing per call)."""
    from chalicelib.triggers import Index

    return Index.read(versions(), sequence)


def inactivity(index: Index | None = None) -> Inactivity:
    """Inactivity checks for the spells the newest sequences start on (read once per use)."""
    from chalicelib.inactivity import Inactivity

    spells = (index or triggers_index()).inactivity
    return Inactivity(table(), scheduler(), spells, settings().event_retention_days)


def triggers(index: Index | None = None) -> Triggers:
    """Sequences that start or end on their own, from the stream (built per batch)."""
    from chalicelib.triggers import Triggers

    flow = journey()
    return Triggers(table(), index or triggers_index(), flow, flow.gates)


def report(
    sequence_id: str,
    since: str | None,
    until: str | None,
    segment: str | None = None,
    stage: str | None = None,
    recount: bool = False,
) -> dict[str, Any]:
    """The report of the newest version of a sequence (see `reporting.document`); `segment`
    and `stage` must be pushed ids; `recount` adds up every mark instead of reading the
    rollup's totals."""
    from datetime import UTC, datetime

    from chalicelib import catalog, reporting
    from chalicelib.funnel import Funnel

    window = reporting.days(since, until)
    audience = (segment, stage)
    if segment is not None or stage is not None:
        known = catalogue()
        audience = reporting.audience(segment, stage, known.segments, known.stage_names)
    sequence, stored = catalog.newest_stored(versions(), sequence_id)
    counted = Funnel(table()).counted(sequence.id, recount)
    return reporting.document(
        sequence,
        stored.version,
        stored.pushed_at,
        counted,
        datetime.now(UTC),
        *window,
        *audience,
    )


def rollup() -> RollUp:
    """The funnel's rollup job, over every pushed sequence."""
    from chalicelib.rollup import RollUp

    return RollUp(table(), lambda: [head.model_id for head in versions().heads()])


def report_by(sequence_id: str, by: str) -> dict[str, Any]:
    """A sequence's enrollments by the contacts' `stage` or `segment` now (a table scan)."""
    from datetime import UTC, datetime

    from chalicelib import audience, catalog

    sequence, _ = catalog.newest(versions(), sequence_id)
    if by not in ("stage", "segment"):
        raise InvalidInput("by", "must be stage or segment")
    now = datetime.now(UTC)
    groups = audience.report_by(table(), catalogue(), sequence.id, by, now)
    return {"sequence_id": sequence.id, "by": by, "groups": groups}


def contact_view() -> View:
    """One contact's profile, sends and timeline (the marketer API and the CLI)."""
    from chalicelib.people.view import View

    return View(table(), versions(), sequence)


def gdpr() -> Gdpr:
    """Export and erasure of a contact; pending timers are found through the due schedules."""
    from chalicelib.people.gdpr import Gdpr
    from chalicelib.schedule import pending_minutes

    group = settings().schedule_group
    return Gdpr(contact_view(), lambda: pending_minutes(client("scheduler"), group))


def stream_consumers() -> list[Consumer]:
    """What the table's stream feeds, in order: rules and funnel, the behaviour summary, the
    sequences that start or end on their own, then outbound."""
    from chalicelib import streams
    from chalicelib.funnel import Funnel

    index = triggers_index()  # the sequences with triggers, read once per batch
    consumers: list[Consumer] = [
        streams.engagement(journey(), Funnel(table())),
        streams.counted,
        streams.behaviour(behaviour(index)),
        streams.triggers(triggers(index)),
    ]
    if settings().webhook_queue_url or settings().event_bus:
        consumers.append(publisher())
    return consumers


def webhooks() -> Webhooks:
    from chalicelib.store import Webhooks

    return Webhooks(table())


def deliveries() -> Deliveries:
    from chalicelib.store import Deliveries

    return Deliveries(table())


@cache
def publisher() -> Publisher:
    from chalicelib.outbound import Bus, Publisher, SubscriptionCache

    config = settings()
    bus = Bus(client("events"), config.event_bus) if config.event_bus else None
    return Publisher(
        table(),
        deliveries(),
        SubscriptionCache(versions("webhooks")),
        _delivery_queue(),
        bus,
        config.webhook_retention_days,
    )


@cache
def deliverer() -> Deliverer:
    """Webhook attempts (the delivery queue's consumer) and their due-minute retries."""
    from chalicelib.outbound import Deliverer, SubscriptionCache, Transport
    from chalicelib.schedule import Scheduler

    config = settings()
    missing = [
        name
        for name, value in (
            ("NURTURE_WEBHOOK_RETRY_TARGET_ARN", config.webhook_retry_target_arn),
            ("NURTURE_WEBHOOK_SCHEDULER_ROLE_ARN", config.webhook_scheduler_role_arn),
            ("NURTURE_WEBHOOK_SCHEDULE_DLQ_ARN", config.webhook_schedule_dlq_arn),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"webhook retries need {', '.join(missing)}")
    retries = Scheduler(
        client("scheduler"),
        config.webhook_schedule_group,
        config.webhook_retry_target_arn,
        config.webhook_scheduler_role_arn,
        config.webhook_schedule_dlq_arn,
    )
    return Deliverer(
        deliveries(),
        webhooks(),
        SubscriptionCache(versions("webhooks")).by_id,
        Transport(config.webhook_allowed_origins, config.webhook_timeout_seconds),
        _delivery_queue(),
        retries,
        timedelta(hours=config.webhook_disable_after_hours),
    )


def webhook_admin() -> WebhookAdmin:
    from chalicelib.outbound import WebhookAdmin, system_resolver

    config = settings()
    return WebhookAdmin(
        webhooks(),
        deliveries(),
        versions("webhooks"),
        deliverer(),
        client("sqs"),
        config.webhook_dlq_url,
        config.webhook_allowed_origins,
        system_resolver,
    )


def _delivery_queue() -> DeliveryQueue:
    from chalicelib.outbound import DeliveryQueue

    config = settings()
    if not config.webhook_queue_url or not config.webhook_dlq_url:
        raise ConfigError("webhooks need NURTURE_WEBHOOK_QUEUE_URL and NURTURE_WEBHOOK_DLQ_URL")
    return DeliveryQueue(client("sqs"), config.webhook_queue_url, config.webhook_dlq_url)


def imports() -> Imports:
    """Contact import jobs: create (an upload URL), start, progress and error report."""
    from chalicelib.imports import Imports
    from chalicelib.store.imports import ImportJobs

    config = settings()
    return Imports(
        ImportJobs(table()),
        _import_objects(),
        import_queue(),
        max_bytes=config.import_max_bytes,
        url_seconds=config.import_url_seconds,
    )


def import_worker() -> ImportWorker:
    """The worker that imports an uploaded file chunk by chunk from its checkpoint."""
    import time

    from chalicelib.contacts import new_contact_id
    from chalicelib.imports import Worker
    from chalicelib.stamps import iso
    from chalicelib.store.imports import ImportJobs

    return Worker(
        table(),
        ImportJobs(table()),
        _import_objects(),
        now=lambda: iso(time.time()),
        new_id=new_contact_id,
    )


def import_queue() -> ImportQueue:
    from chalicelib.imports import ImportQueue

    return ImportQueue(
        client("sqs"), _import_setting(settings().import_queue_url, "NURTURE_IMPORT_QUEUE_URL")
    )


def _import_objects() -> ImportObjects:
    from chalicelib.imports import ImportObjects

    return ImportObjects(
        client("s3"), _import_setting(settings().import_bucket, "NURTURE_IMPORT_BUCKET")
    )


def _import_setting(value: str, variable: str) -> str:
    if not value:
        raise ConfigError(f"import jobs need {variable} (`nurture config from-stack` sets it)")
    return value

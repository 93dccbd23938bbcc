"""Settings from the environment, read once. Every variable, its default and meaning is here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache

from chalicelib.errors import ConfigError

DAY = 86_400


@dataclass(frozen=True)
class Settings:
    table: str = "nurture"
    base_url: str = "http://127.0.0.1:8000"
    park_queue_url: str = ""
    event_retention_days: int = 400
    link_max_age_days: int = 3650
    scanner_click_seconds: int = 10
    machine_open_seconds: int = 2
    topics: tuple[str, ...] = ("product", "newsletter", "offers", "events")
    signature_tolerance_seconds: int = 300
    api_auth: str = "key"
    sender: str = ""
    unsubscribe_mailto: str = ""
    ses_configuration_set: str = "nurture"
    ses_max_send_rate: int = 14
    schedule_group: str = "nurture"
    scheduler_role_arn: str = ""
    schedule_target_arn: str = ""
    schedule_dlq_arn: str = ""
    # The dead-letter queues `nurture dlq redrive` replays (the CLI only; stack outputs).
    park_dlq_url: str = ""
    schedule_dlq_url: str = ""
    ses_event_dlq_url: str = ""
    stream_dlq_url: str = ""
    # The zone of the frequency cap's day and week for contacts with no zone of their own
    # and no country that decides one.
    default_timezone: str = "UTC"
    # Transient bounces (each SES message once) of one address within the window (days) that
    # suppress it.
    soft_bounce_limit: int = 3
    soft_bounce_window_days: int = 30
    # Outbound: the EventBridge bus, the webhook delivery queue, its dead-letter queue and the
    # Scheduler group whose one-per-minute schedules fire due retries.
    event_bus: str = ""
    webhook_queue_url: str = ""
    webhook_dlq_url: str = ""
    webhook_schedule_group: str = "nurture-webhooks"
    webhook_retry_target_arn: str = ""
    webhook_scheduler_role_arn: str = ""
    webhook_schedule_dlq_arn: str = ""
    # Origins (scheme://host:port) exempt from the https-only and public-address rules: the
    # local stack's receiver only. Empty in AWS.
    webhook_allowed_origins: tuple[str, ...] = ()
    webhook_timeout_seconds: int = 10
    webhook_disable_after_hours: int = 72
    webhook_retention_days: int = 30
    # Contact import jobs: the bucket uploads and error reports live in, the queue that drives
    # the worker, the largest upload, and how long an upload or report URL is valid.
    import_bucket: str = ""
    import_queue_url: str = ""
    import_dlq_url: str = ""
    import_max_bytes: int = 1 << 30
    import_url_seconds: int = 3600
    # Secrets come either inline (local stack, tests) or from Secrets Manager (AWS).
    signing_keys: str = field(default="", repr=False)
    signing_keys_secret: str = ""
    api_keys: str = field(default="", repr=False)
    api_keys_secret: str = ""
    # In AWS the conversion secrets have a secret of their own (the public function reads only
    # it and the signing keys); unset, they come from the API keys document.
    conversion_secrets_secret: str = ""


_ENV = {
    "table": "NURTURE_TABLE",
    "base_url": "NURTURE_BASE_URL",
    "park_queue_url": "NURTURE_PARK_QUEUE_URL",
    "event_retention_days": "NURTURE_EVENT_RETENTION_DAYS",
    "link_max_age_days": "NURTURE_LINK_MAX_AGE_DAYS",
    "scanner_click_seconds": "NURTURE_SCANNER_CLICK_SECONDS",
    "machine_open_seconds": "NURTURE_MACHINE_OPEN_SECONDS",
    "topics": "NURTURE_TOPICS",
    "signature_tolerance_seconds": "NURTURE_SIGNATURE_TOLERANCE_SECONDS",
    "api_auth": "NURTURE_API_AUTH",
    "sender": "NURTURE_SENDER",
    "unsubscribe_mailto": "NURTURE_UNSUBSCRIBE_MAILTO",
    "ses_configuration_set": "NURTURE_SES_CONFIGURATION_SET",
    "ses_max_send_rate": "NURTURE_SES_MAX_SEND_RATE",
    "schedule_group": "NURTURE_SCHEDULE_GROUP",
    "scheduler_role_arn": "NURTURE_SCHEDULER_ROLE_ARN",
    "schedule_target_arn": "NURTURE_SCHEDULE_TARGET_ARN",
    "schedule_dlq_arn": "NURTURE_SCHEDULE_DLQ_ARN",
    "park_dlq_url": "NURTURE_PARK_DLQ_URL",
    "schedule_dlq_url": "NURTURE_SCHEDULE_DLQ_URL",
    "ses_event_dlq_url": "NURTURE_SES_EVENT_DLQ_URL",
    "stream_dlq_url": "NURTURE_STREAM_DLQ_URL",
    "soft_bounce_limit": "NURTURE_SOFT_BOUNCE_LIMIT",
    "soft_bounce_window_days": "NURTURE_SOFT_BOUNCE_WINDOW_DAYS",
    "default_timezone": "NURTURE_DEFAULT_TIMEZONE",
    "event_bus": "NURTURE_EVENT_BUS",
    "webhook_queue_url": "NURTURE_WEBHOOK_QUEUE_URL",
    "webhook_dlq_url": "NURTURE_WEBHOOK_DLQ_URL",
    "webhook_schedule_group": "NURTURE_WEBHOOK_SCHEDULE_GROUP",
    "webhook_retry_target_arn": "NURTURE_WEBHOOK_RETRY_TARGET_ARN",
    "webhook_scheduler_role_arn": "NURTURE_WEBHOOK_SCHEDULER_ROLE_ARN",
    "webhook_schedule_dlq_arn": "NURTURE_WEBHOOK_SCHEDULE_DLQ_ARN",
    "webhook_allowed_origins": "NURTURE_WEBHOOK_ALLOWED_ORIGINS",
    "webhook_timeout_seconds": "NURTURE_WEBHOOK_TIMEOUT_SECONDS",
    "webhook_disable_after_hours": "NURTURE_WEBHOOK_DISABLE_AFTER_HOURS",
    "webhook_retention_days": "NURTURE_WEBHOOK_RETENTION_DAYS",
    "import_bucket": "NURTURE_IMPORT_BUCKET",
    "import_queue_url": "NURTURE_IMPORT_QUEUE_URL",
    "import_dlq_url": "NURTURE_IMPORT_DLQ_URL",
    "import_max_bytes": "NURTURE_IMPORT_MAX_BYTES",
    "import_url_seconds": "NURTURE_IMPORT_URL_SECONDS",
    "signing_keys": "NURTURE_SIGNING_KEYS",
    "signing_keys_secret": "NURTURE_SIGNING_KEYS_SECRET",
    "api_keys": "NURTURE_API_KEYS",
    "api_keys_secret": "NURTURE_API_KEYS_SECRET",
    "conversion_secrets_secret": "NURTURE_CONVERSION_SECRETS_SECRET",
}


def from_environ(environ: dict[str, str]) -> Settings:
    """Build settings from `environ`; unset variables keep the documented defaults."""
    values: dict[str, object] = {}
    for name, var in _ENV.items():
        raw = environ.get(var)
        if raw is None:
            continue
        default = getattr(Settings, name)
        if isinstance(default, int):
            values[name] = _int(var, raw)
        elif isinstance(default, tuple):
            values[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
        else:
            values[name] = raw
    return Settings(**values)  # type: ignore[arg-type]


@cache
def settings() -> Settings:
    """The process-wide settings (read once per Lambda container)."""
    return from_environ(dict(os.environ))


def _int(var: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{var}: expected an integer, got {raw!r}") from None

"""Deployment settings: read from an optional JSON file, overridden by CDK context keys."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE_CONTEXT_KEY = "config"
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config.json"
_EMAIL = re.compile(r"^[^@\s]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")
_DOMAIN = re.compile(r"^([A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")
_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_LIMITS = (
    "public_rate_limit",
    "public_burst_limit",
    "public_concurrency",
    "public_waf_rate_limit",
    "table_max_write_units",
    "table_max_read_units",
)


class ConfigError(ValueError):
    """A deployment setting is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class StackConfig:
    """Everything that differs between deployments of the same code."""

    sender: str
    stage: str = "dev"
    sender_address: str = ""
    tracking_domain: str = ""
    tracking_certificate_arn: str = ""
    ses_max_send_rate: float = 14.0
    event_retention_days: int = 400
    event_archive_days: int = 90
    manage_ses_identity: bool = True
    alarm_email: str = ""
    # Limits on the public routes: requests per second (and burst) at the front door, the
    # public function's reserved concurrency (a flood cannot starve the sender), and a WAF
    # rate-based rule per client IP per 5 minutes (0: off; on moves them to a REST API).
    public_rate_limit: int = 1000
    public_burst_limit: int = 2000
    public_concurrency: int = 50
    public_waf_rate_limit: int = 0
    # The table's on-demand ceiling (request units per second): caps what a flood can cost.
    table_max_write_units: int = 2000
    table_max_read_units: int = 4000
    # API Gateway's account-wide CloudWatch role (REST access logs need one per region).
    apigateway_cloudwatch_role: bool = True

    @property
    def sender_domain(self) -> str:
        """The domain identity that authorises sending for this sender."""
        return self.sender.rsplit("@", 1)[-1]

    @property
    def from_address(self) -> str:
        """The From address: the sender itself if it is an email, else sender_address."""
        return self.sender if "@" in self.sender else self.sender_address

    @property
    def ses_identities(self) -> tuple[str, ...]:
        """SES identities SendEmail may be authorised against (email and/or its domain)."""
        if "@" in self.sender:
            return (self.sender, self.sender_domain)
        return (self.sender,)


def load_config(context: dict[str, Any]) -> StackConfig:
    """Merge the config file (context key `config`, default infra/config.json) with context."""
    path = Path(context.get(CONFIG_FILE_CONTEXT_KEY) or DEFAULT_CONFIG_FILE)
    values: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    for name in StackConfig.__dataclass_fields__:
        if context.get(name) is not None:
            values[name] = context[name]
    unknown = sorted(set(values) - set(StackConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown} in {path} or CDK context")
    return validate(_coerce(values))


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """CDK context given on the command line (-c key=value) always arrives as a string."""
    out = dict(values)
    numbers = {
        "ses_max_send_rate": float,
        "event_retention_days": int,
        "event_archive_days": int,
        **dict.fromkeys(_LIMITS, int),
    }
    for name, kind in numbers.items():
        if name in out:
            try:
                out[name] = kind(out[name])
            except (TypeError, ValueError):
                raise ConfigError(f"{name}: expected a number, got {out[name]!r}") from None
    for flag in ("manage_ses_identity", "apigateway_cloudwatch_role"):
        if isinstance(out.get(flag), str):
            out[flag] = out[flag].lower() in {"true", "1", "yes"}
    return out


def validate(values: dict[str, Any]) -> StackConfig:
    """Build the config, rejecting values that would only fail later inside CloudFormation."""
    if not values.get("sender"):
        raise ConfigError(
            "sender: required setting is missing; set it in infra/config.json or pass "
            "-c sender=news@example.com (an SES-verified email address or domain)"
        )
    config = StackConfig(**values)
    if not (_EMAIL.match(config.sender) or _DOMAIN.match(config.sender)):
        raise ConfigError(f"sender: {config.sender!r} is neither an email address nor a domain")
    if "@" not in config.sender and not _EMAIL.match(config.sender_address):
        raise ConfigError(
            f"sender_address: required when sender is a domain ({config.sender!r}); "
            "give the From address, e.g. news@" + config.sender
        )
    if not _STAGE.match(config.stage):
        raise ConfigError(f"stage: {config.stage!r} must be lowercase letters, digits, '-'")
    if config.tracking_domain and not config.tracking_certificate_arn.startswith("arn:"):
        raise ConfigError(
            "tracking_certificate_arn: required when tracking_domain is set "
            "(an ACM certificate ARN in the stack's region)"
        )
    if config.ses_max_send_rate <= 0:
        raise ConfigError(f"ses_max_send_rate: must be > 0, got {config.ses_max_send_rate}")
    for name in _LIMITS:
        if getattr(config, name) < 0 or (
            name != "public_waf_rate_limit" and not getattr(config, name)
        ):
            raise ConfigError(
                f"{name}: must be a positive whole number, got {getattr(config, name)}"
            )
    if 0 < config.public_waf_rate_limit < 10:
        raise ConfigError("public_waf_rate_limit: WAF's smallest rate limit is 10 (or 0: off)")
    if config.event_retention_days < 1:
        raise ConfigError(f"event_retention_days: must be >= 1, got {config.event_retention_days}")
    if not 1 <= config.event_archive_days <= 3650:
        raise ConfigError(
            f"event_archive_days: must be 1 to 3650 (days the bus archive keeps events), "
            f"got {config.event_archive_days}"
        )
    return config

"""Secrets: signing keys and API credentials, inline in the local stack, Secrets Manager in AWS.

Secrets Manager values are cached for five minutes, so a rotation reaches every warm Lambda
without a deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.config import Settings
from chalicelib.errors import ConfigError
from chalicelib.tokens import Keyring

CACHE_SECONDS = 300


@dataclass(frozen=True)
class ApiSecrets:
    """Marketer API keys (name → key) and the shared secrets that sign conversion callbacks."""

    api_keys: dict[str, str]
    conversion_secrets: tuple[str, ...]

    @classmethod
    def from_json(cls, text: str) -> ApiSecrets:
        try:
            doc = json.loads(text)
            keys = {str(k): str(v) for k, v in doc.get("api_keys", {}).items()}
            conversion = tuple(str(s) for s in doc.get("conversion_secrets", []))
        except (ValueError, AttributeError, TypeError) as exc:
            raise ConfigError(f"api keys: malformed document ({type(exc).__name__})") from exc
        if any(len(secret) < 16 for secret in (*keys.values(), *conversion)):
            raise ConfigError("api keys: every key and secret needs at least 16 characters")
        return cls(api_keys=keys, conversion_secrets=conversion)


def keyring(settings: Settings) -> Keyring:
    return _parsed_keyring(
        _document(settings.signing_keys, settings.signing_keys_secret, "signing")
    )


def api_secrets(settings: Settings) -> ApiSecrets:
    return _parsed_api_secrets(_document(settings.api_keys, settings.api_keys_secret, "api"))


def conversion_secrets(settings: Settings) -> tuple[str, ...]:
    """The secrets that sign conversion callbacks: their own secret in AWS, else the API keys
    document's `conversion_secrets`."""
    if settings.conversion_secrets_secret:
        text = _document("", settings.conversion_secrets_secret, "conversion")
        return _parsed_api_secrets(text).conversion_secrets
    return api_secrets(settings).conversion_secrets


# Parsing is cached by document text: the hot path pays for it once per key rotation.
_parsed_keyring = lru_cache(maxsize=4)(Keyring.from_json)
_parsed_api_secrets = lru_cache(maxsize=4)(ApiSecrets.from_json)


def _document(inline: str, secret_name: str, what: str) -> str:
    if inline:
        return inline
    if not secret_name:
        raise ConfigError(f"{what} keys: set NURTURE_{what.upper()}_KEYS or its _SECRET name")
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_name, max_age=CACHE_SECONDS)
    return value if isinstance(value, str) else value.decode()

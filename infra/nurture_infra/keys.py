"""Secrets: link-signing keys (must survive every deploy, or old links break) and API secrets.

Secrets Manager can only generate a top-level string field, but the app reads nested JSON. So a
seed secret generates the random value and the real secret embeds it through a CloudFormation
dynamic reference: the value never appears in the template. 64 alphanumerics are also valid
base64 (48 bytes), as the signing keyring expects.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Fn, RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

INITIAL_KEY_ID = "k1"
_SEED = "@@SEED@@"


def signing_keys_secret(scope: Construct, stage: str) -> list[secretsmanager.Secret]:
    """[keys, seed]: {"active": "k1", "keys": {"k1": <random>}}; one active signs, all verify."""
    return _seeded_secret(
        scope,
        "SigningKeys",
        secret_name=f"nurture/{stage}/signing-keys",
        description="nurture link-signing keys: the active one signs, every listed one verifies",
        document={"active": INITIAL_KEY_ID, "keys": {INITIAL_KEY_ID: _SEED}},
    )


def api_keys_secret(scope: Construct, stage: str) -> secretsmanager.Secret:
    """Marketer API keys (added by operators; in AWS the marketer API is IAM-authenticated)."""
    return secretsmanager.Secret(
        scope,
        "ApiKeys",
        secret_name=f"nurture/{stage}/api-keys",
        description="nurture marketer API keys",
        secret_string_value=SecretValue.unsafe_plain_text(json.dumps({"api_keys": {}})),
        removal_policy=RemovalPolicy.RETAIN,
    )


def conversion_secrets_secret(scope: Construct, stage: str) -> list[secretsmanager.Secret]:
    """[secret, seed]: the secrets that sign conversion callbacks; the only secret besides the
    signing keys the public function may read."""
    return _seeded_secret(
        scope,
        "ConversionSecrets",
        secret_name=f"nurture/{stage}/conversion-secrets",
        description="nurture: the secrets that sign server-to-server conversion callbacks",
        document={"conversion_secrets": [_SEED]},
    )


def _seeded_secret(
    scope: Construct, construct_id: str, *, secret_name: str, description: str, document: Any
) -> list[secretsmanager.Secret]:
    """The secret holding `document` with its one _SEED replaced by a generated value."""
    seed = secretsmanager.Secret(
        scope,
        f"{construct_id}Seed",
        description=f"Generated initial value inside {secret_name}",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True, include_space=False
        ),
        removal_policy=RemovalPolicy.RETAIN,
    )
    before, after = json.dumps(document).split(_SEED)
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        secret_name=secret_name,
        description=description,
        secret_string_value=SecretValue.unsafe_plain_text(
            Fn.join("", [before, seed.secret_value.unsafe_unwrap(), after])
        ),
        removal_policy=RemovalPolicy.RETAIN,
    )
    return [secret, seed]

"""Secrets: link-signing keys (must survive every deploy, or old links break) and API keys."""

from __future__ import annotations

import json

from aws_cdk import Fn, RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

INITIAL_KEY_ID = "k1"
_KEY_PLACEHOLDER = "@@KEY@@"


def signing_keys_secret(
    scope: Construct, stage: str
) -> tuple[secretsmanager.Secret, secretsmanager.Secret]:
    """Keys secret {"active": "k1", "keys": {"k1": <random>}} and its seed, both kept forever.

    Secrets Manager can only generate a top-level field, so a seed secret generates the key and
    the keys secret embeds it through a CloudFormation dynamic reference (never in the template).
    64 alphanumeric characters are also valid base64 (48 bytes), as the app expects.
    """
    seed = secretsmanager.Secret(
        scope,
        "SigningKeySeed",
        description="Random material for the first nurture link-signing key (k1)",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True, include_space=False
        ),
        removal_policy=RemovalPolicy.RETAIN,
    )
    document = json.dumps({"active": INITIAL_KEY_ID, "keys": {INITIAL_KEY_ID: _KEY_PLACEHOLDER}})
    before, after = document.split(_KEY_PLACEHOLDER)
    keys = secretsmanager.Secret(
        scope,
        "SigningKeys",
        secret_name=f"nurture/{stage}/signing-keys",
        description="nurture link-signing keys: one active signs, every listed key verifies",
        secret_string_value=SecretValue.unsafe_plain_text(
            Fn.join("", [before, seed.secret_value.unsafe_unwrap(), after])
        ),
        removal_policy=RemovalPolicy.RETAIN,
    )
    return keys, seed


def api_keys_secret(scope: Construct, stage: str) -> secretsmanager.Secret:
    """Marketer API keys (added by operators) and a generated HMAC secret for conversions."""
    return secretsmanager.Secret(
        scope,
        "ApiKeys",
        secret_name=f"nurture/{stage}/api-keys",
        description="nurture marketer API keys and the conversions HMAC secret",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template=json.dumps({"api_keys": {}}),
            generate_string_key="conversions_hmac_secret",
            password_length=64,
            exclude_punctuation=True,
            include_space=False,
        ),
        removal_policy=RemovalPolicy.RETAIN,
    )

"""Settings are validated before any construct exists, with messages that name the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from infra_testing import INFRA
from nurture_infra.config import ConfigError, StackConfig, load_config


def test_context_overrides_the_config_file_and_is_coerced(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"sender": "a@example.com", "stage": "prod"}))
    config = load_config({"config": str(file), "stage": "test", "ses_max_send_rate": "7"})
    assert config == StackConfig(sender="a@example.com", stage="test", ses_max_send_rate=7.0)
    assert config.ses_identities == ("a@example.com", "example.com")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sender": "not an address"}, r"^sender: "),
        ({"sender": "example.com"}, r"^sender_address: required when sender is a domain"),
        ({"sender": "a@example.com", "tracking_domain": "t.example.com"}, r"^tracking_cert"),
        ({"sender": "a@example.com", "stage": "Prod"}, r"^stage: "),
        ({"sender": "a@example.com", "event_retention_days": "0"}, r"^event_retention_days"),
        ({"sender": "a@example.com", "ses_max_send_rate": "fast"}, r"^ses_max_send_rate"),
        ({"sender": "a@example.com", "event_archive_days": "0"}, r"^event_archive_days: must"),
        ({"sender": "a@example.com", "event_archive_days": "soon"}, r"^event_archive_days: "),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"config": str(tmp_path / "absent.json"), **settings})


def test_unknown_setting_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    file.write_text(json.dumps({"sender": "a@example.com", "sendr": "typo"}))
    with pytest.raises(ConfigError, match="sendr"):
        load_config({"config": str(file)})


def test_synth_without_sender_exits_with_a_clear_message(tmp_path: Path) -> None:
    context = {"config": str(tmp_path / "absent.json"), "aws:cdk:bundling-stacks": []}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=INFRA,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "sender: required setting is missing" in result.stderr

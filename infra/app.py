"""CDK entry point: `python app.py` (or `npx cdk synth`) synthesizes and fails on cdk-nag errors."""

from __future__ import annotations

import sys

from nurture_infra.assembly import build_app, synth_errors
from nurture_infra.config import ConfigError


def main() -> int:
    """Exit 2 on a bad setting, 1 on unsuppressed cdk-nag findings, else write cdk.out."""
    try:
        app = build_app()
    except ConfigError as error:
        print(f"nurture infra config error: {error}", file=sys.stderr)
        return 2
    errors = synth_errors(app.synth())
    for error in errors:
        print(error, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

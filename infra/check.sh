#!/usr/bin/env bash
# Offline checks of the CDK app: synth (cdk-nag AwsSolutions errors fail it) and cfn-lint.
# Needs: a python with infra/requirements.txt installed ($PYTHON, default python3) and node.
# No AWS credentials: account and region are dummies and Lambda bundling is skipped.
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
outdir="$infra/cdk.out"
cfn_lint='import sys; from cfnlint.runner import main; sys.exit(main())'

export CDK_DEFAULT_ACCOUNT=123456789012 CDK_DEFAULT_REGION=eu-west-1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION
JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="$(node -p 'process.versions.node.split(".")[0]')"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

# Lint every shape of the stack: defaults; custom tracking domain + own identity off; the WAF
# switch (public routes on a REST API behind a rate-based rule).
synth() {
  local name="$1" context="$2"
  rm -rf "$outdir/$name"
  echo "== synth ($name) + cdk-nag"
  (cd "$infra" && CDK_OUTDIR="$outdir/$name" CDK_CONTEXT_JSON="$context" "$python" app.py)
  echo "== cfn-lint ($name)"
  (cd "$infra" && "$python" -c "$cfn_lint" --config-file .cfnlintrc.yaml -- "$outdir/$name"/*.template.json)
}

skip_bundling='"aws:cdk:bundling-stacks": []'
synth default "{$skip_bundling, \"sender\": \"news@example.com\"}"
synth domain "{$skip_bundling, \"sender\": \"example.com\", \"sender_address\": \"news@example.com\",
  \"stage\": \"prod\", \"tracking_domain\": \"t.example.com\", \"manage_ses_identity\": false,
  \"tracking_certificate_arn\": \"arn:aws:acm:eu-west-1:123456789012:certificate/0000\",
  \"alarm_email\": \"ops@example.com\"}"
synth waf "{$skip_bundling, \"sender\": \"news@example.com\", \"public_waf_rate_limit\": 600,
  \"apigateway_cloudwatch_role\": false}"
echo "infra checks passed"

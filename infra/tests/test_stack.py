"""The deployed shape the application and operators rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, assertions
from infra_testing import context, synth
from nurture_infra.assembly import build_app, synth_errors
from nurture_infra.config import ConfigError
from nurture_infra.functions import ALL_SPECS

from chalicelib.store import filter_patterns

Json = dict[str, Any]


def statements(template: assertions.Template) -> list[Json]:
    """Every IAM statement, from managed, inline and role-embedded policies."""
    found: list[Json] = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for resource in template.find_resources(kind).values():
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    for role in template.find_resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def only(template: assertions.Template, kind: str, props: Json | None = None) -> Json:
    (resource,) = template.find_resources(kind, {"Properties": props} if props else None).values()
    return resource


def test_table_has_pitr_streams_ttl_and_gsi(template: assertions.Template) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": assertions.Match.object_like(
                {
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                    "GlobalSecondaryIndexes": [assertions.Match.object_like({"IndexName": "GSI1"})],
                }
            ),
        },
    )


def test_no_wildcard_dynamodb_or_ses_actions(template: assertions.Template) -> None:
    for statement in statements(template):
        actions = as_list(statement["Action"])
        assert "*" not in actions
        for action in actions:
            if action.split(":")[0] in {"dynamodb", "ses"}:
                assert "*" not in action, statement
                # ListStreams is the one DynamoDB action without resource-level permissions.
                if action != "dynamodb:ListStreams":
                    assert "*" not in as_list(statement["Resource"]), statement


def test_each_scheduler_role_can_invoke_only_its_function(template: assertions.Template) -> None:
    """One role for sends (on_schedule), one for webhook retries (retry_webhooks)."""
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        assertions.Match.object_like(
                            {"Principal": {"Service": "scheduler.amazonaws.com"}}
                        )
                    ]
                }
            }
        },
    )
    handlers = {
        logical_id: fn["Properties"]["Handler"]
        for logical_id, fn in template.find_resources("AWS::Lambda::Function").items()
    }
    invoked = {}
    for role_id in roles:
        policies = [
            policy
            for policy in template.find_resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
        ]
        invokes = [
            statement
            for policy in policies
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if any(action.startswith("lambda:") for action in as_list(statement["Action"]))
        ]
        (statement,) = invokes
        assert statement["Action"] == "lambda:InvokeFunction"
        invoked[role_id] = handlers[statement["Resource"]["Fn::GetAtt"][0]]
    assert sorted(invoked.values()) == ["app.on_schedule", "app.retry_webhooks"]


def test_stream_mapping_reports_partial_failures(template: assertions.Template) -> None:
    mapping = only(
        template,
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": {"Fn::GetAtt": [assertions.Match.any_value(), "StreamArn"]}},
    )["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert "Destination" in mapping["DestinationConfig"]["OnFailure"]


def test_stream_mapping_filters_and_batches(template: assertions.Template) -> None:
    """Lambda is invoked only for the changes the consumers act on (the app's one list), in
    batches gathered over a short window, one batch at a time per shard (in order)."""
    mapping = only(
        template,
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": {"Fn::GetAtt": [assertions.Match.any_value(), "StreamArn"]}},
    )["Properties"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == filter_patterns()
    assert len(patterns) <= 5  # Lambda's default quota of filters per event source mapping
    assert 0 < mapping["MaximumBatchingWindowInSeconds"] <= 30
    assert mapping.get("ParallelizationFactor", 1) == 1


def test_park_queue_consumer_reports_partial_failures(template: assertions.Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [assertions.Match.string_like_regexp("^Park"), "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_alarms_cover_errors_throttles_dead_letters_and_ses_reputation(
    template: assertions.Template,
) -> None:
    metrics = [
        a["Properties"]["MetricName"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    ]
    assert metrics.count("Errors") == len(ALL_SPECS)
    assert metrics.count("Throttles") == len(ALL_SPECS)
    assert metrics.count("ApproximateNumberOfMessagesVisible") == 5
    assert {"Reputation.BounceRate", "Reputation.ComplaintRate"} <= set(metrics)


def test_every_lambda_runs_a_supported_python(template: assertions.Template) -> None:
    functions = template.find_resources("AWS::Lambda::Function").values()
    assert {fn["Properties"]["Runtime"] for fn in functions} <= {"python3.12", "python3.13"}
    assert {fn["Properties"]["Handler"] for fn in functions} == {s.handler for s in ALL_SPECS}


def test_api_serves_binary_for_any_accept_header(template: assertions.Template) -> None:
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"BinaryMediaTypes": ["*/*"]})


def test_functions_get_the_app_environment(template: assertions.Template) -> None:
    for fn in template.find_resources("AWS::Lambda::Function").values():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert {
            "NURTURE_TABLE",
            "NURTURE_BASE_URL",
            "NURTURE_SIGNING_KEYS_SECRET",
            "NURTURE_PARK_QUEUE_URL",
            "NURTURE_SES_CONFIGURATION_SET",
            "NURTURE_SENDER",
            "NURTURE_SCHEDULE_GROUP",
            "NURTURE_SCHEDULER_ROLE_ARN",
            "NURTURE_SCHEDULE_TARGET_ARN",
            "NURTURE_SCHEDULE_DLQ_ARN",
            "NURTURE_API_KEYS_SECRET",
            "NURTURE_EVENT_RETENTION_DAYS",
        } <= set(variables)
        assert variables["POWERTOOLS_SERVICE_NAME"] == "nurture"


def test_state_survives_teardown(template: assertions.Template) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"):
        for resource in template.find_resources(kind).values():
            assert resource["DeletionPolicy"] == "Retain"


def test_signing_keys_value_is_frozen(template: assertions.Template) -> None:
    """A change here makes CloudFormation overwrite the key ring: every old link would break."""
    secrets = template.find_resources("AWS::SecretsManager::Secret")
    (seed_id,) = [k for k in secrets if k.startswith("SigningKeysSeed")]
    secret = only(template, "AWS::SecretsManager::Secret", {"Name": "nurture/dev/signing-keys"})
    assert secret["Properties"]["SecretString"] == {
        "Fn::Join": [
            "",
            [
                '{"active": "k1", "keys": {"k1": "{{resolve:secretsmanager:',
                {"Ref": seed_id},
                ':SecretString:::}}"}}',
            ],
        ]
    }


def test_api_secret_has_the_apps_shape(template: assertions.Template) -> None:
    secret = only(template, "AWS::SecretsManager::Secret", {"Name": "nurture/dev/api-keys"})
    before = secret["Properties"]["SecretString"]["Fn::Join"][1][0]
    assert before == '{"api_keys": {}, "conversion_secrets": ["{{resolve:secretsmanager:'


def test_cdk_nag_reports_no_unsuppressed_findings(default_app: App) -> None:
    assert synth_errors(default_app.synth()) == []


def test_missing_sender_fails_naming_the_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ConfigError, match=r"^sender: required setting is missing"):
        build_app(context(tmp_path_factory))


def test_custom_domain_becomes_the_base_url(tmp_path_factory: pytest.TempPathFactory) -> None:
    template = synth(
        build_app(
            context(
                tmp_path_factory,
                sender="news@example.com",
                tracking_domain="t.example.com",
                tracking_certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0",
            )
        )
    )
    template.has_resource_properties("AWS::ApiGateway::DomainName", {"DomainName": "t.example.com"})
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"DisableExecuteApiEndpoint": True}
    )
    for fn in template.find_resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["Environment"]["Variables"]["NURTURE_BASE_URL"] == (
            "https://t.example.com"
        )


def test_marketer_api_needs_iam_and_recipient_routes_are_open(
    template: assertions.Template,
) -> None:
    """Every /api route but the HMAC-signed conversions callback is SigV4-only."""
    resources = template.find_resources("AWS::ApiGateway::Resource")
    parts = {rid: r["Properties"]["PathPart"] for rid, r in resources.items()}
    parents = {rid: r["Properties"]["ParentId"] for rid, r in resources.items()}

    def path(rid: str) -> str:
        parent = parents[rid].get("Ref") if isinstance(parents[rid], dict) else None
        return (path(parent) if parent in parts else "") + "/" + parts[rid]

    auth = {
        (path(m["Properties"]["ResourceId"]["Ref"]), m["Properties"]["HttpMethod"]): m[
            "Properties"
        ]["AuthorizationType"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
    }
    open_routes = {k for k, v in auth.items() if v == "NONE"}
    assert open_routes == {
        ("/o/{token}", "GET"),
        ("/o/{token}", "HEAD"),
        ("/c/{token}", "GET"),
        ("/c/{token}", "HEAD"),
        ("/u/{token}", "GET"),
        ("/u/{token}", "HEAD"),
        ("/u/{token}", "POST"),
        ("/api/conversions", "POST"),
        ("/api/events", "POST"),
    }
    assert {v for k, v in auth.items() if k not in open_routes} == {"AWS_IAM"}
    assert ("/api/enrollments", "POST") in auth

"""The deployed shape the application and operators rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, assertions
from infra_testing import context, synth
from nurture_infra.api import MARKETER_ROUTES, PUBLIC_ROUTES
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


def alarm_metrics(template: assertions.Template) -> list[str]:
    """The metric of every alarm; a metric-math alarm by the names of the metrics it uses."""
    found = []
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if "MetricName" in props:
            found.append(props["MetricName"])
        else:
            used = [
                m["MetricStat"]["Metric"]["MetricName"]
                for m in props["Metrics"]
                if "MetricStat" in m
            ]
            found.append("/".join(sorted(used)))
    return found


def test_alarms_cover_every_listed_metric(template: assertions.Template) -> None:
    metrics = alarm_metrics(template)
    assert metrics.count("Errors") == len(ALL_SPECS)
    assert metrics.count("Throttles") == len(ALL_SPECS)
    assert metrics.count("Duration") == len(ALL_SPECS)  # near the timeout
    assert metrics.count("ApproximateNumberOfMessagesVisible") == 6 + 1  # DLQs + park queue
    assert metrics.count("ApproximateAgeOfOldestMessage") == 1  # park queue
    assert metrics.count("5xx/Count") == 1  # the public HTTP API's 5XX rate
    assert metrics.count("5XXError/Count") == 1  # the marketer REST API's
    assert metrics.count("Latency") == 2  # p99 of both route groups
    assert {
        "IteratorAge",
        "TargetErrorCount",
        "InvocationDroppedCount",
        "FailedInvocations",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "Reputation.BounceRate",
        "Reputation.ComplaintRate",
    } <= set(metrics)
    p99 = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Latency"
    ]
    assert {a["ExtendedStatistic"] for a in p99} == {"p99"}


def test_every_alarm_notifies_a_topic_cloudwatch_may_publish_to(
    template: assertions.Template,
) -> None:
    """With a topic policy and no statement allowing CloudWatch, alarm actions fail."""
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [
        s
        for s in statements
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert allow["Action"] == "sns:Publish" and allow["Resource"] == {"Ref": topic_id}
    assert "aws:SourceAccount" in allow["Condition"]["StringEquals"]
    topic = template.find_resources("AWS::SNS::Topic")[topic_id]["Properties"]
    key = topic.get("KmsMasterKeyId")
    if key is not None:  # a customer key must let CloudWatch encrypt what it publishes
        key_policy = template.find_resources("AWS::KMS::Key")[key["Fn::GetAtt"][0]]
        granted = json.dumps(key_policy["Properties"]["KeyPolicy"])
        assert "cloudwatch.amazonaws.com" in granted and "kms:GenerateDataKey" in granted


def test_a_dashboard_shows_the_alarms_and_the_apps_metrics(template: assertions.Template) -> None:
    (board,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(board["Properties"]["DashboardBody"])
    for expected in ("alarms", "Sent", "Skipped", "BadTokens", "ParkedWrites", "OpenedHuman"):
        assert expected in body


def test_every_lambda_runs_a_supported_python(template: assertions.Template) -> None:
    """The public function on arm64 (a fifth cheaper per GB-second), the rest on x86_64 (their
    asset has no arm64 wheels); no X-Ray (cost), JSON logs without the platform's lines."""
    functions = template.find_resources("AWS::Lambda::Function").values()
    assert {fn["Properties"]["Runtime"] for fn in functions} <= {"python3.12", "python3.13"}
    assert {fn["Properties"]["Handler"] for fn in functions} == {s.handler for s in ALL_SPECS}
    for fn in functions:
        props = fn["Properties"]
        arm = props["Handler"] == "app.public"
        assert props["Architectures"] == ["arm64" if arm else "x86_64"]
        assert props.get("TracingConfig", {"Mode": "PassThrough"})["Mode"] == "PassThrough"
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["LoggingConfig"]["SystemLogLevel"] == "WARN"


def test_api_serves_binary_for_any_accept_header(template: assertions.Template) -> None:
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"BinaryMediaTypes": ["*/*"]})


RECIPIENT_ENVIRONMENT = {
    "NURTURE_TABLE",
    "NURTURE_BASE_URL",
    "NURTURE_SIGNING_KEYS_SECRET",
    "NURTURE_CONVERSION_SECRETS_SECRET",
    "NURTURE_PARK_QUEUE_URL",
    "NURTURE_EVENT_RETENTION_DAYS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}


def test_functions_get_the_app_environment(template: assertions.Template) -> None:
    """The public function learns nothing of sending, scheduling or the marketer API."""
    for fn in template.find_resources("AWS::Lambda::Function").values():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == "nurture"
        if fn["Properties"]["Handler"] == "app.public":
            assert set(variables) == RECIPIENT_ENVIRONMENT
            continue
        assert RECIPIENT_ENVIRONMENT | {
            "NURTURE_SES_CONFIGURATION_SET",
            "NURTURE_SENDER",
            "NURTURE_SCHEDULE_GROUP",
            "NURTURE_SCHEDULER_ROLE_ARN",
            "NURTURE_SCHEDULE_TARGET_ARN",
            "NURTURE_SCHEDULE_DLQ_ARN",
            "NURTURE_API_KEYS_SECRET",
        } <= set(variables)


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


def test_api_and_conversion_secrets_have_the_apps_shape(template: assertions.Template) -> None:
    secret = only(template, "AWS::SecretsManager::Secret", {"Name": "nurture/dev/api-keys"})
    assert json.loads(secret["Properties"]["SecretString"]) == {"api_keys": {}}
    name = "nurture/dev/conversion-secrets"
    secret = only(template, "AWS::SecretsManager::Secret", {"Name": name})
    before = secret["Properties"]["SecretString"]["Fn::Join"][1][0]
    assert before == '{"conversion_secrets": ["{{resolve:secretsmanager:'


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
    template.has_resource_properties(
        "AWS::ApiGatewayV2::DomainName", {"DomainName": "t.example.com"}
    )
    template.has_resource_properties("AWS::ApiGatewayV2::ApiMapping", {"Stage": "$default"})
    template.has_resource_properties("AWS::ApiGatewayV2::Api", {"DisableExecuteApiEndpoint": True})
    for fn in template.find_resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["Environment"]["Variables"]["NURTURE_BASE_URL"] == (
            "https://t.example.com"
        )


def rest_methods(template: assertions.Template) -> dict[tuple[str, str], str]:
    """(path, method) -> authorization of every REST API method."""
    resources = template.find_resources("AWS::ApiGateway::Resource")
    parts = {rid: r["Properties"]["PathPart"] for rid, r in resources.items()}
    parents = {rid: r["Properties"]["ParentId"] for rid, r in resources.items()}

    def path(rid: str) -> str:
        parent = parents[rid].get("Ref") if isinstance(parents[rid], dict) else None
        return (path(parent) if parent in parts else "") + "/" + parts[rid]

    return {
        (path(m["Properties"]["ResourceId"]["Ref"]), m["Properties"]["HttpMethod"]): m[
            "Properties"
        ]["AuthorizationType"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
    }


def function_id(template: assertions.Template, handler: str) -> str:
    (found,) = [
        logical_id
        for logical_id, fn in template.find_resources("AWS::Lambda::Function").items()
        if fn["Properties"]["Handler"] == handler
    ]
    return found


def test_the_marketer_api_is_iam_only_and_has_no_recipient_route(
    template: assertions.Template,
) -> None:
    methods = rest_methods(template)
    assert set(methods.values()) == {"AWS_IAM"}
    assert {path for path, _ in methods} == set(MARKETER_ROUTES)
    assert ("/api/enrollments", "POST") in methods


def test_recipient_routes_are_an_http_api_on_the_arm64_public_function(
    template: assertions.Template,
) -> None:
    """Every recipient route and only those, unauthenticated (tokens and HMACs are checked by
    the app), payload 2.0, all to the public function, which runs on arm64."""
    routes = template.find_resources("AWS::ApiGatewayV2::Route")
    keys = {r["Properties"]["RouteKey"] for r in routes.values()}
    assert keys == {f"{m} {path}" for path, methods in PUBLIC_ROUTES.items() for m in methods}
    assert {r["Properties"].get("AuthorizationType", "NONE") for r in routes.values()} == {"NONE"}
    public = function_id(template, "app.public")
    for integration in template.find_resources("AWS::ApiGatewayV2::Integration").values():
        props = integration["Properties"]
        assert props["PayloadFormatVersion"] == "2.0"
        assert props["IntegrationUri"] == {"Fn::GetAtt": [public, "Arn"]}
    props = template.find_resources("AWS::Lambda::Function")[public]["Properties"]
    assert props["Architectures"] == ["arm64"]
    assert props["ReservedConcurrentExecutions"] == 50
    assert not template.find_resources("AWS::WAFv2::WebACL")


def test_the_public_function_may_do_only_what_the_recipient_routes_do(
    template: assertions.Template,
) -> None:
    """Contact and conversion items of the table (no index), the park queue, the signing keys
    and conversion secrets: nothing of scheduling, sending or the marketer's secrets."""
    public = function_id(template, "app.public")
    role = template.find_resources("AWS::Lambda::Function")[public]["Properties"]["Role"]
    found = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role["Fn::GetAtt"][0]} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {a for st in found for a in as_list(st["Action"]) if not a.startswith("logs:")}
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchWriteItem",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    (table,) = [st for st in found if "dynamodb:PutItem" in as_list(st["Action"])]
    (table_id,) = template.find_resources("AWS::DynamoDB::Table")
    assert table["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}  # the table, no index
    assert table["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["C#*", "V#*", "M#*"]}
    }
    secrets = [st for st in found if "secretsmanager:GetSecretValue" in as_list(st["Action"])]
    names = template.find_resources("AWS::SecretsManager::Secret")
    readable = {names[st["Resource"]["Ref"]]["Properties"]["Name"] for st in secrets}
    assert readable == {"nurture/dev/signing-keys", "nurture/dev/conversion-secrets"}
    (queue,) = [st for st in found if "sqs:SendMessage" in as_list(st["Action"])]
    assert queue["Resource"]["Fn::GetAtt"][0].startswith("ParkQueue")


def test_the_waf_switch_puts_the_public_routes_behind_a_rate_rule(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    template = synth(
        build_app(context(tmp_path_factory, sender="news@example.com", public_waf_rate_limit=500))
    )
    (acl,) = template.find_resources("AWS::WAFv2::WebACL").values()
    (rule,) = acl["Properties"]["Rules"]
    assert rule["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "Limit": 500}
    assert rule["Action"] == {"Block": {}}
    (association,) = template.find_resources("AWS::WAFv2::WebACLAssociation").values()
    assert "/stages/" in json.dumps(association["Properties"]["ResourceArn"])
    assert not template.find_resources("AWS::ApiGatewayV2::Route")
    methods = rest_methods(template)
    assert {k for k, v in methods.items() if v == "NONE"} == {
        (path, m) for path, ms in PUBLIC_ROUTES.items() for m in ms
    }


def test_public_routes_are_throttled_and_the_table_capped(template: assertions.Template) -> None:
    (stage,) = template.find_resources("AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == 1000
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 2000
    assert props["RouteSettings"]["POST /api/conversions"]["ThrottlingRateLimit"] == 50
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "OnDemandThroughput": {"MaxReadRequestUnits": 4000, "MaxWriteRequestUnits": 2000},
        },
    )


def test_async_functions_retry_then_dead_letter(template: assertions.Template) -> None:
    """Scheduler and EventBridge invoke asynchronously: Lambda's own retries and event age
    decide, then the on-failure DLQ (not Scheduler's retry policy)."""
    configs = template.find_resources("AWS::Lambda::EventInvokeConfig")
    functions = template.find_resources("AWS::Lambda::Function")
    handlers = {}
    for config in configs.values():
        props = config["Properties"]
        handler = functions[props["FunctionName"]["Ref"]]["Properties"]["Handler"]
        handlers[handler] = props
    assert set(handlers) == {"app.on_schedule", "app.on_ses_event", "app.retry_webhooks"}
    for props in handlers.values():
        assert props["MaximumRetryAttempts"] == 2
        assert props["MaximumEventAgeInSeconds"] == 6 * 3600
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination["Fn::GetAtt"][0].startswith(
            ("ScheduleDlq", "SesEventDlq", "OutboundWebhookDlq")
        )


def test_parked_writes_outlive_their_queue_in_the_dead_letter_queue(
    template: assertions.Template,
) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    park = next(q for k, q in queues.items() if k.startswith("ParkQueue"))["Properties"]
    dlq = next(q for k, q in queues.items() if k.startswith("ParkDlq"))["Properties"]
    assert dlq["MessageRetentionPeriod"] > park["MessageRetentionPeriod"]
    assert dlq["MessageRetentionPeriod"] == 14 * 86400


def test_outputs_carry_what_the_cli_needs(template: assertions.Template) -> None:
    """`nurture config from-stack` reads these (chalicelib/cli/config.py)."""
    outputs = template.to_json()["Outputs"]
    for name in ("ApiUrl", "ApiFunctionName", "ParkDlqUrl", "ScheduleDlqUrl", "SesEventDlqUrl"):
        assert name in outputs
    assert "StreamDlqUrl" in outputs
    (api,) = [
        logical_id
        for logical_id, fn in template.find_resources("AWS::Lambda::Function").items()
        if fn["Properties"]["Handler"] == "app.api"
    ]
    assert outputs["ApiFunctionName"]["Value"] == {"Ref": api}

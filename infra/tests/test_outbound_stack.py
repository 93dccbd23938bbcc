"""Outbound in AWS: the bus and its archive, the webhook queue and dead-letter queue, the retry
schedules' role, least-privilege grants and the alarms on failing webhooks."""

from __future__ import annotations

from typing import Any

from aws_cdk import assertions

Json = dict[str, Any]


def _functions(template: assertions.Template) -> dict[str, str]:
    """Logical id -> handler."""
    return {
        logical_id: fn["Properties"]["Handler"]
        for logical_id, fn in template.find_resources("AWS::Lambda::Function").items()
    }


def _role_of(template: assertions.Template, handler: str) -> str:
    for fn in template.find_resources("AWS::Lambda::Function").values():
        if fn["Properties"]["Handler"] == handler:
            return str(fn["Properties"]["Role"]["Fn::GetAtt"][0])
    raise AssertionError(handler)


def _actions_of(template: assertions.Template, role_id: str) -> list[tuple[str, Any]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                found.append((action, statement["Resource"]))
    return found


def _logical(template: assertions.Template, kind: str, prefix: str) -> str:
    (found,) = [k for k in template.find_resources(kind) if k.startswith(prefix)]
    return found


def test_bus_and_archive_with_retention(template: assertions.Template) -> None:
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "nurture-dev"})
    archive = template.find_resources("AWS::Events::Archive")
    (props,) = [a["Properties"] for a in archive.values()]
    assert props["RetentionDays"] == 90
    assert props["EventPattern"] == {"account": [{"Ref": "AWS::AccountId"}]}


def test_webhook_queue_dead_letters_after_five_receives(template: assertions.Template) -> None:
    dlq = _logical(template, "AWS::SQS::Queue", "OutboundWebhookDlq")
    queue = template.find_resources("AWS::SQS::Queue")[
        _logical(template, "AWS::SQS::Queue", "OutboundWebhookQueue")
    ]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] == 720 and queue["SqsManagedSseEnabled"] is True
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {
                "Fn::GetAtt": [assertions.Match.string_like_regexp("^OutboundWebhookQueue"), "Arn"]
            },
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": 10},
        },
    )


def test_only_the_stream_consumer_puts_events_on_the_bus(template: assertions.Template) -> None:
    putters = {
        handler
        for logical_id, handler in _functions(template).items()
        for action, _ in _actions_of(template, _role_of(template, handler))
        if action == "events:PutEvents"
    }
    assert putters == {"app.on_stream"}


def test_delivery_and_retry_grants_are_least_privilege(template: assertions.Template) -> None:
    deliver = dict(_actions_of(template, _role_of(template, "app.deliver_webhooks")))
    assert "scheduler:DeleteSchedule" not in deliver and "sqs:PurgeQueue" not in deliver
    schedules = deliver["scheduler:CreateSchedule"]["Fn::Join"][1]
    assert schedules[-1].endswith(":schedule/nurture-dev-webhooks/*")
    passed = deliver["iam:PassRole"]
    assert passed == {
        "Fn::GetAtt": [_logical(template, "AWS::IAM::Role", "OutboundRetriesRole"), "Arn"]
    }
    retry = {
        action for action, _ in _actions_of(template, _role_of(template, "app.retry_webhooks"))
    }
    assert not {a for a in retry if a.startswith(("scheduler:", "events:", "iam:"))}
    api = {action for action, _ in _actions_of(template, _role_of(template, "app.api"))}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= api
    stream = {action for action, _ in _actions_of(template, _role_of(template, "app.on_stream"))}
    assert "sqs:ReceiveMessage" not in stream


def test_alarms_on_failed_dead_lettered_and_disabled_webhooks(
    template: assertions.Template,
) -> None:
    alarms = [a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()]
    ours = {a["MetricName"]: a for a in alarms if a.get("Namespace") == "nurture"}
    assert set(ours) == {"WebhookFailedAttempts", "WebhookDeadLettered", "WebhookEndpointsDisabled"}
    for alarm in ours.values():
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "nurture"}]
        assert alarm["AlarmActions"]
    dlq = _logical(template, "AWS::SQS::Queue", "OutboundWebhookDlq")
    assert any(
        a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"][0]["Value"] == {"Fn::GetAtt": [dlq, "QueueName"]}
        for a in alarms
    )


def test_functions_know_the_bus_queues_and_retry_schedules(template: assertions.Template) -> None:
    for fn in template.find_resources("AWS::Lambda::Function").values():
        variables = fn["Properties"]["Environment"]["Variables"]
        if fn["Properties"]["Handler"] == "app.public":  # recipient routes publish nothing
            assert not [name for name in variables if "WEBHOOK" in name or "EVENT_BUS" in name]
            continue
        assert {
            "NURTURE_EVENT_BUS",
            "NURTURE_WEBHOOK_QUEUE_URL",
            "NURTURE_WEBHOOK_DLQ_URL",
            "NURTURE_WEBHOOK_SCHEDULE_GROUP",
            "NURTURE_WEBHOOK_RETRY_TARGET_ARN",
            "NURTURE_WEBHOOK_SCHEDULER_ROLE_ARN",
            "NURTURE_WEBHOOK_SCHEDULE_DLQ_ARN",
        } <= set(variables)
        assert "NURTURE_WEBHOOK_ALLOWED_ORIGINS" not in variables  # no exemption in AWS

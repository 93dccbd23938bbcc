"""SES: configuration set whose events reach the feedback Lambda through EventBridge."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from nurture_infra.config import StackConfig

# Opens and clicks are tracked by nurture itself; SES's own tracking would double count.
FEEDBACK_EVENTS = [
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.DELIVERY_DELAY,
    ses.EmailSendingEvent.RENDERING_FAILURE,
]


class Email(Construct):
    """Configuration set (+ optional domain identity with Easy DKIM) and the feedback route."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=f"nurture-{config.stage}",
            reputation_metrics=True,
            sending_enabled=True,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        self.configuration_set.add_event_destination(
            "ToEventBridge",
            destination=ses.EventDestination.event_bus(
                events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
            ),
            events=FEEDBACK_EVENTS,
        )
        if config.manage_ses_identity:
            self._domain_identity()

    @property
    def name(self) -> str:
        """Configuration set name, passed to every SendEmail call."""
        return self.configuration_set.configuration_set_name

    def _domain_identity(self) -> None:
        """Verify the sender's domain with Easy DKIM; the CNAMEs to publish are stack outputs."""
        identity = ses.EmailIdentity(
            self,
            "DomainIdentity",
            identity=ses.Identity.domain(self.config.sender_domain),
            configuration_set=self.configuration_set,
        )
        for index, record in enumerate(identity.dkim_records, start=1):
            CfnOutput(self, f"DkimCname{index}", value=f"{record.name} CNAME {record.value}")

    def route_feedback(self, handler: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
        """EventBridge rule: this configuration set's SES events → feedback Lambda."""
        rule = events.Rule(
            self,
            "FeedbackRule",
            description="SES events of the nurture configuration set to the feedback handler",
            event_pattern=events.EventPattern(
                source=["aws.ses"],
                detail={"mail": {"tags": {"ses:configuration-set": [self.name]}}},
            ),
        )
        self.feedback_rule = rule
        rule.add_target(
            targets.LambdaFunction(
                handler,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )

    def grant_send(self, grantee: iam.IGrantable) -> None:
        """SendEmail only from the sender's identities and only through this configuration set."""
        stack = Stack.of(self)
        identities = [
            stack.format_arn(service="ses", resource="identity", resource_name=identity)
            for identity in self.config.ses_identities
        ]
        configuration_set = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=self.name
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[*identities, configuration_set],
            )
        )

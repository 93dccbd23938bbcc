"""EventBridge Scheduler: a schedule group, and the role schedules assume to call the sender."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class Scheduling(Construct):
    """The app creates one-off at() schedules in this group; each may only invoke its target
    (the sender; in the webhooks group, the retry function)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        dead_letter_queue: sqs.IQueue,
        purpose: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.group_name = f"nurture-{stage}-{purpose}" if purpose else f"nurture-{stage}"
        scheduler.CfnScheduleGroup(self, "Group", name=self.group_name)
        self.dead_letter_queue = dead_letter_queue
        self.role = iam.Role(
            self,
            "Role",
            description=f"Assumed by nurture {purpose or 'send'} schedules: invoke their "
            "function, dead-letter failures",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        dead_letter_queue.grant_send_messages(self.role)

    @property
    def schedules_arn(self) -> str:
        """Every schedule in the group (names are chosen at run time by the app)."""
        return Stack.of(self).format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.group_name}/*"
        )

    def allow_target(self, sender: lambda_.IFunction) -> None:
        """The only function schedules may invoke."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[sender.function_arn])
        )

    def grant_manage_schedules(self, grantee: iam.IGrantable) -> None:
        """Create/replace/delete schedules in this group and hand them the scheduler role."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ],
                resources=[self.schedules_arn],
            )
        )
        self.role.grant_pass_role(grantee)

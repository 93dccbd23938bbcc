"""Contact import jobs: the bucket uploads and error reports live in, the queue that drives
the worker (with its dead-letter queue), and what each function may do with them."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from nurture_infra.queues import consumed_queue

# As long as the app keeps a job (chalicelib/imports/jobs.py RETENTION_DAYS): an upload, its
# error report and its parts are gone with it. Contact files hold personal data: kept no longer.
RETENTION = Duration.days(14)
UPLOADS = "uploads/"
REPORTS = "reports/"


class ContactImports(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, worker_timeout: Duration) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="Uploads", prefix=UPLOADS, expiration=RETENTION),
                s3.LifecycleRule(id="Reports", prefix=REPORTS, expiration=RETENTION),
                s3.LifecycleRule(
                    id="UnfinishedParts", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )
        # A run that crashed comes back after the visibility timeout; after five receives the job
        # waits in the dead-letter queue (alarmed) until `POST /api/imports/{id}/start` resumes it.
        self.queue, self.dead_letters = consumed_queue(self, "", worker_timeout, RETENTION)

    @property
    def environment(self) -> dict[str, str]:
        return {
            "NURTURE_IMPORT_BUCKET": self.bucket.bucket_name,
            "NURTURE_IMPORT_QUEUE_URL": self.queue.queue_url,
        }

    def grant_jobs(self, grantee: iam.IGrantable) -> None:
        """The marketer API: sign upload URLs, look at an upload, sign report URLs, queue runs."""
        self._allow(grantee, ["s3:PutObject", "s3:GetObject"], UPLOADS)
        self._allow(grantee, ["s3:GetObject"], REPORTS)
        self.queue.grant_send_messages(grantee)

    def grant_worker(self, grantee: iam.IGrantable) -> None:
        """The worker: read uploads, write and list the report's parts, queue its next run."""
        self._allow(grantee, ["s3:GetObject"], UPLOADS)
        self._allow(grantee, ["s3:GetObject", "s3:PutObject"], REPORTS)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{REPORTS}*"]}},
            )
        )
        self.queue.grant_send_messages(grantee)

    def _allow(self, grantee: iam.IGrantable, actions: list[str], prefix: str) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=actions, resources=[self.bucket.arn_for_objects(f"{prefix}*")]
            )
        )

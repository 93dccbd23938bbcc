"""API Gateway REST APIs in front of the Chalice app: the marketer API (IAM), and the public
routes when the WAF switch is on (frontdoor.py), with an optional custom domain."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from nurture_infra.config import StackConfig

STAGE_NAME = "v1"
Routes = dict[str, tuple[str, ...]]

# Chalice dispatches on API Gateway's resource path, so a greedy {proxy+} resource would reach
# the function but match no Chalice route: every route of app.py must be listed here
# (infra/tests/test_api_routes.py compares this table with app.py's routes).
ROUTES: Routes = {
    "/o/{token}": ("GET", "HEAD"),
    "/c/{token}": ("GET", "HEAD"),
    "/u/{token}": ("GET", "HEAD", "POST"),
    "/api/conversions": ("POST",),
    "/api/events": ("POST",),
    "/api/sequences": ("GET", "POST"),
    "/api/sequences/validate": ("POST",),
    "/api/sequences/{sequence_id}": ("GET",),
    "/api/sequences/{sequence_id}/versions": ("GET",),
    "/api/segments": ("GET", "POST"),
    "/api/stages": ("GET", "POST"),
    "/api/scoring": ("GET", "POST"),
    "/api/scoring/validate": ("POST",),
    "/api/scoring/rescore": ("POST",),
    "/api/scores/distribution": ("GET",),
    "/api/enrollments": ("POST",),
    "/api/imports": ("POST",),
    "/api/imports/{import_id}": ("GET",),
    "/api/imports/{import_id}/start": ("POST",),
    "/api/contacts": ("GET", "POST"),
    "/api/contacts/{contact_id}": ("GET", "DELETE"),
    "/api/contacts/{contact_id}/timeline": ("GET",),
    "/api/contacts/{contact_id}/export": ("GET",),
    "/api/contacts/{contact_id}/score": ("GET",),
    "/api/contacts/{contact_id}/pause": ("POST",),
    "/api/contacts/{contact_id}/enrollments/{sequence_id}": ("DELETE",),
    "/api/schedule/preview": ("GET",),
    "/api/send-test": ("POST",),
    "/api/reports/{sequence_id}": ("GET",),
    "/api/webhooks": ("GET", "POST"),
    "/api/webhooks/validate": ("POST",),
    "/api/webhooks/test": ("POST",),
    "/api/webhooks/redrive": ("POST",),
    "/api/webhooks/{webhook_id}/deliveries": ("GET",),
    "/api/webhooks/{webhook_id}/secrets": ("GET", "POST"),
    "/api/webhooks/{webhook_id}/secrets/retire": ("POST",),
    "/api/webhooks/{webhook_id}/enable": ("POST",),
}
# Recipients' routes carry signed tokens, conversions and product events an HMAC signature:
# they are served by the public front door (frontdoor.py). Every other route is the marketer
# API, behind IAM (SigV4) auth (the app runs with NURTURE_API_AUTH=iam).
OPEN_ROUTES = frozenset(
    {"/o/{token}", "/c/{token}", "/u/{token}", "/api/conversions", "/api/events"}
)
PUBLIC_ROUTES: Routes = {path: m for path, m in ROUTES.items() if path in OPEN_ROUTES}
MARKETER_ROUTES: Routes = {path: m for path, m in ROUTES.items() if path not in OPEN_ROUTES}


class RestApi(Construct):
    """Every response is base64 from the app, hence binary media type */* (pixel for any Accept).
    Throttled per stage; access logs without IPs or callers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        name: str,
        routes: Routes,
        authorization: apigw.AuthorizationType,
        domain: str = "",
        rate_limit: int = 100,
        burst_limit: int = 200,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config, self.routes, self.authorization, self.domain = (
            config,
            routes,
            authorization,
            domain,
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=name,
            binary_media_types=["*/*"],
            endpoint_types=[apigw.EndpointType.REGIONAL],
            disable_execute_api_endpoint=bool(domain),
            # Access logs need API Gateway's account-wide CloudWatch role (one per region):
            # set apigateway_cloudwatch_role=false when the account already has one.
            cloud_watch_role=config.apigateway_cloudwatch_role,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=False,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=False,  # X-Ray off: see functions.py
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
            ),
        )
        if domain:
            self._custom_domain()

    @property
    def base_url(self) -> str:
        """The API's base URL, built without the Stage resource (avoids a cycle)."""
        if self.domain:
            return f"https://{self.domain}"
        return Fn.join(
            "",
            [
                "https://",
                self.rest_api.rest_api_id,
                ".execute-api.",
                Aws.REGION,
                ".",
                Aws.URL_SUFFIX,
                f"/{STAGE_NAME}",
            ],
        )

    def route_to(self, handler: lambda_.IFunction) -> None:
        """Lambda proxy integration for every route of the table."""
        integration = apigw.LambdaIntegration(handler, allow_test_invoke=False)
        for path, methods in self.routes.items():
            resource = self.rest_api.root.resource_for_path(path)
            for method in methods:
                resource.add_method(method, integration, authorization_type=self.authorization)

    def _custom_domain(self) -> None:
        """Regional custom domain (TLS 1.2); point a CNAME/alias at the output target."""
        domain = apigw.DomainName(
            self,
            "TrackingDomain",
            domain_name=self.domain,
            certificate=acm.Certificate.from_certificate_arn(
                self, "Certificate", self.config.tracking_certificate_arn
            ),
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
            mapping=self.rest_api,
        )
        CfnOutput(self, "TrackingDomainTarget", value=domain.domain_name_alias_domain_name)

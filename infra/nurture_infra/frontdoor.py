"""The public front door: the recipient routes and the signed server-to-server callbacks on an
HTTP API ($1.00 per million requests, a third of a REST API's price) in front of their own
function, with per-route throttles and an optional custom tracking domain.

HTTP APIs cannot carry a WAF web ACL. With `public_waf_rate_limit` set, the same routes are
served by a regional REST API instead, behind a WAF rate-based rule per client IP: a REST
request costs $3.50 per million and WAF $0.60 more, so it is a switch for when abuse shows up.
The public function answers both payload shapes (app.public).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from nurture_infra.api import PUBLIC_ROUTES, RestApi
from nurture_infra.config import StackConfig

# Per-route limits below the stage's: pages and callbacks are rare next to pixels and links.
ROUTE_LIMITS = {"/u/{token}": (50, 100), "/api/conversions": (50, 100)}


class PublicApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.rest: RestApi | None = None
        self.http: apigwv2.HttpApi | None = None
        if config.public_waf_rate_limit:
            self.rest = RestApi(
                self,
                "Rest",
                config=config,
                name=f"nurture-{config.stage}-public",
                routes=PUBLIC_ROUTES,
                authorization=apigw.AuthorizationType.NONE,
                domain=config.tracking_domain,
                rate_limit=config.public_rate_limit,
                burst_limit=config.public_burst_limit,
            )
            self._waf(self.rest)
        else:
            self._http_api()

    @property
    def base_url(self) -> str:
        """Public base of tracking links."""
        if self.rest is not None:
            return self.rest.base_url
        if self.config.tracking_domain:
            return f"https://{self.config.tracking_domain}"
        assert self.http is not None
        return self.http.api_endpoint

    def route_to(self, handler: lambda_.IFunction) -> None:
        if self.rest is not None:
            self.rest.route_to(handler)
            return
        assert self.http is not None
        integration = integrations.HttpLambdaIntegration(
            "Public", handler, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
        )
        for path, methods in PUBLIC_ROUTES.items():
            self.http.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod(m) for m in methods],
                integration=integration,
            )

    def metrics(self) -> tuple[cloudwatch.IMetric, cloudwatch.IMetric, cloudwatch.IMetric]:
        """(requests, 5XX answers, latency) of the whole front door, for alarms."""
        if self.rest is not None:
            api = self.rest.rest_api
            return (api.metric_count(), api.metric_server_error(), api.metric_latency())
        assert self.http is not None
        return (
            self.http.metric_count(),
            self.http.metric_server_error(),
            self.http.metric_latency(),
        )

    def _http_api(self) -> None:
        config = self.config
        self.http = apigwv2.HttpApi(
            self,
            "Http",
            api_name=f"nurture-{config.stage}-public",
            description="nurture: pixel, click, preferences and signed callbacks",
            create_default_stage=False,
            disable_execute_api_endpoint=bool(config.tracking_domain),
        )
        stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.http,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.public_rate_limit, burst_limit=config.public_burst_limit
            ),
        )
        cfn = stage.node.default_child
        assert isinstance(cfn, apigwv2.CfnStage)
        cfn.route_settings = {
            f"{method} {path}": {
                "ThrottlingRateLimit": rate,
                "ThrottlingBurstLimit": burst,
            }
            for path, (rate, burst) in ROUTE_LIMITS.items()
            for method in PUBLIC_ROUTES[path]
        }
        self.stage = stage
        if config.tracking_domain:
            domain = apigwv2.DomainName(
                self,
                "TrackingDomain",
                domain_name=config.tracking_domain,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", config.tracking_certificate_arn
                ),
                security_policy=apigwv2.SecurityPolicy.TLS_1_2,
            )
            apigwv2.ApiMapping(self, "Mapping", api=self.http, domain_name=domain, stage=stage)
            CfnOutput(self, "TrackingDomainTarget", value=domain.regional_domain_name)

    def _waf(self, rest: RestApi) -> None:
        """A rate-based rule: one client IP over the limit in five minutes is blocked."""
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("nurture-public"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="per-ip-rate",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=self.config.public_waf_rate_limit
                        )
                    ),
                    visibility_config=_visibility("nurture-public-rate"),
                )
            ],
        )
        stage_arn = Fn.join(
            "",
            [
                "arn:",
                Aws.PARTITION,
                ":apigateway:",
                Aws.REGION,
                "::/restapis/",
                rest.rest_api.rest_api_id,
                "/stages/",
                rest.rest_api.deployment_stage.stage_name,
            ],
        )
        association = wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=stage_arn, web_acl_arn=acl.attr_arn
        )
        association.node.add_dependency(rest.rest_api.deployment_stage)


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=False
    )

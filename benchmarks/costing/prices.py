"""AWS list prices the cost model uses: region us-east-1, on-demand, no free tier, no volume
discount beyond the first tier. Read from the AWS pricing pages (and checked against third-party
summaries of them) in December 2026. Change a figure here and every total follows."""

from __future__ import annotations

REGION = "us-east-1"
AS_OF = "2026-12"

# (USD, unit, what it is)
PRICES: dict[str, tuple[float, str]] = {
    "rest_api_request": (3.50e-6, "per REST API request (first 333 M/month)"),
    "http_api_request": (1.00e-6, "per HTTP API request (first 300 M/month, 512 KB units)"),
    "lambda_request": (0.20e-6, "per Lambda invocation"),
    "lambda_gb_s_x86_64": (0.0000166667, "per GB-second, x86_64 (first 6 B GB-s/month)"),
    "lambda_gb_s_arm64": (0.0000133334, "per GB-second, arm64 (first 7.5 B GB-s/month)"),
    "dynamodb_wru": (0.625e-6, "per on-demand write request unit (1 KB)"),
    "dynamodb_rru": (0.125e-6, "per on-demand read request unit (4 KB strongly consistent)"),
    "sqs_request": (0.40e-6, "per SQS standard request (64 KB units)"),
    "ses_message": (0.10e-3, "per email sent with SES (outbound, no attachments)"),
    "scheduler_invocation": (1.00e-6, "per EventBridge Scheduler invocation"),
    "logs_gb": (0.50, "per GB ingested into CloudWatch Logs (standard class)"),
    "xray_trace": (5.00e-6, "per X-Ray trace recorded"),
    "transfer_out_gb": (0.09, "per GB transferred out to the internet (first 10 TB tier)"),
    "waf_request": (0.60e-6, "per request inspected by AWS WAF (when the flag is on)"),
}
# Free: DynamoDB Streams reads by a Lambda trigger, events of AWS services (SES) on the default
# EventBridge bus and rule deliveries to Lambda, Scheduler API calls, the stream filter itself.


def price(name: str) -> float:
    return PRICES[name][0]

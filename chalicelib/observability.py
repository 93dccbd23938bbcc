"""The service's Powertools, made once: a structured `logger` and the `metrics` people alarm on
(EMF, namespace `nurture`, dimension `service`). X-Ray is off (infra: a third of an open's cost
at the default sampling), so there is no tracer.

Powertools is imported on first use, never when app.py is: the public function's cold start
and hot path do not pay for it (its only logs and metrics are failures and bad tokens).
"""

from __future__ import annotations

import contextvars
import functools
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "nurture"
SERVICE = "nurture"
Handler = Callable[[Any, Any], Any]

# Also `logger` and `metrics`, made on first access (module __getattr__).
__all__ = ["NAMESPACE", "count", "counts", "handler"]


@functools.cache
def _logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


@functools.cache
def _metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


def __getattr__(name: str) -> Any:
    if name == "logger":
        return _logger()
    if name == "metrics":
        return _metrics()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def handler(function: Handler) -> Handler:
    """A Lambda handler with the context in every log line (`inject_lambda_context`) and its
    metrics flushed as one EMF line at the end. Without a context (the local stack, tests)
    the function runs as it is."""

    @functools.wraps(function)
    def run(event: Any, context: Any) -> Any:
        if context is None:
            return function(event, context)
        token = _invocation.set(True)
        try:
            return _wrapped(function)(event, context)
        finally:
            _invocation.reset(token)

    return run


@functools.cache
def _wrapped(function: Handler) -> Handler:
    # An invocation that counted nothing publishes nothing; Powertools would warn about it.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    wrapped: Handler = _metrics().log_metrics(_logger().inject_lambda_context(function))
    return wrapped


_invocation = contextvars.ContextVar("invocation", default=False)
"""Inside a Lambda invocation run by `handler`, whose end flushes the metrics."""


def counts(values: Mapping[str, int]) -> None:
    """Add counts to this invocation's metrics (flushed by `handler`); outside one (the CLI,
    the local stack) there is nothing to flush them, so they are not kept."""
    if not _invocation.get():
        return
    from aws_lambda_powertools.metrics import MetricUnit

    for name, value in values.items():
        if value:
            _metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """One count written at once as its own EMF line, with extra dimensions if any: for what is
    rare where it happens (a parked write, a bad token) or is counted by a reason."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE, **dimensions},
    ):
        pass

"""The service's one structured logger (Powertools), shared by every module."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="nurture")

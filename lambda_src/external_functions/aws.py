"""boto3 clients (created once per Lambda container) and AWS errors as external-function errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from external_functions.protocol import BadRequestError, ExternalFunctionError, ThrottledError, UnavailableError
from pipeline_shared.aws_errors import THROTTLED, error_code, error_message, http_status, is_not_found
from pipeline_shared.ownership import pipeline_owns


@cache
def sagemaker() -> Any:
    return boto3.client("sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 4}))


@cache
def logs() -> Any:
    return boto3.client("logs", config=Config(retries={"mode": "standard", "max_attempts": 3}))


MAX_READ_TIMEOUT_S = 20


@cache
def sagemaker_runtime(read_timeout: int = MAX_READ_TIMEOUT_S) -> Any:
    """A runtime client whose one attempt waits at most ``read_timeout`` s for an answer.

    API Gateway gives the whole call 29 s: scoring asks for a client whose timeout fits what is
    left of that budget, so a slow endpoint yields our 503 (Snowflake retries the batch) rather
    than a gateway timeout.
    """
    config = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=3, read_timeout=read_timeout)
    return boto3.client("sagemaker-runtime", config=config)


_OURS: set[tuple[str, str]] = set()  # (prefix, endpoint) already seen tagged, for this container's life


def tagged_as_ours(sagemaker: Any, arn: str, prefix: str, what: str) -> bool:
    """True when the object carries ``recommender:pipeline=<prefix>``: another pipeline's is never touched."""
    try:
        return pipeline_owns(sagemaker, arn, prefix)
    except ClientError as exc:
        raise upstream_error(exc, f"reading the tags of {what}") from None


def endpoint_is_ours(endpoint: str, prefix: str) -> bool | None:
    """Whether ``endpoint`` is this pipeline's (None: there is no such endpoint); positive answers are cached."""
    if (prefix, endpoint) in _OURS:
        return True
    found = describe_or_none(sagemaker().describe_endpoint, f"endpoint {endpoint}", EndpointName=endpoint)
    if found is None:
        return None
    ours = tagged_as_ours(sagemaker(), found["EndpointArn"], prefix, f"endpoint {endpoint}")
    if ours:
        _OURS.add((prefix, endpoint))
    return ours


def describe_or_none(describe: Callable[..., dict[str, Any]], what: str, **name: str) -> dict[str, Any] | None:
    """``describe(**name)``'s answer, or None when the object does not exist; ``what`` names it in errors."""
    try:
        return describe(**name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise upstream_error(exc, f"looking up {what}") from None


def upstream_error(exc: Exception, doing: str) -> ExternalFunctionError:
    """Translate an AWS failure into the answer Snowflake should get (retry or not)."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = http_status(exc)
        if code in THROTTLED or status == 429:
            return ThrottledError(f"SageMaker is throttling requests while {doing}; Snowflake will retry.")
        if status >= 500 or code in {"ServiceUnavailable", "InternalFailure", "InternalServerError"}:
            return UnavailableError(f"SageMaker failed transiently while {doing}; Snowflake will retry.")
        if code in {"AccessDenied", "AccessDeniedException"}:
            return BadRequestError(f"The pipeline is not allowed to act while {doing}: check the stack's IAM policies.")
        return BadRequestError(f"SageMaker refused {doing}: {error_message(exc) or code}.")
    if isinstance(exc, BotoCoreError):
        return UnavailableError(f"SageMaker could not be reached while {doing}; Snowflake will retry.")
    raise exc

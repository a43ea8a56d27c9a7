"""boto3 clients (created once per Lambda container) and AWS errors as external-function errors.

Every call of these clients is bounded: one attempt (``total_max_attempts: 1``; botocore's
``max_attempts`` counts retries *after* the first attempt) with a connect and a read timeout (botocore's
``Config``: https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), so a
hung call ends within :data:`CALL_BOUND_S` and a handler that checks its budget before each call
answers before API Gateway's 29 s. botocore's own retries are off because their back-off has no
upper bound a budget can use (an ``x-amz-retry-after`` answer adds up to 5 s: botocore's
``retries/standard.py``); Snowflake is the retry loop instead -- it retries every 429 and 5xx with
the same batch id -- and every call the Lambdas make is idempotent.

An AWS error is logged whole (one JSON line) and answered with its code and request id only: AWS's
text names ARNs, account ids and role names, which SQL callers must never see.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from external_functions.errors import CallerError, PipelineError, ThrottledError, UnavailableError
from pipeline_shared.aws_errors import THROTTLED, error_code, http_status, is_not_found, log_error, reference
from pipeline_shared.logs import log
from pipeline_shared.pipeline_objects import pipeline_owns

if TYPE_CHECKING:  # boto3-stubs: the type check knows every call's parameters and answer (not in the Lambdas)
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

Client = TypeVar("Client")
Item = TypeVar("Item")

CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 4  # SageMaker's and CloudWatch Logs' control-plane calls answer in well under a second
CALL_BOUND_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S  # the longest one call can take
AWS_ERRORS = (ClientError, BotoCoreError)  # what a boto3 call raises: AWS's answer, or no answer
_BOUNDED = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
)


@cache
def sagemaker() -> SageMakerClient:
    """The SageMaker client; each call ends within :data:`CALL_BOUND_S`."""
    return boto3.client("sagemaker", config=_BOUNDED)


@cache
def emr_serverless() -> EMRServerlessClient:
    """The EMR Serverless client (``engine=spark``); each call ends within :data:`CALL_BOUND_S`."""
    return boto3.client("emr-serverless", config=_BOUNDED)


@cache
def s3() -> S3Client:
    """The S3 client (the pipeline's bucket: deployment records); each call ends within :data:`CALL_BOUND_S`."""
    return boto3.client("s3", config=_BOUNDED)


@cache
def cloudwatch() -> CloudWatchClient:
    """The CloudWatch client (endpoint metrics, for the idle-endpoint sweep); bounded like the others."""
    return boto3.client("cloudwatch", config=_BOUNDED)


@cache
def logs() -> CloudWatchLogsClient:
    """The CloudWatch Logs client; each call ends within :data:`CALL_BOUND_S`."""
    return boto3.client("logs", config=_BOUNDED)


class Budgeted:
    """``client`` whose every call first checks that one more call can end before ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value (None: no budget, as for the operator CLI); a call
    that could outlive it is not started and ``function`` answers 503 instead, so Snowflake retries
    the batch rather than see API Gateway's timeout.
    """

    def __init__(self, client: Any, deadline: float | None, function: str) -> None:
        self._client, self._deadline, self._function = client, deadline, function

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or self._deadline is None:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.check(name)
            return attribute(*args, **kwargs)

        return call

    @staticmethod
    def around(client: Client, deadline: float | None, function: str) -> Client:
        """``client`` budgeted, typed as the client it wraps (every call goes through :meth:`__getattr__`)."""
        return cast(Client, Budgeted(client, deadline, function))

    def check(self, operation: str) -> None:
        if self._deadline is not None and time.monotonic() + CALL_BOUND_S > self._deadline:
            raise UnavailableError(
                f"{self._function} ran out of time before its next AWS call ({operation})",
                then="continues where this call stopped",
            )


MAX_READ_TIMEOUT_S = 20


@cache
def sagemaker_runtime(read_timeout: int = MAX_READ_TIMEOUT_S) -> SageMakerRuntimeClient:
    """A runtime client whose one attempt waits at most ``read_timeout`` s for an answer.

    API Gateway gives the whole call 29 s: scoring asks for a client whose timeout fits what is
    left of that budget, so a slow endpoint yields our 503 (Snowflake retries the batch) rather
    than a gateway timeout.
    """
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=read_timeout)
    return boto3.client("sagemaker-runtime", config=config)


def reset_clients() -> None:
    """Forget the cached clients (and what they saw), so the next call builds them from the current environment.

    A Lambda container never needs this: its environment is fixed for its life. A process that runs
    the handlers in-process and then changes ``AWS_*`` variables (local mode, tests) calls it.
    """
    for client in (sagemaker, emr_serverless, logs, s3, cloudwatch, sagemaker_runtime):
        client.cache_clear()
    _OURS.clear()


_OURS: set[tuple[str, str]] = set()  # (prefix, endpoint) already seen tagged, for this container's life


def tagged_as_ours(sagemaker: SageMakerClient, arn: str, prefix: str, what: str) -> bool:
    """True when the object carries ``recommender:pipeline=<prefix>``: another pipeline's is never touched."""
    try:
        return pipeline_owns(sagemaker, arn, prefix)
    except AWS_ERRORS as exc:
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


def describe_or_none(describe: Callable[..., Mapping[str, Any]], what: str, **name: str) -> dict[str, Any] | None:
    """``describe(**name)``'s answer, or None when the object does not exist; ``what`` names it in errors."""
    try:
        return dict(describe(**name))
    except AWS_ERRORS as exc:
        if isinstance(exc, ClientError) and is_not_found(exc):
            return None
        raise upstream_error(exc, f"looking up {what}") from None


def translated(items: Iterator[Item], doing: str, *, service: str = "SageMaker") -> Iterator[Item]:
    """``items`` (a listing of ``pipeline_objects``), an AWS error while producing one answered as
    :func:`upstream_error` naming ``doing``."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except AWS_ERRORS as exc:
            raise upstream_error(exc, doing, service=service) from None
        yield item


def upstream_error(exc: Exception, doing: str, *, service: str = "SageMaker") -> PipelineError:
    """Translate a failure of AWS ``service`` into the answer Snowflake should get (retry or not); logged whole."""
    if isinstance(exc, ClientError):
        log_error(exc, doing)
        code, status, ref = error_code(exc), http_status(exc), reference(exc)
        if code in THROTTLED or status == 429:
            return ThrottledError(f"{service} is throttling requests while {doing} ({ref})")
        if status >= 500 or code in {"ServiceUnavailable", "InternalFailure", "InternalServerError"}:
            return UnavailableError(f"{service} failed transiently while {doing} ({ref})")
        if code in {"AccessDenied", "AccessDeniedException"}:
            return CallerError(
                f"The pipeline is not allowed to act while {doing} ({ref}): check the stack's IAM policies."
            )
        return CallerError(f"{service} refused {doing} ({ref}); the function's log has {service}'s whole answer.")
    if isinstance(exc, BotoCoreError):
        log("WARNING", f"AWS could not be reached while {doing}", error=type(exc).__name__, detail=str(exc))
        return UnavailableError(f"{service} could not be reached while {doing}")
    raise exc

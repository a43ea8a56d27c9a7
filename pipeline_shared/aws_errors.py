"""botocore's errors read one way: the code, a short message, the request id, and whether the object is missing.

Not-found is decided by the error code where AWS documents one: SageMaker answers ``ResourceNotFound``
for a missing tuning job ("Amazon SageMaker can't find a tuning job called X. Type another name.",
aws/amazon-sagemaker-examples#1540; the error is listed for DescribeHyperParameterTuningJob in
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHyperParameterTuningJob.html), and
``ResourceNotFoundException`` is the usual code elsewhere. For training jobs, endpoints, endpoint configs
and models SageMaker answers ``ValidationException`` instead (aws/aws-sdk#165: "Requested resource not
found"; "Could not find endpoint ...", "Could not find model ..."): only there does the text decide.

AWS's own text names ARNs, account ids and role names, which must never reach a SQL caller:
:func:`log_error` logs it whole, :func:`reference` gives the code and request id an answer may carry,
and :func:`redact` cleans a reason (an endpoint's FailureReason) worth showing.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from pipeline_shared.logs import log

THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_NOT_FOUND_WORDING = ("not find", "not found", "can't find", "cannot find")  # SageMaker's ValidationException texts

# the last character is never a period: an ARN ending a sentence keeps the sentence's full stop
_ARN = re.compile(r"arn:aws[a-z-]*:[A-Za-z0-9-]*:[a-z0-9-]*:(?:\d{12})?:[^\s'\"<>,;)\]]*[^\s'\"<>,;)\].]")
_ACCOUNT = re.compile(r"(?<!\d)\d{12}(?!\d)")
_ROLE = re.compile(r"\b(assumed-role|role)/[\w+=,.@/-]*[\w+=,@/-]")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    """The service's message, trimmed to one short sentence without its final period (for logs and tests)."""
    return str(exc.response.get("Error", {}).get("Message", "")).strip().rstrip(".")[:300]


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def request_id(exc: ClientError) -> str | None:
    """AWS's id for the failed request (``ResponseMetadata.RequestId``): what AWS Support asks for."""
    metadata = exc.response.get("ResponseMetadata", {})
    return metadata.get("RequestId") or metadata.get("HTTPHeaders", {}).get("x-amzn-requestid") or None


def reference(exc: ClientError) -> str:
    """``<code>, AWS request id <id>``: what an answer says about an AWS error instead of AWS's text."""
    rid = request_id(exc)
    return f"{error_code(exc) or 'no error code'}, AWS request id {rid}" if rid else error_code(exc) or "no error code"


def is_not_found(exc: ClientError) -> bool:
    """True when the service says the named object does not exist (see the module docstring)."""
    code = error_code(exc)
    if code in NOT_FOUND_CODES:
        return True
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return code == "ValidationException" and any(wording in message for wording in _NOT_FOUND_WORDING)


def log_error(exc: ClientError, doing: str) -> None:
    """One JSON log line with the whole AWS error: code, message, request id, operation, HTTP status."""
    log(
        "WARNING",
        f"AWS refused a call while {doing}",
        operation=getattr(exc, "operation_name", None),
        error=error_code(exc),
        aws_message=str(exc.response.get("Error", {}).get("Message", "")),
        aws_request_id=request_id(exc),
        http_status=http_status(exc),
    )


def redact(text: str) -> str:
    """``text`` without ARNs, 12-digit account ids or IAM role names (each replaced by a placeholder)."""
    text = _ARN.sub("<arn>", text)
    text = _ROLE.sub(lambda match: f"{match.group(1)}/<name>", text)
    return _ACCOUNT.sub("<account>", text)

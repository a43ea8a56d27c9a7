"""botocore's errors read one way: the code, a short message, and whether the object is missing."""

from __future__ import annotations

from botocore.exceptions import ClientError

THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
_NOT_FOUND_CODES = frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    """The service's message, trimmed to one short sentence without its final period."""
    return str(exc.response.get("Error", {}).get("Message", "")).strip().rstrip(".")[:300]


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_not_found(exc: ClientError) -> bool:
    """True when SageMaker says the named object does not exist ("Could not find ...", "... not found")."""
    message = error_message(exc).lower()
    return error_code(exc) in _NOT_FOUND_CODES and ("not find" in message or "not found" in message)

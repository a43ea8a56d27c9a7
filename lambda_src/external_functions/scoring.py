"""``invoke_model(model, user_id, movie_id)`` and ``recommend(model, user_id, k)`` via endpoints.

A batch may mix models: rows are grouped per model (and per k), each group is sent in as few
``InvokeEndpoint`` calls as the payload limit allows, and the answers are put back on the
original rows. A row with a NULL argument gets NULL.

A container's failure reaches us as ``ModelError`` whose message names the account id and a
CloudWatch console URL ("... See https://<region>.console.aws.amazon.com/cloudwatch/...
in account <id> for more information.", aws/amazon-sagemaker-examples#1881): it is logged whole
and the answer gives the error code, AWS's request id and the endpoint's log group instead.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from external_functions.aws import MAX_READ_TIMEOUT_S, upstream_error
from external_functions.errors import CallerError, FailedError, UnavailableError
from external_functions.log_retention import endpoint_log_group
from pipeline_shared import resources
from pipeline_shared.aws_errors import error_code, error_message, log_error, reference

PAYLOAD_LIMIT = 4 * 1024 * 1024  # serverless endpoints accept 4 MB, real-time 6 MB: fit both
MAX_K = 100
RECOMMEND_CELLS = 200_000  # users x k per call keeps each answer far below 6 MB
MAX_ID = 2**53
Item = TypeVar("Item")


def whole_number(value: Any, what: str, row: int) -> int:
    """An id or count from SQL: a JSON number or numeric text with no fractional part."""
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) > MAX_ID):
        value = None
    elif isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, int | float) or not math.isfinite(value) or value != int(value) or abs(value) > MAX_ID:
        raise CallerError(row=row, message=f"{what} must be a whole number.")
    return int(value)


Runtime = Callable[[int], Any]  # a sagemaker-runtime client for a read timeout in seconds
Ownership = Callable[[str], "bool | None"]  # endpoint -> ours, another pipeline's (False), missing (None)
MIN_CALL_S = 2  # below this much time left, no InvokeEndpoint call is started


@dataclass(frozen=True)
class RatingRequest:
    """``invoke_model(model, user_id, movie_id)``: one predicted rating; ``row`` numbers it in errors."""

    row: int
    model: str
    user: int
    movie: int


@dataclass(frozen=True)
class TopKRequest:
    """``recommend(model, user_id, k)``: one user's best-first list; ``row`` numbers it in errors."""

    row: int
    model: str
    user: int
    k: int


def rating_request(row: int, prefix: str, model: Any, user: Any, movie: Any) -> RatingRequest | None:
    """One call's validated arguments (None where one is NULL: SQL's answer is then NULL too)."""
    if model is None or user is None or movie is None:
        return None
    return RatingRequest(
        row,
        resources.model_name(model, prefix, row=row),
        whole_number(user, "user_id", row),
        whole_number(movie, "movie_id", row),
    )


def top_k_request(row: int, prefix: str, model: Any, user: Any, k: Any = None) -> TopKRequest | None:
    """One call's validated arguments, ``k`` 10 when NULL (None where the model or user is NULL)."""
    if model is None or user is None:
        return None
    count = 10 if k is None else whole_number(k, "k", row)
    if not 1 <= count <= MAX_K:
        raise CallerError(row=row, message=f"k must be from 1 to {MAX_K}.")
    return TopKRequest(row, resources.model_name(model, prefix, row=row), whole_number(user, "user_id", row), count)


def invoke(
    requests: Sequence[RatingRequest | None], prefix: str, runtime: Runtime, deadline: float, owned: Ownership
) -> list[float | None]:
    """Predicted ratings, one per request (None for None), each model's in as few calls as fit a payload."""
    groups: dict[str, list[tuple[int, RatingRequest]]] = defaultdict(list)
    for position, request in enumerate(requests):
        if request is not None:
            groups[request.model].append((position, request))
    results: list[float | None] = [None] * len(requests)
    for model, items in groups.items():
        for chunk in chunks(items, lambda item: len(f"{item[1].user},{item[1].movie}\n")):
            body = "\n".join(f"{r.user},{r.movie}" for _, r in chunk).encode()
            answer = _invoke(runtime, deadline, owned, prefix, model, body, "text/csv", chunk[0][1].row)
            values = answer.split()
            if len(values) != len(chunk):
                raise FailedError(f"Model '{model}' answered {len(values)} predictions for {len(chunk)} rows.")
            for (position, _), value in zip(chunk, values, strict=True):
                results[position] = float(value)
    return results


def recommend(
    requests: Sequence[TopKRequest | None], prefix: str, runtime: Runtime, deadline: float, owned: Ownership
) -> list[list[int] | None]:
    """Best-first movie ids per request (None for None), each model's and k's users in as few calls as fit."""
    groups: dict[tuple[str, int], list[tuple[int, TopKRequest]]] = defaultdict(list)
    for position, request in enumerate(requests):
        if request is not None:
            groups[(request.model, request.k)].append((position, request))
    results: list[list[int] | None] = [None] * len(requests)
    for (model, k), items in groups.items():
        per_call = max(1, RECOMMEND_CELLS // k)
        for start in range(0, len(items), per_call):
            chunk = items[start : start + per_call]
            body = json.dumps({"user_ids": [r.user for _, r in chunk], "k": k}).encode()
            answer = _invoke(runtime, deadline, owned, prefix, model, body, "application/json", chunk[0][1].row)
            try:
                lists = json.loads(answer)["recommendations"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise FailedError(f"Model '{model}' answered something other than recommendations.") from None
            if len(lists) != len(chunk):
                raise FailedError(f"Model '{model}' answered {len(lists)} lists for {len(chunk)} users.")
            for (position, _), movies in zip(chunk, lists, strict=True):
                results[position] = movies
    return results


def chunks(
    items: Sequence[Item], size_of: Callable[[Item], int], limit: int = PAYLOAD_LIMIT
) -> Iterator[Sequence[Item]]:
    """Consecutive runs of ``items`` whose summed ``size_of`` stays within ``limit`` (one item may exceed it)."""
    start, size = 0, 0
    for index, item in enumerate(items):
        item_size = size_of(item)
        if size + item_size > limit and index > start:
            yield items[start:index]
            start, size = index, 0
        size += item_size
    if start < len(items):
        yield items[start:]


def _invoke(
    runtime: Runtime,
    deadline: float,
    owned: Ownership,
    prefix: str,
    model: str,
    body: bytes,
    content_type: str,
    row: int,
) -> str:
    """One InvokeEndpoint call that must answer before ``deadline`` (``time.monotonic()``); ``row``: its first."""
    endpoint = resources.endpoint_name(prefix, model)
    ours = owned(endpoint)
    if ours is None:
        raise CallerError(row=row, message=_not_deployed(model))
    if not ours:
        raise CallerError(
            row=row,
            message=f"endpoint {endpoint} belongs to another pipeline (no {resources.PIPELINE_TAG}={prefix} tag); "
            f"deploy the model from this environment with deploy_model('{model}', 'latest').",
        )
    left = int(deadline - time.monotonic())
    if left < MIN_CALL_S:  # API Gateway would cut the call off: answer while Snowflake can still retry
        raise UnavailableError(row=row, message=f"the batch ran out of time before model '{model}' answered")
    try:
        response = runtime(min(MAX_READ_TIMEOUT_S, left)).invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept=content_type, Body=body
        )
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if code == "ValidationError" and "not found" in message.lower():
            raise CallerError(row=row, message=_not_deployed(model)) from None
        if code == "ModelError":
            log_error(exc, f"invoking model '{model}'")
            original = int(str(exc.response.get("OriginalStatusCode") or 500))  # InvokeEndpoint's ModelError
            where = f"see the log group {endpoint_log_group(endpoint)}"
            if 400 <= original < 500:
                raise CallerError(
                    f"Model '{model}' rejected the request with status {original} ({reference(exc)}): {where}."
                ) from None
            raise FailedError(
                f"Model '{model}' failed while answering with status {original} ({reference(exc)}): {where}."
            ) from None
        if code == "ModelNotReadyException":
            log_error(exc, f"invoking model '{model}'")
            ref = reference(exc)
            raise UnavailableError(f"Model '{model}' is not ready yet ({ref})") from None
        raise upstream_error(exc, f"invoking model '{model}'") from None
    except BotoCoreError as exc:
        raise upstream_error(exc, f"invoking model '{model}'") from None
    return response["Body"].read().decode()


def _not_deployed(model: str) -> str:
    return f"no model named '{model}' is deployed: run deploy_model('{model}', 'latest') first."

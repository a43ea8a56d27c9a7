"""Lambda entry points, one per external function (API Gateway REST proxy events in and out).

Each handler parses Snowflake's batch, reads its configuration, calls one logic module and
answers in Snowflake's format. Failures become one-sentence answers (see ``protocol``); an
unexpected exception is logged with its traceback and answered with 400 and the request id: a
retry would only repeat it (Snowflake retries every 5xx for minutes), so the query fails at once.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from external_functions import aws, deployment, deployment_records, scoring, status, training, undeployment
from external_functions.errors import CallerError, FailedError, PipelineError
from external_functions.protocol import Batch, failed, ok, parse_event, request_headers, sentence, status_of
from external_functions.settings import Environment, HostingSettings, MisconfiguredError, TrainingSettings
from external_functions.spark import SparkSettings
from pipeline_shared import InputError, resources, settings
from pipeline_shared.catalogue import BY_PATH
from pipeline_shared.logs import count, log

Work = Callable[[Batch, Environment], Sequence[Any]]


def _serve(event: dict[str, Any], context: Any, *, path: str, work: Work) -> dict:
    """Answer one batch of the catalogue's function at ``path`` with ``work``."""
    entry = BY_PATH[path]
    function = entry.label
    started = time.perf_counter()
    request_id = getattr(context, "aws_request_id", None)
    headers = request_headers(event)  # read before parsing: a malformed batch is still logged with its ids
    fields: dict[str, Any] = {
        "function": function,
        "request_id": request_id,
        "query_id": headers.get("sf-external-function-current-query-id"),
        "batch_id": headers.get("sf-external-function-query-batch-id"),
    }
    outcome = resources.FAILED_BATCHES
    try:
        batch = parse_event(event, function=function, arities=entry.arities)
        fields["rows"] = len(batch.rows)
        answer = ok(batch, work(batch, Environment.current(function)))
        log("INFO", "answered", status=200, duration_ms=_since(started), **fields)
        outcome = resources.ROWS
        return answer
    except InputError as exc:  # a shared rule (name, option) refused the caller's input
        refusal = CallerError(exc.message, row=exc.row)
        log("WARNING", sentence(refusal), status=status_of(refusal), duration_ms=_since(started), **fields)
        outcome = resources.REFUSED_BATCHES
        return failed(refusal)
    except PipelineError as error:
        status = status_of(error)
        log("WARNING", sentence(error), status=status, duration_ms=_since(started), **fields)
        outcome = resources.REFUSED_BATCHES if status < 500 else resources.FAILED_BATCHES
        return failed(error)
    except Exception as exc:  # an answer Snowflake can show, never a stack trace
        log("ERROR", "unexpected failure", error=type(exc).__name__, trace=traceback.format_exc(), **fields)
        return failed(FailedError(f"{function} failed unexpectedly; see the Lambda's log for request {request_id}."))
    finally:
        _count(function, outcome, fields.get("rows", 0))


def _count(function: str, outcome: str, rows: int) -> None:
    """The batch's counters: rows answered, or one refused (4xx) or failed (5xx, unexpected) batch."""
    try:
        prefix = Environment.current(function).prefix()
    except MisconfiguredError:  # the batch was already answered so
        return
    counters = {resources.ROWS: rows} if outcome == resources.ROWS else {outcome: 1}
    count(prefix, function, **counters)


def _records(env: Environment) -> status.Undeployed:
    """A model's undeployment record; the bucket is read only when a model has no endpoint."""
    return lambda model: deployment_records.last_undeployed(
        aws.s3(), env.required(settings.ARTIFACT_BUCKET), env.prefix(), model
    )


def _ownership(prefix: str) -> scoring.Ownership:
    return lambda endpoint: aws.endpoint_is_ours(endpoint, prefix)


API_GATEWAY_LIMIT_S = 29
ANSWER_MARGIN_S = 1.5  # to serialise the answer and get it through API Gateway


def answer_by(context: Any) -> float:
    """The ``time.monotonic()`` by which work must end: before API Gateway's 29 s and the Lambda's own limit."""
    left = float(API_GATEWAY_LIMIT_S)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        left = min(left, remaining() / 1000)
    return time.monotonic() + left - ANSWER_MARGIN_S


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def train_handler(event: dict[str, Any], context: Any) -> dict:
    """``train_and_get_recommendations(input_table, output_table[, options])`` -> job OBJECT."""
    return _serve(event, context, path="train", work=_train)


def _train(batch: Batch, env: Environment) -> list[dict[str, Any]]:
    if not batch.batch_id:  # what makes a retried batch find the jobs it started
        raise CallerError(f"{BY_PATH['train'].label} needs Snowflake's sf-external-function-query-batch-id header.")
    requests = [training.parse_request(row.number, *row.args) for row in batch.rows]
    training_settings, spark_settings = TrainingSettings.from_env(env), SparkSettings.from_env(env)
    return training.start(requests, training_settings, aws.sagemaker(), spark_settings, retry_key=batch.batch_id)


def deploy_handler(event: dict[str, Any], context: Any) -> dict:
    """``deploy_model(model_name, model_ref)`` -> deployment OBJECT."""

    def work(batch: Batch, env: Environment) -> list[dict[str, Any]]:
        hosting = HostingSettings.from_env(env)
        requests = [deployment.parse_request(row.number, hosting.prefix, *row.args) for row in batch.rows]
        return deployment.deploy(requests, hosting, aws.sagemaker(), answer_by(context))

    return _serve(event, context, path="deploy", work=work)


def undeploy_handler(event: dict[str, Any], context: Any) -> dict:
    """``undeploy_model(model_name)`` -> undeployment OBJECT."""
    return _serve(event, context, path="undeploy", work=lambda batch, env: _undeploy(batch, env, answer_by(context)))


def _undeploy(batch: Batch, env: Environment, deadline: float) -> list[dict[str, Any]]:
    prefix, bucket, function = env.prefix(), env.required(settings.ARTIFACT_BUCKET), BY_PATH["undeploy"].label
    models = [(row.number, resources.model_name(row.args[0], prefix, row=row.number)) for row in batch.rows]
    sagemaker = aws.Budgeted.around(aws.sagemaker(), deadline, function)
    s3 = aws.Budgeted.around(aws.s3(), deadline, function)
    answers = []
    for number, model in models:
        try:
            done = undeployment.undeploy(
                model, prefix=prefix, bucket=bucket, sagemaker=sagemaker, s3=s3, reason=function
            )
        except InputError as exc:
            raise CallerError(row=number, message=exc.message) from None
        answers.append(done.answer())
    return answers


def invoke_handler(event: dict[str, Any], context: Any) -> dict:
    """``invoke_model(model_name, user_id, movie_id)`` -> predicted rating FLOAT."""

    def work(batch: Batch, env: Environment) -> list[float | None]:
        prefix = env.prefix()
        requests = [scoring.rating_request(row.number, prefix, *row.args) for row in batch.rows]
        return scoring.invoke(requests, prefix, aws.sagemaker_runtime, answer_by(context), _ownership(prefix))

    return _serve(event, context, path="invoke", work=work)


def recommend_handler(event: dict[str, Any], context: Any) -> dict:
    """``recommend(model_name, user_id, k)`` -> ARRAY of movie ids, best first."""

    def work(batch: Batch, env: Environment) -> list[list[int] | None]:
        prefix = env.prefix()
        requests = [scoring.top_k_request(row.number, prefix, *row.args) for row in batch.rows]
        return scoring.recommend(requests, prefix, aws.sagemaker_runtime, answer_by(context), _ownership(prefix))

    return _serve(event, context, path="recommend", work=work)


def status_handler(event: dict[str, Any], context: Any) -> dict:
    """``pipeline_status(name)`` -> OBJECT describing a training job or endpoint."""

    def work(batch: Batch, env: Environment) -> list[dict[str, Any] | None]:
        names = [(row.number, status.name_request(row.number, *row.args)) for row in batch.rows]
        return status.statuses(names, env.prefix(), aws.sagemaker(), undeployed=_records(env))

    return _serve(event, context, path="status", work=work)

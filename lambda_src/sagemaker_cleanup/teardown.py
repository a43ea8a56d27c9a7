"""Delete the SageMaker endpoints, endpoint configs and models one pipeline created at run time.

``deploy_model`` creates them from SQL, so CloudFormation does not know them. Each is named
``<prefix>-...`` and tagged ``recommender:pipeline=<prefix>`` (``pipeline_shared.resources``);
only objects with both are touched, so another pipeline whose prefix starts the same way
(``recsys2``, ``recsys-a``) and anything made by hand survive.

Endpoints are deleted asynchronously and deleting one leaves its config and model behind, so
teardown has two steps: :func:`start` asks SageMaker to delete the endpoints, :func:`finish` is
polled until it returns True and deletes the configs and models once no endpoint is left.
Objects that vanish in between ("Could not find ...") count as deleted. Training jobs still
running (``<prefix>-train-...``) and tuning jobs (``<prefix>-tune-...``, which stop the training
jobs they started) are stopped the same way (:func:`stop_training_jobs`, then
:func:`training_jobs_stopped`): they would bill, and write into a bucket being deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline_shared.aws_errors import error_code, error_message, is_not_found
from pipeline_shared.pipeline_objects import named, pipeline_owns
from pipeline_shared.resources import ENDPOINT_BUSY
from pipeline_shared.sagemaker_kinds import ENDPOINT_CONFIGS, ENDPOINTS, JOBS, MODELS, JobKind, Kind

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_sagemaker import SageMakerClient


class TeardownError(RuntimeError):
    """SageMaker refused a deletion that waiting will not fix (permissions, say)."""


def start(sagemaker: SageMakerClient, prefix: str) -> list[str]:
    """Ask SageMaker to delete every endpoint of the pipeline; returns their names."""
    endpoints = list(pipeline_objects(sagemaker, ENDPOINTS, prefix))
    for endpoint in endpoints:
        _delete_endpoint(sagemaker, endpoint)
    return [e[ENDPOINTS.name_key] for e in endpoints]


def finish(sagemaker: SageMakerClient, prefix: str) -> bool:
    """One poll: True once no endpoint, endpoint config or model of the pipeline is left.

    While endpoints remain (still deleting, or created or busy since :func:`start`) their
    deletion is requested again and nothing else is touched. Raises :class:`TeardownError`
    when SageMaker refuses a deletion for a reason other than a busy or missing object.
    """
    endpoints = list(pipeline_objects(sagemaker, ENDPOINTS, prefix))
    if endpoints:
        for endpoint in endpoints:
            _delete_endpoint(sagemaker, endpoint)
        return False
    for kind in (ENDPOINT_CONFIGS, MODELS):
        for summary in pipeline_objects(sagemaker, kind, prefix):
            _delete(sagemaker, kind, summary[kind.name_key])
    # a deploy_model call racing the stack deletion may have added objects meanwhile
    return not any(
        next(pipeline_objects(sagemaker, kind, prefix), None) for kind in (ENDPOINTS, ENDPOINT_CONFIGS, MODELS)
    )


def stop_training_jobs(sagemaker: SageMakerClient, prefix: str) -> list[str]:
    """Ask SageMaker to stop every running training and tuning job of the pipeline; returns their names."""
    running = []
    for kind in JOBS:
        for job in _unfinished(sagemaker, kind, prefix):
            if job[kind.status_key] != "InProgress":
                continue  # already stopping
            name = job[kind.name_key]
            running.append(name)
            try:
                getattr(sagemaker, kind.stop_operation)(**{kind.name_key: name})
            except ClientError as exc:
                if not is_not_found(exc) and error_code(exc) != "ValidationException":  # finished meanwhile
                    raise _refused(exc, f"stopping {kind.what} {name}") from None
    return running


def training_jobs_stopped(sagemaker: SageMakerClient, prefix: str) -> bool:
    """One poll: True once no training or tuning job of the pipeline is running or stopping."""
    states = [job[kind.status_key] for kind in JOBS for job in _unfinished(sagemaker, kind, prefix)]
    if "InProgress" in states:
        stop_training_jobs(sagemaker, prefix)
    return not states


def _unfinished(sagemaker: SageMakerClient, kind: JobKind, prefix: str) -> Iterator[dict[str, Any]]:
    start_of_name = kind.start_of_name(prefix)
    for job in named(sagemaker, kind, start_of_name):
        if job[kind.status_key] in ("InProgress", "Stopping") and _tagged(sagemaker, job[kind.arn_key], prefix):
            yield job


def pipeline_objects(sagemaker: SageMakerClient, kind: Kind, prefix: str) -> Iterator[dict[str, Any]]:
    """List summaries of the objects of one kind named ``<prefix>-...`` and tagged with ``prefix``."""
    # the tag check tells "<prefix>-a" pipelines apart (pipeline_objects)
    for summary in named(sagemaker, kind, f"{prefix}-"):
        if _tagged(sagemaker, summary[kind.arn_key], prefix):
            yield summary


def _tagged(sagemaker: SageMakerClient, arn: str, prefix: str) -> bool:
    try:
        return pipeline_owns(sagemaker, arn, prefix)
    except ClientError as exc:
        raise _refused(exc, f"reading the tags of {arn}") from None


def _delete_endpoint(sagemaker: SageMakerClient, summary: dict[str, Any]) -> None:
    name, status = summary["EndpointName"], summary.get("EndpointStatus", "")
    if status == "Deleting":
        return
    try:
        sagemaker.delete_endpoint(EndpointName=name)
    except ClientError as exc:
        if is_not_found(exc):
            return
        if status in ENDPOINT_BUSY and error_code(exc) == "ValidationException":
            return  # e.g. still Creating: deletable once it settles, so the next poll retries
        raise _refused(exc, f"deleting endpoint {name}") from None


def _delete(sagemaker: SageMakerClient, kind: Kind, name: str) -> None:
    try:
        getattr(sagemaker, kind.delete_operation)(**{kind.name_key: name})
    except ClientError as exc:
        if not is_not_found(exc):
            raise _refused(exc, f"deleting {kind.noun} {name}") from None


def _refused(exc: ClientError, doing: str) -> TeardownError:
    return TeardownError(
        f"SageMaker refused {doing} ({error_code(exc)}: {error_message(exc)}). Check the cleanup function's IAM "
        "policy, or delete the object by hand, then delete the stack again."
    )

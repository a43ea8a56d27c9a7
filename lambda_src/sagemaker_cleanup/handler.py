"""CDK Provider-framework entry points of the SageMaker cleanup custom resource.

ResourceProperties: ``{"ResourcePrefix": "<prefix>"}``, the pipeline's ``RESOURCE_PREFIX``.
Create and Update change nothing and answer ``sagemaker-cleanup-<prefix>``; an Update that
changes the prefix therefore gets a new physical id, and CloudFormation's Delete of the old
one tears down the old prefix's objects. Delete removes the pipeline's endpoints, endpoint
configs and models (see ``teardown``): ``on_event`` starts it, ``is_complete`` is polled until
they are gone. Errors are raised; the Provider framework reports them to CloudFormation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from pipeline_shared.logs import log
from pipeline_shared.resources import MAX_PREFIX, is_resource_prefix
from sagemaker_cleanup import teardown

_REQUESTS = {"Create", "Update", "Delete"}


@cache
def sagemaker() -> Any:
    return boto3.client(
        "sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30)
    )


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Create/Update: nothing to do. Delete: stop the pipeline's training jobs, delete its endpoints."""
    request, prefix = _parse(event)
    if request != "Delete":
        return {"PhysicalResourceId": physical_resource_id(prefix)}
    jobs = teardown.stop_training_jobs(sagemaker(), prefix)
    endpoints = teardown.start(sagemaker(), prefix)
    _log("stopping training jobs, deleting endpoints", context, prefix=prefix, jobs=jobs, endpoints=endpoints)
    return {"PhysicalResourceId": event["PhysicalResourceId"]}


def is_complete(event: dict[str, Any], context: Any) -> dict[str, bool]:
    """Delete: one teardown poll (jobs stopped, then ``teardown.finish``); other requests complete at once."""
    request, prefix = _parse(event)
    if request != "Delete":
        return {"IsComplete": True}
    jobs_stopped = teardown.training_jobs_stopped(sagemaker(), prefix)
    objects_gone = teardown.finish(sagemaker(), prefix)  # polled either way: both make progress
    done = jobs_stopped and objects_gone
    _log("teardown finished" if done else "waiting for endpoints to be deleted", context, prefix=prefix)
    return {"IsComplete": done}


def physical_resource_id(prefix: str) -> str:
    return f"sagemaker-cleanup-{prefix}"


def _parse(event: dict[str, Any]) -> tuple[str, str]:
    request = event.get("RequestType")
    if request not in _REQUESTS:
        raise ValueError(f"RequestType must be one of {sorted(_REQUESTS)}, got {request!r}.")
    prefix = (event.get("ResourceProperties") or {}).get("ResourcePrefix")
    if not is_resource_prefix(prefix):
        raise ValueError(
            f"ResourceProperties.ResourcePrefix must be the pipeline's RESOURCE_PREFIX (lower-case letters, "
            f"digits and single hyphens, at most {MAX_PREFIX} characters), got {prefix!r}: fix the stack."
        )
    return str(request), prefix


def _log(message: str, context: Any, **fields: Any) -> None:
    log("INFO", message, request_id=getattr(context, "aws_request_id", None), **fields)

"""Retention for the log groups SageMaker writes to, which SageMaker itself creates to never expire.

- ``/aws/sagemaker/Endpoints/<endpoint>`` belongs to one endpoint of this pipeline: it gets the
  stack's ``logRetentionDays`` whenever ``deploy_model`` creates or updates the endpoint.
- ``/aws/sagemaker/TrainingJobs`` is shared by every training job in the account and region: it
  gets the retention only when this pipeline creates it, so another team's policy is never changed.

Retention is housekeeping: a refusal is logged and the SQL call still succeeds.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_shared.aws_errors import error_code
from pipeline_shared.logs import log

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def endpoint_log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def keep_endpoint_logs(logs: Any, endpoint: str, days: int) -> None:
    """Create the endpoint's log group if needed and give it ``days`` of retention."""
    group = endpoint_log_group(endpoint)
    if _create(logs, group) is not None:
        _retain(logs, group, days)


def keep_training_logs(logs: Any, days: int) -> None:
    """Give the shared training log group ``days`` of retention if this call creates it."""
    if _create(logs, TRAINING_LOG_GROUP):
        _retain(logs, TRAINING_LOG_GROUP, days)


def _create(logs: Any, group: str) -> bool | None:
    """True: created now; False: it existed; None: refused (logged)."""
    try:
        logs.create_log_group(logGroupName=group)
        return True
    except ClientError as exc:
        if error_code(exc) == "ResourceAlreadyExistsException":
            return False
        _refused(group, exc)
    except BotoCoreError as exc:
        _refused(group, exc)
    return None


def _retain(logs: Any, group: str, days: int) -> None:
    try:
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    except (ClientError, BotoCoreError) as exc:
        _refused(group, exc)


def _refused(group: str, exc: Exception) -> None:
    code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    log("WARNING", "log retention not set", log_group=group, error=code)

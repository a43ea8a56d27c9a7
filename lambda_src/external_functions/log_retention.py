"""Retention for the log groups SageMaker writes to, which SageMaker itself creates to never expire.

- ``/aws/sagemaker/Endpoints/<endpoint>`` belongs to one endpoint of this pipeline: it gets the
  stack's ``logRetentionDays`` whenever ``deploy_model`` creates, updates or confirms the endpoint.
- ``/aws/sagemaker/TrainingJobs`` is shared by every training job in the account and region: it
  gets the retention only when this pipeline creates it, so another team's policy is never changed.

Retention is housekeeping: a refusal never fails the SQL call, but it is logged -- once per Lambda
container for each log group, action and error, at WARNING, with what to do -- so a missing
permission shows in the function's log without repeating on every call. A log group has two ARN
forms, ``...:log-group:<name>`` and ``...:log-group:<name>:*``, and IAM policies name it with the one
the action expects ("Both of the following are used", CloudWatch Logs' access-control overview:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html); the
stack grants both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_shared.aws_errors import error_code, request_id
from pipeline_shared.logs import log
from pipeline_shared.resources import TRAINING_LOG_GROUP

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_logs import CloudWatchLogsClient


_REPORTED: set[tuple[str, str, str]] = set()  # (log group, action, error) already logged by this container


def endpoint_log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def keep_endpoint_logs(logs: CloudWatchLogsClient, endpoint: str, days: int) -> None:
    """Create the endpoint's log group if needed and give it ``days`` of retention."""
    group = endpoint_log_group(endpoint)
    if _create(logs, group) is not None:
        _retain(logs, group, days)


def keep_training_logs(logs: CloudWatchLogsClient, days: int) -> None:
    """Give the shared training log group ``days`` of retention if this call creates it."""
    if _create(logs, TRAINING_LOG_GROUP):
        _retain(logs, TRAINING_LOG_GROUP, days)


def _create(logs: CloudWatchLogsClient, group: str) -> bool | None:
    """True: created now; False: it existed; None: refused (logged)."""
    try:
        logs.create_log_group(logGroupName=group)
        return True
    except ClientError as exc:
        if error_code(exc) == "ResourceAlreadyExistsException":
            return False
        _refused(group, "CreateLogGroup", exc)
    except BotoCoreError as exc:
        _refused(group, "CreateLogGroup", exc)
    return None


def _retain(logs: CloudWatchLogsClient, group: str, days: int) -> None:
    try:
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    except (ClientError, BotoCoreError) as exc:
        _refused(group, "PutRetentionPolicy", exc)


def _refused(group: str, action: str, exc: Exception) -> None:
    code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    if (group, action, code) in _REPORTED:
        return
    _REPORTED.add((group, action, code))
    log(
        "WARNING",
        f"CloudWatch Logs refused {action} on {group} ({code}), so the group keeps no retention: the function's "
        f"role needs logs:{action} on the log group's ARN in both forms, log-group:{group} and "
        f"log-group:{group}:* (the stack grants both; redeploy it if the role was changed)",
        log_group=group,
        action=action,
        error=code,
        aws_request_id=request_id(exc) if isinstance(exc, ClientError) else None,
    )

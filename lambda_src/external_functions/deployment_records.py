"""What became of a model that is no longer deployed: one small JSON object per model in the pipeline's bucket.

``undeploy_model``, ``recommender undeploy`` and the idle-endpoint sweep write
``s3://<bucket>/<prefix>/deployments/<model>.json`` (``{"model", "endpoint", "undeployed_at", "reason"}``)
when they take an endpoint down; ``pipeline_status('<model>')`` reads it once no endpoint is left, to say when and
why. The bucket is emptied and deleted with the stack.

A missing record is S3's 404 (``NoSuchKey``) only for a caller that may also ``s3:ListBucket`` the bucket; without
that S3 answers 403 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"), so the
status function is granted both.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from external_functions.aws import AWS_ERRORS, upstream_error
from pipeline_shared.aws_errors import error_code

if TYPE_CHECKING:  # boto3-stubs (the type check only)
    from mypy_boto3_s3 import S3Client


FOLDER = "deployments"


def key(prefix: str, model: str) -> str:
    return f"{prefix}/{FOLDER}/{model}.json"


def record_undeployed(
    s3: S3Client, bucket: str, prefix: str, model: str, *, endpoint: str, reason: str, at: datetime | None = None
) -> dict[str, Any]:
    """Write (replace) the model's record; returns it."""
    record = {
        "model": model,
        "endpoint": endpoint,
        "undeployed_at": (at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "reason": reason,
    }
    try:
        s3.put_object(
            Bucket=bucket, Key=key(prefix, model), Body=json.dumps(record).encode(), ContentType="application/json"
        )
    except AWS_ERRORS as exc:
        raise upstream_error(exc, f"recording that model {model} was undeployed", service="S3") from None
    return record


def last_undeployed(s3: S3Client, bucket: str, prefix: str, model: str) -> dict[str, Any] | None:
    """The model's record, or None when it was never undeployed."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key(prefix, model))["Body"].read()
    except AWS_ERRORS as exc:
        if isinstance(exc, ClientError) and error_code(exc) in ("NoSuchKey", "404"):
            return None
        raise upstream_error(exc, f"reading what became of model {model}", service="S3") from None
    try:
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None

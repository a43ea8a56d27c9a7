"""Whether a SageMaker object belongs to a pipeline: its ``recommender:pipeline`` tag, read with ListTags."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_shared.aws_errors import is_not_found
from pipeline_shared.resources import has_pipeline_tag


def pipeline_owns(sagemaker: Any, arn: str, prefix: str) -> bool:
    """True when the object at ``arn`` is tagged ``recommender:pipeline=<prefix>``; False if untagged or gone.

    Other refusals (permissions, throttling) raise botocore's ``ClientError`` for the caller to word.
    """
    try:
        for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
            if has_pipeline_tag(page["Tags"], prefix):
                return True
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    return False

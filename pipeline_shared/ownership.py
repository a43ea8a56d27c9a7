"""Whether a SageMaker object belongs to a pipeline: its ``recommender:pipeline`` tag, read with ListTags."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_shared.aws_errors import is_not_found
from pipeline_shared.resources import MODEL_TAG, PIPELINE_TAG


def tags_of(sagemaker: Any, arn: str) -> dict[str, str] | None:
    """The object's tags (every ListTags page), or None when the object is gone.

    Other refusals (permissions, throttling) raise botocore's ``ClientError`` for the caller to word.
    """
    tags: dict[str, str] = {}
    try:
        for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
            tags.update({tag["Key"]: tag["Value"] for tag in page["Tags"]})
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return tags


def owned(tags: dict[str, str] | None, prefix: str, *, model: str | None = None) -> bool:
    """Whether ``tags`` (from :func:`tags_of`) mark this pipeline's object (and, if given, ``model``'s)."""
    if tags is None or tags.get(PIPELINE_TAG) != prefix:
        return False
    return model is None or tags.get(MODEL_TAG) == model


def pipeline_owns(sagemaker: Any, arn: str, prefix: str) -> bool:
    """True when the object at ``arn`` is tagged ``recommender:pipeline=<prefix>``; False if untagged or gone."""
    return owned(tags_of(sagemaker, arn), prefix)

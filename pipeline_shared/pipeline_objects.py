"""A pipeline's SageMaker objects: which are its own, and listing them -- the one place the Lambdas, the
idle-endpoint sweep, the teardown on ``cdk destroy`` and the operator CLI find them.

An object is the pipeline's when its name is in the pipeline's namespace (``<prefix>-...``; jobs
``<prefix>-train-...`` and ``<prefix>-tune-...``) *and* it is tagged ``recommender:pipeline=<prefix>``
(read with ListTags). The name alone is not enough: SageMaker's ``NameContains`` also matches
``x<prefix>-...``, and pipeline ``<prefix>-a`` names its objects ``<prefix>-a-...``.

AWS errors are raised as botocore raises them; the Lambdas word them with ``external_functions.aws``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from pipeline_shared.aws_errors import is_not_found
from pipeline_shared.resources import MODEL_TAG, PIPELINE_TAG
from pipeline_shared.sagemaker_kinds import JobKind, Kind


def named(sagemaker: Any, kind: Kind | JobKind, start_of_name: str, **filters: Any) -> Iterator[dict[str, Any]]:
    """Summaries of ``kind`` whose names start with ``start_of_name``, over every page (``NextToken``).

    One List call a page, made as the caller asks for the next summary (a budgeted client checks its budget
    before each). ``filters`` are the List call's own (``StatusEquals``, ``SortBy``, ``MaxResults``, ...);
    the tags are not read here (:func:`owned`).
    """
    call = getattr(sagemaker, kind.list_operation)
    token: str | None = None
    while True:
        page = call(NameContains=start_of_name, **filters, **({"NextToken": token} if token else {}))
        for summary in page[kind.list_key]:
            if summary[kind.name_key].startswith(start_of_name):  # NameContains matches "x<start>" too
                yield summary
        token = page.get("NextToken")
        if not token:
            return


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

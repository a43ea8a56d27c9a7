"""The trust policy that lets Snowflake's IAM user assume the API role, and nobody else.

Snowflake reads ``API_AWS_IAM_USER_ARN`` and ``API_AWS_EXTERNAL_ID`` from ``DESCRIBE
INTEGRATION``; external IDs contain ``+``, ``=`` and ``/``, so the document is built with a
JSON serializer, never by pasting strings.
"""

from __future__ import annotations

import json
import re

_IAM_USER_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:user/[\w+=,.@/-]{1,512}")
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}")  # IAM's rule for sts:ExternalId


class UnexpectedIntegrationError(ValueError):
    """Snowflake described the integration without a usable IAM user ARN or external ID."""


def trust_policy(iam_user_arn: str, external_id: str) -> str:
    """The role's AssumeRolePolicyDocument as JSON text; raises if either value looks wrong."""
    if not _IAM_USER_ARN.fullmatch(iam_user_arn):
        raise UnexpectedIntegrationError(
            "Snowflake's API_AWS_IAM_USER_ARN is not an IAM user ARN, so the role's trust policy was not changed."
        )
    if not _EXTERNAL_ID.fullmatch(external_id):
        raise UnexpectedIntegrationError(
            "Snowflake's API_AWS_EXTERNAL_ID is not a valid IAM external ID, so the role's trust policy "
            "was not changed."
        )
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": iam_user_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"))

"""Calls shaped like Snowflake's: external-function batches as API Gateway REST proxy events.

Snowflake POSTs ``{"data": [[row, args...], ...]}`` with its ``sf-external-function-*``
headers, gzip-compressed by default on AWS; API Gateway hands the Lambda a proxy event whose
body is base64-encoded when it is binary. Local mode and the tests call the real handlers
with these events.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Sequence
from typing import Any


def proxy_event(
    function: str,
    rows: Sequence[Sequence[Any]],
    *,
    path: str = "/",
    query_id: str | None = None,
    batch_id: str | None = None,
    compress: bool = True,
    first_row: int = 0,
) -> dict[str, Any]:
    """An API Gateway proxy event carrying ``rows`` (argument lists) numbered from ``first_row``."""
    document = {"data": [[first_row + i, *args] for i, args in enumerate(rows)]}
    raw = json.dumps(document).encode()
    headers = {
        "Content-Type": "application/json",
        "sf-external-function-format": "json",
        "sf-external-function-format-version": "1.0",
        "sf-external-function-current-query-id": query_id or str(uuid.uuid4()),
        "sf-external-function-query-batch-id": batch_id or str(uuid.uuid4()),
        "sf-external-function-name": function.upper(),
    }
    if compress:
        headers["Content-Encoding"] = "gzip"
        body, encoded = base64.b64encode(gzip.compress(raw)).decode(), True
    else:
        body, encoded = raw.decode(), False
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "body": body,
        "isBase64Encoded": encoded,
        "requestContext": {"requestId": str(uuid.uuid4()), "httpMethod": "POST", "resourcePath": path},
    }


def answer_values(response: dict[str, Any]) -> list[Any]:
    """The values of a 200 answer in row order (raises on anything else)."""
    if response["statusCode"] != 200:
        raise RuntimeError(f"external function answered {response['statusCode']}: {response['body']}")
    return [value for _, value in json.loads(response["body"])["data"]]

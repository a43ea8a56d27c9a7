"""Calls shaped like Snowflake's: external-function batches as API Gateway REST proxy events.

Snowflake POSTs ``{"data": [[row, args...], ...]}`` with its ``sf-external-function-*``
headers, gzip-compressed by default on AWS (``COMPRESSION = AUTO``). API Gateway inflates a
compressed request before its Lambda proxy integration ("API Gateway decompresses the payload
... and passes the mapped request to the integration endpoint", AWS API Gateway developer guide)
and the event keeps ``Content-Encoding: gzip`` with a plain, not base64-encoded body -- as
captured Lambda events show. Local mode and the tests call the real handlers with these events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any


def snowflake_headers(
    function: str, *, query_id: str, batch_id: str, signature: str | None = None, return_type: str | None = None
) -> dict[str, str]:
    """The headers Snowflake sends with every external-function batch (gzip-compressed JSON)."""
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "sf-external-function-format": "json",
        "sf-external-function-format-version": "1.0",
        "sf-external-function-current-query-id": query_id,
        "sf-external-function-query-batch-id": batch_id,
        "sf-external-function-name": function.upper(),
    }
    if signature:
        headers["sf-external-function-signature"] = signature
    if return_type:
        headers["sf-external-function-return-type"] = return_type
    return headers


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
    """The proxy event API Gateway hands the Lambda for a batch of ``rows`` numbered from ``first_row``.

    ``compress``: Snowflake gzipped the batch, so the header says gzip over an inflated body.
    """
    document = {"data": [[first_row + i, *args] for i, args in enumerate(rows)]}
    raw = json.dumps(document).encode()
    headers = snowflake_headers(
        function, query_id=query_id or str(uuid.uuid4()), batch_id=batch_id or str(uuid.uuid4())
    )
    if not compress:
        del headers["Content-Encoding"]
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "body": raw.decode(),  # inflated by API Gateway when Snowflake compressed it
        "isBase64Encoded": False,
        "requestContext": {"requestId": str(uuid.uuid4()), "httpMethod": "POST", "resourcePath": path},
    }


def answer_values(response: dict[str, Any]) -> list[Any]:
    """The values of a 200 answer in row order (raises on anything else)."""
    if response["statusCode"] != 200:
        raise RuntimeError(f"external function answered {response['statusCode']}: {response['body']}")
    return [value for _, value in json.loads(response["body"])["data"]]

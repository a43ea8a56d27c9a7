"""Snowflake's external-function batch protocol over API Gateway REST proxy events.

Request body ``{"data": [[row_number, arg1, ...], ...]}``. Snowflake gzips each batch
(``COMPRESSION = AUTO``); API Gateway inflates it before the integration and passes the plain JSON
on with ``Content-Encoding: gzip`` still set, so the header says nothing about the body: whether
to inflate is decided from the body's own bytes (a body may also arrive base64-encoded). Response 200
``{"data": [[row_number, value], ...]}``: one output per input row, same numbers, same order.
Errors are one sentence in the body -- Snowflake shows it to the SQL user verbatim -- and never
echo request data: 400 for bad input and for failures a retry cannot fix, 429/503 only for
transient upstream trouble (Snowflake retries those with the same batch id).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from external_functions.errors import CallerError, PipelineError, RetryableError, ThrottledError

MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
# Parsed, a JSON batch takes 5-12x its size in Python objects: 16 MB stays inside the functions' 512 MB
# (the largest batch Snowflake sends them, 20,000 rows, is about 1 MB).
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def status_of(error: Exception) -> int:
    """The HTTP status Snowflake gets for ``error``: 429 and 503 only for transient trouble, which Snowflake
    retries with the same batch id; 400 for everything else, which fails the query at once (a 5xx would be
    retried for minutes, repeating side effects)."""
    if isinstance(error, ThrottledError):
        return 429
    if isinstance(error, RetryableError):
        return 503
    return 400


@dataclass(frozen=True)
class Row:
    number: int
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Batch:
    rows: tuple[Row, ...]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def query_id(self) -> str | None:
        return self.headers.get("sf-external-function-current-query-id")

    @property
    def batch_id(self) -> str | None:
        return self.headers.get("sf-external-function-query-batch-id")

    @property
    def function_name(self) -> str | None:
        return self.headers.get("sf-external-function-name")


def parse_event(event: dict[str, Any], *, function: str, arities: Sequence[int]) -> Batch:
    """Decode an API Gateway proxy event into rows of ``function``'s arguments.

    ``arities`` lists the accepted argument counts (e.g. ``(2, 3)`` for an optional third).
    """
    if not isinstance(event, dict):
        raise CallerError(f"{function} received no HTTP request: call it through Snowflake's external function.")
    headers = request_headers(event)
    raw = _body_bytes(event, function)
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, or an integer beyond Python's digit limit
        raise CallerError(f"The request body for {function} is not valid JSON.") from None
    except RecursionError:
        raise CallerError(f"The request body for {function} is nested too deeply to be a batch of rows.") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise CallerError(f'The request body for {function} has no "data" list of rows.')

    rows = []
    expected = " or ".join(str(a) for a in arities) + (" argument" if tuple(arities) == (1,) else " arguments")
    for position, item in enumerate(data):
        if not isinstance(item, list) or not item:
            raise CallerError(f"Row {position} of the batch for {function} is not a [row_number, args...] list.")
        number = item[0]
        if isinstance(number, bool) or not isinstance(number, int):
            raise CallerError(f"Row {position} of the batch for {function} has no integer row number.")
        args = tuple(item[1:])
        if len(args) not in arities:
            plural = "argument" if len(args) == 1 else "arguments"
            raise CallerError(f"Row {number}: {function} takes {expected}, got {len(args)} {plural}.")
        rows.append(Row(number, args))
    seen: set[int] = set()
    for row in rows:  # answers are matched to rows by number: a repeat is ambiguous
        if row.number in seen:
            raise CallerError(f"Row number {row.number} appears more than once in the batch for {function}.")
        seen.add(row.number)
    return Batch(tuple(rows), headers)


def request_headers(event: object) -> dict[str, str]:
    """The event's HTTP headers with lower-case names; empty for anything that is not a proxy event."""
    raw = event.get("headers") if isinstance(event, dict) else None
    return {str(k).lower(): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _body_bytes(event: dict[str, Any], function: str) -> bytes:
    body = event.get("body")
    if body is None or body == "":
        raise CallerError(f"The request for {function} has an empty body.")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise CallerError(f"The request body for {function} is marked base64 but is not.") from None
    elif isinstance(body, str):
        raw = body.encode("utf-8")
    else:
        raise CallerError(f"The request body for {function} is not text.")
    if len(raw) > MAX_BODY_BYTES:
        raise CallerError(f"The request body for {function} exceeds 6 MB: lower MAX_BATCH_ROWS.")
    # Never trust Content-Encoding: API Gateway keeps it after inflating the body.
    if raw[:2] == GZIP_MAGIC:
        return _inflate(raw, zlib.MAX_WBITS | 16, function)
    if len(raw) > 1 and raw[0] == 0x78 and (raw[0] * 256 + raw[1]) % 31 == 0:  # a zlib (deflate) header
        return _inflate(raw, zlib.MAX_WBITS, function)
    return raw


def _inflate(raw: bytes, wbits: int, function: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(raw, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error:
        raise CallerError(f"The compressed request body for {function} is corrupt.") from None
    if len(out) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        raise CallerError(
            f"The request body for {function} expands beyond {MAX_DECOMPRESSED_BYTES >> 20} MB: lower MAX_BATCH_ROWS."
        )
    if not inflater.eof:  # truncated: the checksum trailer never arrived
        raise CallerError(f"The compressed request body for {function} is corrupt.")
    return out


def ok(batch: Batch, values: Sequence[Any]) -> dict[str, Any]:
    """A 200 answer: ``values[j]`` belongs to ``batch.rows[j]``."""
    if len(values) != len(batch.rows):
        raise AssertionError("one output per input row")  # a bug of ours, never the caller's
    data = [[row.number, value] for row, value in zip(batch.rows, values, strict=True)]
    return _answer(200, {"data": data})


def sentence(error: PipelineError) -> str:
    """What Snowflake shows the SQL user: the error's sentence, after "Row N: " when it concerns one row, and
    for a retryable error who retries."""
    text = error.told() if isinstance(error, RetryableError) else error.message
    return text if error.row is None else f"Row {error.row}: {text}"


def failed(error: PipelineError) -> dict[str, Any]:
    """An error answer whose body is the bare sentence: Snowflake shows it to the user as is."""
    return {"statusCode": status_of(error), "headers": {"Content-Type": "text/plain"}, "body": sentence(error)}


def _answer(status: int, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(document, separators=(",", ":"), allow_nan=False),
    }

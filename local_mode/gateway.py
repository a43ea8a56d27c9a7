"""Snowflake's external-function calls over loopback HTTP: an API Gateway stand-in and a caller.

:class:`LocalApiGateway` accepts ``POST /<route>`` like the deployed REST API and hands the
request to the same Lambda handler as an API Gateway proxy event: a gzip or deflate body is inflated
first and ``Content-Encoding`` left in the headers, as API Gateway does (415 if it cannot be inflated).
:class:`SnowflakeCaller` calls it the way Snowflake calls an external function: batches of at
most MAX_BATCH_ROWS rows, gzip-compressed, with Snowflake's headers, retrying 429/5xx answers
with the same batch id, and failing with Snowflake's message for anything else.
"""

from __future__ import annotations

import gzip
import http.client
import json
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from external_functions import handlers
from local_mode.snowflake_calls import snowflake_headers
from local_mode.standins import LoopbackHttpServer, QuietHandler
from pipeline_shared import logs
from pipeline_shared.catalogue import CATALOGUE, ExternalFunction

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LocalApiGateway(LoopbackHttpServer):
    """``POST /<route>`` -> the route's Lambda handler, in this process. Use as a context manager.

    With ``log_path``, the handlers' JSON log lines go to that file (CloudWatch's part).
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self._log: TextIO | None = None
        table: dict[str, Handler] = {f.path: getattr(handlers, f.handler) for f in CATALOGUE}

        class Proxy(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
                path = self.path.strip("/")
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                handler = table.get(path)
                if handler is None:
                    self.send_body(404, "text/plain", f"No route /{path}.".encode())
                    return
                try:
                    body = inflated(raw, self.headers.get("Content-Encoding", ""))
                except (OSError, EOFError, zlib.error):
                    # API Gateway's answer to a body it cannot decompress
                    self.send_body(415, "application/json", b'{"message": "Unsupported Media Type"}')
                    return
                event = {
                    "resource": f"/{path}",
                    "path": f"/{path}",
                    "httpMethod": "POST",
                    "headers": dict(self.headers.items()),  # Content-Encoding stays, as API Gateway leaves it
                    "body": body.decode("utf-8", "replace"),
                    "isBase64Encoded": False,
                    "requestContext": {"requestId": str(uuid.uuid4()), "resourcePath": f"/{path}"},
                }
                answer = handler(event, None)
                content_type = (answer.get("headers") or {}).get("Content-Type", "text/plain")
                self.send_body(answer["statusCode"], content_type, answer["body"].encode())

        super().__init__(Proxy)

    def __enter__(self) -> LocalApiGateway:
        if self.log_path is not None:
            self._log = self.log_path.open("a", encoding="utf-8")
            logs.send_to(self._log)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self._log is not None:
            logs.send_to(None)
            self._log.close()


def inflated(raw: bytes, encoding: str) -> bytes:
    """The body as API Gateway passes it on: gzip and deflate requests decompressed (errors raise)."""
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    return raw


class ExternalFunctionFailedError(RuntimeError):
    """What a SQL user sees when an external function's remote service answers an error."""


class SnowflakeCaller:
    """Calls external functions through a gateway URL exactly as Snowflake's engine would."""

    def __init__(self, url: str, *, retries: int = 3, retry_delay: float = 0.5) -> None:
        self.url, self.retries, self.retry_delay = url.rstrip("/"), retries, retry_delay

    def call(self, name: str, rows: Sequence[Sequence[Any]], *, query_id: str | None = None) -> list[Any]:
        """One output per row of ``rows`` (argument lists) for the SQL function ``name``."""
        arity = len(rows[0]) if rows else 0
        function = self._function(name, arity)
        query_id = query_id or str(uuid.uuid4())
        batch = function.max_batch_rows
        results: list[Any] = []
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            results.extend(self._batch(function, arity, chunk, start, query_id))
        return results

    def _function(self, name: str, arity: int) -> ExternalFunction:
        for function in CATALOGUE:
            if function.name == name.upper() and arity in function.arities:
                return function
        raise ValueError(f"No external function {name.upper()} with {arity} arguments in the catalogue.")

    def _batch(
        self, function: ExternalFunction, arity: int, rows: Sequence[Sequence[Any]], first: int, query_id: str
    ) -> list[Any]:
        body = gzip.compress(json.dumps({"data": [[first + i, *row] for i, row in enumerate(rows)]}).encode())
        headers = snowflake_headers(
            function.name,
            query_id=query_id,
            batch_id=f"{query_id}:{first}",
            signature=function.signatures[function.arities.index(arity)],
            return_type=function.returns,
        )
        for attempt in range(self.retries + 1):
            status, answer = self._post(function.path, body, headers)
            if status == 200:
                data = json.loads(answer)["data"]
                return [value for _, value in data]
            if (status == 429 or status >= 500) and attempt < self.retries:
                time.sleep(self.retry_delay * 2**attempt)
                continue
            raise ExternalFunctionFailedError(
                f"Request failed for external function {function.name} with remote service error: {status} '{answer}'"
            )
        raise AssertionError("unreachable")

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        host, port = self.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            connection.request("POST", f"/{path}", body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

"""Snowflake's answers for a statement that runs long, added to the fakesnow stand-in.

What Snowflake does:

- A statement still running after about 45 s is answered with a handle to poll instead of its result
  (SQL API reference, https://docs.snowflake.com/en/developer-guide/sql-api/reference: "the results
  are returned if the execution is completed in 45 seconds. If the statement execution takes longer
  to complete, the statement handle is returned"). The Python connector's own API does the same: a
  query request answered with code 333333 and a ``getResultUrl``, which the connector polls
  (``snowflake/connector/network.py``; its socket timeout is "don't reduce less than 45 seconds").
- A client cancels its statement by request id (``/queries/v1/abort-request``: what the connector
  sends when a statement outlives its ``timeout``), and the statement ends with error 000604, "SQL
  execution canceled".
- A busy warehouse queues statements; ``STATEMENT_QUEUED_TIMEOUT_IN_SECONDS`` is 0 (no limit) unless set
  (https://docs.snowflake.com/en/sql-reference/parameters), so only the client's timeout ends the wait.

fakesnow answers a query request only when its statement ends, and its abort-request does nothing: a
statement waiting for a lock longer than the client's socket timeout is sent again (and runs twice),
and one the client cancels runs on. Here a statement still running after ``HOLD_S`` is answered "in
progress" and polled (sooner than Snowflake's 45 s: tests' clients time a socket out after 5 s), and
an abort ends a statement that is waiting -- for a table lock, or queued -- with 000604. One already
executing in DuckDB finishes (the abort came too late).

For tests, ``--queue-forever REGEX`` keeps matching statements queued, as on a warehouse that never
frees a slot, until they are cancelled or their session ends. In-progress answers and aborts are
announced on stdout as JSON lines ``{"running": {"sql", "seconds"}}`` and ``{"abort": {"sql", "seconds"}}``.
"""

from __future__ import annotations

import asyncio
import contextvars
import gzip
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import fakesnow.server
from snowflake.connector.errors import ProgrammingError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

HOLD_S = 1.0
QUERY_PATH = "/queries/v1/query-request"
ABORT_PATH = "/queries/v1/abort-request"
RESULT_PATH = "/queries/{query_id}/result"
IN_PROGRESS = "333333"  # the connector's code for "still running: poll getResultUrl"
CANCELED = 604

# The cancellation of the statement a worker thread is executing (table_locks' waits watch it).
cancel_event: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("cancel_event", default=None)


def canceled() -> ProgrammingError:
    """Snowflake's error for a statement its client cancelled."""
    return ProgrammingError(msg="SQL execution canceled", errno=CANCELED, sqlstate="57014")


@dataclass
class Statement:
    sql: str
    token: str
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)
    answer: asyncio.Task[Response] | None = None

    def announce(self, event: str) -> None:
        seconds = round(time.monotonic() - self.started, 1)
        print(json.dumps({event: {"sql": self.sql[:120], "seconds": seconds}}), flush=True)


class RunningStatements:
    """Statements being worked on, by the client's request id and by the query id handed out to poll."""

    def __init__(
        self, fakesnow_query: Callable[[Request], Awaitable[Response]], queue_forever: re.Pattern[str] | None
    ) -> None:
        self._fakesnow_query = fakesnow_query
        self._queue_forever = queue_forever
        self._by_request: dict[str, Statement] = {}
        self._by_query: dict[str, Statement] = {}

    async def query(self, request: Request) -> Response:
        statement = Statement(_sql(await request.body(), request), _token(request))
        request_id = request.query_params.get("requestId", "")
        self._by_request[request_id] = statement
        cancel_event.set(statement.cancel)  # copied into the task, and from it into fakesnow's worker thread
        statement.answer = asyncio.create_task(self._run(request, statement))
        statement.answer.add_done_callback(lambda _: self._by_request.pop(request_id, None))
        return await self._answer(statement)

    async def result(self, request: Request) -> Response:
        try:
            fakesnow.server.to_conn(fakesnow.server.to_token(request))
        except fakesnow.server.ServerError as exc:  # a lost session: what fakesnow answers for a query
            body = {"data": None, "code": exc.code, "message": exc.message, "success": False, "headers": None}
            return JSONResponse(body, status_code=exc.status_code)
        statement = self._by_query.get(request.path_params["query_id"])
        if statement is None or statement.token != _token(request):
            message = f"Statement {request.path_params['query_id']} not found"
            return JSONResponse({"data": None, "code": "000709", "message": message, "success": False})
        return await self._answer(statement)

    async def abort(self, request: Request) -> Response:
        try:
            request_id = json.loads(_decoded(await request.body(), request)).get("requestId", "")
        except (ValueError, OSError):
            request_id = ""
        statement = self._by_request.get(request_id)
        if statement is not None and statement.token == _token(request):
            statement.announce("abort")
            statement.cancel.set()
        return JSONResponse({"data": None, "code": None, "message": None, "success": True})

    async def _run(self, request: Request, statement: Statement) -> Response:
        if self._queue_forever is not None and self._queue_forever.search(statement.sql):
            while not statement.cancel.is_set() and statement.token in fakesnow.server.sessions:
                await asyncio.sleep(0.1)
            error = canceled()
            body = {"errorCode": f"{error.errno:06d}", "sqlState": error.sqlstate}
            return JSONResponse({"data": body, "code": body["errorCode"], "message": error.msg, "success": False})
        return await self._fakesnow_query(request)

    async def _answer(self, statement: Statement) -> Response:
        assert statement.answer is not None
        done, _ = await asyncio.wait({statement.answer}, timeout=HOLD_S)
        if done:
            self._by_query.pop(statement.query_id, None)
            return statement.answer.result()
        self._by_query[statement.query_id] = statement
        statement.announce("running")
        data = {"queryId": statement.query_id, "getResultUrl": f"/queries/{statement.query_id}/result"}
        return JSONResponse({"data": data, "code": IN_PROGRESS, "message": None, "success": True})


def announced(log: str, event: str) -> list[dict[str, object]]:
    """The ``event`` ("running" or "abort") announcements in a stand-in's ``log`` text, oldest first."""
    prefix = f'{{"{event}": '
    return [json.loads(line)[event] for line in log.splitlines() if line.startswith(prefix)]


def _decoded(body: bytes, request: Request) -> bytes:
    return gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body


def _sql(body: bytes, request: Request) -> str:
    try:
        return str(json.loads(_decoded(body, request)).get("sqlText", ""))
    except (ValueError, OSError, AttributeError):
        return ""


def _token(request: Request) -> str:
    try:
        return fakesnow.server.to_token(request)
    except fakesnow.server.ServerError:
        return ""


def install(routes: list[BaseRoute], queue_forever: str | None = None) -> None:
    """Answer long statements "in progress", and honour aborts, in fakesnow's ``routes`` (changed in place)."""
    query = next(r for r in routes if isinstance(r, Route) and r.path == QUERY_PATH)
    running = RunningStatements(query.endpoint, re.compile(queue_forever) if queue_forever else None)
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path == QUERY_PATH:
            routes[index] = Route(QUERY_PATH, running.query, methods=["POST"])
        elif isinstance(route, Route) and route.path == ABORT_PATH:
            routes[index] = Route(ABORT_PATH, running.abort, methods=["POST"])
    routes.append(Route(RESULT_PATH, running.result, methods=["GET"]))

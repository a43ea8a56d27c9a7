"""The fakesnow server with its databases kept in a folder.

``fakesnow -s`` serves one shared in-memory instance; its ``-d`` folder only applies to fakesnow's
patch mode. Local mode wants its Snowflake data to outlive a run, so this starts the same server
app with the shared instance backed by a folder (one DuckDB file per database).

Snowflake's table locks are added (:mod:`local_mode.table_locks`): UPDATE, DELETE and MERGE wait
for another transaction's lock on their table, up to the session's ``LOCK_TIMEOUT``, and DDL statements
are atomic (fakesnow's, run by two sessions at once, could collide). A statement still
running after a second is answered "in progress" and polled, and a client's abort cancels a waiting
statement, as in Snowflake (:mod:`local_mode.running_statements`). Roles, users and grants are kept and
shown as Snowflake shows them (:mod:`local_mode.access_control`).

Every login is written to stdout as one JSON line ``{"login": {"user", "authenticator", "provider"}}``
(never a credential), so tests can see how a program signed in -- key pair, password or workload
identity -- as Snowflake's login history would show it.

Run as ``python -m local_mode.fakesnow_server --port PORT --data DIR [--queue-forever REGEX]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local_mode import access_control, running_statements, table_locks

LOGIN_PATH = "/session/v1/login-request"


class LoginRecorder:
    """ASGI middleware: logs who signed in and how, then hands the request on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("path") != LOGIN_PATH:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body, more = b"", True
        while more:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        print(json.dumps({"login": login_fields(body, headers.get("content-encoding", ""))}), flush=True)

        async def replay() -> Message:
            return messages.pop(0) if messages else {"type": "http.request", "body": b"", "more_body": False}

        await self.app(scope, replay, send)


def login_fields(body: bytes, encoding: str) -> dict[str, Any]:
    """The login request's user, authenticator and WIF provider (what Snowflake's login history shows)."""
    try:
        data = json.loads(gzip.decompress(body) if encoding == "gzip" else body)["data"]
    except (ValueError, KeyError, TypeError, OSError):
        return {"error": "unreadable login request"}
    return {
        "user": data.get("LOGIN_NAME"),
        "authenticator": data.get("AUTHENTICATOR") or "SNOWFLAKE",
        "provider": data.get("PROVIDER"),
        "attested": bool(data.get("TOKEN")) if data.get("AUTHENTICATOR") == "WORKLOAD_IDENTITY" else None,
    }


_login_request = fakesnow.server.login_request


async def login_with_session_parameters(request: Request) -> JSONResponse:
    """fakesnow's login, plus what Snowflake's has and fakesnow's lacks.

    - The session parameters fakesnow ignores and this stand-in honours (``LOCK_TIMEOUT``).
    - A master token: without one the connector never sends the logout (``/session?delete=true``)
      that ends a session, and with it the session's open transaction.
    """
    response = await _login_request(request)
    body = await request.body()  # starlette keeps the body it already read
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    parameters = {k.upper(): v for k, v in json.loads(body)["data"].get("SESSION_PARAMETERS", {}).items()}
    answer = json.loads(bytes(response.body))
    session = table_locks.session_of(fakesnow.server.sessions[answer["data"]["token"]])
    if "LOCK_TIMEOUT" in parameters:
        session.lock_timeout_s = float(parameters["LOCK_TIMEOUT"])
    answer["data"]["masterToken"] = secrets.token_urlsafe(32)
    return JSONResponse(answer)


def install_locks() -> None:
    """Table locks on every statement, session parameters read at login, transactions ended with sessions."""
    table_locks.install()
    fakesnow.server.sessions = table_locks.Sessions(fakesnow.server.sessions)
    routes = fakesnow.server.app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path == LOGIN_PATH:
            routes[index] = Route(LOGIN_PATH, login_with_session_parameters, methods=["POST"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True, help="folder for the databases (created if missing)")
    parser.add_argument(
        "--queue-forever", metavar="REGEX", help="statements matching REGEX stay queued until cancelled (tests)"
    )
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    fakesnow.server.shared_fs = FakeSnow(db_path=str(args.data))
    install_locks()
    access_control.install()
    running_statements.install(fakesnow.server.app.router.routes, args.queue_forever)
    print(f"fakesnow on {args.host}:{args.port}, data in {args.data}", file=sys.stderr, flush=True)
    uvicorn.run(LoginRecorder(fakesnow.server.app), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

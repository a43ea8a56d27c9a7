"""The fakesnow server with its databases kept in a folder.

``fakesnow -s`` serves one shared in-memory instance; its ``-d`` folder only applies to fakesnow's
patch mode. Local mode wants its Snowflake data to outlive a run, so this starts the same server
app with the shared instance backed by a folder (one DuckDB file per database).

Every login is written to stdout as one JSON line ``{"login": {"user", "authenticator", "provider"}}``
(never a credential), so tests can see how a program signed in -- key pair, password or workload
identity -- as Snowflake's login history would show it.

Run as ``python -m local_mode.fakesnow_server --port PORT --data DIR``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

import fakesnow.server
import uvicorn
from fakesnow.instance import FakeSnow
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True, help="folder for the databases (created if missing)")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    fakesnow.server.shared_fs = FakeSnow(db_path=str(args.data))
    print(f"fakesnow on {args.host}:{args.port}, data in {args.data}", file=sys.stderr, flush=True)
    uvicorn.run(LoginRecorder(fakesnow.server.app), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

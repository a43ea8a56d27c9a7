"""Start and stop local processes on loopback: the fakesnow and moto servers, and our own programs."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import snowflake.connector
from snowflake.connector import SnowflakeConnection

from pipeline_shared import settings

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class QuietHandler(BaseHTTPRequestHandler):
    """A keep-alive request handler that sends whole bodies and logs nothing."""

    protocol_version = "HTTP/1.1"

    def send_body(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackHttpServer:
    """A threaded HTTP server on a free loopback port, serving while its ``with`` block runs."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer((LOOPBACK, free_port()), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(
    args: Sequence[str], *, port: int, log: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> Iterator[Server]:
    """Run ``args`` until the block ends; yield once ``port`` accepts connections."""
    with log.open("wb") as sink:
        process = subprocess.Popen(list(args), stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{args[0]} exited with {process.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(args)} did not listen on {port} within {timeout} s")
            time.sleep(0.1)
        yield Server(LOOPBACK, port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fakesnow_server(
    data_dir: Path, log: Path, *, port: int | None = None, host: str = LOOPBACK, options: Sequence[str] = ()
) -> contextlib.AbstractContextManager[Server]:
    """The fakesnow server, its databases kept in ``data_dir`` across restarts (on ``port`` or a free one).

    ``host`` is the address it listens on: loopback, unless a container must reach it. ``options``
    are further arguments of ``local_mode.fakesnow_server`` (``--queue-forever REGEX``).
    """
    port = port or free_port()
    args = [sys.executable, "-m", "local_mode.fakesnow_server", "--host", host, "--port", str(port)]
    return running([*args, "--data", str(data_dir), *options], port=port, log=log, env=python_env())


def standin_address(server: Server) -> dict[str, str]:
    """The training hyperparameters that send a job to ``server`` (plain HTTP on loopback) instead of Snowflake."""
    address = {settings.STANDIN_HOST: server.host, settings.STANDIN_PORT: server.port}
    address[settings.STANDIN_PROTOCOL] = "http"
    return {str(setting.hyperparameter): setting.text(value) for setting, value in address.items()}


def fakesnow_connection(
    port: int, *, host: str = LOOPBACK, user: str = "tester", **options: Any
) -> SnowflakeConnection:
    """A real connector session to the fakesnow server on ``port`` (it accepts any password).

    ``options`` are further ``snowflake.connector.connect`` arguments (database, schema, timeouts).
    """
    settings: dict[str, Any] = {"login_timeout": 15, "network_timeout": 60, **options}
    return snowflake.connector.connect(
        account="fakesnow", user=user, password=user, host=host, port=port, protocol="http", **settings
    )


def moto_server(log: Path) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    args = [sys.executable, "-m", "local_mode.moto_server", "-H", LOOPBACK, "-p", str(port)]
    return running(args, port=port, log=log, env=python_env())


def python_env(**extra: str) -> dict[str, str]:
    """The current environment without AWS or Snowflake settings, plus ``extra``.

    Child processes run this interpreter, whose environment imports every first-party package.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNOWFLAKE_"))}
    env.update(extra)
    return env

"""Local mode's API gateway and Snowflake-like caller: batching, headers, retries and errors."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from local_mode.gateway import ExternalFunctionFailedError, LocalApiGateway, SnowflakeCaller
from local_mode.standins import LoopbackHttpServer, QuietHandler

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(monkeypatch) -> Iterator[LocalApiGateway]:
    monkeypatch.setenv("RESOURCE_PREFIX", "gw")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # as in every Lambda; no call reaches AWS here
    with LocalApiGateway() as running:
        yield running


def test_batches_follow_max_batch_rows_and_keep_row_order(gateway, capsys) -> None:
    answers = SnowflakeCaller(gateway.url).call("PIPELINE_STATUS", [[None]] * 45)
    assert answers == [None] * 45
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    logged = [line for line in lines if "_aws" not in line]  # the others are the batches' EMF metrics
    assert [entry["rows"] for entry in logged] == [20, 20, 5]  # PIPELINE_STATUS: MAX_BATCH_ROWS = 20
    assert len({entry["query_id"] for entry in logged}) == 1 and len({entry["batch_id"] for entry in logged}) == 3


def test_bad_input_fails_like_snowflake_shows_it(gateway) -> None:
    with pytest.raises(ExternalFunctionFailedError) as caught:
        SnowflakeCaller(gateway.url).call("PIPELINE_STATUS", [["not a valid name!"]])
    assert str(caught.value) == (
        "Request failed for external function PIPELINE_STATUS with remote service error: "
        "400 'Row 0: name must be a training job, model or endpoint name.'"
    )


class FlakyService(LoopbackHttpServer):
    """A remote service that answers 503 to the first request, then echoes each row's argument."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        service = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
                body = gzip.decompress(self.rfile.read(int(self.headers["Content-Length"])))
                service.seen.append({k.lower(): v for k, v in self.headers.items()})
                if len(service.seen) == 1:
                    self.send_body(503, "text/plain", b"busy")
                    return
                rows = json.loads(body)["data"]
                answer = json.dumps({"data": [[row[0], row[1]] for row in rows]}).encode()
                self.send_body(200, "application/json", answer)

        super().__init__(Handler)


def test_retries_5xx_with_the_same_batch_id() -> None:
    with FlakyService() as service:
        answers = SnowflakeCaller(service.url, retry_delay=0.01).call("PIPELINE_STATUS", [["a"], ["b"]])
    assert answers == ["a", "b"]
    first, second = service.seen
    assert first["sf-external-function-query-batch-id"] == second["sf-external-function-query-batch-id"]
    assert first["content-encoding"] == "gzip" and first["sf-external-function-name"] == "PIPELINE_STATUS"
    assert first["sf-external-function-signature"] == "PIPELINE_STATUS(VARCHAR)"


def test_unknown_function_or_arity_is_refused(gateway) -> None:
    with pytest.raises(ValueError, match="No external function INVOKE_MODEL with 2 arguments"):
        SnowflakeCaller(gateway.url).call("invoke_model", [["m", 1]])


def post(gateway: LocalApiGateway, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{gateway.url}/{path}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_handler_gets_the_inflated_body_with_the_gzip_header_kept(gateway, capsys) -> None:
    """What API Gateway does with Snowflake's gzip batches: the Lambda sees plain JSON and Content-Encoding: gzip."""
    document = {"data": [[0, None], [1, None]]}
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    status, answer = post(gateway, "status", gzip.compress(json.dumps(document).encode()), headers)
    assert status == 200, answer
    assert json.loads(answer) == {"data": [[0, None], [1, None]]}


def test_a_body_that_cannot_be_inflated_is_refused_before_the_lambda(gateway, capsys) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    status, _ = post(gateway, "status", b"\x1f\x8bnot really gzip", headers)
    assert status == 415
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]  # no Lambda ran

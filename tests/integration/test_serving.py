"""The serve program as SageMaker runs it, answering over HTTP from the trained model."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from local_mode.standins import Server, free_port, python_env, running
from tests.integration.conftest import TrainedJob

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(trained_job: TrainedJob, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    env = python_env(OPT_ML=str(trained_job.run.opt_ml), SAGEMAKER_BIND_TO_PORT=str(port))
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with running(
        [sys.executable, "-m", "recommender.serve", "--host", "127.0.0.1", "--workers", "2"],
        port=port,
        log=log,
        env=env,
    ) as process:
        yield process


def call(server: Server, method: str, path: str, body: bytes = b"", content_type: str | None = None):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Content-Type": content_type} if content_type else {}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def test_ping(server: Server, trained_job: TrainedJob) -> None:
    status, _, body = call(server, "GET", "/ping")
    assert status == 200
    assert json.loads(body)["movies"] == trained_job.model.n_items


def test_csv_predictions_match_the_model(server: Server, trained_job: TrainedJob) -> None:
    model = trained_job.model
    rng = np.random.default_rng(3)
    users = rng.choice(model.user_ids, 2000)
    movies = rng.choice(model.item_ids, 2000)
    body = "\n".join(f"{u},{m}" for u, m in zip(users, movies, strict=True)).encode()
    status, content_type, answer = call(server, "POST", "/invocations", body, "text/csv")
    assert status == 200 and content_type.startswith("text/csv")
    served = np.array(answer.decode().split(), dtype=float)
    np.testing.assert_allclose(served, model.predict(users, movies), atol=5e-5)
    assert served.min() >= model.rating_min and served.max() <= model.rating_max


def test_unknown_ids_get_the_baseline(server: Server, trained_job: TrainedJob) -> None:
    model = trained_job.model
    user, movie = int(model.user_ids[0]), int(model.item_ids[0])
    unknown = 10**12
    body = json.dumps({"instances": [[unknown, movie], [user, unknown], [unknown, unknown]]}).encode()
    status, _, answer = call(server, "POST", "/invocations", body, "application/json")
    assert status == 200
    expected = np.clip(
        [
            model.global_mean + model.item_bias[0],
            model.global_mean + model.user_bias[0],
            model.global_mean,
        ],
        model.rating_min,
        model.rating_max,
    )
    np.testing.assert_allclose(json.loads(answer)["predictions"], expected, atol=5e-5)


def test_json_recommendations_exclude_rated_movies(server: Server, trained_job: TrainedJob, movielens) -> None:
    users = [int(u) for u in trained_job.model.user_ids[:20]]
    body = json.dumps({"user_ids": users, "k": 7}).encode()
    status, _, answer = call(server, "POST", "/invocations", body, "application/json; charset=utf-8")
    assert status == 200
    served = json.loads(answer)["recommendations"]
    assert served == trained_job.model.recommend(np.array(users), 7)
    rated = movielens.ratings.groupby("userId").movieId.agg(set).to_dict()
    for user, movies in zip(users, served, strict=True):
        assert len(movies) == 7 and not set(movies) & rated[user]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "fragment"),
    [
        ("text/csv", b"1,2,3\n", 400, "2 fields"),
        ("text/csv", b"one,two\n", 400, "user_id,movie_id"),
        ("text/csv", b"", 400, "empty"),
        ("application/json", b"{not json", 400, "not valid JSON"),
        ("application/json", b'{"instances": [[1]]}', 400, "pairs"),
        ("application/json", b'{"user_ids": [1], "k": 0}', 400, "'k'"),
        ("application/json", b"[1, 2]", 400, "must be an object"),
        ("text/plain", b"1,2", 415, "not supported"),
        (None, b"1,2", 415, "not supported"),
    ],
)
def test_bad_requests(server: Server, content_type: str | None, body: bytes, status: int, fragment: str) -> None:
    got, _, answer = call(server, "POST", "/invocations", body, content_type)
    assert got == status
    assert fragment in json.loads(answer)["description"]


def test_body_over_6_mb_is_refused_before_it_is_read(server: Server) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(6 * 1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert "6 MB" in json.loads(response.read())["description"]


def serve_until_it_exits(opt_ml: Path) -> subprocess.CompletedProcess[str]:
    """Start the serve program on ``opt_ml`` and wait for it to exit (it should refuse to start)."""
    return subprocess.run(
        [sys.executable, "-m", "recommender.serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=python_env(OPT_ML=str(opt_ml)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_without_a_model_exits_with_a_reason(tmp_path) -> None:
    done = serve_until_it_exits(tmp_path)
    assert done.returncode == 1
    assert "No model in" in done.stderr


@pytest.mark.parametrize("damage", ["nan-factor", "truncated", "garbage"])
def test_a_damaged_model_is_a_clean_startup_failure(tmp_path, trained_job: TrainedJob, damage: str) -> None:
    """Never a healthy /ping followed by 500s: the server does not start, and says why in one sentence."""
    model_dir = tmp_path / "model"
    shutil.copytree(trained_job.run.opt_ml / "model", model_dir)
    arrays = model_dir / "model.npz"
    if damage == "nan-factor":
        with np.load(arrays, allow_pickle=False) as data:
            content = {name: data[name] for name in data.files}
        content["item_factors"] = content["item_factors"].copy()
        content["item_factors"][7, 3] = np.nan
        with arrays.open("wb") as handle:
            np.savez(handle, **content)
    elif damage == "truncated":
        arrays.write_bytes(arrays.read_bytes()[:1000])
    else:
        arrays.write_bytes(b"\x00garbage" * 100)
    done = serve_until_it_exits(tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].endswith("etrain the model.")
    assert ("not a finite number" in lines[0]) if damage == "nan-factor" else ("damaged or incomplete" in lines[0])


def test_a_chunked_body_is_read_not_taken_for_empty(server: Server, trained_job: TrainedJob) -> None:
    model = trained_job.model
    users, movies = model.user_ids[:300], model.item_ids[:300]
    lines = [f"{u},{m}\n".encode() for u, m in zip(users, movies, strict=True)]
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.request(
        "POST", "/invocations", body=iter(lines), headers={"Content-Type": "text/csv"}, encode_chunked=True
    )
    response = connection.getresponse()
    assert response.status == 200
    served = np.array(response.read().decode().split(), dtype=float)
    np.testing.assert_allclose(served, model.predict(users, movies), atol=5e-5)


def test_more_than_one_answer_can_carry_is_413(server: Server) -> None:
    status, _, body = call(server, "POST", "/invocations", json.dumps({"user_ids": [1] * 300, "k": 1000}).encode(),
                           "application/json")  # fmt: skip
    assert status == 413
    assert "split" in json.loads(body)["description"]


def test_ping_answers_while_clients_stall_and_a_stalled_body_times_out(server: Server) -> None:
    """24 clients send headers and a few bytes of a 100 kB body, then stall: /ping still answers at once."""
    stalled = []
    try:
        for _ in range(24):
            client = socket.create_connection((server.host, server.port), timeout=30)
            client.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                           b"Content-Length: 100000\r\n\r\n1,2\n")  # fmt: skip
            stalled.append(client)
        time.sleep(0.5)
        started = time.monotonic()
        status, _, _ = call(server, "GET", "/ping")
        assert status == 200 and time.monotonic() - started < 2
        answer = stalled[0].recv(4096).decode()  # after BODY_TIMEOUT_S the server gives the thread back
        assert answer.startswith("HTTP/1.1 408"), answer[:200]
    finally:
        for client in stalled:
            client.close()

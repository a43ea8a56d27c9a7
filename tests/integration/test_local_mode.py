"""Local mode end to end: `python -m local_mode` as a newcomer runs it, results checked."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from local_mode.standins import fakesnow_connection, fakesnow_server, python_env
from snowflake_sql.movielens import MovieLens
from tests.conftest import ROOT, SHARED_MOVIELENS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    workdir = tmp_path_factory.mktemp("local-mode")
    summary = workdir / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "local_mode", "--workdir", str(workdir), "--summary", str(summary)],
        env=python_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(summary.read_text()), workdir


def test_prints_every_step_with_timings(local_run) -> None:
    done, summary, _ = local_run  # the run's seconds are reported, never asserted (bench/ is for speed)
    out = done.stdout
    assert summary["seconds"] > 0
    for step in range(1, 10):
        assert f"[{step}/9]" in out
    assert re.search(r"rating error on held-out ratings: RMSE 0\.\d{4}, MAE 0\.\d{4}", out)
    assert re.search(
        r"top-10 on held-out ratings: NDCG 0\.\d{3}, precision 0\.\d{3}, recall 0\.\d{3}, "
        r"catalogue coverage \d+\.\d%",
        out,
    )
    assert "Timings" in out and "every process started here has been stopped" in out


def test_uses_the_shared_movielens_copy_or_says_it_is_synthetic(local_run, movielens: MovieLens) -> None:
    done, summary, _ = local_run
    assert summary["loaded"] == {"movies": len(movielens.movies), "ratings": len(movielens.ratings)}
    if SHARED_MOVIELENS.is_dir():
        assert "ml-latest-small" in done.stdout
    else:
        assert "synthetic" in done.stderr


def test_recommendations_are_shown_with_titles_and_stored(local_run, movielens: MovieLens) -> None:
    done, summary, workdir = local_run
    titles = set(movielens.movies.title)
    shown = re.findall(r"^\s+\d+\. (.+?)\s+\d\.\d\d$", done.stdout, re.M)
    assert len(shown) == 30 and all(t.strip() in {x[:60].strip() for x in titles} for t in shown)
    with fakesnow_server(workdir / "fakesnow", workdir / "check.log") as server:
        # the data folder kept by the run: its database is attached by name
        connection = fakesnow_connection(server.port, host=server.host, user="check", database="MOVIELENS")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*), COUNT(DISTINCT USERID), MIN(ARRAY_SIZE(TOP_10_RECOMMENDATIONS)), "
                "MIN(MODEL_VERSION) FROM MOVIELENS.PUBLIC.USER_MOVIE_RECOMMENDATIONS"
            )
            count, users, smallest, version = cursor.fetchone()
        connection.close()
    assert count == users == movielens.ratings.userId.nunique()
    assert smallest == 10
    assert version == summary["training_jobs"][1]  # the retrained model's recommendations replaced the first


def test_seed_query_predictions_come_from_the_endpoint(local_run) -> None:
    _, summary, _ = local_run
    predictions = summary["predictions"]
    assert predictions and all(0.5 <= p["predicted"] <= 5.0 for p in predictions)
    assert len({round(p["predicted"], 4) for p in predictions}) > 1


def test_redeploy_switches_to_the_retrained_model(local_run) -> None:
    _, summary, _ = local_run
    first, second = summary["deployments"]
    assert first["action"] == "created" and second["action"] == "updated"
    assert second["previous_endpoint_config_name"] == first["endpoint_config_name"]
    assert second["source"] == summary["training_jobs"][1]
    job, endpoint = summary["statuses"]
    assert job["status"] == "Completed" and endpoint["status"] == "InService"
    # pipeline_status shows the metrics SageMaker captured from the job's log with its MetricDefinitions
    assert set(job["metrics"]) == {
        "validation:rmse", "validation:mae", "validation:precision_at_10",
        "validation:recall_at_10", "validation:ndcg_at_10", "validation:coverage",
    }  # fmt: skip
    assert 0.15 < job["metrics"]["validation:ndcg_at_10"] < 1 and 0.5 < job["metrics"]["validation:rmse"] < 1.2
    assert endpoint["endpoint_config"] == second["endpoint_config_name"]


def test_bad_data_path_is_refused_with_one_message(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-zip.zip"
    bad.write_text("nope")
    done = subprocess.run(
        [sys.executable, "-m", "local_mode", "--data", str(bad), "--workdir", str(tmp_path / "w")],
        env=python_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{bad} is neither a folder nor a readable zip: give ml-latest-small.zip."
    ]


def test_ctrl_c_stops_every_process_it_started(tmp_path: Path) -> None:
    """Interrupted while the first training job runs: exit 130, no stand-in or program left behind."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "local_mode", "--workdir", str(tmp_path)],
        env=python_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    children: list[psutil.Process] = []
    try:
        for line in process.stdout:
            if "running the training job" in line:
                deadline = time.monotonic() + 10
                while len(children) < 3 and time.monotonic() < deadline:  # until the training program runs
                    children = psutil.Process(process.pid).children(recursive=True)
                    time.sleep(0.05)
                process.send_signal(signal.SIGINT)
                break
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "interrupted: every process started has been stopped" in err
    assert len(children) >= 3  # fakesnow, moto and the training program at least
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []

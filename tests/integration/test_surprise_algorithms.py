"""Each Surprise algorithm through the real training program on a Snowflake table (fakesnow), then the real server.

One small table (a few thousand ratings) keeps each job to seconds. Every job prints its
``validation:`` metrics, writes every user's list and saves a model that ``recommender.serve``
answers from: its predictions and lists over HTTP are the saved model's own, which the unit tests
(``tests/unit/recommender/test_surprise_models.py``) hold equal to the Surprise object's.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from snowflake.connector import SnowflakeConnection

from local_mode.standins import Server, free_port, python_env, running
from recommender.model import FactorModel
from snowflake_sql.movielens import load_ratings, synthetic_movielens
from tests.conftest import DATABASE, SCHEMA
from tests.integration.conftest import connection_hyperparameters, run_training

pytestmark = pytest.mark.integration

TABLE = f"{DATABASE}.{SCHEMA}.SURPRISE_RATINGS"
UNKNOWN = 10**12


@pytest.fixture(scope="module")
def small_table(snowflake_db: SnowflakeConnection) -> pd.DataFrame:
    data = synthetic_movielens(n_users=80, n_movies=250, n_ratings=2500, seed=21).ratings
    load_ratings(snowflake_db, TABLE, data)
    return data


def job(fakesnow: Server, output: str, **options: str) -> dict[str, str]:
    return {"input_table": TABLE, "output_table": output, **connection_hyperparameters(fakesnow), **options}


def stored_lists(connection: SnowflakeConnection, table: str) -> dict[int, tuple[list[int], list[float]]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT USERID, TOP_10_RECOMMENDATIONS, PREDICTED_RATINGS FROM {table}")
        return {int(u): (json.loads(r), json.loads(p)) for u, r, p in cursor.fetchall()}


def post(server: Server, content_type: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.request("POST", "/invocations", body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize(
    ("given", "name", "ranking"),
    [("svdpp", "SVDpp", None), ("NMF", "NMF", "predicted_rating"), ("knnbaseline", "KNNBaseline", "predicted_rating"),
     ("BaselineOnly", "BaselineOnly", None), ("SLOPEONE", "SlopeOne", "predicted_rating"),
     ("CoClustering", "CoClustering", None)],
)  # fmt: skip
def test_a_surprise_algorithm_trains_from_snowflake_writes_lists_and_serves(
    given, name, ranking, small_table, fakesnow, snowflake_db, tmp_path
):
    output = f"{DATABASE}.{SCHEMA}.RECS_{name.upper()}"
    options = {"algorithm": given, "top_k": "5", **({"ranking": ranking} if ranking else {})}
    run = run_training(tmp_path, job(fakesnow, output, **options), {"SNOWFLAKE_PASSWORD": "pw"})
    assert run.returncode == 0, run.stderr[-4000:]

    for metric in ("rmse", "mae", "ndcg_at_10"):
        assert re.search(rf"^validation:{metric}=[0-9.]+$", run.stdout, re.MULTILINE), run.stdout
    model, metadata = FactorModel.load(run.opt_ml / "model")
    assert metadata["algorithm"] == name and metadata["hyperparameters"]["algorithm"] == name
    assert 0.3 < metadata["metrics"]["validation:rmse"] < 1.5
    assert metadata["libraries"]["scikit-surprise"] == "1.1.5"
    assert model.ranking == (ranking or metadata["ranking"])
    assert (model.predictions is not None) == (name in ("KNNBaseline", "SlopeOne"))

    stored = stored_lists(snowflake_db, output)
    users = np.array(sorted(stored))
    assert set(stored) == set(small_table.userId)
    assert model.recommend(users, 5) == [stored[int(u)][0] for u in users]
    for user in users[:10]:
        movies, predicted = stored[int(user)]
        np.testing.assert_allclose(predicted, np.round(model.predict(np.full(len(movies), user), movies), 4))

    port = free_port()
    env = python_env(OPT_ML=str(run.opt_ml), SAGEMAKER_BIND_TO_PORT=str(port))
    command = [sys.executable, "-m", "recommender.serve", "--host", "127.0.0.1", "--workers", "1"]
    with running(command, port=port, log=tmp_path / "serve.log", env=env) as server:
        rng = np.random.default_rng(4)
        pair_users = np.concatenate([rng.choice(model.user_ids, 300), [UNKNOWN, model.user_ids[0], UNKNOWN]])
        pair_movies = np.concatenate([rng.choice(model.item_ids, 300), [model.item_ids[0], UNKNOWN, UNKNOWN]])
        body = "\n".join(f"{u},{m}" for u, m in zip(pair_users, pair_movies, strict=True)).encode()
        status, answer = post(server, "text/csv", body)
        assert status == 200
        served = np.array(answer.decode().split(), dtype=float)
        np.testing.assert_allclose(served, model.predict(pair_users, pair_movies), atol=5e-5)
        asked = [int(u) for u in users[:20]] + [UNKNOWN]
        status, answer = post(server, "application/json", json.dumps({"user_ids": asked, "k": 5}).encode())
        assert status == 200
        assert json.loads(answer)["recommendations"] == model.recommend(np.array(asked), 5)


def test_a_table_too_large_for_the_instances_memory_is_refused_before_any_fit(
    small_table, fakesnow, snowflake_db, tmp_path: Path
):
    """The container's memory comes from its cgroup files, relocated here (SYSTEM_ROOT) to a 64 MB limit."""
    root = tmp_path / "system"
    (root / "sys" / "fs" / "cgroup").mkdir(parents=True)
    (root / "sys" / "fs" / "cgroup" / "memory.max").write_text(f"{64 * 2**20}\n")
    output = f"{DATABASE}.{SCHEMA}.RECS_REFUSED_KNN"
    hyperparameters = job(fakesnow, output, algorithm="KNNBaseline", user_based="false")
    run = run_training(tmp_path / "job", hyperparameters, {"SNOWFLAKE_PASSWORD": "pw", "SYSTEM_ROOT": str(root)})
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.failure is not None and run.failure.strip() in run.stderr
    assert run.failure.startswith("Algorithm 'KNNBaseline' would need about ")
    assert "more than the 0.0 GB this instance has left: train with algorithm 'svd'" in run.failure
    assert "validation:" not in run.stdout
    assert "validating on" not in run.stderr and "fitting the model" not in run.stderr
    with snowflake_db.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {DATABASE}.INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'RECS_REFUSED_KNN'"
        )
        assert cursor.fetchone() == (0,)
    assert not (run.opt_ml / "model" / "model.npz").exists()

"""The real training image, built with Docker and run by the SageMaker SDK's local mode: opt-in, where Docker runs.

Everywhere else the training program runs as a local process from the image's own package. This
test is the one that builds ``training_image/Dockerfile`` and runs ``train`` in the container the
way SageMaker does (``/opt/ml`` layout, hyperparameters file), through the SDK's
``ModelTrainer(training_mode=Mode.LOCAL_CONTAINER)`` from ``.venv-operator``, against a fakesnow
server the container reaches on the Docker bridge. It needs Docker and ``RECOMMENDER_DOCKER_TESTS=1``
(``make test-image``); otherwise it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from local_mode.standins import fakesnow_connection, fakesnow_server, free_port
from operator_cli.sdk import SDK_PYTHON
from snowflake_sql.movielens import load_ratings
from tests.integration.conftest import INPUT_TABLE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TAG = "recommender-training:test"


def docker_unavailable() -> str | None:
    """Why the test cannot run here, or None."""
    if os.environ.get("RECOMMENDER_DOCKER_TESTS") != "1":
        return "opt-in: set RECOMMENDER_DOCKER_TESTS=1 (make test-image) to build and run the training image"
    docker = shutil.which("docker")
    if docker is None:
        return "no docker command on this machine: the image is built and run only where Docker is installed"
    if subprocess.run([docker, "info"], capture_output=True, check=False).returncode != 0:
        return "the Docker daemon is not reachable (docker info failed)"
    return None


@pytest.mark.skipif(docker_unavailable() is not None, reason=str(docker_unavailable()))
def test_the_image_trains_in_the_sdks_local_mode(tmp_path, movielens) -> None:
    docker = shutil.which("docker") or "docker"
    subprocess.run([docker, "build", "-f", "training_image/Dockerfile", "-t", TAG, "."], cwd=ROOT, check=True)
    bridge = json.loads(
        subprocess.run([docker, "network", "inspect", "bridge"], capture_output=True, check=True).stdout
    )
    host = bridge[0]["IPAM"]["Config"][0]["Gateway"]  # the host, as containers see it
    port = free_port()
    with fakesnow_server(tmp_path / "data", tmp_path / "fakesnow.log", port=port, host="0.0.0.0") as server:  # noqa: S104
        connection = fakesnow_connection(server.port, database=None)
        connection.cursor().execute("CREATE DATABASE IF NOT EXISTS MOVIELENS")
        connection.cursor().execute("CREATE SCHEMA IF NOT EXISTS MOVIELENS.PUBLIC")
        load_ratings(connection, INPUT_TABLE, movielens.ratings)
        hyperparameters = {
            "input_table": INPUT_TABLE,
            "output_table": "MOVIELENS.PUBLIC.IMAGE_RECS",
            "snowflake_account": "fakesnow",
            "snowflake_user": "IMAGE_TEST",
            "snowflake_database": "MOVIELENS",
            "snowflake_schema": "PUBLIC",
            "snowflake_host": host,
            "snowflake_port": str(port),
            "snowflake_protocol": "http",
            "n_epochs": "2",
        }
        script = f"""
import json
from sagemaker.core.training.configs import Compute
from sagemaker.train import ModelTrainer
from sagemaker.train.model_trainer import Mode
trainer = ModelTrainer(
    training_mode=Mode.LOCAL_CONTAINER,
    training_image={TAG!r},
    role="arn:aws:iam::123456789012:role/local",
    hyperparameters=json.loads({json.dumps(hyperparameters)!r}),
    environment={{"SNOWFLAKE_PASSWORD": "pw"}},
    compute=Compute(instance_type="local_cpu", instance_count=1),
    local_container_root={str(tmp_path / "container")!r},
)
trainer.train()
"""
        env = {**os.environ, "SAGEMAKER_VALIDATE_ROLE": "false", "AWS_DEFAULT_REGION": "us-east-1"}
        run = subprocess.run([str(SDK_PYTHON), "-c", script], env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        rows = (
            fakesnow_connection(server.port)
            .cursor()
            .execute("SELECT COUNT(*) FROM MOVIELENS.PUBLIC.IMAGE_RECS")
            .fetchone()[0]
        )
        assert rows == movielens.ratings["userId"].nunique()

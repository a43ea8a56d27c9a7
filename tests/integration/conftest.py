"""A real training job: ``python -m recommender.train`` against fakesnow, credentials from moto."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from snowflake.connector import SnowflakeConnection

from recommender.model import FactorModel
from snowflake_sql.local.standins import Server, python_env
from tests.conftest import DATABASE, SCHEMA

INPUT_TABLE = f"{DATABASE}.{SCHEMA}.RATINGS"
OUTPUT_TABLE = f"{DATABASE}.{SCHEMA}.USER_MOVIE_RECOMMENDATIONS"


@dataclass(frozen=True)
class JobRun:
    returncode: int
    stdout: str
    stderr: str
    opt_ml: Path

    @property
    def failure(self) -> str | None:
        path = self.opt_ml / "output" / "failure"
        return path.read_text() if path.exists() else None


def connection_hyperparameters(server: Server) -> dict[str, str]:
    return {
        "snowflake_account": "fakesnow",
        "snowflake_user": "SAGEMAKER_SVC",
        "snowflake_database": DATABASE,
        "snowflake_schema": SCHEMA,
        "snowflake_host": server.host,
        "snowflake_port": str(server.port),
        "snowflake_protocol": "http",
    }


def run_training(opt_ml: Path, hyperparameters: dict[str, str] | None, env: dict[str, str]) -> JobRun:
    """Lay out ``opt_ml`` like SageMaker does and run the training program as a subprocess."""
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    if hyperparameters is not None:
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    done = subprocess.run(
        [sys.executable, "-m", "recommender.train"],
        env=python_env(OPT_ML=str(opt_ml), **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return JobRun(done.returncode, done.stdout, done.stderr, opt_ml)


@pytest.fixture(scope="session")
def snowflake_secret(aws_client, aws_env: dict[str, str]) -> str:
    """ARN of a moto secret holding the stand-in's password (key-pair is for real Snowflake)."""
    client = aws_client("secretsmanager")
    return client.create_secret(Name="recommender/snowflake", SecretString=json.dumps({"password": "pw"}))["ARN"]


@dataclass(frozen=True)
class TrainedJob:
    run: JobRun
    model: FactorModel
    metadata: dict
    hyperparameters: dict[str, str]


@pytest.fixture(scope="session")
def trained_job(
    tmp_path_factory: pytest.TempPathFactory,
    snowflake_db: SnowflakeConnection,
    fakesnow: Server,
    snowflake_secret: str,
    aws_env: dict[str, str],
) -> TrainedJob:
    hyperparameters = {
        "input_table": INPUT_TABLE,
        "output_table": OUTPUT_TABLE,
        **connection_hyperparameters(fakesnow),
        "snowflake_secret_arn": snowflake_secret,
        "aws_region": "us-east-1",
        "top_k": "10",
    }
    run = run_training(
        tmp_path_factory.mktemp("job"), hyperparameters, {**aws_env, "TRAINING_JOB_NAME": "movielens-test-job"}
    )
    assert run.returncode == 0, f"training failed:\n{run.stderr[-4000:]}"
    model, metadata = FactorModel.load(run.opt_ml / "model")
    return TrainedJob(run, model, metadata, hyperparameters)

"""A real training job: ``python -m recommender.train`` against fakesnow, credentials from moto."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from snowflake.connector import SnowflakeConnection

from external_functions import aws
from local_mode.sagemaker import RuntimeRoute
from local_mode.standins import Server, python_env, standin_address
from recommender.model import FactorModel
from tests.conftest import DATABASE, SCHEMA

PREFIX = "recsys"
BUCKET = "recsys-artifacts"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/recommender:latest"
ROLE = "arn:aws:iam::123456789012:role/recsys-sagemaker"
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
        **standin_address(server),
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


def start_training(opt_ml: Path, hyperparameters: dict[str, str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The training program started in the background on an ``/opt/ml``-shaped folder (stderr piped)."""
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    return subprocess.Popen(
        [sys.executable, "-m", "recommender.train"],
        env=python_env(OPT_ML=str(opt_ml), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], fragment: str, *, timeout: float = 120) -> list[str]:
    """Read the process's stderr until a line contains ``fragment``; the lines read so far."""
    deadline, lines = time.monotonic() + timeout, []
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError(f"the process ended before {fragment!r}:\n{''.join(lines)}")
        lines.append(line)
        if fragment in line:
            return lines
    raise AssertionError(f"no {fragment!r} within {timeout} s:\n{''.join(lines)}")


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


@pytest.fixture(scope="session")
def route() -> Iterator[RuntimeRoute]:
    with RuntimeRoute() as runtime_route:
        yield runtime_route


@pytest.fixture(scope="session")
def lambda_env(aws_env: dict[str, str], route: RuntimeRoute, aws_client) -> Iterator[dict[str, str]]:
    """The environment the CDK stack gives the Lambdas, pointed at the stand-ins."""
    aws_client("s3").create_bucket(Bucket=BUCKET)
    env = {
        **aws_env,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": route.url,
        "RESOURCE_PREFIX": PREFIX,
        "TRAINING_IMAGE_URI": IMAGE,
        "SAGEMAKER_ROLE_ARN": ROLE,
        "SAGEMAKER_HOSTING_ROLE_ARN": ROLE.replace("sagemaker", "sagemaker-hosting"),
        "ARTIFACT_BUCKET": BUCKET,
        "SNOWFLAKE_ACCOUNT": "myorg-myaccount",
        "SNOWFLAKE_USER": "SAGEMAKER_SVC",
        "SNOWFLAKE_ROLE": "RECOMMENDER",
        "SNOWFLAKE_WAREHOUSE": "COMPUTE_WH",
        "SNOWFLAKE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake-key-AbCdEf",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        aws.reset_clients()
        yield env
        aws.reset_clients()

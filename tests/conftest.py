"""Shared fixtures: the MovieLens data and the local stand-ins (fakesnow, moto) on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from snowflake.connector import SnowflakeConnection

from local_mode.standins import Server, fakesnow_connection, fakesnow_server, moto_server
from pipeline_shared.credentials import STANDIN_ENV
from snowflake_sql.movielens import MovieLens, load_ratings, shared_or_synthetic

ROOT = Path(__file__).resolve().parents[1]
SHARED_MOVIELENS = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
DATABASE, SCHEMA = "MOVIELENS", "PUBLIC"
REGION = "us-east-1"
# The stand-ins' password secrets are accepted only in a process that says it runs stand-ins (and its children).
os.environ[STANDIN_ENV] = "1"


def pytest_report_header() -> str:
    return f"MovieLens data: {SHARED_MOVIELENS if SHARED_MOVIELENS.is_dir() else 'synthetic (../shared absent)'}"


@pytest.fixture(scope="session")
def movielens() -> MovieLens:
    """ml-latest-small from ../shared when present, else a synthetic set of the same shape."""
    return shared_or_synthetic(SHARED_MOVIELENS)[0]


@pytest.fixture(scope="session")
def fakesnow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fakesnow")
    with fakesnow_server(root / "data", root / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with moto_server(tmp_path_factory.mktemp("moto") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def aws_env(moto: Server) -> dict[str, str]:
    """Environment that points boto3 at the moto server."""
    return {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


@pytest.fixture(scope="session")
def aws_client(aws_env: dict[str, str]):
    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=aws_env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def snowflake_connection(server: Server, **options: Any) -> SnowflakeConnection:
    return fakesnow_connection(server.port, host=server.host, database=DATABASE, schema=SCHEMA, **options)


@pytest.fixture(scope="session")
def snowflake_db(fakesnow: Server, movielens: MovieLens) -> Iterator[SnowflakeConnection]:
    """A connection to fakesnow with ``MOVIELENS.PUBLIC.RATINGS`` loaded through PUT + COPY."""
    connection = snowflake_connection(fakesnow)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.{SCHEMA}")
    load_ratings(connection, f"{DATABASE}.{SCHEMA}.RATINGS", movielens.ratings)
    yield connection
    connection.close()

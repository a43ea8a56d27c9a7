"""The whole training job on ml-latest-small against the fakesnow server, ours vs the seed's.

Both run as child processes against the same server and table: ours is
``python -m recommender.train`` (read, validate, fit, top-10, write, save); the seed's reads,
cross-validates, scores every unrated pair and writes one concatenated INSERT. Also compares
holdout RMSE of our default hyperparameters with Surprise's ``SVD()`` defaults on seeded
80/20 splits.

Targets: our job under 15 s; our holdout RMSE at least 2% below ``SVD()``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import snowflake.connector

from local_mode.standins import fakesnow_connection, fakesnow_server, python_env
from recommender.config import ModelParams
from recommender.ratings import Ratings
from recommender.svd import evaluate, fit_svd
from snowflake_sql.movielens import load_ratings, shared_or_synthetic

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
SURPRISE_DEFAULTS = ModelParams(n_factors=100, n_epochs=20, lr_all=0.005, reg_all=0.02, init_std_dev=0.1)
TABLE = "MOVIELENS.PUBLIC.RATINGS"


def connect(port: int) -> snowflake.connector.SnowflakeConnection:
    return fakesnow_connection(port, user="bench", database="MOVIELENS", schema="PUBLIC", network_timeout=600)


def seed_child(port: int) -> None:
    from bench.seed_method import seed_training_job

    with connect(port) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE OR REPLACE TABLE SEED_RECS (USERID NUMBER, TOP_10_RECOMMENDATIONS VARIANT)")
        users = seed_training_job(cursor, TABLE, "SEED_RECS")
    print(json.dumps({"users": users}))


def job_hyperparameters(port: int, input_table: str, output_name: str) -> dict[str, str]:
    """A training job reading ``input_table`` from the fakesnow server on ``port``, writing MOVIELENS.PUBLIC.<name>."""
    return {
        "input_table": input_table, "output_table": f"MOVIELENS.PUBLIC.{output_name}", "snowflake_account": "fakesnow",
        "snowflake_user": "bench", "snowflake_host": "127.0.0.1", "snowflake_port": str(port),
        "snowflake_protocol": "http", "snowflake_database": "MOVIELENS", "snowflake_schema": "PUBLIC",
    }  # fmt: skip


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done


def rmse_comparison(ratings: Ratings, seeds: tuple[int, ...] = (42, 7, 2026)) -> None:
    print("holdout RMSE on seeded 80/20 splits (lower is better)")
    print(f"  {'seed':>6}{'SVD() defaults':>16}{'ours':>10}{'better by':>11}")
    gains = []
    for seed in seeds:
        train, holdout = ratings.split(0.2, seed)
        baseline = evaluate(fit_svd(train, SURPRISE_DEFAULTS, scale=ratings.scale), holdout).rmse
        ours = evaluate(fit_svd(train, ModelParams(), scale=ratings.scale), holdout).rmse
        gains.append(1 - ours / baseline)
        print(f"  {seed:>6}{baseline:>16.4f}{ours:>10.4f}{gains[-1]:>10.1%}", flush=True)
    print(f"  mean improvement {sum(gains) / len(gains):.1%} (target >= 2%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_child:
        seed_child(args.seed_child)
        return

    data, source = shared_or_synthetic(SHARED)
    print(f"data: {source}")
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        root = Path(scratch)
        with fakesnow_server(root / "fakesnow", root / "fakesnow.log") as server, connect(server.port) as connection:
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE IF NOT EXISTS MOVIELENS")
                cursor.execute("CREATE SCHEMA IF NOT EXISTS MOVIELENS.PUBLIC")
            load_ratings(connection, TABLE, data.ratings)
            print(f"loaded {len(data.ratings):,} ratings into fakesnow", flush=True)

            config = root / "job" / "input" / "config"
            config.mkdir(parents=True)
            (config / "hyperparameters.json").write_text(json.dumps(job_hyperparameters(server.port, TABLE, "RECS")))
            env = python_env(OPT_ML=str(root / "job"), SNOWFLAKE_PASSWORD="bench", RECOMMENDER_LOCAL_STANDIN="1")
            print("running our training job ...", flush=True)
            ours_s, ours = timed([sys.executable, "-m", "recommender.train"], env)
            print("running the seed's training job ...", flush=True)
            seed_s, _ = timed(
                [sys.executable, "-m", "bench.training_job", "--seed-child", str(server.port)], python_env()
            )

    print()
    print("whole training job, ml-latest-small on fakesnow (wall time incl. process start)")
    print(f"  seed (select *, 5-fold CV, anti-testset, concatenated INSERT): {seed_s:7.1f} s")
    print(f"  ours (read, validate, fit, top-10, swap, save):                {ours_s:7.1f} s (target < 15 s)")
    print(f"  speed-up {seed_s / ours_s:.1f}x")
    print("  " + " ".join(line for line in ours.stdout.splitlines() if line.startswith("validation:")))
    print()
    rmse_comparison(Ratings(*_arrays(data.ratings)))


def _arrays(frame):
    return (frame.userId.to_numpy(), frame.movieId.to_numpy(), frame.rating.to_numpy(dtype=float))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

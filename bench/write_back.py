"""The training job's write-back at MovieLens-25M shape on the fakesnow stand-in: each write statement's time
against the limit the job gives it.

A 25M-rating job writes 162,541 users' top-10 lists. This writes lists of that shape (random movie
ids of ml-25m's catalogue, predicted ratings with four decimals) through the job's own
``replace_recommendations`` twice -- the second replaces the first's rows, as a retrain does -- and
prints, for the second, each write statement's seconds (COPY into staging, the swap's DELETE and
INSERT), the limit the job's default rule gives it (``snowflake_timeout`` 180 s + 1 s per 1,000
rows), and the headroom: limit / seconds, next to what it was under the old rule (every statement
limited to 180 s). The stand-in is DuckDB on this machine, not an X-Small warehouse: the headroom is
how many times slower the warehouse may be than the stand-in before the job loses its work. The
limits at ten and a hundred times the users are printed too (the rule, not measured). Takes about
a minute; a figure printer, not a test.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.scale_data import ML_25M
from local_mode.standins import fakesnow_connection, fakesnow_server
from pipeline_shared.credentials import Credentials
from pipeline_shared.identifiers import TableName
from recommender.config import SnowflakeSettings
from recommender.snowflake_io import RecommendationsFile, connect, replace_recommendations

TABLE = TableName.parse("MOVIELENS.PUBLIC.RECS_WRITE_BACK")
TOP_K = 10


class Writes(logging.Handler):
    """Collects the write statements ``pipeline_shared.bulk_load`` logs (what, seconds, limit, rows)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.writes: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        write = getattr(record, "write", None)
        if write is not None:
            self.writes.append(write)


def lists(path: Path, users: int, movies: int, seed: int) -> RecommendationsFile:
    """``users`` top-k lists in the CSV the job bulk loads, written in blocks as the job writes them."""
    rng = np.random.default_rng(seed)
    data = RecommendationsFile(path)
    for first in range(0, users, 50_000):
        ids = np.arange(first + 1, min(first + 50_000, users) + 1)
        movie_ids = rng.integers(1, movies + 1, (len(ids), TOP_K))
        predicted = np.sort(rng.uniform(0.5, 5.0, (len(ids), TOP_K)), axis=1)[:, ::-1]
        data.add(ids, movie_ids, predicted, np.ones((len(ids), TOP_K), dtype=bool))
    data.close()
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=ML_25M["users"], help="lists written (default: ml-25m's users)")
    args = parser.parse_args()

    handler = Writes()
    logging.getLogger("pipeline_shared.bulk_load").addHandler(handler)
    logging.getLogger("pipeline_shared.bulk_load").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="bench-write-back-") as scratch:
        root = Path(scratch)
        with fakesnow_server(root / "fakesnow", root / "fakesnow.log") as server:
            with fakesnow_connection(server.port, user="bench") as connection, connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE IF NOT EXISTS MOVIELENS")
                cursor.execute("CREATE SCHEMA IF NOT EXISTS MOVIELENS.PUBLIC")
            settings = SnowflakeSettings(
                account="fakesnow", user="bench", host=server.host, port=server.port, protocol="http",
                database="MOVIELENS", schema="PUBLIC",
            )  # fmt: skip
            credentials = Credentials({"password": "bench"}, kind="password")
            for run, seed in (("previous lists", 1), ("the job's lists", 2)):
                data = lists(root / f"recommendations-{seed}.csv", args.users, ML_25M["movies"], seed)
                handler.writes.clear()
                started = time.perf_counter()
                with connect(settings, credentials) as connection:
                    rows = replace_recommendations(
                        connection, TABLE, data, model_version=run, write_timeout=settings.write_limit
                    )
                print(
                    f"wrote {run}: {rows:,} rows, {data.path.stat().st_size / 2**20:.1f} MB of CSV, "
                    f"{time.perf_counter() - started:.1f} s in all",
                    flush=True,
                )

    old = settings.timeout
    print()
    print(f"write statements of the second write ({rows:,} users x top-{TOP_K}, replacing as many)")
    print(f"  {'statement':<44}{'seconds':>9}{'limit':>8}{'headroom':>10}{'old limit':>11}{'old headroom':>14}")
    for write in handler.writes:
        seconds, limit = float(str(write["seconds"])), int(str(write["limit"]))
        what = str(write["what"]).replace(f" {TABLE}", " the output table")
        print(
            f"  {what:<44}{seconds:>9.2f}{limit:>6} s{limit / seconds:>9.0f}x{old:>9} s{old / seconds:>13.0f}x",
        )
    print()
    print("the rule at larger outputs (not measured)")
    for users in (args.users, 10 * args.users, 100 * args.users):
        print(f"  {users:>12,} users: each write statement may run {settings.describe_write_limit(users)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

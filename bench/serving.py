"""Serving: rows/s for a 5,000-row CSV request over HTTP vs the seed's row-by-row loop, and
single-row latency at 8 concurrent clients.

Our side is the real ``python -m recommender.serve`` (gunicorn, one worker per CPU) reached
over loopback HTTP; the seed's loop (``iterrows`` + ``predict`` + ``np.append``) runs
in-process on a Surprise model of the same data, so it pays no HTTP cost at all.

Target: at least 20x the seed's rows/s.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from surprise import SVD, Dataset, Reader

from bench.seed_method import seed_predict_csv
from local_mode.standins import free_port, python_env, running
from recommender.config import ModelParams
from recommender.ratings import Ratings
from recommender.svd import fit_svd
from snowflake_sql.movielens import shared_or_synthetic

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets" / "ml-latest-small"


def post(connection: http.client.HTTPConnection, body: bytes) -> bytes:
    connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise SystemExit(f"server answered {response.status}: {answer[:200]!r}")
    return answer


def latency(host: str, port: int, bodies: list[bytes], clients: int, per_client: int) -> list[float]:
    """Per-request seconds of ``clients`` threads each sending ``per_client`` requests on keep-alive."""
    timings: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        mine = []
        for j in range(per_client):
            started = time.perf_counter()
            post(connection, bodies[(offset + j) % len(bodies)])
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=client, args=(c * per_client,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="rows in the bulk CSV request (default 5000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent single-row clients (default 8)")
    parser.add_argument("--requests", type=int, default=250, help="single-row requests per client (default 250)")
    args = parser.parse_args()

    data, source = shared_or_synthetic(SHARED)
    print(f"data: {source}")
    frame = data.ratings
    ratings = Ratings(frame.userId.to_numpy(), frame.movieId.to_numpy(), frame.rating.to_numpy(dtype=float))
    rng = np.random.default_rng(0)
    users, movies = rng.choice(ratings.users, args.rows), rng.choice(ratings.items, args.rows)
    body = "\n".join(f"{u},{m}" for u, m in zip(users, movies, strict=True))

    print("fitting the models ...", flush=True)
    model = fit_svd(ratings, ModelParams())
    algo = SVD(random_state=0)
    algo.fit(
        Dataset.load_from_df(
            frame[["userId", "movieId", "rating"]], Reader(rating_scale=(0.5, 5))
        ).build_full_trainset()
    )

    started = time.perf_counter()
    seed_predict_csv(algo, body)
    seed_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        model.save(Path(scratch) / "model", {"model_version": "bench"})
        port = free_port()
        env = python_env(OPT_ML=scratch)
        command = [sys.executable, "-m", "recommender.serve", "--host", "127.0.0.1", "--port", str(port)]
        with running(command, port=port, log=Path(scratch) / "serve.log", env=env) as server:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
            post(connection, body.encode())  # warm-up
            bulk = []
            for _ in range(20):
                started = time.perf_counter()
                answer = post(connection, body.encode())
                bulk.append(time.perf_counter() - started)
            served = np.array(answer.split(), dtype=float)
            assert len(served) == args.rows
            singles = [f"{u},{m}".encode() for u, m in zip(users[:1000], movies[:1000], strict=True)]
            started = time.perf_counter()
            timings = latency(server.host, server.port, singles, args.clients, args.requests)
            wall = time.perf_counter() - started

    ours_seconds = statistics.median(bulk)
    seed_rate, ours_rate = args.rows / seed_seconds, args.rows / ours_seconds
    print()
    print(f"bulk CSV request of {args.rows:,} rows")
    print(f"  seed (in-process iterrows + predict + np.append): {seed_seconds:8.3f} s  {seed_rate:>12,.0f} rows/s")
    print(f"  ours (HTTP, median of 20):                        {ours_seconds:8.3f} s  {ours_rate:>12,.0f} rows/s")
    print(f"  speed-up {ours_rate / seed_rate:,.0f}x (target >= 20x)")
    quantiles = np.percentile(np.array(timings) * 1000, [50, 99])
    print()
    print(f"single-row requests, {args.clients} concurrent clients x {args.requests} requests")
    print(f"  p50 {quantiles[0]:.2f} ms, p99 {quantiles[1]:.2f} ms, {len(timings) / wall:,.0f} requests/s")


if __name__ == "__main__":
    main()

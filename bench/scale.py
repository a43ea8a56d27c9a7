"""The whole training job at MovieLens-25M scale, on the fakesnow stand-in: wall time and peak memory.

Generates ratings shaped like ml-25m (:mod:`bench.scale_data`), loads them into a fakesnow server
(PUT + COPY, as ``recommender-load`` does), then runs ``python -m recommender.train`` with the
shipped defaults -- read, validate (on a sample of users), fit SVD and EASE, top-10 for every
user, write back, save -- and samples the resident memory of its process tree every 0.2 s.

Targets (ml.m5.large: 2 vCPUs, 8 GiB): at most 15 minutes and 6 GB peak RSS on this 2-core
machine. The baseline, measured in the same run: Surprise's own SVD fitting 1M ratings of the same
shape (seconds and memory per rating), extrapolated to the full set. Memory is sampled every 0.2 s
(a forked child's own high-water mark would include the parent's copy of the data).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.scale_data import ML_25M, scale_ratings
from bench.training_job import job_hyperparameters
from local_mode.standins import fakesnow_connection, fakesnow_server, python_env
from snowflake_sql.movielens import load_ratings

TABLE = "MOVIELENS.PUBLIC.RATINGS_25M"
BUDGET_S = 15 * 60
BUDGET_RSS_MB = 6 * 1024
SAMPLE = 1_000_000


class TreeMemory:
    """Peak summed RSS of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.root, self.every_s, self.peak_mb = psutil.Process(pid), every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                total = 0
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        total += process.memory_info().rss
                self.peak_mb = max(self.peak_mb, total / 2**20)
            except psutil.Error:
                return
            self._stop.wait(self.every_s)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def surprise_baseline(n_movies: int) -> dict[str, float]:
    """Surprise's SVD (the shipped hyperparameters) on 1M ratings of the same shape, in a child process.

    Run before the big set exists: a forked child inherits its parent's memory high-water mark
    across exec, so the child starts from a small parent. Reports the fit's seconds and the
    memory it added (peak RSS minus RSS after imports and data).
    """
    script = (
        "import json, resource, sys, time\n"
        "import psutil\n"
        "from surprise import SVD, Dataset, Reader\n"
        "from bench.scale_data import scale_ratings\n"
        f"frame = scale_ratings({SAMPLE // 154}, {n_movies}, {SAMPLE})[['userId', 'movieId', 'rating']]\n"
        "start = psutil.Process().memory_info().rss\n"
        "started = time.perf_counter()\n"
        "trainset = Dataset.load_from_df(frame, Reader(rating_scale=(0.5, 5.0))).build_full_trainset()\n"
        "SVD(n_factors=100, n_epochs=50, lr_all=0.01, reg_all=0.08, init_std_dev=0.05, random_state=42).fit(trainset)\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(json.dumps({'seconds': time.perf_counter() - started, 'added_mb': (peak - start) / 2**20}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=python_env())
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=ML_25M["users"], help="users (default: ml-25m's 162,541)")
    parser.add_argument("--movies", type=int, default=ML_25M["movies"], help="movies (default: ml-25m's 59,047)")
    parser.add_argument("--ratings", type=int, default=ML_25M["ratings"], help="ratings (default: ml-25m's 25.0M)")
    parser.add_argument("--keep", type=Path, help="keep the job's folder (logs, model) here")
    args = parser.parse_args()

    print(f"baseline: Surprise SVD on {SAMPLE:,} ratings of the same shape ...", flush=True)
    baseline = surprise_baseline(args.movies)
    print(f"  {baseline['seconds']:.0f} s, {baseline['added_mb']:,.0f} MB for the trainset and fit", flush=True)

    started = time.perf_counter()
    print(f"generating {args.ratings:,} ratings of {args.users:,} users on {args.movies:,} movies ...", flush=True)
    frame = scale_ratings(args.users, args.movies, args.ratings)
    print(f"  {len(frame):,} ratings in {time.perf_counter() - started:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        with fakesnow_server(root / "fakesnow", root / "fakesnow.log") as server:
            with fakesnow_connection(server.port, user="bench", network_timeout=3600) as connection:
                with connection.cursor() as cursor:
                    cursor.execute("CREATE DATABASE IF NOT EXISTS MOVIELENS")
                    cursor.execute("CREATE SCHEMA IF NOT EXISTS MOVIELENS.PUBLIC")
                loading = time.perf_counter()
                print(f"loading into fakesnow as {TABLE} ...", flush=True)
                load_ratings(connection, TABLE, frame)
                print(f"  loaded in {time.perf_counter() - loading:.0f} s", flush=True)
            n_ratings = len(frame)
            del frame

            job = root / "job"
            config = job / "input" / "config"
            config.mkdir(parents=True, exist_ok=True)
            (config / "hyperparameters.json").write_text(
                json.dumps(job_hyperparameters(server.port, TABLE, "RECS_25M"))
            )
            print("running the training job (defaults: SVD 100 factors x 50 epochs, EASE) ...", flush=True)
            job_started = time.perf_counter()
            log_path = job / "training.log"
            with log_path.open("w") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "recommender.train"],
                    env=python_env(OPT_ML=str(job), SNOWFLAKE_PASSWORD="bench", RECOMMENDER_LOCAL_STANDIN="1"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                memory = TreeMemory(process.pid)
                # Sampled, not the child's ru_maxrss: Linux carries a forked child's high-water mark
                # across exec, so it would count this process's copy of the generated data.
                returncode = process.wait()
                peak_mb = memory.stop()
            seconds = time.perf_counter() - job_started
            output = log_path.read_text()
            if returncode != 0:
                raise SystemExit(f"the training job failed ({returncode}):\n{output[-4000:]}")

    print()
    print("steps (from the job's log)")
    for line in output.splitlines():
        match = re.search(r"INFO (.+ done in [0-9.]+ s|SVD: .+|EASE: .+|ratings: .+)$", line)
        if match:
            print(f"  {match.group(1)}")
    print("  " + " ".join(line for line in output.splitlines() if line.startswith("validation:")))
    print()
    print(f"whole training job, {n_ratings:,} ratings (read, validate, fit, top-10 for every user, write, save)")
    print(f"  wall time      {seconds:8.0f} s  = {seconds / BUDGET_S:.2f} of the 15-minute target")
    print(f"  peak RSS       {peak_mb:8,.0f} MB = {peak_mb / BUDGET_RSS_MB:.2f} of the 6 GB target (process tree)")
    per_rating = baseline["seconds"] / SAMPLE
    print(
        f"  Surprise's SVD fit alone, extrapolated from {SAMPLE:,} ratings: {per_rating * n_ratings:,.0f} s "
        f"({per_rating * n_ratings / seconds:.1f}x this whole job), "
        f"~{baseline['added_mb'] / SAMPLE * n_ratings / 1024:,.1f} GB"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

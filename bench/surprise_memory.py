"""The memory Surprise's algorithms take to fit and export: the figures behind the training job's guard.

Each (algorithm, table) runs in a child process of its own: it loads the ratings from a file, resets
its peak resident set (``/proc/self/clear_refs``, 5), fits and exports the algorithm as a job does
(``recommender.surprise_models.fit_surprise``) and reports the peak (``VmHWM``) above its resident
set before the fit (``VmRSS``), with the seconds it took. The tables: ml-latest-small (from
../shared, else its synthetic stand-in) and synthetic ones that vary ratings, users and movies
apart. A least-squares fit (non-negative) per algorithm gives bytes per rating, per ``x^2`` (x =
users for user-based KNNBaseline, movies for item-based and SlopeOne) and per user x movie cell
(the dense estimates), which ``recommender.surprise_models.MEMORY`` holds; it is printed beside the
constants in use and their prediction for each table.

Run: ``python -m bench.surprise_memory`` (about 40 minutes on 2 shared cores; item-based KNNBaseline on
ml-latest-small takes 2-4 minutes and up to 5.3 GB per similarity).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from local_mode.standins import python_env
from recommender.config import ModelParams
from recommender.ratings import Ratings
from recommender.surprise_models import HEADROOM, MEMORY, memory_key, needed_bytes
from snowflake_sql.movielens import shared_or_synthetic, synthetic_movielens

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "ml-latest-small"


@dataclass(frozen=True)
class Table:
    name: str
    n_users: int
    n_movies: int
    n_ratings: int


SYNTHETIC = (
    Table("synthetic 2,000 x 3,000, 120k", 2_000, 3_000, 120_000),
    Table("synthetic 4,000 x 1,500, 60k", 4_000, 1_500, 60_000),
    Table("synthetic 1,000 x 5,000, 40k", 1_000, 5_000, 40_000),
)
# Options of each case; cases with the same memory_key share one fit (KNNBaseline: user- and item-based together).
CASES: tuple[dict, ...] = (
    {"algorithm": "SVDpp"},
    {"algorithm": "NMF"},
    {"algorithm": "BaselineOnly"},
    {"algorithm": "CoClustering"},
    {"algorithm": "SlopeOne"},
    *(
        {"algorithm": "KNNBaseline", "similarity": name, "user_based": based}
        for name in ("pearson_baseline", "msd", "cosine", "pearson")
        for based in (True, False)
    ),
)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(path: Path, options: dict) -> None:
    """Fit and export one case on the ratings in ``path``; print its peak bytes above the start and seconds."""
    from recommender.surprise_models import fit_surprise

    with np.load(path) as data:
        ratings = Ratings(data["users"], data["items"], data["values"])
    params = ModelParams.of(**options)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS: the peak from here on
    before = _status("VmRSS")
    started = time.perf_counter()
    fit_surprise(ratings, params, scale=(0.5, 5.0))
    print(json.dumps({"bytes": _status("VmHWM") - before, "seconds": time.perf_counter() - started}))


def features(params: ModelParams, ratings: Ratings) -> list[float]:
    """What the cost model multiplies: 1, ratings, x^2 and users x movies (the last two 0 without square matrices)."""
    if params.algorithm not in ("KNNBaseline", "SlopeOne"):
        return [1.0, len(ratings), 0.0, 0.0]
    side = ratings.n_users if params.algorithm == "KNNBaseline" and params.user_based else ratings.n_items
    return [1.0, len(ratings), float(side) ** 2, float(ratings.n_users) * ratings.n_items]


def measure(path: Path, options: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.surprise_memory", "--child", str(path), json.dumps(options)],
        env=python_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("RATINGS", "OPTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), json.loads(args.child[1]))
        return
    movielens, source = shared_or_synthetic(SHARED)
    frames = [("ml-latest-small", Ratings.from_frame(movielens.ratings, source=source))]
    for table in SYNTHETIC:
        data = synthetic_movielens(table.n_users, table.n_movies, table.n_ratings, seed=1).ratings
        frames.append((table.name, Ratings.from_frame(data, source=table.name)))
    print(f"ml-latest-small from {source}; HEADROOM {HEADROOM} on top of the fitted constants\n")
    with tempfile.TemporaryDirectory(prefix="surprise-memory-") as scratch:
        files = []
        for index, (name, ratings) in enumerate(frames):
            path = Path(scratch) / f"{index}.npz"
            np.savez(path, users=ratings.users, items=ratings.items, values=ratings.values)
            files.append((name, ratings, path))
        keys = dict.fromkeys(memory_key(ModelParams.of(**options)) for options in CASES)
        for key in keys:
            rows, sizes = [], []
            print(key)
            for options in (o for o in CASES if memory_key(ModelParams.of(**o)) == key):
                params = ModelParams.of(**options)
                for name, ratings, path in files:
                    result = measure(path, options)
                    rows.append(features(params, ratings))
                    sizes.append(result["bytes"])
                    predicted = needed_bytes(params, len(ratings), ratings.n_users, ratings.n_items)
                    based = f" user_based={params.user_based}" if params.algorithm == "KNNBaseline" else ""
                    print(
                        f"  {name:31s}{based:16s} {len(ratings):>8,} ratings {ratings.n_users:>6,} users"
                        f" {ratings.n_items:>6,} movies: {result['bytes'] / 1e6:7.1f} MB in {result['seconds']:6.1f} s;"
                        f" the guard's estimate {predicted / 1e6:7.1f} MB"
                    )
            fitted, _ = nnls(np.array(rows), np.array(sizes, dtype=float))
            print(
                f"  fit: fixed {fitted[0] / 1e6:.1f} MB, {fitted[1]:.0f} B/rating, {fitted[2]:.1f} B/x^2,"
                f" {fitted[3]:.1f} B/cell; in use: {MEMORY[key]}\n",
                flush=True,
            )


if __name__ == "__main__":
    main()

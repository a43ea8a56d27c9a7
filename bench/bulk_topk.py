"""Bulk top-10 for every user: ours vs the seed's method, and ours at MovieLens-25M shape.

Each measurement runs in its own child process so that its peak RSS is its own. Prints the
figures and the ratios to the seed's method measured in the same run.

Targets: on ml-latest-small at least 100x faster than the seed and at most 1/5 of its peak
memory; at MovieLens-25M shape (162,541 users x 59,047 movies, 100 factors, ~25M rated pairs,
synthetic factors) under 120 s and under 4 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from recommender.config import ModelParams
from recommender.ratings import Ratings
from recommender.svd import fit_svd
from recommender.topk import RatedItems, iter_top_k
from snowflake_sql.movielens import shared_or_synthetic

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
SHAPE_25M = {"users": 162_541, "movies": 59_047, "factors": 100, "rated": 25_000_095}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_ratings() -> Ratings:
    data, _ = shared_or_synthetic(SHARED)
    frame = data.ratings.rename(columns={"userId": "USERID", "movieId": "MOVIEID", "rating": "RATING"})
    return Ratings.from_frame(frame, source="ml-latest-small")


def child_ours() -> dict[str, float]:
    model = fit_svd(load_ratings(), ModelParams())
    started = time.perf_counter()
    blocks = [block.items for _, block in model.iter_all_top_k(10)]
    seconds = time.perf_counter() - started
    assert sum(len(b) for b in blocks) == model.n_users
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "users": model.n_users}


def child_seed() -> dict[str, float]:
    from surprise import SVD, Dataset, Reader

    from bench.seed_method import seed_top_n

    ratings = load_ratings()
    frame = {"u": ratings.users, "i": ratings.items, "r": ratings.values}
    import pandas as pd

    trainset = Dataset.load_from_df(pd.DataFrame(frame), Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = SVD(random_state=0)
    algo.fit(trainset)
    started = time.perf_counter()
    top = seed_top_n(algo, trainset)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "users": len(top)}


def child_25m() -> dict[str, float]:
    rng = np.random.default_rng(0)
    users, movies, factors = SHAPE_25M["users"], SHAPE_25M["movies"], SHAPE_25M["factors"]
    user_factors = rng.normal(0, 0.1, (users, factors)).astype(np.float32)
    item_factors = rng.normal(0, 0.1, (movies, factors)).astype(np.float32)
    item_bias = rng.normal(0, 0.3, movies)
    counts = rng.lognormal(4.4, 1.0, users)
    counts = np.minimum(np.maximum(np.round(counts * SHAPE_25M["rated"] / counts.sum()), 1), movies).astype(np.int64)
    indptr = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    popularity = 1.0 / np.arange(1, movies + 1) ** 0.9
    indices = rng.choice(movies, int(indptr[-1]), p=popularity / popularity.sum()).astype(np.int32)
    rated = RatedItems(indptr, indices)
    print(f"  synthetic 25M shape ready: {int(indptr[-1]):,} rated pairs", file=sys.stderr, flush=True)

    started, done, reported = time.perf_counter(), 0, 0.0
    for _, block in iter_top_k(user_factors, np.arange(users), item_factors, item_bias, rated, 10):
        done += len(block.items)
        elapsed = time.perf_counter() - started
        if elapsed - reported > 10 or done == users:
            reported = elapsed
            print(f"  25M shape: {done:,}/{users:,} users in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(), "users": done}


CHILDREN = {"ours": child_ours, "seed": child_seed, "25m": child_25m}


def measure(name: str) -> dict[str, float]:
    print(f"measuring {name} ...", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.bulk_topk", "--child", name],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--skip-25m", action="store_true", help="skip the MovieLens-25M-shape run (~2 minutes)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child]()))
        return

    print(f"data: {shared_or_synthetic(SHARED)[1]}")
    ours, seed = measure("ours"), measure("seed")
    print()
    print("bulk top-10, ml-latest-small")
    print(f"  {'method':<34}{'users':>7}{'seconds':>10}{'peak RSS MB':>13}")
    for label, row in (("seed (anti-testset + test + sort)", seed), ("ours (blocked matrix top-k)", ours)):
        print(f"  {label:<34}{row['users']:>7}{row['seconds']:>10.3f}{row['peak_rss_mb']:>13.0f}")
    speedup = seed["seconds"] / ours["seconds"]
    memory = ours["peak_rss_mb"] / seed["peak_rss_mb"]
    print(f"  speed-up {speedup:,.0f}x (target >= 100x); peak memory {memory:.2f} of the seed's (target <= 0.20)")
    if not args.skip_25m:
        big = measure("25m")
        print()
        print("bulk top-10, MovieLens-25M shape (162,541 users x 59,047 movies, 100 factors)")
        print(f"  {big['seconds']:.1f} s (target < 120 s), peak RSS {big['peak_rss_mb']:.0f} MB (target < 4096 MB)")
        print(f"  {big['users'] / big['seconds']:,.0f} users/s")


if __name__ == "__main__":
    main()

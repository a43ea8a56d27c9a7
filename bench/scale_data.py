"""Ratings shaped like MovieLens-25M: 162,541 users x 59,047 movies, ~25M ratings, long tails.

Users rate at least 20 movies (as in ml-25m) and their activity is log-normal (mean ~154, a few
with thousands); movie popularity is log-normal too, capped at half the users, so a few hundred
movies take a third of the ratings and a third of the catalogue has fewer than five. Stars
come from biases plus a rank-8 interaction and noise, rounded to half stars, like
:func:`snowflake_sql.movielens.synthetic_movielens`, so the models have something to learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ML_25M = {"users": 162_541, "movies": 59_047, "ratings": 25_000_095}
MIN_PER_USER = 20


def scale_ratings(
    n_users: int = ML_25M["users"],
    n_movies: int = ML_25M["movies"],
    n_ratings: int = ML_25M["ratings"],
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """``userId, movieId, rating, timestamp`` rows, no (user, movie) pair twice, sorted by user then movie."""
    if not n_users * MIN_PER_USER <= n_ratings <= n_users * n_movies // 4:
        raise ValueError(f"n_ratings must be from {MIN_PER_USER} per user to a quarter of all pairs")
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 2.3, n_movies)
    popularity = weights / weights.sum()
    cap = 0.5 * n_users / n_ratings
    for _ in range(20):  # cap the head at half the users, renormalising what is left
        popularity = np.minimum(popularity, cap)
        popularity /= popularity.sum()
    activity = rng.lognormal(0.0, 1.1, n_users)
    spread = np.round(activity / activity.sum() * (n_ratings - MIN_PER_USER * n_users)).astype(np.int64)
    wanted = np.minimum(MIN_PER_USER + spread, n_movies // 2)

    cdf = np.cumsum(popularity)
    pairs = np.empty(0, dtype=np.int64)
    missing, rounds = wanted, 0
    while missing.sum() > 0:  # draw what each user lacks, drop repeats, again for the users still short
        users = np.repeat(np.arange(n_users, dtype=np.int64), missing)
        if rounds < 6:
            movies = np.minimum(np.searchsorted(cdf, rng.random(len(users)) * cdf[-1]), n_movies - 1)
        else:  # heavy users have drawn most of the head already: the rest of their movies come uniformly
            movies = rng.integers(0, n_movies, len(users))
        pairs = np.sort(np.concatenate([pairs, users * n_movies + movies]))
        pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
        missing = wanted - np.bincount(pairs // n_movies, minlength=n_users)
        rounds += 1
    users, movies = pairs // n_movies, pairs % n_movies

    rank = 8
    user_vec = rng.normal(0, 0.45, (n_users, rank)).astype(np.float32)
    movie_vec = rng.normal(0, 0.45, (n_movies, rank)).astype(np.float32)
    stars = np.empty(len(pairs), dtype=np.float32)
    user_bias = rng.normal(0, 0.35, n_users).astype(np.float32)
    movie_bias = (0.15 * np.log(popularity / popularity.mean()) + rng.normal(0, 0.3, n_movies)).astype(np.float32)
    for start in range(0, len(pairs), 5_000_000):  # bounded temporaries
        part = slice(start, start + 5_000_000)
        u, m = users[part], movies[part]
        stars[part] = (
            3.5
            + user_bias[u]
            + movie_bias[m]
            + np.einsum("ij,ij->i", user_vec[u], movie_vec[m])
            + rng.normal(0, 0.5, len(u)).astype(np.float32)
        )
    stars = np.clip(np.round(stars * 2) / 2, 0.5, 5.0)
    return pd.DataFrame(
        {
            "userId": (users + 1).astype(np.int64),
            "movieId": (movies + 1).astype(np.int64),
            "rating": stars.astype(np.float64),
            "timestamp": rng.integers(828_000_000, 1_700_000_000, len(pairs)),
        }
    )

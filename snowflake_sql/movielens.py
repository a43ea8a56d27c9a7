"""MovieLens data: the official files (folder or zip), a synthetic look-alike, and bulk loading.

Frames keep MovieLens' CSV shape: movies ``movieId, title, genres``; ratings ``userId,
movieId, rating, timestamp`` (epoch seconds). Loading goes through PUT + COPY INTO a staging
table, then one INSERT ... SELECT converting epoch seconds to TIMESTAMP_NTZ -- a pattern
that works on Snowflake and on the fakesnow stand-in alike.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from snowflake.connector import SnowflakeConnection

from pipeline_shared import first_line
from pipeline_shared.bulk_load import Column, TableLoad, replace_tables
from pipeline_shared.identifiers import TableName

MOVIE_COLUMNS = ("movieId", "title", "genres")
RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


class DatasetError(ValueError):
    """Files that are not a MovieLens dataset."""


@dataclass(frozen=True)
class MovieLens:
    movies: pd.DataFrame
    ratings: pd.DataFrame


def read_movielens(source: Path) -> MovieLens:
    """Read ``movies.csv`` and ``ratings.csv`` from a MovieLens folder or its official zip."""
    if source.is_dir():
        files = {name: source / name for name in ("movies.csv", "ratings.csv")}
        missing = [n for n, p in files.items() if not p.is_file()]
        if missing:
            raise DatasetError(f"{source} has no {missing[0]}: point at an unpacked MovieLens folder.")
        return MovieLens(
            _frame(files["movies.csv"], MOVIE_COLUMNS, "movies.csv"),
            _frame(files["ratings.csv"], RATING_COLUMNS, "ratings.csv"),
        )
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        raise DatasetError(f"{source} is neither a folder nor a readable zip: give ml-latest-small.zip.") from None
    with archive:
        members = _expected_members(source, archive.namelist())
        with archive.open(members["movies.csv"]) as movies, archive.open(members["ratings.csv"]) as ratings:
            return MovieLens(
                _frame(movies, MOVIE_COLUMNS, "movies.csv"), _frame(ratings, RATING_COLUMNS, "ratings.csv")
            )


def _expected_members(source: Path, names: list[str]) -> dict[str, str]:
    """The archive paths of ``movies.csv`` and ``ratings.csv``: exactly one each, in one folder (at most one deep)."""
    found: dict[str, list[str]] = {"movies.csv": [], "ratings.csv": []}
    for name in names:
        path = PurePosixPath(name)
        if not name.endswith("/") and path.name in found and "__MACOSX" not in path.parts:
            found[path.name].append(name)
    for expected, paths in found.items():
        if not paths:
            raise DatasetError(f"{source} contains no {expected}: is it a MovieLens zip?")
        if len(paths) > 1:
            raise DatasetError(
                f"{source} holds {len(paths)} files named {expected} ({', '.join(sorted(paths)[:3])}): "
                "give an archive with exactly one MovieLens dataset."
            )
    movies, ratings = (PurePosixPath(found[n][0]) for n in ("movies.csv", "ratings.csv"))
    if movies.parent != ratings.parent or len(movies.parts) > 2:
        raise DatasetError(
            f"{source} has movies.csv and ratings.csv at {movies} and {ratings}: "
            "they must sit side by side at the top or in one folder, as in the official zip."
        )
    return {"movies.csv": str(movies), "ratings.csv": str(ratings)}


def _frame(handle: object, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(handle, dtype={"title": "string", "genres": "string"})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{name} is not a readable CSV file ({first_line(exc)}).") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"{name} has no column {missing[0]}: expected {', '.join(columns)}.")
    return frame[list(columns)]


def shared_or_synthetic(shared: Path) -> tuple[MovieLens, str]:
    """MovieLens from ``shared`` (a folder or zip) when it exists, else a synthetic set of ml-latest-small's shape.

    Returns the data and a description of where it came from, for progress output.
    """
    if shared.exists():
        return read_movielens(shared), str(shared)
    return synthetic_movielens(), f"synthetic MovieLens-shaped data ({shared} not found)"


def synthetic_movielens(
    n_users: int = 610, n_movies: int = 9000, n_ratings: int = 100_000, *, seed: int = 0
) -> MovieLens:
    """A MovieLens-shaped set with latent structure: popular movies, picky users, 0.5-5.0 stars.

    Ratings come from user and movie biases plus a rank-8 interaction and noise, rounded to
    half stars, so a factor model has something real to learn. Every user rates at least one
    movie and no (user, movie) pair repeats.
    """
    if not n_users <= n_ratings <= n_users * n_movies:
        raise ValueError("n_ratings must be at least n_users (everyone rates) and at most n_users * n_movies")
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.8
    rng.shuffle(popularity)
    activity = rng.lognormal(0.0, 1.0, n_users)

    first_movies = rng.choice(n_movies, n_users, p=popularity / popularity.sum())
    pairs = np.arange(n_users, dtype=np.int64) * n_movies + first_movies
    while len(pairs) < n_ratings:
        draw = int((n_ratings - len(pairs)) * 1.2) + 16
        users = rng.choice(n_users, draw, p=activity / activity.sum())
        movies = rng.choice(n_movies, draw, p=popularity / popularity.sum())
        pairs = np.unique(np.concatenate([pairs, users * n_movies + movies]))
    keep = np.concatenate([np.arange(n_users) * n_movies + first_movies, rng.permutation(pairs)])
    pairs = pd.unique(keep)[:n_ratings]
    users, movies = pairs // n_movies, pairs % n_movies

    rank = 8
    user_vec = rng.normal(0, 0.45, (n_users, rank))
    movie_vec = rng.normal(0, 0.45, (n_movies, rank))
    stars = (
        3.5
        + rng.normal(0, 0.35, n_users)[users]
        + (0.6 * np.log(popularity / popularity.mean()) / 4 + rng.normal(0, 0.3, n_movies))[movies]
        + np.einsum("ij,ij->i", user_vec[users], movie_vec[movies])
        + rng.normal(0, 0.5, len(pairs))
    )
    stars = np.clip(np.round(stars * 2) / 2, 0.5, 5.0)

    movie_ids = np.sort(rng.choice(np.arange(1, n_movies * 3), n_movies, replace=False))
    years = rng.integers(1920, 2024, n_movies)
    genre_count = rng.integers(1, 4, n_movies)
    genres = ["|".join(sorted(rng.choice(GENRES, c, replace=False))) for c in genre_count]
    movies_frame = pd.DataFrame(
        {
            "movieId": movie_ids,
            "title": [_title(i, y) for i, y in zip(movie_ids, years, strict=True)],
            "genres": genres,
        }
    )
    ratings_frame = pd.DataFrame(
        {
            "userId": users + 1,
            "movieId": movie_ids[movies],
            "rating": stars,
            "timestamp": rng.integers(828_000_000, 1_700_000_000, len(pairs)),
        }
    ).sort_values(["userId", "movieId"], ignore_index=True)
    return MovieLens(movies_frame, ratings_frame)


def _title(movie_id: int, year: int) -> str:
    """Titles shaped like MovieLens', commas and quotes included ("Matrix, The (1999)")."""
    if movie_id % 7 == 0:
        return f"Synthetic Movie {movie_id}, The ({year})"
    if movie_id % 11 == 0:
        return f'"Synthetic" Movie {movie_id} ({year})'
    return f"Synthetic Movie {movie_id} ({year})"


def load_ratings(connection: SnowflakeConnection, table: str, ratings: pd.DataFrame) -> int:
    """Replace ``table`` (``DB.SCHEMA.TABLE``) with ``ratings`` in one bulk load; returns the row count.

    ``table`` gets the seed's columns ``USERID, MOVIEID, RATING, TIMESTAMP TIMESTAMP_NTZ``.
    """
    columns = (
        Column("USERID", "NUMBER", "USERID"),
        Column("MOVIEID", "NUMBER", "MOVIEID"),
        Column("RATING", "FLOAT", "RATING"),
        Column("TIMESTAMP", "TIMESTAMP_NTZ", "TO_TIMESTAMP_NTZ(EPOCH_SECONDS)"),
    )
    staging = (("USERID", "NUMBER"), ("MOVIEID", "NUMBER"), ("RATING", "FLOAT"), ("EPOCH_SECONDS", "NUMBER"))
    with tempfile.TemporaryDirectory(prefix="ratings-") as scratch:
        path = Path(scratch) / "ratings.csv"
        ratings[list(RATING_COLUMNS)].to_csv(path, index=False, header=False)
        replace_tables(connection, [TableLoad(TableName.parse(table), path, len(ratings), staging, columns)])
    return len(ratings)


def validated_movielens(data: MovieLens) -> MovieLens:
    """``data`` checked value by value and typed for loading; raises :class:`DatasetError` otherwise.

    Movies need a unique whole-number ``movieId``, a ``title`` and ``genres``; ratings need
    whole-number ``userId``/``movieId``, a ``rating`` from 0.5 to 5.0 and ``timestamp`` in epoch
    seconds. The first bad value is named with its file, line (the header is line 1) and column.
    """
    movies, ratings = data.movies, data.ratings
    for frame, name in ((movies, "movies.csv"), (ratings, "ratings.csv")):
        if frame.empty:
            raise DatasetError(f"{name} has no rows: give the complete MovieLens file.")
    movie_ids = _whole_numbers(movies, "movieId", "movies.csv", low=1)
    repeated = np.flatnonzero(movie_ids.duplicated().to_numpy())
    if len(repeated):
        raise DatasetError(
            f"movies.csv line {repeated[0] + 2}: movieId {movie_ids.iloc[repeated[0]]} appears twice; "
            "each movie must have one row."
        )
    for column in ("title", "genres"):
        missing = np.flatnonzero(movies[column].isna().to_numpy())
        if len(missing):
            raise DatasetError(f"movies.csv line {missing[0] + 2}: {column} is empty; every movie needs one.")
    stars = pd.to_numeric(ratings["rating"], errors="coerce")
    bad = np.flatnonzero(~stars.between(0.5, 5.0).to_numpy())
    if len(bad):
        raise DatasetError(
            f"ratings.csv line {bad[0] + 2}: rating {_shown(ratings['rating'].iloc[bad[0]])} is not a number "
            "from 0.5 to 5.0."
        )
    return MovieLens(
        pd.DataFrame(
            {
                "movieId": movie_ids.to_numpy(),
                "title": movies["title"].astype(str).to_numpy(),
                "genres": movies["genres"].astype(str).to_numpy(),
            }
        ),
        pd.DataFrame(
            {
                "userId": _whole_numbers(ratings, "userId", "ratings.csv", low=1).to_numpy(),
                "movieId": _whole_numbers(ratings, "movieId", "ratings.csv", low=1).to_numpy(),
                "rating": stars.to_numpy(dtype=float),
                "timestamp": _whole_numbers(ratings, "timestamp", "ratings.csv", low=0).to_numpy(),
            }
        ),
    )


_LARGEST_WHOLE = 2**53  # beyond this a float no longer holds every whole number


def _whole_numbers(frame: pd.DataFrame, column: str, name: str, *, low: int) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    whole = values.notna() & values.between(low, _LARGEST_WHOLE) & (values % 1 == 0)
    bad = np.flatnonzero(~whole.to_numpy())
    if len(bad):
        raise DatasetError(
            f"{name} line {bad[0] + 2}: {column} {_shown(frame[column].iloc[bad[0]])} is not a whole number "
            f"of at least {low}."
        )
    return values.astype(np.int64)


def _shown(value: object) -> str:
    """A cell value for an error message: quoted, one line, at most 40 characters."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return "(empty)"
    text = " ".join(str(value).split())
    return repr(text if len(text) <= 40 else text[:37] + "...")

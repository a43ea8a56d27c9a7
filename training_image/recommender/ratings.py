"""Ratings as aligned arrays, with the checks and splits training needs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

COLUMNS = ("USERID", "MOVIEID", "RATING")
MAX_EXACT_ID = 2**53  # the largest id a float column holds exactly


class RatingsError(ValueError):
    """Input ratings that cannot be trained on."""


@dataclass(frozen=True)
class Ratings:
    """One rating per position: ``users[j]`` rated ``items[j]`` with ``values[j]``."""

    users: np.ndarray  # int64 raw user ids
    items: np.ndarray  # int64 raw movie ids
    values: np.ndarray  # float64

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, source: str) -> Ratings:
        """Validate a ``USERID, MOVIEID, RATING`` frame; ``source`` names the table in errors."""
        columns = {str(c).upper(): c for c in frame.columns}
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise RatingsError(f"Input table {source} has no column {missing[0]}: it needs USERID, MOVIEID and RATING.")
        if frame.empty:
            raise RatingsError(f"Input table {source} has no ratings: load ratings before training.")
        data = frame[[columns[c] for c in COLUMNS]]
        if data.isna().any().any():
            column = COLUMNS[int(np.argmax(data.isna().any().to_numpy()))]
            raise RatingsError(f"Input table {source} has NULLs in {column}: filter them out (e.g. a view) and retry.")
        try:
            values = data.iloc[:, 2].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise RatingsError(
                f"Input table {source} has non-numeric RATING values: store ratings as numbers."
            ) from None
        if not np.all(np.isfinite(values)):
            raise RatingsError(f"Input table {source} has infinite RATING values.")
        users, items = (_ids(data.iloc[:, j], name, source) for j, name in ((0, "USERID"), (1, "MOVIEID")))
        return cls(users, items, values)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def scale(self) -> tuple[float, float]:
        """(lowest, highest) rating present -- the rating scale comes from the data."""
        return float(self.values.min()), float(self.values.max())

    @cached_property
    def n_users(self) -> int:
        """Distinct users (counted once: a sort of every rating)."""
        return len(np.unique(self.users))

    @cached_property
    def n_items(self) -> int:
        """Distinct movies (counted once)."""
        return len(np.unique(self.items))

    def fingerprint(self) -> str:
        """SHA-256 of the ratings in a canonical order: the same data gives the same value."""
        order = np.lexsort((self.values, self.items, self.users))
        digest = hashlib.sha256()
        for array in (self.users[order], self.items[order], self.values[order]):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def within(self, low: float, high: float) -> tuple[Ratings, int]:
        """The ratings from ``low`` to ``high`` inclusive, and how many were left out."""
        inside = (self.values >= low) & (self.values <= high)
        left_out = len(self) - int(inside.sum())
        return (self if left_out == 0 else self.take(np.flatnonzero(inside))), left_out

    def take(self, positions: np.ndarray) -> Ratings:
        return Ratings(self.users[positions], self.items[positions], self.values[positions])

    def split(self, holdout_fraction: float, seed: int) -> tuple[Ratings, Ratings]:
        """Seeded random (train, holdout) split of all ratings; the same seed always gives the same split."""
        order = np.random.default_rng(seed).permutation(len(self))
        n_holdout = round(len(self) * holdout_fraction)
        return self.take(np.sort(order[n_holdout:])), self.take(np.sort(order[:n_holdout]))

    def split_by_user(
        self, holdout_fraction: float, seed: int, *, max_users: int | None = None
    ) -> tuple[Ratings, Ratings]:
        """Seeded per-user (train, holdout) split: each user's ratings, ``holdout_fraction`` of them held out.

        A user with n ratings has ``round(n * holdout_fraction)`` held out, chosen at random (so
        users with one or two ratings may keep them all). With ``max_users``, only the ratings of
        that many randomly chosen users take part, in both halves (validation at scale on a sample).
        """
        rng = np.random.default_rng(seed)
        people, owner, counts = np.unique(self.users, return_inverse=True, return_counts=True)
        source: Ratings = self
        if max_users is not None and len(people) > max_users:
            chosen = np.zeros(len(people), dtype=bool)
            chosen[rng.choice(len(people), max_users, replace=False)] = True
            kept = np.flatnonzero(chosen[owner])
            source = self.take(kept)
            _, owner, counts = np.unique(source.users, return_inverse=True, return_counts=True)
        order = np.lexsort((rng.random(len(source)), owner))
        starts = np.cumsum(counts) - counts
        rank = np.empty(len(source), dtype=np.int64)
        rank[order] = np.arange(len(source)) - np.repeat(starts, counts)
        held = rank < np.round(counts * holdout_fraction)[owner]
        return source.take(np.flatnonzero(~held)), source.take(np.flatnonzero(held))


def _ids(column: pd.Series, name: str, source: str) -> np.ndarray:
    """Integer ids as int64, exactly: integer columns as they are, float columns only if whole."""
    if pd.api.types.is_integer_dtype(column.dtype):
        return column.to_numpy(dtype=np.int64)
    try:
        values = column.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise RatingsError(f"Input table {source} has non-numeric {name} values: ids must be integers.") from None
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) or np.any(np.abs(values) > MAX_EXACT_ID):
        raise RatingsError(
            f"Input table {source} has {name} values that are not whole numbers: ids must be integers "
            f"(stored as NUMBER(38,0), or below 2^53 if stored as FLOAT)."
        )
    return values.astype(np.int64)

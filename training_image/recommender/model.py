"""The trained model as plain arrays: scoring, top-k, and a file format of arrays plus JSON (no object serialization).

A model directory holds ``model.npz`` (NumPy arrays only, loaded with ``allow_pickle=False``)
and ``metadata.json`` (format version, hyperparameters, metrics, data fingerprint, library
versions). Format version 2 adds the EASE ranker's arrays (``ranker_*``) when the lists are
ranked by it; version 3 adds graded EASE's (``ranker_history_weights``, and ``ranker_liked_*``
when it has a liked view). Version 1 files (no ranker: lists by predicted rating) and version 2
files still load. Loading a file of another format fails with a clear message.

Version 3 also carries what Surprise's algorithms need (``recommender.surprise_models``), each
optional: ``predictions``, every known (user, movie) pair's estimate, for the algorithms that
average over a user's whole history (KNNBaseline, SlopeOne), and ``unknown_estimate``, what a pair
with an unknown user or movie gets when the algorithm has no baseline for it (Surprise's default
prediction, the trainset mean).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from pipeline_shared import first_line
from recommender.ease import ItemRanker, LikedView
from recommender.topk import (
    DEFAULT_MEMORY_BUDGET,
    RatedItems,
    TopK,
    iter_dense_top_k,
    iter_top_k,
    scoring_matrix,
    top_k,
)

FORMAT = "recommender.factor-model"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
ARRAYS_FILE = "model.npz"
METADATA_FILE = "metadata.json"
_PREDICT_CHUNK = 1024  # rows scored per step in FactorModel.predict_rows
_RANKER_BLOCK = 4096  # users per block when the ranker lists every user


class ModelFormatError(RuntimeError):
    """A model directory that is missing, incomplete or of an unknown format."""


@dataclass(frozen=True)
class FactorModel:
    """Biased matrix factorisation: ``mean + b_u + b_i + p_u . q_i``, clipped to the rating scale.

    ``user_ids`` and ``item_ids`` are sorted raw ids; row j of the factor and bias arrays
    belongs to the j-th id. ``rated`` lists, per user row, the item rows the user rated.
    Top-k lists come from ``ranker`` (EASE or graded EASE) when there is one, else by predicted rating.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    global_mean: float
    rating_min: float
    rating_max: float
    rated: RatedItems
    ranker: ItemRanker | None = None
    predictions: np.ndarray | None = None  # float32 (n_users, n_items): each known pair's estimate, unclipped
    unknown_estimate: float | None = None  # a pair with an unknown user or movie gets this, not the baseline

    @property
    def ranking(self) -> str:
        """How :meth:`top_k_rows` ranks: ``graded_ease``, ``ease`` or ``predicted_rating``."""
        return "predicted_rating" if self.ranker is None else self.ranker.method

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_rows(self, user_ids: np.ndarray) -> np.ndarray:
        """Row of each raw user id, -1 where unknown."""
        return self._user_lookup.rows(user_ids)

    def item_rows(self, item_ids: np.ndarray) -> np.ndarray:
        """Row of each raw item id, -1 where unknown."""
        return self._item_lookup.rows(item_ids)

    @cached_property
    def _scoring_items(self) -> np.ndarray:
        """Built once per model: serving's top-k requests reuse it instead of re-transposing every item."""
        return scoring_matrix(self.item_factors, self.item_bias)

    @cached_property
    def _user_lookup(self) -> IdLookup:
        return IdLookup(self.user_ids)

    @cached_property
    def _item_lookup(self) -> IdLookup:
        return IdLookup(self.item_ids)

    def predict(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Predicted ratings for aligned arrays of raw ids, vectorised.

        An unknown user or item contributes no bias and no interaction term, so it gets the
        baseline estimate (global mean plus whatever bias is known). Clipped to the scale.
        """
        users = self.user_rows(np.asarray(user_ids))
        items = self.item_rows(np.asarray(item_ids))
        return self.predict_rows(users, items)

    def predict_rows(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Like :meth:`predict`, for row indices (-1 = unknown)."""
        known_u, known_i = users >= 0, items >= 0
        # Unknown rows read row 0 and are then zeroed: one gather per array, no masked copies.
        u, i = np.where(known_u, users, 0), np.where(known_i, items, 0)
        interaction = np.empty(len(u), dtype=np.result_type(self.user_factors, self.item_factors))
        # Chunks keep the gathered factor rows small: bounded memory for any request, and
        # no fresh multi-MB allocations (page faults) on the serving hot path.
        for start in range(0, len(u), _PREDICT_CHUNK):
            chunk = slice(start, start + _PREDICT_CHUNK)
            interaction[chunk] = np.einsum("ij,ij->i", self.user_factors[u[chunk]], self.item_factors[i[chunk]])
        estimate = (
            self.global_mean
            + self.user_bias[u] * known_u
            + self.item_bias[i] * known_i
            + interaction * (known_u & known_i)
        )
        if self.predictions is not None:
            estimate = np.where(known_u & known_i, self.predictions[u, i], estimate)
        if self.unknown_estimate is not None:
            estimate = np.where(known_u & known_i, estimate, self.unknown_estimate)
        return np.clip(estimate, self.rating_min, self.rating_max)

    def top_k_rows(self, users: np.ndarray, k: int, *, parallel: bool = False) -> TopK:
        """Top-k item rows for user rows, best first, excluding rated items (-1 = unknown user).

        With a ranker, by EASE score (unknown users: by popularity); without, by predicted
        rating (unknown users: by item bias). Scores are the ranker's, not ratings. ``parallel``:
        see :meth:`ItemRanker.top_k` (training only; the lists are the same).
        """
        if self.ranker is not None:
            return self.ranker.top_k(self.rated, np.asarray(users, dtype=np.int64), k, parallel=parallel)
        if self.predictions is not None:
            return _joined(iter_dense_top_k(self.predictions, self.item_bias, np.asarray(users), self.rated, k), k)
        vectors = _user_vectors(self, users)
        return top_k(
            vectors, users, self.item_factors, self.item_bias, self.rated, k, scoring_items=self._scoring_items
        )

    def recommend(self, user_ids: np.ndarray, k: int) -> list[list[int]]:
        """Best-first raw item ids per raw user id, excluding items the user rated."""
        result = self.top_k_rows(self.user_rows(np.asarray(user_ids)), k)
        ids = self.item_ids[np.maximum(result.items, 0)]  # raw ids may be any integer: mask by row, not by value
        return [row[listed].tolist() for row, listed in zip(ids, result.items >= 0, strict=True)]

    def iter_all_top_k(self, k: int, *, memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET) -> Iterator[tuple[int, TopK]]:
        """Blocks of top-k for every known user, in user-row order (see ``iter_top_k``)."""
        rows = np.arange(self.n_users)
        if self.ranker is not None:
            ranker = self.ranker
            return (
                (start, ranker.top_k(self.rated, rows[start : start + _RANKER_BLOCK], k, parallel=True))
                for start in range(0, self.n_users, _RANKER_BLOCK)
            )
        if self.predictions is not None:
            return iter_dense_top_k(
                self.predictions, self.item_bias, rows, self.rated, k, memory_budget_bytes=memory_budget_bytes
            )
        return iter_top_k(
            self.user_factors,
            rows,
            self.item_factors,
            self.item_bias,
            self.rated,
            k,
            memory_budget_bytes=memory_budget_bytes,
        )

    def list_capacity(self) -> np.ndarray:
        """Per user row, how many movies its list can hold: the ranked movies it has not rated."""
        owners = np.repeat(np.arange(self.n_users), np.diff(self.rated.indptr))
        if self.ranker is None:
            return self.n_items - np.bincount(owners, minlength=self.n_users)
        ranked = self.ranker.covers(self.rated.indices)
        return self.ranker.n_covered - np.bincount(owners[ranked], minlength=self.n_users)

    def predicted_for_lists(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for a (users x k) block of listed item rows (-1 padding gets the baseline)."""
        rows = np.repeat(np.asarray(users, dtype=np.int64), items.shape[1])
        return self.predict_rows(rows, items.ravel()).reshape(items.shape)

    def check_sound(self) -> None:
        """Raise :class:`ModelFormatError` naming the first way these arrays are not a usable model.

        Shapes agree, ids are sorted and unique, the rated lists point at real items, every number
        is finite and the rating scale is a real interval; the same for the ranker. Run on load
        (a damaged file never serves) and by training before anything is published.
        """
        n_users, n_items = len(self.user_ids), len(self.item_ids)
        users, items, factors = self.user_factors, self.item_factors, self.user_factors.shape[-1]
        scale = np.array([self.global_mean, self.rating_min, self.rating_max])
        problem = _first_problem(
            (self.user_ids.ndim != 1 or self.item_ids.ndim != 1, "the id arrays are not one-dimensional"),
            (not (_integers(self.user_ids) and _integers(self.item_ids)), "the ids are not integers"),
            (not (_increasing(self.user_ids) and _increasing(self.item_ids)), "the ids are not sorted and unique"),
            (users.ndim != 2 or users.shape[0] != n_users, "user_factors do not match the users"),
            (items.ndim != 2 or items.shape != (n_items, factors), "item_factors do not match the movies or factors"),
            (self.user_bias.shape != (n_users,) or self.item_bias.shape != (n_items,), "a bias has the wrong size"),
            (not _rated_ok(self.rated, n_users, n_items), "the rated lists do not match the users and movies"),
            (not _finite(users, items, self.user_bias, self.item_bias), "a factor or bias is not a finite number"),
            (not (np.isfinite(scale).all() and self.rating_min <= self.rating_max), "the rating scale is not finite"),
        )
        if problem is None and self.ranker is not None:
            ranker = self.ranker
            n, ranked = len(ranker.items), ranker.items
            inside = n == 0 or (ranked[0] >= 0 and ranked[-1] < n_items)
            problem = _first_problem(
                (ranker.n_items != n_items, "the ranker was built for another catalogue"),
                (ranked.ndim != 1 or not _integers(ranked) or not _increasing(ranked) or not inside,
                 "the ranked movies are not movies of the model"),
                (ranker.weights.shape != (n, n) or ranker.popularity.shape != (n,), "the ranker's arrays disagree"),
                (not _finite(ranker.weights, ranker.popularity), "a ranker weight is not a finite number"),
            )  # fmt: skip
            if problem is None and (ranker.history_weights is not None or ranker.liked is not None):
                problem = _graded_problem(ranker, len(self.rated.indices))
        if problem is None and self.predictions is not None:
            problem = _first_problem(
                (self.predictions.shape != (n_users, n_items), "the predictions do not match the users and movies"),
                (not _finite(self.predictions), "a prediction is not a finite number"),
            )
        if problem is None and self.unknown_estimate is not None and not np.isfinite(self.unknown_estimate):
            problem = "the estimate for unknown users and movies is not a finite number"
        if problem is not None:
            raise ModelFormatError(f"The model is unsound: {problem}.")

    # -- files -------------------------------------------------------------------------

    def save(self, directory: Path, metadata: dict[str, Any]) -> None:
        """Write ``model.npz`` and ``metadata.json`` into ``directory`` (each written aside, then renamed)."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "user_factors": self.user_factors,
            "item_factors": self.item_factors,
            "user_bias": self.user_bias,
            "item_bias": self.item_bias,
            "rated_indptr": self.rated.indptr,
            "rated_indices": self.rated.indices,
            "scalars": np.array([self.global_mean, self.rating_min, self.rating_max]),
        }
        if self.ranker is not None:
            arrays.update(
                ranker_items=self.ranker.items,
                ranker_weights=self.ranker.weights,
                ranker_popularity=self.ranker.popularity,
            )
            if self.ranker.history_weights is not None:
                arrays["ranker_history_weights"] = self.ranker.history_weights
            if self.ranker.liked is not None:
                arrays.update(
                    ranker_liked_items=self.ranker.liked.items,
                    ranker_liked_weights=self.ranker.liked.weights,
                    ranker_liked_rated=self.ranker.liked.rated_liked,
                )
        if self.predictions is not None:
            arrays["predictions"] = self.predictions
        if self.unknown_estimate is not None:
            arrays["unknown_estimate"] = np.array(self.unknown_estimate)
        liked = None if self.ranker is None else self.ranker.liked
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_factors": int(self.user_factors.shape[1]),
            "global_mean": self.global_mean,
            "rating_scale": [self.rating_min, self.rating_max],
            "ranking": self.ranking,
            "ranked_movies": None if self.ranker is None else self.ranker.n_covered,
            "liked_view_movies": None if liked is None else len(liked.items),
            **metadata,
        }
        with _aside(directory / ARRAYS_FILE) as handle:
            np.savez(handle, allow_pickle=False, **arrays)  # arrays only (load refuses pickles too)
        with _aside(directory / METADATA_FILE) as handle:
            handle.write(json.dumps(document, indent=2, sort_keys=True).encode())

    @classmethod
    def load(cls, directory: Path) -> tuple[FactorModel, dict[str, Any]]:
        """Read a model directory written by :meth:`save`; raise :class:`ModelFormatError`."""
        meta_path, arrays_path = directory / METADATA_FILE, directory / ARRAYS_FILE
        if not meta_path.is_file() or not arrays_path.is_file():
            raise ModelFormatError(
                f"No model in {directory}: expected {METADATA_FILE} and {ARRAYS_FILE} written by the training job."
            )
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            metadata = None
        if not isinstance(metadata, dict):
            raise ModelFormatError(f"{meta_path} is not a JSON object: retrain the model.")
        if metadata.get("format") != FORMAT or metadata.get("format_version") not in READABLE_VERSIONS:
            raise ModelFormatError(
                f"{meta_path} describes format {metadata.get('format')!r} version "
                f"{metadata.get('format_version')!r}; this server reads {FORMAT!r} versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}: retrain or use a matching image."
            )
        try:
            with np.load(arrays_path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            scalars = arrays.pop("scalars")
            ranker = None
            if "ranker_weights" in arrays:
                liked = None
                if "ranker_liked_weights" in arrays:
                    liked = LikedView(
                        items=arrays["ranker_liked_items"],
                        weights=arrays["ranker_liked_weights"],
                        rated_liked=arrays["ranker_liked_rated"],
                    )
                ranker = ItemRanker(
                    items=arrays["ranker_items"],
                    weights=arrays["ranker_weights"],
                    popularity=arrays["ranker_popularity"],
                    n_items=len(arrays["item_ids"]),
                    history_weights=arrays.get("ranker_history_weights"),
                    liked=liked,
                )
            model = cls(
                user_ids=arrays["user_ids"],
                item_ids=arrays["item_ids"],
                user_factors=arrays["user_factors"],
                item_factors=arrays["item_factors"],
                user_bias=arrays["user_bias"],
                item_bias=arrays["item_bias"],
                global_mean=float(scalars[0]),
                rating_min=float(scalars[1]),
                rating_max=float(scalars[2]),
                rated=RatedItems(arrays["rated_indptr"], arrays["rated_indices"]),
                ranker=ranker,
                predictions=arrays.get("predictions"),
                unknown_estimate=float(arrays["unknown_estimate"]) if "unknown_estimate" in arrays else None,
            )
        except (KeyError, ValueError, TypeError, IndexError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelFormatError(
                f"{arrays_path} is damaged or incomplete ({first_line(exc)}): retrain the model."
            ) from None
        try:
            model.check_sound()
        except ModelFormatError as exc:
            raise ModelFormatError(f"{arrays_path}: {exc} Retrain the model.") from None
        problem = _metadata_problem(metadata, model)
        if problem:
            raise ModelFormatError(f"{meta_path} {problem}: retrain the model.")
        return model, metadata


class IdLookup:
    """Raw id -> row for sorted ids: a dense table when the ids are compact, else binary search."""

    DENSE_LIMIT = 50_000_000  # largest id that gets a dense table (4 bytes per possible id)

    def __init__(self, sorted_ids: np.ndarray) -> None:
        self.sorted_ids = np.asarray(sorted_ids, dtype=np.int64)
        self.table: np.ndarray | None = None
        if len(self.sorted_ids) and self.sorted_ids[0] >= 0 and self.sorted_ids[-1] < self.DENSE_LIMIT:
            self.table = np.full(int(self.sorted_ids[-1]) + 1, -1, dtype=np.int32)
            self.table[self.sorted_ids] = np.arange(len(self.sorted_ids), dtype=np.int32)

    def rows(self, wanted: np.ndarray) -> np.ndarray:
        wanted = np.asarray(wanted, dtype=np.int64)
        if self.table is not None:
            inside = (wanted >= 0) & (wanted < len(self.table))
            return np.where(inside, self.table[np.where(inside, wanted, 0)], -1).astype(np.int64)
        if len(self.sorted_ids) == 0:
            return np.full(len(wanted), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted_ids, wanted), len(self.sorted_ids) - 1)
        return np.where(self.sorted_ids[pos] == wanted, pos, -1).astype(np.int64)


def _first_problem(*checks: tuple[object, str]) -> str | None:
    return next((message for failed, message in checks if failed), None)


def _integers(array: np.ndarray) -> bool:
    return np.issubdtype(array.dtype, np.integer)


def _increasing(array: np.ndarray) -> bool:
    return bool(np.all(array[1:] > array[:-1])) if len(array) > 1 else True


def _finite(*arrays: np.ndarray) -> bool:
    return all(np.issubdtype(a.dtype, np.floating) and bool(np.isfinite(a).all()) for a in arrays)


def _rated_ok(rated: RatedItems, n_users: int, n_items: int) -> bool:
    indptr, indices = rated.indptr, rated.indices
    return bool(
        indptr.ndim == 1 and len(indptr) == n_users + 1 and _integers(indptr) and _integers(indices)
        and indptr[0] == 0 and indptr[-1] == len(indices) and np.all(np.diff(indptr) >= 0)
        and (len(indices) == 0 or (indices.min() >= 0 and indices.max() < n_items))
    )  # fmt: skip


def _graded_problem(ranker: ItemRanker, n_rated: int) -> str | None:
    """What in graded EASE's arrays disagrees with the ranker and the rated lists; None when they are sound."""
    weights, liked = ranker.history_weights, ranker.liked
    if weights is None:
        return "the ranker has a liked view but no history weights"
    problem = _first_problem(
        (weights.shape != (n_rated,), "the ranker's history weights do not match the rated lists"),
        (not _finite(weights), "a ranker weight is not a finite number"),
    )
    if problem is None and liked is not None:
        n, view = ranker.n_covered, liked.items
        inside = len(view) > 0 and view[0] >= 0 and view[-1] < n
        problem = _first_problem(
            (view.ndim != 1 or not _integers(view) or not _increasing(view) or not inside,
             "the liked view's movies are not ranked movies"),
            (liked.weights.shape != (len(view), len(view)) or liked.rated_liked.shape != (n_rated,)
             or liked.rated_liked.dtype != np.bool_, "the liked view's arrays disagree"),
            (not _finite(liked.weights), "a ranker weight is not a finite number"),
        )  # fmt: skip
    return problem


def _metadata_problem(metadata: dict[str, Any], model: FactorModel) -> str | None:
    """What in ``metadata`` disagrees with the arrays or has the wrong type; None when it is sound."""
    if metadata.get("n_users") != model.n_users or metadata.get("n_items") != model.n_items:
        return "does not describe these arrays (n_users, n_items)"
    if metadata.get("format_version", 1) >= 2 and metadata.get("ranking") != model.ranking:
        return f"says the lists are ranked by {metadata.get('ranking')!r} but the arrays are {model.ranking!r}'s"
    version = metadata.get("model_version")
    if version is not None and not isinstance(version, str):
        return "has a model_version that is not text"
    return None


def _joined(blocks: Iterator[tuple[int, TopK]], k: int) -> TopK:
    parts = [block for _, block in blocks]
    if not parts:
        return TopK(np.empty((0, k), dtype=np.int64), np.empty((0, k), dtype=np.float32))
    return TopK(np.concatenate([p.items for p in parts]), np.concatenate([p.scores for p in parts]))


def _user_vectors(model: FactorModel, users: np.ndarray) -> np.ndarray:
    vectors = np.zeros((len(users), model.user_factors.shape[1]), dtype=np.float32)
    known = users >= 0
    vectors[known] = model.user_factors[users[known]]
    return vectors


@contextmanager
def _aside(path: Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path`` and rename it over ``path`` on success."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink()
        raise

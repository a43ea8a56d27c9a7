"""Inference requests and answers, free of HTTP: parse a body, score it, format the result.

Supported bodies (SageMaker ``/invocations``):
- ``text/csv``: lines ``user_id,movie_id`` -> one predicted rating per line;
- ``application/json`` ``{"instances": [[user_id, movie_id], ...]}`` -> ``{"predictions": [...]}``;
- ``application/json`` ``{"user_ids": [...], "k": 10}`` -> ``{"recommendations": [[movie_id, ...], ...]}``.
Malformed bodies raise :class:`RequestError` with a message fit for a 400 answer.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from recommender.model import FactorModel

CSV = "text/csv"
JSON = "application/json"
MAX_K = 1000
MAX_ID = 2**53  # ids beyond this cannot round-trip through JSON numbers
MAX_PAIRS = 500_000  # (user, movie) pairs per request: the answer stays well under SageMaker's 6 MB
MAX_LISTED = 200_000  # users x k per request: bounded work, and an answer under 6 MB
MAX_ANSWER = 6 * 1024 * 1024  # what SageMaker relays from an endpoint


class RequestError(ValueError):
    """A request body that cannot be answered."""


class TooLargeError(RequestError):
    """A request that asks for more than one answer may carry: split it (HTTP 413)."""


@dataclass(frozen=True)
class Answer:
    content_type: str
    body: bytes


def answer(model: FactorModel, content_type: str, body: bytes) -> Answer:
    """Score one request. ``content_type`` must be :data:`CSV` or :data:`JSON`."""
    if content_type == CSV:
        if body.count(b"\n") > MAX_PAIRS:  # before parsing: the count is cheap, the parse is not
            raise TooLargeError(f"The text/csv body has over {MAX_PAIRS:,} lines: split the request.")
        users, movies = parse_csv_pairs(body)
        _at_most(len(users), MAX_PAIRS, "user_id,movie_id pairs")
        return _bounded(Answer(CSV, format_csv(model.predict(users, movies))))
    document = _json_object(body)
    if "instances" in document and "user_ids" not in document:
        pairs = _id_array(document["instances"], "instances", shape=2)
        _at_most(len(pairs), MAX_PAIRS, "instances")
        predictions = model.predict(pairs[:, 0], pairs[:, 1])
        return _bounded(Answer(JSON, _dumps({"predictions": np.round(predictions, 4).tolist()})))
    if "user_ids" in document and "instances" not in document:
        users = _id_array(document["user_ids"], "user_ids", shape=None)
        k = document.get("k", 10)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RequestError(f"'k' must be a whole number from 1 to {MAX_K}.")
        _at_most(len(users) * k, MAX_LISTED, "recommendations (user_ids times k)")
        return _bounded(Answer(JSON, _dumps({"recommendations": model.recommend(users, k)})))
    raise RequestError(
        'A JSON body needs exactly one of "instances" ([[user_id, movie_id], ...]) '
        'or "user_ids" (with an optional "k").'
    )


def parse_csv_pairs(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``user_id,movie_id`` lines into two int64 arrays (vectorised parse)."""
    if not body.strip():
        raise RequestError("The text/csv body is empty: send lines of 'user_id,movie_id'.")
    try:  # integers parse several times faster than floats; "1.0"-style ids take the slow path
        ids = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError:
        try:
            values = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError:
            raise RequestError("The text/csv body must be lines of 'user_id,movie_id' numbers.") from None
        ids = _integral(values, "text/csv body")
    if ids.shape[1] != 2:
        raise RequestError(f"Each text/csv line must have 2 fields (user_id,movie_id), not {ids.shape[1]}.")
    return ids[:, 0], ids[:, 1]


def format_csv(predictions: np.ndarray) -> bytes:
    """One rating per line with 4 decimals.

    Ratings in [0, 10) -- every common scale -- are written as fixed-width ``d.dddd`` digits
    straight into a byte array; other values fall back to Python's float formatting.
    """
    values = np.asarray(predictions, dtype=np.float64)
    scaled = np.round(values * 10_000).astype(np.int64)
    if len(scaled) and scaled.min() >= 0 and scaled.max() < 100_000:
        lines = np.empty((len(scaled), 7), dtype=np.uint8)
        lines[:, 0] = scaled // 10_000 + ord("0")
        lines[:, 1] = ord(".")
        for position, power in zip(range(2, 6), (1000, 100, 10, 1), strict=True):
            lines[:, position] = scaled // power % 10 + ord("0")
        lines[:, 6] = ord("\n")
        return lines.tobytes()
    return "".join(f"{value:.4f}\n" for value in values.tolist()).encode()


def _at_most(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise TooLargeError(f"The request asks for {count:,} {what}; at most {limit:,} fit one answer: split it.")


def _bounded(result: Answer) -> Answer:
    if len(result.body) > MAX_ANSWER:
        raise TooLargeError("The answer would exceed the 6 MB an endpoint may return: split the request.")
    return result


def _json_object(body: bytes) -> dict[str, object]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, or an integer beyond Python's digit limit
        raise RequestError("The application/json body is not valid JSON.") from None
    except RecursionError:
        raise RequestError("The application/json body is nested too deeply.") from None
    if not isinstance(document, dict):
        raise RequestError('The application/json body must be an object with "instances" or "user_ids".')
    return document


def _id_array(value: object, name: str, *, shape: int | None) -> np.ndarray:
    expected = "a list of [user_id, movie_id] pairs" if shape else "a list of user ids"
    if not isinstance(value, list):
        raise RequestError(f'"{name}" must be {expected}.')
    if not value:
        return np.empty((0, shape) if shape else 0, dtype=np.int64)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError(f'"{name}" must be {expected} (numbers only).') from None
    if (shape and (array.ndim != 2 or array.shape[1] != shape)) or (not shape and array.ndim != 1):
        raise RequestError(f'"{name}" must be {expected}.')
    return _integral(array, f'"{name}"')


def _integral(values: np.ndarray, where: str) -> np.ndarray:
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) or np.any(np.abs(values) > MAX_ID):
        raise RequestError(f"The {where} has ids that are not whole numbers.")
    return values.astype(np.int64)


def _dumps(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()

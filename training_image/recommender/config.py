"""Typed, validated training configuration from SageMaker's ``hyperparameters.json``.

SageMaker passes every hyperparameter as a string. :func:`parse_hyperparameters` turns them
into a :class:`JobConfig` or raises :class:`HyperparameterError` with one sentence naming the
offending key and what to do. Credentials are never hyperparameters: only the ARN of the
Secrets Manager secret that holds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline_shared import settings
from pipeline_shared.bulk_load import WRITE_ROWS_PER_S, WriteTimeout
from pipeline_shared.identifiers import InvalidIdentifierError, TableName
from pipeline_shared.settings import KEY_PAIR, WORKLOAD_IDENTITY, Setting, SettingError
from pipeline_shared.training_options import (
    ALGORITHMS,
    GRADED_EASE_OPTIONS,
    OPTIONS,
    OptionError,
    Value,
    check_together,
    default,
)

if TYPE_CHECKING:  # typeshed's protocol of every dataclass instance
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class HyperparameterError(ValueError):
    """A hyperparameter that is missing, unknown or malformed."""


@dataclass(frozen=True)
class SnowflakeSettings:
    """Where and as whom to connect. Holds no credentials, only where to find them."""

    account: str
    user: str
    role: str | None = None
    warehouse: str | None = None
    database: str | None = None
    schema: str | None = None
    secret_arn: str | None = None
    auth: str = KEY_PAIR  # or WORKLOAD_IDENTITY: the job's own AWS role signs in, no secret
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    aws_region: str | None = None
    # seconds the swap's DELETE waits for another transaction's lock; below its limit
    lock_timeout: int = settings.LOCK_TIMEOUT.default
    # seconds before a Snowflake that stopped answering fails the job; each other statement's limit
    timeout: int = settings.STATEMENT_TIMEOUT.default
    write_timeout: int | None = None  # each write statement's limit; None: ``timeout`` + 1 s per 1,000 rows written

    @property
    def write_limit(self) -> WriteTimeout:
        """The limit of the write-back's COPY, DELETE and INSERT (see ``pipeline_shared.bulk_load.WriteTimeout``)."""
        return WriteTimeout(base_s=self.timeout, fixed_s=self.write_timeout)

    def describe_write_limit(self, rows: int) -> str:
        """The write statements' limit for ``rows`` rows and where it comes from, for the job's log."""
        if self.write_timeout is not None:
            return f"{self.write_timeout} s (snowflake_write_timeout)"
        return (
            f"{self.write_limit.for_rows(rows)} s (snowflake_timeout {self.timeout} s + 1 s per "
            f"{WRITE_ROWS_PER_S:,} of {rows:,} rows)"
        )


@dataclass(frozen=True)
class ModelParams:
    """The rating model: ``algorithm`` and its options (``pipeline_shared.training_options.ALGORITHMS``).

    The fields default to svd's values (>2% better RMSE than SVD()); :meth:`of` gives another
    algorithm its own defaults. An algorithm reads only the fields it takes (:meth:`options`).
    """

    n_factors: int = int(default("n_factors"))
    n_epochs: int = int(default("n_epochs"))
    lr_all: float = float(default("lr_all"))
    reg_all: float = float(default("reg_all"))
    init_std_dev: float = float(default("init_std_dev"))
    random_state: int = int(default("random_state"))
    algorithm: str = str(default("algorithm"))
    biased: bool = bool(default("biased"))
    k: int = int(default("k"))
    min_k: int = int(default("min_k"))
    similarity: str = str(default("similarity"))
    user_based: bool = bool(default("user_based"))
    baseline_method: str = str(default("baseline_method"))
    n_cltr_u: int = int(default("n_cltr_u"))
    n_cltr_i: int = int(default("n_cltr_i"))

    @classmethod
    def of(cls, algorithm: str = str(default("algorithm")), **given: Any) -> ModelParams:
        """``algorithm`` with the ``given`` options, and its own defaults for the other options it takes."""
        return cls(**{**ALGORITHMS[algorithm], **given, "algorithm": algorithm})

    def options(self) -> dict[str, Value]:
        """The algorithm, the options it takes and the seed, by option name (what the job logs and records)."""
        taken = {name: getattr(self, name) for name in ALGORITHMS[self.algorithm]}
        return {"algorithm": self.algorithm, **taken, "random_state": self.random_state}


@dataclass(frozen=True)
class RankingParams:
    """How the written lists are ranked: ``graded_ease`` or ``ease`` (:mod:`recommender.ease`), or ``predicted_rating``.

    ``predicted_rating`` is the seed's order; ``ease`` reads the first three numbers, ``graded_ease`` all.
    """

    method: str = str(default("ranking"))
    regularization: float = float(default("ranking_regularization"))
    min_ratings: int = int(default("ranking_min_ratings"))
    max_movies: int = int(default("ranking_max_movies"))
    rating_weight: float = float(default("ranking_rating_weight"))
    liked_weight: float = float(default("ranking_liked_weight"))
    liked_regularization: float = float(default("ranking_liked_regularization"))
    popularity_exponent: float = float(default("ranking_popularity_exponent"))
    liked_share: float = float(default("ranking_liked_share"))

    def as_options(self) -> dict[str, str | float | int]:
        """The method and the values it reads, under their option names (``ranking``, ``ranking_regularization``...)."""
        options: dict[str, str | float | int] = {"ranking": self.method}
        if self.method != "predicted_rating":
            for key, value in asdict(self).items():
                name = f"ranking_{key}"
                if key != "method" and (self.method == "graded_ease" or name not in GRADED_EASE_OPTIONS):
                    options[name] = value
        return options


@dataclass(frozen=True)
class JobConfig:
    input_table: TableName
    output_table: TableName
    snowflake: SnowflakeSettings
    model: ModelParams = field(default_factory=ModelParams)
    ranking: RankingParams = field(default_factory=RankingParams)
    top_k: int = int(default("top_k"))
    validation_fraction: float = float(default("validation_fraction"))
    validation_users: int = int(default("validation_users"))
    rating_min: float = float(default("rating_min"))
    rating_max: float = float(default("rating_max"))

    @property
    def scale(self) -> tuple[float, float]:
        """The declared rating scale: ratings outside it are left out, predictions stay inside it."""
        return self.rating_min, self.rating_max

    def describe(self) -> dict[str, Any]:
        """A loggable summary (contains no secrets: the config never holds any)."""
        return {
            "input_table": self.input_table.sql,
            "output_table": self.output_table.sql,
            "snowflake_account": self.snowflake.account,
            "snowflake_user": self.snowflake.user,
            "credentials": (
                "workload identity"
                if self.snowflake.auth == WORKLOAD_IDENTITY
                else "secret"
                if self.snowflake.secret_arn
                else "SNOWFLAKE_PASSWORD"
            ),
            "top_k": self.top_k,
            "validation_fraction": self.validation_fraction,
            "validation_users": self.validation_users,
            "rating_scale": list(self.scale),
            **self.model.options(),
            **self.ranking.as_options(),
        }


def _option(key: str, raw: str) -> int | float | str:
    """A training option, by the rule the train Lambda checked it with before starting the job."""
    option = next(o for o in OPTIONS if o.name == key)
    try:
        return option.parse(raw)
    except OptionError as exc:
        raise HyperparameterError(f"Hyperparameter '{key}' {exc}, got {raw.strip()[:40]!r}.") from None


def _setting(setting: Setting) -> Callable[[str, str], Any]:
    """A connection hyperparameter, by the rule the stack and the Lambdas read the same setting with."""

    def parse(key: str, raw: str) -> Any:
        try:
            return setting.parse(raw)
        except SettingError as exc:
            raise HyperparameterError(f"Hyperparameter '{key}' {exc}.") from None

    return parse


def _table(key: str, raw: str) -> TableName:
    try:
        return TableName.parse(raw, what=f"hyperparameter '{key}'")
    except InvalidIdentifierError as exc:
        raise HyperparameterError(str(exc)) from None


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "input_table": _table,
    "output_table": _table,
    **{name: _setting(setting) for name, setting in settings.HYPERPARAMETERS.items()},
    **{option.name: _option for option in OPTIONS if option.name != "engine"},  # the engine is the Lambda's choice
}
_REQUIRED = ("input_table", "output_table", *(name for name, s in settings.HYPERPARAMETERS.items() if s.job_requires))
KNOWN_HYPERPARAMETERS = frozenset(_PARSERS)


def parse_hyperparameters(raw: Mapping[str, object]) -> JobConfig:
    """Validate SageMaker hyperparameters (string values) into a :class:`JobConfig`.

    Keys starting with ``sagemaker_`` are SageMaker's own and ignored; any other unknown key
    is rejected so that a typo never silently falls back to a default.
    """
    unknown = sorted(k for k in raw if k not in _PARSERS and not k.startswith("sagemaker_"))
    if unknown:
        raise HyperparameterError(f"Unknown hyperparameter '{unknown[0]}': allowed are {', '.join(sorted(_PARSERS))}.")
    missing = [k for k in _REQUIRED if not str(raw.get(k, "") or "").strip()]
    if missing:
        raise HyperparameterError(f"Hyperparameter '{missing[0]}' is required but missing or empty.")

    values: dict[str, Any] = {}
    for key, parser in _PARSERS.items():
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        values[key] = parser(key, str(value))

    def take(prefix: str, cls: type[T]) -> T:
        names = cls.__dataclass_fields__
        return cls(**{n: values[prefix + n] for n in names if prefix + n in values})

    snowflake = take("snowflake_", SnowflakeSettings)
    if "aws_region" in values:
        snowflake = SnowflakeSettings(**{**asdict(snowflake), "aws_region": values["aws_region"]})
    # The swap's DELETE may wait for a lock: the wait must end (with Snowflake's own lock error) before the
    # connector cancels the DELETE at its limit, the write limit -- least for an empty output.
    if snowflake.lock_timeout >= snowflake.write_limit.shortest:
        limit = "snowflake_timeout" if snowflake.write_timeout is None else "snowflake_write_timeout"
        raise HyperparameterError(
            f"Hyperparameter snowflake_lock_timeout ({snowflake.lock_timeout}) must be below {limit} "
            f"({snowflake.write_limit.shortest}): the connector cancels a statement that runs longer, lock wait "
            "included."
        )
    try:
        check_together(values)
    except OptionError as exc:
        raise HyperparameterError(f"Hyperparameter {exc}.") from None
    ranking = {"method": values["ranking"]} if "ranking" in values else {}
    ranking.update({n: values[f"ranking_{n}"] for n in RankingParams.__dataclass_fields__ if f"ranking_{n}" in values})
    return JobConfig(
        input_table=values["input_table"],
        output_table=values["output_table"],
        snowflake=snowflake,
        model=ModelParams.of(**{name: values[name] for name in ModelParams.__dataclass_fields__ if name in values}),
        ranking=RankingParams(**ranking),
        **{
            k: values[k]
            for k in ("top_k", "validation_fraction", "validation_users", "rating_min", "rating_max")
            if k in values
        },
    )


def load_hyperparameters(path: Path) -> JobConfig:
    """Read and validate ``hyperparameters.json``; a missing or non-JSON file is a HyperparameterError."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HyperparameterError(
            f"No hyperparameters file at {path}: start the job with hyperparameters "
            "(or set OPT_ML to a folder that has input/config/hyperparameters.json)."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HyperparameterError(f"{path} is not valid JSON: write an object of string values.") from None
    if not isinstance(raw, dict):
        raise HyperparameterError(f"{path} must hold a JSON object of hyperparameter names to string values.")
    return parse_hyperparameters(raw)

"""The options a training job takes: names, types, ranges and defaults, in one place.

SQL users pass them in ``train_and_get_recommendations``' OPTIONS object; the train Lambda checks
them with :func:`parse_option` before it starts a (billed) job, and the training image parses
its hyperparameters with the same function, so a value one accepts the other accepts too.
SageMaker hands hyperparameters over as strings: :func:`as_hyperparameter` gives the string.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline_shared import InputError


class OptionError(InputError):
    """An option value outside its type or range; the message completes "option 'x' ..."."""


Value = int | float | str


@dataclass(frozen=True)
class TrainingOption:
    """One option: a number within ``[low, high]`` (``(low, high]`` if ``low_open``), or one of ``choices``."""

    name: str
    kind: type[int] | type[float] | type[str]
    default: Value
    low: int | float
    high: int | float
    meaning: str
    low_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def rule(self) -> str:
        """The accepted values in words, e.g. "a whole number from 1 to 1000"."""
        if self.kind is str:
            return "one of " + ", ".join(repr(choice) for choice in self.choices)
        if self.kind is int:
            return f"a whole number from {self.low} to {self.high}"
        bound = "above" if self.low_open else "from"
        return f"a number {bound} {self.low} up to {self.high}"

    def parse(self, raw: object) -> Value:
        """``raw`` (a string, or a JSON number) as this option's value; raises :class:`OptionError`."""
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise OptionError(f"must be {self.rule}")
        text = raw.strip() if isinstance(raw, str) else str(raw)
        if self.kind is str:
            if text.lower() not in self.choices:
                raise OptionError(f"must be {self.rule}")
            return text.lower()
        try:
            value: int | float = int(text) if self.kind is int else float(text)
        except (ValueError, OverflowError):
            raise OptionError(f"must be {self.rule}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"must be {self.rule}")
        above_low = self.low < value if self.low_open else self.low <= value
        if not (above_low and value <= self.high):
            raise OptionError(f"must be {self.rule}")
        return value


OPTIONS: tuple[TrainingOption, ...] = (
    TrainingOption("n_factors", int, 100, 1, 1000, "latent factors of the SVD rating model"),
    TrainingOption("n_epochs", int, 50, 1, 1000, "passes of SGD over the ratings"),
    TrainingOption("lr_all", float, 0.01, 0.0, 1.0, "SGD learning rate", low_open=True),
    TrainingOption("reg_all", float, 0.08, 0.0, 10.0, "L2 regularisation"),
    TrainingOption("init_std_dev", float, 0.05, 0.0, 10.0, "spread of the initial factors"),
    TrainingOption("random_state", int, 42, 0, 2**32 - 1, "seed of the split and of the factors"),
    TrainingOption("top_k", int, 10, 1, 1000, "recommendations written per user"),
    TrainingOption(
        "validation_fraction", float, 0.2, 0.0, 0.5, "share of each user's ratings held out for metrics; 0 skips"
    ),
    TrainingOption("validation_users", int, 20_000, 10, 10_000_000, "users sampled for the holdout metrics"),
    TrainingOption("rating_min", float, 0.5, -1e6, 1e6, "lowest rating on the scale; lower ones are left out"),
    TrainingOption("rating_max", float, 5.0, -1e6, 1e6, "highest rating on the scale; higher ones are left out"),
    TrainingOption(
        "ranking", str, "ease", 0, 0, "how the written lists are ranked", choices=("ease", "predicted_rating")
    ),
    TrainingOption("ranking_regularization", float, 300.0, 0.0, 1e6, "EASE's L2 weight (lambda)", low_open=True),
    TrainingOption("ranking_min_ratings", int, 10, 1, 1_000_000, "ratings a movie needs to be ranked by EASE"),
    TrainingOption("ranking_max_movies", int, 10_000, 100, 20_000, "most-rated movies EASE ranks at most"),
)
BY_NAME: dict[str, TrainingOption] = {option.name: option for option in OPTIONS}
OPTION_NAMES: tuple[str, ...] = tuple(BY_NAME)


def default(name: str) -> Value:
    return BY_NAME[name].default


def parse_option(name: str, raw: object) -> Value:
    """The value of option ``name``; :class:`KeyError` for an unknown name, :class:`OptionError` for a bad value."""
    return BY_NAME[name].parse(raw)


def check_together(values: dict[str, Value]) -> None:
    """Rules between options (``values``: parsed; missing ones take their defaults); raises :class:`OptionError`."""
    low = values.get("rating_min", default("rating_min"))
    high = values.get("rating_max", default("rating_max"))
    if not float(low) < float(high):  # type: ignore[arg-type]
        raise OptionError(f"'rating_min' ({low}) must be below 'rating_max' ({high})")


def as_hyperparameter(value: Value) -> str:
    """The string SageMaker carries for a parsed value (``repr`` keeps every digit of a float)."""
    return repr(value) if isinstance(value, float) else str(value)


# What a training job reports: the image prints ``<name>=<value>`` lines, the train Lambda declares
# them as the job's MetricDefinitions (rating error, then top-10 quality on the holdout).
METRIC_NAMES: tuple[str, ...] = (
    "validation:rmse",
    "validation:mae",
    "validation:precision_at_10",
    "validation:recall_at_10",
    "validation:ndcg_at_10",
    "validation:coverage",
)

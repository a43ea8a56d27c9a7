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


Value = int | float | str | bool


@dataclass(frozen=True)
class TrainingOption:
    """One option: a number within ``[low, high]`` (``(low, high]`` if ``low_open``), one of ``choices`` or a flag.

    Choices match whatever their case and parse to their spelling here (``svdpp`` is ``SVDpp``).
    """

    name: str
    kind: type[int] | type[float] | type[str] | type[bool]
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
        if self.kind is bool:
            return "true or false"
        if self.kind is int:
            return f"a whole number from {self.low} to {self.high}"
        bound = "above" if self.low_open else "from"
        return f"a number {bound} {self.low} up to {self.high}"

    def parse(self, raw: object) -> Value:
        """``raw`` (a string, or a JSON number or boolean) as this option's value; raises :class:`OptionError`."""
        if self.kind is bool:
            flag = raw if isinstance(raw, bool) else {"true": True, "false": False}.get(str(raw).strip().lower())
            if flag is None or not isinstance(raw, bool | str):
                raise OptionError(f"must be {self.rule}")
            return flag
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise OptionError(f"must be {self.rule}")
        text = raw.strip() if isinstance(raw, str) else str(raw)
        if self.kind is str:
            spelled = {choice.lower(): choice for choice in self.choices}
            if text.lower() not in spelled:
                raise OptionError(f"must be {self.rule}")
            return spelled[text.lower()]
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


# The rating model: ``svd`` is Surprise's SVD fitted by our compiled trainer (recommender.sgd); the others
# are fitted by scikit-surprise itself, by the class of that name.
ALGORITHM_NAMES = ("svd", "SVDpp", "NMF", "KNNBaseline", "BaselineOnly", "SlopeOne", "CoClustering")

# How the lists are ranked (recommender.ease): graded EASE, plain EASE, or the rating model's predictions.
RANKING_NAMES = ("graded_ease", "ease", "predicted_rating")
# What graded EASE adds to EASE's options (ranking_regularization, ranking_min_ratings, ranking_max_movies).
GRADED_EASE_OPTIONS = (
    "ranking_rating_weight",
    "ranking_liked_weight",
    "ranking_liked_regularization",
    "ranking_popularity_exponent",
    "ranking_liked_share",
)

# Where the model is fitted: one SageMaker training job (the image), or ALS on EMR Serverless (spark_training).
ENGINE_NAMES = ("sagemaker", "spark")
# What engine=spark takes: ALS's rank, iterations, regularisation and seed, and the list and holdout settings.
SPARK_OPTIONS = (
    "engine",
    "n_factors",
    "n_epochs",
    "reg_all",
    "random_state",
    "top_k",
    "validation_fraction",
    "rating_min",
    "rating_max",
)
SPARK_DEFAULTS: dict[str, Value] = {"n_factors": 20, "n_epochs": 10, "reg_all": 0.1}  # ALS's, not svd's

OPTIONS: tuple[TrainingOption, ...] = (
    TrainingOption(
        "engine", str, "sagemaker", 0, 0, "where the model is fitted (spark: ALS, EMR)", choices=ENGINE_NAMES
    ),
    TrainingOption("algorithm", str, "svd", 0, 0, "the rating model", choices=ALGORITHM_NAMES),
    TrainingOption("n_factors", int, 100, 1, 1000, "latent factors (svd, SVDpp, NMF)"),
    TrainingOption("n_epochs", int, 50, 1, 1000, "passes over the ratings (svd, SVDpp, NMF, CoClustering)"),
    TrainingOption("lr_all", float, 0.01, 0.0, 1.0, "SGD learning rate (svd, SVDpp)", low_open=True),
    TrainingOption("reg_all", float, 0.08, 0.0, 10.0, "L2 regularisation (svd, SVDpp)"),
    TrainingOption("init_std_dev", float, 0.05, 0.0, 10.0, "spread of the initial factors (svd, SVDpp)"),
    TrainingOption("biased", bool, False, 0, 0, "NMF with user and movie biases"),
    TrainingOption("k", int, 40, 1, 1000, "most neighbours a KNNBaseline estimate averages"),
    TrainingOption("min_k", int, 1, 1, 1000, "fewest neighbours for KNNBaseline to use them, else the baseline"),
    TrainingOption(
        "similarity",
        str,
        "pearson_baseline",
        0,
        0,
        "KNNBaseline's similarity measure",
        choices=("pearson_baseline", "msd", "cosine", "pearson"),
    ),
    TrainingOption("user_based", bool, True, 0, 0, "KNNBaseline between users (true) or between movies (false)"),
    TrainingOption(
        "baseline_method",
        str,
        "als",
        0,
        0,
        "baselines fitted by ALS or SGD (KNNBaseline, BaselineOnly)",
        choices=("als", "sgd"),
    ),
    TrainingOption("n_cltr_u", int, 3, 1, 100, "user clusters of CoClustering"),
    TrainingOption("n_cltr_i", int, 3, 1, 100, "movie clusters of CoClustering"),
    TrainingOption("random_state", int, 42, 0, 2**32 - 1, "seed of the split and of the factors"),
    TrainingOption("top_k", int, 10, 1, 1000, "recommendations written per user"),
    TrainingOption(
        "validation_fraction", float, 0.2, 0.0, 0.5, "share of each user's ratings held out for metrics; 0 skips"
    ),
    TrainingOption("validation_users", int, 20_000, 10, 10_000_000, "users sampled for the holdout metrics"),
    TrainingOption("rating_min", float, 0.5, -1e6, 1e6, "lowest rating on the scale; lower ones are left out"),
    TrainingOption("rating_max", float, 5.0, -1e6, 1e6, "highest rating on the scale; higher ones are left out"),
    TrainingOption("ranking", str, "graded_ease", 0, 0, "how the written lists are ranked", choices=RANKING_NAMES),
    TrainingOption("ranking_regularization", float, 300.0, 0.0, 1e6, "EASE's L2 weight (lambda)", low_open=True),
    TrainingOption("ranking_min_ratings", int, 10, 1, 1_000_000, "ratings a movie needs to be ranked by EASE"),
    TrainingOption("ranking_max_movies", int, 10_000, 100, 20_000, "most-rated movies EASE ranks at most"),
    TrainingOption(
        "ranking_rating_weight", float, 0.5, 0.0, 2.0, "graded_ease: weight of a rating's distance from its user's mean"
    ),
    TrainingOption(
        "ranking_liked_weight", float, 0.5, 0.0, 10.0, "graded_ease: weight of the liked-only view; 0: none"
    ),
    TrainingOption(
        "ranking_liked_regularization", float, 150.0, 0.0, 1e6, "graded_ease: the liked view's lambda", low_open=True
    ),
    TrainingOption(
        "ranking_popularity_exponent", float, 0.2, 0.0, 1.0, "graded_ease: scores over popularity to this power"
    ),
    TrainingOption(
        "ranking_liked_share", float, 0.35, 0.0, 1.0, "graded_ease: share of ranked movies in the liked view"
    ),
)
BY_NAME: dict[str, TrainingOption] = {option.name: option for option in OPTIONS}
OPTION_NAMES: tuple[str, ...] = tuple(BY_NAME)


def _defaults(*names: str) -> dict[str, Value]:
    return {name: BY_NAME[name].default for name in names}


# The options each algorithm takes, with its default for each (the others are refused with it). svd's
# defaults are ours (tuned, see README); the Surprise algorithms' are Surprise 1.1.5's own, except
# KNNBaseline's similarity: pearson_baseline, which Surprise's documentation recommends for it.
ALGORITHMS: dict[str, dict[str, Value]] = {
    "svd": _defaults("n_factors", "n_epochs", "lr_all", "reg_all", "init_std_dev"),
    "SVDpp": {"n_factors": 20, "n_epochs": 20, "lr_all": 0.007, "reg_all": 0.02, "init_std_dev": 0.1},
    "NMF": {"n_factors": 15, "n_epochs": 50, "biased": False},
    "KNNBaseline": _defaults("k", "min_k", "similarity", "user_based", "baseline_method"),
    "BaselineOnly": _defaults("baseline_method"),
    "SlopeOne": {},
    "CoClustering": {**_defaults("n_cltr_u", "n_cltr_i"), "n_epochs": 20},
}
ALGORITHM_OPTIONS: tuple[str, ...] = tuple(name for name in OPTION_NAMES if any(name in o for o in ALGORITHMS.values()))


def default(name: str) -> Value:
    return BY_NAME[name].default


def parse_option(name: str, raw: object) -> Value:
    """The value of option ``name``; :class:`KeyError` for an unknown name, :class:`OptionError` for a bad value."""
    return BY_NAME[name].parse(raw)


def algorithm_settings(values: dict[str, Value]) -> dict[str, Value]:
    """The options the chosen algorithm takes, each given in ``values`` (parsed) or at its default for it."""
    algorithm = str(values.get("algorithm", default("algorithm")))
    return {name: values.get(name, value) for name, value in ALGORITHMS[algorithm].items()}


def check_together(values: dict[str, Value]) -> None:
    """Rules between options (``values``: parsed; missing ones take their defaults); raises :class:`OptionError`."""
    low = values.get("rating_min", default("rating_min"))
    high = values.get("rating_max", default("rating_max"))
    if not float(low) < float(high):
        raise OptionError(f"'rating_min' ({low}) must be below 'rating_max' ({high})")
    if values.get("engine") == "spark":
        foreign = [name for name in values if name not in SPARK_OPTIONS]
        if foreign:
            raise OptionError(
                f"'{foreign[0]}' is not an option of engine 'spark' (ALS), which takes {', '.join(SPARK_OPTIONS[1:])}"
            )
        return
    algorithm = str(values.get("algorithm", default("algorithm")))
    takes = ALGORITHMS[algorithm]
    foreign = [name for name in ALGORITHM_OPTIONS if name in values and name not in takes]
    if foreign:
        names = list(takes)
        listing = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names) or "no options"
        raise OptionError(f"'{foreign[0]}' is not an option of algorithm '{algorithm}', which takes {listing}")
    settings = algorithm_settings(values)
    if "min_k" in settings and int(settings["min_k"]) > int(settings["k"]):
        raise OptionError(f"'min_k' ({settings['min_k']}) must be at most 'k' ({settings['k']})")
    ranking = values.get("ranking", default("ranking"))
    graded = [name for name in GRADED_EASE_OPTIONS if name in values]
    if graded and ranking != "graded_ease":
        raise OptionError(f"'{graded[0]}' is an option of ranking 'graded_ease' only, not of '{ranking}'")


def as_hyperparameter(value: Value) -> str:
    """The string SageMaker carries for a parsed value (``repr`` keeps every digit of a float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


# What a training job reports: the image prints ``<name>=<value>`` lines, the train Lambda declares
# them as the job's MetricDefinitions (rating error, then top-10 quality on the holdout).
RMSE, NDCG_AT_10 = "validation:rmse", "validation:ndcg_at_10"  # the rating error; the top-10 quality
METRIC_NAMES: tuple[str, ...] = (
    RMSE,
    "validation:mae",
    "validation:precision_at_10",
    "validation:recall_at_10",
    NDCG_AT_10,
    "validation:coverage",
)

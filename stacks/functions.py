"""The catalogue of external functions: one source for API routes, Lambda handlers and Snowflake DDL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExternalFunction:
    """One SQL signature served by one API route and Lambda handler."""

    name: str  # SQL name
    path: str  # API resource, e.g. "train"
    handler: str  # function in external_functions.handlers
    arguments: tuple[tuple[str, str], ...]  # (name, SQL type)
    returns: str
    volatile: bool = True  # side effects or answers that change with redeploys
    max_batch_rows: int | None = None

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(kind for _, kind in self.arguments)})"

    def as_property(self, url: str) -> dict[str, object]:
        """The entry the Snowflake integration custom resource expects."""
        entry: dict[str, object] = {
            "Name": self.name,
            "Arguments": [list(arg) for arg in self.arguments],
            "Returns": self.returns,
            "Volatile": "true" if self.volatile else "false",
            "Url": url,
        }
        if self.max_batch_rows:
            entry["MaxBatchRows"] = str(self.max_batch_rows)
        return entry


_TABLES = (("INPUT_TABLE", "VARCHAR"), ("OUTPUT_TABLE", "VARCHAR"))

CATALOGUE: tuple[ExternalFunction, ...] = (
    # Training starts a SageMaker job per row: small batches keep each call well under 29 s.
    ExternalFunction("TRAIN_AND_GET_RECOMMENDATIONS", "train", "train_handler", _TABLES, "VARIANT", max_batch_rows=10),
    ExternalFunction(
        "TRAIN_AND_GET_RECOMMENDATIONS",
        "train",
        "train_handler",
        (*_TABLES, ("OPTIONS", "OBJECT")),
        "VARIANT",
        max_batch_rows=10,
    ),
    ExternalFunction(
        "DEPLOY_MODEL",
        "deploy",
        "deploy_handler",
        (("MODEL_NAME", "VARCHAR"), ("MODEL_REF", "VARCHAR")),
        "VARIANT",
        max_batch_rows=5,
    ),
    ExternalFunction(
        "INVOKE_MODEL",
        "invoke",
        "invoke_handler",
        (("MODEL_NAME", "VARCHAR"), ("USER_ID", "NUMBER"), ("MOVIE_ID", "NUMBER")),
        "FLOAT",
        max_batch_rows=20000,
    ),
    ExternalFunction(
        "RECOMMEND",
        "recommend",
        "recommend_handler",
        (("MODEL_NAME", "VARCHAR"), ("USER_ID", "NUMBER"), ("K", "NUMBER")),
        "ARRAY",
        max_batch_rows=2000,
    ),
    ExternalFunction(
        "PIPELINE_STATUS", "status", "status_handler", (("NAME", "VARCHAR"),), "VARIANT", max_batch_rows=20
    ),
)


def routes() -> dict[str, str]:
    """API resource path -> handler function name."""
    return {f.path: f.handler for f in CATALOGUE}

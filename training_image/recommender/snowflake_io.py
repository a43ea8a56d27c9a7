"""Reading ratings from and writing recommendations to Snowflake.

Table names go into SQL only as validated :class:`TableName` objects or bound through
``IDENTIFIER(%s)``; values are never formatted into SQL. Recommendations are bulk loaded
(PUT to a temporary stage, COPY into a temporary table) and then swapped into the output
table in one transaction, so a failed run leaves the previous recommendations intact.
Temporary objects disappear with the session.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import snowflake.connector
from snowflake.connector import SnowflakeConnection
from snowflake.connector.errors import DatabaseError, Error, InterfaceError, OperationalError, ProgrammingError

from pipeline_shared.bulk_load import (
    BulkLoadError,
    Column,
    TableLoad,
    WriteTimeout,
    reason,
    replace_tables,
    table_columns,
)
from pipeline_shared.credentials import Credentials
from pipeline_shared.identifiers import TableName
from recommender.config import SnowflakeSettings
from recommender.ratings import COLUMNS, Ratings

APPLICATION = "movielens-recommender"
RECOMMENDATIONS_COLUMN = "TOP_10_RECOMMENDATIONS"


class SnowflakeError(RuntimeError):
    """Snowflake was unreachable, refused us, or a table is not usable."""


def open_connection(
    settings: SnowflakeSettings,
    credentials: Credentials,
    *,
    application: str = APPLICATION,
    login_timeout: int | None = None,
    network_timeout: int | None = None,
) -> SnowflakeConnection:
    """A new connection; any failure becomes one clear :class:`SnowflakeError` (never a credential).

    A Snowflake that stops answering fails a call after about ``network_timeout`` seconds
    (``settings.timeout`` unless given), and the connector cancels a statement running longer --
    unless the statement is given its own ``timeout``, which then bounds both (the write-back's
    COPY, DELETE and INSERT: see :func:`replace_recommendations`). The connector retries until
    then, each attempt waiting at most a minute for an answer (Snowflake answers a query request
    within about 45 s, with its result or "still running").
    """
    network_timeout = network_timeout or settings.timeout
    optional = {
        "role": settings.role,
        "warehouse": settings.warehouse,
        "database": settings.database,
        "schema": settings.schema,
        "host": settings.host,
        "port": settings.port,
        "protocol": settings.protocol,
    }
    try:
        return snowflake.connector.connect(
            account=settings.account,
            user=settings.user,
            application=application,
            login_timeout=login_timeout or min(network_timeout, 60),
            network_timeout=network_timeout,
            socket_timeout=min(network_timeout, 60),
            session_parameters={"LOCK_TIMEOUT": settings.lock_timeout},
            **{k: v for k, v in optional.items() if v is not None},
            **credentials.connect_args,
        )
    except (DatabaseError, InterfaceError, OperationalError, OSError) as exc:
        where = f"{settings.host}:{settings.port}" if settings.host else f"account {settings.account}"
        raise SnowflakeError(
            f"Cannot connect to Snowflake ({where}) as {settings.user} with {credentials.kind} credentials: "
            f"{reason(exc)}. Check the account, network access and the user's key."
        ) from None


@contextmanager
def connect(settings: SnowflakeSettings, credentials: Credentials) -> Iterator[SnowflakeConnection]:
    """:func:`open_connection`, closed when the block ends (one logout attempt: a lost Snowflake is not retried)."""
    connection = open_connection(settings, credentials)
    try:
        yield connection
    finally:
        connection.close(retry=False)


def read_ratings(connection: SnowflakeConnection, table: TableName) -> Ratings:
    """All ``USERID, MOVIEID, RATING`` rows of ``table``, fetched as Arrow."""
    columns = _table_columns(connection, table, what="Input table")
    if columns is None:
        raise SnowflakeError(
            f"Input table {table} does not exist or the role cannot see it: check the name and grants."
        )
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise SnowflakeError(f"Input table {table} has no column {missing[0]}: it needs USERID, MOVIEID and RATING.")
    with connection.cursor() as cursor:
        _execute(cursor, f"SELECT {', '.join(COLUMNS)} FROM IDENTIFIER(%s)", (table.sql,), what=f"reading {table}")
        frame = cursor.fetch_pandas_all()
    return Ratings.from_frame(frame, source=table.sql)


def _table_columns(connection: SnowflakeConnection, table: TableName, *, what: str) -> list[str] | None:
    try:
        return table_columns(connection, table)
    except ProgrammingError as exc:
        raise SnowflakeError(f"{what} {table} cannot be read: {reason(exc)}.") from None


def check_output_table(connection: SnowflakeConnection, table: TableName) -> None:
    """Fail early if an existing output table lacks the columns we write."""
    columns = _table_columns(connection, table, what="Output table")
    if columns is not None:
        for required in ("USERID", RECOMMENDATIONS_COLUMN):
            if required not in columns:
                raise SnowflakeError(
                    f"Output table {table} exists without column {required}: drop it or name "
                    f"a new table (it needs USERID and {RECOMMENDATIONS_COLUMN})."
                )


class RecommendationsFile:
    """CSV rows ``USERID, "[movie ids]", "[predicted ratings]"`` written for a bulk load."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)

    def add(self, user_ids: np.ndarray, movie_ids: np.ndarray, predicted: np.ndarray, listed: np.ndarray) -> None:
        """Append users' ranked movie ids and predicted ratings; ``listed`` marks the real entries of each row.

        Ids may be any integer (no value is a sentinel): padding is told apart by ``listed`` alone.
        """
        valid = listed
        rounded = np.round(predicted, 4)
        self._writer.writerows(
            (
                int(user),
                json.dumps(movies[ok].tolist(), separators=(",", ":")),
                json.dumps(scores[ok].tolist(), separators=(",", ":")),
            )
            for user, movies, scores, ok in zip(user_ids, movie_ids, rounded, valid, strict=True)
        )
        self.rows += len(user_ids)

    def close(self) -> None:
        self._handle.close()


def replace_recommendations(
    connection: SnowflakeConnection,
    table: TableName,
    data: RecommendationsFile,
    *,
    model_version: str,
    write_timeout: WriteTimeout | None = None,
) -> int:
    """Load ``data`` and make it the whole content of ``table`` atomically; returns row count.

    Creates ``table`` if missing. Columns the existing table lacks (besides the required
    two) are simply not written. The COPY, DELETE and INSERT may each run for
    ``write_timeout.for_rows(data.rows)`` seconds (the connection's timeout without one).
    """
    generated_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    load = TableLoad(
        table=table,
        csv=data.path,
        rows=data.rows,
        staging=(("USERID", "NUMBER"), ("RECOMMENDATIONS", "VARCHAR"), ("PREDICTED_RATINGS", "VARCHAR")),
        columns=(
            Column("USERID", "NUMBER", "USERID"),
            Column(RECOMMENDATIONS_COLUMN, "VARIANT", "PARSE_JSON(RECOMMENDATIONS)"),
            Column("PREDICTED_RATINGS", "VARIANT", "PARSE_JSON(PREDICTED_RATINGS)", optional=True),
            Column("MODEL_VERSION", "VARCHAR", "%s", (model_version,), optional=True),
            Column("GENERATED_AT", "TIMESTAMP_NTZ", "%s::TIMESTAMP_NTZ", (generated_at,), optional=True),
        ),
    )
    try:
        return replace_tables(connection, [load], write_timeout=write_timeout)[table.sql]
    except BulkLoadError as exc:
        raise SnowflakeError(str(exc)) from None


def _execute(cursor: Any, sql: str, params: tuple[Any, ...] | None = None, *, what: str) -> None:
    try:
        cursor.execute(sql, params)
    except Error as exc:
        raise SnowflakeError(f"Snowflake failed while {what}: {reason(exc)}.") from None

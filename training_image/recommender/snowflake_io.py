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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import snowflake.connector
from snowflake.connector import SnowflakeConnection
from snowflake.connector.errors import DatabaseError, Error, InterfaceError, OperationalError, ProgrammingError

from recommender.config import SnowflakeSettings
from recommender.credentials import Credentials
from recommender.identifiers import TableName
from recommender.ratings import COLUMNS, Ratings

APPLICATION = "movielens-recommender"
RECOMMENDATIONS_COLUMN = "TOP_10_RECOMMENDATIONS"
# Created when the output table does not exist; only USERID and the recommendations column
# are required in an existing table (the seed's two-column table keeps working).
OUTPUT_COLUMNS = {
    "USERID": "NUMBER",
    RECOMMENDATIONS_COLUMN: "VARIANT",
    "PREDICTED_RATINGS": "VARIANT",
    "MODEL_VERSION": "VARCHAR",
    "GENERATED_AT": "TIMESTAMP_NTZ",
}
_TABLE_MISSING = (2003,)


class SnowflakeError(RuntimeError):
    """Snowflake was unreachable, refused us, or a table is not usable."""


def open_connection(
    settings: SnowflakeSettings,
    credentials: Credentials,
    *,
    application: str = APPLICATION,
    login_timeout: int = 60,
    network_timeout: int = 600,
) -> SnowflakeConnection:
    """A new connection; any failure becomes one clear :class:`SnowflakeError` (never a credential)."""
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
            login_timeout=login_timeout,
            network_timeout=network_timeout,
            **{k: v for k, v in optional.items() if v is not None},
            **credentials.connect_args,
        )
    except (DatabaseError, InterfaceError, OperationalError, OSError) as exc:
        where = f"{settings.host}:{settings.port}" if settings.host else f"account {settings.account}"
        raise SnowflakeError(
            f"Cannot connect to Snowflake ({where}) as {settings.user} with {credentials.kind} credentials: "
            f"{first_line(exc)}. Check the account, network access and the user's key."
        ) from None


@contextmanager
def connect(settings: SnowflakeSettings, credentials: Credentials) -> Iterator[SnowflakeConnection]:
    """:func:`open_connection`, closed when the block ends."""
    connection = open_connection(settings, credentials)
    try:
        yield connection
    finally:
        connection.close()


def read_ratings(connection: SnowflakeConnection, table: TableName) -> Ratings:
    """All ``USERID, MOVIEID, RATING`` rows of ``table``, fetched as Arrow."""
    columns = table_columns(connection, table, what="Input table")
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


def table_columns(connection: SnowflakeConnection, table: TableName, *, what: str) -> list[str] | None:
    """Upper-cased column names of ``table``, or None if it does not exist."""
    with connection.cursor() as cursor:
        try:
            cursor.execute("SELECT * FROM IDENTIFIER(%s) LIMIT 0", (table.sql,))
        except ProgrammingError as exc:
            if exc.errno in _TABLE_MISSING:
                return None
            raise SnowflakeError(f"{what} {table} cannot be read: {first_line(exc)}.") from None
        return [d.name.upper() for d in cursor.description]


def check_output_table(connection: SnowflakeConnection, table: TableName) -> None:
    """Fail early if an existing output table lacks the columns we write."""
    columns = table_columns(connection, table, what="Output table")
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

    def add(self, user_ids: np.ndarray, movie_ids: np.ndarray, predicted: np.ndarray) -> None:
        """Append users' ranked movie ids (padded with -1) and their predicted ratings."""
        valid = movie_ids >= 0
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
) -> int:
    """Load ``data`` and make it the whole content of ``table`` atomically; returns row count.

    Creates ``table`` if missing. Columns the existing table lacks (besides the required
    two) are simply not written.
    """
    token = uuid.uuid4().hex[:12].upper()
    # Temporary objects are created unqualified, in the output table's schema.
    stage = TableName.parse(f"RECOMMENDER_LOAD_STAGE_{token}")
    staging = TableName.parse(f"RECOMMENDER_LOAD_{token}")
    generated_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    with connection.cursor() as cursor:
        create = ", ".join(f"{name} {kind}" for name, kind in OUTPUT_COLUMNS.items())
        _execute(
            cursor, f"CREATE TABLE IF NOT EXISTS IDENTIFIER(%s) ({create})", (table.sql,), what=f"creating {table}"
        )
        columns = table_columns(connection, table, what="Output table") or []
        if table.namespace:
            _execute(cursor, f"USE SCHEMA {table.namespace}", what=f"using the schema of {table}")
        _execute(cursor, f"CREATE TEMPORARY STAGE {stage.sql}", what="creating a temporary stage")
        _execute(
            cursor,
            f"PUT 'file://{data.path.as_posix()}' @{stage.sql} AUTO_COMPRESS=TRUE OVERWRITE=TRUE",
            what="uploading recommendations",
        )
        _execute(
            cursor,
            f"CREATE TEMPORARY TABLE {staging.sql} (USERID NUMBER, RECOMMENDATIONS VARCHAR, PREDICTED_RATINGS VARCHAR)",
            what="creating a staging table",
        )
        _execute(
            cursor,
            f"COPY INTO {staging.sql} FROM @{stage.sql} "
            "FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '\"') ON_ERROR = ABORT_STATEMENT",
            what="loading recommendations",
        )
        _execute(cursor, f"SELECT COUNT(*) FROM {staging.sql}", what="counting loaded rows")
        loaded = int(cursor.fetchone()[0])
        if loaded != data.rows:
            raise SnowflakeError(
                f"Loaded {loaded} of {data.rows} recommendation rows into staging; {table} was left unchanged."
            )

        sources: dict[str, tuple[str, tuple[Any, ...]]] = {
            "USERID": ("USERID", ()),
            RECOMMENDATIONS_COLUMN: ("PARSE_JSON(RECOMMENDATIONS)", ()),
            "PREDICTED_RATINGS": ("PARSE_JSON(PREDICTED_RATINGS)", ()),
            "MODEL_VERSION": ("%s", (model_version,)),
            "GENERATED_AT": ("%s::TIMESTAMP_NTZ", (generated_at,)),
        }
        chosen = [c for c in sources if c in columns]
        params: tuple[Any, ...] = (table.sql, *[p for c in chosen for p in sources[c][1]])
        insert = (
            f"INSERT INTO IDENTIFIER(%s) ({', '.join(chosen)}) "
            f"SELECT {', '.join(sources[c][0] for c in chosen)} FROM {staging.sql}"
        )
        _execute(cursor, "BEGIN", what="starting the swap")
        try:
            _execute(cursor, "DELETE FROM IDENTIFIER(%s)", (table.sql,), what=f"clearing {table}")
            _execute(cursor, insert, params, what=f"writing {table}")
            _execute(cursor, "COMMIT", what="committing the swap")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    return loaded


def _execute(cursor: Any, sql: str, params: tuple[Any, ...] | None = None, *, what: str) -> None:
    try:
        cursor.execute(sql, params)
    except Error as exc:
        raise SnowflakeError(f"Snowflake failed while {what}: {first_line(exc)}.") from None


def first_line(exc: BaseException) -> str:
    """The first line of a connector error, without the connector's error-code prefix noise."""
    text = (getattr(exc, "raw_msg", None) or str(exc)).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")[:300]

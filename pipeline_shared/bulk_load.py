"""Replace whole Snowflake tables from CSV files: stage, PUT, COPY, then swap in one transaction.

The one way this project writes bulk data (MovieLens loading, the training job's write-back,
the benchmarks). Every file is PUT to a temporary stage and COPYed into a temporary staging
table whose row count is checked; only then does one transaction delete each table's rows and
insert the staged ones. Any failure leaves every table as it was. Temporary objects are created
unqualified in the tables' schema (the session's current schema afterwards) and go with the
session. Statements are built only from validated :class:`TableName` values and the column
descriptions below (our own constants); values travel as bound parameters.

Time limits. The connector cancels a statement that runs longer than its ``timeout`` argument, or the
connection's ``network_timeout`` without one ("timeout: Number of seconds after which to abort the
query", https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-api). In
snowflake-connector-python 4.8 (``cursor.py``, ``network.py``) that one number bounds three things: the
cancel timer armed when the statement is sent, the retry window of each HTTP request for it (the
query request, then each poll for a result that is still running), and so how long a Snowflake that
stopped answering goes unnoticed while it runs. The work of a COPY, DELETE or INSERT grows with its
rows, so :class:`WriteTimeout` gives those three statements a limit that grows with the load; every
other statement keeps the connection's. Snowflake's own ``STATEMENT_TIMEOUT_IN_SECONDS`` (172,800 s
unless an administrator lowered it for the account, user or warehouse;
https://docs.snowflake.com/en/sql-reference/parameters) stays far above these limits.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snowflake.connector import SnowflakeConnection
from snowflake.connector.errors import (
    BadGatewayError,
    ForbiddenError,
    GatewayTimeoutError,
    HttpError,
    InternalServerError,
    OperationalError,
    OtherHTTPRetryableError,
    ProgrammingError,
    RequestExceedMaxRetryError,
    RequestTimeoutError,
    ServiceUnavailableError,
)
from snowflake.connector.errors import Error as ConnectorError

from pipeline_shared import first_line
from pipeline_shared.identifiers import TableName

TABLE_MISSING = 2003  # Snowflake: "... does not exist or not authorized"
LOCKED = 625  # Snowflake: "Statement ... has locked table ...": the wait for a lock timed out or queued too long
CANCELLED = 604  # Snowflake: "SQL execution canceled" (the connector cancels a statement at its timeout)
WRITE_ROWS_PER_S = 1_000  # a write's allowance: one second per this many rows (see WriteTimeout)

log = logging.getLogger(__name__)


class BulkLoadError(RuntimeError):
    """Snowflake refused a step, or staged the wrong number of rows; no table was changed."""


@dataclass(frozen=True)
class Column:
    """A target column: its type (for a new table) and the expression over staging columns that fills it."""

    name: str
    type: str
    select: str
    params: tuple[Any, ...] = ()
    optional: bool = False  # written only when an existing table has it


@dataclass(frozen=True)
class WriteTimeout:
    """Seconds a load's COPY into staging, its DELETE and its INSERT may each run before the connector cancels it.

    ``base_s`` plus one second per ``rows_per_s`` rows of the load -- the base covers a warehouse
    resuming, queueing and (for the DELETE) the wait for a lock; the allowance is deliberately slow:
    the stand-in writes these rows hundreds of times faster (``bench/write_back.py`` prints the
    headroom), and a cancelled write loses the whole training job -- or ``fixed_s`` for every load
    when set. A Snowflake that stops answering during one of these statements is also only noticed
    after its limit (see the module docstring).
    """

    base_s: int
    fixed_s: int | None = None
    rows_per_s: int = WRITE_ROWS_PER_S

    def for_rows(self, rows: int) -> int:
        if self.fixed_s is not None:
            return self.fixed_s
        return self.base_s + math.ceil(max(rows, 0) / self.rows_per_s)

    @property
    def shortest(self) -> int:
        """The least any load gets (an empty one): what a wait inside one of these statements must stay below."""
        return self.for_rows(0)


@dataclass(frozen=True)
class TableLoad:
    """One table's new content: a CSV file of ``rows`` rows in the ``staging`` column layout."""

    table: TableName
    csv: Path
    rows: int
    staging: tuple[tuple[str, str], ...]  # (name, type) in file order
    columns: tuple[Column, ...]
    header: bool = False  # the file starts with a header line


def replace_tables(
    connection: SnowflakeConnection,
    loads: Sequence[TableLoad],
    *,
    progress: Callable[[str], None] | None = None,
    write_timeout: WriteTimeout | None = None,
) -> dict[str, int]:
    """Make each load's file the whole content of its table (created if missing); returns rows per table.

    All tables must share one schema. Each load's COPY, DELETE and INSERT may run for
    ``write_timeout.for_rows(load.rows)`` seconds (the connection's ``network_timeout`` without one);
    their times are logged. Raises :class:`BulkLoadError` with one sentence that says which step
    failed; every table is then unchanged.
    """
    namespaces = {load.table.namespace for load in loads}
    if len(namespaces) != 1:
        raise ValueError("replace_tables loads tables of one schema at a time")
    namespace = namespaces.pop()
    unchanged = f"{loads[0].table} was left unchanged" if len(loads) == 1 else "the tables were left unchanged"
    token = uuid.uuid4().hex[:12].upper()
    stage = f"BULK_LOAD_STAGE_{token}"
    staging = {load.table: f"{load.table.table}_LOAD_{token}" for load in loads}

    lost = False  # once Snowflake stopped answering, nothing more is sent: each call would wait as long again

    with connection.cursor() as cursor:

        def run(sql: str, what: str, params: Sequence[Any] | None = None, *, rows: int | None = None) -> None:
            """Execute one statement; ``rows``: it is a write of that many rows, under the write limit."""
            nonlocal lost
            limit = write_timeout.for_rows(rows) if write_timeout is not None and rows is not None else None
            started = time.perf_counter()
            try:
                cursor.execute(sql, params, timeout=limit)
            except ConnectorError as exc:
                lost = is_lost(exc)
                raise BulkLoadError(f"Snowflake failed while {what}: {reason(exc)}; {unchanged}.") from None
            if rows is not None:  # how close a write came to its limit, for operators (and bench/write_back.py)
                seconds, limit = time.perf_counter() - started, limit or connection.network_timeout
                write = {"what": what, "seconds": seconds, "limit": limit, "rows": rows}
                log.info("%s: %.2f s of its %s s limit (%s rows)", what, seconds, limit, rows, extra={"write": write})

        for load in loads:
            create = ", ".join(f"{c.name} {c.type}" for c in load.columns)
            run(f"CREATE TABLE IF NOT EXISTS {load.table.sql} ({create})", f"creating {load.table}")
        present = {load.table: _present_columns(connection, load.table, unchanged) for load in loads}
        if namespace:
            run(f"USE SCHEMA {namespace}", f"using schema {namespace}")
        run(f"CREATE TEMPORARY STAGE {stage}", "creating a temporary stage")
        try:
            for index, load in enumerate(loads):
                started = time.perf_counter()
                _stage(run, cursor, load, stage, f"part{index}", staging[load.table], unchanged)
                if progress:
                    progress(f"staged {load.csv.name}: {load.rows:,} rows ({time.perf_counter() - started:.1f} s)")
            run("BEGIN", "starting the swap")
            try:
                for load in loads:
                    chosen = [c for c in load.columns if not c.optional or c.name in present[load.table]]
                    # allowed for the new rows: the old ones, about as many, are not counted
                    run(f"DELETE FROM {load.table.sql}", f"clearing {load.table}", rows=load.rows)
                    run(
                        f"INSERT INTO {load.table.sql} ({', '.join(c.name for c in chosen)}) "
                        f"SELECT {', '.join(c.select for c in chosen)} FROM {staging[load.table]}",
                        f"writing {load.table}",
                        [p for c in chosen for p in c.params],
                        rows=load.rows,
                    )
                run("COMMIT", "committing the swap")
            except BaseException:
                if not lost:  # a lost session rolls back by itself
                    with suppress(ConnectorError):
                        cursor.execute("ROLLBACK")
                raise
        finally:
            if not lost:  # temporary anyway: they go with the session
                with suppress(ConnectorError):
                    for name in staging.values():
                        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return {load.table.sql: load.rows for load in loads}


def _stage(
    run: Callable[..., None], cursor: Any, load: TableLoad, stage: str, folder: str, staging: str, unchanged: str
) -> None:
    """PUT ``load.csv`` and COPY it into a new temporary ``staging`` table; checks the row count."""
    name = load.csv.name
    columns = ", ".join(f"{column} {kind}" for column, kind in load.staging)
    run(f"CREATE TEMPORARY TABLE {staging} ({columns})", f"creating a staging table for {name}")
    run(f"PUT 'file://{load.csv.as_posix()}' @{stage}/{folder} AUTO_COMPRESS=TRUE OVERWRITE=TRUE", f"uploading {name}")
    file_format = f"TYPE = CSV{' SKIP_HEADER = 1' if load.header else ''} FIELD_OPTIONALLY_ENCLOSED_BY = '\"'"
    run(
        f"COPY INTO {staging} FROM @{stage}/{folder}/ FILE_FORMAT = ({file_format}) ON_ERROR = ABORT_STATEMENT",
        f"copying {name} into staging",
        rows=load.rows,
    )
    run(f"SELECT COUNT(*) FROM {staging}", f"counting the staged rows of {name}")
    staged = int(cursor.fetchone()[0])
    if staged != load.rows:
        raise BulkLoadError(f"Staged {staged:,} of {load.rows:,} rows of {name}; {unchanged}.")


def _present_columns(connection: SnowflakeConnection, table: TableName, unchanged: str) -> set[str]:
    try:
        return set(table_columns(connection, table) or ())
    except ConnectorError as exc:
        raise BulkLoadError(
            f"Snowflake failed while reading the columns of {table}: {reason(exc)}; {unchanged}."
        ) from None


def table_columns(connection: SnowflakeConnection, table: TableName) -> list[str] | None:
    """Upper-cased column names of ``table``, or None if it does not exist (or the role cannot see it).

    Other refusals raise the connector's ``ProgrammingError``.
    """
    with connection.cursor() as cursor:
        try:
            cursor.execute("SELECT * FROM IDENTIFIER(%s) LIMIT 0", (table.sql,))
        except ProgrammingError as exc:
            if exc.errno == TABLE_MISSING:
                return None
            raise
        return [d.name.upper() for d in cursor.description]


LOST = "Snowflake stopped answering (network, timeout or a lost session)"
TRANSPORT_ERRORS = (  # the connector's classes for HTTP answers instead of a Snowflake one (e.g. 401 post <url>)
    HttpError,
    InternalServerError,
    ServiceUnavailableError,
    GatewayTimeoutError,
    BadGatewayError,
    ForbiddenError,
    RequestTimeoutError,
    OtherHTTPRetryableError,
    RequestExceedMaxRetryError,
)


def is_lost(exc: BaseException) -> bool:
    """Snowflake did not answer (network, timeout, a lost session), as opposed to refusing something."""
    unreachable = isinstance(exc, OperationalError) and not isinstance(exc, ProgrammingError)
    return unreachable or isinstance(exc, TRANSPORT_ERRORS)


def reason(exc: BaseException) -> str:
    """Why a connector call failed, for a one-sentence message: Snowflake's own words for what it refused,
    and a plain phrase -- never the connector's retry and URL text -- when it could not be reached."""
    if is_lost(exc):
        return LOST
    if isinstance(exc, ProgrammingError) and exc.errno == CANCELLED:
        return "the statement was cancelled: it ran longer than the client's timeout (or someone cancelled it)"
    if isinstance(exc, ProgrammingError) and exc.errno == LOCKED:
        return (
            "another transaction kept the table locked too long (another job writing it, or a session with an "
            "open transaction; see SHOW LOCKS)"
        )
    return first_line(exc)

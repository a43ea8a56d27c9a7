"""Load MovieLens ``movies.csv`` and ``ratings.csv`` into Snowflake's MOVIES and RATINGS tables.

Both files are read and checked completely before Snowflake is touched. The validated rows go
through PUT to a temporary stage and COPY into temporary staging tables; then one transaction
deletes the old rows and inserts the new ones (epoch seconds become TIMESTAMP_NTZ). Re-running
replaces instead of duplicating, and a failure at any step leaves the previous contents.

    python -m snowflake_sql.load --source ml-latest-small.zip --env dev
    python -m snowflake_sql.load --source https://files.grouplens.org/datasets/movielens/ml-latest-small.zip \\
        --account fakesnow --user me --host localhost --port 8000 --protocol http   # SNOWFLAKE_PASSWORD set

Exit status: 0 loaded, 2 the source or the arguments are wrong (nothing loaded), 1 Snowflake
could not be reached or refused a step (nothing changed).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # make the image's and the Lambdas' packages importable, as app.py does
    sys.path[:0] = [str(ROOT / "training_image"), str(ROOT / "lambda_src")]

import argparse  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from contextlib import contextmanager, suppress  # noqa: E402
from typing import Any, NamedTuple  # noqa: E402

import pandas as pd  # noqa: E402
from snowflake.connector import SnowflakeConnection  # noqa: E402
from snowflake.connector.errors import Error as ConnectorError  # noqa: E402

from recommender.identifiers import InvalidIdentifierError, TableName, plain_identifier  # noqa: E402
from recommender.snowflake_io import first_line  # noqa: E402
from snowflake_sql.connection import (  # noqa: E402
    ConnectionSetupError,
    add_connection_arguments,
    connect,
    connection_settings,
)
from snowflake_sql.movielens import (  # noqa: E402
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    DatasetError,
    MovieLens,
    read_movielens,
    validated_movielens,
)
from snowflake_sql.templates import load_environment  # noqa: E402
from stacks.config import ConfigError  # noqa: E402

# The columns of 02_tables.sql (a unit test keeps the two in step).
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "MOVIES": (("MOVIEID", "NUMBER"), ("TITLE", "VARCHAR"), ("GENRES", "VARCHAR")),
    "RATINGS": (("USERID", "NUMBER"), ("MOVIEID", "NUMBER"), ("RATING", "FLOAT"), ("TIMESTAMP", "TIMESTAMP_NTZ")),
}


class _Staging(NamedTuple):
    """How one CSV file is staged, and how its staging rows become the table's."""

    file_name: str
    columns: tuple[str, ...]  # the frame's columns, in file order
    staging_columns: str
    select: str


_STAGING = {
    "MOVIES": _Staging(
        "movies.csv", MOVIE_COLUMNS, "MOVIEID NUMBER, TITLE VARCHAR, GENRES VARCHAR", "MOVIEID, TITLE, GENRES"
    ),
    "RATINGS": _Staging(
        "ratings.csv",
        RATING_COLUMNS,
        "USERID NUMBER, MOVIEID NUMBER, RATING FLOAT, EPOCH_SECONDS NUMBER",
        "USERID, MOVIEID, RATING, TO_TIMESTAMP_NTZ(EPOCH_SECONDS)",
    ),
}
_CSV = "FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"') ON_ERROR = ABORT_STATEMENT"
DOWNLOAD_TIMEOUT_S = 60


class LoadError(RuntimeError):
    """Snowflake refused a step of the load; the tables were left as they were."""


def load_movielens(
    connection: SnowflakeConnection,
    data: MovieLens,
    *,
    database: str,
    schema: str,
    progress: Callable[[str], None] = print,
) -> dict[str, int]:
    """Make ``data`` the whole content of ``database.schema`` MOVIES and RATINGS; returns row counts.

    Creates the tables if missing. Raises :class:`DatasetError` for invalid data (before any
    statement runs), ``InvalidIdentifierError`` for an unsafe database or schema name, and
    :class:`LoadError` when Snowflake refuses a step -- in every case the tables are unchanged.
    Temporary stage and tables are created unqualified in the target schema, which becomes the
    session's current schema.
    """
    data = validated_movielens(data)
    namespace = _namespace(database, schema)
    frames = {"MOVIES": data.movies, "RATINGS": data.ratings}
    token = uuid.uuid4().hex[:12].upper()
    stage = f"MOVIELENS_LOAD_STAGE_{token}"
    staging = {table: f"{table}_LOAD_{token}" for table in frames}
    with tempfile.TemporaryDirectory(prefix="movielens-load-") as scratch, connection.cursor() as cursor:
        run = _runner(cursor)
        run(f"USE SCHEMA {namespace}", f"using schema {namespace} (create it with 01_database.sql)")
        for table, columns in TABLE_COLUMNS.items():
            create = ", ".join(f"{name} {kind}" for name, kind in columns)
            run(f"CREATE TABLE IF NOT EXISTS {namespace}.{table} ({create})", f"creating {namespace}.{table}")
        run(f"CREATE TEMPORARY STAGE {stage}", "creating a temporary stage")
        try:
            for table, frame in frames.items():
                with _timed() as seconds:
                    _stage(run, cursor, frame, table, Path(scratch), stage, staging[table])
                progress(f"staged {_STAGING[table].file_name}: {len(frame):,} rows ({seconds():.1f} s)")
            with _timed() as seconds:
                _replace(run, cursor, namespace, staging)
            progress(
                f"replaced {namespace}.MOVIES ({len(data.movies):,} rows) and {namespace}.RATINGS "
                f"({len(data.ratings):,} rows) in one transaction ({seconds():.1f} s)"
            )
        finally:
            with suppress(ConnectorError):  # temporary anyway: they go with the session
                for name in staging.values():
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return {"movies": len(data.movies), "ratings": len(data.ratings)}


def _stage(
    run: Callable[..., None], cursor: Any, frame: pd.DataFrame, table: str, scratch: Path, stage: str, staging: str
) -> None:
    """PUT ``frame`` as CSV and COPY it into a new temporary ``staging`` table; checks the row count."""
    how = _STAGING[table]
    file_name, path, folder = how.file_name, scratch / how.file_name, how.file_name.removesuffix(".csv")
    frame[list(how.columns)].to_csv(path, index=False)
    run(f"CREATE TEMPORARY TABLE {staging} ({how.staging_columns})", f"creating a staging table for {file_name}")
    run(f"PUT 'file://{path.as_posix()}' @{stage}/{folder} AUTO_COMPRESS=TRUE OVERWRITE=TRUE", f"uploading {file_name}")
    run(f"COPY INTO {staging} FROM @{stage}/{folder}/ {_CSV}", f"copying {file_name} into staging")
    run(f"SELECT COUNT(*) FROM {staging}", f"counting the staged rows of {file_name}")
    staged = int(cursor.fetchone()[0])
    if staged != len(frame):
        raise LoadError(f"Staged {staged:,} of {len(frame):,} rows of {file_name}; the tables were left unchanged.")


def _replace(run: Callable[..., None], cursor: Any, namespace: TableName, staging: dict[str, str]) -> None:
    """Swap every table's rows for its staging table's in one transaction."""
    run("BEGIN", "starting the transaction")
    try:
        for table, how in _STAGING.items():
            names = ", ".join(name for name, _ in TABLE_COLUMNS[table])
            run(f"DELETE FROM {namespace}.{table}", f"clearing {namespace}.{table}")
            run(
                f"INSERT INTO {namespace}.{table} ({names}) SELECT {how.select} FROM {staging[table]}",
                f"writing {namespace}.{table}",
            )
        run("COMMIT", "committing the transaction")
    except BaseException:
        with suppress(ConnectorError):  # a lost session rolls back by itself
            cursor.execute("ROLLBACK")
        raise


def _runner(cursor: Any) -> Callable[[str, str], None]:
    def run(sql: str, what: str) -> None:
        try:
            cursor.execute(sql)
        except ConnectorError as exc:
            raise LoadError(
                f"Snowflake failed while {what}: {first_line(exc)}; the tables were left unchanged."
            ) from None

    return run


def _namespace(database: str, schema: str) -> TableName:
    names = []
    for value, what, example in ((database, "database", "MOVIELENS"), (schema, "schema", "PUBLIC")):
        name = plain_identifier(value)
        if name is None:
            raise InvalidIdentifierError(
                f"The {what} name must be one plain Snowflake identifier (letters, digits, '_' or '$'), e.g. {example}."
            )
        names.append(name)
    return TableName.parse(".".join(names))


@contextmanager
def _timed() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def download(url: str, folder: Path, progress: Callable[[str], None] = print) -> Path:
    """Fetch ``url`` (http or https) into ``folder``; raises :class:`DatasetError` when it cannot."""
    if not url.lower().startswith(("https://", "http://")):
        raise DatasetError(f"{url} is not an http(s) URL: give a MovieLens zip's download address.")
    target = folder / "movielens.zip"
    with _timed() as seconds:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, target.open("wb") as sink:  # noqa: S310 -- scheme checked above
                shutil.copyfileobj(response, sink, length=1 << 20)
        except urllib.error.HTTPError as exc:
            raise DatasetError(f"Cannot download {url} (HTTP {exc.code}): check the address.") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise DatasetError(f"Cannot download {url} ({reason}): check the address and your network.") from None
    progress(f"downloaded {url}: {target.stat().st_size / 1e6:.1f} MB ({seconds():.1f} s)")
    return target


def read_source(source: str, folder: Path, progress: Callable[[str], None] = print) -> MovieLens:
    """Validated MovieLens from a zip, an unpacked folder or a URL (downloaded into ``folder``)."""
    if "://" in source:
        path = download(source, folder, progress)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DatasetError(f"{source} does not exist: give ml-latest-small.zip, its unpacked folder or a URL.")
    with _timed() as seconds:
        data = validated_movielens(read_movielens(path))
    progress(f"read {source}: {len(data.movies):,} movies, {len(data.ratings):,} ratings ({seconds():.1f} s)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m snowflake_sql.load",
        description="Load MovieLens movies.csv and ratings.csv into Snowflake's MOVIES and RATINGS tables, "
        "replacing their contents in one transaction.",
    )
    parser.add_argument(
        "--source", required=True, help="ml-latest-small.zip, its unpacked folder, or an https:// URL of the zip"
    )
    parser.add_argument("--env", help="environment in cdk.json whose Snowflake settings and secret to use")
    parser.add_argument("--cdk-json", type=Path, default=ROOT / "cdk.json", help="cdk.json to read with --env")
    parser.add_argument("--database", help="target database (default: the environment's, else MOVIELENS)")
    parser.add_argument("--schema", help="target schema (default: the environment's, else PUBLIC)")
    add_connection_arguments(parser)
    args = parser.parse_args(argv)

    def fail(message: str, status: int) -> int:
        print(message, file=sys.stderr)
        return status

    with _timed() as total, tempfile.TemporaryDirectory(prefix="movielens-download-") as folder:
        try:
            environment = load_environment(args.env, args.cdk_json).snowflake if args.env else None
            database = args.database or (environment.database if environment else "MOVIELENS")
            schema = args.schema or (environment.schema if environment else "PUBLIC")
            namespace = _namespace(database, schema)
            settings = connection_settings(args, environment, database=database, schema=schema)
            data = read_source(args.source, Path(folder))
        except (ConfigError, DatasetError, InvalidIdentifierError, ConnectionSetupError) as exc:
            return fail(str(exc), 2)
        try:
            with _timed() as seconds:
                connection = connect(settings)
            print(f"connected to {settings.where} as {settings.user} ({seconds():.1f} s)")
            try:
                counts = load_movielens(connection, data, database=database, schema=schema)
            finally:
                connection.close()
        except (ConnectionSetupError, LoadError) as exc:
            return fail(str(exc), 1)
    print(f"loaded {counts['movies']:,} movies and {counts['ratings']:,} ratings into {namespace} ({total():.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

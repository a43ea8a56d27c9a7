"""Load MovieLens ``movies.csv`` and ``ratings.csv`` into Snowflake's MOVIES and RATINGS tables.

Both files are read and checked completely before Snowflake is touched. The validated rows go
through PUT to a temporary stage and COPY into temporary staging tables; then one transaction
deletes the old rows and inserts the new ones (epoch seconds become TIMESTAMP_NTZ). Re-running
replaces instead of duplicating, and a failure at any step leaves the previous contents.

    recommender-load --source ml-latest-small.zip --env dev
    recommender-load --source https://files.grouplens.org/datasets/movielens/ml-latest-small.zip \\
        --account fakesnow --user me --host localhost --port 8000 --protocol http   # SNOWFLAKE_PASSWORD set

Exit status: 0 loaded, 2 the source or the arguments are wrong (nothing loaded), 1 Snowflake
could not be reached or refused a step (nothing changed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from snowflake.connector import SnowflakeConnection

from pipeline_shared.bulk_load import BulkLoadError, Column, TableLoad, replace_tables
from pipeline_shared.identifiers import InvalidIdentifierError, TableName, plain_identifier
from snowflake_sql.connection import (
    ConnectionSetupError,
    add_connection_arguments,
    connect,
    connection_settings,
)
from snowflake_sql.movielens import (
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    DatasetError,
    MovieLens,
    read_movielens,
    validated_movielens,
)
from stacks.config import CDK_JSON, ConfigError, load_environment

# The columns of 02_tables.sql (a unit test keeps the two in step).
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "MOVIES": (("MOVIEID", "NUMBER"), ("TITLE", "VARCHAR"), ("GENRES", "VARCHAR")),
    "RATINGS": (("USERID", "NUMBER"), ("MOVIEID", "NUMBER"), ("RATING", "FLOAT"), ("TIMESTAMP", "TIMESTAMP_NTZ")),
}


# How each CSV file is staged (its columns, in file order) and how staging rows become the table's.
_STAGING: dict[str, tuple[str, tuple[tuple[str, str], ...], dict[str, str]]] = {
    "MOVIES": (
        "movies.csv",
        (("MOVIEID", "NUMBER"), ("TITLE", "VARCHAR"), ("GENRES", "VARCHAR")),
        {"MOVIEID": "MOVIEID", "TITLE": "TITLE", "GENRES": "GENRES"},
    ),
    "RATINGS": (
        "ratings.csv",
        (("USERID", "NUMBER"), ("MOVIEID", "NUMBER"), ("RATING", "FLOAT"), ("EPOCH_SECONDS", "NUMBER")),
        {"USERID": "USERID", "MOVIEID": "MOVIEID", "RATING": "RATING", "TIMESTAMP": "TO_TIMESTAMP_NTZ(EPOCH_SECONDS)"},
    ),
}
_FILE_COLUMNS = {"MOVIES": MOVIE_COLUMNS, "RATINGS": RATING_COLUMNS}
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
    with tempfile.TemporaryDirectory(prefix="movielens-load-") as scratch:
        loads = []
        for table, frame in frames.items():
            file_name, staging, select = _STAGING[table]
            path = Path(scratch) / file_name
            frame[list(_FILE_COLUMNS[table])].to_csv(path, index=False)
            columns = tuple(Column(name, kind, select[name]) for name, kind in TABLE_COLUMNS[table])
            target = TableName.parse(f"{namespace}.{table}")
            loads.append(TableLoad(target, path, len(frame), staging, columns, header=True))
        with _timed() as seconds:
            try:
                replace_tables(connection, loads, progress=progress)
            except BulkLoadError as exc:
                raise LoadError(str(exc)) from None
    progress(
        f"replaced {namespace}.MOVIES ({len(data.movies):,} rows) and {namespace}.RATINGS "
        f"({len(data.ratings):,} rows) in one transaction ({seconds():.1f} s)"
    )
    return {"movies": len(data.movies), "ratings": len(data.ratings)}


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
        prog="recommender-load",
        description="Load MovieLens movies.csv and ratings.csv into Snowflake's MOVIES and RATINGS tables, "
        "replacing their contents in one transaction.",
    )
    parser.add_argument(
        "--source", required=True, help="ml-latest-small.zip, its unpacked folder, or an https:// URL of the zip"
    )
    parser.add_argument("--env", help="environment in cdk.json whose Snowflake settings and secret to use")
    parser.add_argument("--cdk-json", type=Path, default=CDK_JSON, help="cdk.json to read with --env")
    parser.add_argument("--database", help="target database (default: the environment's, else MOVIELENS)")
    parser.add_argument("--schema", help="target schema (default: the environment's, else PUBLIC)")
    add_connection_arguments(parser)
    args = parser.parse_args(argv)

    def fail(message: str, status: int) -> int:
        print(" ".join(message.split()), file=sys.stderr)  # always one line, whatever a library put in it
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

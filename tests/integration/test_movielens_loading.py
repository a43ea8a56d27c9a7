"""The SQL files and ``python -m snowflake_sql.load`` against fakesnow, in a database of their own.

Everything here lives in LOADTEST so the MOVIELENS.PUBLIC tables other tests share stay as they are.
"""

import contextlib
import dataclasses
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local_mode.standins import fakesnow_connection, python_env
from snowflake_sql.load import LoadError, load_movielens
from snowflake_sql.movielens import MOVIE_COLUMNS, RATING_COLUMNS, MovieLens, read_movielens, synthetic_movielens
from snowflake_sql.templates import SQL_FILES, render_file, statements, template_values
from stacks.config import load_environment
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

DATABASE, SCHEMA = "LOADTEST", "PUBLIC"
TABLES = f"{DATABASE}.{SCHEMA}"
SHARED_ZIP = ROOT.parent / "shared" / "datasets" / "ml-latest-small.zip"


@pytest.fixture(scope="module")
def values():
    dev = load_environment("dev")
    config = dataclasses.replace(dev, snowflake=dataclasses.replace(dev.snowflake, database=DATABASE, schema=SCHEMA))
    return template_values(config)


@pytest.fixture(scope="module")
def connection(fakesnow):
    session = fakesnow_connection(fakesnow.port, host=fakesnow.host)
    yield session
    session.close()


def query(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def example(values, marker):
    """The one statement of 05_examples.sql containing every string in ``marker``."""
    found = [s for s in statements(render_file(SQL_FILES[4], values)) if all(m in s for m in marker)]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def applied(connection, values):
    """01-03 applied twice (they must be re-runnable), and the NO_RATINGS view of 05."""
    for _ in range(2):
        for path in SQL_FILES[:3]:
            for statement in statements(render_file(path, values)):
                query(connection, statement)
    query(connection, example(values, ["CREATE OR REPLACE VIEW", "NO_RATINGS"]))
    return values


@pytest.fixture(scope="module")
def source_zip(tmp_path_factory, movielens):
    """The official zip from ../shared, or one written from the session's MovieLens frames."""
    if SHARED_ZIP.is_file():
        return SHARED_ZIP
    path = tmp_path_factory.mktemp("zip") / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-latest-small/movies.csv", movielens.movies.to_csv(index=False))
        archive.writestr("ml-latest-small/ratings.csv", movielens.ratings.to_csv(index=False))
    return path


@pytest.fixture(scope="module")
def expected(source_zip):
    return read_movielens(source_zip)


def write_folder(folder: Path, data: MovieLens) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data.movies.to_csv(folder / "movies.csv", index=False)
    data.ratings.to_csv(folder / "ratings.csv", index=False)
    return folder


def load_cli(*args, **env):
    """``python -m snowflake_sql.load *args`` with only ``env`` of the SNOWFLAKE_/AWS_ variables."""
    return subprocess.run(
        [sys.executable, "-m", "snowflake_sql.load", *args],
        cwd=ROOT,
        env=python_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_load(fakesnow, source, *extra):
    """Load ``source`` into LOADTEST.PUBLIC on the fakesnow server, as a stand-in user with a password."""
    stand_in = ("--account", "fakesnow", "--user", "tester", "--host", fakesnow.host, "--port", str(fakesnow.port))
    target = ("--protocol", "http", "--database", DATABASE, "--schema", SCHEMA)
    return load_cli("--source", str(source), *stand_in, *target, *extra, SNOWFLAKE_PASSWORD="tester")


def table_state(connection):
    """Everything that would show a partial or repeated load."""
    return (
        query(connection, f"SELECT COUNT(*), COUNT(DISTINCT MOVIEID), MIN(TITLE), MAX(TITLE) FROM {TABLES}.MOVIES"),
        query(
            connection,
            f"SELECT COUNT(*), COUNT(DISTINCT USERID * 1000000 + MOVIEID), SUM(RATING), MIN(TIMESTAMP), "
            f"MAX(TIMESTAMP) FROM {TABLES}.RATINGS",
        ),
    )


def small(seed):
    return synthetic_movielens(n_users=12, n_movies=40, n_ratings=150, seed=seed)


def check_tables_hold(connection, data: MovieLens):
    (movies,) = query(connection, f"SELECT COUNT(*), COUNT(DISTINCT MOVIEID) FROM {TABLES}.MOVIES")
    assert movies == (len(data.movies), data.movies["movieId"].nunique())
    (ratings,) = query(
        connection,
        f"SELECT COUNT(*), COUNT(DISTINCT USERID * 1000000 + MOVIEID), SUM(RATING), MIN(TIMESTAMP), MAX(TIMESTAMP) "
        f"FROM {TABLES}.RATINGS",
    )
    epochs = data.ratings["timestamp"]
    assert ratings == (
        len(data.ratings),
        len(data.ratings[["userId", "movieId"]].drop_duplicates()),
        pytest.approx(float(data.ratings["rating"].sum())),
        datetime.fromtimestamp(int(epochs.min()), UTC).replace(tzinfo=None),
        datetime.fromtimestamp(int(epochs.max()), UTC).replace(tzinfo=None),
    )


def test_cli_loads_the_zip_with_progress_and_converted_timestamps(applied, connection, fakesnow, source_zip, expected):
    done = run_load(fakesnow, source_zip)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        f"read {source_zip}: {len(expected.movies):,} movies, {len(expected.ratings):,} ratings ("
    )
    assert f"staged movies.csv: {len(expected.movies):,} rows (" in done.stdout
    assert f"staged ratings.csv: {len(expected.ratings):,} rows (" in done.stdout
    assert "in one transaction (" in done.stdout
    assert all(line.endswith(" s)") for line in lines), lines
    check_tables_hold(connection, expected)

    # Titles with commas and doubled quotes survive the CSV round trip.
    tricky = expected.movies[expected.movies["title"].str.contains(r'[,"]')].head(20)
    assert len(tricky)
    ids = ", ".join(str(i) for i in tricky["movieId"])
    stored = dict(query(connection, f"SELECT MOVIEID, TITLE FROM {TABLES}.MOVIES WHERE MOVIEID IN ({ids})"))
    assert stored == dict(zip(tricky["movieId"], tricky["title"], strict=True))


def test_rerunning_the_cli_replaces_instead_of_duplicating(applied, connection, fakesnow, source_zip, expected):
    for _ in range(2):
        done = run_load(fakesnow, source_zip)
        assert done.returncode == 0, done.stderr
        check_tables_hold(connection, expected)


def test_cli_loads_an_unpacked_folder(applied, connection, fakesnow, tmp_path):
    data = small(seed=5)
    done = run_load(fakesnow, write_folder(tmp_path / "ml-small", data))
    assert done.returncode == 0, done.stderr
    check_tables_hold(connection, data)


def broken_zip(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    return path


def without_timestamp(folder: Path) -> Path:
    data = small(seed=8)
    write_folder(folder, data)
    data.ratings.drop(columns=["timestamp"]).to_csv(folder / "ratings.csv", index=False)
    return folder


def with_bad_rating(folder: Path) -> Path:
    data = small(seed=9)
    ratings = data.ratings.astype({"rating": object})
    ratings.loc[6, "rating"] = "five"
    write_folder(folder, MovieLens(data.movies, ratings))
    return folder


def with_swapped_files(folder: Path) -> Path:
    data = small(seed=10)
    write_folder(folder, MovieLens(data.movies, data.ratings))
    data.ratings.to_csv(folder / "movies.csv", index=False)
    return folder


def with_two_datasets(path: Path) -> Path:
    """A zip holding a full dataset and, beside it, a one-row ratings.csv: loading either is a guess."""
    data = small(seed=11)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-latest-small/movies.csv", data.movies.to_csv(index=False))
        archive.writestr("ml-latest-small/ratings.csv", data.ratings.to_csv(index=False))
        archive.writestr("old/ratings.csv", data.ratings.head(1).to_csv(index=False))
    return path


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda tmp: broken_zip(tmp / "movielens.zip"), "is neither a folder nor a readable zip"),
        (lambda tmp: with_two_datasets(tmp / "two.zip"), "holds 2 files named ratings.csv"),
        (lambda tmp: tmp / "missing.zip", "does not exist"),
        (lambda tmp: without_timestamp(tmp / "ml"), "ratings.csv has no column timestamp"),
        (lambda tmp: with_bad_rating(tmp / "ml"), "ratings.csv line 8: rating 'five' is not a number"),
        (lambda tmp: with_swapped_files(tmp / "ml"), "movies.csv has no column title"),
        (lambda tmp: "ftp://example.invalid/ml.zip", "is not an http(s) URL"),
        (lambda tmp: "http://127.0.0.1:9/ml-latest-small.zip", "Cannot download http://127.0.0.1:9/"),
    ],
    ids=[
        "bad-zip",
        "two-datasets",
        "missing",
        "missing-column",
        "bad-value",
        "wrong-file",
        "not-http",
        "unreachable-url",
    ],
)
def test_bad_sources_exit_2_with_one_sentence_and_load_nothing(
    applied, connection, fakesnow, tmp_path, make_source, message
):
    load_movielens(connection, small(seed=1), database=DATABASE, schema=SCHEMA, progress=lambda _: None)
    before = table_state(connection)
    done = run_load(fakesnow, make_source(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "staged" not in done.stdout and "connected" not in done.stdout
    assert table_state(connection) == before


def test_unreachable_snowflake_exits_1_with_one_sentence(tmp_path):
    source = write_folder(tmp_path / "ml", small(seed=2))
    stand_in = ("--account", "fakesnow", "--user", "tester", "--host", "127.0.0.1", "--port", "9", "--protocol", "http")
    done = load_cli("--source", str(source), *stand_in, "--login-timeout", "3", SNOWFLAKE_PASSWORD="do-not-print-me")
    assert done.returncode == 1
    assert done.stderr.startswith("Cannot connect to Snowflake (127.0.0.1:9) as tester with password credentials")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "do-not-print-me" not in done.stdout + done.stderr


def test_missing_credentials_are_named(tmp_path):
    source = write_folder(tmp_path / "ml", small(seed=2))
    done = load_cli("--source", str(source), "--account", "fakesnow", "--user", "tester")
    assert done.returncode != 0
    assert done.stderr.startswith("No Snowflake credentials")
    assert "SNOWFLAKE_PASSWORD" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def write_key(path: Path, passphrase: bytes | None) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return path


def test_cli_signs_in_with_an_encrypted_private_key_file(applied, connection, fakesnow, tmp_path):
    data = small(seed=11)
    key = write_key(tmp_path / "key.p8", b"open sesame")
    source = write_folder(tmp_path / "ml", data)
    stand_in = ("--account", "fakesnow", "--user", "tester", "--host", fakesnow.host, "--port", str(fakesnow.port))
    target = ("--protocol", "http", "--database", DATABASE, "--schema", SCHEMA, "--private-key-file", str(key))

    refused = load_cli("--source", str(source), *stand_in, *target)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"--private-key-file {key} cannot be used: give an RSA private key of at least 2048 bits in PEM, "
        "with its passphrase in SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if it is encrypted."
    )

    done = load_cli("--source", str(source), *stand_in, *target, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE="open sesame")
    assert done.returncode == 0, done.stderr
    assert "open sesame" not in done.stdout + done.stderr
    check_tables_hold(connection, data)


def test_cli_takes_settings_and_secret_from_the_cdk_environment(
    applied, connection, fakesnow, tmp_path, aws_client, aws_env
):
    """--env dev: the user and the Secrets Manager secret come from cdk.json; flags override the rest."""
    dev = load_environment("dev").snowflake
    secrets = aws_client("secretsmanager")
    with contextlib.suppress(secrets.exceptions.ResourceExistsException):
        secrets.create_secret(Name=dev.secret_name, SecretString=json.dumps({"password": "from-the-secret"}))
    data = small(seed=12)
    stand_in = ("--host", fakesnow.host, "--port", str(fakesnow.port), "--protocol", "http", "--region", "us-east-1")
    target = ("--database", DATABASE, "--schema", SCHEMA)
    done = load_cli("--source", str(write_folder(tmp_path / "ml", data)), "--env", "dev", *stand_in, *target, **aws_env)
    assert done.returncode == 0, done.stderr
    assert f"as {dev.user} (" in done.stdout
    assert "from-the-secret" not in done.stdout + done.stderr
    check_tables_hold(connection, data)


def test_cli_help():
    done = load_cli("--help")
    assert done.returncode == 0
    for flag in ("--source", "--env", "--host", "--port", "--protocol", "--database", "--schema", "--private-key-file"):
        assert flag in done.stdout


def test_a_failing_step_leaves_both_tables_as_they_were(applied, connection):
    """RATINGS refuses the insert after MOVIES was already replaced: the transaction undoes both."""
    query(connection, f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.BROKEN")
    query(
        connection, f"CREATE OR REPLACE TABLE {DATABASE}.BROKEN.MOVIES (MOVIEID NUMBER, TITLE VARCHAR, GENRES VARCHAR)"
    )
    query(connection, f"INSERT INTO {DATABASE}.BROKEN.MOVIES VALUES (1, 'Kept (1999)', 'Drama')")
    query(connection, f"CREATE OR REPLACE TABLE {DATABASE}.BROKEN.RATINGS (SOMETHING_ELSE NUMBER)")
    lines = []
    with pytest.raises(LoadError, match=f"while writing {DATABASE}.BROKEN.RATINGS.*left unchanged"):
        load_movielens(connection, small(seed=3), database=DATABASE, schema="BROKEN", progress=lines.append)
    assert query(connection, f"SELECT * FROM {DATABASE}.BROKEN.MOVIES") == [(1, "Kept (1999)", "Drama")]
    assert query(connection, f"SELECT COUNT(*) FROM {DATABASE}.BROKEN.RATINGS") == [(0,)]
    assert [line.split(":")[0] for line in lines] == ["staged movies.csv", "staged ratings.csv"]


def test_load_function_returns_counts_and_creates_missing_tables(connection):
    query(connection, f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.FRESH")
    data = small(seed=4)
    lines = []
    counts = load_movielens(connection, data, database=DATABASE, schema="FRESH", progress=lines.append)
    assert counts == {"movies": len(data.movies), "ratings": len(data.ratings)}
    assert len(lines) == 3
    described = query(connection, f"SELECT MOVIEID, TITLE, GENRES FROM {DATABASE}.FRESH.MOVIES ORDER BY MOVIEID")
    assert described == list(data.movies[list(MOVIE_COLUMNS)].sort_values("movieId").itertuples(index=False, name=None))
    assert query(connection, f"SELECT COUNT(*) FROM {DATABASE}.FRESH.RATINGS") == [(len(data.ratings),)]
    assert list(RATING_COLUMNS) == ["userId", "movieId", "rating", "timestamp"]


def test_no_ratings_view_samples_popular_unrated_movies(applied, connection):
    data = synthetic_movielens(n_users=30, n_movies=200, n_ratings=900, seed=6)
    load_movielens(connection, data, database=DATABASE, schema=SCHEMA, progress=lambda _: None)
    ratings = data.ratings
    counts = ratings.groupby("movieId").size().rename("n").reset_index()
    expected = set()
    for user in range(1, 6):
        seen = set(ratings.loc[ratings["userId"] == user, "movieId"])
        unrated = counts[~counts["movieId"].isin(seen)].sort_values(["n", "movieId"], ascending=[False, True])
        expected |= {(user, int(movie)) for movie in unrated["movieId"].head(20)}
    rows = query(connection, f"SELECT USERID, MOVIEID FROM {TABLES}.NO_RATINGS")
    assert len(rows) == 100
    assert {(int(u), int(m)) for u, m in rows} == expected


def test_flatten_example_lists_recommendations_with_titles_by_rank(applied, connection, values):
    data = small(seed=7)
    load_movielens(connection, data, database=DATABASE, schema=SCHEMA, progress=lambda _: None)
    movies = data.movies.set_index("movieId")["title"]
    first, second, third = (int(m) for m in movies.index[:3])
    table = f"{TABLES}.{values['RECOMMENDATIONS_TABLE']}"
    query(connection, f"DELETE FROM {table}")
    query(
        connection,
        f"INSERT INTO {table} (USERID, TOP_10_RECOMMENDATIONS, PREDICTED_RATINGS, MODEL_VERSION, GENERATED_AT) "
        f"SELECT 2, PARSE_JSON('[{third}, {first}, -1]'), PARSE_JSON('[4.5, 4.25, 0]'), 'job-1', "
        "'2026-11-27 10:00:00'::TIMESTAMP_NTZ "
        f"UNION ALL SELECT 1, PARSE_JSON('[{second}]'), PARSE_JSON('[3.75]'), 'job-1', "
        "'2026-11-27 10:00:00'::TIMESTAMP_NTZ "
        f"UNION ALL SELECT 9, PARSE_JSON('[{first}]'), PARSE_JSON('[5.0]'), 'job-1', "
        "'2026-11-27 10:00:00'::TIMESTAMP_NTZ",
    )
    rows = query(connection, example(values, ["LATERAL FLATTEN", "TOP_10_RECOMMENDATIONS"]))
    assert [(int(u), int(rank), int(m), title, float(r)) for u, rank, m, title, r in rows] == [
        (1, 1, second, movies[second], 3.75),
        (2, 1, third, movies[third], 4.5),
        (2, 2, first, movies[first], 4.25),
    ]


def test_loading_stage_from_03_accepts_uploads(applied, connection, tmp_path):
    path = tmp_path / "movies.csv"
    pd.DataFrame({"movieId": [1], "title": ["A, B (2000)"], "genres": ["Drama"]}).to_csv(path, index=False)
    query(connection, f"PUT 'file://{path.as_posix()}' @{TABLES}.MOVIELENS_STAGE OVERWRITE=TRUE")
    listed = query(connection, f"LIST @{TABLES}.MOVIELENS_STAGE")
    assert any(name.endswith("movies.csv.gz") for name, *_ in listed)

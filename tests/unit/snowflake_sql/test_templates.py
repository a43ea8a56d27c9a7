"""The numbered SQL files: rendering, validation of values, statement splitting, the CLI."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local_mode.standins import python_env
from pipeline_shared.catalogue import CATALOGUE
from snowflake_sql import templates
from snowflake_sql.load import TABLE_COLUMNS
from snowflake_sql.templates import (
    SQL_FILES,
    render,
    render_file,
    statements,
    template_values,
)
from stacks.config import CONTEXT_KEY, load_environment, load_environments

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_NAMES = sorted({function.name for function in CATALOGUE})


@pytest.fixture(scope="module")
def dev():
    return load_environment("dev")


@pytest.fixture(scope="module")
def values(dev):
    return template_values(dev)


def rendered(name, values):
    return render_file(templates.SQL_DIR / name, values)


def one_line(sql):
    """``sql`` on one line, single-spaced, without spaces just inside parentheses."""
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", " ".join(sql.split())))


def test_sql_files_are_the_five_numbered_files_in_order():
    assert [path.name for path in SQL_FILES] == [
        "01_database.sql",
        "02_tables.sql",
        "03_loading.sql",
        "04_retraining.sql",
        "05_examples.sql",
    ]
    assert all(path.is_file() for path in SQL_FILES)


def test_dev_environment_is_the_shipped_cdk_json(dev):
    context = json.loads((ROOT / "cdk.json").read_text())["context"][CONTEXT_KEY]
    assert dev == next(config for config in load_environments(context) if config.name == "dev")


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda path: path.name)
def test_every_file_renders_with_no_placeholder_left(path, values):
    text = render_file(path, values)
    assert "{{" not in text and "}}" not in text
    assert "MOVIELENS.PUBLIC" in text
    assert statements(text)


def test_values_come_from_the_environment_and_the_catalogue(dev, values):
    assert values["DATABASE"] == "MOVIELENS"
    assert values["SCHEMA"] == "PUBLIC"
    assert values["WAREHOUSE"] == "COMPUTE_WH"
    assert values["RECOMMENDATIONS_TABLE"] == "USER_MOVIE_RECOMMENDATIONS"
    assert values["MODEL_NAME"] == "movielens"
    assert values["TRAIN_AND_GET_RECOMMENDATIONS"] == "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS"
    assert {name: values[name] for name in FUNCTION_NAMES} == {
        name: f"MOVIELENS.PUBLIC.{name}" for name in FUNCTION_NAMES
    }

    other = dataclasses.replace(
        dev, snowflake=dataclasses.replace(dev.snowflake, database="RECS", schema="ML", warehouse="LOAD_WH")
    )
    moved = template_values(other, model_name="movies-v2", recommendations_table="TOP_PICKS")
    assert moved["DEPLOY_MODEL"] == "RECS.ML.DEPLOY_MODEL"
    retraining = rendered("04_retraining.sql", moved)
    assert "WAREHOUSE = LOAD_WH" in retraining
    assert "RECS.ML.TRAIN_AND_GET_RECOMMENDATIONS('RECS.ML.RATINGS', 'RECS.ML.TOP_PICKS')" in one_line(retraining)
    assert "RECS.ML.DEPLOY_MODEL('movies-v2', 'latest:RECS.ML.TOP_PICKS', {'min_ndcg_gain': 0.0})" in retraining
    assert "MOVIELENS" not in retraining


def test_every_external_function_is_used_by_the_files(values):
    text = "".join(render_file(path, values) for path in SQL_FILES)
    for name in FUNCTION_NAMES:
        assert f"MOVIELENS.PUBLIC.{name}(" in text, name


def test_unknown_placeholder_is_rejected_by_name(values):
    with pytest.raises(ValueError, match=r"Unknown placeholder \{\{ TABLESPACE \}\}"):
        render("SELECT 1 FROM {{ TABLESPACE }}.T", values)


def test_placeholder_without_value_is_rejected_by_name(values):
    partial = {k: v for k, v in values.items() if k != "WAREHOUSE"}
    with pytest.raises(ValueError, match="WAREHOUSE"):
        render("CREATE TASK T WAREHOUSE = {{ WAREHOUSE }} AS SELECT 1", partial)
    with pytest.raises(ValueError, match="WAREHOUSE"):
        render_file(SQL_FILES[3], partial)
    assert render("SELECT 1 FROM {{ DATABASE }}.X", partial) == "SELECT 1 FROM MOVIELENS.X"


def test_unknown_value_name_is_rejected(values):
    with pytest.raises(ValueError, match="TABLESPACE"):
        render("SELECT 1", {**values, "TABLESPACE": "X"})


@pytest.mark.parametrize("text", ["SELECT {{ database }}", "SELECT {{ DATA BASE }}", "SELECT {{DATABASE}", "{{ }}"])
def test_malformed_placeholders_are_rejected(text, values):
    with pytest.raises(ValueError, match="laceholder"):
        render(text, values)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE", "x; drop"),
        ("DATABASE", "MOVIELENS.PUBLIC"),
        ("SCHEMA", "PUBLIC -- x"),
        ("WAREHOUSE", "'WH'"),
        ("RECOMMENDATIONS_TABLE", 'RECS"'),
        ("RECOMMENDATIONS_TABLE", ""),
        ("DEPLOY_MODEL", "A.B.C.D"),
        ("DEPLOY_MODEL", "DB.S.F(1)"),
        ("MODEL_NAME", "movielens'); drop table x; --"),
        ("MODEL_NAME", "MovieLens"),
        ("MODEL_NAME", ""),
    ],
)
def test_unsafe_values_are_rejected_by_name(name, value, values):
    with pytest.raises(ValueError, match=name):
        render("SELECT 1", {**values, name: value})


def test_template_values_validates_its_arguments(dev):
    with pytest.raises(ValueError, match="MODEL_NAME"):
        template_values(dev, model_name="x'y")
    with pytest.raises(ValueError, match="RECOMMENDATIONS_TABLE"):
        template_values(dev, recommendations_table="T; DROP TABLE RATINGS")


def test_identifiers_are_rendered_in_canonical_upper_case(values):
    assert render("USE {{ DATABASE }}", {**values, "DATABASE": "movielens"}) == "USE MOVIELENS"


def test_statements_split_on_semicolons_but_keep_strings_and_drop_comments():
    text = "-- intro; with a semicolon\nSELECT 'a;b' AS X;\n\n/* block; */ SELECT 2 -- tail;\n;"
    assert statements(text) == ["SELECT 'a;b' AS X", "SELECT 2"]


def test_retraining_task_body_stays_one_statement(values):
    parts = statements(rendered("04_retraining.sql", values))
    assert not [p for p in parts if p.upper().startswith(("INSERT", "SELECT"))]
    tasks = [p for p in parts if p.startswith("CREATE OR REPLACE TASK")]
    assert len(tasks) == 2
    retrain = one_line(next(t for t in tasks if "RETRAIN_RECOMMENDER" in t))
    assert retrain.endswith("FROM (SELECT COUNT(*) AS n FROM MOVIELENS.PUBLIC.RATINGS_CHANGES)")
    assert " AS INSERT INTO MOVIELENS.PUBLIC.RETRAINING_RUNS " in retrain


def test_retraining_task_calls_train_once_and_consumes_the_stream(values):
    text = rendered("04_retraining.sql", values)
    train = "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS("
    assert text.count(train) == 1
    parts = statements(text)
    stream = next(p for p in parts if p.startswith("CREATE STREAM"))
    assert one_line(stream).startswith(
        "CREATE STREAM IF NOT EXISTS MOVIELENS.PUBLIC.RATINGS_CHANGES ON TABLE MOVIELENS.PUBLIC.RATINGS"
    )
    task = one_line(next(p for p in parts if "TASK MOVIELENS.PUBLIC.RETRAIN_RECOMMENDER" in p))
    options, body = task.split(" AS ", 1)
    assert "WAREHOUSE = COMPUTE_WH" in options
    assert re.search(r"SCHEDULE = 'USING CRON \d+ \d+ \* \* \* UTC'", options), options
    assert "WHEN SYSTEM$STREAM_HAS_DATA('MOVIELENS.PUBLIC.RATINGS_CHANGES')" in options
    assert body.count(train) == 1
    assert (
        "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS('MOVIELENS.PUBLIC.RATINGS', "
        "'MOVIELENS.PUBLIC.USER_MOVIE_RECOMMENDATIONS')" in body
    )
    assert "FROM MOVIELENS.PUBLIC.RATINGS_CHANGES" in body


def test_redeploy_task_deploys_the_retrained_tables_latest_hourly_under_the_guard(values):
    parts = [one_line(p) for p in statements(rendered("04_retraining.sql", values))]
    task = next(p for p in parts if "TASK MOVIELENS.PUBLIC.REDEPLOY_RECOMMENDER" in p)
    options, body = task.split(" AS ", 1)
    assert "WAREHOUSE = COMPUTE_WH" in options
    assert re.search(r"SCHEDULE = 'USING CRON \d+ \* \* \* \* UTC'", options), options
    assert body == (
        "INSERT INTO MOVIELENS.PUBLIC.DEPLOYMENTS (DEPLOYED_AT, DEPLOYMENT) "
        "SELECT CURRENT_TIMESTAMP(), MOVIELENS.PUBLIC.DEPLOY_MODEL('movielens', "
        "'latest:MOVIELENS.PUBLIC.USER_MOVIE_RECOMMENDATIONS', {'min_ndcg_gain': 0.0})"
    )  # the table the retraining task rewrites, and the quality guard
    assert any(p.startswith("CREATE TABLE IF NOT EXISTS MOVIELENS.PUBLIC.DEPLOYMENTS") for p in parts)
    assert any(p.startswith("CREATE TABLE IF NOT EXISTS MOVIELENS.PUBLIC.RETRAINING_RUNS") for p in parts)
    assert parts[-2:] == [
        "ALTER TASK MOVIELENS.PUBLIC.RETRAIN_RECOMMENDER RESUME",
        "ALTER TASK MOVIELENS.PUBLIC.REDEPLOY_RECOMMENDER RESUME",
    ]


@pytest.mark.parametrize("path", SQL_FILES[:4], ids=lambda path: path.name)
def test_setup_files_are_rerunnable_without_dropping_data(path, values):
    for statement in statements(render_file(path, values)):
        words = one_line(statement).upper()
        if not words.startswith("CREATE"):
            assert words.startswith("ALTER TASK"), words
            continue
        assert "IF NOT EXISTS" in words or words.startswith("CREATE OR REPLACE"), words
        if words.startswith("CREATE OR REPLACE"):
            assert words.startswith(("CREATE OR REPLACE TASK", "CREATE OR REPLACE VIEW")), words


def test_tables_file_has_the_seed_columns_and_the_loader_agrees(values):
    tables = {}
    for statement in statements(rendered("02_tables.sql", values)):
        match = re.fullmatch(r"CREATE TABLE IF NOT EXISTS MOVIELENS\.PUBLIC\.(\w+) \((.*)\)", one_line(statement))
        assert match, statement
        columns = [tuple(column.split()) for column in match.group(2).split(",")]
        tables[match.group(1)] = tuple(columns)
    assert tables.pop("USER_MOVIE_RECOMMENDATIONS") == (
        ("USERID", "NUMBER"),
        ("TOP_10_RECOMMENDATIONS", "VARIANT"),
        ("PREDICTED_RATINGS", "VARIANT"),
        ("MODEL_VERSION", "VARCHAR"),
        ("GENERATED_AT", "TIMESTAMP_NTZ"),
    )
    assert tables == TABLE_COLUMNS
    assert tables["RATINGS"] == (
        ("USERID", "NUMBER"),
        ("MOVIEID", "NUMBER"),
        ("RATING", "FLOAT"),
        ("TIMESTAMP", "TIMESTAMP_NTZ"),
    )


def test_loading_file_has_the_seed_csv_format_and_a_stage_using_it(values):
    parts = [one_line(p) for p in statements(rendered("03_loading.sql", values))]
    file_format = next(p for p in parts if p.startswith("CREATE FILE FORMAT"))
    assert "MOVIELENS.PUBLIC.MOVIELENS_CSV" in file_format
    assert "TYPE = CSV" in file_format
    assert "SKIP_HEADER = 1" in file_format
    assert "FIELD_OPTIONALLY_ENCLOSED_BY = '\"'" in file_format
    stage = next(p for p in parts if p.startswith("CREATE STAGE"))
    assert "FILE_FORMAT = MOVIELENS.PUBLIC.MOVIELENS_CSV" in stage


def test_examples_hold_the_seed_queries(values):
    text = one_line(rendered("05_examples.sql", values))
    assert "CREATE OR REPLACE VIEW MOVIELENS.PUBLIC.NO_RATINGS AS" in text
    assert (
        "SELECT nr.USERID, nr.MOVIEID, m.TITLE, MOVIELENS.PUBLIC.INVOKE_MODEL('movielens', nr.USERID, nr.MOVIEID)"
        in text
    )
    assert "MOVIELENS.PUBLIC.DEPLOY_MODEL('movielens', 'latest')" in text
    assert "MOVIELENS.PUBLIC.RECOMMEND('movielens', 1, 10)" in text
    assert "MOVIELENS.PUBLIC.PIPELINE_STATUS('movielens')" in text
    assert "LATERAL FLATTEN(INPUT => r.TOP_10_RECOMMENDATIONS) f" in text
    assert "FROM MOVIELENS.PUBLIC.USER_MOVIE_RECOMMENDATIONS r" in text


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "snowflake_sql.templates", *args],
        cwd=ROOT,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_prints_every_rendered_file(values):
    done = run_cli("--env", "dev")
    assert done.returncode == 0, done.stderr
    for path in SQL_FILES:
        assert f"-- {path.name} for environment dev" in done.stdout
        assert render_file(path, values) in done.stdout
    assert "{{" not in done.stdout


def test_cli_prints_one_file(values):
    done = run_cli("--env", "dev", "--file", "04_retraining.sql", "--model-name", "movies-v2")
    assert done.returncode == 0, done.stderr
    assert "CREATE OR REPLACE TASK MOVIELENS.PUBLIC.RETRAIN_RECOMMENDER" in done.stdout
    assert (
        "MOVIELENS.PUBLIC.DEPLOY_MODEL('movies-v2', 'latest:MOVIELENS.PUBLIC.USER_MOVIE_RECOMMENDATIONS'" in done.stdout
    )
    assert "01_database.sql" not in done.stdout


def test_cli_help():
    done = run_cli("--help")
    assert done.returncode == 0
    assert "--env" in done.stdout and "--file" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env", "staging"), "no environment 'staging': choose one of dev, prod"),
        (("--env", "dev", "--model-name", "Bad Name"), "MODEL_NAME"),
        (("--env", "dev", "--recommendations-table", "X;Y"), "RECOMMENDATIONS_TABLE"),
    ],
)
def test_cli_errors_are_one_sentence_and_exit_2(args, message):
    done = run_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""

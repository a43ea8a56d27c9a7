"""``recommender-bootstrap`` (``main``): every environment of cdk.json, on a fresh fakesnow account.

fakesnow parses none of Snowflake's access-control statements (CREATE ROLE, CREATE USER ... TYPE =
SERVICE, ALTER USER, GRANT: "Parser Error" or "not implemented", checked below), so the stand-in
runs the database, schema and table statements through ``--apply --objects-only``, which names
every statement it leaves out (:func:`snowflake_sql.bootstrap.is_access_control`). Those are then
checked against a model of a fresh account: each names only objects created earlier in the script,
or the warehouse cdk.json names (which must exist) and the account itself
(https://docs.snowflake.com/en/sql-reference/sql/grant-privilege).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from snowflake.connector.errors import ProgrammingError

from local_mode.standins import Server, fakesnow_connection, fakesnow_server
from snowflake_sql.bootstrap import is_access_control, main, script
from snowflake_sql.templates import statements
from stacks.config import CDK_JSON, load_environment

pytestmark = pytest.mark.integration

GRANT_ON = r"GRANT [\w ,]+ ON (DATABASE|SCHEMA|TABLE|WAREHOUSE|ACCOUNT) ?([\w.]*) TO ROLE (\w+)"
ENVIRONMENTS = list(json.loads(CDK_JSON.read_text())["context"]["recommender"]["environments"])


@pytest.fixture(scope="module")
def fresh_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fakesnow server of its own: no database, schema or table exists yet."""
    root = tmp_path_factory.mktemp("fresh-account")
    with fakesnow_server(root / "data", root / "server.log") as server:
        yield server


def bootstrap(server: Server, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The program's exit status, stdout and stderr, signed in to ``server`` as an administrator."""
    connection = ["--account", "fakesnow", "--user", "ADMIN", "--host", server.host, "--port", str(server.port),
                  "--protocol", "http"]  # fmt: skip
    status = main([*args, *connection])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_bootstrap_runs_top_to_bottom_on_a_fresh_account(
    fresh_account: Server, env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "admin")  # the stand-in's; real accounts take --private-key-file
    config = load_environment(env)
    sf = config.snowflake
    all_statements = statements(script(config))
    objects = [s for s in all_statements if not is_access_control(s)]
    access = [s for s in all_statements if is_access_control(s)]

    status, out, err = bootstrap(fresh_account, capsys, "--env", env, "--apply", "--objects-only")
    assert status == 0, err
    assert f"applied {len(objects)} statements for environment {env}" in out
    assert f"left out {len(access)} role, user and grant statements" in err
    assert all(f"  {statement};" in err for statement in access)
    again = bootstrap(fresh_account, capsys, "--env", env, "--apply", "--objects-only")
    assert again[0] == 0, again[2]  # re-runnable

    connection = fakesnow_connection(fresh_account.port, host=fresh_account.host)
    with connection.cursor() as cursor:
        for table in ("MOVIES", "RATINGS", "USER_MOVIE_RECOMMENDATIONS"):
            cursor.execute(f"SELECT * FROM {sf.database}.{sf.schema}.{table} LIMIT 0")
            assert cursor.description, table
        for statement in access:  # the stand-in really cannot run what was left out
            with pytest.raises(ProgrammingError, match=r"Parser Error|not implemented"):
                cursor.execute(statement)
    connection.close()
    assert not unresolved(access, created=fresh_objects(objects), warehouse=sf.warehouse)


def fresh_objects(statements: list[str]) -> set[str]:
    """What the object statements create, as ``KIND NAME`` (schemas and tables fully qualified)."""
    found = (re.match(r"CREATE (DATABASE|SCHEMA|TABLE) IF NOT EXISTS ([\w.$]+)", s) for s in statements)
    return {f"{match[1]} {match[2]}" for match in found if match}


def unresolved(access: list[str], *, created: set[str], warehouse: str) -> list[str]:
    """The access-control statements naming a role, user or object not created before them."""
    known = {*created, f"WAREHOUSE {warehouse}", "ACCOUNT "}
    missing = []
    for statement in access:
        if match := re.fullmatch(r"CREATE (ROLE|USER) IF NOT EXISTS (\w+)(?: .*DEFAULT_ROLE = (\w+))?", statement):
            needs = {f"ROLE {match[3]}"} if match[3] else set()
            known.add(f"{match[1]} {match[2]}")
        elif match := re.fullmatch(r"ALTER USER (\w+) SET .*", statement):
            needs = {f"USER {match[1]}"}
        elif match := re.fullmatch(r"GRANT ROLE (\w+) TO USER (\w+)", statement):
            needs = {f"ROLE {match[1]}", f"USER {match[2]}"}
        elif match := re.fullmatch(GRANT_ON, statement):
            needs = {f"{match[1]} {match[2]}", f"ROLE {match[3]}"}
        else:
            raise AssertionError(f"the fresh-account model does not know: {statement}")
        if needs - known:
            missing.append(statement)
    return missing


def test_the_model_finds_a_grant_before_its_table() -> None:
    """The order check itself: a grant moved above the table it names is caught."""
    config = load_environment("prod")
    access = [s for s in statements(script(config)) if is_access_control(s)]
    assert unresolved(access, created={"DATABASE MOVIELENS", "SCHEMA MOVIELENS.PROD"}, warehouse="COMPUTE_WH") == [
        s for s in access if " ON TABLE " in s
    ]


def test_a_refused_statement_is_named_and_exits_1(
    fresh_account: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --objects-only the stand-in refuses the first role statement: one sentence naming it, exit 1."""
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "admin")
    config = load_environment("dev")
    number = next(i for i, s in enumerate(statements(script(config)), start=1) if is_access_control(s))
    status, out, err = bootstrap(fresh_account, capsys, "--env", "dev", "--apply")
    assert status == 1 and not out
    assert err.startswith(f"Statement {number} (CREATE ROLE IF NOT EXISTS RECOMMENDER_DEPLOYER) failed: ")
    assert err.count("\n") == 1 and "run again" in err

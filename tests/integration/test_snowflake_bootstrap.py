"""``recommender-bootstrap`` (``main``): every environment of cdk.json, applied whole to a fresh fakesnow account.

The stand-in keeps roles, users and grants as Snowflake does and shows them with ``SHOW GRANTS``
(:mod:`local_mode.access_control`), so the whole rendered script runs top to bottom -- every role, user
and grant statement included -- and what it granted is read back through the stand-in: the training
role can read the ratings and replace the recommendations, and nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_mode.standins import Server, fakesnow_connection, fakesnow_server
from snowflake_sql.bootstrap import is_access_control, main, script
from snowflake_sql.templates import DEFAULT_RECOMMENDATIONS_TABLE, statements
from stacks.config import CDK_JSON, load_environment

pytestmark = pytest.mark.integration

ENVIRONMENTS = list(json.loads(CDK_JSON.read_text())["context"]["recommender"]["environments"])


@pytest.fixture(scope="module")
def fresh_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fakesnow server of its own: no database, schema, table, role or user exists yet."""
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


def shown(server: Server, statement: str) -> list[dict[str, str]]:
    """A SHOW statement's rows through the stand-in, as column -> value."""
    connection = fakesnow_connection(server.port, host=server.host)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def privileges(server: Server, role: str) -> set[tuple[str, str, str]]:
    """(privilege, granted_on, name) the role holds, with those of the roles granted to it."""
    held, roles, seen = set(), [role], set()
    while roles:
        current = roles.pop()
        seen.add(current)
        for grant in shown(server, f"SHOW GRANTS TO ROLE {current}"):
            if grant["granted_on"] == "ROLE" and grant["name"] not in seen:
                roles.append(grant["name"])
            else:
                held.add((grant["privilege"], grant["granted_on"], grant["name"]))
    return held


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_whole_bootstrap_runs_on_a_fresh_account_and_grants_what_it_says(
    fresh_account: Server, env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "admin")  # the stand-in's; real accounts take --private-key-file
    config = load_environment(env)
    sf = config.snowflake
    all_statements = statements(script(config))
    assert sum(is_access_control(s) for s in all_statements) >= 20  # roles, users and grants are most of it

    status, out, err = bootstrap(fresh_account, capsys, "--env", env, "--apply")
    assert status == 0, err
    assert f"applied {len(all_statements)} statements for environment {env}" in out and not err
    again = bootstrap(fresh_account, capsys, "--env", env, "--apply")
    assert again[0] == 0, again[2]  # re-runnable: nothing is replaced, repeated grants change nothing

    schema = f"{sf.database}.{sf.schema}"
    ratings, output = f"{schema}.RATINGS", f"{schema}.{DEFAULT_RECOMMENDATIONS_TABLE}"
    # The training role: reads the ratings, replaces the recommendations in their schema, and nothing more.
    assert privileges(fresh_account, sf.training_role) == {
        ("USAGE", "DATABASE", sf.database),
        ("USAGE", "SCHEMA", schema),
        ("CREATE TABLE", "SCHEMA", schema),
        ("CREATE STAGE", "SCHEMA", schema),
        ("SELECT", "TABLE", ratings),
        ("SELECT", "TABLE", output),
        ("INSERT", "TABLE", output),
        ("DELETE", "TABLE", output),
        ("USAGE", "WAREHOUSE", sf.warehouse),
    }
    deployer = privileges(fresh_account, sf.role)
    assert ("CREATE INTEGRATION", "ACCOUNT", "FAKESNOW") in deployer and (
        "CREATE FUNCTION",
        "SCHEMA",
        schema,
    ) in deployer
    assert not {p for p in deployer if p[1] == "TABLE" and p[2] == output}  # the DDL role never writes the lists
    for role in sf.grant_roles:  # shared by the environments: in this schema, it reads the movies and the lists
        assert {p for p in privileges(fresh_account, role) if p[1] == "TABLE" and p[2].startswith(schema)} == {
            ("SELECT", "TABLE", f"{schema}.MOVIES"),
            ("SELECT", "TABLE", output),
        }
    users = {
        row["grantee_name"]: row["role"] for row in shown(fresh_account, f"SHOW GRANTS OF ROLE {sf.training_role}")
    }
    assert users == {sf.training_user: sf.training_role}
    service = {row["name"]: row for row in shown(fresh_account, "SHOW USERS")}
    for user, role in ((sf.user, sf.role), (sf.training_user, sf.training_role)):
        assert service[user]["type"] == "SERVICE" and service[user]["default_role"] == role  # no password sign-in
    connection = fakesnow_connection(fresh_account.port, host=fresh_account.host)
    with connection.cursor() as cursor:
        for table in ("MOVIES", "RATINGS", DEFAULT_RECOMMENDATIONS_TABLE):
            cursor.execute(f"SELECT * FROM {schema}.{table} LIMIT 0")
            assert cursor.description, table
    connection.close()


def test_a_refused_statement_is_named_and_exits_1(
    fresh_account: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A warehouse the account does not have: Snowflake refuses the grant on it; one sentence naming it, exit 1."""
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "admin")
    context = json.loads(CDK_JSON.read_text())
    context["context"]["recommender"]["environments"]["dev"]["snowflake"]["warehouse"] = "NO_SUCH_WH"
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps(context))
    config = load_environment("dev", cdk_json)
    number = next(i for i, s in enumerate(statements(script(config)), start=1) if "WAREHOUSE NO_SUCH_WH" in s)
    status, out, err = bootstrap(fresh_account, capsys, "--env", "dev", "--cdk-json", str(cdk_json), "--apply")
    assert status == 1 and not out
    assert err.startswith(
        f"Statement {number} (GRANT USAGE ON WAREHOUSE NO_SUCH_WH TO ROLE RECOMMENDER_DEPLOYER) failed: "
    )
    assert "SQL compilation error: Warehouse 'NO_SUCH_WH' does not exist or not authorized; fix it" in err
    assert err.count("\n") == 1 and "run again" in err

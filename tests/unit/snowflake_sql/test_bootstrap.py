"""The bootstrap script: order, names from cdk.json, public keys, the statement classification, the CLI."""

import dataclasses
import json
from pathlib import Path

import pytest

from snowflake_sql.bootstrap import BootstrapError, PublicKeys, is_access_control, main, public_key, script
from snowflake_sql.templates import statements
from stacks.config import CDK_JSON, load_environment

KEY_BODY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"


@pytest.mark.parametrize(
    ("statement", "access"),
    [
        ("CREATE DATABASE IF NOT EXISTS MOVIELENS", False),
        ("create schema if not exists MOVIELENS.PROD", False),
        ("CREATE TABLE IF NOT EXISTS A.B.GRANTS (USERID NUMBER)", False),
        ("CREATE ROLE IF NOT EXISTS R", True),
        ("create or replace user U", True),
        ("CREATE USER IF NOT EXISTS U TYPE = SERVICE", True),
        ("ALTER USER U SET RSA_PUBLIC_KEY = 'MII'", True),
        ("  grant usage on database D to role R", True),
        ("REVOKE USAGE ON DATABASE D FROM ROLE R", True),
        ("GRANTED_TABLE_SELECT", False),
    ],
)
def test_access_control_statements_are_told_apart(statement: str, access: bool) -> None:
    assert is_access_control(statement) is access


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_order_is_objects_roles_users_grants_warehouse(env: str) -> None:
    config = load_environment(env)
    sql = statements(script(config))
    kinds = [s.split()[0] + " " + s.split()[1] for s in sql]
    first = {kind: kinds.index(kind) for kind in dict.fromkeys(kinds)}
    assert first["CREATE DATABASE"] < first["CREATE SCHEMA"] < first["CREATE TABLE"] < first["CREATE ROLE"]
    assert first["CREATE ROLE"] < first["CREATE USER"] < first["GRANT ROLE"]
    warehouse = [i for i, s in enumerate(sql) if " ON WAREHOUSE " in s]
    assert warehouse and warehouse == list(range(len(sql) - len(warehouse), len(sql)))  # last
    schema = f"{config.snowflake.database}.{config.snowflake.schema}"
    assert all(f" ON SCHEMA {schema} TO " in s for s in sql if " ON SCHEMA " in s)
    assert f"GRANT SELECT ON TABLE {schema}.RATINGS TO ROLE {config.snowflake.training_role}" in sql


def test_names_come_from_cdk_json() -> None:
    config = load_environment("prod")
    sf = dataclasses.replace(
        config.snowflake, database="RECS", schema="LIVE", role="DEPLOYER_X", training_role="TRAINER_X",
        user="ADMIN_X", training_user="TRAINER_USER_X", warehouse="WH_X", grant_roles=("BI",),
    )  # fmt: skip
    sql = script(dataclasses.replace(config, snowflake=sf))
    for fragment in ("CREATE SCHEMA IF NOT EXISTS RECS.LIVE", "CREATE ROLE IF NOT EXISTS BI",
                     "CREATE USER IF NOT EXISTS TRAINER_USER_X TYPE = SERVICE DEFAULT_ROLE = TRAINER_X",
                     "GRANT ROLE DEPLOYER_X TO USER ADMIN_X", "GRANT USAGE ON WAREHOUSE WH_X TO ROLE BI",
                     "GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE DEPLOYER_X"):  # fmt: skip
        assert fragment in sql
    assert "MOVIELENS" not in sql and "PROD" not in sql.split("\n", 3)[3]


def test_public_keys_are_filled_in_or_left_as_comments(tmp_path: Path) -> None:
    config = load_environment("dev")
    bare = statements(script(config))
    assert not any(s.startswith("ALTER USER") for s in bare)  # comments to fill in, never run half-made
    assert "-- fill in (or give --admin-public-key-file): ALTER USER RECOMMENDER_ADMIN" in script(config)
    filled = statements(script(config, PublicKeys(admin=KEY_BODY, trainer=KEY_BODY)))
    assert f"ALTER USER RECOMMENDER_TRAINER SET RSA_PUBLIC_KEY = '{KEY_BODY}'" in filled


def test_workload_identity_users_get_no_key_lines() -> None:
    config = load_environment("dev")
    wif = dataclasses.replace(config, snowflake=dataclasses.replace(config.snowflake, auth="wif"))
    sql = script(wif, PublicKeys(admin=KEY_BODY))
    assert "RSA_PUBLIC_KEY" not in sql and "ADD WORKLOAD IDENTITY" in sql


def test_a_public_key_file_loses_its_pem_lines_and_a_private_key_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "admin.pub"
    pem.write_text(f"-----BEGIN PUBLIC KEY-----\n{KEY_BODY[:64]}\n{KEY_BODY[64:]}\n-----END PUBLIC KEY-----\n")
    assert public_key(pem, flag="--admin-public-key-file") == KEY_BODY
    private = tmp_path / "admin.p8"
    private.write_text("-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----\n")
    with pytest.raises(BootstrapError, match="holds a private key: give the public one"):
        public_key(private, flag="--admin-public-key-file")
    quoted = tmp_path / "quoted.pub"
    quoted.write_text("MIIB'; DROP DATABASE X; --")
    with pytest.raises(BootstrapError, match="is not an RSA public key"):
        public_key(quoted, flag="--trainer-public-key-file")


def test_printing_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env", "prod"]) == 0
    out = capsys.readouterr().out
    assert "CREATE SCHEMA IF NOT EXISTS MOVIELENS.PROD;" in out and ".PUBLIC" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nope"], "has no environment 'nope'"),
        (["--env", "dev", "--apply"], "--apply needs --user: an administrator of the account"),
        (["--env", "dev", "--admin-public-key-file", "/no/such.pub"], "Cannot read --admin-public-key-file"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(args, message, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and not captured.out


def test_every_environment_of_cdk_json_renders() -> None:
    environments = json.loads(CDK_JSON.read_text())["context"]["recommender"]["environments"]
    for env in environments:
        assert statements(script(load_environment(env)))

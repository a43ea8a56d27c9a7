"""The stand-in's access-control catalog (local_mode.access_control) on its own: Snowflake's answers and errors."""

import pytest
from snowflake.connector.errors import ProgrammingError

from local_mode.access_control import PRIVILEGE_COLUMNS, Catalog, as_select, handles, run

TABLES = {("DATABASE", "DB"), ("SCHEMA", "DB.S"), ("TABLE", "DB.S.T")}


def exists(kind: str, name: str) -> bool:
    return (kind, name) in TABLES


def test_grants_need_their_role_and_object_and_repeat_harmlessly() -> None:
    catalog = Catalog()
    with pytest.raises(ProgrammingError, match="Role 'R' does not exist or not authorized") as missing:
        run("GRANT SELECT ON TABLE DB.S.T TO ROLE R", exists, catalog)
    assert missing.value.errno == 2003 and missing.value.sqlstate == "02000"
    assert run("CREATE ROLE IF NOT EXISTS r", exists, catalog).rows == [("Role R successfully created.",)]
    assert run("create role if not exists R", exists, catalog).rows == [("R already exists, statement succeeded.",)]
    with pytest.raises(ProgrammingError, match=r"Table 'DB\.S\.MISSING' does not exist"):
        run("GRANT SELECT ON TABLE DB.S.MISSING TO ROLE R", exists, catalog)
    with pytest.raises(ProgrammingError, match="Warehouse 'OTHER_WH' does not exist"):
        run("GRANT USAGE ON WAREHOUSE OTHER_WH TO ROLE R", exists, catalog)
    for _ in range(2):
        run("GRANT SELECT, INSERT ON TABLE db.s.t TO ROLE R;", exists, catalog)
    run("GRANT USAGE ON WAREHOUSE COMPUTE_WH TO ROLE R", exists, catalog)
    shown = run("SHOW GRANTS TO ROLE R", exists, catalog)
    assert shown.columns == PRIVILEGE_COLUMNS
    assert [row[1:4] for row in shown.rows] == [
        ("INSERT", "TABLE", "DB.S.T"),
        ("SELECT", "TABLE", "DB.S.T"),
        ("USAGE", "WAREHOUSE", "COMPUTE_WH"),
    ]
    run("REVOKE INSERT ON TABLE DB.S.T FROM ROLE R", exists, catalog)
    assert [row[1] for row in run("SHOW GRANTS TO ROLE R", exists, catalog).rows] == ["SELECT", "USAGE"]


def test_users_roles_and_role_grants_show_as_snowflake_shows_them() -> None:
    catalog = Catalog()
    run("CREATE ROLE IF NOT EXISTS TRAINER", exists, catalog)
    run("CREATE ROLE IF NOT EXISTS ANALYST", exists, catalog)
    run("CREATE USER IF NOT EXISTS SVC TYPE = SERVICE DEFAULT_ROLE = TRAINER", exists, catalog)
    run("ALTER USER SVC SET RSA_PUBLIC_KEY = 'MIIBIjANBgkq'", exists, catalog)
    run("GRANT ROLE TRAINER TO USER SVC", exists, catalog)
    run("GRANT ROLE ANALYST TO ROLE TRAINER", exists, catalog)
    [user] = run("SHOW USERS", exists, catalog).rows
    assert user == ("SVC", "SERVICE", "TRAINER", "true")  # the key is kept as set, never shown
    to_user = run("SHOW GRANTS TO USER SVC", exists, catalog)
    assert [dict(zip(to_user.columns, row, strict=True))["role"] for row in to_user.rows] == ["TRAINER"]
    assert [row[5:7] for row in to_user.rows] == [("USER", "SVC")]  # granted_to, grantee_name
    assert [row[1:4] for row in run("SHOW GRANTS TO ROLE TRAINER", exists, catalog).rows] == [
        ("USAGE", "ROLE", "ANALYST")
    ]
    assert [row[2:4] for row in run("SHOW GRANTS OF ROLE TRAINER", exists, catalog).rows] == [("USER", "SVC")]
    with pytest.raises(ProgrammingError, match="User 'NOBODY' does not exist"):
        run("GRANT ROLE TRAINER TO USER NOBODY", exists, catalog)
    run("DROP ROLE ANALYST", exists, catalog)
    assert run("SHOW GRANTS TO ROLE TRAINER", exists, catalog).rows == []


def test_only_access_control_is_taken_and_answers_are_selects() -> None:
    assert handles("GRANT USAGE ON FUNCTION DB.S.F(VARCHAR) TO ROLE R") is None  # functions are not modelled
    assert handles("SELECT 1") is None and handles("CREATE TABLE T (A INT)") is None
    assert handles("show grants to role r") == "show_grants_to"
    empty = as_select(run("SHOW ROLES", exists, Catalog()))
    assert empty.endswith("WHERE FALSE") and '"created_on"' in empty
    assert as_select(run("CREATE ROLE X", exists, Catalog())) == (
        "SELECT * FROM (VALUES ('Role X successfully created.')) AS answer(\"status\")"
    )

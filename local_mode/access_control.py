"""Snowflake's access-control statements, added to the fakesnow stand-in (fakesnow parses none of them).

The stand-in keeps what they create and grant, in the server process, and answers with Snowflake's documented
output, so a script of roles, users and grants runs top to bottom and what it granted can be read back:

- ``CREATE [OR REPLACE] ROLE [IF NOT EXISTS] r`` and ``CREATE [OR REPLACE] USER [IF NOT EXISTS] u [prop = value ...]``
  (https://docs.snowflake.com/en/sql-reference/sql/create-role, .../create-user); ``ALTER USER [IF EXISTS] u SET
  prop = value ...`` (an ``RSA_PUBLIC_KEY`` is kept as set, never shown); ``DROP ROLE|USER [IF EXISTS] x``.
- ``GRANT privilege [, ...] ON ACCOUNT | DATABASE d | SCHEMA d.s | TABLE d.s.t | WAREHOUSE w TO ROLE r
  [WITH GRANT OPTION]``, ``GRANT ROLE r TO ROLE r2 | USER u``, and the matching ``REVOKE ... FROM``
  (https://docs.snowflake.com/en/sql-reference/sql/grant-privilege, .../grant-role). The role, user and object
  must exist: otherwise Snowflake's "SQL compilation error: <Kind> '<name>' does not exist or not authorized."
  (error 2003, SQLSTATE 02000). Repeating a grant changes nothing.
- ``SHOW GRANTS TO ROLE r`` (columns ``created_on, privilege, granted_on, name, granted_to, grantee_name,
  grant_option, granted_by``; ``SHOW GRANTS TO USER u`` has these and ``role``, as since Snowflake's 2025_01
  bundle: https://docs.snowflake.com/en/release-notes/bcr-bundles/2025_01/bcr-1803) and ``SHOW GRANTS OF ROLE r``
  (``created_on, role, granted_to, grantee_name, granted_by``), ``SHOW ROLES`` and ``SHOW USERS`` (https://docs.snowflake.com/en/
  sql-reference/sql/show-grants). A role granted to a role is shown as ``USAGE`` on ``ROLE``, as Snowflake does.

Databases, schemas and tables are the stand-in's own (DuckDB's catalog). It has no warehouses, so it keeps
``COMPUTE_WH`` -- the one the shipped cdk.json names (trial accounts usually come with it, but Snowflake documents
no default warehouse) -- plus those named in ``CREATE WAREHOUSE``; granting on another is refused, as Snowflake
refuses a grant on a missing object. Privileges are kept and shown, not enforced:
every session of the stand-in may do everything, as an administrator would.
"""

from __future__ import annotations

import re
import threading
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from snowflake.connector.errors import ProgrammingError

DEFAULT_WAREHOUSES = ("COMPUTE_WH",)  # the warehouse the shipped cdk.json names (see the module docstring)
GRANTOR = "ACCOUNTADMIN"
_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_QUALIFIED = rf"{_NAME}(?:\.{_NAME}){{0,2}}"
_OBJECT_KINDS = ("ACCOUNT", "DATABASE", "SCHEMA", "TABLE", "WAREHOUSE")
_PRIVILEGES = r"[A-Za-z ,_]+?"
_IF_NOT = r"(?P<if>IF\s+NOT\s+EXISTS\s+)?"
_STATEMENTS = {
    "create_role": rf"CREATE\s+(?P<replace>OR\s+REPLACE\s+)?ROLE\s+{_IF_NOT}(?P<name>{_NAME})(?P<rest>.*)",
    "create_user": rf"CREATE\s+(?P<replace>OR\s+REPLACE\s+)?USER\s+{_IF_NOT}(?P<name>{_NAME})(?P<rest>.*)",
    "alter_user": rf"ALTER\s+USER\s+(?P<if>IF\s+EXISTS\s+)?(?P<name>{_NAME})\s+SET\s+(?P<rest>.+)",
    "drop": rf"DROP\s+(?P<kind>ROLE|USER)\s+(?P<if>IF\s+EXISTS\s+)?(?P<name>{_NAME})",
    "grant_role": rf"GRANT\s+ROLE\s+(?P<role>{_NAME})\s+TO\s+(?P<kind>ROLE|USER)\s+(?P<grantee>{_NAME})",
    "revoke_role": rf"REVOKE\s+ROLE\s+(?P<role>{_NAME})\s+FROM\s+(?P<kind>ROLE|USER)\s+(?P<grantee>{_NAME})",
    "grant": rf"GRANT\s+(?P<privileges>{_PRIVILEGES})\s+ON\s+(?P<kind>ACCOUNT|DATABASE|SCHEMA|TABLE|WAREHOUSE)"
    rf"(?:\s+(?P<object>{_QUALIFIED}))?\s+TO\s+ROLE\s+(?P<grantee>{_NAME})(?P<option>\s+WITH\s+GRANT\s+OPTION)?",
    "revoke": rf"REVOKE\s+(?P<privileges>{_PRIVILEGES})\s+ON\s+(?P<kind>ACCOUNT|DATABASE|SCHEMA|TABLE|WAREHOUSE)"
    rf"(?:\s+(?P<object>{_QUALIFIED}))?\s+FROM\s+ROLE\s+(?P<grantee>{_NAME})",
    "show_grants_to": rf"SHOW\s+GRANTS\s+TO\s+(?P<kind>ROLE|USER)\s+(?P<name>{_NAME})",
    "show_grants_of": rf"SHOW\s+GRANTS\s+OF\s+ROLE\s+(?P<name>{_NAME})",
    "show_roles": r"SHOW\s+ROLES",
    "show_users": r"SHOW\s+USERS",
    "create_warehouse": rf"CREATE\s+(?:OR\s+REPLACE\s+)?WAREHOUSE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME}).*",
}
_PATTERNS = {
    kind: re.compile(rf"\s*{pattern}\s*;?\s*", re.IGNORECASE | re.DOTALL) for kind, pattern in _STATEMENTS.items()
}
PRIVILEGE_COLUMNS = (
    "created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option", "granted_by",
)  # fmt: skip
ROLE_GRANT_COLUMNS = ("created_on", "role", "granted_to", "grantee_name", "granted_by")  # SHOW GRANTS OF ROLE
USER_GRANT_COLUMNS = (
    "created_on", "privilege", "granted_on", "name", "role", "granted_to", "grantee_name", "grant_option", "granted_by",
)  # fmt: skip


def identifier(text: str) -> str:
    """A name as Snowflake resolves it: upper-cased unless quoted."""
    return text[1:-1] if text.startswith('"') else text.upper()


def qualified(text: str) -> str:
    return ".".join(identifier(part) for part in re.findall(_NAME, text))


@dataclass(frozen=True)
class Grant:
    privilege: str
    granted_on: str  # ACCOUNT, DATABASE, SCHEMA, TABLE, WAREHOUSE or ROLE
    name: str  # the object's qualified name (the account's name for ACCOUNT)
    grantee: str
    grant_option: bool
    created_on: datetime


@dataclass
class Catalog:
    """The account's roles, users, warehouses and grants."""

    roles: dict[str, datetime] = field(default_factory=dict)
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    warehouses: set[str] = field(default_factory=lambda: set(DEFAULT_WAREHOUSES))
    grants: dict[tuple[str, str, str, str], Grant] = field(default_factory=dict)  # (privilege, on, name, grantee)
    role_grants: dict[tuple[str, str, str], datetime] = field(default_factory=dict)  # (role, ROLE|USER, grantee)
    lock: threading.Lock = field(default_factory=threading.Lock)


CATALOG = Catalog()


class StatementAnswer:
    """What a statement answers: column names and rows (strings, or datetimes for ``created_on``)."""

    def __init__(self, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        self.columns, self.rows = columns, rows


def status(message: str) -> StatementAnswer:
    return StatementAnswer(("status",), [(message,)])


def handles(statement: str) -> str | None:
    """Which access-control statement ``statement`` is (a key of the patterns), or None."""
    for kind, pattern in _PATTERNS.items():
        if pattern.fullmatch(statement):
            return kind
    return None


def run(statement: str, exists: Any, catalog: Catalog = CATALOG) -> StatementAnswer:
    """Carry out ``statement``; ``exists(kind, name)`` tells whether a DATABASE, SCHEMA or TABLE exists."""
    kind = handles(statement)
    assert kind is not None
    match = _PATTERNS[kind].fullmatch(statement)
    assert match is not None
    with catalog.lock:
        return _ACTIONS[kind](catalog, match, exists)


def _missing(kind: str, name: str) -> ProgrammingError:
    return ProgrammingError(
        msg=f"SQL compilation error:\n{kind.capitalize()} '{name}' does not exist or not authorized.",
        errno=2003,
        sqlstate="02000",
    )


def _created(existing: MutableMapping[str, Any], match: re.Match[str], noun: str, value: Any) -> StatementAnswer:
    """CREATE [OR REPLACE] <noun> [IF NOT EXISTS] <name>: ``existing[name] = value`` unless it exists (Snowflake's
    answers: "already exists, statement succeeded" with IF NOT EXISTS, else error 002002)."""
    name = identifier(match["name"])
    if name in existing and not match["replace"]:
        if match["if"]:
            return status(f"{name} already exists, statement succeeded.")
        what = "Object" if noun == "Role" else noun  # Snowflake says "Object" for a role, "User" for a user
        raise ProgrammingError(msg=f"SQL compilation error:\n{what} '{name}' already exists.", errno=2002)
    existing[name] = value
    return status(f"{noun} {name} successfully created.")


def _create_role(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    return _created(catalog.roles, match, "Role", datetime.now(UTC))


def _properties(text: str) -> dict[str, str]:
    found = re.findall(r"(\w+)\s*=\s*('(?:[^']|'')*'|\S+)", text)
    return {key.upper(): value.strip("'") for key, value in found}


def _create_user(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    return _created(catalog.users, match, "User", _properties(match["rest"]))


def _alter_user(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    name = identifier(match["name"])
    if name not in catalog.users:
        if match["if"]:
            return status("Statement executed successfully.")
        raise _missing("user", name)
    catalog.users[name].update(_properties(match["rest"]))
    return status("Statement executed successfully.")


def _drop(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    kind, name = match["kind"].upper(), identifier(match["name"])
    kept = catalog.roles if kind == "ROLE" else catalog.users
    if name not in kept:
        if match["if"]:
            return status(f"Drop statement executed successfully ({name} already dropped).")
        raise _missing(kind.lower(), name)
    del kept[name]
    if kind == "ROLE":
        catalog.grants = {k: g for k, g in catalog.grants.items() if g.grantee != name}
        catalog.role_grants = {k: t for k, t in catalog.role_grants.items() if name not in (k[0], k[2])}
    else:
        catalog.role_grants = {k: t for k, t in catalog.role_grants.items() if not (k[1] == "USER" and k[2] == name)}
    return status(f"{name} successfully dropped.")


def _grantee(catalog: Catalog, kind: str, name: str) -> str:
    if name not in (catalog.roles if kind == "ROLE" else catalog.users):
        raise _missing(kind.lower(), name)
    return name


def _grant_role(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    role = _grantee(catalog, "ROLE", identifier(match["role"]))
    kind = match["kind"].upper()
    grantee = _grantee(catalog, kind, identifier(match["grantee"]))
    catalog.role_grants.setdefault((role, kind, grantee), datetime.now(UTC))
    return status("Statement executed successfully.")


def _revoke_role(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    role, kind, grantee = identifier(match["role"]), match["kind"].upper(), identifier(match["grantee"])
    catalog.role_grants.pop((role, kind, grantee), None)
    return status("Statement executed successfully.")


def _target(catalog: Catalog, match: re.Match[str], exists: Any) -> tuple[str, str]:
    kind = match["kind"].upper()
    if kind == "ACCOUNT":
        return kind, "FAKESNOW"
    if not match["object"]:
        raise ProgrammingError(msg=f"SQL compilation error:\nsyntax error: {kind} needs a name.", errno=1003)
    name = qualified(match["object"])
    present = name in catalog.warehouses if kind == "WAREHOUSE" else exists(kind, name)
    if not present:
        raise _missing(kind.lower(), name)
    return kind, name


def _privileges(text: str) -> list[str]:
    return [" ".join(p.split()).upper() for p in text.split(",") if p.strip()]


def _grant(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    grantee = _grantee(catalog, "ROLE", identifier(match["grantee"]))
    kind, name = _target(catalog, match, exists)
    for privilege in _privileges(match["privileges"]):
        key = (privilege, kind, name, grantee)
        if key not in catalog.grants or match["option"]:
            catalog.grants[key] = Grant(privilege, kind, name, grantee, bool(match["option"]), datetime.now(UTC))
    return status("Statement executed successfully.")


def _revoke(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    grantee = identifier(match["grantee"])
    kind = match["kind"].upper()
    name = "FAKESNOW" if kind == "ACCOUNT" else qualified(match["object"] or "")
    for privilege in _privileges(match["privileges"]):
        catalog.grants.pop((privilege, kind, name, grantee), None)
    return status("Statement executed successfully.")


def _show_grants_to(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    kind, name = match["kind"].upper(), identifier(match["name"])
    _grantee(catalog, kind, name)
    if kind == "USER":  # the columns since Snowflake's 2025_01 bundle (release note 1803): a role is USAGE on ROLE
        roles = [
            (t, "USAGE", "ROLE", role, role, "USER", name, "false", GRANTOR)
            for (role, k, who), t in catalog.role_grants.items()
            if k == "USER" and who == name
        ]
        return StatementAnswer(USER_GRANT_COLUMNS, sorted(roles, key=lambda r: r[3]))
    rows = [
        (g.created_on, g.privilege, g.granted_on, g.name, "ROLE", name, str(g.grant_option).lower(), GRANTOR)
        for g in catalog.grants.values()
        if g.grantee == name
    ]
    rows += [
        (t, "USAGE", "ROLE", role, "ROLE", name, "false", GRANTOR)
        for (role, k, who), t in catalog.role_grants.items()
        if k == "ROLE" and who == name
    ]
    return StatementAnswer(PRIVILEGE_COLUMNS, sorted(rows, key=lambda r: (r[2], r[3], r[1])))


def _show_grants_of(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    role = _grantee(catalog, "ROLE", identifier(match["name"]))
    rows = [(t, role, k, who, GRANTOR) for (r, k, who), t in catalog.role_grants.items() if r == role]
    return StatementAnswer(ROLE_GRANT_COLUMNS, sorted(rows, key=lambda r: (r[2], r[3])))


def _show_roles(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    return StatementAnswer(("created_on", "name"), [(t, name) for name, t in sorted(catalog.roles.items())])


def _show_users(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    rows = [
        (
            name,
            props.get("TYPE", "PERSON").upper(),
            props.get("DEFAULT_ROLE", "").upper(),
            str("RSA_PUBLIC_KEY" in props).lower(),
        )
        for name, props in sorted(catalog.users.items())
    ]
    return StatementAnswer(("name", "type", "default_role", "has_rsa_public_key"), rows)


def _create_warehouse(catalog: Catalog, match: re.Match[str], exists: Any) -> StatementAnswer:
    name = identifier(match["name"])
    catalog.warehouses.add(name)
    return status(f"Warehouse {name} successfully created.")


_ACTIONS = {
    "create_role": _create_role,
    "create_user": _create_user,
    "alter_user": _alter_user,
    "drop": _drop,
    "grant_role": _grant_role,
    "revoke_role": _revoke_role,
    "grant": _grant,
    "revoke": _revoke,
    "show_grants_to": _show_grants_to,
    "show_grants_of": _show_grants_of,
    "show_roles": _show_roles,
    "show_users": _show_users,
    "create_warehouse": _create_warehouse,
}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def as_select(answer: StatementAnswer) -> str:
    """A SELECT that yields ``answer``'s rows under its column names (every value as text)."""
    columns = ", ".join(f'"{c}"' for c in answer.columns)
    if not answer.rows:
        return "SELECT " + ", ".join(f'NULL::VARCHAR AS "{c}"' for c in answer.columns) + " WHERE FALSE"
    values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in answer.rows)
    return f"SELECT * FROM (VALUES {values}) AS answer({columns})"


def install() -> None:
    """Patch fakesnow's cursor (after any other patch) so access-control statements run against :data:`CATALOG`."""
    from fakesnow.cursor import FakeSnowflakeCursor

    execute = FakeSnowflakeCursor.execute

    def execute_with_access_control(self: FakeSnowflakeCursor, command: str, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(command, str) or handles(command) is None:
            return execute(self, command, *args, **kwargs)
        connection = self._conn

        def exists(kind: str, name: str) -> bool:
            parts = name.split(".")
            defaults = [connection.database or "", connection.schema or ""]
            if kind == "SCHEMA":
                parts = [defaults[0], *parts][-2:]
                query = "SELECT 1 FROM information_schema.schemata WHERE catalog_name = ? AND schema_name = ?"
            elif kind == "TABLE":
                parts = [*defaults, *parts][-3:]
                query = (
                    "SELECT 1 FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
                    "AND table_name = ?"
                )
            else:
                query = "SELECT 1 FROM duckdb_databases() WHERE database_name = ?"
            return bool(connection._duck_conn.execute(query, parts).fetchall())

        return execute(self, as_select(run(command, exists)))

    FakeSnowflakeCursor.execute = execute_with_access_control

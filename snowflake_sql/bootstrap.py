"""The Snowflake set-up that comes before ``cdk deploy``, in an order that runs on a fresh account.

One script per environment of ``cdk.json``: database and schema, the tables (``02_tables.sql``),
the two roles (and ``grantRoles``), the two service users, the grants on the objects just
created, and warehouse usage. Every statement is re-runnable (``IF NOT EXISTS``; a repeated
GRANT changes nothing), so a failed run is finished by running it again. Run it as a role that
may create roles and users and grant ``CREATE INTEGRATION`` (ACCOUNTADMIN): the deploy's custom
resource then finds the database, schema, roles and users it needs. Users are ``TYPE = SERVICE``,
which cannot sign in with a password
(https://docs.snowflake.com/en/user-guide/admin-user-management); grants follow
https://docs.snowflake.com/en/sql-reference/sql/grant-privilege and name objects created above
them, never future ones: the training role is the boundary of what the train function can read
and overwrite, so it gets exactly the tables it needs.

Public keys are not secrets, but they are the operator's: without ``--admin-public-key-file`` /
``--trainer-public-key-file`` the ``ALTER USER ... SET RSA_PUBLIC_KEY`` lines are printed as
comments to fill in. Snowflake takes the key without its ``-----BEGIN/END PUBLIC KEY-----``
lines (https://docs.snowflake.com/en/user-guide/key-pair-auth), which are stripped here.

    recommender-bootstrap --env dev                        # print (the default); make snowflake-bootstrap ENV=dev
    recommender-bootstrap --env dev --apply --user ME --private-key-file me.p8

Applying connects as ``--user`` with ``--role`` (default ACCOUNTADMIN), never as the pipeline's
own users (they do not exist yet); the key comes from ``--private-key-file`` or ``--secret``
(Secrets Manager), never a password on the command line. ``--objects-only`` runs just the
database, schema and table statements (:func:`is_access_control` tells them apart) and names
what it left out -- for an account where an administrator runs the rest, or a stand-in without
roles.

Exit status: 0 printed or applied; 2 bad configuration or arguments; 1 no connection (or no
credentials) or Snowflake refused a statement (the message names it; what ran before it stays,
and re-running continues).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from snowflake.connector import SnowflakeConnection
from snowflake.connector.errors import Error as SnowflakeConnectorError

from pipeline_shared import first_line
from snowflake_sql.connection import ConnectionSetupError, add_connection_arguments, connect, connection_settings
from snowflake_sql.templates import (
    DEFAULT_RECOMMENDATIONS_TABLE,
    SQL_DIR,
    TemplateError,
    render_file,
    statements,
    template_values,
)
from stacks.config import CDK_JSON, ConfigError, PipelineConfig, load_environment

ADMIN_ROLE = "ACCOUNTADMIN"
# Statements about roles, users and privileges (fakesnow parses none of them).
_ACCESS_CONTROL = re.compile(r"(CREATE\s+(OR\s+REPLACE\s+)?(ROLE|USER)|ALTER\s+USER|GRANT|REVOKE)\b", re.IGNORECASE)
_PEM_LINE = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class BootstrapError(ValueError):
    """An argument the script cannot be rendered with; the message names it and what to do."""


class BootstrapApplyError(RuntimeError):
    """Snowflake refused a bootstrap statement; the message names it."""


@dataclass(frozen=True)
class PublicKeys:
    """Each service user's RSA public key (base64, no PEM lines), or None to fill in later."""

    admin: str | None = None
    trainer: str | None = None


def is_access_control(statement: str) -> bool:
    """True for CREATE ROLE/USER, ALTER USER, GRANT and REVOKE; False for database, schema and table DDL."""
    return _ACCESS_CONTROL.match(statement.strip()) is not None


def public_key(path: Path, *, flag: str) -> str:
    """The base64 body of the RSA public key in ``path`` (PEM or the bare body)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise BootstrapError(f"Cannot read {flag} {path} ({type(exc).__name__}): give the .pub file.") from None
    if "PRIVATE KEY" in text:
        raise BootstrapError(f"{flag} {path} holds a private key: give the public one (openssl rsa -pubout).")
    body = "".join(_PEM_LINE.sub("", text).split())
    if not body.startswith("MII") or not _BASE64.fullmatch(body):
        raise BootstrapError(f"{flag} {path} is not an RSA public key: make it with openssl rsa -in KEY.p8 -pubout.")
    return body


def script(
    config: PipelineConfig,
    keys: PublicKeys = PublicKeys(),
    *,
    recommendations_table: str = DEFAULT_RECOMMENDATIONS_TABLE,
) -> str:
    """The environment's bootstrap SQL, in the order it runs on a fresh account."""
    sf = config.snowflake
    values = template_values(config, recommendations_table=recommendations_table)
    db, schema, warehouse = values["DATABASE"], f"{values['DATABASE']}.{values['SCHEMA']}", values["WAREHOUSE"]
    table = f"{schema}.{values['RECOMMENDATIONS_TABLE']}"
    deployer, trainer = sf.role, sf.training_role
    parts = [
        f"-- Bootstrap for environment {config.name}: run before `make deploy STACK={config.stack_name}`,",
        f"-- as a role that may create roles and users and grant CREATE INTEGRATION (e.g. {ADMIN_ROLE}).",
        "-- Re-runnable: nothing is replaced, repeated grants change nothing.",
        "",
        "-- 1. Database and schema (01_database.sql)",
        *_statements(render_file(SQL_DIR / "01_database.sql", values)),
        "",
        "-- 2. Tables (02_tables.sql)",
        *_statements(render_file(SQL_DIR / "02_tables.sql", values)),
        "",
        "-- 3. Roles: the DDL role (the stack's custom resource), the training role, and the roles",
        "--    granted USAGE on the functions (snowflake.grantRoles)",
        *(f"CREATE ROLE IF NOT EXISTS {role};" for role in dict.fromkeys((deployer, trainer, *sf.grant_roles))),
        "",
        "-- 4. Service users (key-pair or workload identity; no password)",
        f"CREATE USER IF NOT EXISTS {sf.user} TYPE = SERVICE DEFAULT_ROLE = {deployer};",
        f"CREATE USER IF NOT EXISTS {sf.training_user} TYPE = SERVICE DEFAULT_ROLE = {trainer};",
        f"GRANT ROLE {deployer} TO USER {sf.user};",
        f"GRANT ROLE {trainer} TO USER {sf.training_user};",
        *_key_lines(config, keys),
        "",
        "-- 5. Grants on the objects created above",
        "-- DDL role: creates (and so owns) the API integration and the external functions;",
        "-- recommender-load replaces MOVIES and RATINGS through a temporary stage and tables.",
        f"GRANT CREATE INTEGRATION ON ACCOUNT TO ROLE {deployer};",
        f"GRANT USAGE ON DATABASE {db} TO ROLE {deployer};",
        f"GRANT USAGE, CREATE FUNCTION, CREATE TABLE, CREATE STAGE ON SCHEMA {schema} TO ROLE {deployer};",
        f"GRANT SELECT, INSERT, DELETE ON TABLE {schema}.MOVIES TO ROLE {deployer};",
        f"GRANT SELECT, INSERT, DELETE ON TABLE {schema}.RATINGS TO ROLE {deployer};",
        "-- Training role: reads the ratings, replaces the recommendations (temporary stage and table",
        "-- in the output's schema), nothing else. Grant the same on any other table it should use.",
        f"GRANT USAGE ON DATABASE {db} TO ROLE {trainer};",
        f"GRANT USAGE, CREATE TABLE, CREATE STAGE ON SCHEMA {schema} TO ROLE {trainer};",
        f"GRANT SELECT ON TABLE {schema}.RATINGS TO ROLE {trainer};",
        f"GRANT SELECT, INSERT, DELETE ON TABLE {table} TO ROLE {trainer};",
        *(
            line
            for role in sf.grant_roles
            for line in (
                f"-- {role}: calls the functions (the deploy grants USAGE on them) and reads the lists",
                f"GRANT USAGE ON DATABASE {db} TO ROLE {role};",
                f"GRANT USAGE ON SCHEMA {schema} TO ROLE {role};",
                f"GRANT SELECT ON TABLE {schema}.MOVIES TO ROLE {role};",
                f"GRANT SELECT ON TABLE {table} TO ROLE {role};",
            )
        ),
        "",
        f"-- 6. Warehouse usage (the warehouse must exist: snowflake.warehouse = {warehouse})",
        *(
            f"GRANT USAGE ON WAREHOUSE {warehouse} TO ROLE {role};"
            for role in dict.fromkeys((deployer, trainer, *sf.grant_roles))
        ),
    ]
    return "\n".join(parts) + "\n"


def _statements(text: str) -> list[str]:
    return [f"{statement};" for statement in statements(text)]


def _key_lines(config: PipelineConfig, keys: PublicKeys) -> list[str]:
    sf = config.snowflake
    if sf.auth != "keypair":
        return [
            "-- Workload identity: after the first deploy, give each user its role's ARN (stack outputs):",
            f"-- ALTER USER {sf.user} ADD WORKLOAD IDENTITY deployer TYPE = AWS ARN = '<SnowflakeHandlerRoleArn>';",
            f"-- ALTER USER {sf.training_user} ADD WORKLOAD IDENTITY trainer TYPE = AWS ARN = '<SageMakerRoleArn>';",
        ]
    lines = []
    for user, key, flag in ((sf.user, keys.admin, "--admin-public-key-file"),
                            (sf.training_user, keys.trainer, "--trainer-public-key-file")):  # fmt: skip
        statement = f"ALTER USER {user} SET RSA_PUBLIC_KEY = '{key or '<public key body>'}';"
        lines.append(statement if key else f"-- fill in (or give {flag}): {statement}")
    return lines


def apply(connection: SnowflakeConnection, sql: str, *, objects_only: bool = False) -> tuple[int, list[str]]:
    """Run ``sql``'s statements in order: how many ran, and those left out by ``objects_only``.

    Raises :class:`BootstrapApplyError` naming the first statement Snowflake refused.
    """
    ran, skipped = 0, []
    with connection.cursor() as cursor:
        for number, statement in enumerate(statements(sql), start=1):
            if objects_only and is_access_control(statement):
                skipped.append(statement)
                continue
            try:
                cursor.execute(statement)
            except SnowflakeConnectorError as exc:
                raise BootstrapApplyError(
                    f"Statement {number} ({first_line(statement)[:80]}) failed: {first_line(exc)}; fix it and run "
                    "again (statements already run are kept and re-run harmlessly)."
                ) from None
            ran += 1
    return ran, skipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recommender-bootstrap",
        description="Print (default) or apply the Snowflake set-up an environment of cdk.json needs before "
        "cdk deploy: database, schema, tables, roles, users, grants, warehouse usage.",
    )
    parser.add_argument("--env", required=True, help="environment in cdk.json, e.g. dev")
    parser.add_argument("--cdk-json", type=Path, default=CDK_JSON, help="cdk.json to read (default: the project's)")
    parser.add_argument("--admin-public-key-file", type=Path, help="the DDL user's RSA public key (.pub)")
    parser.add_argument("--trainer-public-key-file", type=Path, help="the training user's RSA public key (.pub)")
    parser.add_argument("--recommendations-table", default=DEFAULT_RECOMMENDATIONS_TABLE, help="table training writes")
    parser.add_argument("--apply", action="store_true", help="run it through the Snowflake connector (see --user)")
    parser.add_argument(
        "--objects-only", action="store_true", help="with --apply: only database, schema and table statements"
    )
    parser.add_argument("--secret", help="with --apply: Secrets Manager secret (name or ARN) with --user's key")
    add_connection_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = load_environment(args.env, args.cdk_json)
        keys = PublicKeys(
            admin=args.admin_public_key_file and public_key(args.admin_public_key_file, flag="--admin-public-key-file"),
            trainer=args.trainer_public_key_file
            and public_key(args.trainer_public_key_file, flag="--trainer-public-key-file"),
        )
        sql = script(config, keys, recommendations_table=args.recommendations_table)
        if args.apply and not args.user:
            raise BootstrapError(
                f"--apply needs --user: an administrator of the account (role --role, default {ADMIN_ROLE}); "
                f"the pipeline's own users do not exist yet."
            )
    except (ConfigError, TemplateError, BootstrapError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.apply:
        print(sql, end="")
        return 0
    args.role = args.role or ADMIN_ROLE
    settings = connection_settings(
        args, config.snowflake, database=config.snowflake.database, schema=config.snowflake.schema
    )
    settings = dataclasses.replace(settings, secret=args.secret)  # the administrator's, never the DDL user's
    try:
        with connect(settings) as connection:
            ran, skipped = apply(connection, sql, objects_only=args.objects_only)
    except (ConnectionSetupError, BootstrapApplyError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"applied {ran} statements for environment {args.env} at {settings.where}")
    if skipped:
        print(f"left out {len(skipped)} role, user and grant statements (--objects-only):", file=sys.stderr)
        for statement in skipped:
            print(f"  {statement};", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

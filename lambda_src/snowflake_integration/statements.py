"""The SQL that sets up Snowflake's side of the pipeline, as exact text from validated values.

Every value is checked before it reaches SQL: identifiers follow the project's rules
(``identifiers``), data types come from an allow-list, and string literals (role ARN, URLs,
comment) must match strict patterns and are quoted on top of that. The models validate in
their constructors, so a statement can only ever be built from safe parts. Errors are
:class:`InvalidPropertyError` naming the resource property that was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline_shared.identifiers import plain_identifier

DATA_TYPES = ("VARCHAR", "NUMBER", "FLOAT", "VARIANT", "OBJECT", "ARRAY", "BOOLEAN")
MAX_COMMENT = 256
MAX_URL = 1024

_ROLE_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-cn|-us-gov)?):iam::\d{12}:role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})"
)
# Snowflake's API_PROVIDER for an API Gateway in each AWS partition (CREATE API INTEGRATION).
API_PROVIDERS = {"aws": "aws_api_gateway", "aws-us-gov": "aws_gov_api_gateway"}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HTTPS_URL = re.compile(rf"https://{_LABEL}(?:\.{_LABEL})+(?::\d{{1,5}})?(?:/[A-Za-z0-9._~/-]*)?")
_COMMENT = re.compile(rf"[\x20-\x7e]{{0,{MAX_COMMENT}}}")  # printable ASCII: no newlines or control characters
_BOUND_TO = re.compile(r"\bAPI_INTEGRATION\s*=\s*\"?([A-Za-z_][A-Za-z0-9_$]*)\"?", re.IGNORECASE)
_SHOWN = 80  # characters of a rejected value echoed in an error


class InvalidPropertyError(ValueError):
    """A resource property that is missing, malformed or unsafe to put into SQL."""


def shown(value: object) -> str:
    """A rejected value for an error message: ``repr``, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def identifier(value: object, what: str) -> str:
    """A single plain Snowflake identifier, upper-cased as Snowflake resolves it."""
    name = plain_identifier(value)
    if name is None:
        raise InvalidPropertyError(
            f"{what} must be a plain Snowflake identifier (letters, digits, '_' or '$', not starting "
            f"with a digit or '$'), got {shown(value)}."
        )
    return name


def role_arn(value: object, what: str) -> str:
    """An IAM role ARN such as ``arn:aws:iam::123456789012:role/Name``."""
    if not isinstance(value, str) or not _ROLE_ARN.fullmatch(value):
        raise InvalidPropertyError(
            f"{what} must be an IAM role ARN like arn:aws:iam::123456789012:role/Name, got {shown(value)}."
        )
    return value


def partition_of(arn: str) -> str:
    """The AWS partition of a validated role ARN (``aws``, ``aws-us-gov``, ``aws-cn``)."""
    match = _ROLE_ARN.fullmatch(arn)
    if match is None:
        raise InvalidPropertyError(f"{shown(arn)} is not an IAM role ARN.")
    return match["partition"]


def role_name_of(arn: str) -> str:
    """The role name at the end of a validated role ARN (after any path)."""
    match = _ROLE_ARN.fullmatch(arn)
    if match is None:
        raise InvalidPropertyError(f"{shown(arn)} is not an IAM role ARN.")
    return match["name"]


def https_url(value: object, what: str) -> str:
    """An ``https://`` URL of letters, digits and ``.-_~/`` only (no quotes, query or fragment)."""
    if not isinstance(value, str) or len(value) > MAX_URL or not _HTTPS_URL.fullmatch(value):
        raise InvalidPropertyError(
            f"{what} must be an https:// URL of letters, digits and . - _ ~ / only "
            f"(e.g. https://abc123.execute-api.us-east-1.amazonaws.com/prod/), got {shown(value)}."
        )
    return value


def comment(value: object, what: str) -> str:
    """Free text for a COMMENT: printable ASCII on one line, at most 256 characters."""
    if not isinstance(value, str) or not _COMMENT.fullmatch(value):
        raise InvalidPropertyError(
            f"{what} must be printable ASCII text on one line of at most {MAX_COMMENT} characters, got {shown(value)}."
        )
    return value


def data_type(value: object, what: str) -> str:
    """One of :data:`DATA_TYPES`, upper-cased."""
    name = value.strip().upper() if isinstance(value, str) else None
    if name not in DATA_TYPES:
        raise InvalidPropertyError(f"{what} must be one of {', '.join(DATA_TYPES)}, got {shown(value)}.")
    return name


def quote(text: str) -> str:
    """``text`` as a single-quoted Snowflake string literal (backslashes escaped, quotes doubled)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class Integration:
    """An API integration through API Gateway; fields are named after the resource properties."""

    name: str
    role_arn: str
    allowed_prefix: str
    comment: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", identifier(self.name, "IntegrationName"))
        role_arn(self.role_arn, "ApiRoleArn")
        if partition_of(self.role_arn) not in API_PROVIDERS:
            raise InvalidPropertyError(
                f"ApiRoleArn is in AWS partition {partition_of(self.role_arn)}, where Snowflake offers no API "
                "integration: deploy the stack in an aws or aws-us-gov region."
            )
        https_url(self.allowed_prefix, "AllowedPrefix")
        comment(self.comment, "Comment")

    @property
    def api_provider(self) -> str:
        """``aws_api_gateway``, or ``aws_gov_api_gateway`` for an API in AWS GovCloud (US)."""
        return API_PROVIDERS[partition_of(self.role_arn)]


@dataclass(frozen=True)
class ExternalFunction:
    """One external function (one overload); ``origin`` names its entry in errors."""

    database: str
    schema: str
    name: str
    arguments: tuple[tuple[str, str], ...]
    returns: str
    volatile: bool
    url: str
    max_batch_rows: int | None = None
    origin: str = "Functions entry"

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "database", identifier(self.database, "Database"))
        set_field(self, "schema", identifier(self.schema, "Schema"))
        set_field(self, "name", identifier(self.name, f"{self.origin}.Name"))
        arguments = []
        for position, pair in enumerate(self.arguments):
            where = f"{self.origin}.Arguments[{position}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise InvalidPropertyError(f"{where} must be a [NAME, TYPE] pair, got {shown(pair)}.")
            argument, type_name = pair
            arguments.append((identifier(argument, f"{where} name"), data_type(type_name, f"{where} type")))
        names = [argument for argument, _ in arguments]
        if len(set(names)) != len(names):
            raise InvalidPropertyError(f"{self.origin}.Arguments repeats an argument name: give each a new name.")
        set_field(self, "arguments", tuple(arguments))
        set_field(self, "returns", data_type(self.returns, f"{self.origin}.Returns"))
        https_url(self.url, f"{self.origin}.Url")
        rows = self.max_batch_rows
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
            raise InvalidPropertyError(
                f"{self.origin}.MaxBatchRows must be a positive whole number, got {shown(rows)}."
            )

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"

    @property
    def signature(self) -> str:
        """``DB.SCHEMA.NAME(TYPE, ...)``: how GRANT and DROP identify this overload."""
        return f"{self.qualified_name}({', '.join(type_name for _, type_name in self.arguments)})"


def create_integration(integration: Integration) -> str:
    """Create the integration unless it exists: re-creating it would change its external ID."""
    return (
        f"CREATE API INTEGRATION IF NOT EXISTS {integration.name} API_PROVIDER = {integration.api_provider} "
        f"{_integration_settings(integration)}"
    )


def alter_integration(integration: Integration) -> str:
    """Converge an existing integration to the wanted role, prefix and comment."""
    return f"ALTER API INTEGRATION {integration.name} SET {_integration_settings(integration)}"


def _integration_settings(integration: Integration) -> str:
    return (
        f"API_AWS_ROLE_ARN = {quote(integration.role_arn)} "
        f"API_ALLOWED_PREFIXES = ({quote(integration.allowed_prefix)}) "
        f"ENABLED = TRUE COMMENT = {quote(integration.comment)}"
    )


def describe_integration(name: str) -> str:
    """Rows (property, property_type, property_value, property_default)."""
    return f"DESCRIBE INTEGRATION {identifier(name, 'IntegrationName')}"


def drop_integration(name: str) -> str:
    return f"DROP INTEGRATION IF EXISTS {identifier(name, 'IntegrationName')}"


def create_function(function: ExternalFunction, integration: str) -> str:
    arguments = ", ".join(f"{argument} {type_name}" for argument, type_name in function.arguments)
    batch = f" MAX_BATCH_ROWS = {function.max_batch_rows}" if function.max_batch_rows is not None else ""
    return (
        f"CREATE OR REPLACE EXTERNAL FUNCTION {function.qualified_name}({arguments}) "
        f"RETURNS {function.returns} {'VOLATILE' if function.volatile else 'IMMUTABLE'} "
        f"API_INTEGRATION = {identifier(integration, 'IntegrationName')}{batch} COMPRESSION = AUTO "
        f"AS {quote(function.url)}"
    )


def grant_usage(function: ExternalFunction, role: str) -> str:
    return f"GRANT USAGE ON FUNCTION {function.signature} TO ROLE {identifier(role, 'GrantRoles entry')}"


@dataclass(frozen=True)
class Grantee:
    """A role (``ROLE``) or database role (``DATABASE_ROLE``, ``DB.NAME``) holding USAGE on a function."""

    kind: str
    name: str

    @property
    def sql(self) -> str:
        """``ROLE "NAME"``: quoted exactly as SHOW GRANTS spells it, so any name is safe and unchanged."""
        parts = ".".join(
            quote_identifier(part) for part in self.name.split(".", 1 if self.kind == "DATABASE_ROLE" else 0)
        )
        return f"{self.kind.replace('_', ' ')} {parts}"


GRANTEE_KINDS = ("ROLE", "DATABASE_ROLE")
# SHOW GRANTS' columns differ between its forms and behaviour-change bundles (a ROLE column was
# added to some), so they are found by name, never by position.
_PRIVILEGE, _GRANTED_TO, _GRANTEE = "PRIVILEGE", "GRANTED_TO", "GRANTEE_NAME"


def show_grants(function: ExternalFunction) -> str:
    """The grants on the function, read before ``CREATE OR REPLACE`` drops them."""
    return f"SHOW GRANTS ON FUNCTION {function.signature}"


def usage_grantees(rows: Sequence[Sequence[object]], columns: Sequence[str], database: str) -> list[Grantee]:
    """Who holds USAGE, from SHOW GRANTS ``rows`` with column names ``columns``.

    Ownership is the DDL role's and comes with the replace. A database role is named without its
    database in newer Snowflake output (bundle 2026_06): it is qualified with the function's.
    """
    position = {name.upper(): index for index, name in enumerate(columns)}
    if not {_PRIVILEGE, _GRANTED_TO, _GRANTEE} <= set(position):
        raise InvalidPropertyError(
            f"SHOW GRANTS answered without {_PRIVILEGE}, {_GRANTED_TO} and {_GRANTEE} columns: cannot keep grants."
        )
    grantees = []
    for row in rows:
        if str(row[position[_PRIVILEGE]]).upper() != "USAGE":
            continue
        kind, name = str(row[position[_GRANTED_TO]]).upper(), str(row[position[_GRANTEE]])
        if kind == "DATABASE_ROLE" and "." not in name:
            name = f"{database}.{name}"
        if kind in GRANTEE_KINDS and name:
            grantees.append(Grantee(kind, name))
    return grantees


def grant_usage_to(function: ExternalFunction, grantee: Grantee) -> str:
    return f"GRANT USAGE ON FUNCTION {function.signature} TO {grantee.sql}"


def quote_identifier(name: str) -> str:
    """A double-quoted identifier (inner quotes doubled): safe for any name, case kept."""
    return '"' + name.replace('"', '""') + '"'


def function_ddl(function: ExternalFunction) -> str:
    """The function's current definition, to see which integration it is bound to."""
    return f"SELECT GET_DDL('FUNCTION', {quote(function.signature)})"


def drop_function(function: ExternalFunction) -> str:
    return f"DROP FUNCTION IF EXISTS {function.signature}"


def bound_integration(ddl: str) -> str | None:
    """The integration named in a function's ``GET_DDL`` text (upper-cased), or None if not found."""
    match = _BOUND_TO.search(ddl)
    return match[1].upper() if match else None

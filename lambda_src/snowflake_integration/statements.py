"""The SQL that sets up Snowflake's side of the pipeline, as exact text from validated values.

Every value is checked before it reaches SQL: identifiers follow the project's rules
(``identifiers``), data types come from an allow-list, and string literals (role ARN, URLs,
comment) must match strict patterns and are quoted on top of that. The models validate in
their constructors, so a statement can only ever be built from safe parts. Errors are
:class:`InvalidPropertyError` naming the resource property that was wrong.

Functions are written with ``CREATE OR ALTER EXTERNAL FUNCTION``, which keeps the privilege
grants on an existing function (docs.snowflake.com/en/sql-reference/sql/create-or-alter: "privilege
grants on the object are preserved") but "has the same limitations as an ALTER FUNCTION statement":
it may change API_INTEGRATION, COMMENTS, COMPRESSION, CONTEXT_HEADERS, HEADERS, MAX_BATCH_ROWS,
RESPONSE_TRANSLATOR, REQUEST_TRANSLATOR and SECURE only
(docs.snowflake.com/en/sql-reference/sql/create-external-function). :func:`unalterable_difference`
reads the function's current definition (``GET_DDL``) to tell when only ``CREATE OR REPLACE`` can
reach the wanted one (argument names, return type, null handling, volatility, the URL after AS).
An optional property a CREATE OR ALTER leaves out is reset to its default under bundle 2026_04
(docs.snowflake.com/en/release-notes/bcr-bundles/2026_04/bcr-2264, written for CREATE OR ALTER
FUNCTION; it does not say whether external functions are included) and kept before it, so the
statements always state COMPRESSION, state MAX_BATCH_ROWS when one is wanted and otherwise clear it
with ``ALTER FUNCTION ... UNSET MAX_BATCH_ROWS``
(docs.snowflake.com/en/sql-reference/sql/alter-external-function): the same result either way.
What this resource never states (COMMENT, HEADERS, CONTEXT_HEADERS, SECURE) may be kept or reset
by the bundle; nothing the functions need depends on it. A grant made again after a replace keeps
WITH GRANT OPTION (docs.snowflake.com/en/sql-reference/sql/grant-privilege).
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
# GET_DDL of an external function reads like CREATE OR REPLACE [SECURE] EXTERNAL FUNCTION "NAME"("ARG" TYPE, ...)
# RETURNS TYPE [NOT NULL] [STRICT] [IMMUTABLE] API_INTEGRATION = "X" [HEADERS = (...)] [MAX_BATCH_ROWS = n] AS 'url';
_DDL_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?")
_DDL_START = re.compile(r"\bEXTERNAL\s+FUNCTION\s+(?:\"(?:[^\"]|\"\")*\"|[^\s(\"]+)+\s*\(", re.IGNORECASE)
_DDL_RETURNS = re.compile(rf"\s*RETURNS\s+({_DDL_TYPE.pattern})", re.IGNORECASE)
_DDL_URL = re.compile(r"\bAS\s+'((?:[^'\\]|\\.|'')*)'\s*;?\s*\Z", re.IGNORECASE)
_DDL_ARGUMENT = re.compile(rf"\s*(?:\"((?:[^\"]|\"\")*)\"|([A-Za-z_][A-Za-z0-9_$]*))\s+({_DDL_TYPE.pattern})\s*")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_MAX_BATCH_ROWS = re.compile(r"\bMAX_BATCH_ROWS\s*=\s*(\d+)", re.IGNORECASE)
_STRICT = re.compile(r"\bSTRICT\b|\bRETURNS\s+NULL\s+ON\s+NULL\s+INPUT\b", re.IGNORECASE)
_NOT_NULL = re.compile(r"\A\s*NOT\s+NULL\b", re.IGNORECASE)
_IMMUTABLE = re.compile(r"\bIMMUTABLE\b", re.IGNORECASE)
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
class SnowflakeFunction:
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


def show_integrations(name: str) -> str:
    """Integrations whose name matches ``name`` as a LIKE pattern (case-insensitive, ``_`` a wildcard)."""
    return f"SHOW INTEGRATIONS LIKE {quote(identifier(name, 'IntegrationName'))}"


def integration_listed(rows: Sequence[Sequence[object]], columns: Sequence[str], name: str) -> bool:
    """Whether SHOW INTEGRATIONS ``rows`` hold exactly ``name``: LIKE also matches other names (``_``)."""
    position = {column.upper(): index for index, column in enumerate(columns)}
    if "NAME" not in position:
        raise InvalidPropertyError("SHOW INTEGRATIONS answered without a name column: cannot tell what exists.")
    return any(str(row[position["NAME"]]) == name for row in rows)


def describe_integration(name: str) -> str:
    """Rows (property, property_type, property_value, property_default)."""
    return f"DESCRIBE INTEGRATION {identifier(name, 'IntegrationName')}"


def drop_integration(name: str) -> str:
    return f"DROP INTEGRATION IF EXISTS {identifier(name, 'IntegrationName')}"


def create_or_alter_function(function: SnowflakeFunction, integration: str) -> str:
    """Create the function, or alter it in place keeping its grants (what CREATE OR ALTER may change only)."""
    return f"CREATE OR ALTER EXTERNAL FUNCTION {_function_definition(function, integration)}"


def replace_function(function: SnowflakeFunction, integration: str) -> str:
    """Drop and re-create the function: every grant on it is gone afterwards."""
    return f"CREATE OR REPLACE EXTERNAL FUNCTION {_function_definition(function, integration)}"


def _function_definition(function: SnowflakeFunction, integration: str) -> str:
    arguments = ", ".join(f"{argument} {type_name}" for argument, type_name in function.arguments)
    batch = f" MAX_BATCH_ROWS = {function.max_batch_rows}" if function.max_batch_rows is not None else ""
    return (
        f"{function.qualified_name}({arguments}) "
        f"RETURNS {function.returns} {'VOLATILE' if function.volatile else 'IMMUTABLE'} "
        f"API_INTEGRATION = {identifier(integration, 'IntegrationName')}{batch} COMPRESSION = AUTO "
        f"AS {quote(function.url)}"
    )


def unset_max_batch_rows(function: SnowflakeFunction) -> str:
    """Back to Snowflake's own batch size, whichever way CREATE OR ALTER treats an omitted MAX_BATCH_ROWS."""
    return f"ALTER FUNCTION {function.signature} UNSET MAX_BATCH_ROWS"


def grant_usage(function: SnowflakeFunction, role: str, *, grant_option: bool = False) -> str:
    option = " WITH GRANT OPTION" if grant_option else ""
    return f"GRANT USAGE ON FUNCTION {function.signature} TO ROLE {identifier(role, 'GrantRoles entry')}{option}"


@dataclass(frozen=True)
class Grantee:
    """A role (``ROLE``) or database role (``DATABASE_ROLE``, ``DB.NAME``) holding USAGE on a function."""

    kind: str
    name: str
    grant_option: bool = False

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
_PRIVILEGE, _GRANTED_TO, _GRANTEE, _GRANT_OPTION = "PRIVILEGE", "GRANTED_TO", "GRANTEE_NAME", "GRANT_OPTION"


def show_grants(function: SnowflakeFunction) -> str:
    """The grants on the function, read before ``CREATE OR REPLACE`` drops them."""
    return f"SHOW GRANTS ON FUNCTION {function.signature}"


def usage_grantees(rows: Sequence[Sequence[object]], columns: Sequence[str], database: str) -> list[Grantee]:
    """Who holds USAGE, and whether WITH GRANT OPTION, from SHOW GRANTS ``rows`` with column names ``columns``.

    Ownership is the DDL role's and comes with the replace. A database role is named without its
    database in newer Snowflake output (bundle 2026_06): it is qualified with the function's.
    """
    position = {name.upper(): index for index, name in enumerate(columns)}
    needed = (_PRIVILEGE, _GRANTED_TO, _GRANTEE, _GRANT_OPTION)
    if not set(needed) <= set(position):
        raise InvalidPropertyError(
            f"SHOW GRANTS answered without {', '.join(needed[:-1])} and {needed[-1]} columns: cannot keep grants."
        )
    grantees = []
    for row in rows:
        if str(row[position[_PRIVILEGE]]).upper() != "USAGE":
            continue
        kind, name = str(row[position[_GRANTED_TO]]).upper(), str(row[position[_GRANTEE]])
        option = str(row[position[_GRANT_OPTION]]).strip().lower() == "true"
        if kind == "DATABASE_ROLE" and "." not in name:
            name = f"{database}.{name}"
        if kind in GRANTEE_KINDS and name:
            grantees.append(Grantee(kind, name, option))
    return grantees


def grant_usage_to(function: SnowflakeFunction, grantee: Grantee) -> str:
    """USAGE again, WITH GRANT OPTION when the grantee held it so (a replace drops both)."""
    option = " WITH GRANT OPTION" if grantee.grant_option else ""
    return f"GRANT USAGE ON FUNCTION {function.signature} TO {grantee.sql}{option}"


def quote_identifier(name: str) -> str:
    """A double-quoted identifier (inner quotes doubled): safe for any name, case kept."""
    return '"' + name.replace('"', '""') + '"'


def function_ddl(function: SnowflakeFunction) -> str:
    """The function's current definition: which integration it is bound to, and what CREATE OR ALTER can reach."""
    return f"SELECT GET_DDL('FUNCTION', {quote(function.signature)})"


def drop_function(function: SnowflakeFunction) -> str:
    return f"DROP FUNCTION IF EXISTS {function.signature}"


def bound_integration(ddl: str) -> str | None:
    """The integration named in a function's ``GET_DDL`` text (upper-cased), or None if not found."""
    match = _BOUND_TO.search(ddl)
    return match[1].upper() if match else None


@dataclass(frozen=True)
class Definition:
    """An existing external function as GET_DDL shows it; types normalized like :data:`DATA_TYPES`."""

    arguments: tuple[tuple[str, str], ...]
    returns: str
    not_null: bool
    strict: bool
    volatile: bool
    integration: str
    max_batch_rows: int | None
    url: str


def function_definition(ddl: str) -> Definition | None:
    """Parse ``GET_DDL('FUNCTION', ...)`` text; None if it does not read as an external function's."""
    url = _DDL_URL.search(ddl)
    start = _DDL_START.search(ddl)
    if url is None or start is None:
        return None
    end = _closing_parenthesis(ddl, start.end())
    returns = _DDL_RETURNS.match(ddl, end + 1) if end is not None else None
    if end is None or returns is None:
        return None
    arguments = []
    for text in _split_arguments(ddl[start.end() : end]):
        argument = _DDL_ARGUMENT.fullmatch(text)
        if argument is None:
            return None
        name = argument[1].replace('""', '"') if argument[1] is not None else argument[2].upper()
        arguments.append((name, _normalized_type(argument[3])))
    rest = _LITERAL.sub("''", ddl[returns.end() : url.start()])  # a COMMENT or header value can say anything
    integration = bound_integration(rest)
    if integration is None:
        return None
    batch = _MAX_BATCH_ROWS.search(rest)
    return Definition(
        arguments=tuple(arguments),
        returns=_normalized_type(returns[1]),
        not_null=_NOT_NULL.match(rest) is not None,
        strict=_STRICT.search(rest) is not None,
        volatile=_IMMUTABLE.search(rest) is None,  # VOLATILE is the default
        integration=integration,
        max_batch_rows=int(batch[1]) if batch else None,
        url=url[1].replace("''", "'"),
    )


def _closing_parenthesis(text: str, start: int) -> int | None:
    """The index of the ``)`` closing the ``(`` just before ``start``, skipping quoted names."""
    depth, quoted = 1, False
    for index in range(start, len(text)):
        character = text[index]
        if character == '"':
            quoted = not quoted
        elif not quoted and character == "(":
            depth += 1
        elif not quoted and character == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _split_arguments(text: str) -> list[str]:
    """``"A" VARCHAR(16777216), "B" NUMBER(38,0)`` into its arguments (commas in types or names kept)."""
    if not text.strip():
        return []
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for character in text:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in "()":
            depth += 1 if character == "(" else -1
        elif not quoted and depth == 0 and character == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(character)
    parts.append("".join(current))
    return parts


def _normalized_type(text: str) -> str:
    """``VARCHAR(16777216)`` -> ``VARCHAR`` and ``NUMBER(38,0)`` -> ``NUMBER``, as they are declared."""
    name = re.sub(r"\s+", "", text).upper()
    if name.startswith("VARCHAR("):
        return "VARCHAR"
    return "NUMBER" if name == "NUMBER(38,0)" else name


def unalterable_difference(function: SnowflakeFunction, current: Definition) -> str | None:
    """What keeps CREATE OR ALTER from turning ``current`` into ``function``, or None if it can.

    Our statements declare no NOT NULL and no STRICT, so a function that has either differs too.
    """
    differences = (
        ("argument names", current.arguments != function.arguments),
        ("return type", current.returns != function.returns),
        ("NOT NULL", current.not_null),
        ("RETURNS NULL ON NULL INPUT", current.strict),
        ("volatility", current.volatile != function.volatile),
        ("URL", current.url != function.url),
    )
    return next((what for what, differs in differences if differs), None)


def previous_function(function: SnowflakeFunction, current: Definition) -> SnowflakeFunction:
    """``function`` as ``current`` defined it, to put back; raises if that cannot be stated safely."""
    return SnowflakeFunction(
        database=function.database,
        schema=function.schema,
        name=function.name,
        arguments=current.arguments,
        returns=current.returns,
        volatile=current.volatile,
        url=current.url,
        max_batch_rows=current.max_batch_rows,
        origin=f"the previous definition of {function.signature}",
    )

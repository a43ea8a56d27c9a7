"""The Snowflake integration custom resource against the stand-ins.

fakesnow 0.12.1 (server mode, real connector) logs in and runs queries but executes none of the
integration DDL: SHOW INTEGRATIONS, CREATE/ALTER API INTEGRATION, CREATE OR ALTER / CREATE OR
REPLACE EXTERNAL FUNCTION, ALTER FUNCTION and GRANT are parser errors, GET_DDL is an unknown
function, and DESCRIBE INTEGRATION, DROP FUNCTION and DROP INTEGRATION crash its server (HTTP 500,
retried by the connector until its network timeout). ``test_fakesnow_cannot_run_integration_ddl``
pins that down. So:

- the real ``on_event`` runs against fakesnow for what it can show: the key-pair/password
  secret read from moto, the connection settings, and Snowflake's errors and timeouts
  arriving at CloudFormation as one sentence;
- the converge/tear-down logic runs with :class:`StandInSnowflake`, which plays Snowflake at the
  network edge (records statements, keeps integrations, functions and grants, answers SHOW
  INTEGRATIONS, DESCRIBE INTEGRATION, SHOW GRANTS and GET_DDL), while the trust policy is written
  to and read back from moto's IAM.

What the stand-in does as Snowflake documents it:

- SHOW INTEGRATIONS LIKE matches case-insensitively with ``%`` and ``_`` as wildcards
  (docs.snowflake.com/en/sql-reference/sql/show-integrations);
- CREATE OR ALTER EXTERNAL FUNCTION keeps the grants on the function and changes only what
  ALTER FUNCTION can (API_INTEGRATION, COMPRESSION, MAX_BATCH_ROWS among ours); a different URL,
  return type, volatility or argument name is refused
  (docs.snowflake.com/en/sql-reference/sql/create-external-function, /sql/create-or-alter);
  Snowflake documents no error text for that, so the stand-in's is its own. An omitted
  MAX_BATCH_ROWS is kept, as before bundle 2026_04 (``reset_omitted`` models the bundle:
  docs.snowflake.com/en/release-notes/bcr-bundles/2026_04/bcr-2264);
- CREATE OR REPLACE drops every grant on the function; ``grants_lost`` records each statement
  that left a function which had grants with none;
- GRANT ... WITH GRANT OPTION, and SHOW GRANTS with its grant_option column
  (docs.snowflake.com/en/sql-reference/sql/show-grants);
- GET_DDL answers in Snowflake's shape: quoted names, VARCHAR(16777216) and NUMBER(38,0),
  VOLATILE and COMPRESSION = AUTO left out as defaults, ``AS '<url>';`` last.
- The Create clean-up exists because the CDK Provider framework answers a failed Create with
  the physical id AWSCDK::CustomResourceProviderFramework::CREATE_FAILED and ignores the Delete
  that follows (aws/aws-cdk#5525), so the tests of a failed Create send no Delete.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from local_mode.standins import Server, fakesnow_connection, free_port
from snowflake_integration import handler, statements
from snowflake_integration.lifecycle import SetupFailedError
from snowflake_integration.properties import parse_properties
from snowflake_integration.statements import InvalidPropertyError

pytestmark = pytest.mark.integration

PREFIX = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"
IAM_USER_ARN = "arn:aws:iam::999999999999:user/abc1-b-self1234"
INTEGRATION = "MOVIELENS_RECOMMENDER_API"
TRAIN = "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR)"
TRAIN_WITH_OPTIONS = "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR, OBJECT)"
STATUS = "MOVIELENS.PUBLIC.PIPELINE_STATUS(VARCHAR)"
NEW_STATUS = "MOVIELENS.PUBLIC.RECOMMENDER_STATUS(VARCHAR)"
SHOW_INTEGRATION = f"SHOW INTEGRATIONS LIKE '{INTEGRATION}'"
CREATE_INTEGRATION = (
    f"CREATE API INTEGRATION IF NOT EXISTS {INTEGRATION} API_PROVIDER = aws_api_gateway "
    "API_AWS_ROLE_ARN = '{role_arn}' "
    "API_ALLOWED_PREFIXES = ('https://abc123.execute-api.us-east-1.amazonaws.com/prod/') "
    "ENABLED = TRUE COMMENT = 'Recommender functions; managed by CloudFormation'"
)
ALTER_INTEGRATION = (
    f"ALTER API INTEGRATION {INTEGRATION} SET "
    "API_AWS_ROLE_ARN = '{role_arn}' "
    "API_ALLOWED_PREFIXES = ('https://abc123.execute-api.us-east-1.amazonaws.com/prod/') "
    "ENABLED = TRUE COMMENT = 'Recommender functions; managed by CloudFormation'"
)
CREATE_TRAIN = (
    "CREATE OR ALTER EXTERNAL FUNCTION MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS"
    f"(INPUT_TABLE VARCHAR, OUTPUT_TABLE VARCHAR) RETURNS VARIANT VOLATILE API_INTEGRATION = {INTEGRATION} "
    "MAX_BATCH_ROWS = 1 COMPRESSION = AUTO AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/train'"
)
CREATE_TRAIN_WITH_OPTIONS = (
    "CREATE OR ALTER EXTERNAL FUNCTION MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS"
    "(INPUT_TABLE VARCHAR, OUTPUT_TABLE VARCHAR, OPTIONS OBJECT) RETURNS VARIANT VOLATILE "
    f"API_INTEGRATION = {INTEGRATION} COMPRESSION = AUTO "
    "AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/train'"
)
CREATE_STATUS = (
    "CREATE OR ALTER EXTERNAL FUNCTION MOVIELENS.PUBLIC.PIPELINE_STATUS(NAME VARCHAR) RETURNS VARIANT IMMUTABLE "
    f"API_INTEGRATION = {INTEGRATION} MAX_BATCH_ROWS = 20 COMPRESSION = AUTO "
    "AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/status'"
)


def grants(signature: str) -> list[str]:
    return [f"GRANT USAGE ON FUNCTION {signature} TO ROLE {role}" for role in ("ANALYST", "DATA_SCIENTIST")]


def show(signature: str) -> str:
    return f"SHOW GRANTS ON FUNCTION {signature}"


def ddl(signature: str) -> str:
    return f"SELECT GET_DDL('FUNCTION', '{signature}')"


def drop(signature: str) -> list[str]:
    return [ddl(signature), f"DROP FUNCTION IF EXISTS {signature}"]


def replaced(create: str) -> str:
    return create.replace("CREATE OR ALTER ", "CREATE OR REPLACE ", 1)


# -- a stand-in for Snowflake at the network edge ----------------------------------------


@dataclass(frozen=True)
class StandInFunction:
    """An external function as the stand-in keeps it; types as declared (VARCHAR, NUMBER, ...)."""

    arguments: tuple[tuple[str, str], ...]
    returns: str
    volatile: bool
    integration: str
    url: str
    max_batch_rows: int | None = None
    compression: str = "AUTO"


class StandInSnowflake:
    """Plays Snowflake for one cursor: records statements and keeps what they created.

    Each integration gets an external ID with ``+``, ``/`` and ``=`` when it is created, and
    keeps it until dropped, as Snowflake does. ``failures`` maps a statement prefix to the
    error Snowflake answers it with. ``grants`` holds (signature, grantee) pairs, and
    ``grant_options`` those held WITH GRANT OPTION.
    """

    def __init__(self, *, reset_omitted: bool = False) -> None:
        self.statements: list[str] = []
        self.integrations: dict[str, str] = {}  # name -> external id
        self.functions: dict[str, StandInFunction] = {}  # signature -> definition
        self.grants: set[tuple[str, str]] = set()
        self.grant_options: set[tuple[str, str]] = set()
        self.grants_lost: list[str] = []  # statements that left a function which had grants with none
        self.failures: dict[str, ProgrammingError] = {}
        self.sessions: list[Any] = []
        self.reset_omitted = reset_omitted  # bundle 2026_04: CREATE OR ALTER resets what it omits
        self.unknown_ddl: set[str] = set()  # signatures whose GET_DDL text comes in a form no reader knows
        self._rows: list[tuple[Any, ...]] = []
        self.description: list[tuple[str, ...]] | None = None

    def open_cursor(self, settings: Any) -> contextlib.AbstractContextManager[StandInSnowflake]:
        self.sessions.append(settings)
        return contextlib.nullcontext(self)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def bindings(self) -> dict[str, str]:
        """signature -> the integration each function calls through."""
        return {signature: function.integration for signature, function in self.functions.items()}

    def execute(self, command: str) -> StandInSnowflake:
        self.statements.append(command)
        self._rows, self.description = [], None
        for prefix, error in self.failures.items():
            if command.startswith(prefix):
                raise error
        for pattern, answer in self._grammar():
            match = re.fullmatch(pattern, command)
            if match:
                answer(*match.groups())
                return self
        raise AssertionError(f"the stand-in does not know this statement: {command}")

    def _grammar(self) -> list[tuple[str, Any]]:
        option = r"( WITH GRANT OPTION)?"
        return [
            (r"SHOW INTEGRATIONS LIKE '([^']*)'", self._show_integrations),
            (r"CREATE API INTEGRATION IF NOT EXISTS (\w+) API_PROVIDER = aws_(?:gov_)?api_gateway .*", self._create),
            (r"ALTER API INTEGRATION (\w+) SET .*", self._existing),
            (r"DESCRIBE INTEGRATION (\w+)", self._describe),
            (
                r"CREATE OR (ALTER|REPLACE) EXTERNAL FUNCTION ([\w.]+)\((.*?)\) RETURNS (\w+) (VOLATILE|IMMUTABLE) "
                r"API_INTEGRATION = (\w+)(?: MAX_BATCH_ROWS = (\d+))? COMPRESSION = (\w+) AS '([^']*)'",
                self._function,
            ),
            (r"ALTER FUNCTION (.+) UNSET MAX_BATCH_ROWS", self._unset_max_batch_rows),
            (rf"GRANT USAGE ON FUNCTION (.+) TO ROLE (\w+){option}", self._grant),
            (
                rf'GRANT USAGE ON FUNCTION (.+) TO ROLE "((?:[^"]|"")+)"{option}',
                lambda sig, role, with_option: self._grant(sig, role.replace('""', '"'), with_option),
            ),
            (r"SHOW GRANTS ON FUNCTION (.+)", self._show_grants),
            (rf'GRANT USAGE ON FUNCTION (.+) TO DATABASE ROLE "(\w+)"\."(\w+)"{option}', self._grant_database_role),
            (r"SELECT GET_DDL\('FUNCTION', '(.+)'\)", self._ddl),
            (r"DROP FUNCTION IF EXISTS (.+)", self._drop_function),
            (r"DROP INTEGRATION IF EXISTS (\w+)", self._drop_integration),
        ]

    def _show_integrations(self, pattern: str) -> None:
        like = "".join({"%": ".*", "_": "."}.get(character, re.escape(character)) for character in pattern)
        self.description = [(name,) for name in ("name", "type", "category", "enabled", "comment", "created_on")]
        self._rows = [
            (name, "EXTERNAL_API", "API", "true", "", "2026-11-30")
            for name in sorted(self.integrations)
            if re.fullmatch(like, name, re.IGNORECASE)
        ]

    def _create(self, name: str) -> None:
        self.integrations.setdefault(name, f"ABC123_SFCRole=2_{uuid.uuid4().hex[:8]}+def/ghi=")

    def _existing(self, name: str) -> None:
        if name not in self.integrations:
            raise missing(f"Integration '{name}'")

    def _describe(self, name: str) -> None:
        self._existing(name)
        self._rows = [
            ("ENABLED", "Boolean", "true", "false"),
            ("API_ALLOWED_PREFIXES", "List", PREFIX, "[]"),
            ("API_AWS_IAM_USER_ARN", "String", IAM_USER_ARN, ""),
            ("API_AWS_ROLE_ARN", "String", "arn:aws:iam::123456789012:role/x", ""),
            ("API_AWS_EXTERNAL_ID", "String", self.integrations[name], ""),
        ]

    def _function(self, mode: str, name: str, arguments: str, *definition: str | None) -> None:
        returns, volatility, integration, batch, compression, url = definition
        self._existing(integration)  # the DDL role needs USAGE on it
        pairs = tuple(tuple(argument.split(" ")) for argument in arguments.split(", ") if argument)
        signature = f"{name}({', '.join(type_name for _, type_name in pairs)})"
        wanted = StandInFunction(
            pairs, returns, volatility == "VOLATILE", integration, url, int(batch) if batch else None, compression
        )
        old = self.functions.get(signature)
        if mode == "REPLACE" or old is None:
            self.functions[signature] = wanted
            self._revoke_all(signature, command=self.statements[-1])
            return
        for what, field_name in (("arguments", "arguments"), ("return type", "returns"), ("volatility", "volatile"),
                                 ("URL", "url")):  # fmt: skip
            if getattr(old, field_name) != getattr(wanted, field_name):
                raise ProgrammingError(
                    msg=f"SQL compilation error:\nCREATE OR ALTER cannot change the {what} of function '{signature}'.",
                    errno=2212,  # Snowflake documents no error for this: a compilation error of the stand-in's own
                    sqlstate="0A000",
                )
        keep_batch = wanted.max_batch_rows is None and not self.reset_omitted
        self.functions[signature] = replace(wanted, max_batch_rows=old.max_batch_rows) if keep_batch else wanted

    def _unset_max_batch_rows(self, signature: str) -> None:
        if signature not in self.functions:
            raise missing(f"Function '{signature}'")
        self.functions[signature] = replace(self.functions[signature], max_batch_rows=None)

    def _grant(self, signature: str, role: str, with_option: str | None = None) -> None:
        if signature not in self.functions:
            raise missing(f"Function '{signature}'")
        self.grants.add((signature, role))
        if with_option:  # a grant without the option never takes it away
            self.grant_options.add((signature, role))

    def _grant_database_role(self, signature: str, database: str, role: str, with_option: str | None) -> None:
        self._grant(signature, f"{DATABASE_ROLE}{database}.{role}", with_option)

    def _show_grants(self, signature: str) -> None:
        """Snowflake's columns, found by name; database roles named without their database (bundle 2026_06)."""
        if signature not in self.functions:
            raise missing(f"Function '{signature}'")
        self.description = [(name,) for name in SHOW_GRANTS_COLUMNS]

        def row(privilege: str, grantee: str, by: str, option: bool) -> tuple[str, ...]:
            kind, name = (
                ("DATABASE_ROLE", grantee.removeprefix(DATABASE_ROLE).split(".")[-1])
                if grantee.startswith(DATABASE_ROLE)
                else ("ROLE", grantee)
            )
            return ("2026-11-30", privilege, "FUNCTION", signature, kind, name, str(option).lower(), by)

        owner = [row("OWNERSHIP", "RECOMMENDER_DEPLOYER", "X", True)]
        usage = [
            row("USAGE", grantee, "RECOMMENDER_DEPLOYER", (s, grantee) in self.grant_options)
            for s, grantee in sorted(self.grants)
            if s == signature
        ]
        self._rows = owner + usage

    def _ddl(self, signature: str) -> None:
        """GET_DDL's text, shaped like Snowflake's (see the module docstring)."""
        function = self.functions.get(signature)
        if function is None:
            raise missing(f"Function '{signature}'")
        if signature in self.unknown_ddl:
            self._rows = [(f"-- a future shape of GET_DDL for {signature}",)]
            return
        shown = {"VARCHAR": "VARCHAR(16777216)", "NUMBER": "NUMBER(38,0)"}
        arguments = ", ".join(f'"{name}" {shown.get(type_name, type_name)}' for name, type_name in function.arguments)
        lines = [
            f'CREATE OR REPLACE EXTERNAL FUNCTION "{signature.split("(")[0].split(".")[-1]}"({arguments})',
            f"RETURNS {shown.get(function.returns, function.returns)}",
            *([] if function.volatile else ["IMMUTABLE"]),
            f'API_INTEGRATION = "{function.integration}"',
            *([] if function.max_batch_rows is None else [f"MAX_BATCH_ROWS = {function.max_batch_rows}"]),
            *([] if function.compression == "AUTO" else [f"COMPRESSION = {function.compression}"]),
            f"AS '{function.url}';",
        ]
        self._rows = [("\n".join(lines),)]

    def _drop_integration(self, name: str) -> None:
        self.integrations.pop(name, None)

    def _drop_function(self, signature: str) -> None:
        self.functions.pop(signature, None)
        self._revoke_all(signature, command=None)

    def _revoke_all(self, signature: str, *, command: str | None) -> None:
        if command is not None and any(s == signature for s, _ in self.grants):
            self.grants_lost.append(command)
        self.grants = {(s, grantee) for s, grantee in self.grants if s != signature}
        self.grant_options = {(s, grantee) for s, grantee in self.grant_options if s != signature}


DATABASE_ROLE = "database role:"  # marks a database role among the stand-in's grantees
# SHOW GRANTS ON <object>, as documented; newer bundles add columns, so readers go by name
SHOW_GRANTS_COLUMNS = (
    "created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option", "granted_by"
)  # fmt: skip


def missing(what: str) -> ProgrammingError:
    return ProgrammingError(
        msg=f"SQL compilation error:\n{what} does not exist or not authorized.", errno=2003, sqlstate="02000"
    )


# -- events ---------------------------------------------------------------------------------


def resource_properties(role_arn: str, role_name: str, **changes: Any) -> dict[str, Any]:
    properties = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
        "IntegrationName": INTEGRATION,
        "ApiRoleArn": role_arn,
        "ApiRoleName": role_name,
        "AllowedPrefix": PREFIX,
        "Database": "MOVIELENS",
        "Schema": "PUBLIC",
        "Comment": "Recommender functions; managed by CloudFormation",
        "Functions": [
            {
                "Name": "TRAIN_AND_GET_RECOMMENDATIONS",
                "Arguments": [["INPUT_TABLE", "VARCHAR"], ["OUTPUT_TABLE", "VARCHAR"]],
                "Returns": "VARIANT",
                "Volatile": "true",
                "Url": f"{PREFIX}train",
                "MaxBatchRows": "1",
            },
            {
                "Name": "TRAIN_AND_GET_RECOMMENDATIONS",
                "Arguments": [["INPUT_TABLE", "VARCHAR"], ["OUTPUT_TABLE", "VARCHAR"], ["OPTIONS", "OBJECT"]],
                "Returns": "VARIANT",
                "Volatile": "true",
                "Url": f"{PREFIX}train",
            },
            {
                "Name": "PIPELINE_STATUS",
                "Arguments": [["NAME", "VARCHAR"]],
                "Returns": "VARIANT",
                "Volatile": "false",
                "Url": f"{PREFIX}status",
                "MaxBatchRows": "20",
            },
        ],
        "GrantRoles": ["ANALYST", "DATA_SCIENTIST"],
        "Connection": {
            "Account": "myorg-myaccount",
            "User": "CDK_DEPLOYER",
            "Role": "ACCOUNTADMIN",
            "Warehouse": "COMPUTE_WH",
            "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:standin-key-AbCdEf",
        },
        "Retain": "false",
        "IamPropagationSeconds": "10",
    }
    properties.update(changes)
    return properties


def event(request: str, properties: dict[str, Any], *, old: dict | None = None, physical_id: str | None = None):
    body = {
        "RequestType": request,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/never-used",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/Recommender-dev/guid",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "SnowflakeResource",
        "ResourceType": "Custom::SnowflakeIntegration",
        "ResourceProperties": properties,
    }
    if old is not None:
        body["OldResourceProperties"] = old
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    return body


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


@pytest.fixture
def api_role(iam) -> SimpleNamespace:
    """A fresh role in moto whose trust policy the handler must replace."""
    name = f"Stack-SnowflakeApiRole-{uuid.uuid4().hex[:8]}"
    placeholder = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(placeholder))["Role"]["Arn"]
    return SimpleNamespace(name=name, arn=arn)


@pytest.fixture
def standin() -> StandInSnowflake:
    return StandInSnowflake()


@pytest.fixture
def props(api_role) -> dict[str, Any]:
    return resource_properties(api_role.arn, api_role.name)


class Run:
    """``handler.respond`` with the stand-in cursor and moto's IAM; remembers the waits."""

    def __init__(self, standin: StandInSnowflake, iam: Any) -> None:
        self.standin, self.iam = standin, iam
        self.waits: list[tuple[float, int]] = []  # (seconds, statements executed before the wait)

    def __call__(self, request_event: dict[str, Any]) -> dict[str, Any]:
        return handler.respond(request_event, open_cursor=self.standin.open_cursor, iam=self.iam, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.waits.append((seconds, len(self.standin.statements)))


@pytest.fixture
def run(standin, iam) -> Run:
    return Run(standin, iam)


def trust_policy_in_iam(iam, role_name: str) -> dict[str, Any]:
    return iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]


def expected_trust_policy(external_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": IAM_USER_ARN},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def converge_statements(role_arn: str, *, create: bool = False) -> list[str]:
    """A Create first looks the integration up, to know what it may undo; an Update does not."""
    return [
        *([SHOW_INTEGRATION] if create else []),
        CREATE_INTEGRATION.format(role_arn=role_arn),
        ALTER_INTEGRATION.format(role_arn=role_arn),
        f"DESCRIBE INTEGRATION {INTEGRATION}",
        ddl(TRAIN),
        CREATE_TRAIN,
        *grants(TRAIN),
        ddl(TRAIN_WITH_OPTIONS),
        CREATE_TRAIN_WITH_OPTIONS,
        *grants(TRAIN_WITH_OPTIONS),
        ddl(STATUS),
        CREATE_STATUS,
        *grants(STATUS),
    ]


# -- Create / Update / Delete with the stand-in ---------------------------------------------


def test_create_runs_the_exact_statements_and_writes_the_trust_policy(run, standin, iam, api_role, props):
    answer = run(event("Create", props))

    assert standin.statements == converge_statements(api_role.arn, create=True)
    external_id = standin.integrations[INTEGRATION]
    assert "+" in external_id and "=" in external_id
    assert trust_policy_in_iam(iam, api_role.name) == expected_trust_policy(external_id)
    # the wait for IAM comes after DESCRIBE INTEGRATION and before the first function
    assert run.waits == [(10, 4)]
    assert answer == {
        "PhysicalResourceId": INTEGRATION,
        "Data": {
            "IntegrationName": INTEGRATION,
            "IamUserArn": IAM_USER_ARN,
            "ExternalId": external_id,
            "Functions": f"{TRAIN}, {TRAIN_WITH_OPTIONS}, {STATUS}",
        },
    }
    assert set(standin.functions) == {TRAIN, TRAIN_WITH_OPTIONS, STATUS}
    assert len(standin.grants) == 6
    assert len(json.dumps(answer["Data"])) < 4096


def test_update_drops_a_renamed_function_after_creating_its_successor(run, standin, iam, api_role, props):
    run(event("Create", props))
    external_id = standin.integrations[INTEGRATION]
    new = copy.deepcopy(props)
    new["Functions"][2]["Name"] = "RECOMMENDER_STATUS"
    del new["Functions"][1]  # the overload with options is gone
    standin.statements.clear()

    answer = run(event("Update", new, old=props, physical_id=INTEGRATION))

    create_new_status = CREATE_STATUS.replace("PIPELINE_STATUS", "RECOMMENDER_STATUS")
    assert standin.statements == [
        *converge_statements(api_role.arn)[:3],
        ddl(TRAIN),
        CREATE_TRAIN,
        *grants(TRAIN),
        ddl(NEW_STATUS),
        create_new_status,
        *grants(NEW_STATUS),
        *drop(TRAIN_WITH_OPTIONS),
        *drop(STATUS),
    ]
    assert set(standin.functions) == {TRAIN, NEW_STATUS}
    assert standin.integrations[INTEGRATION] == external_id  # never re-created
    assert trust_policy_in_iam(iam, api_role.name) == expected_trust_policy(external_id)
    assert answer["PhysicalResourceId"] == INTEGRATION
    assert answer["Data"]["Functions"] == f"{TRAIN}, {NEW_STATUS}"


def test_update_is_idempotent(run, standin, iam, api_role, props):
    run(event("Create", props))
    standin.statements.clear()
    first = run(event("Update", props, old=props, physical_id=INTEGRATION))
    first_statements = list(standin.statements)
    standin.statements.clear()
    second = run(event("Update", props, old=props, physical_id=INTEGRATION))

    assert standin.statements == first_statements == converge_statements(api_role.arn)
    assert second == first
    assert trust_policy_in_iam(iam, api_role.name) == expected_trust_policy(first["Data"]["ExternalId"])


def test_update_that_moves_the_role_points_the_integration_at_it(run, standin, iam, api_role, props):
    run(event("Create", props))
    external_id = standin.integrations[INTEGRATION]
    other = f"Other-SnowflakeApiRole-{uuid.uuid4().hex[:8]}"
    other_arn = iam.create_role(
        RoleName=other, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    moved = resource_properties(other_arn, other)
    standin.statements.clear()

    run(event("Update", moved, old=props, physical_id=INTEGRATION))

    assert standin.statements[1] == ALTER_INTEGRATION.format(role_arn=other_arn)
    assert trust_policy_in_iam(iam, other) == expected_trust_policy(external_id)


def test_delete_drops_functions_then_the_integration(run, standin, props):
    run(event("Create", props))
    standin.statements.clear()

    answer = run(event("Delete", props, physical_id=INTEGRATION))

    assert standin.statements == [
        *drop(TRAIN),
        *drop(TRAIN_WITH_OPTIONS),
        *drop(STATUS),
        f"DROP INTEGRATION IF EXISTS {INTEGRATION}",
    ]
    assert answer == {"PhysicalResourceId": INTEGRATION}
    assert standin.functions == {} and standin.integrations == {} and standin.grants == set()


def test_delete_with_retain_keeps_the_integration(run, standin, props):
    retained = {**props, "Retain": "true"}
    run(event("Create", retained))
    external_id = standin.integrations[INTEGRATION]
    standin.statements.clear()

    run(event("Delete", retained, physical_id=INTEGRATION))

    assert standin.statements == [*drop(TRAIN), *drop(TRAIN_WITH_OPTIONS), *drop(STATUS)]
    assert standin.functions == {}
    assert standin.integrations == {INTEGRATION: external_id}


def test_delete_when_everything_is_already_gone_succeeds(run, standin, props):
    answer = run(event("Delete", props, physical_id=INTEGRATION))

    assert answer == {"PhysicalResourceId": INTEGRATION}
    assert standin.statements[-1] == f"DROP INTEGRATION IF EXISTS {INTEGRATION}"
    assert len(standin.statements) == 7


def test_delete_when_the_database_is_gone_succeeds(run, standin, props):
    standin.failures["DROP FUNCTION"] = missing("Database 'MOVIELENS'")

    run(event("Delete", props, physical_id=INTEGRATION))

    assert standin.statements[-1] == f"DROP INTEGRATION IF EXISTS {INTEGRATION}"


def test_delete_of_the_old_name_after_a_rename_keeps_the_new_integrations_functions(run, standin, api_role, props):
    run(event("Create", props))
    renamed = {**props, "IntegrationName": "RECOMMENDER_API_V2"}
    answer = run(event("Update", renamed, old=props, physical_id=INTEGRATION))
    assert answer["PhysicalResourceId"] == "RECOMMENDER_API_V2"
    standin.statements.clear()

    # CloudFormation then deletes the old physical resource with the old properties
    run(event("Delete", props, physical_id=INTEGRATION))

    assert standin.statements == [
        f"SELECT GET_DDL('FUNCTION', '{TRAIN}')",
        f"SELECT GET_DDL('FUNCTION', '{TRAIN_WITH_OPTIONS}')",
        f"SELECT GET_DDL('FUNCTION', '{STATUS}')",
        f"DROP INTEGRATION IF EXISTS {INTEGRATION}",
    ]
    assert standin.bindings() == dict.fromkeys([TRAIN, TRAIN_WITH_OPTIONS, STATUS], "RECOMMENDER_API_V2")
    assert set(standin.integrations) == {"RECOMMENDER_API_V2"}


def test_delete_of_a_resource_that_was_never_created_touches_nothing(run, standin, props):
    answer = run(event("Delete", props, physical_id="2f1c9a3e-failed-create"))

    assert answer == {"PhysicalResourceId": "2f1c9a3e-failed-create"}
    assert standin.statements == [] and standin.sessions == []


def test_bad_properties_fail_before_anything_runs(run, standin, iam, api_role, props):
    bad = copy.deepcopy(props)
    bad["Functions"][1]["Url"] = f"{PREFIX}train'); DROP DATABASE MOVIELENS; --"

    with pytest.raises(InvalidPropertyError, match=r"^Functions\[1\]\.Url must be an https:// URL"):
        run(event("Create", bad))

    assert standin.statements == [] and standin.sessions == []
    assert "Condition" not in json.dumps(trust_policy_in_iam(iam, api_role.name))


def test_snowflake_error_reaches_cloudformation_as_one_sentence(run, standin, props):
    standin.failures["GRANT USAGE ON FUNCTION"] = ProgrammingError(
        msg="SQL compilation error:\nRole 'DATA_SCIENTIST' does not exist or not authorized.",
        errno=2003,
        sqlstate="02000",
    )

    with pytest.raises(SetupFailedError) as caught:
        run(event("Create", props))

    assert str(caught.value) == (
        f"Snowflake could not grant usage on {TRAIN} to role ANALYST: 002003 (02000): SQL compilation error: "
        "Role 'DATA_SCIENTIST' does not exist or not authorized."
    )


def test_missing_iam_role_stops_before_the_functions_and_the_create_drops_its_integration(run, standin, props):
    """IAM refuses the trust policy: the integration this Create made goes, its error stays the sentence."""
    gone = resource_properties("arn:aws:iam::123456789012:role/NoSuchRole", "NoSuchRole")

    with pytest.raises(
        SetupFailedError, match=r"^Cannot update the trust policy of IAM role NoSuchRole: .*not found\.$"
    ):
        run(event("Create", gone))

    role_arn = "arn:aws:iam::123456789012:role/NoSuchRole"
    assert standin.statements == [
        *converge_statements(role_arn, create=True)[:4],
        f"DROP INTEGRATION IF EXISTS {INTEGRATION}",
    ]
    assert standin.integrations == {} and standin.functions == {}
    assert run.waits == []


def test_unreadable_old_properties_drop_nothing(run, standin, props):
    run(event("Create", props))
    standin.statements.clear()

    run(event("Update", props, old={"IntegrationName": "not valid!"}, physical_id=INTEGRATION))

    assert not any(s.startswith("DROP") for s in standin.statements)
    # GET_DDL reads only the wanted functions, to alter them, never a gone one's binding before a drop
    assert [s for s in standin.statements if s.startswith("SELECT GET_DDL")] == [
        ddl(TRAIN),
        ddl(TRAIN_WITH_OPTIONS),
        ddl(STATUS),
    ]


# -- the real handler against fakesnow and moto ---------------------------------------------


@pytest.fixture
def lambda_aws(aws_env, monkeypatch) -> None:
    """The Lambda's boto3 default clients reach moto."""
    for key, value in aws_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_REGION", aws_env["AWS_DEFAULT_REGION"])


@pytest.fixture
def password_secret(aws_client) -> SimpleNamespace:
    password = f"pw-{uuid.uuid4().hex}"
    arn = aws_client("secretsmanager").create_secret(
        Name=f"standin-integration/{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"password": password})
    )["ARN"]
    return SimpleNamespace(arn=arn, password=password)


def connection_property(server: Server, secret_arn: str, **extra: str) -> dict[str, str]:
    return {
        "Account": "fakesnow",
        "User": "CDK_DEPLOYER",
        "Role": "ACCOUNTADMIN",
        "Warehouse": "COMPUTE_WH",
        "SecretArn": secret_arn,
        "Host": server.host,
        "Port": str(server.port),
        "Protocol": "http",
        "LoginTimeoutSeconds": "10",
        "NetworkTimeoutSeconds": "2",  # fakesnow answers unsupported DDL with HTTP 500, which the connector retries
        **extra,
    }


CONTEXT = SimpleNamespace(aws_request_id="request-1")


@pytest.fixture(scope="module")
def fakesnow_cursor(fakesnow: Server) -> Iterator[Any]:
    connection = fakesnow_connection(
        fakesnow.port, host=fakesnow.host, user="probe", login_timeout=10, network_timeout=2
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS MOVIELENS")
        cursor.execute("CREATE SCHEMA IF NOT EXISTS MOVIELENS.PUBLIC")
        yield cursor
    connection.close()


def _probe_setup():
    return parse_properties(resource_properties("arn:aws:iam::123456789012:role/R", "R"))


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        (lambda s: statements.show_integrations(s.integration.name), "Parser Error"),
        (lambda s: statements.create_integration(s.integration), "Parser Error"),
        (lambda s: statements.alter_integration(s.integration), "Parser Error"),
        (lambda s: statements.create_or_alter_function(s.functions[0], s.integration.name), "Parser Error"),
        (lambda s: statements.replace_function(s.functions[0], s.integration.name), "Parser Error"),
        (lambda s: statements.unset_max_batch_rows(s.functions[0]), "Parser Error"),
        (lambda s: statements.grant_usage(s.functions[0], "ANALYST", grant_option=True), "Parser Error"),
        (lambda s: statements.function_ddl(s.functions[0]), "get_ddl does not exist"),
        (lambda s: statements.describe_integration(s.integration.name), "HTTP 500"),
        (lambda s: statements.drop_function(s.functions[0]), "HTTP 500"),
        (lambda s: statements.drop_integration(s.integration.name), "HTTP 500"),
    ],
    ids=[
        "show-integrations",
        "create-integration",
        "alter-integration",
        "create-or-alter-function",
        "replace-function",
        "unset-max-batch-rows",
        "grant-with-grant-option",
        "get-ddl",
        "describe",
        "drop-function",
        "drop-integration",
    ],
)
def test_fakesnow_cannot_run_integration_ddl(fakesnow_cursor, statement, error):
    """Why the lifecycle tests use a stand-in: if this starts failing, move them onto fakesnow."""
    with pytest.raises(snowflake.connector.errors.Error, match=error):
        fakesnow_cursor.execute(statement(_probe_setup()))
    assert fakesnow_cursor.execute("SELECT 1").fetchall() == [(1,)]


def test_on_event_connects_with_the_secret_and_reports_snowflakes_refusal(
    lambda_aws, fakesnow, password_secret, api_role
):
    props = resource_properties(
        api_role.arn, api_role.name, Connection=connection_property(fakesnow, password_secret.arn)
    )

    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Create", props), CONTEXT)

    message = str(caught.value)
    assert message.startswith(
        f"Snowflake could not look up API integration {INTEGRATION}: 001003 (42000): Parser Error: "
        'syntax error at or near "LIKE"'
    )
    assert message.endswith(".") and "\n" not in message
    assert password_secret.password not in message


def test_a_privatelink_connection_refuses_a_password_secret(lambda_aws, fakesnow, password_secret, api_role):
    """Issue 23: a Host used to be enough to accept a password; a PrivateLink deployment sets one. Even in this
    process, which sets the stand-in flag, a password signs in to loopback stand-ins only."""
    host = "myorg-myaccount.privatelink.snowflakecomputing.com"
    connection = connection_property(fakesnow, password_secret.arn, Host=host, Port="443", Protocol="https")
    props = resource_properties(api_role.arn, api_role.name, Connection=connection)

    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Create", props), CONTEXT)

    assert str(caught.value) == (
        f"Secret {password_secret.arn} holds a password, which only a local stand-in accepts here: store the "
        "Snowflake user's RSA private key instead (key-pair authentication)."
    )


def test_on_event_delete_reports_a_failing_server_within_the_network_timeout(lambda_aws, fakesnow, password_secret):
    props = resource_properties(
        "arn:aws:iam::123456789012:role/R", "R", Connection=connection_property(fakesnow, password_secret.arn)
    )
    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Delete", props, physical_id=INTEGRATION), CONTEXT)

    assert (
        str(caught.value)
        == f"Snowflake could not drop external function {TRAIN}: 290500: HTTP 500: Internal Server Error."
    )


def test_on_event_reports_unreachable_snowflake_quickly(lambda_aws, fakesnow, password_secret):
    closed = free_port()
    connection = connection_property(fakesnow, password_secret.arn, Port=str(closed), LoginTimeoutSeconds="2")
    props = resource_properties("arn:aws:iam::123456789012:role/R", "R", Connection=connection)
    with pytest.raises(SetupFailedError) as caught:
        handler.on_event(event("Create", props), CONTEXT)

    message = str(caught.value)
    assert message.startswith("Cannot connect to Snowflake account fakesnow as user CDK_DEPLOYER within 2 s: 250001")
    assert message.endswith(f"check Connection, the Lambda's network access and the key in {password_secret.arn}.")
    assert password_secret.password not in message and "\n" not in message


def test_on_event_reports_a_missing_secret(lambda_aws, fakesnow):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf"
    props = resource_properties("arn:aws:iam::123456789012:role/R", "R", Connection=connection_property(fakesnow, arn))

    with pytest.raises(SetupFailedError, match=rf"^Cannot read secret {re.escape(arn)} \(ResourceNotFoundException\)"):
        handler.on_event(event("Create", props), CONTEXT)


def test_on_event_turns_a_bug_into_one_sentence(lambda_aws):
    with pytest.raises(RuntimeError) as caught:
        handler.on_event("not an event", CONTEXT)  # type: ignore[arg-type]

    assert str(caught.value) == (
        "The Snowflake integration handler failed unexpectedly (AttributeError); see its log for request request-1."
    )


# -- functions are altered in place; replaced only when CREATE OR ALTER cannot reach them -----------


def hand_grants(standin: StandInSnowflake) -> None:
    """Grants made by hand after a deploy: a task owner who may pass USAGE on, an analyst team, a database role."""
    standin.grants |= {
        (TRAIN, "TASK_OWNER"),
        (STATUS, 'Team "Analytics"'),
        (STATUS, f"{DATABASE_ROLE}MOVIELENS.READER"),
    }
    standin.grant_options |= {(TRAIN, "TASK_OWNER"), (STATUS, f"{DATABASE_ROLE}MOVIELENS.READER")}


def with_function(props: dict[str, Any], position: int, **changes: str) -> dict[str, Any]:
    new = copy.deepcopy(props)
    new["Functions"][position].update(changes)
    return new


def test_an_update_of_max_batch_rows_alters_in_place_and_keeps_every_grant(run, standin, api_role, props):
    """CREATE OR ALTER keeps the grants, WITH GRANT OPTION included: no replace, no moment without them."""
    run(event("Create", props))
    hand_grants(standin)
    before = (set(standin.grants), set(standin.grant_options))
    standin.statements.clear()

    run(event("Update", with_function(props, 0, MaxBatchRows="5"), old=props, physical_id=INTEGRATION))

    assert not [s for s in standin.statements if s.startswith(("CREATE OR REPLACE", "SHOW GRANTS"))]
    assert standin.grants_lost == []
    assert (set(standin.grants), set(standin.grant_options)) == before
    assert standin.statements[3:6] == [ddl(TRAIN), CREATE_TRAIN.replace("MAX_BATCH_ROWS = 1", "MAX_BATCH_ROWS = 5"),
                                       *grants(TRAIN)[:1]]  # fmt: skip
    assert standin.functions[TRAIN].max_batch_rows == 5


def test_a_url_change_replaces_the_function_and_grants_again_with_the_grant_option(run, standin, api_role, props):
    """CREATE OR ALTER cannot change the URL: replace, then every grant back as it was."""
    run(event("Create", props))
    hand_grants(standin)
    standin.grant_options.add((TRAIN, "ANALYST"))  # a configured role that may pass USAGE on keeps that too
    standin.statements.clear()
    moved = with_function(props, 0, Url=f"{PREFIX}train-v2")

    run(event("Update", moved, old=props, physical_id=INTEGRATION))

    create_train = replaced(CREATE_TRAIN).replace("/prod/train'", "/prod/train-v2'")
    assert standin.statements[3:10] == [
        ddl(TRAIN),
        show(TRAIN),
        create_train,
        # what the replace dropped comes back first, as it was
        f'GRANT USAGE ON FUNCTION {TRAIN} TO ROLE "ANALYST" WITH GRANT OPTION',
        f'GRANT USAGE ON FUNCTION {TRAIN} TO ROLE "DATA_SCIENTIST"',
        f'GRANT USAGE ON FUNCTION {TRAIN} TO ROLE "TASK_OWNER" WITH GRANT OPTION',
        ddl(TRAIN_WITH_OPTIONS),
    ]
    assert standin.grants_lost == [create_train]  # the one window, and only for the function that needed it
    assert {(TRAIN, "TASK_OWNER"), (TRAIN, "ANALYST")} <= standin.grant_options
    assert standin.functions[TRAIN].url == f"{PREFIX}train-v2"
    assert len(standin.grants) == 9


def test_a_volatility_change_replaces_and_grants_database_roles_and_quoted_names_again(run, standin, props):
    run(event("Create", props))
    hand_grants(standin)
    standin.statements.clear()

    run(event("Update", with_function(props, 2, Volatile="true"), old=props, physical_id=INTEGRATION))

    assert replaced(CREATE_STATUS).replace("IMMUTABLE", "VOLATILE") in standin.statements
    # a database role, listed without its database, is granted again with it, and with its grant option
    assert (
        f'GRANT USAGE ON FUNCTION {STATUS} TO DATABASE ROLE "MOVIELENS"."READER" WITH GRANT OPTION'
        in standin.statements
    )
    assert f'GRANT USAGE ON FUNCTION {STATUS} TO ROLE "Team ""Analytics"""' in standin.statements
    assert (STATUS, f"{DATABASE_ROLE}MOVIELENS.READER") in standin.grant_options
    assert (STATUS, 'Team "Analytics"') in standin.grants and (STATUS, 'Team "Analytics"') not in standin.grant_options
    # configured roles are granted once, not twice
    assert len([s for s in standin.statements if s.startswith(f"GRANT USAGE ON FUNCTION {STATUS} TO ROLE")]) == 3
    assert standin.functions[STATUS].volatile
    assert len(standin.grants) == 9


@pytest.mark.parametrize("bundle_2026_04", [False, True], ids=["omitted-kept", "omitted-reset"])
def test_dropping_max_batch_rows_unsets_it_whichever_way_create_or_alter_treats_an_omission(iam, props, bundle_2026_04):
    standin = StandInSnowflake(reset_omitted=bundle_2026_04)
    run = Run(standin, iam)
    run(event("Create", props))
    hand_grants(standin)
    unlimited = copy.deepcopy(props)
    del unlimited["Functions"][0]["MaxBatchRows"]
    standin.statements.clear()

    run(event("Update", unlimited, old=props, physical_id=INTEGRATION))

    assert standin.statements[4:6] == [
        CREATE_TRAIN.replace(" MAX_BATCH_ROWS = 1", ""),
        f"ALTER FUNCTION {TRAIN} UNSET MAX_BATCH_ROWS",
    ]
    assert standin.functions[TRAIN].max_batch_rows is None
    assert standin.grants_lost == [] and (TRAIN, "TASK_OWNER") in standin.grant_options


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"url": f"{PREFIX}other"}, "URL"),
        ({"returns": "OBJECT"}, "return type"),
        ({"volatile": False}, "volatility"),
        ({"arguments": (("SOURCE_TABLE", "VARCHAR"), ("OUTPUT_TABLE", "VARCHAR"))}, "arguments"),
    ],
)
def test_the_stand_in_refuses_what_create_or_alter_cannot_change(standin, props, changes, what):
    """As Snowflake documents: CREATE OR ALTER has ALTER FUNCTION's limits (so the handler must not rely on it)."""
    standin.integrations[INTEGRATION] = "id"
    train = parse_properties(resource_properties("arn:aws:iam::123456789012:role/R", "R")).functions[0]
    standin.execute(statements.create_or_alter_function(train, INTEGRATION))
    standin.grants.add((TRAIN, "ANALYST"))
    changed = replace(train, **changes)

    with pytest.raises(ProgrammingError, match=f"cannot change the {what} of function"):
        standin.execute(statements.create_or_alter_function(changed, INTEGRATION))
    standin.execute(statements.replace_function(changed, INTEGRATION))
    assert standin.grants == set()


def test_a_definition_in_an_unknown_form_is_replaced_and_its_grants_come_back(run, standin, props):
    """When GET_DDL cannot be read, replacing is the way that always reaches the wanted definition."""
    run(event("Create", props))
    hand_grants(standin)
    standin.unknown_ddl.add(TRAIN)
    standin.statements.clear()

    run(event("Update", props, old=props, physical_id=INTEGRATION))

    assert standin.statements[3:6] == [ddl(TRAIN), show(TRAIN), replaced(CREATE_TRAIN)]
    assert (TRAIN, "TASK_OWNER") in standin.grant_options and len(standin.grants) == 9


def test_grants_are_read_before_the_replace_that_drops_them(run, standin, api_role, props):
    run(event("Create", props))
    standin.statements.clear()
    run(event("Update", with_function(props, 0, Url=f"{PREFIX}train-v2"), old=props, physical_id=INTEGRATION))
    replace_train = next(s for s in standin.statements if s.startswith("CREATE OR REPLACE"))
    assert standin.statements.index(show(TRAIN)) + 1 == standin.statements.index(replace_train)


def test_unreadable_grants_stop_the_deploy_before_anything_is_replaced(run, standin, api_role, props):
    run(event("Create", props))
    standin.failures["SHOW GRANTS"] = ProgrammingError(msg="Insufficient privileges to operate on function", errno=3001)
    standin.statements.clear()
    with pytest.raises(RuntimeError, match=r"Snowflake could not read the grants on .*TRAIN_AND_GET_RECOMMENDATIONS"):
        run(event("Update", with_function(props, 0, Url=f"{PREFIX}train-v2"), old=props, physical_id=INTEGRATION))
    assert not [s for s in standin.statements if s.startswith("CREATE OR REPLACE")]


# -- a failed Create undoes itself (the Provider framework swallows the Delete that would) ------------


def grant_refused(standin: StandInSnowflake, signature: str, role: str = "DATA_SCIENTIST") -> str:
    """Make Snowflake refuse one GRANT; returns the sentence CloudFormation must see."""
    standin.failures[f"GRANT USAGE ON FUNCTION {signature} TO ROLE {role}"] = ProgrammingError(
        msg=f"SQL compilation error:\nRole '{role}' does not exist or not authorized.", errno=2003, sqlstate="02000"
    )
    return (
        f"Snowflake could not grant usage on {signature} to role {role}: 002003 (02000): SQL compilation error: "
        f"Role '{role}' does not exist or not authorized."
    )


def test_a_create_refused_at_a_grant_leaves_nothing_it_created(run, standin, props):
    sentence = grant_refused(standin, TRAIN_WITH_OPTIONS)

    with pytest.raises(SetupFailedError) as caught:
        run(event("Create", props))

    assert str(caught.value) == sentence
    assert standin.statements[-3:] == [
        f"DROP FUNCTION IF EXISTS {TRAIN_WITH_OPTIONS}",
        f"DROP FUNCTION IF EXISTS {TRAIN}",
        f"DROP INTEGRATION IF EXISTS {INTEGRATION}",
    ]
    assert (standin.integrations, standin.functions, standin.grants) == ({}, {}, set())


def test_a_failed_create_keeps_and_puts_back_what_existed_before_it(run, standin, props):
    """A retained integration, a function altered in place and one replaced: none is dropped, both are put back."""
    other = "OTHER_RECOMMENDER_API"
    standin.integrations |= {INTEGRATION: "RETAINED+id=", other: "OTHER+id="}
    old_train = StandInFunction(
        (("INPUT_TABLE", "VARCHAR"), ("OUTPUT_TABLE", "VARCHAR")), "VARIANT", True, other, f"{PREFIX}train", 7
    )
    old_status = StandInFunction(
        (("NAME", "VARCHAR"),), "VARIANT", True, other, "https://xyz789.execute-api.us-east-1.amazonaws.com/v1/s", 50
    )
    standin.functions |= {TRAIN: old_train, STATUS: old_status}
    hand_grants(standin)
    kept_grants = (set(standin.grants), set(standin.grant_options))
    sentence = grant_refused(standin, STATUS)

    with pytest.raises(SetupFailedError) as caught:
        run(event("Create", props))

    assert str(caught.value) == sentence
    assert standin.integrations == {INTEGRATION: "RETAINED+id=", other: "OTHER+id="}
    assert standin.functions == {TRAIN: old_train, STATUS: old_status}
    # the hand-made grants are all there, with their grant option; USAGE this run gave ANALYST stays
    assert kept_grants[0] <= standin.grants and kept_grants[1] <= standin.grant_options
    assert standin.grants - kept_grants[0] == {(TRAIN, "ANALYST"), (TRAIN, "DATA_SCIENTIST"), (STATUS, "ANALYST")}
    assert [s for s in standin.statements if s.startswith("DROP")] == [f"DROP FUNCTION IF EXISTS {TRAIN_WITH_OPTIONS}"]
    # TRAIN was altered in place, there and back; only STATUS, whose URL differs, was replaced (there and back)
    replaces = [s for s in standin.statements if s.startswith("CREATE OR REPLACE")]
    assert [s.split("(")[0] for s in replaces] == [f"CREATE OR REPLACE EXTERNAL FUNCTION {STATUS.split('(')[0]}"] * 2


def test_an_integration_matching_the_like_pattern_is_not_taken_for_ours(run, standin, props):
    """SHOW INTEGRATIONS LIKE reads '_' as any character: only the exact name means it existed."""
    standin.integrations["MOVIELENSXRECOMMENDER_API"] = "LOOKALIKE+id="
    grant_refused(standin, TRAIN)

    with pytest.raises(SetupFailedError):
        run(event("Create", props))

    assert standin.integrations == {"MOVIELENSXRECOMMENDER_API": "LOOKALIKE+id="}


def test_a_failing_clean_up_is_logged_and_never_hides_the_create_error(run, standin, props, capsys):
    sentence = grant_refused(standin, STATUS)
    standin.failures["DROP INTEGRATION"] = ProgrammingError(msg="Insufficient privileges to operate on integration")

    with pytest.raises(SetupFailedError) as caught:
        run(event("Create", props))

    assert str(caught.value) == sentence
    assert standin.functions == {} and set(standin.integrations) == {INTEGRATION}
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert {
        "level": "ERROR",
        "message": "undo step failed",
        "integration": INTEGRATION,
        "error": f"Snowflake could not drop API integration {INTEGRATION}: "
        "Insufficient privileges to operate on integration",
    } in [{key: value for key, value in record.items() if key != "timestamp"} for record in records]


def test_a_failed_update_is_not_undone_cloudformation_rolls_it_back_with_an_update(run, standin, props):
    run(event("Create", props))
    standin.statements.clear()
    grant_refused(standin, STATUS)

    with pytest.raises(SetupFailedError):
        run(event("Update", with_function(props, 0, MaxBatchRows="5"), old=props, physical_id=INTEGRATION))

    assert not [s for s in standin.statements if s.startswith(("DROP", "SHOW INTEGRATIONS"))]
    assert set(standin.functions) == {TRAIN, TRAIN_WITH_OPTIONS, STATUS} and set(standin.integrations) == {INTEGRATION}


# -- the way out when Snowflake refuses us -----------------------------------------------------------


def unreachable(fakesnow, password_secret, **changes: Any) -> dict[str, Any]:
    connection = connection_property(fakesnow, password_secret.arn, Port=str(free_port()), LoginTimeoutSeconds="2")
    return resource_properties("arn:aws:iam::123456789012:role/R", "R", Connection=connection, **changes)


def test_destroy_while_snowflake_refuses_fails_with_the_cause(lambda_aws, fakesnow, password_secret):
    props = unreachable(fakesnow, password_secret)
    with pytest.raises(SetupFailedError, match=r"^Cannot connect to Snowflake account fakesnow"):
        handler.on_event(event("Delete", props, physical_id=INTEGRATION), CONTEXT)


def test_detached_update_and_delete_never_reach_snowflake(lambda_aws, fakesnow, password_secret):
    """cdk.json snowflake.detach: deploy, then destroy, complete while Snowflake is unreachable."""
    old = unreachable(fakesnow, password_secret)
    detached = unreachable(fakesnow, password_secret, Detached="true")

    updated = handler.on_event(event("Update", detached, old=old, physical_id=INTEGRATION), CONTEXT)
    assert updated["PhysicalResourceId"] == INTEGRATION  # same id: CloudFormation deletes nothing
    assert updated["Data"]["IntegrationName"] == INTEGRATION

    deleted = handler.on_event(event("Delete", detached, physical_id=INTEGRATION), CONTEXT)
    assert deleted == {"PhysicalResourceId": INTEGRATION}


def test_detached_leaves_snowflakes_objects_in_place(run, standin, props):
    run(event("Create", props))
    before = (dict(standin.functions), dict(standin.integrations), set(standin.grants))
    standin.statements.clear()
    detached = {**props, "Detached": "true"}
    run(event("Update", detached, old=props, physical_id=INTEGRATION))
    run(event("Delete", detached, physical_id=INTEGRATION))
    assert standin.statements == []
    assert (standin.functions, standin.integrations, standin.grants) == before


def test_on_event_signs_in_with_workload_identity_and_no_secret(lambda_aws, fakesnow, api_role, monkeypatch):
    """Connection.Auth "wif": the handler's own AWS role signs in; no secret exists or is read."""
    monkeypatch.setenv("SNOWFLAKE_WIF_ALLOWED_HOST_SUFFIXES", "localhost")  # admit the stand-in's host
    connection = connection_property(fakesnow, "unused", Host="localhost", Auth="wif", User="CDK_WIF_DEPLOYER")
    del connection["SecretArn"]
    props = resource_properties(api_role.arn, api_role.name, Connection=connection)

    with pytest.raises(SetupFailedError, match=f"^Snowflake could not look up API integration {INTEGRATION}: "):
        handler.on_event(event("Create", props), CONTEXT)  # signed in: the stand-in then refuses the DDL

    lines = [json.loads(line)["login"] for line in fakesnow.log.read_text().splitlines() if line.startswith('{"login"')]
    assert {
        "user": "CDK_WIF_DEPLOYER",
        "authenticator": "WORKLOAD_IDENTITY",
        "provider": "AWS",
        "attested": True,
    } in lines


def test_a_secret_beside_workload_identity_is_refused(api_role, fakesnow):
    connection = connection_property(fakesnow, "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf")
    props = resource_properties(api_role.arn, api_role.name, Connection={**connection, "Auth": "wif"})
    with pytest.raises(InvalidPropertyError, match=r"Connection\.SecretArn must be absent with Auth 'wif'"):
        parse_properties(props)

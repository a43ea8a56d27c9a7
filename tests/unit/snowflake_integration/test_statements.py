"""Exact SQL of the Snowflake integration custom resource, and the validation in front of it."""

import copy
import json
from pathlib import Path

import pytest

from snowflake_integration import statements
from snowflake_integration.lifecycle import Outcome, one_line
from snowflake_integration.properties import parse_properties
from snowflake_integration.statements import Integration, InvalidPropertyError, SnowflakeFunction
from snowflake_integration.trust_policy import UnexpectedIntegrationError, trust_policy

ROOT = Path(__file__).resolve().parents[3]
ROLE_ARN = "arn:aws:iam::123456789012:role/Stack-SnowflakeApiRole-ABC"
PREFIX = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"
USER_ARN = "arn:aws:iam::999999999999:user/abc1-b-self1234"
EXTERNAL_ID = "ABC123_SFCRole=2_abc+def/ghi="

PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
    "IntegrationName": "movielens_recommender_api",
    "ApiRoleArn": ROLE_ARN,
    "ApiRoleName": "Stack-SnowflakeApiRole-ABC",
    "AllowedPrefix": PREFIX,
    "Database": "MOVIELENS",
    "Schema": "PUBLIC",
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
            "Name": "invoke_model",
            "Arguments": [["MODEL_NAME", "varchar"], ["USER_ID", "NUMBER"], ["MOVIE_ID", "NUMBER"]],
            "Returns": "FLOAT",
            "Volatile": "false",
            "Url": f"{PREFIX}invoke",
            "MaxBatchRows": "20000",
        },
    ],
    "GrantRoles": ["ANALYST", "DATA_SCIENTIST", "ANALYST"],
    "Connection": {
        "Account": "myorg-myaccount",
        "User": "CDK_DEPLOYER",
        "Role": "ACCOUNTADMIN",
        "Warehouse": "COMPUTE_WH",
        "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake-key-AbCdEf",
    },
    "Retain": "false",
    "IamPropagationSeconds": "10",
}


def properties(**changes):
    result = copy.deepcopy(PROPERTIES)
    result.update(changes)
    return result


def with_function(**changes):
    functions = copy.deepcopy(PROPERTIES["Functions"])
    functions[0].update(changes)
    return properties(Functions=functions)


def function(**changes):
    fields = {
        "database": "MOVIELENS",
        "schema": "PUBLIC",
        "name": "DEPLOY_MODEL",
        "arguments": (("MODEL_NAME", "VARCHAR"), ("MODEL_REF", "VARCHAR")),
        "returns": "VARIANT",
        "volatile": True,
        "url": f"{PREFIX}deploy",
    }
    fields.update(changes)
    return SnowflakeFunction(**fields)


INTEGRATION = Integration("MOVIELENS_RECOMMENDER_API", ROLE_ARN, PREFIX, "Managed by CloudFormation")


# -- statements -----------------------------------------------------------------------


def test_create_integration_only_if_missing():
    assert statements.create_integration(INTEGRATION) == (
        "CREATE API INTEGRATION IF NOT EXISTS MOVIELENS_RECOMMENDER_API API_PROVIDER = aws_api_gateway "
        "API_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/Stack-SnowflakeApiRole-ABC' "
        "API_ALLOWED_PREFIXES = ('https://abc123.execute-api.us-east-1.amazonaws.com/prod/') "
        "ENABLED = TRUE COMMENT = 'Managed by CloudFormation'"
    )


def test_alter_integration_converges_role_prefix_and_comment():
    assert statements.alter_integration(INTEGRATION) == (
        "ALTER API INTEGRATION MOVIELENS_RECOMMENDER_API SET "
        "API_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/Stack-SnowflakeApiRole-ABC' "
        "API_ALLOWED_PREFIXES = ('https://abc123.execute-api.us-east-1.amazonaws.com/prod/') "
        "ENABLED = TRUE COMMENT = 'Managed by CloudFormation'"
    )


def test_describe_and_drop_integration():
    assert statements.describe_integration("movielens_api") == "DESCRIBE INTEGRATION MOVIELENS_API"
    assert statements.drop_integration("MOVIELENS_API") == "DROP INTEGRATION IF EXISTS MOVIELENS_API"


def test_volatile_function_with_batch_limit():
    sql = statements.create_or_alter_function(function(max_batch_rows=5), "MY_API")
    assert sql == (
        "CREATE OR ALTER EXTERNAL FUNCTION MOVIELENS.PUBLIC.DEPLOY_MODEL(MODEL_NAME VARCHAR, MODEL_REF VARCHAR) "
        "RETURNS VARIANT VOLATILE API_INTEGRATION = MY_API MAX_BATCH_ROWS = 5 COMPRESSION = AUTO "
        "AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/deploy'"
    )


def test_immutable_function_without_batch_limit_or_arguments():
    sql = statements.create_or_alter_function(
        function(name="ping", arguments=(), returns="boolean", volatile=False), "MY_API"
    )
    assert sql == (
        "CREATE OR ALTER EXTERNAL FUNCTION MOVIELENS.PUBLIC.PING() RETURNS BOOLEAN IMMUTABLE "
        "API_INTEGRATION = MY_API COMPRESSION = AUTO AS 'https://abc123.execute-api.us-east-1.amazonaws.com/prod/deploy'"
    )


def test_replace_states_the_same_definition():
    deploy = function(max_batch_rows=5)
    assert statements.replace_function(deploy, "MY_API") == statements.create_or_alter_function(
        deploy, "MY_API"
    ).replace("CREATE OR ALTER ", "CREATE OR REPLACE ")
    assert statements.unset_max_batch_rows(deploy) == (
        "ALTER FUNCTION MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR) UNSET MAX_BATCH_ROWS"
    )


def test_grants_can_carry_the_grant_option():
    deploy = function()
    assert statements.grant_usage(deploy, "analyst", grant_option=True) == (
        "GRANT USAGE ON FUNCTION MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR) TO ROLE ANALYST WITH GRANT OPTION"
    )
    assert statements.grant_usage_to(deploy, statements.Grantee("DATABASE_ROLE", "DB.READER", True)) == (
        'GRANT USAGE ON FUNCTION MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR) TO DATABASE ROLE "DB"."READER" '
        "WITH GRANT OPTION"
    )
    assert statements.grant_usage_to(deploy, statements.Grantee("ROLE", "X")).endswith('TO ROLE "X"')


def test_grant_and_drop_name_the_overload_by_its_types():
    deploy = function()
    assert deploy.signature == "MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR)"
    assert statements.grant_usage(deploy, "analyst") == (
        "GRANT USAGE ON FUNCTION MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR) TO ROLE ANALYST"
    )
    assert statements.drop_function(deploy) == "DROP FUNCTION IF EXISTS MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR)"
    assert statements.function_ddl(deploy) == (
        "SELECT GET_DDL('FUNCTION', 'MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR, VARCHAR)')"
    )


def test_overloads_from_properties_are_distinct_functions():
    setup = parse_properties(PROPERTIES)
    assert setup.signatures == [
        "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR)",
        "MOVIELENS.PUBLIC.TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR, OBJECT)",
        "MOVIELENS.PUBLIC.INVOKE_MODEL(VARCHAR, NUMBER, NUMBER)",
    ]
    train, train_with_options, invoke = (statements.create_or_alter_function(f, "API") for f in setup.functions)
    assert "TRAIN_AND_GET_RECOMMENDATIONS(INPUT_TABLE VARCHAR, OUTPUT_TABLE VARCHAR) RETURNS VARIANT VOLATILE" in train
    assert " MAX_BATCH_ROWS = 1 " in train
    assert "(INPUT_TABLE VARCHAR, OUTPUT_TABLE VARCHAR, OPTIONS OBJECT) RETURNS VARIANT VOLATILE" in train_with_options
    assert "MAX_BATCH_ROWS" not in train_with_options
    assert "INVOKE_MODEL(MODEL_NAME VARCHAR, USER_ID NUMBER, MOVIE_ID NUMBER) RETURNS FLOAT IMMUTABLE" in invoke
    assert " MAX_BATCH_ROWS = 20000 " in invoke


def test_repeated_signature_is_rejected():
    functions = copy.deepcopy(PROPERTIES["Functions"])
    functions.append({**functions[0], "Name": "train_and_get_recommendations", "Url": f"{PREFIX}other"})
    with pytest.raises(InvalidPropertyError, match=r"Functions\[3\] repeats the signature .* of Functions\[0\]"):
        parse_properties(properties(Functions=functions))


# -- quoting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("back\\slash", "'back\\\\slash'"),
        ("\\'", "'\\\\'''"),  # the backslash cannot escape the quote that follows it
        ("", "''"),
    ],
)
def test_quote(text, literal):
    assert statements.quote(text) == literal


def test_comment_with_quote_and_backslash_is_quoted():
    integration = Integration("API", ROLE_ARN, PREFIX, "Bob's \\ pipeline')); DROP DATABASE X; --")
    sql = statements.create_integration(integration)
    assert sql.endswith("COMMENT = 'Bob''s \\\\ pipeline'')); DROP DATABASE X; --'")


@pytest.mark.parametrize("text", ["line\nbreak", "tab\there", "caf\u00e9", "x" * 257, 42])
def test_comment_must_be_one_line_of_printable_ascii(text):
    with pytest.raises(InvalidPropertyError, match=r"^Comment must be printable ASCII"):
        Integration("API", ROLE_ARN, PREFIX, text)


# -- rejected values ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["MY API", "API;DROP", '"API"', "1API", "$API", "DB.API", "API'", "API--", "", None, 7, "A" * 256]
)
def test_integration_name_must_be_a_plain_identifier(name):
    with pytest.raises(InvalidPropertyError, match=r"^IntegrationName must be a plain Snowflake identifier"):
        Integration(name, ROLE_ARN, PREFIX)


@pytest.mark.parametrize(
    ("changes", "property_name"),
    [
        ({"Name": "TRAIN MODEL"}, r"Functions\[0\]\.Name"),
        ({"Arguments": [["INPUT TABLE", "VARCHAR"]]}, r"Functions\[0\]\.Arguments\[0\] name"),
        ({"Arguments": [["A", "VARCHAR"], ["B;", "VARCHAR"]]}, r"Functions\[0\]\.Arguments\[1\] name"),
    ],
)
def test_function_identifiers_are_validated(changes, property_name):
    with pytest.raises(InvalidPropertyError, match=f"^{property_name} must be a plain Snowflake identifier"):
        parse_properties(with_function(**changes))


@pytest.mark.parametrize("key", ["Database", "Schema"])
def test_namespace_is_validated(key):
    with pytest.raises(InvalidPropertyError, match=f"^{key} must be a plain Snowflake identifier"):
        parse_properties(properties(**{key: "MOVIELENS; DROP"}))


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::12345:role/Name",
        "arn:aws:iam::123456789012:user/Name",
        "arn:aws:iam::123456789012:role/Name'",
        "arn:aws:iam::123456789012:role/Name) ENABLED = FALSE",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:s3:::bucket",
        "",
        None,
    ],
)
def test_role_arn_is_validated(arn):
    with pytest.raises(InvalidPropertyError, match=r"^ApiRoleArn must be an IAM role ARN"):
        Integration("API", arn, PREFIX)


def test_role_arn_with_path_is_accepted():
    arn = "arn:aws:iam::123456789012:role/service/snowflake/Api+Role=1,x.y@z-w_v"
    assert statements.role_name_of(Integration("API", arn, PREFIX).role_arn) == "Api+Role=1,x.y@z-w_v"


def test_role_name_must_end_the_role_arn():
    with pytest.raises(InvalidPropertyError, match=r"^ApiRoleName must be the role name at the end of ApiRoleArn"):
        parse_properties(properties(ApiRoleName="OtherRole"))


@pytest.mark.parametrize(
    "url",
    [
        "http://abc123.execute-api.us-east-1.amazonaws.com/prod/",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/'",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/') ENABLED = FALSE --",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/\\",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod /",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/?x=1",
        "https://abc123.execute-api.us-east-1.amazonaws.com/prod/#x",
        "https://user@abc123.example.com/",
        "https://localhost/",
        "https://",
        "ftp://abc123.example.com/",
        " https://abc123.example.com/",
        "",
        None,
    ],
)
def test_allowed_prefix_is_validated(url):
    with pytest.raises(InvalidPropertyError, match=r"^AllowedPrefix must be an https:// URL"):
        Integration("API", ROLE_ARN, url)


def test_function_url_is_validated_and_must_be_under_the_allowed_prefix():
    with pytest.raises(InvalidPropertyError, match=r"^Functions\[0\]\.Url must be an https:// URL"):
        parse_properties(with_function(Url=f"{PREFIX}train'"))
    with pytest.raises(InvalidPropertyError, match=r"^Functions\[0\]\.Url must start with AllowedPrefix"):
        parse_properties(with_function(Url="https://other.execute-api.us-east-1.amazonaws.com/prod/train"))


@pytest.mark.parametrize("type_name", ["VARCHAR(10)", "TEXT", "INT", "NUMBER; DROP TABLE X", " ", 5, "GEOGRAPHY"])
def test_types_come_from_the_allow_list(type_name):
    with pytest.raises(InvalidPropertyError, match=r"^Functions\[0\]\.Returns must be one of VARCHAR, NUMBER"):
        parse_properties(with_function(Returns=type_name))
    with pytest.raises(InvalidPropertyError, match=r"^Functions\[0\]\.Arguments\[0\] type must be one of VARCHAR"):
        parse_properties(with_function(Arguments=[["INPUT_TABLE", type_name]]))


def test_types_are_case_insensitive():
    assert (
        function(arguments=(("A", "varchar"),), returns="Variant").signature == "MOVIELENS.PUBLIC.DEPLOY_MODEL(VARCHAR)"
    )


def test_rejected_values_are_echoed_short():
    with pytest.raises(InvalidPropertyError) as caught:
        Integration("X" * 1000, ROLE_ARN, PREFIX)
    assert len(str(caught.value)) < 250


# -- properties -----------------------------------------------------------------------


def test_properties_parse_with_defaults():
    minimal = properties()
    for key in ("Retain", "IamPropagationSeconds", "GrantRoles"):
        del minimal[key]
    setup = parse_properties(minimal)
    assert setup.integration.name == "MOVIELENS_RECOMMENDER_API"
    assert setup.integration.comment.startswith("Snowflake side of the MovieLens recommender pipeline")
    assert (setup.retain, setup.iam_propagation_s, setup.grant_roles) == (False, 10, ())
    assert setup.role_name == "Stack-SnowflakeApiRole-ABC"


def test_grant_roles_are_deduplicated_in_order():
    assert parse_properties(PROPERTIES).grant_roles == ("ANALYST", "DATA_SCIENTIST")


def test_connection_arguments_hold_no_credentials():
    args = parse_properties(PROPERTIES).connection.connect_args()
    assert args == {
        "account": "myorg-myaccount",
        "user": "CDK_DEPLOYER",
        "role": "ACCOUNTADMIN",
        "warehouse": "COMPUTE_WH",
        "login_timeout": 30,
        "network_timeout": 60,
    }
    local = properties(
        Connection={
            **PROPERTIES["Connection"],
            "Host": "127.0.0.1",
            "Port": "8123",
            "Protocol": "http",
            "LoginTimeoutSeconds": "3",
        }
    )
    args = parse_properties(local).connection.connect_args()
    assert (args["host"], args["port"], args["protocol"], args["login_timeout"]) == ("127.0.0.1", 8123, "http", 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"IntegrationName": ""}, r"^IntegrationName is missing\.$"),
        ({"Functions": {"Name": "X"}}, r"^Functions must be a list"),
        ({"Functions": ["X"]}, r"^Functions\[0\] must be an object"),
        ({"GrantRoles": "ANALYST"}, r"^GrantRoles must be a list"),
        ({"GrantRoles": ["ANALYST", "PUBLIC ROLE"]}, r"^GrantRoles\[1\] must be a plain Snowflake identifier"),
        ({"Retain": "yes"}, r"^Retain must be 'true' or 'false', got 'yes'\.$"),
        ({"IamPropagationSeconds": "301"}, r"^IamPropagationSeconds must be a whole number from 0 to 300"),
        ({"IamPropagationSeconds": "\u00b2"}, r"^IamPropagationSeconds must be a whole number"),
        ({"Connection": None}, r"^Connection must be an object"),
        ({"Connection": {"Account": "a", "User": "u"}}, r"^Connection\.SecretArn is missing\.$"),
        (
            {"Connection": {**PROPERTIES["Connection"], "Password": "hunter2"}},
            r"^Connection has unknown key 'Password'",
        ),
        ({"Connection": {**PROPERTIES["Connection"], "Account": "a b"}}, r"^Connection\.Account must be"),
        ({"Connection": {**PROPERTIES["Connection"], "SecretArn": "my-secret"}}, r"^Connection\.SecretArn must be"),
        ({"Connection": {**PROPERTIES["Connection"], "Protocol": "ftp"}}, r"^Connection\.Protocol must be 'https'"),
        ({"Connection": {**PROPERTIES["Connection"], "Port": "70000"}}, r"^Connection\.Port must be a whole number"),
        ({"Connection": {**PROPERTIES["Connection"], "Host": "a/b"}}, r"^Connection\.Host must be a host name"),
        ({"Connection": {**PROPERTIES["Connection"], "Role": "ACCOUNT ADMIN"}}, r"^Connection\.Role must be"),
    ],
)
def test_bad_properties_name_the_property(changes, message):
    with pytest.raises(InvalidPropertyError, match=message):
        parse_properties(properties(**changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Volatile": "maybe"}, r"^Functions\[0\]\.Volatile must be 'true' or 'false'"),
        ({"MaxBatchRows": "0"}, r"^Functions\[0\]\.MaxBatchRows must be a whole number from 1"),
        ({"MaxBatchRows": "-5"}, r"^Functions\[0\]\.MaxBatchRows must be a whole number from 1"),
        ({"Url": None}, r"^Functions\[0\]\.Url is missing\.$"),
        ({"Arguments": "INPUT_TABLE VARCHAR"}, r"^Functions\[0\]\.Arguments must be a list"),
        ({"Arguments": [["INPUT_TABLE"]]}, r"^Functions\[0\]\.Arguments\[0\] must be a \[NAME, TYPE\] pair"),
        ({"Arguments": [["A", "VARCHAR"], ["a", "NUMBER"]]}, r"^Functions\[0\]\.Arguments repeats an argument name"),
        ({"MaxBatchRow": "1"}, r"^Functions\[0\] has unknown key 'MaxBatchRow'"),
    ],
)
def test_bad_function_entries_name_the_entry(changes, message):
    with pytest.raises(InvalidPropertyError, match=message):
        parse_properties(with_function(**changes))


def test_properties_must_be_an_object():
    with pytest.raises(InvalidPropertyError, match=r"^ResourceProperties must be an object"):
        parse_properties(None)


# -- trust policy ---------------------------------------------------------------------


def test_trust_policy_round_trips_an_external_id_with_plus_slash_and_equals():
    document = json.loads(trust_policy(USER_ARN, EXTERNAL_ID))
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": USER_ARN},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }


@pytest.mark.parametrize(
    ("user_arn", "external_id"),
    [
        ("arn:aws:iam::999999999999:role/x", EXTERNAL_ID),
        ('arn:aws:iam::999999999999:user/x"}', EXTERNAL_ID),
        (USER_ARN, 'ABC"}],"Principal":"*'),
        (USER_ARN, "with space"),
        (USER_ARN, "x"),
    ],
)
def test_trust_policy_refuses_unexpected_values(user_arn, external_id):
    with pytest.raises(UnexpectedIntegrationError, match="trust policy was not changed"):
        trust_policy(user_arn, external_id)


# -- reading Snowflake's answers ------------------------------------------------------


@pytest.mark.parametrize(
    ("ddl", "integration"),
    [
        (
            'CREATE OR REPLACE EXTERNAL FUNCTION "F"("A" VARCHAR)\nRETURNS VARIANT\n'
            "API_INTEGRATION = \"MY_API\"\nAS 'u';",
            "MY_API",
        ),
        ("create or replace external function f(a varchar) returns variant api_integration = my_api as 'u'", "MY_API"),
        ("create or replace function f() returns number as '1'", None),
        ("", None),
    ],
)
def test_bound_integration_is_read_from_get_ddl(ddl, integration):
    assert statements.bound_integration(ddl) == integration


def test_outcome_data_stays_under_four_kilobytes():
    few = Outcome("API", USER_ARN, EXTERNAL_ID, ("DB.S.F(VARCHAR)",))
    assert few.data() == {
        "IntegrationName": "API",
        "IamUserArn": USER_ARN,
        "ExternalId": EXTERNAL_ID,
        "Functions": "DB.S.F(VARCHAR)",
    }
    many = Outcome("API", USER_ARN, EXTERNAL_ID, tuple(f"DB.S.F{i:03}(VARCHAR, NUMBER)" for i in range(200)))
    data = many.data()
    assert len(json.dumps(data).encode()) < 4096
    assert data["Functions"].startswith("200 functions")


def test_one_line():
    assert one_line("001003 (42000): Parser Error:\n\nLINE 1: CREATE API\n   ^^^.") == (
        "001003 (42000): Parser Error: LINE 1: CREATE API ^^^"
    )
    cut = one_line("x " * 1000)
    assert len(cut) == 300
    assert cut.endswith("x\u2026")


# -- grants read back before a replace --------------------------------------------------------------


def test_usage_grantees_come_from_show_grants_rows_in_snowflakes_column_order():
    rows = [
        ("t", "OWNERSHIP", "FUNCTION", "DB.S.F(VARCHAR)", "ROLE", "DEPLOYER", "true", "X"),
        ("t", "USAGE", "FUNCTION", "DB.S.F(VARCHAR)", "ROLE", "ANALYST", "false", "DEPLOYER"),
        ("t", "USAGE", "FUNCTION", "DB.S.F(VARCHAR)", "DATABASE_ROLE", "DB.READER", "false", "DEPLOYER"),
        ("t", "USAGE", "FUNCTION", "DB.S.F(VARCHAR)", "SHARE", "PARTNER", "false", "DEPLOYER"),
    ]
    columns = [
        "created_on",
        "privilege",
        "granted_on",
        "name",
        "granted_to",
        "grantee_name",
        "grant_option",
        "granted_by",
    ]
    assert statements.usage_grantees(rows, columns, "DB") == [
        statements.Grantee("ROLE", "ANALYST"),
        statements.Grantee("DATABASE_ROLE", "DB.READER"),
    ]


def test_usage_grantees_keep_their_grant_option():
    columns = ["created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option"]
    rows = [
        ("t", "USAGE", "FUNCTION", "DB.S.F(VARCHAR)", "ROLE", "TASK_OWNER", "true"),
        ("t", "USAGE", "FUNCTION", "DB.S.F(VARCHAR)", "ROLE", "ANALYST", "false"),
    ]
    assert statements.usage_grantees(rows, columns, "DB") == [
        statements.Grantee("ROLE", "TASK_OWNER", True),
        statements.Grantee("ROLE", "ANALYST", False),
    ]


@pytest.mark.parametrize(
    ("grantee", "sql"),
    [
        (statements.Grantee("ROLE", "ANALYST"), 'ROLE "ANALYST"'),
        (statements.Grantee("ROLE", 'x"; DROP TABLE t; --'), 'ROLE "x""; DROP TABLE t; --"'),
        (statements.Grantee("DATABASE_ROLE", "DB.READER"), 'DATABASE ROLE "DB"."READER"'),
    ],
)
def test_grantees_are_quoted_so_any_name_is_safe(grantee, sql):
    assert grantee.sql == sql


# -- API provider per AWS partition --------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "provider"),
    [
        ("arn:aws:iam::123456789012:role/SnowflakeRole", "aws_api_gateway"),
        ("arn:aws-us-gov:iam::123456789012:role/SnowflakeRole", "aws_gov_api_gateway"),
    ],
)
def test_the_api_provider_follows_the_roles_partition(arn, provider):
    statement = statements.create_integration(Integration("API", arn, PREFIX))
    assert f" API_PROVIDER = {provider} " in statement


def test_aws_china_is_refused_with_a_reason():
    with pytest.raises(InvalidPropertyError, match="partition aws-cn, where Snowflake offers no API integration"):
        Integration("API", "arn:aws-cn:iam::123456789012:role/SnowflakeRole", PREFIX)


def test_grant_columns_are_found_by_name_and_database_roles_get_their_database():
    """Newer Snowflake output adds columns and names database roles without their database (bundle 2026_06)."""
    columns = ["created_on", "privilege", "granted_on", "name", "role", "granted_to", "grantee_name", "grant_option"]
    rows = [("t", "USAGE", "FUNCTION", "DB.S.F(VARCHAR)", "X", "DATABASE_ROLE", "READER", "false")]
    assert statements.usage_grantees(rows, columns, "DB") == [statements.Grantee("DATABASE_ROLE", "DB.READER")]
    with pytest.raises(InvalidPropertyError, match="without PRIVILEGE, GRANTED_TO, GRANTEE_NAME and GRANT_OPTION"):
        statements.usage_grantees(rows, columns[:-1], "DB")


# -- what exists already ---------------------------------------------------------------------------------


def test_integrations_are_looked_up_by_their_exact_name():
    assert statements.show_integrations("movielens_api") == "SHOW INTEGRATIONS LIKE 'MOVIELENS_API'"
    columns = ["name", "type", "category", "enabled", "comment", "created_on"]
    lookalike = [("MOVIELENSXAPI", "EXTERNAL_API", "API", "true", "", "t")]  # LIKE's '_' matches the X
    assert not statements.integration_listed(lookalike, columns, "MOVIELENS_API")
    assert statements.integration_listed([*lookalike, ("MOVIELENS_API", "EXTERNAL_API", "API", "true", "", "t")],
                                         columns, "MOVIELENS_API")  # fmt: skip
    with pytest.raises(InvalidPropertyError, match="without a name column"):
        statements.integration_listed(lookalike, ["created_on"], "MOVIELENS_API")


# GET_DDL of a real external function (public capture): quoted names, VARCHAR(16777216), STRICT, HEADERS.
CAPTURED_DDL = """CREATE OR REPLACE EXTERNAL FUNCTION NEAR_DEV._LIVE.LT_BLOCKS_UDF_API("METHOD" VARCHAR(16777216), \
"URL" VARCHAR(16777216), "HEADERS" OBJECT, "DATA" VARIANT, "USER_ID" VARCHAR(16777216), "SECRET" VARCHAR(16777216))
RETURNS VARIANT
STRICT
API_INTEGRATION = "AWS_NEAR_API_STG_V2"
MAX_BATCH_ROWS = 25
HEADERS = ('fsc-compression-mode' = 'auto')
AS 'https://cx7cyhtcjf.execute-api.us-east-1.amazonaws.com/stg/udf_api';"""  # the first line is one line there


def test_a_captured_get_ddl_is_read():
    assert statements.function_definition(CAPTURED_DDL) == statements.Definition(
        arguments=(
            ("METHOD", "VARCHAR"),
            ("URL", "VARCHAR"),
            ("HEADERS", "OBJECT"),
            ("DATA", "VARIANT"),
            ("USER_ID", "VARCHAR"),
            ("SECRET", "VARCHAR"),
        ),
        returns="VARIANT",
        not_null=False,
        strict=True,
        volatile=True,
        integration="AWS_NEAR_API_STG_V2",
        max_batch_rows=25,
        url="https://cx7cyhtcjf.execute-api.us-east-1.amazonaws.com/stg/udf_api",
    )


def test_get_ddl_keywords_inside_literals_do_not_count():
    ddl = (
        'CREATE OR REPLACE SECURE EXTERNAL FUNCTION "PING"()\nRETURNS NUMBER(38,0) NOT NULL\nIMMUTABLE\n'
        "COMMENT = 'not STRICT, it''s MAX_BATCH_ROWS = 9'\nAPI_INTEGRATION = \"MY_API\"\nAS 'https://x.example.com/p';"
    )
    definition = statements.function_definition(ddl)
    assert definition is not None
    assert (definition.arguments, definition.returns, definition.not_null, definition.strict) == (
        (),
        "NUMBER",
        True,
        False,
    )
    assert (definition.volatile, definition.max_batch_rows, definition.url) == (False, None, "https://x.example.com/p")


@pytest.mark.parametrize(
    "ddl",
    ["", "create or replace function f() returns number as '1'", 'CREATE EXTERNAL FUNCTION "F"("A" VARCHAR'],
)
def test_get_ddl_that_does_not_read_as_an_external_function_is_none(ddl):
    assert statements.function_definition(ddl) is None


def definition(**changes):
    fields = {
        "arguments": (("MODEL_NAME", "VARCHAR"), ("MODEL_REF", "VARCHAR")),
        "returns": "VARIANT",
        "not_null": False,
        "strict": False,
        "volatile": True,
        "integration": "OLD_API",
        "max_batch_rows": 3,
        "url": f"{PREFIX}deploy",
    }
    fields.update(changes)
    return statements.Definition(**fields)


@pytest.mark.parametrize(
    ("changes", "difference"),
    [
        ({}, None),
        ({"integration": "OTHER_API", "max_batch_rows": None}, None),  # both alterable
        ({"url": f"{PREFIX}deploy-v2"}, "URL"),
        ({"returns": "OBJECT"}, "return type"),
        ({"volatile": False}, "volatility"),
        ({"arguments": (("NAME", "VARCHAR"), ("MODEL_REF", "VARCHAR"))}, "argument names"),
        ({"not_null": True}, "NOT NULL"),
        ({"strict": True}, "RETURNS NULL ON NULL INPUT"),
    ],
)
def test_only_what_create_or_alter_can_change_keeps_a_function_in_place(changes, difference):
    assert statements.unalterable_difference(function(), definition(**changes)) == difference


def test_a_previous_definition_is_put_back_only_if_it_can_be_stated_safely():
    before = statements.previous_function(function(), definition())
    assert (before.signature, before.url, before.max_batch_rows) == (function().signature, f"{PREFIX}deploy", 3)
    with pytest.raises(InvalidPropertyError, match=r"previous definition of .*Returns must be one of"):
        statements.previous_function(function(), definition(returns="NUMBER(10,2)"))

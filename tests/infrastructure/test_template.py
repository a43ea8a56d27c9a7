"""Assertions on the synthesized template: every resource of the pipeline, and its IAM, as designed.

IAM resource patterns are matched as IAM does (``*`` any characters, ``?`` one) against ARNs written
as cdk-nag prints them (``arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:...``).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

import app as cdk_app
from pipeline_shared.catalogue import CATALOGUE
from pipeline_shared.credentials import STANDIN_ENV
from stacks.nag import flatten_reference
from tests.infrastructure.conftest import project_context, synthesize

PREFIX = "movielens-dev"
ACCOUNT = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:"
LOG_GROUP = ACCOUNT.format(service="logs") + "log-group:"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALARM_EMAIL = "ops@example.com"
ADMIN_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:snowflake/recommender-admin-AbCdEf"


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(policy logical id, statement) for every identity policy in the template."""
    found = []
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found.append((name, statement))
    for name, role in resources(template, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                found.append((name, statement))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def flat(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def policies_of(template: dict[str, Any], path_fragment: str) -> list[dict[str, Any]]:
    """Statements of the policies attached to the role of the Lambda whose logical id contains the fragment."""
    return [s for name, s in statements(template) if path_fragment in name]


def _iam_pattern(resource: Any) -> re.Pattern[str]:
    flat_resource = flatten_reference(resource)
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in flat_resource))


def granting(granted: list[dict[str, Any]], action: str, resource: str) -> list[dict[str, Any]]:
    """The Allow statements naming ``action`` with a resource pattern that matches ``resource``."""
    return [
        s
        for s in granted
        if s["Effect"] == "Allow"
        and action in as_list(s["Action"])
        and any(_iam_pattern(r).fullmatch(resource) for r in as_list(s["Resource"]))
    ]


def allows(granted: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether some statement allows ``action`` on ``resource`` (conditions aside)."""
    return bool(granting(granted, action, resource))


def configured_context() -> dict[str, Any]:
    """dev with every opt-in setting: reserved train concurrency, other instance types, real-time endpoints,
    Snowflake secrets under a customer-managed KMS key (the DDL user's by full ARN, the trainer's by name),
    alarms mailed to an address, with the endpoint of model movielens watched, engine=spark switched on, and
    endpoints idle for 24 h swept.
    It synthesizes, so cdk-nag found nothing (a violation fails synth)."""
    context = project_context()
    dev_env = copy.deepcopy(context["recommender"]["environments"]["dev"])
    snowflake = dev_env["snowflake"]
    del snowflake["secretName"]
    snowflake["secretArn"] = ADMIN_SECRET_ARN
    snowflake["secretKmsKeyArn"] = KEY_ARN
    dev_env["training"] = {"instanceType": "ml.c5.xlarge", "concurrentStarts": 4}
    dev_env["endpoint"] = {"type": "realtime", "instanceType": "ml.m5.xlarge"}
    dev_env["alarms"] = {"email": ALARM_EMAIL, "models": ["movielens"], "latencyP99Ms": 400}
    dev_env["spark"] = {"enabled": True}
    dev_env["endpointIdleHours"] = 24
    context["recommender"] = {"environments": {"dev": dev_env}}
    return context


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir: Path = tmp_path_factory.mktemp("configured")
    return synthesize(outdir, configured_context()).templates["Recommender-dev"]


# -- storage --------------------------------------------------------------------------------


def test_artifact_bucket_is_encrypted_private_logged_and_removed_on_destroy(dev: Template, dev_template) -> None:
    dev.resource_count_is("AWS::S3::Bucket", 2)
    dev.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "LoggingConfiguration": Match.object_like({"LogFilePrefix": "artifacts/"}),
                    "VersioningConfiguration": {"Status": "Enabled"},
                }
            ),
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
        },
    )
    dev.resource_count_is("Custom::S3AutoDeleteObjects", 1)  # the artifacts; the access logs are kept
    [logs] = [b for k, b in resources(dev_template, "AWS::S3::Bucket").items() if k.startswith("StorageAccessLogs")]
    # S3 keeps delivering access logs after a bucket is emptied: deleting it could fail cdk destroy
    assert logs["DeletionPolicy"] == "Retain" and logs["Properties"]["LifecycleConfiguration"]["Rules"]
    for policy in resources(dev_template, "AWS::S3::BucketPolicy").values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


# -- training image and SageMaker role ------------------------------------------------------------


def test_training_image_is_an_amd64_docker_asset(synthesized) -> None:
    manifest = json.loads((synthesized.outdir / "Recommender-dev.assets.json").read_text())
    [image] = manifest["dockerImages"].values()
    staged = synthesized.outdir / image["source"]["directory"]
    assert (staged / image["source"]["dockerFile"]).is_file()
    assert (staged / "training_image" / "recommender" / "train.py").is_file()
    assert (staged / "pipeline_shared" / "identifiers.py").is_file()
    # the root's .dockerignore keeps everything else (.venv, node_modules, tests) out of the context
    assert sorted(p.name for p in staged.iterdir()) == [".dockerignore", "pipeline_shared", "training_image"]
    assert image["source"]["platform"] == "linux/amd64"


def role_statements(template: dict[str, Any], construct: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The role created by ``construct`` (e.g. SageMakerRole) and the statements of its default policy."""
    [role] = [
        r for k, r in resources(template, "AWS::IAM::Role").items() if re.fullmatch(rf"{construct}[0-9A-F]{{8}}", k)
    ]
    granted = [s for name, s in statements(template) if name.startswith(f"{construct}DefaultPolicy")]
    return role, granted


def test_training_role_is_scoped_to_the_pipeline(dev_template) -> None:
    role, granted = role_statements(dev_template, "SageMakerRole")
    assert "sagemaker.amazonaws.com" in flat(role["Properties"]["AssumeRolePolicyDocument"])
    assert "ManagedPolicyArns" not in role["Properties"]
    text = flat(granted)
    assert f"/{PREFIX}/*" in text  # objects under the prefix only
    assert '"s3:GetObject"' in text and '"s3:PutObject"' in text
    assert "s3:*" not in text and "s3:GetObject*" not in text
    assert "secretsmanager:GetSecretValue" in text
    assert "ecr:BatchGetImage" in text
    assert "log-group:/aws/sagemaker/TrainingJobs" in text
    metric = [s for s in granted if "cloudwatch:PutMetricData" in as_list(s["Action"])]
    assert metric and metric[0]["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_each_snowflake_secret_reaches_only_its_identity(dev_template) -> None:
    """The training jobs read the training user's key, never the DDL user's; the DDL handler the reverse."""
    _, training = role_statements(dev_template, "SageMakerRole")
    ddl = [s for name, s in statements(dev_template) if name.startswith("SnowflakeHandlerServiceRole")]
    for granted, own, other in (
        (training, "snowflake/recommender-trainer", "snowflake/recommender-admin"),
        (ddl, "snowflake/recommender-admin", "snowflake/recommender-trainer"),
    ):
        secrets = [s for s in granted if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
        assert secrets and own in flat(secrets) and other not in flat(granted)


def test_hosting_role_reads_models_only_and_never_the_secret(dev_template) -> None:
    role, granted = role_statements(dev_template, "SageMakerHostingRole")
    assert "sagemaker.amazonaws.com" in flat(role["Properties"]["AssumeRolePolicyDocument"])
    text = flat(granted)
    assert f"/{PREFIX}/models/*" in text and "ecr:BatchGetImage" in text
    assert "secretsmanager" not in text and "s3:PutObject" not in text and "s3:DeleteObject" not in text
    s3 = [a for s in granted for a in as_list(s["Action"]) if a.startswith("s3:")]
    assert s3 == ["s3:GetObject"]


TRAINING_LOGS = f"{LOG_GROUP}/aws/sagemaker/TrainingJobs"


def test_training_role_writes_only_the_log_streams_of_this_pipelines_jobs(dev_template) -> None:
    """SageMaker logs a training job to /aws/sagemaker/TrainingJobs, stream <job>/algo-<n>-<epoch>
    (https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html); the operator CLI's tuning
    jobs start <prefix>-tune-... training jobs as this role. Other jobs' streams and groups stay out of reach."""
    _, granted = role_statements(dev_template, "SageMakerRole")
    for action in ("logs:CreateLogGroup", "logs:DescribeLogStreams"):
        assert allows(granted, action, TRAINING_LOGS) and allows(granted, action, f"{TRAINING_LOGS}:*"), action
    ours = (
        f"{TRAINING_LOGS}:log-stream:{PREFIX}-train-0123456789ab/algo-1-1764000000",
        f"{TRAINING_LOGS}:log-stream:{PREFIX}-tune-0123456789ab-001-1a2b3c4d/algo-1-1764000000",
    )
    others = (
        f"{TRAINING_LOGS}:log-stream:someone-else-train-1/algo-1-1764000000",
        f"{TRAINING_LOGS}:log-stream:movielens-prod-train-0123456789ab/algo-1-1764000000",
        f"{LOG_GROUP}/aws/sagemaker/ProcessingJobs:log-stream:{PREFIX}-train-1/algo-1-1",
        f"{LOG_GROUP}/aws/sagemaker/Endpoints/{PREFIX}-movies:log-stream:AllTraffic/i-0abc",
    )
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert all(allows(granted, action, stream) for stream in ours), action
        assert not any(allows(granted, action, stream) for stream in others), action
    assert not allows(granted, "logs:CreateLogGroup", f"{LOG_GROUP}/aws/sagemaker/ProcessingJobs")


def test_hosting_role_writes_only_the_log_groups_of_this_pipelines_endpoints(dev_template) -> None:
    """An endpoint logs to /aws/sagemaker/Endpoints/<endpoint>; ours are named <prefix>-<model>."""
    _, granted = role_statements(dev_template, "SageMakerHostingRole")
    group = f"{LOG_GROUP}/aws/sagemaker/Endpoints/{PREFIX}-movies"
    assert allows(granted, "logs:CreateLogGroup", group) and allows(granted, "logs:CreateLogGroup", f"{group}:*")
    assert allows(granted, "logs:PutLogEvents", f"{group}:log-stream:AllTraffic/i-0abc")
    for other in (f"{LOG_GROUP}/aws/sagemaker/Endpoints/someone-else:log-stream:AllTraffic/i-0abc", TRAINING_LOGS):
        assert not allows(granted, "logs:PutLogEvents", other) and not allows(granted, "logs:CreateLogGroup", other)


def test_no_statement_allows_every_action(dev_template) -> None:
    for name, statement in statements(dev_template):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{name} allows {action}"


def test_wildcard_resources_only_where_no_resource_type_exists(dev_template) -> None:
    allowed_star = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sagemaker:ListTrainingJobs",
        "sagemaker:ListHyperParameterTuningJobs",
        "sagemaker:ListEndpoints",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:ListModels",
        "cloudwatch:PutMetricData",
        "ecr:GetAuthorizationToken",
    }
    for name, statement in statements(dev_template):
        if "*" in as_list(statement.get("Resource")):
            assert set(as_list(statement["Action"])) <= allowed_star, f"{name}: {statement['Action']} on *"


# -- the external-function API ------------------------------------------------------------


def test_api_is_regional_rest_with_iam_auth_on_every_route(dev: Template, dev_template) -> None:
    dev.has_resource_properties("AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}})
    paths = {r["Properties"]["PathPart"] for r in resources(dev_template, "AWS::ApiGateway::Resource").values()}
    assert paths == {"train", "deploy", "undeploy", "invoke", "recommend", "status"}
    methods = resources(dev_template, "AWS::ApiGateway::Method").values()
    assert len(methods) == 6
    for method in methods:
        props = method["Properties"]
        assert props["HttpMethod"] == "POST"
        assert props["AuthorizationType"] == "AWS_IAM"
        assert props["Integration"]["Type"] == "AWS_PROXY"


def test_api_resource_policy_admits_only_the_snowflake_role(dev_template) -> None:
    [api] = resources(dev_template, "AWS::ApiGateway::RestApi").values()
    allow, deny = api["Properties"]["Policy"]["Statement"]
    assert allow["Effect"] == "Allow" and allow["Action"] == "execute-api:Invoke"
    principal = flat(allow["Principal"])
    assert "assumed-role/" in principal and "/snowflake" in principal and "AWS::Partition" in principal
    assert "SnowflakeRole" in principal  # the role the stack creates
    # anyone else is denied, even with an identity policy allowing execute-api:Invoke on "*"
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    condition = deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"]
    assert "SnowflakeRole" in flat(condition)


def test_stage_has_access_logs_throttling_and_tracing(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [Match.object_like({"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100})]
            ),
        },
    )


def test_snowflake_role_starts_unusable_and_may_only_invoke_the_api(dev_template) -> None:
    roles = {
        k: r for k, r in resources(dev_template, "AWS::IAM::Role").items() if "ExternalFunctionsSnowflakeRole" in k
    }
    [role] = roles.values()
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    # until the custom resource writes Snowflake's IAM user and external ID, nobody may assume it:
    # every signed request has aws:PrincipalArn, so a Null-true condition on it never matches
    assert trust["Condition"] == {"Null": {"aws:PrincipalArn": "true"}}
    assert "ExternalId" not in flat(trust)
    granted = [s for name, s in statements(dev_template) if name.startswith("ExternalFunctionsSnowflakeRole")]
    assert [s["Action"] for s in granted] == ["execute-api:Invoke"]
    assert "/prod/POST/*" in flat(granted)


def test_lambdas_run_python_3_13_with_retention_and_tracing(dev_template) -> None:
    functions = {
        k: f
        for k, f in resources(dev_template, "AWS::Lambda::Function").items()
        if k.startswith(("ExternalFunctions", "Snowflake", "SageMakerCleanup")) and "framework" not in k
    }
    assert len(functions) == 9  # 6 routes, the Snowflake handler, the two cleanup handlers
    for name, function in functions.items():
        assert function["Properties"]["Runtime"] == "python3.13", name
        assert "LoggingConfig" in function["Properties"], name
    for name, group in resources(dev_template, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == 30, name
        assert group["DeletionPolicy"] == "Delete", name
    routes = [f for k, f in functions.items() if k.startswith("ExternalFunctions")]
    assert {f["Properties"]["Handler"] for f in routes} == {
        f"external_functions.handlers.{f.handler}" for f in CATALOGUE
    }
    assert all(f["Properties"]["TracingConfig"] == {"Mode": "Active"} for f in routes)


def test_route_lambdas_get_their_configuration(dev_template) -> None:
    [train] = [f for k, f in resources(dev_template, "AWS::Lambda::Function").items() if "TrainFunction" in k]
    env = train["Properties"]["Environment"]["Variables"]
    assert env["RESOURCE_PREFIX"] == PREFIX
    assert env["SNOWFLAKE_ACCOUNT"] == "myorg-myaccount" and env["SNOWFLAKE_USER"] == "RECOMMENDER_TRAINER"
    assert env["ENDPOINT_TYPE"] == "serverless"
    assert {"TRAINING_IMAGE_URI", "SAGEMAKER_ROLE_ARN", "ARTIFACT_BUCKET", "SNOWFLAKE_SECRET_ARN"} <= set(env)
    assert not any("PASSWORD" in k or "PRIVATE" in k for k in env)


def _sagemaker_arns(kind: str) -> str:
    return f":{kind}/{PREFIX}-"


def test_each_route_has_only_its_own_permissions(dev_template) -> None:
    train = flat(policies_of(dev_template, "TrainFunctionServiceRole"))
    deploy = flat(policies_of(dev_template, "DeployFunctionServiceRole"))
    invoke = flat(policies_of(dev_template, "InvokeFunctionServiceRole"))
    recommend = flat(policies_of(dev_template, "RecommendFunctionServiceRole"))
    status = flat(policies_of(dev_template, "StatusFunctionServiceRole"))
    assert "sagemaker:CreateTrainingJob" in train and f":training-job/{PREFIX}-train-*" in train
    assert "sagemaker:CreateEndpoint" not in train and "InvokeEndpoint" not in train
    assert "sagemaker:UpdateEndpoint" in deploy and "sagemaker:CreateTrainingJob" not in deploy
    for text in (invoke, recommend):
        assert "sagemaker:InvokeEndpoint" in text and f":endpoint/{PREFIX}-*" in text
        assert "iam:PassRole" not in text and "Create" not in text
    assert "Describe" in status and "Create" not in status and "iam:PassRole" not in status
    undeploy = flat(policies_of(dev_template, "UndeployFunctionServiceRole"))
    for action in ("DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel", "ListTags"):
        assert f"sagemaker:{action}" in undeploy
    assert "Create" not in undeploy and "Update" not in undeploy and "iam:PassRole" not in undeploy
    assert f":endpoint/{PREFIX}-*" in undeploy and f":model/{PREFIX}-*" in undeploy
    assert "DeleteModel" not in deploy and "DeleteEndpointConfig" not in deploy  # only undeploy takes models down


def test_deployment_records_are_written_by_undeploy_and_read_by_status_only(dev_template) -> None:
    """What became of an undeployed model: s3://<bucket>/<prefix>/deployments/<model>.json."""
    records = f"/{PREFIX}/deployments/*"
    grants = {
        name: [st for st in policies_of(dev_template, f"{name}FunctionServiceRole") if "s3:" in flat(st["Action"])]
        for name in ("Train", "Deploy", "Undeploy", "Invoke", "Recommend", "Status")
    }
    assert [flat(st["Action"]) for st in grants["Undeploy"]] == ['"s3:PutObject"']
    assert records in flat(grants["Undeploy"][0]["Resource"])
    assert sorted(flat(st["Action"]) for st in grants["Status"]) == ['"s3:GetObject"', '"s3:ListBucket"']
    assert all(not grants[name] for name in ("Train", "Deploy", "Invoke", "Recommend"))


def test_log_retention_grants_name_both_arn_forms_of_sagemakers_log_groups(dev_template) -> None:
    """CloudWatch Logs checks CreateLogGroup and PutRetentionPolicy against log-group:NAME:*, tagging against
    the form without :* (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl):
    the train and deploy routes set the retention of SageMaker's groups, so both forms are granted."""
    train = policies_of(dev_template, "TrainFunctionServiceRole")
    deploy = policies_of(dev_template, "DeployFunctionServiceRole")
    endpoint_logs = f"{LOG_GROUP}/aws/sagemaker/Endpoints/{PREFIX}-movies"
    for action in ("logs:CreateLogGroup", "logs:PutRetentionPolicy"):
        assert allows(train, action, TRAINING_LOGS) and allows(train, action, f"{TRAINING_LOGS}:*"), action
        assert allows(deploy, action, endpoint_logs) and allows(deploy, action, f"{endpoint_logs}:*"), action
        assert not allows(deploy, action, f"{LOG_GROUP}/aws/sagemaker/Endpoints/someone-else:*"), action


def test_no_route_may_be_invoked_from_the_consoles_test_stage(dev_template) -> None:
    """CDK's LambdaIntegration also lets API Gateway's test-invoke-stage call the function unless
    allow_test_invoke=False (https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_apigateway/LambdaIntegration.html)."""
    permissions = [p["Properties"] for p in resources(dev_template, "AWS::Lambda::Permission").values()]
    from_api = [p for p in permissions if p["Principal"] == "apigateway.amazonaws.com"]
    assert "test-invoke-stage" not in flat(from_api)
    assert len(from_api) == len(CATALOGUE)  # one per route: the prod stage's POST
    stage = re.compile(r".*/<ExternalFunctionsApiDeploymentStageprod[0-9A-F]{8}>/POST/[a-z]+")
    assert all(stage.fullmatch(flatten_reference(p["SourceArn"])) for p in from_api)


def _only(granted: list[dict[str, Any]], action: str) -> dict[str, Any]:
    [statement] = [s for s in granted if action in as_list(s["Action"])]
    return statement


def test_create_calls_are_held_to_the_configured_instance_types(dev_template, configured) -> None:
    """sagemaker:InstanceTypes holds every instance type a create request names
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html). It is
    multivalued: ForAllValues, which is also true when the request names none
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html)
    -- so a serverless endpoint config stays allowed, and a training job must name its type (Null false)."""
    for template, training, endpoint in (
        (dev_template, "ml.m5.large", "ml.m5.large"),
        (configured, "ml.c5.xlarge", "ml.m5.xlarge"),
    ):
        create_job = _only(policies_of(template, "TrainFunctionServiceRole"), "sagemaker:CreateTrainingJob")
        assert as_list(create_job["Action"]) == ["sagemaker:CreateTrainingJob"]  # Describe, AddTags: no condition
        assert create_job["Condition"] == {
            "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": [training]},
            "Null": {"sagemaker:InstanceTypes": "false"},
        }
        create_config = _only(policies_of(template, "DeployFunctionServiceRole"), "sagemaker:CreateEndpointConfig")
        assert as_list(create_config["Action"]) == ["sagemaker:CreateEndpointConfig"]
        assert create_config["Condition"] == {"ForAllValues:StringEquals": {"sagemaker:InstanceTypes": [endpoint]}}
    # these conditioned statements are the only grants of the two create calls in the stack
    creates = {"sagemaker:CreateTrainingJob", "sagemaker:CreateEndpointConfig"}
    granted = [s for _, s in statements(dev_template) if creates & set(as_list(s["Action"]))]
    assert len(granted) == 2 and all("sagemaker:InstanceTypes" in flat(s["Condition"]) for s in granted)
    # Describe and AddTags carry no instance types: under the condition they would never be allowed
    for action in ("sagemaker:DescribeTrainingJob", "sagemaker:AddTags"):
        assert "Condition" not in _only(policies_of(dev_template, "TrainFunctionServiceRole"), action)


def test_pass_role_only_for_the_right_sagemaker_role_to_sagemaker(dev_template) -> None:
    passes = {
        n.split("ServiceRole")[0]: s for n, s in statements(dev_template) if "iam:PassRole" in as_list(s["Action"])
    }
    assert set(passes) == {"ExternalFunctionsTrainFunction", "ExternalFunctionsDeployFunction"}
    for statement in passes.values():
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # training jobs run as the training role, endpoints as the hosting role
    assert re.fullmatch(r'.*"SageMakerRole[0-9A-F]{8}".*', flat(passes["ExternalFunctionsTrainFunction"]["Resource"]))
    assert "SageMakerHostingRole" in flat(passes["ExternalFunctionsDeployFunction"]["Resource"])


# -- Snowflake integration and cleanup custom resources ------------------------------------------


def test_snowflake_integration_resource_carries_the_function_catalogue(dev_template) -> None:
    [integration] = resources(dev_template, "Custom::SnowflakeIntegration").values()
    props = integration["Properties"]
    assert props["IntegrationName"] == "MOVIELENS_DEV_API"
    assert props["Database"] == "MOVIELENS" and props["Schema"] == "PUBLIC"
    assert props["GrantRoles"] == ["ANALYST"]
    assert props["Retain"] == "false" and props["Detached"] == "false"
    names = [(f["Name"], tuple(tuple(a) for a in f["Arguments"])) for f in props["Functions"]]
    assert names == [(f.name, arguments) for f in CATALOGUE for arguments in f.overloads]
    volatile = {f["Name"]: f["Volatile"] for f in props["Functions"]}
    assert volatile["TRAIN_AND_GET_RECOMMENDATIONS"] == "true" and volatile["DEPLOY_MODEL"] == "true"
    urls = [flat(f["Url"]) for f in props["Functions"]]
    assert all(re.search(r"/(train|deploy|undeploy|invoke|recommend|status)\"", u) for u in urls)
    connection = props["Connection"]
    assert set(connection) == {"Account", "User", "Role", "Warehouse", "SecretArn"}
    assert "password" not in flat(props).lower()


def test_snowflake_handler_may_only_rewrite_the_snowflake_roles_trust(dev_template) -> None:
    granted = [s for name, s in statements(dev_template) if name.startswith("SnowflakeHandlerServiceRole")]
    iam = [s for s in granted if any(a.startswith("iam:") for a in as_list(s["Action"]))]
    assert len(iam) == 1
    assert as_list(iam[0]["Action"]) == ["iam:UpdateAssumeRolePolicy"]
    assert "ExternalFunctionsSnowflakeRole" in flat(iam[0]["Resource"])


def test_cleanup_runs_before_the_sagemaker_role_goes_and_after_the_api(dev_template) -> None:
    [(cleanup_id, cleanup)] = resources(dev_template, "Custom::SageMakerCleanup").items()
    assert cleanup["Properties"]["ResourcePrefix"] == PREFIX
    depends = cleanup.get("DependsOn", [])
    assert any(d.startswith("SageMakerRole") for d in depends)
    assert any(d.startswith("StorageArtifacts") for d in depends)  # jobs stop before the bucket goes
    [api] = resources(dev_template, "AWS::ApiGateway::RestApi").values()
    assert cleanup_id in api.get("DependsOn", [])
    deletes = flat(policies_of(dev_template, "SageMakerCleanupOnEventServiceRole"))
    assert "sagemaker:DeleteEndpoint" in deletes and f":endpoint/{PREFIX}-*" in deletes
    assert "sagemaker:StopTrainingJob" in deletes and f":training-job/{PREFIX}-train-*" in deletes


def test_outputs_name_everything_a_user_needs(dev: Template) -> None:
    for output in (
        "ApiUrl",
        "SnowflakeRoleArn",
        "SageMakerRoleArn",
        "ArtifactBucket",
        "TrainingImageUri",
        "IntegrationName",
        "ExternalFunctionNames",
    ):
        dev.has_output(output, Match.any_value())


def test_prod_uses_realtime_endpoints(synthesized) -> None:
    prod = synthesized.templates["Recommender-prod"]
    [train] = [f for k, f in resources(prod, "AWS::Lambda::Function").items() if "TrainFunction" in k]
    env = train["Properties"]["Environment"]["Variables"]
    assert env["ENDPOINT_TYPE"] == "realtime" and env["ENDPOINT_INSTANCE_TYPE"] == "ml.m5.large"
    assert env["RESOURCE_PREFIX"] == "movielens-prod"


def test_workload_identity_stack_has_no_secret_anywhere(tmp_path) -> None:
    """snowflake.auth "wif": no secret is imported or granted; both identities sign in as their roles."""
    context = project_context()
    environments = context["recommender"]["environments"]
    dev_env = copy.deepcopy(environments["dev"])
    for key in ("secretName", "trainingSecretName"):
        del dev_env["snowflake"][key]
    dev_env["snowflake"]["auth"] = "wif"
    context["recommender"] = {"environments": {"dev": dev_env}}
    template = synthesize(tmp_path / "cdk.out", context).templates["Recommender-dev"]

    assert "secretsmanager" not in flat(template)
    [train] = [f for k, f in resources(template, "AWS::Lambda::Function").items() if "TrainFunction" in k]
    env = train["Properties"]["Environment"]["Variables"]
    assert env["SNOWFLAKE_AUTH"] == "wif" and "SNOWFLAKE_SECRET_ARN" not in env
    [integration] = resources(template, "Custom::SnowflakeIntegration").values()
    connection = integration["Properties"]["Connection"]
    assert connection["Auth"] == "wif" and "SecretArn" not in connection
    # the README's ALTER USER ... ADD WORKLOAD IDENTITY statements need both role ARNs
    assert {"SnowflakeHandlerRoleArn", "SageMakerRoleArn"} <= set(template["Outputs"])


def test_reserved_concurrency_is_opt_in(dev_template, configured) -> None:
    """Lambda reserves only up to the unreserved account concurrency minus 100, and new accounts have reduced
    quotas (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html,
    https://docs.aws.amazon.com/lambda/latest/dg/limits.html): a default reservation would fail the first
    deploy. Unset, job starts stay bounded by maxJobsPerBatch; training.concurrentStarts reserves that many."""

    def reserved(template: dict[str, Any]) -> dict[str, Any]:
        functions = resources(template, "AWS::Lambda::Function")
        return {k: f for k, f in functions.items() if "ReservedConcurrentExecutions" in f["Properties"]}

    assert reserved(dev_template) == {}
    [train] = [f for k, f in resources(dev_template, "AWS::Lambda::Function").items() if "TrainFunction" in k]
    assert train["Properties"]["Environment"]["Variables"]["TRAINING_MAX_JOBS_PER_BATCH"] == "3"
    assert "CKV_AWS_115" in flat(train["Metadata"]["checkov"])  # checkov's finding acknowledged, with the reason
    [(name, opted_in)] = reserved(configured).items()
    assert "TrainFunction" in name and opted_in["Properties"]["ReservedConcurrentExecutions"] == 4
    assert "CKV_AWS_115" not in flat(opted_in.get("Metadata", {}))


def test_secrets_under_a_customer_managed_key_can_be_decrypted_by_their_readers(dev_template, configured) -> None:
    """GetSecretValue needs kms:Decrypt on a customer-managed key
    (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html); CDK's grant_read
    grants none for an imported key (aws/aws-cdk#10160). Each reader may decrypt only its own secret, only
    through Secrets Manager."""
    # without snowflake.secretKmsKeyArn: Secrets Manager's own key (the alarm topic's key is Monitoring's)
    assert "kms:" not in flat([s for _, s in statements(dev_template)])
    _, training = role_statements(configured, "SageMakerRole")
    ddl = [s for name, s in statements(configured) if name.startswith("SnowflakeHandlerServiceRole")]
    trainer_secret = ACCOUNT.format(service="secretsmanager") + "secret:snowflake/recommender-trainer-??????"
    for granted, secret in ((training, trainer_secret), (ddl, ADMIN_SECRET_ARN)):
        [decrypt] = granting(granted, "kms:Decrypt", KEY_ARN)
        assert as_list(decrypt["Action"]) == ["kms:Decrypt"]
        assert flatten_reference(decrypt["Condition"]["StringEquals"]["kms:ViaService"]) in (
            "secretsmanager.<AWS::Region>.amazonaws.com",
            "secretsmanager.us-east-1.amazonaws.com",  # the DDL secret's own region, from its ARN
        )
        assert flatten_reference(decrypt["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]) == secret
    # a secret given by name still matches only its own random suffix
    assert allows(training, "secretsmanager:GetSecretValue", trainer_secret.replace("??????", "AbCdEf"))
    assert not allows(training, "secretsmanager:GetSecretValue", trainer_secret.replace("-??????", "-other-AbCdEf"))
    assert allows(ddl, "secretsmanager:GetSecretValue", ADMIN_SECRET_ARN)


def test_sagemaker_roles_trust_sagemaker_for_this_account_only(dev_template) -> None:
    for construct in ("SageMakerRole", "SageMakerHostingRole"):
        role, _ = role_statements(dev_template, construct)
        [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_get_bucket_location_is_not_under_a_condition_it_cannot_meet(dev_template) -> None:
    _, granted = role_statements(dev_template, "SageMakerRole")
    [location] = [s for s in granted if "s3:GetBucketLocation" in as_list(s["Action"])]
    assert "Condition" not in location


def test_a_shared_account_can_keep_its_own_api_gateway_account_role(tmp_path) -> None:
    """manageApiGatewayAccountRole: false -- no account stack, no AWS::ApiGateway::Account, no role for it."""
    context = project_context()
    for environment in context["recommender"]["environments"].values():
        environment["manageApiGatewayAccountRole"] = False
    templates = synthesize(tmp_path / "cdk.out", context).templates
    assert sorted(templates) == ["Recommender-dev", "Recommender-prod"]
    for template in templates.values():
        assert not resources(template, "AWS::ApiGateway::Account")
        assert "AmazonAPIGatewayPushToCloudWatchLogs" not in flat(template)
        assert resources(template, "AWS::ApiGateway::Stage")  # access logging stays on


def test_only_environments_that_manage_the_role_depend_on_the_account_stack() -> None:
    context = project_context()
    context["recommender"]["environments"]["dev"]["manageApiGatewayAccountRole"] = False
    stacks = {stack.stack_name: stack for stack in cdk_app.build(cdk.App(context=context))}
    assert [d.stack_name for d in stacks["Recommender-prod"].dependencies] == ["Recommender-account"]
    assert not stacks["Recommender-dev"].dependencies


def test_one_stack_owns_api_gateways_account_role(synthesized) -> None:
    """Two environments in one account must not overwrite each other's API Gateway account setting."""
    templates = synthesized.templates
    owners = [name for name, t in templates.items() if resources(t, "AWS::ApiGateway::Account")]
    assert owners == ["Recommender-account"]
    [account] = resources(templates["Recommender-account"], "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"
    [role] = resources(templates["Recommender-account"], "AWS::IAM::Role").values()
    assert role["DeletionPolicy"] == "Retain"
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in flat(role)


def test_no_stack_sets_the_stand_in_flag_that_admits_password_secrets(synthesized, configured) -> None:
    """Password secrets sign in only where ``RECOMMENDER_LOCAL_STANDIN=1`` is set (pipeline_shared.credentials):
    no Lambda environment or other property of any stack may carry it."""
    for name, template in {**synthesized.templates, "configured": configured}.items():
        assert STANDIN_ENV not in flat(template), name


# -- monitoring -------------------------------------------------------------------------------


def alarms_by_name(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def topic_ref(template: dict[str, Any]) -> dict[str, str]:
    [topic] = resources(template, "AWS::SNS::Topic")
    return {"Ref": topic}


def test_the_alarm_topic_is_kms_encrypted_ssl_only_and_subscribed_only_when_configured(dev_template, configured):
    for template in (dev_template, configured):
        [topic] = resources(template, "AWS::SNS::Topic").values()
        key = topic["Properties"]["KmsMasterKeyId"]
        [key_id] = [k for k in resources(template, "AWS::KMS::Key") if k == key["Fn::GetAtt"][0]]
        assert resources(template, "AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
        key_statements = resources(template, "AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]["Statement"]
        keys = {s["Principal"]["Service"]: s for s in key_statements if "Service" in s["Principal"]}
        [policy] = resources(template, "AWS::SNS::TopicPolicy").values()
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        publishers = {s["Principal"]["Service"]: s for s in statements if s["Effect"] == "Allow"}
        # both services publish to the encrypted topic: sns:Publish on it and the key's data-key actions
        assert set(keys) == set(publishers) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
        for service in keys:
            assert set(keys[service]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
            assert publishers[service]["Action"] == "sns:Publish"
            assert publishers[service]["Resource"] == topic_ref(template)
        alarms_only = keys["cloudwatch.amazonaws.com"]["Condition"]
        assert alarms_only == publishers["cloudwatch.amazonaws.com"]["Condition"]  # this account's <prefix>-* alarms
        assert alarms_only["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert flat(alarms_only["ArnLike"]["aws:SourceArn"]).endswith(f':alarm:{PREFIX}-*"]]}}')
        assert "Condition" not in keys["events.amazonaws.com"]  # EventBridge's KMS requests carry no source keys
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    assert resources(dev_template, "AWS::SNS::Subscription") == {}  # the shipped dev sets no address
    [subscription] = resources(configured, "AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": ALARM_EMAIL,
        "TopicArn": topic_ref(configured),
    }


def test_every_lambda_of_the_stack_alarms_on_errors_and_throttles(dev_template) -> None:
    alarms = alarms_by_name(dev_template)
    ours = {
        k: f
        for k, f in resources(dev_template, "AWS::Lambda::Function").items()
        if f["Properties"].get("Handler", "").split(".")[0]
        in ("external_functions", "snowflake_integration", "sagemaker_cleanup")
    }
    assert len(ours) == len(CATALOGUE) + 3
    watched: dict[str, set[str]] = {}
    for alarm in alarms.values():
        if alarm.get("Namespace") == "AWS/Lambda":
            [dimension] = alarm["Dimensions"]
            assert dimension["Name"] == "FunctionName"
            watched.setdefault(dimension["Value"]["Ref"], set()).add(alarm["MetricName"])
            assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 1, 300)
            assert alarm["AlarmActions"] == [topic_ref(dev_template)]
    assert watched == {function: {"Errors", "Throttles"} for function in ours}
    assert f"{PREFIX}-invoke-model-errors" in alarms and f"{PREFIX}-snowflake-integration-throttles" in alarms


def test_failed_training_and_tuning_jobs_of_this_prefix_reach_the_topic(dev_template) -> None:
    patterns = {
        tuple(rule["Properties"]["EventPattern"]["detail-type"]): rule
        for rule in resources(dev_template, "AWS::Events::Rule").values()
    }
    training = patterns[("SageMaker Training Job State Change",)]["Properties"]
    assert training["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "detail": {"TrainingJobName": [{"prefix": f"{PREFIX}-train-"}], "TrainingJobStatus": ["Failed"]},
    }
    tuning = patterns[("SageMaker HyperParameter Tuning Job State Change",)]["Properties"]
    assert tuning["EventPattern"]["detail"]["HyperParameterTuningJobStatus"] == ["Failed"]
    assert tuning["EventPattern"]["detail"]["HyperParameterTuningJobName"][0]["prefix"].startswith(PREFIX)
    for rule in (training, tuning):
        assert rule["State"] == "ENABLED" and [t["Arn"] for t in rule["Targets"]] == [topic_ref(dev_template)]


def test_every_endpoint_is_watched_through_the_scoring_functions_failed_batches(dev_template) -> None:
    alarms = alarms_by_name(dev_template)
    for label in ("invoke_model", "recommend"):
        alarm = alarms[f"{PREFIX}-{label.replace('_', '-')}-failed-batches"]
        [stat] = [m["MetricStat"] for m in alarm["Metrics"]]
        assert stat["Metric"] == {
            "Namespace": f"Recommender/{PREFIX}",  # what the Lambdas publish through Powertools
            "MetricName": "FailedBatches",
            "Dimensions": [{"Name": "service", "Value": label}],
        }
        assert (stat["Stat"], alarm["Threshold"], alarm["AlarmActions"]) == ("Sum", 1, [topic_ref(dev_template)])


def test_the_example_environments_watch_the_movielens_endpoint_with_what_its_type_publishes(dev_template) -> None:
    """dev's endpoints are serverless: they publish no InvocationModelErrors, so no alarm waits for it."""
    environments = project_context()["recommender"]["environments"]
    assert all(env["alarms"]["models"] == ["movielens"] for env in environments.values())
    alarms = alarms_by_name(dev_template)
    assert {f"{PREFIX}-movielens-5xx-rate", f"{PREFIX}-movielens-latency-p99"} <= set(alarms)
    assert f"{PREFIX}-movielens-model-errors-rate" not in alarms
    assert "InvocationModelErrors" not in json.dumps(dev_template)


def test_a_configured_models_endpoint_alarms_on_error_rates_and_p99_latency(configured) -> None:
    alarms = alarms_by_name(configured)
    endpoint = [
        {"Name": "EndpointName", "Value": f"{PREFIX}-movielens"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    for kind, metric in (("5xx", "Invocation5XXErrors"), ("model-errors", "InvocationModelErrors")):
        alarm = alarms[f"{PREFIX}-movielens-{kind}-rate"]
        assert alarm["Threshold"] == 5 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        [expression] = [m for m in alarm["Metrics"] if "Expression" in m]
        assert expression["ReturnData"] is True and "/ MAX([invocations, 1])" in expression["Expression"]
        used = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
        assert set(used) == {metric, "Invocations"}
        for stat in used.values():
            assert stat["Metric"]["Namespace"] == "AWS/SageMaker" and stat["Metric"]["Dimensions"] == endpoint
    latency = alarms[f"{PREFIX}-movielens-latency-p99"]
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "ModelLatency",
        "p99",
        400_000,
    )
    assert latency["Dimensions"] == endpoint and latency["AlarmActions"] == [topic_ref(configured)]


def test_the_dashboard_shows_the_alarms_counters_endpoints_and_lambdas(dev_template, configured) -> None:
    for template, endpoints in (
        (dev_template, [f"Endpoint {PREFIX}-movielens"]),
        (configured, [f"Endpoint {PREFIX}-movielens"]),
    ):
        [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
        assert dashboard["Properties"]["DashboardName"] == f"{PREFIX}-recommender"
        body = json.loads(
            "".join(
                part if isinstance(part, str) else "0"
                for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
            )
        )
        titles = [widget["properties"].get("title") for widget in body["widgets"]]
        assert titles[:3] == [
            "Alarms",
            "Rows answered per function",
            "Batches refused (4xx) and failed (5xx); training jobs started",
        ]
        assert [t for t in titles if t.startswith("Endpoint ")] == endpoints
        sweep = template is configured  # the idle-endpoint sweep's Lambda, configured only there
        assert len([t for t in titles if t.startswith("Lambda ")]) == len(CATALOGUE) + 3 + sweep
        assert len(body["widgets"][0]["properties"]["alarms"]) == len(resources(template, "AWS::CloudWatch::Alarm"))


def test_the_spark_switch_adds_an_emr_serverless_application_the_train_function_may_start(
    configured, dev_template
) -> None:
    """spark.enabled (off by default: dev has none of it) adds the application, its job role and the train
    function's StartJobRun on that application only, PassRole of that role to EMR Serverless only."""
    assert not resources(dev_template, "AWS::EMRServerless::Application")
    assert "SPARK_APPLICATION_ID" not in flat(dev_template)
    [(app_id, application)] = resources(configured, "AWS::EMRServerless::Application").items()
    assert application["Properties"]["Type"] == "SPARK"
    assert application["Properties"]["ReleaseLabel"] == "emr-7.9.0"
    job_roles = [
        role
        for role in resources(configured, "AWS::IAM::Role").values()
        if "emr-serverless.amazonaws.com" in flat(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert len(job_roles) == 1
    [train] = [
        f
        for f in resources(configured, "AWS::Lambda::Function").values()
        if "SPARK_APPLICATION_ID" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    role_id = train["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = [
        statement
        for policy in resources(configured, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    ]
    starts = [s for s in granted if "emr-serverless:StartJobRun" in as_list(s["Action"])]
    assert starts and all(flat(s["Resource"]) == flat({"Fn::GetAtt": [app_id, "Arn"]}) for s in starts)
    [pass_role] = [
        s
        for s in granted
        if "iam:PassRole" in as_list(s["Action"]) and "emr-serverless" in flat(s.get("Condition", {}))
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}


def test_the_idle_endpoint_sweep_is_scheduled_only_when_configured(dev_template, configured) -> None:
    assert not [k for k in resources(dev_template, "AWS::Lambda::Function") if "IdleEndpointSweep" in k]
    [function] = [f for k, f in resources(configured, "AWS::Lambda::Function").items() if "IdleEndpointSweep" in k]
    assert function["Properties"]["Handler"] == "idle_endpoints.handler.handler"
    env = function["Properties"]["Environment"]["Variables"]
    assert env["ENDPOINT_IDLE_HOURS"] == "24" and env["RESOURCE_PREFIX"] == PREFIX and "ARTIFACT_BUCKET" in env
    [rule] = [r for k, r in resources(configured, "AWS::Events::Rule").items() if "IdleEndpointSweep" in k]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    granted = flat(policies_of(configured, "IdleEndpointSweepFunctionServiceRole"))
    for action in ("DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel", "ListEndpoints"):
        assert f"sagemaker:{action}" in granted
    assert "cloudwatch:GetMetricStatistics" in granted and f"/{PREFIX}/deployments/*" in granted
    assert "Create" not in granted and "Update" not in granted and "iam:PassRole" not in granted
    assert f"{PREFIX}-idle-endpoint-sweep-errors" in alarms_by_name(configured)

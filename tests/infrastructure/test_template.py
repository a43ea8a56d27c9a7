"""Assertions on the synthesized template: every resource of the pipeline, and its IAM, as designed."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from aws_cdk.assertions import Match, Template

from pipeline_shared.catalogue import CATALOGUE
from tests.infrastructure.conftest import project_context, synthesize

PREFIX = "movielens-dev"


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
    assert "log-group:/aws/sagemaker/*" in text
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
    assert paths == {"train", "deploy", "invoke", "recommend", "status"}
    methods = resources(dev_template, "AWS::ApiGateway::Method").values()
    assert len(methods) == 5
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
    assert len(functions) == 8  # 5 routes, the Snowflake handler, the two cleanup handlers
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
    assert all(re.search(r"/(train|deploy|invoke|recommend|status)\"", u) for u in urls)
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


def test_only_the_train_function_reserves_concurrency(dev_template) -> None:
    """Cost guard: at most this many train calls (each may start billed jobs) run at once."""
    functions = {k: f for k, f in resources(dev_template, "AWS::Lambda::Function").items() if "Function" in k}
    reserved = {k: f["Properties"].get("ReservedConcurrentExecutions") for k, f in functions.items()}
    assert [v for k, v in reserved.items() if "TrainFunction" in k] == [2]
    assert all(v is None for k, v in reserved.items() if "TrainFunction" not in k)
    [train] = [f for k, f in functions.items() if "TrainFunction" in k]
    assert train["Properties"]["Environment"]["Variables"]["TRAINING_MAX_JOBS_PER_BATCH"] == "3"


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

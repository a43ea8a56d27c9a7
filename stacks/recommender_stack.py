"""RecommenderStack: the whole pipeline for one environment, composed from its constructs.

The Snowflake secrets are imported with their KMS key (``SecretAttributes.encryption_key``,
https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_secretsmanager/SecretAttributes.html) when
``snowflake.secretKmsKeyArn`` names one: GetSecretValue on a secret under a customer-managed key also
needs kms:Decrypt on that key, which ``stacks.secrets.grant_secret_read`` grants each reader.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, CfnOutput, Environment, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from pipeline_shared.catalogue import CATALOGUE
from pipeline_shared.resources import LOG_RETENTION_DAYS
from pipeline_shared.settings import KEY_PAIR
from stacks.config import PipelineConfig, SnowflakeConfig
from stacks.container_image import ContainerImage
from stacks.external_function_api import ExternalFunctionApi
from stacks.idle_endpoint_sweep import IdleEndpointSweep
from stacks.monitoring import Monitoring
from stacks.nag import (
    LAMBDA_CHECKOV,
    LOG_GROUP_CHECKOV,
    UNRESERVED_LAMBDA_CHECKOV,
    acknowledge_checkov,
    unreserved_lambda,
)
from stacks.sagemaker_cleanup import SageMakerCleanup
from stacks.sagemaker_role import SageMakerHostingRole, SageMakerTrainingRole
from stacks.snowflake_integration import SnowflakeIntegration
from stacks.spark_training import SparkTraining
from stacks.storage import ArtifactStorage

ROOT = Path(__file__).resolve().parents[1]
R = logs.RetentionDays
# CDK's name for each retention period CloudWatch Logs accepts, in the order resources.LOG_RETENTION_DAYS lists them.
_NAMES = (R.ONE_DAY, R.THREE_DAYS, R.FIVE_DAYS, R.ONE_WEEK, R.TWO_WEEKS, R.ONE_MONTH, R.TWO_MONTHS, R.THREE_MONTHS)
RETENTION = dict(
    zip(LOG_RETENTION_DAYS, (*_NAMES, R.SIX_MONTHS, R.ONE_YEAR, R.TWO_YEARS, R.FIVE_YEARS, R.TEN_YEARS), strict=True)
)


class RecommenderStack(Stack):
    def __init__(self, scope: Construct, *, config: PipelineConfig) -> None:
        env = Environment(account=config.account, region=config.region) if config.account or config.region else None
        super().__init__(
            scope,
            config.stack_name,
            env=env,
            description=f"Movie recommender between Snowflake and SageMaker ({config.name})",
        )
        retention = RETENTION[config.log_retention_days]
        admin_secret, training_secret = self._secrets(config.snowflake)
        storage = ArtifactStorage(self, "Storage", prefix=config.resource_prefix)
        image = ContainerImage(
            self,
            "TrainingImage",  # construct id kept: a new id would replace the asset
            context=ROOT,
            dockerfile="training_image/Dockerfile",
        )
        training_role, hosting_role = self._sagemaker_roles(config, image, storage, training_secret)
        api = self._api(config, image, storage, training_role, hosting_role, training_secret, retention)
        integration = SnowflakeIntegration(
            self,
            "Snowflake",
            api=api,
            snowflake=config.snowflake,
            secret=admin_secret,
            functions=CATALOGUE,
            log_retention=retention,
        )
        if config.spark.enabled and training_secret is not None:  # engine=spark (config refuses it without a key)
            self._spark(config, storage, training_secret, api)
        cleanup = SageMakerCleanup(self, "SageMakerCleanup", prefix=config.resource_prefix, log_retention=retention)
        sweep = self._idle_sweep(config, storage, retention)
        monitoring = self._monitoring(config, api, integration, cleanup, sweep)
        # Teardown order: Snowflake functions, then the API (no new endpoints from SQL), then the
        # run-time training jobs and endpoints, then the SageMaker role they run as and the bucket.
        api.node.add_dependency(cleanup)
        cleanup.node.add_dependency(training_role, hosting_role, storage)  # jobs stop before the bucket empties
        outputs = {
            "ApiUrl": api.url,
            "SnowflakeRoleArn": api.snowflake_role.role_arn,
            "SageMakerRoleArn": training_role.role.role_arn,
            "SageMakerHostingRoleArn": hosting_role.role.role_arn,
            "ArtifactBucket": storage.bucket.bucket_name,
            "TrainingImageUri": image.image_uri,
            "IntegrationName": integration.integration_name,
            "SnowflakeHandlerRoleArn": integration.handler_role_arn,
            "ExternalFunctionNames": integration.function_names,
            "AlarmTopicArn": monitoring.topic.topic_arn,
            "DashboardName": monitoring.dashboard.dashboard_name,
        }
        if training_secret:  # the operator CLI (`recommender --env`) builds the train function's request from these
            outputs["SnowflakeTrainingSecretArn"] = training_secret.secret_arn
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
        self._acknowledge_checkov()

    def _sagemaker_roles(
        self,
        config: PipelineConfig,
        image: ContainerImage,
        storage: ArtifactStorage,
        training_secret: secretsmanager.ISecret | None,
    ) -> tuple[SageMakerTrainingRole, SageMakerHostingRole]:
        """The role training jobs run as, and the role the models behind endpoints run as."""
        training = SageMakerTrainingRole(
            self,
            "SageMakerRole",
            image=image,
            bucket=storage.bucket,
            bucket_prefix=f"{config.resource_prefix}/",
            resource_prefix=config.resource_prefix,
            secret=training_secret,
        )
        hosting = SageMakerHostingRole(
            self,
            "SageMakerHostingRole",
            image=image,
            bucket=storage.bucket,
            models_prefix=storage.models_prefix,
            resource_prefix=config.resource_prefix,
        )
        return training, hosting

    def _api(
        self,
        config: PipelineConfig,
        image: ContainerImage,
        storage: ArtifactStorage,
        training_role: SageMakerTrainingRole,
        hosting_role: SageMakerHostingRole,
        training_secret: secretsmanager.ISecret | None,
        retention: logs.RetentionDays,
    ) -> ExternalFunctionApi:
        """The API Gateway and the Lambdas Snowflake calls, given the environment the settings contract emits."""
        return ExternalFunctionApi(
            self,
            "ExternalFunctions",
            training_role=training_role.role,
            hosting_role=hosting_role.role,
            environment=config.lambda_environment(
                image_uri=image.image_uri,
                sagemaker_role_arn=training_role.role.role_arn,
                hosting_role_arn=hosting_role.role.role_arn,
                bucket=storage.bucket.bucket_name,
                secret_arn=training_secret.secret_arn if training_secret else None,
            ),
            log_retention=retention,
            throttle_rate_limit=config.api.throttle_rate_limit,
            throttle_burst_limit=config.api.throttle_burst_limit,
            training_instance_type=config.training.instance_type,
            endpoint_instance_type=config.endpoint.instance_type,
            train_concurrency=config.training.concurrent_starts,
        )

    def _idle_sweep(
        self, config: PipelineConfig, storage: ArtifactStorage, retention: logs.RetentionDays
    ) -> IdleEndpointSweep | None:
        """The hourly sweep of idle endpoints, where cdk.json sets endpointIdleHours."""
        if config.endpoint_idle_hours is None:
            return None
        return IdleEndpointSweep(
            self,
            "IdleEndpointSweep",
            prefix=config.resource_prefix,
            bucket=storage.bucket,
            idle_hours=config.endpoint_idle_hours,
            log_retention=retention,
        )

    def _monitoring(
        self,
        config: PipelineConfig,
        api: ExternalFunctionApi,
        integration: SnowflakeIntegration,
        cleanup: SageMakerCleanup,
        sweep: IdleEndpointSweep | None,
    ) -> Monitoring:
        """Alarms and the dashboard over every function of the stack and the alarmed models' endpoints."""
        functions = {
            **{function.label.replace("_", "-"): api.functions[function.path] for function in CATALOGUE},
            "snowflake-integration": integration.handler,
            **cleanup.functions,
            **({"idle-endpoint-sweep": sweep.function} if sweep else {}),
        }
        return Monitoring(
            self,
            "Monitoring",
            prefix=config.resource_prefix,
            functions=functions,
            email=config.alarms.email,
            models=config.alarms.models,
            latency_p99_ms=config.alarms.latency_p99_ms,
            serverless=config.endpoint.type == "serverless",
        )

    def _secrets(self, sf: SnowflakeConfig) -> tuple[secretsmanager.ISecret | None, secretsmanager.ISecret | None]:
        """The DDL user's and the training user's secrets (None, None with workload identity: no secret at all).

        Two Snowflake identities: the DDL user's key reaches only the Snowflake custom resource, the training
        user's key only the training jobs.
        """
        if sf.auth != KEY_PAIR:
            return None, None
        key = kms.Key.from_key_arn(self, "SnowflakeSecretKey", sf.secret_kms_key_arn) if sf.secret_kms_key_arn else None
        return (
            _secret(self, "SnowflakeSecret", sf.secret_name, sf.secret_arn, key),
            _secret(self, "SnowflakeTrainingSecret", sf.training_secret_name, sf.training_secret_arn, key),
        )

    def _spark(
        self,
        config: PipelineConfig,
        storage: ArtifactStorage,
        training_secret: secretsmanager.ISecret,
        api: ExternalFunctionApi,
    ) -> None:
        """engine=spark: the EMR Serverless application the train function may start runs on."""
        spark = SparkTraining(
            self,
            "SparkTraining",
            config=config.spark,
            resource_prefix=config.resource_prefix,
            bucket=storage.bucket,
            secret=training_secret,
        )
        spark.let_start(api.functions["train"])
        CfnOutput(self, "SparkApplicationId", value=spark.application.attr_application_id)

    def _acknowledge_checkov(self) -> None:
        """checkov's findings that do not apply, acknowledged beside each resource (as cdk-nag's are)."""
        acknowledge_checkov(self, "AWS::Lambda::Function", LAMBDA_CHECKOV)
        acknowledge_checkov(self, "AWS::Lambda::Function", UNRESERVED_LAMBDA_CHECKOV, where=unreserved_lambda)
        acknowledge_checkov(self, "AWS::Logs::LogGroup", LOG_GROUP_CHECKOV)


def _secret(
    scope: Construct, construct_id: str, name: str | None, arn: str | None, key: kms.IKey | None
) -> secretsmanager.ISecret:
    """The secret by full ARN or by name, with the KMS key it is encrypted under (None: Secrets Manager's own)."""
    if arn:
        return secretsmanager.Secret.from_secret_attributes(
            scope, construct_id, secret_complete_arn=arn, encryption_key=key
        )
    # By name the ARN lacks the random suffix: grants then name <partial ARN>-?????? (as from_secret_name_v2 does).
    partial = Stack.of(scope).format_arn(
        service="secretsmanager", resource="secret", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    return secretsmanager.Secret.from_secret_attributes(
        scope, construct_id, secret_partial_arn=partial, encryption_key=key
    )

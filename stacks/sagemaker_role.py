"""SageMaker's roles: one for training jobs, one for endpoints -- each with only what it needs.

SageMaker writes a training job's output to the log group ``/aws/sagemaker/TrainingJobs``, stream
``<training-job-name>/algo-<n>-<epoch>``, and an endpoint's to ``/aws/sagemaker/Endpoints/<endpoint>``
(https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html). So the training role may
write only the streams of this pipeline's jobs -- ``<prefix>-train-*``, and ``<prefix>-tune-*``, the
training jobs of the operator CLI's tuning jobs, which run as this role too -- and the hosting role
only the groups of this pipeline's endpoints (``<prefix>-*``). CloudWatch Logs authorizes
CreateLogGroup and DescribeLogStreams against the group (ARN with and without the trailing ``:*``)
and CreateLogStream and PutLogEvents against the stream
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from pipeline_shared.resources import TRAINING_LOG_GROUP, training_job_prefix, tuning_job_prefix
from stacks.container_image import ContainerImage
from stacks.nag import acknowledge_wildcards
from stacks.secrets import grant_secret_read


class SageMakerTrainingRole(Construct):
    """Training jobs: pull the image, read/write the pipeline's bucket prefix, read the Snowflake secret, log."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ContainerImage,
        bucket: s3.IBucket,
        bucket_prefix: str,
        resource_prefix: str,
        secret: secretsmanager.ISecret | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = sagemaker_role(self, image, "Runs the recommender's training jobs")
        if secret is not None:  # None: the jobs sign in to Snowflake as this role (workload identity)
            grant_secret_read(secret, self.role)
        # Explicit object actions (no s3:Get* style wildcards) on the pipeline's prefix only.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[f"{bucket.bucket_arn}/{bucket_prefix}*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{bucket_prefix}*"]}},
            )
        )
        # GetBucketLocation has no s3:prefix key: under that condition it would never be allowed.
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]))
        jobs = (training_job_prefix(resource_prefix), tuning_job_prefix(resource_prefix))
        grant_logs_and_metrics(self.role, log_group=TRAINING_LOG_GROUP, log_streams=[f"{job}*" for job in jobs])
        acknowledge_wildcards(
            self.role,
            "Wildcards are scoped: objects under the pipeline's bucket prefix, the log streams of the pipeline's "
            "training jobs (<prefix>-train-*, <prefix>-tune-*) and the training log group's :* ARN form, "
            "cloudwatch:PutMetricData (no resource type; limited by a namespace condition) and "
            "ecr:GetAuthorizationToken (account-wide by design).",
            allowed=[
                rf"Resource::<[A-Za-z0-9]+\.Arn>/{re.escape(bucket_prefix)}\*",
                rf"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                rf"{TRAINING_LOG_GROUP}:(\*|log-stream:{re.escape(resource_prefix)}-(train|tune)-\*)",
                r"Resource::\*",
            ],
        )


class SageMakerHostingRole(Construct):
    """What an endpoint's container may do: pull the image, read model artifacts, write logs and metrics.

    Endpoints never see the Snowflake secret and cannot write to the bucket.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: ContainerImage,
        bucket: s3.IBucket,
        models_prefix: str,
        resource_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = sagemaker_role(self, image, "Runs the recommender's endpoints")
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{bucket.bucket_arn}/{models_prefix}*"])
        )
        # Endpoint names are <prefix>-<model>; SageMaker names their streams after variants and instances.
        grant_logs_and_metrics(self.role, log_group=f"/aws/sagemaker/Endpoints/{resource_prefix}-*", log_streams=["*"])
        acknowledge_wildcards(
            self.role,
            "Wildcards are scoped: model artifacts under the pipeline's models prefix (read only), the log groups "
            "of the pipeline's endpoints (<prefix>-*), cloudwatch:PutMetricData (no resource type; limited by a "
            "namespace condition) and ecr:GetAuthorizationToken (account-wide by design).",
            allowed=[
                rf"Resource::<[A-Za-z0-9]+\.Arn>/{re.escape(models_prefix)}\*",
                r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/"
                rf"Endpoints/{re.escape(resource_prefix)}-\*(:\*|:log-stream:\*)?",
                r"Resource::\*",
            ],
        )


def grant_logs_and_metrics(role: iam.Role, *, log_group: str, log_streams: Sequence[str]) -> None:
    """Let SageMaker create ``log_group`` and write the streams in it matching ``log_streams``, and its metrics.

    Names may end in ``*``. Group actions are granted on both ARN forms of the group, stream actions
    on the streams only: the group's ``:*`` form would match every stream in it.
    """
    group = Stack.of(role).format_arn(
        service="logs", resource="log-group", resource_name=log_group, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resources=[group, f"{group}:*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{group}:log-stream:{stream}" for stream in log_streams],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],  # PutMetricData has no resource type; the condition scopes it
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        )
    )


def sagemaker_role(scope: Construct, image: ContainerImage, description: str) -> iam.Role:
    """A role SageMaker assumes, allowed to pull the recommender image."""
    # Only SageMaker acting for this account may assume it (confused-deputy protection).
    sagemaker = iam.ServicePrincipal("sagemaker.amazonaws.com").with_conditions(
        {"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
    )
    role = iam.Role(scope, "Role", assumed_by=sagemaker, description=description)
    image.grant_pull(role)
    return role

"""SparkTraining: ``engine=spark`` -- an EMR Serverless application, its job role and the ALS job script.

Only synthesized where cdk.json's ``spark.enabled`` is true (off, the stack has none of it). Why EMR
Serverless rather than a SageMaker Processing job: it scales the fit over workers from one StartJobRun
(no cluster to size), is billed per vCPU- and GB-second while a run lasts, stops on its own when
idle, and runs a PySpark entry point from S3 with ``--packages`` for the Snowflake Spark connector
(https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/jobs-spark.html); a Processing job
runs one container image on a fixed instance count. The job role is assumed by
``emr-serverless.amazonaws.com`` for this account only
(https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/security-iam-runtime-role.html); it may
read the job script, the training user's Snowflake secret and the bucket's ``<prefix>/spark/`` objects,
nothing else. The train function may start and list job runs of this application only, and pass
this role to EMR Serverless only
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonemrserverless.html).
"""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import CfnTag, Stack
from aws_cdk import aws_emrserverless as emrserverless
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from pipeline_shared import settings
from pipeline_shared.resources import PIPELINE_TAG
from stacks.config import SparkConfig
from stacks.nag import acknowledge_wildcards
from stacks.secrets import grant_secret_read

JOB_SCRIPT = Path(__file__).resolve().parents[1] / "spark_training" / "als_job.py"
SERVICE = "emr-serverless.amazonaws.com"


class SparkTraining(Construct):
    """The application ALS runs on, the role its runs assume, and the job script as an S3 asset."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: SparkConfig,
        resource_prefix: str,
        bucket: s3.IBucket,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.config = config
        self.application = emrserverless.CfnApplication(
            self,
            "Application",
            name=f"{resource_prefix}-als",
            release_label=config.release_label,
            type="SPARK",
            maximum_capacity=emrserverless.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=f"{config.max_vcpu} vCPU", memory=f"{config.max_memory_gb} GB"
            ),
            auto_start_configuration=emrserverless.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrserverless.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=15
            ),
            tags=[CfnTag(key=PIPELINE_TAG, value=resource_prefix)],
        )
        self.script = s3_assets.Asset(self, "JobScript", path=str(JOB_SCRIPT))
        self.role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal(SERVICE).with_conditions(
                {"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="Runs the recommender's Spark ALS job runs",
        )
        self.script.grant_read(self.role)
        grant_secret_read(secret, self.role)
        spark_prefix = f"{resource_prefix}/spark/"
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[f"{bucket.bucket_arn}/{spark_prefix}*"],
            )
        )
        acknowledge_wildcards(
            self.role,
            "The job role reads the job script's asset object (CDK's grant_read) and the pipeline's spark/ prefix.",
            allowed=[
                r"Action::s3:(GetObject|GetBucket|List)\*",
                r"Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-<AWS::Region>/\*",
                rf"Resource::<[A-Za-z0-9]+\.Arn>/{re.escape(spark_prefix)}\*",
            ],
        )

    def let_start(self, function: lambda_.Function) -> None:
        """Give ``function`` (the train Lambda) what ``engine=spark`` needs: settings, StartJobRun, PassRole."""
        supplied = {
            settings.SPARK_APPLICATION_ID: self.application.attr_application_id,
            settings.SPARK_JOB_ROLE_ARN: self.role.role_arn,
            settings.SPARK_ENTRY_POINT: self.script.s3_object_url,
        }
        for name, value in {**settings.environment(self.config), **settings.variables(supplied)}.items():
            function.add_environment(name, value)
        application = self.application.attr_arn
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["emr-serverless:StartJobRun"], resources=[application])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["emr-serverless:TagResource"], resources=[f"{application}/jobruns/*"])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SERVICE}},
            )
        )
        acknowledge_wildcards(
            function,
            "Tags go on this application's own job runs (<application>/jobruns/*), created by StartJobRun.",
            allowed=[r"Resource::<[A-Za-z0-9]+\.Arn>/jobruns/\*"],
        )

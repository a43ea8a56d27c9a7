"""The deployed environment an operator works on: cdk.json's settings plus the stack's CloudFormation outputs.

From these the CLI rebuilds exactly the environment the CDK stack gives the external-function
Lambdas (:meth:`stacks.config.PipelineConfig.lambda_environment`), so every verb runs the
Lambdas' own settings and logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from external_functions.settings import Environment, HostingSettings, TrainingSettings
from pipeline_shared import InputError
from stacks.config import CDK_JSON, ConfigError, PipelineConfig, load_environment

REQUIRED_OUTPUTS = ("TrainingImageUri", "SageMakerRoleArn", "SageMakerHostingRoleArn", "ArtifactBucket")


class StackError(InputError):
    """The environment's stack is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class DeployedStack:
    config: PipelineConfig
    outputs: dict[str, str]
    region: str

    def lambda_environment(self) -> dict[str, str]:
        """The variables the stack sets on the external-function Lambdas."""
        values = self.config.lambda_environment(
            image_uri=self.outputs["TrainingImageUri"],
            sagemaker_role_arn=self.outputs["SageMakerRoleArn"],
            hosting_role_arn=self.outputs["SageMakerHostingRoleArn"],
            bucket=self.outputs["ArtifactBucket"],
            secret_arn=self.outputs.get("SnowflakeTrainingSecretArn"),
        )
        return {**values, "AWS_REGION": self.region}

    def environment(self, verb: str) -> Environment:
        return Environment(self.lambda_environment(), f"recommender {verb}")

    def training(self) -> TrainingSettings:
        return TrainingSettings.from_env(self.environment("train"))

    def hosting(self) -> HostingSettings:
        return HostingSettings.from_env(self.environment("deploy"))

    @property
    def prefix(self) -> str:
        return self.config.resource_prefix


def resolve(env: str, cloudformation: Any, *, cdk_json: Path = CDK_JSON) -> DeployedStack:
    """The environment ``env`` of ``cdk_json`` and its deployed stack's outputs (one DescribeStacks call)."""
    try:
        config = load_environment(env, cdk_json)
    except ConfigError as exc:
        raise StackError(str(exc)) from None
    stack = config.stack_name
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise StackError(
                f"Stack {stack} is not deployed in this account and region: run `make deploy STACK={stack}`."
            ) from None
        raise StackError(f"Cannot read stack {stack}: {exc.response['Error'].get('Message', exc)}.") from None
    except BotoCoreError as exc:
        raise StackError(f"Cannot read stack {stack}: {exc}.") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs", [])}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise StackError(f"Stack {stack} has no output {missing[0]}: redeploy it with this version of the app.")
    return DeployedStack(config, outputs, cloudformation.meta.region_name)

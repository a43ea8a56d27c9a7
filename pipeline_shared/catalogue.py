"""The catalogue of external functions: the one description the API, the Lambdas, IAM and the DDL come from.

Each :class:`ExternalFunction` is one API route served by one Lambda handler, and one SQL function
(with an overload per optional trailing argument). The CDK app builds the routes, the Lambdas and
their IAM grants from it; the handlers check argument counts with it; the Snowflake custom
resource and the SQL templates create and name the functions from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What a permission may name: the pipeline's SageMaker objects of one kind, or no resource type.
ResourceKind = Literal[
    "training-job",
    "tuning-job",
    "tuned-training-job",
    "model",
    "endpoint-config",
    "endpoint",
    "training-logs",
    "endpoint-logs",
    "deployment-records",
    "artifact-bucket",
    "*",
]  # *-logs: the log groups SageMaker writes for training jobs and for this pipeline's endpoints;
# tuned-training-job: the training jobs a tuning job starts, which SageMaker names after it;
# deployment-records: the objects under s3://<bucket>/<prefix>/deployments/; artifact-bucket: the bucket itself
PassedRole = Literal["training", "hosting"]
# The configured instance type a create call may ask for: cdk.json's training.instanceType or endpoint.instanceType.
InstanceTypeSetting = Literal["training", "endpoint"]


@dataclass(frozen=True)
class InstanceTypeLimit:
    """Allow the actions only with the instance type configured for ``setting`` (IAM key ``sagemaker:InstanceTypes``).

    ``required``: the request must name an instance type; False where it may name none (a serverless
    endpoint config has no instance type, and the limit must not refuse it).
    """

    setting: InstanceTypeSetting
    required: bool


@dataclass(frozen=True)
class Permission:
    """IAM ``actions`` on the pipeline's objects of the given kinds (``*``: actions without a resource type)."""

    actions: tuple[str, ...]
    on: tuple[ResourceKind, ...]
    instance_types: InstanceTypeLimit | None = None  # only for create calls that choose instances


@dataclass(frozen=True)
class ExternalFunction:
    """One SQL function served by one API route and Lambda handler."""

    name: str  # SQL name
    path: str  # API resource, e.g. "train"
    handler: str  # function in external_functions.handlers
    arguments: tuple[tuple[str, str], ...]  # (name, SQL type), always given
    returns: str
    max_batch_rows: int
    permissions: tuple[Permission, ...]
    optional_arguments: tuple[tuple[str, str], ...] = ()  # trailing; each adds an overload
    volatile: bool = True  # side effects or answers that change with redeploys
    passes_role: PassedRole | None = None  # iam:PassRole on SageMaker's training or hosting role

    @property
    def label(self) -> str:
        """The name as SQL users write it, for messages (``train_and_get_recommendations``)."""
        return self.name.lower()

    @property
    def overloads(self) -> tuple[tuple[tuple[str, str], ...], ...]:
        """Every argument list SQL may call it with, shortest first."""
        return tuple(
            self.arguments + self.optional_arguments[:extra] for extra in range(len(self.optional_arguments) + 1)
        )

    @property
    def arities(self) -> tuple[int, ...]:
        """The accepted argument counts, e.g. ``(2, 3)``."""
        return tuple(len(arguments) for arguments in self.overloads)

    @property
    def signatures(self) -> tuple[str, ...]:
        """``NAME(TYPE, ...)`` of every overload: how GRANT and DROP name a function."""
        return tuple(f"{self.name}({', '.join(kind for _, kind in args)})" for args in self.overloads)

    def as_properties(self, url: str) -> list[dict[str, object]]:
        """The entries (one per overload) the Snowflake integration custom resource expects."""
        entries = []
        for arguments in self.overloads:
            entry: dict[str, object] = {
                "Name": self.name,
                "Arguments": [list(arg) for arg in arguments],
                "Returns": self.returns,
                "Volatile": "true" if self.volatile else "false",
                "Url": url,
                "MaxBatchRows": str(self.max_batch_rows),
            }
            entries.append(entry)
        return entries


_DESCRIBE_JOB = Permission(("sagemaker:DescribeTrainingJob",), ("training-job",))
# invoke and recommend check an endpoint's pipeline tag before calling it
_INVOKE = Permission(("sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:ListTags"), ("endpoint",))
_HOSTED: tuple[ResourceKind, ...] = ("model", "endpoint-config", "endpoint")
_LOG_RETENTION_TRAINING = Permission(("logs:CreateLogGroup", "logs:PutRetentionPolicy"), ("training-logs",))
_LOG_RETENTION_ENDPOINTS = Permission(("logs:CreateLogGroup", "logs:PutRetentionPolicy"), ("endpoint-logs",))

CATALOGUE: tuple[ExternalFunction, ...] = (
    ExternalFunction(
        "TRAIN_AND_GET_RECOMMENDATIONS",
        "train",
        "train_handler",
        (("INPUT_TABLE", "VARCHAR"), ("OUTPUT_TABLE", "VARCHAR")),
        "VARIANT",
        max_batch_rows=10,  # a SageMaker call or two per row: small batches stay well under 29 s
        permissions=(
            Permission(
                ("sagemaker:CreateTrainingJob",),
                ("training-job",),
                instance_types=InstanceTypeLimit("training", required=True),  # a job always names its instances
            ),
            Permission(("sagemaker:DescribeTrainingJob", "sagemaker:AddTags"), ("training-job",)),
            Permission(("sagemaker:ListTrainingJobs",), ("*",)),  # the running job writing the same table
            _LOG_RETENTION_TRAINING,
        ),
        optional_arguments=(("OPTIONS", "OBJECT"),),
        passes_role="training",
    ),
    ExternalFunction(
        "DEPLOY_MODEL",
        "deploy",
        "deploy_handler",
        (("MODEL_NAME", "VARCHAR"), ("MODEL_REF", "VARCHAR")),
        "VARIANT",
        max_batch_rows=5,
        permissions=(
            Permission(("sagemaker:DescribeTrainingJob", "sagemaker:ListTags"), ("training-job", "tuned-training-job")),
            Permission(("sagemaker:DescribeHyperParameterTuningJob",), ("tuning-job",)),  # its best training job
            Permission(("sagemaker:ListTrainingJobs",), ("*",)),
            Permission(
                ("sagemaker:CreateEndpointConfig",),
                ("endpoint-config",),
                instance_types=InstanceTypeLimit("endpoint", required=False),  # serverless configs name none
            ),
            Permission(
                (
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:UpdateEndpoint",
                    "sagemaker:DeleteEndpoint",  # a Failed endpoint only, so it can be created anew
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",  # only objects tagged with this pipeline's prefix are changed
                ),
                _HOSTED,
            ),
            _LOG_RETENTION_ENDPOINTS,
        ),
        optional_arguments=(("OPTIONS", "OBJECT"),),  # {'min_ndcg_gain': g}: the quality guard
        passes_role="hosting",
    ),
    ExternalFunction(
        "UNDEPLOY_MODEL",
        "undeploy",
        "undeploy_handler",
        (("MODEL_NAME", "VARCHAR"),),
        "VARIANT",
        max_batch_rows=5,
        permissions=(
            Permission(
                (
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                    "sagemaker:ListTags",  # only objects tagged with this pipeline's prefix are deleted
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DeleteModel",
                ),
                _HOSTED,
            ),
            Permission(("sagemaker:ListEndpointConfigs", "sagemaker:ListModels"), ("*",)),  # the model's versions
            Permission(("s3:PutObject",), ("deployment-records",)),  # when and why, for pipeline_status
        ),
    ),
    ExternalFunction(
        "INVOKE_MODEL",
        "invoke",
        "invoke_handler",
        (("MODEL_NAME", "VARCHAR"), ("USER_ID", "NUMBER"), ("MOVIE_ID", "NUMBER")),
        "FLOAT",
        max_batch_rows=20000,
        permissions=(_INVOKE,),
    ),
    ExternalFunction(
        "RECOMMEND",
        "recommend",
        "recommend_handler",
        (("MODEL_NAME", "VARCHAR"), ("USER_ID", "NUMBER"), ("K", "NUMBER")),
        "ARRAY",
        max_batch_rows=2000,
        permissions=(_INVOKE,),
    ),
    ExternalFunction(
        "PIPELINE_STATUS",
        "status",
        "status_handler",
        (("NAME", "VARCHAR"),),
        "VARIANT",
        max_batch_rows=20,
        permissions=(
            _DESCRIBE_JOB,
            Permission(
                ("sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"),
                _HOSTED,
            ),
            Permission(("s3:GetObject",), ("deployment-records",)),  # when and why a model was undeployed
            Permission(("s3:ListBucket",), ("artifact-bucket",)),  # so a missing record is S3's 404, not 403
        ),
    ),
)
BY_PATH: dict[str, ExternalFunction] = {function.path: function for function in CATALOGUE}

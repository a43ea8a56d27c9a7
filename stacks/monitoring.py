"""Monitoring: the pipeline's alarms, all to one KMS-encrypted SNS topic, and a CloudWatch dashboard.

What is watched, and where the service behaviour is documented:
- Failed training and tuning jobs: SageMaker sends "SageMaker Training Job State Change" and "SageMaker
  HyperParameter Tuning Job State Change" events to EventBridge with the job's describe fields in
  ``detail`` (``TrainingJobName``/``TrainingJobStatus``, ``HyperParameterTuningJobName``/
  ``HyperParameterTuningJobStatus``); a rule matching this prefix's job names in status ``Failed``
  publishes them to the topic
  (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html,
  https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-sagemaker.html).
- Endpoints: real-time endpoints publish ``Invocations``, ``Invocation5XXErrors``, ``InvocationModelErrors``
  and ``ModelLatency`` (microseconds; percentiles are valid statistics) in ``AWS/SageMaker`` per
  ``EndpointName`` and ``VariantName`` (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
  Serverless endpoints publish a smaller set -- "an exhaustive list of metrics for serverless endpoints. Any
  metric not listed below is not published": ``Invocations``, the 4XX/5XX error counts, ``ModelLatency``,
  ``OverheadLatency``, ``ModelSetupTime``, ``MemoryUtilization`` and ``ServerlessConcurrentExecutionsUtilization``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html) -- and no
  ``InvocationModelErrors``, so an alarm on it could never fire: a serverless model gets the 5XX-rate and
  latency alarms only (a ModelError is answered 5XX too, and fails the scoring functions' batches below).
  Endpoints are created from SQL after deploy, and CloudWatch cannot alarm on a SEARCH expression, nor
  compute percentiles in a Metrics Insights query (its functions are AVG, COUNT, MAX, MIN and SUM:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-querylanguage.html,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create-alarm-on-metric-math-expression.html).
  So: the models named in ``alarms.models`` get per-endpoint alarms (their endpoint is ``<prefix>-<model>``,
  variant ``AllTraffic``), and every endpoint of the prefix is covered by the Lambdas' own counters
  (``FailedBatches`` of invoke_model and recommend, published through Powertools in ``Recommender/<prefix>``):
  a ModelError or an unreachable endpoint fails the batch.
- Each Lambda's ``Errors`` and ``Throttles`` (``AWS/Lambda``, per ``FunctionName``).
The topic is KMS-encrypted, so each service that publishes to it needs ``sns:Publish`` in the topic's policy and
``kms:GenerateDataKey*`` and ``kms:Decrypt`` in the key's ("Enable compatibility between event sources from AWS
services and encrypted topics": https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html):
CloudWatch (``cloudwatch.amazonaws.com``) for the alarms, held to this account's alarms named ``<prefix>-*``
(``aws:SourceAccount``, ``aws:SourceArn``), and EventBridge (``events.amazonaws.com``) for the job rules --
its key statement without those conditions, which EventBridge's KMS requests do not carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from pipeline_shared import resources
from pipeline_shared.catalogue import BY_PATH, CATALOGUE

PERIOD = Duration.minutes(5)
ERROR_RATE_PERCENT = 5  # of an endpoint's invocations in one period
SCORING_FUNCTIONS = (BY_PATH["invoke"].label, BY_PATH["recommend"].label)  # their failed batches: endpoint failures


class Monitoring(Construct):
    """Alarms on failed training jobs, endpoint errors and latency, and every Lambda's errors and throttles.

    ``functions``: the stack's Lambdas by the name their alarms carry. ``email``: the topic's one
    subscription (None: none; subscribe yourself). ``models``: model names whose endpoints get their
    own alarms. ``latency_p99_ms``: the ModelLatency p99 above which a model's endpoint alarms.
    ``serverless``: the endpoints are serverless, which publish no ``InvocationModelErrors``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        functions: Mapping[str, lambda_.IFunction],
        email: str | None,
        models: Sequence[str],
        latency_p99_ms: int,
        serverless: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        key = kms.Key(self, "TopicKey", enable_key_rotation=True, description=f"Encrypts {prefix}'s alarm topic")
        self.topic = sns.Topic(
            self, "Topic", display_name=f"Recommender alarms ({prefix})", master_key=key, enforce_ssl=True
        )
        self._let_services_publish(key, prefix)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._notify = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self._job_failure_rules()
        lambda_widgets = [self._lambda_alarms(name, function) for name, function in functions.items()]
        self._scoring_alarms()
        endpoint_widgets = [
            self._endpoint_alarms(model, latency_p99_ms=latency_p99_ms, serverless=serverless) for model in models
        ]
        self._dashboard(endpoint_widgets, lambda_widgets)

    def _alarm(self, construct: str, description: str, metric: cloudwatch.IMetric, threshold: float) -> None:
        """An alarm named ``<prefix>-<construct>`` at ``threshold`` or above in one period, to the topic."""
        made = cloudwatch.Alarm(
            self,
            construct,
            alarm_name=f"{self.prefix}-{construct}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        made.add_alarm_action(self._notify)
        self.alarms.append(made)

    def _job_failure_rules(self) -> None:
        """EventBridge rules: a training or tuning job of this prefix reaching Failed is published to the topic."""
        prefix = self.prefix
        failed_jobs = (
            ("JobFailed", "training or tuning", "Training", "TrainingJob", resources.training_job_prefix(prefix)),
            ("TuningJobFailed", "tuning", "HyperParameter Tuning", "HyperParameterTuningJob",
             resources.tuning_job_prefix(prefix)),
        )  # fmt: skip
        for construct, kind, event_kind, field, job_prefix in failed_jobs:
            events.Rule(
                self,
                construct,
                description=f"A {kind} job of {prefix} failed",
                event_pattern=events.EventPattern(
                    source=["aws.sagemaker"],
                    detail_type=[f"SageMaker {event_kind} Job State Change"],
                    detail={f"{field}Name": [{"prefix": job_prefix}], f"{field}Status": ["Failed"]},
                ),
                targets=[targets.SnsTopic(self.topic)],
            )

    def _lambda_alarms(self, name: str, function: lambda_.IFunction) -> cloudwatch.IWidget:
        """The Lambda's Errors and Throttles alarms; its dashboard graph."""
        errors = function.metric_errors(period=PERIOD, statistic="Sum")
        throttles = function.metric_throttles(period=PERIOD, statistic="Sum")
        self._alarm(f"{name}-errors", f"The {name} Lambda failed (unhandled error or timeout).", errors, 1)
        self._alarm(f"{name}-throttles", f"Invocations of the {name} Lambda were throttled.", throttles, 1)
        return cloudwatch.GraphWidget(
            title=f"Lambda {name}",
            left=[function.metric_invocations(period=PERIOD, statistic="Sum"), errors, throttles],
            right=[function.metric_duration(period=PERIOD, statistic="p99")],
            width=8,
        )

    def _counter(self, name: str, label: str) -> cloudwatch.Metric:
        """One of the Lambdas' own counters (Powertools, namespace ``Recommender/<prefix>``, dimension ``service``)."""
        return cloudwatch.Metric(
            namespace=resources.metrics_namespace(self.prefix),
            metric_name=name,
            dimensions_map={"service": label},
            period=PERIOD,
            statistic="Sum",
            label=f"{label} {name}",
        )

    def _scoring_alarms(self) -> None:
        """Every endpoint of the prefix, through the scoring functions' failed batches."""
        for label in SCORING_FUNCTIONS:
            self._alarm(
                f"{label.replace('_', '-')}-failed-batches",
                f"{label} answered batches with a 5xx: an endpoint of {self.prefix} failed (ModelError) or was "
                "unreachable; the Lambda's log names the model and the request id.",
                self._counter(resources.FAILED_BATCHES, label),
                1,
            )

    def _endpoint_alarms(self, model: str, *, latency_p99_ms: int, serverless: bool) -> cloudwatch.IWidget:
        """A listed model's endpoint: error-rate alarms on what its type publishes, p99 latency; its graph."""
        endpoint = resources.endpoint_name(self.prefix, model)

        def sagemaker(metric: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=metric,
                dimensions_map={"EndpointName": endpoint, "VariantName": resources.ENDPOINT_VARIANT},
                period=PERIOD,
                statistic=statistic,
            )

        invocations = sagemaker("Invocations", "Sum")
        rates = {}
        watched = [("5xx", "Invocation5XXErrors", "server_errors")]
        if not serverless:  # serverless endpoints do not publish it
            watched.append(("model-errors", "InvocationModelErrors", "model_errors"))
        for kind, metric, errors in watched:  # ids differ: the endpoint's graph shows both expressions
            rates[kind] = cloudwatch.MathExpression(
                expression=f"100 * {errors} / MAX([invocations, 1])",
                using_metrics={errors: sagemaker(metric, "Sum"), "invocations": invocations},
                label=f"{model} {metric} %",
                period=PERIOD,
            )
            self._alarm(
                f"{model}-{kind}-rate",
                f"At least {ERROR_RATE_PERCENT}% of the invocations of endpoint {endpoint} answered {metric}.",
                rates[kind],
                ERROR_RATE_PERCENT,
            )
        latency = sagemaker("ModelLatency", "p99")
        self._alarm(
            f"{model}-latency-p99",
            f"The p99 ModelLatency of endpoint {endpoint} is at least {latency_p99_ms} ms.",
            latency,
            latency_p99_ms * 1000,  # ModelLatency is in microseconds
        )
        return cloudwatch.GraphWidget(
            title=f"Endpoint {endpoint}", left=[invocations, *rates.values()], right=[latency], width=12
        )

    def _let_services_publish(self, key: kms.Key, prefix: str) -> None:
        """CloudWatch (this account's ``<prefix>-*`` alarms) and EventBridge may publish to the encrypted topic."""
        stack = Stack.of(self)
        alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{prefix}-*"
            },
        }
        cloudwatch_service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_service],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarms,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[cloudwatch_service],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarms,
            )
        )
        key.grant(iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")

    def _dashboard(self, endpoint_widgets: list[cloudwatch.IWidget], lambda_widgets: list[cloudwatch.IWidget]) -> None:
        """The alarms' states, the Lambdas' counters, then each watched endpoint's and each Lambda's graph."""
        prefix, counter = self.prefix, self._counter
        labels = [function.label for function in CATALOGUE]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{prefix}-recommender",
            default_interval=Duration.hours(6),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Rows answered per function",
                left=[counter(resources.ROWS, label) for label in labels],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Batches refused (4xx) and failed (5xx); training jobs started",
                left=[
                    counter(name, label)
                    for label in labels
                    for name in (resources.REFUSED_BATCHES, resources.FAILED_BATCHES)
                ],
                right=[counter(resources.JOBS_STARTED, BY_PATH["train"].label)],
                width=12,
            ),
        )
        if endpoint_widgets:
            self.dashboard.add_widgets(*endpoint_widgets)
        self.dashboard.add_widgets(*lambda_widgets)

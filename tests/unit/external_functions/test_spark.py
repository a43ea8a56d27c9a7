"""engine=spark: the StartJobRun request one validated row becomes (the job's arguments; no secret value)."""

from external_functions import spark, training
from external_functions.settings import Environment, TrainingSettings

ENV = {
    "RESOURCE_PREFIX": "recsys",
    "TRAINING_IMAGE_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/recommender:latest",
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/recsys-sagemaker",
    "ARTIFACT_BUCKET": "recsys-artifacts",
    "SNOWFLAKE_ACCOUNT": "myorg-myaccount",
    "SNOWFLAKE_USER": "TRAINER",
    "SNOWFLAKE_WAREHOUSE": "COMPUTE_WH",
    "SNOWFLAKE_DATABASE": "MOVIELENS",
    "SNOWFLAKE_SCHEMA": "PUBLIC",
    "SNOWFLAKE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:trainer-AbCdEf",
    "SPARK_APPLICATION_ID": "00fabc",
    "SPARK_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/recsys-spark-job",
    "SPARK_ENTRY_POINT": "s3://cdk-assets/abc.py",
    "SPARK_CONNECTOR_PACKAGES": "net.snowflake:spark-snowflake_2.12:3.1.1",
}


def test_job_run_request_carries_the_options_as_the_jobs_arguments():
    env = Environment(ENV, "train_and_get_recommendations")
    settings = spark.SparkSettings.from_env(env)
    assert settings is not None
    request = training.parse_request(0, "DB.S.RATINGS", "DB.S.RECS", {"engine": "spark", "n_factors": 12, "top_k": 5})
    sent = spark.job_run_request("recsys-train-abc", request, TrainingSettings.from_env(env), settings)
    assert (sent["applicationId"], sent["clientToken"], sent["name"]) == (
        "00fabc",
        "recsys-train-abc",
        "recsys-train-abc",
    )
    assert sent["executionRoleArn"] == ENV["SPARK_JOB_ROLE_ARN"]
    submit = sent["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"] == "s3://cdk-assets/abc.py"
    assert submit["sparkSubmitParameters"] == "--packages net.snowflake:spark-snowflake_2.12:3.1.1"
    args = submit["entryPointArguments"]
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert (pairs["--input-table"], pairs["--output-table"]) == ("DB.S.RATINGS", "DB.S.RECS")
    assert (pairs["--rank"], pairs["--top-k"], pairs["--max-iter"], pairs["--reg-param"]) == ("12", "5", "10", "0.1")
    assert pairs["--snowflake-secret-arn"] == ENV["SNOWFLAKE_SECRET_ARN"]  # the secret's name, never its value
    assert sent["tags"] == {"recommender:pipeline": "recsys"}


def test_without_an_application_the_stack_has_no_spark_engine():
    env = {k: v for k, v in ENV.items() if not k.startswith("SPARK_")}
    assert spark.SparkSettings.from_env(Environment(env, "train_and_get_recommendations")) is None

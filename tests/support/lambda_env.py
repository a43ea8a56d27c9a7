"""The environment the CDK stack gives the external-function Lambdas, as unit tests fake it."""

TRAINING_ENV = {
    "RESOURCE_PREFIX": "recsys",
    "TRAINING_IMAGE_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/recommender:latest",
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/recsys-sagemaker",
    "SAGEMAKER_HOSTING_ROLE_ARN": "arn:aws:iam::123456789012:role/recsys-sagemaker-hosting",
    "ARTIFACT_BUCKET": "recsys-artifacts",
    "SNOWFLAKE_ACCOUNT": "myorg-myaccount",
    "SNOWFLAKE_USER": "SAGEMAKER_SVC",
}

"""The Lambdas behind Snowflake's external functions: train, deploy, invoke, recommend, status.

Only boto3 (in the Lambda runtime) is needed. ``handlers`` holds the thin entry points,
``protocol`` Snowflake's batch format, and one module per capability talks to SageMaker.
"""

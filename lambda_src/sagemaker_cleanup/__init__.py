"""The custom resource that removes a pipeline's run-time SageMaker objects when the stack is deleted.

Only boto3 (in the Lambda runtime) is needed. ``handler`` holds the Provider-framework entry
points; ``teardown`` finds and deletes the endpoints, endpoint configs and models.
"""

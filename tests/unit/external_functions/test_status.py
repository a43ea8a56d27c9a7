"""pipeline_status's answers read from SageMaker's descriptions (no AWS calls where none are needed)."""

from datetime import UTC, datetime

from external_functions import status


class NoCalls:
    """A SageMaker client that fails the test if any call is made."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"no SageMaker call expected, got {name}")


def test_an_endpoint_described_without_a_config_name_is_answered_without_describing_one():
    """EndpointConfigName is not among DescribeEndpoint's required members in SageMaker's API model (botocore's
    sagemaker service-2.json: EndpointName, EndpointArn, EndpointStatus, CreationTime, LastModifiedTime)."""
    created = datetime(2026, 12, 8, tzinfo=UTC)
    endpoint = {
        "EndpointName": "recsys-movielens",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/recsys-movielens",
        "EndpointStatus": "Creating",
        "CreationTime": created,
        "LastModifiedTime": created,
    }
    answer = status.endpoint_status(endpoint, NoCalls())
    assert answer["name"] == "recsys-movielens" and answer["status"] == "Creating"
    assert "endpoint_config" not in answer and "model_data" not in answer

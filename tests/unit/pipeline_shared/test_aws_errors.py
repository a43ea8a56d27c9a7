"""pipeline_shared.aws_errors: not-found by error code, and AWS's text kept from SQL callers.

SageMaker's codes: ``ResourceNotFound`` for a missing tuning job ("Amazon SageMaker can't find a tuning
job called X. Type another name.", aws/amazon-sagemaker-examples#1540), ``ValidationException`` for missing
training jobs, endpoints, endpoint configs and models (aws/aws-sdk#165: "Requested resource not found").
"""

import json

import pytest
from botocore.exceptions import ClientError

from pipeline_shared.aws_errors import is_not_found, log_error, redact, reference, request_id

ACCOUNT = "123456789012"


def error(code: str, message: str, *, rid: str | None = "5f1c-rid", operation: str = "DescribeEndpoint") -> ClientError:
    metadata = {"HTTPStatusCode": 400, **({"RequestId": rid} if rid else {})}
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata}, operation)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ResourceNotFound", "Amazon SageMaker can't find a tuning job called recsys-tune-x. Type another name."),
        ("ResourceNotFound", ""),  # whatever the message says
        ("ResourceNotFoundException", "The specified log group does not exist."),
        ("ValidationException", "Requested resource not found."),
        ("ValidationException", f"Could not find endpoint 'arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/x'."),
        ("ValidationException", "Could not find endpoint configuration recsys-x-0123456789ab."),
        ("ValidationException", 'Could not find model "recsys-x-0123456789ab".'),
    ],
)
def test_not_found(code, message):
    assert is_not_found(error(code, message))


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "Cannot update in-progress endpoint."),
        ("ValidationException", "Could not access model data at s3://b/k."),
        ("AccessDeniedException", "User is not authorized; resource not found in policy."),  # the code decides
        ("ThrottlingException", "Rate exceeded"),
    ],
)
def test_not_not_found(code, message):
    assert not is_not_found(error(code, message))


def test_reference_names_the_code_and_request_id():
    assert reference(error("AccessDeniedException", "...")) == "AccessDeniedException, AWS request id 5f1c-rid"
    assert reference(error("AccessDeniedException", "...", rid=None)) == "AccessDeniedException"
    headers_only = ClientError(
        {"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPHeaders": {"x-amzn-requestid": "from-header"}}}, "Op"
    )
    assert request_id(headers_only) == "from-header"


def test_log_error_writes_one_line_with_the_whole_message(capsys):
    message = f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deployer/fn is not authorized to perform: x " + "y" * 400
    log_error(error("AccessDeniedException", message, operation="CreateModel"), "creating model m")
    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["message"] == "AWS refused a call while creating model m"
    assert (record["operation"], record["error"], record["aws_request_id"]) == (
        "CreateModel",
        "AccessDeniedException",
        "5f1c-rid",
    )
    assert record["aws_message"] == message  # whole, not trimmed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/recsys-deploy/fn is not authorized to perform: "
            f"sagemaker:CreateModel on resource: arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/recsys-x.",
            "User: <arn> is not authorized to perform: sagemaker:CreateModel on resource: <arn>.",
        ),
        (
            f'Could not find model "arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/x".',
            'Could not find model "<arn>".',
        ),
        (
            f"SageMaker was unable to assume the role 'arn:aws-us-gov:iam::{ACCOUNT}:role/path/Hosting'",
            "SageMaker was unable to assume the role '<arn>'",
        ),
        ("Access to arn:aws:s3:::recsys-artifacts/recsys/models/m.tar.gz was denied.", "Access to <arn> was denied."),
        (
            f"See https://us-east-1.console.aws.amazon.com/cloudwatch/home in account {ACCOUNT} for more information.",
            "See https://us-east-1.console.aws.amazon.com/cloudwatch/home in account <account> for more information.",
        ),
        (
            "the session of assumed-role/recsys-deploy/fn and role/Hosting-Role.",
            "the session of assumed-role/<name> and role/<name>.",
        ),
    ],
)
def test_redact_removes_arns_account_ids_and_role_names(text, expected):
    assert redact(text) == expected


def test_redact_leaves_other_numbers_and_names_alone():
    text = "The primary container for production variant AllTraffic did not pass the ping health check (1234567890123)."
    assert redact(text) == text

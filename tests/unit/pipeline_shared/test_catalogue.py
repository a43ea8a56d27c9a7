"""The external-function catalogue: what the API, the Lambdas, IAM and the DDL are built from."""

import json

import pytest

from external_functions import handlers
from pipeline_shared.catalogue import BY_PATH, CATALOGUE, InstanceTypeLimit


def test_paths_and_names_are_unique():
    assert len({f.path for f in CATALOGUE}) == len({f.name for f in CATALOGUE}) == len(CATALOGUE)
    assert {f.path: f for f in CATALOGUE} == BY_PATH


@pytest.mark.parametrize("function", CATALOGUE, ids=lambda f: f.path)
def test_every_entry_names_a_handler_that_exists(function):
    assert callable(getattr(handlers, function.handler))


def test_optional_arguments_make_overloads_and_arities():
    train = BY_PATH["train"]
    assert train.arities == (2, 3)
    assert train.signatures == (
        "TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR)",
        "TRAIN_AND_GET_RECOMMENDATIONS(VARCHAR, VARCHAR, OBJECT)",
    )
    assert [len(entry["Arguments"]) for entry in train.as_properties("https://x/train")] == [2, 3]
    assert BY_PATH["status"].arities == (1,)


def test_side_effects_are_volatile_and_every_entry_has_permissions():
    assert BY_PATH["train"].volatile and BY_PATH["deploy"].volatile
    for function in CATALOGUE:
        assert function.permissions and function.max_batch_rows > 0
        assert all(
            action.startswith(("sagemaker:", "logs:", "s3:")) for p in function.permissions for action in p.actions
        )
    assert {f.path: f.passes_role for f in CATALOGUE if f.passes_role} == {"train": "training", "deploy": "hosting"}


@pytest.mark.parametrize("function", CATALOGUE, ids=lambda f: f.path)
def test_handlers_check_the_catalogues_argument_counts(function):
    """A row with one argument too many is a 400 naming the accepted counts."""
    row = [0, *([None] * (max(function.arities) + 1))]
    event = {"headers": {}, "body": json.dumps({"data": [row]}), "isBase64Encoded": False}
    answer = getattr(handlers, function.handler)(event, None)
    assert answer["statusCode"] == 400
    assert f"{function.label} takes " in answer["body"]


def test_instance_type_limits_sit_on_the_create_calls_alone():
    """sagemaker:InstanceTypes is in the request context of the create calls only: a Describe or AddTags under
    the same condition would be refused, so each limit is a permission of its own create action."""
    limited = {
        action: permission.instance_types
        for function in CATALOGUE
        for permission in function.permissions
        if permission.instance_types
        for action in permission.actions
    }
    assert set(limited) == {"sagemaker:CreateTrainingJob", "sagemaker:CreateEndpointConfig"}  # nothing else
    # a training job always names its instance type; a serverless endpoint config names none and must pass
    assert limited["sagemaker:CreateTrainingJob"] == InstanceTypeLimit("training", required=True)
    assert limited["sagemaker:CreateEndpointConfig"] == InstanceTypeLimit("endpoint", required=False)
    unlimited = {a for f in CATALOGUE for p in f.permissions if not p.instance_types for a in p.actions}
    assert not unlimited & set(limited)

"""SageMaker names, tags and the prefix rule every runtime shares (pipeline_shared.resources)."""

import pytest

from pipeline_shared import InputError, resources, settings
from pipeline_shared.pipeline_objects import owned
from pipeline_shared.resources import MAX_PREFIX

# --- model, endpoint and job names --------------------------------------------------------------

PREFIX16 = "recsys-prod-euw1"
assert len(PREFIX16) == MAX_PREFIX


@pytest.mark.parametrize(
    ("value", "expected"),
    [("movielens", "movielens"), ("MovieLens-V2", "movielens-v2"), ("a", "a"), ("0-9", "0-9"), ("A-b-C", "a-b-c")],
)
def test_model_name_lower_cases_valid_names(value, expected):
    assert resources.model_name(value, "recsys", row=1) == expected


@pytest.mark.parametrize(
    "value",
    ["", None, 42, ["m"], "-x", "x-", "-", "a--b", "a_b", "a b", "a.b", "a;b", "mödel", "a\n", " a", "a/b"],
)
def test_model_name_rejects_invalid_names(value):
    with pytest.raises(InputError) as info:
        resources.model_name(value, "recsys", row=23)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("the model name must be") and info.value.row == 23


def test_model_name_length_limit_depends_on_the_prefix():
    longest = resources.max_model_name(PREFIX16)
    assert longest == 63 - 16 - 1 - 13
    assert resources.model_name("m" * longest, PREFIX16, row=0) == "m" * longest
    with pytest.raises(InputError, match=f"1-{longest} letters"):
        resources.model_name("m" * (longest + 1), PREFIX16, row=0)
    assert resources.max_model_name("r") > longest


def test_model_name_message_does_not_echo_the_value():
    with pytest.raises(InputError) as info:
        resources.model_name("evil--NAME_MARKER", "recsys", row=2)
    assert "NAME_MARKER" not in str(info.value)


def test_all_names_fit_sagemaker_for_the_longest_prefix_and_model():
    model = resources.model_name("M" * resources.max_model_name(PREFIX16), PREFIX16, row=0)
    token = resources.idempotency_token("batch", 0)
    built = [
        resources.versioned_name(PREFIX16, model, token),
        resources.endpoint_name(PREFIX16, model),
        resources.training_job_name(PREFIX16, token),
    ]
    assert len(built[0]) == resources.MAX_NAME
    for name in built:
        assert len(name) <= 63
        assert resources.is_sagemaker_name(name)


def test_idempotency_token_is_deterministic_and_distinguishes_inputs():
    token = resources.idempotency_token("01b2-batch", 0)
    assert token == resources.idempotency_token("01b2-batch", 0)
    assert len(token) == resources.VERSION_DIGITS
    assert int(token, 16) >= 0
    tokens = {
        resources.idempotency_token(batch, number)
        for batch in ("01b2-batch", "01b2-batcH", "other")
        for number in range(5)
    }
    assert len(tokens) == 15


def test_training_job_name_is_deterministic_per_batch_and_row():
    def job(batch_id, number):
        return resources.training_job_name("recsys", resources.idempotency_token(batch_id, number))

    assert job("b-1", 3) == job("b-1", 3)
    assert job("b-1", 3) != job("b-2", 3)
    assert job("b-1", 3) != job("b-1", 4)
    assert job("b-1", 3).startswith("recsys-train-")
    assert resources.is_sagemaker_name(job("b-1", 3))


@pytest.mark.parametrize("prefix", ["movielens", "movielens-dev", "a", "a1-b2", "x" * MAX_PREFIX])
def test_resource_prefixes(prefix):
    assert resources.is_resource_prefix(prefix)


@pytest.mark.parametrize("prefix", ["", "Movielens", "1abc", "a--b", "a-", "a_b", "x" * (MAX_PREFIX + 1), None, 7])
def test_invalid_resource_prefixes(prefix):
    assert not resources.is_resource_prefix(prefix)


@pytest.mark.parametrize("value", ["ml.m5.large", "ml.c5.2xlarge", "ml.g4dn.xlarge", resources.DEFAULT_INSTANCE_TYPE])
def test_instance_types(value):
    assert settings.TRAINING_INSTANCE_TYPE.parse(value) == value  # the instance-type rule (pipeline_shared.settings)


@pytest.mark.parametrize("value", ["ml.t2.medium", "m5.large", "ml.m5", "ML.M5.LARGE", "ml.m5.large;x", None])
def test_invalid_instance_types(value):
    with pytest.raises(settings.SettingError):
        settings.TRAINING_INSTANCE_TYPE.parse(value)


def test_pipeline_tag_marks_only_this_prefix():
    tags = {tag["Key"]: tag["Value"] for tag in resources.tags("recsys", **{resources.MODEL_TAG: "m"})}
    assert owned(tags, "recsys") and owned(tags, "recsys", model="m")
    assert not owned(tags, "recsys2")
    assert not owned({resources.MODEL_TAG: "recsys"}, "recsys")
    assert not owned(tags, "recsys", model="other") and not owned(None, "recsys")  # another model's; gone

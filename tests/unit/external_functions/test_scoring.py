"""invoke_model and recommend: argument checks and request chunking (no AWS calls)."""

import io
import math
import time

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from external_functions import scoring
from external_functions.errors import CallerError, FailedError, PipelineError, UnavailableError
from external_functions.protocol import sentence, status_of
from external_functions.scoring import chunks

# --- scoring.whole_number -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        (0, 0),
        (-3, -3),
        (7.0, 7),
        ("42", 42),
        (" 7 ", 7),
        ("3.0", 3),
        ("-5", -5),
        (2**53, 2**53),
        (float(2**53), 2**53),
    ],
)
def test_whole_number_accepts(value, expected):
    result = scoring.whole_number(value, "user_id", 1)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "  ",
        "1.5",
        "nan",
        "inf",
        "1e999",
        1.5,
        -0.25,
        True,
        False,
        None,
        math.nan,
        math.inf,
        -math.inf,
        2**60,
        -(2**60),
        float(2**60),
        "1152921504606846976",
        [1],
        {"id": 1},
    ],
)
def test_whole_number_rejects(value):
    with pytest.raises(CallerError) as info:
        scoring.whole_number(value, "movie_id", 88)
    assert sentence(info.value) == "Row 88: movie_id must be a whole number."


def test_whole_number_rejects_integers_too_large_for_a_float():
    # A JSON integer beyond float range must be a 400, not an unexpected OverflowError (a 500).
    with pytest.raises(CallerError) as info:
        scoring.whole_number(10**400, "user_id", 88)
    assert sentence(info.value) == "Row 88: user_id must be a whole number."


# --- scoring.chunks ---------------------------------------------------------------------------------


def test_chunks_respect_the_limit_and_keep_order():
    items = list(range(100))
    parts = list(chunks(items, lambda _: 7, limit=50))
    assert [x for part in parts for x in part] == items
    assert all(len(part) * 7 <= 50 for part in parts)
    assert len(parts) == 15  # 7 items (49 bytes) per call


def test_an_item_larger_than_the_limit_travels_alone():
    parts = list(chunks(["a", "bbbbbbbbbb", "c"], len, limit=4))
    assert parts == [["a"], ["bbbbbbbbbb"], ["c"]]


def test_no_items_no_calls():
    assert list(chunks([], len)) == []


# --- scoring: how SageMaker's answers become Snowflake's -------------------------------------------


def runtime_answering(*, error: tuple[str, int, dict] | None = None, body: bytes = b"") -> object:
    """A real sagemaker-runtime client whose one InvokeEndpoint answer is stubbed (the network edge)."""
    keys = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
    client = boto3.client("sagemaker-runtime", region_name="us-east-1", **keys)
    stubber = Stubber(client)
    if error:
        code, status, fields = error
        stubber.add_client_error(
            "invoke_endpoint", service_error_code=code, service_message="it broke", http_status_code=status,
            modeled_fields=fields,
        )  # fmt: skip
    else:
        stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body))})
    stubber.activate()
    return client


def ours(endpoint: str) -> bool:
    return True


def invoke_batch(rows):
    """The validated requests of SQL rows ``(model, user, movie)``, numbered from 0 as Snowflake does."""
    return [scoring.rating_request(i, "recsys", *args) for i, args in enumerate(rows)]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (("ModelError", 424, {"OriginalStatusCode": 500}), FailedError),  # the container broke: a retry repeats it
        (("ModelError", 424, {"OriginalStatusCode": 400}), CallerError),
        (("ValidationError", 400, {}), CallerError),
        (("ModelNotReadyException", 429, {}), UnavailableError),  # the one a retry fixes
    ],
)
def test_endpoint_failures_are_retried_only_when_a_retry_can_help(error, expected):
    runtime = runtime_answering(error=error)
    with pytest.raises(PipelineError) as info:
        scoring.invoke(
            invoke_batch([("movielens", 1, 2)]), "recsys", lambda _: runtime, time.monotonic() + 25, lambda _: True
        )
    assert type(info.value) is expected
    assert (status_of(info.value) >= 500) is (expected is UnavailableError)


def test_a_model_answering_the_wrong_number_of_predictions_fails_fast():
    runtime = runtime_answering(body=b"4.5\n")
    with pytest.raises(FailedError) as info:
        batch = invoke_batch([("movielens", 1, 2), ("movielens", 1, 3)])
        scoring.invoke(batch, "recsys", lambda _: runtime, time.monotonic() + 25, lambda _: True)
    assert status_of(info.value) == 400


def test_each_call_waits_at_most_what_is_left_of_the_budget():
    timeouts = []
    client = runtime_answering(body=b"4.5\n")

    def runtime(read_timeout: int) -> object:
        timeouts.append(read_timeout)
        return client

    assert scoring.invoke(
        invoke_batch([("movielens", 1, 2)]), "recsys", runtime, time.monotonic() + 9.5, lambda _: True
    ) == [4.5]
    assert timeouts == [9]


def test_a_batch_out_of_time_answers_503_before_api_gateway_cuts_it_off():
    """Several models, little time left: Snowflake gets a retryable answer, not a gateway timeout."""
    calls = []
    batch = invoke_batch([("a", 1, 2), ("b", 1, 2)])
    with pytest.raises(UnavailableError) as info:
        scoring.invoke(batch, "recsys", lambda timeout: calls.append(timeout), time.monotonic() + 1.5, lambda _: True)
    assert status_of(info.value) == 503 and "ran out of time" in sentence(info.value)
    assert calls == []


@pytest.mark.parametrize(("owned", "fragment"), [(False, "belongs to another pipeline"), (None, "no model named")])
def test_an_endpoint_of_another_pipeline_or_none_is_never_called(owned, fragment):
    calls = []
    batch = invoke_batch([("movielens", 1, 2)])
    with pytest.raises(CallerError, match=fragment):
        scoring.invoke(batch, "recsys", lambda timeout: calls.append(timeout), time.monotonic() + 25, lambda _: owned)
    assert calls == []

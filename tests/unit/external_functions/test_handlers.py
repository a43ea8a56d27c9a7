"""The real Lambda handlers, in-process, on requests they must answer before any AWS call.

Only environment variables are set. boto3 is pointed at a closed loopback port with dummy
credentials, so an accidental AWS call cannot reach the internet; in addition a botocore
``before-send`` hook on the handlers' own (cached) clients records any request they would
send and aborts it, so such a call fails at once (no connection, no retry back-off).
"""

import base64
import gzip
import json
import os
import time
from types import SimpleNamespace

import pytest

from external_functions import aws, handlers
from local_mode.snowflake_calls import proxy_event
from tests.support.lambda_env import TRAINING_ENV

DEAD_ENDPOINT = "http://127.0.0.1:9"
MARKER = "ROW_DATA_MARKER_5e1d"  # row data that must appear in no answer or log line
QUERY_ID = "01b5c2d3-0000-4242-0000-00010203abcd"
BATCH_ID = "01b5c2d3-0000-4242-0000-00010203abcd-batch-3"

OFFLINE_AWS = {
    "AWS_ENDPOINT_URL": DEAD_ENDPOINT,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}
CONFIG_PREFIXES = ("AWS_", "SNOWFLAKE_", "TRAINING_", "ENDPOINT_", "SERVERLESS_")
CONFIG_NAMES = ("RESOURCE_PREFIX", "SAGEMAKER_ROLE_ARN", "ARTIFACT_BUCKET")

HANDLERS = {
    "train_and_get_recommendations": handlers.train_handler,
    "deploy_model": handlers.deploy_handler,
    "invoke_model": handlers.invoke_handler,
    "recommend": handlers.recommend_handler,
    "pipeline_status": handlers.status_handler,
}
VALID_ROWS = {
    "train_and_get_recommendations": ("DB.S.RATINGS", "DB.S.RECS"),
    "deploy_model": ("movielens", "latest"),
    "invoke_model": ("movielens", 1, 2),
    "recommend": ("movielens", 1, 10),
    "pipeline_status": ("movielens",),
}
ARITY_MESSAGES = {
    "train_and_get_recommendations": "takes 2 or 3 arguments, got 1 argument.",
    "deploy_model": "takes 2 or 3 arguments, got 1 argument.",
    "invoke_model": "takes 3 arguments, got 1 argument.",
    "recommend": "takes 3 arguments, got 1 argument.",
    "pipeline_status": "takes 1 argument, got 2 arguments.",
}


class OfflineRequestError(Exception):
    """An AWS request was about to be sent by a test that must not make one."""


@pytest.fixture
def sent(monkeypatch, tmp_path):
    """An offline environment; yields the list of AWS requests the handlers' clients tried to send."""
    for name in list(os.environ):
        if name.startswith(CONFIG_PREFIXES) or name in CONFIG_NAMES:
            monkeypatch.delenv(name)
    for name, value in OFFLINE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))

    requests: list[str] = []

    def record(event_name, **_):
        requests.append(event_name)
        raise OfflineRequestError(event_name)

    aws.reset_clients()  # clients are cached per container: build them under this environment
    for client in (aws.sagemaker(), aws.sagemaker_runtime()):
        assert client.meta.endpoint_url == DEAD_ENDPOINT
        client.meta.events.register("before-send", record)
    yield requests
    aws.reset_clients()  # leave no client pointed at the dead endpoint for later tests


@pytest.fixture
def training_env(sent, monkeypatch):
    for name, value in TRAINING_ENV.items():
        monkeypatch.setenv(name, value)
    return sent


def event_for(function, rows, **kwargs):
    return proxy_event(function, rows, query_id=QUERY_ID, batch_id=BATCH_ID, **kwargs)


def assert_sentence(answer, status):
    assert answer["statusCode"] == status, answer["body"]
    assert answer["headers"] == {"Content-Type": "text/plain"}
    body = answer["body"]
    assert isinstance(body, str)
    assert body.endswith(".")
    assert "\n" not in body
    assert "Traceback" not in body
    assert MARKER not in body
    return body


def emitted(out):
    """(log records, EMF metric documents) of the handler's stdout, every line JSON."""
    lines = [json.loads(line) for line in out.splitlines()]
    return [line for line in lines if "_aws" not in line], [line for line in lines if "_aws" in line]


def log_lines(capsys):
    return emitted(capsys.readouterr().out)[0]


def test_the_guard_catches_a_request(sent):
    with pytest.raises(OfflineRequestError):
        aws.sagemaker().list_endpoints()
    with pytest.raises(OfflineRequestError):
        aws.sagemaker_runtime().invoke_endpoint(EndpointName="recsys-movielens", Body=b"1,2", ContentType="text/csv")
    assert sent == ["before-send.sagemaker.ListEndpoints", "before-send.sagemaker-runtime.InvokeEndpoint"]


# --- answered before any AWS call -----------------------------------------------------------------


@pytest.mark.parametrize("function", HANDLERS)
@pytest.mark.parametrize(
    "body",
    ['{"data": [[0, "' + MARKER, "[]", '{"rows": []}', "", '{"data": [["zero", "' + MARKER + '"]]}'],
)
def test_malformed_body_is_a_bad_request(training_env, function, body):
    event = event_for(function, [VALID_ROWS[function]], compress=False)
    event["body"] = body
    body = assert_sentence(HANDLERS[function](event, None), 400)
    assert function in body
    assert training_env == []


@pytest.mark.parametrize("function", HANDLERS)
def test_malformed_gzip_is_a_bad_request(training_env, function):
    """A binary gzip body (no API Gateway inflation) whose stream is damaged."""
    event = event_for(function, [VALID_ROWS[function]], compress=True)
    compressed = bytearray(gzip.compress(event["body"].encode()))
    compressed[12] ^= 0xFF  # keeps the gzip magic, corrupts the deflate stream
    event.update(body=base64.b64encode(bytes(compressed)).decode(), isBase64Encoded=True)
    assert_sentence(HANDLERS[function](event, None), 400)
    assert training_env == []


@pytest.mark.parametrize("function", HANDLERS)
def test_no_event_is_a_bad_request(training_env, function):
    assert_sentence(HANDLERS[function](None, None), 400)


@pytest.mark.parametrize("function", HANDLERS)
def test_wrong_arity_is_a_bad_request(training_env, function):
    args = (MARKER, MARKER) if function == "pipeline_status" else (MARKER,)
    event = event_for(function, [VALID_ROWS[function], args], first_row=20)
    body = assert_sentence(HANDLERS[function](event, None), 400)
    assert body == f"Row 21: {function} {ARITY_MESSAGES[function]}"
    assert training_env == []


@pytest.mark.parametrize("function", ["invoke_model", "recommend", "pipeline_status"])
def test_missing_resource_prefix(sent, function):
    assert "RESOURCE_PREFIX" not in os.environ
    body = assert_sentence(HANDLERS[function](event_for(function, [VALID_ROWS[function]]), None), 400)
    assert "RESOURCE_PREFIX" in body
    assert function in body
    assert sent == []


@pytest.mark.parametrize("function", ["invoke_model", "recommend", "pipeline_status"])
def test_invalid_resource_prefix(sent, monkeypatch, function):
    monkeypatch.setenv("RESOURCE_PREFIX", "Rec_Sys")
    body = assert_sentence(HANDLERS[function](event_for(function, [VALID_ROWS[function]]), None), 400)
    assert "RESOURCE_PREFIX" in body
    assert sent == []


@pytest.mark.parametrize("missing", sorted(set(TRAINING_ENV) - {"SAGEMAKER_HOSTING_ROLE_ARN"}))  # deploy's, not train's
def test_train_names_a_missing_variable(training_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    event = event_for("train_and_get_recommendations", [VALID_ROWS["train_and_get_recommendations"]])
    body = assert_sentence(handlers.train_handler(event, None), 400)
    assert missing in body
    assert training_env == []


@pytest.mark.parametrize(
    "table",
    [f"x; drop table {MARKER}", f"{MARKER}' OR '1'='1", f'"{MARKER}"', f"{MARKER} -- c", f"A.B.C.{MARKER}"],
)
@pytest.mark.parametrize("position", [0, 1])
def test_train_rejects_an_injection_table_name(training_env, table, position):
    args = ["DB.S.RATINGS", "DB.S.RECS"]
    args[position] = table
    rows = [("DB.S.RATINGS", "DB.S.RECS"), tuple(args)]  # the valid first row must not start a job either
    event = event_for("train_and_get_recommendations", rows, first_row=41)
    body = assert_sentence(handlers.train_handler(event, None), 400)
    assert body.startswith("Row 42: ")
    assert "drop" not in body
    assert "OR '1'" not in body
    assert training_env == []


def test_train_rejects_bad_options_before_any_job(training_env):
    rows = [("DB.S.RATINGS", "DB.S.RECS"), ("DB.S.RATINGS", "DB.S.RECS", {"n_epochs": MARKER})]
    body = assert_sentence(handlers.train_handler(event_for("train_and_get_recommendations", rows), None), 400)
    assert body.startswith("Row 1: option 'n_epochs'")
    assert training_env == []


@pytest.mark.parametrize(
    ("options", "start"),
    [({"algorithm": "KNNWithMeans"}, "Row 1: option 'algorithm' must be one of 'svd', 'SVDpp'"),
     ({"algorithm": "slopeone", "k": 20}, "Row 1: 'k' is not an option of algorithm 'SlopeOne', which takes no"),
     ({"n_cltr_u": 5}, "Row 1: 'n_cltr_u' is not an option of algorithm 'svd', which takes n_factors")],
)  # fmt: skip
def test_train_refuses_a_bad_algorithm_or_an_option_it_does_not_take_before_any_job(training_env, options, start):
    rows = [("DB.S.RATINGS", "DB.S.RECS"), ("DB.S.RATINGS", "DB.S.RECS", options)]
    body = assert_sentence(handlers.train_handler(event_for("train_and_get_recommendations", rows), None), 400)
    assert body.startswith(start)
    assert training_env == []


def test_train_without_batch_id_header(training_env):
    event = event_for("train_and_get_recommendations", [VALID_ROWS["train_and_get_recommendations"]])
    del event["headers"]["sf-external-function-query-batch-id"]
    body = assert_sentence(handlers.train_handler(event, None), 400)
    assert "sf-external-function-query-batch-id" in body
    assert training_env == []


@pytest.mark.parametrize("compress", [True, False])
def test_invoke_with_null_rows_answers_nulls_without_aws(training_env, compress):
    rows = [(None, None, None), ("movielens", None, 3), ("movielens", 1, None), (None, 1, 3)]
    answer = handlers.invoke_handler(event_for("invoke_model", rows, compress=compress, first_row=7), None)
    assert answer["statusCode"] == 200, answer["body"]
    assert answer["headers"] == {"Content-Type": "application/json"}
    assert json.loads(answer["body"]) == {"data": [[7, None], [8, None], [9, None], [10, None]]}
    assert training_env == []


def test_recommend_with_null_rows_answers_nulls_without_aws(training_env):
    rows = [(None, None, None), ("movielens", None, 5), (None, 1, 5)]
    answer = handlers.recommend_handler(event_for("recommend", rows), None)
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"]) == {"data": [[0, None], [1, None], [2, None]]}
    assert training_env == []


def test_status_with_null_rows_answers_nulls_without_aws(training_env):
    answer = handlers.status_handler(event_for("pipeline_status", [(None,), (None,)]), None)
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"]) == {"data": [[0, None], [1, None]]}
    assert training_env == []


@pytest.mark.parametrize(
    ("function", "args", "expected"),
    [
        ("invoke_model", ("bad--model", 1, 2), "Row 0: the model name must be"),
        ("invoke_model", ("movielens", "abc", 2), "Row 0: user_id must be a whole number."),
        ("invoke_model", ("movielens", 1, 2.5), "Row 0: movie_id must be a whole number."),
        ("recommend", ("movielens", 1, 0), "Row 0: k must be from 1 to 100."),
        ("recommend", ("movielens", 1, 101), "Row 0: k must be from 1 to 100."),
        ("pipeline_status", ("no such name",), "Row 0: name must be"),
    ],
)
def test_invalid_arguments_are_rejected_before_any_call(training_env, function, args, expected):
    body = assert_sentence(HANDLERS[function](event_for(function, [args]), None), 400)
    assert body.startswith(expected)
    assert training_env == []


# --- logging --------------------------------------------------------------------------------------


def test_success_logs_one_json_line_without_row_data(training_env, capsys):
    rows = [(MARKER.lower(), None, 3), (None, 7, 9)]
    answer = handlers.invoke_handler(event_for("invoke_model", rows), None)
    assert answer["statusCode"] == 200
    assert MARKER.lower() not in answer["body"]
    out = capsys.readouterr().out
    assert MARKER.lower() not in out
    lines, metrics = emitted(out)
    assert len(lines) == 1
    record = lines[0]
    assert record["query_id"] == QUERY_ID
    assert record["batch_id"] == BATCH_ID
    assert record["function"] == "invoke_model"
    assert record["status"] == 200
    assert record["rows"] == 2
    assert record["level"] == "INFO"
    # the batch's counter, in CloudWatch's embedded metric format, in the pipeline's own namespace
    [document] = metrics
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == f"Recommender/{TRAINING_ENV['RESOURCE_PREFIX']}"
    assert directive["Dimensions"] == [["service"]] and directive["Metrics"] == [{"Name": "Rows", "Unit": "Count"}]
    assert (document["service"], document["Rows"]) == ("invoke_model", [2.0])


def test_row_error_logs_one_json_line_without_row_data(training_env, capsys):
    rows = [("DB.S.RATINGS", "DB.S.RECS"), (f"x; drop table {MARKER}", "DB.S.RECS")]
    answer = handlers.train_handler(event_for("train_and_get_recommendations", rows), None)
    assert answer["statusCode"] == 400
    out = capsys.readouterr().out
    assert MARKER not in out
    assert "drop table" not in out
    lines, metrics = emitted(out)
    assert len(lines) == 1
    assert [(m["service"], m["RefusedBatches"]) for m in metrics] == [("train_and_get_recommendations", [1.0])]
    record = lines[0]
    assert (record["query_id"], record["batch_id"]) == (QUERY_ID, BATCH_ID)
    assert record["status"] == 400
    assert record["level"] == "WARNING"
    assert record["message"] == answer["body"]


def test_each_call_logs_exactly_one_line(training_env, capsys):
    for function, handler in HANDLERS.items():
        handler(event_for(function, [(MARKER,) * 4]), None)  # wrong arity everywhere
    lines = log_lines(capsys)
    assert [line["function"] for line in lines] == list(HANDLERS)
    assert all(line["status"] == 400 for line in lines)
    assert all(MARKER not in json.dumps(line) for line in lines)


def test_malformed_body_log_still_identifies_the_query(training_env, capsys):
    # The headers arrive intact even when the body does not: the log line should still carry the ids.
    event = event_for("invoke_model", [("movielens", 1, 2)], compress=False)
    event["body"] = '{"data": [[0, "' + MARKER
    assert handlers.invoke_handler(event, None)["statusCode"] == 400
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert MARKER not in json.dumps(lines[0])
    assert (lines[0].get("query_id"), lines[0].get("batch_id")) == (QUERY_ID, BATCH_ID)


def test_a_valid_training_row_would_reach_sagemaker(training_env, capsys):
    # Counterpart of the tests above: with nothing wrong, the handler does go to SageMaker (and the guard stops it).
    event = event_for("train_and_get_recommendations", [VALID_ROWS["train_and_get_recommendations"]])
    answer = handlers.train_handler(event, None)
    # an unexpected failure is a 400 naming the request: Snowflake would retry a 5xx for minutes
    assert answer["statusCode"] == 400
    assert answer["body"].startswith("train_and_get_recommendations failed unexpectedly; see the Lambda's log")
    assert training_env == ["before-send.sagemaker.DescribeTrainingJob"]
    assert [line["level"] for line in log_lines(capsys)] == ["ERROR"]


@pytest.mark.parametrize(
    "options",
    [{"n_epochs": 100000}, {"lr_all": 0}, {"top_k": 1000000}, {"validation_fraction": 0.9}, {"n_factors": "many"}],
)
def test_options_the_image_would_refuse_start_nothing(training_env, options):
    """The image's own ranges, checked before a billed job starts: a 400 in the query, no SageMaker call."""
    rows = [("DB.S.RATINGS", "DB.S.RECS"), ("DB.S.RATINGS", "DB.S.RECS", options)]
    answer = handlers.train_handler(event_for("train_and_get_recommendations", rows), None)
    assert_sentence(answer, 400)
    assert answer["body"].startswith(f"Row 1: option '{next(iter(options))}' must be ")
    assert training_env == []


def test_a_batch_beyond_the_job_cap_starts_nothing(training_env):
    """Cost guard: each row starts a billed job; a statement over a table is refused whole."""
    rows = [("DB.S.RATINGS", f"DB.S.RECS_{i}") for i in range(4)]  # the default cap is 3
    answer = handlers.train_handler(event_for("train_and_get_recommendations", rows), None)
    assert_sentence(answer, 400)
    assert "takes at most 3 rows per call, got 4" in answer["body"]
    assert training_env == []


def test_work_ends_before_the_lambdas_own_limit_and_api_gateways():
    lambda_context = SimpleNamespace(get_remaining_time_in_millis=lambda: 5000, aws_request_id="r")
    now = time.monotonic()
    assert now + 3 < handlers.answer_by(lambda_context) <= now + 5 - handlers.ANSWER_MARGIN_S + 0.1
    assert handlers.answer_by(None) <= time.monotonic() + handlers.API_GATEWAY_LIMIT_S - handlers.ANSWER_MARGIN_S

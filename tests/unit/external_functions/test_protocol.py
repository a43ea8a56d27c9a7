"""Snowflake's external-function batch protocol: decoding proxy events and shaping answers."""

import base64
import gzip
import json
import zlib

import pytest

from external_functions.errors import CallerError, FailedError, PipelineError, ThrottledError, UnavailableError
from external_functions.protocol import (
    MAX_BODY_BYTES,
    MAX_DECOMPRESSED_BYTES,
    Batch,
    Row,
    failed,
    ok,
    parse_event,
    status_of,
)
from external_functions.settings import MisconfiguredError
from local_mode.snowflake_calls import proxy_event

FUNCTION = "train_and_get_recommendations"
MARKER = "PAYLOAD_MARKER_7f3a9c"  # request data that must never appear in an error message


def parse(event, arities=(2, 3)):
    return parse_event(event, function=FUNCTION, arities=arities)


def raw_event(body, *, encoded=False, headers=None):
    """A proxy event carrying ``body`` as is (str, or bytes that get base64-encoded)."""
    if isinstance(body, bytes):
        body, encoded = base64.b64encode(body).decode(), True
    return {"headers": headers or {"Content-Type": "application/json"}, "body": body, "isBase64Encoded": encoded}


def json_bytes(document) -> bytes:
    return json.dumps(document).encode()


def rejected(event, arities=(2, 3)) -> CallerError:
    with pytest.raises(CallerError) as info:
        parse(event, arities)
    error = info.value
    assert status_of(error) == 400
    assert str(error) == error.message
    assert MARKER not in error.message
    return error


# --- decoding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_single_row_batch(compress):
    event = proxy_event(FUNCTION, [("DB.S.RATINGS", "DB.S.RECS")], compress=compress)
    assert event["isBase64Encoded"] is False
    assert ("Content-Encoding" in event["headers"]) is compress
    assert parse(event).rows == (Row(0, ("DB.S.RATINGS", "DB.S.RECS")),)


def test_optional_argument_arities():
    batch = parse(proxy_event(FUNCTION, [("a.b.c", "a.b.d"), ("a.b.c", "a.b.d", {"n_epochs": 5})]))
    assert [len(row.args) for row in batch.rows] == [2, 3]
    assert batch.rows[1].args[2] == {"n_epochs": 5}


def test_body_inflated_by_api_gateway_keeps_its_gzip_header():
    """API Gateway decompresses Snowflake's gzip batch and leaves Content-Encoding: gzip in the event."""
    event = proxy_event(FUNCTION, [("a.b.c", "a.b.d")], compress=True)
    assert event["headers"]["Content-Encoding"] == "gzip"
    assert json.loads(event["body"]) == {"data": [[0, "a.b.c", "a.b.d"]]}  # plain JSON under the header
    assert parse(event).rows == (Row(0, ("a.b.c", "a.b.d")),)


def test_gzip_detected_without_header():
    event = raw_event(gzip.compress(json_bytes({"data": [[5, "x", "y"]]})))
    assert parse(event).rows == (Row(5, ("x", "y")),)


def test_base64_without_compression():
    event = raw_event(json_bytes({"data": [[0, "x", "y"]]}))
    assert event["isBase64Encoded"] is True
    assert parse(event).rows == (Row(0, ("x", "y")),)


@pytest.mark.parametrize("headers", [{"Content-Encoding": "deflate"}, {"content-encoding": "DEFLATE"}, {}])
def test_deflate_body(headers):
    event = raw_event(zlib.compress(json_bytes({"data": [[9, "x", "y"]]})), headers=headers)
    assert parse(event).rows == (Row(9, ("x", "y")),)


@pytest.mark.parametrize("name", ["Content-Encoding", "content-encoding", "CONTENT-ENCODING"])
@pytest.mark.parametrize("value", ["gzip", "GZIP", "Gzip"])
def test_content_encoding_header_is_case_insensitive(name, value):
    event = raw_event(gzip.compress(json_bytes({"data": [[1, "x", "y"]]})), headers={name: value})
    assert parse(event).rows == (Row(1, ("x", "y")),)


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "deflate"])
def test_content_encoding_never_decides_how_a_plain_body_is_read(encoding):
    event = raw_event(json.dumps({"data": [[0, "x", "y"]]}), headers={"Content-Encoding": encoding})
    assert parse(event).rows == (Row(0, ("x", "y")),)


def test_body_of_exactly_6_mb_is_accepted():
    document = b'{"data": [[0, "x", "y"]]}'
    body = document + b" " * (MAX_BODY_BYTES - len(document))
    assert len(body) == MAX_BODY_BYTES
    assert parse(raw_event(body.decode())).rows == (Row(0, ("x", "y")),)


def test_decompressed_body_of_exactly_the_limit_is_accepted():
    document = b'{"data": [[0, "x", "y"]]}'
    padded = document + b" " * (MAX_DECOMPRESSED_BYTES - len(document))
    event = raw_event(gzip.compress(padded, compresslevel=1), headers={"Content-Encoding": "gzip"})
    assert parse(event).rows == (Row(0, ("x", "y")),)


# --- batch headers --------------------------------------------------------------------------------


def test_batch_reads_lower_cased_snowflake_headers():
    event = proxy_event(FUNCTION, [("a.b.c", "a.b.d")], query_id="01b2-query", batch_id="01b2-batch-7")
    batch = parse(event)
    assert batch.query_id == "01b2-query"
    assert batch.batch_id == "01b2-batch-7"
    assert batch.function_name == FUNCTION.upper()
    assert all(key == key.lower() for key in batch.headers)


def test_batch_headers_in_any_case():
    headers = {
        "SF-External-Function-Current-Query-Id": "q-1",
        "SF-EXTERNAL-FUNCTION-QUERY-BATCH-ID": "b-1",
        "Sf-External-Function-Name": "RECOMMEND",
    }
    batch = parse(raw_event('{"data": []}', headers=headers))
    assert (batch.query_id, batch.batch_id, batch.function_name) == ("q-1", "b-1", "RECOMMEND")


@pytest.mark.parametrize("headers", [None, {}])
def test_batch_without_headers(headers):
    event = {"headers": headers, "body": '{"data": [[0, "x", "y"]]}'}
    batch = parse(event)
    assert batch.query_id is None
    assert batch.batch_id is None
    assert batch.function_name is None


# --- rejected requests ----------------------------------------------------------------------------


def test_malformed_json():
    error = rejected(raw_event('{"data": [[0, "' + MARKER + '", '))
    assert error.message == f"The request body for {FUNCTION} is not valid JSON."


def test_malformed_json_in_gzip():
    rejected(raw_event(gzip.compress(b'{"data": [[0, "' + MARKER.encode())))


def test_body_that_is_not_utf8():
    rejected(raw_event(b'{"data": [[0, "\xff\xfe' + MARKER.encode() + b'"]]}'))


@pytest.mark.parametrize(
    "document",
    [
        [[0, MARKER, "y"]],  # body not an object
        MARKER,
        42,
        None,
        {"rows": [[0, MARKER, "y"]]},  # missing "data"
        {"data": {"0": [MARKER, "y"]}},  # "data" not a list
        {"data": MARKER},
        {"data": None},
    ],
)
def test_body_without_a_data_list(document):
    error = rejected(raw_event(json.dumps(document)))
    assert error.message == f'The request body for {FUNCTION} has no "data" list of rows.'


@pytest.mark.parametrize("item", [MARKER, {"0": MARKER}, 7, None, []])
def test_row_that_is_not_a_list(item):
    error = rejected(raw_event(json.dumps({"data": [[0, "x", "y"], [1, "x", "y"], item]})))
    assert error.message.startswith("Row 2 of the batch")
    assert "not a [row_number, args...] list" in error.message


@pytest.mark.parametrize("number", [MARKER, "3", 1.0, 2.5, True, False, None, [1], {"n": 1}])
def test_row_number_that_is_not_an_integer(number):
    error = rejected(raw_event(json.dumps({"data": [[0, "x", "y"], [number, MARKER, "y"]]})))
    assert error.message == f"Row 1 of the batch for {FUNCTION} has no integer row number."


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([MARKER], "Row 41: train_and_get_recommendations takes 2 or 3 arguments, got 1 argument."),
        ([], "Row 41: train_and_get_recommendations takes 2 or 3 arguments, got 0 arguments."),
        ([MARKER, 1, 2, 3], "Row 41: train_and_get_recommendations takes 2 or 3 arguments, got 4 arguments."),
    ],
)
def test_wrong_arity(args, expected):
    document = {"data": [[40, "a.b.c", "a.b.d"], [41, *args]]}
    assert rejected(raw_event(json.dumps(document))).message == expected


def test_wrong_arity_single_expected_count():
    error = rejected(raw_event(json.dumps({"data": [[3, MARKER]]})), arities=(3,))
    assert error.message == f"Row 3: {FUNCTION} takes 3 arguments, got 1 argument."


@pytest.mark.parametrize(
    "event",
    [
        {"headers": {}, "body": ""},
        {"headers": {}, "body": None},
        {"headers": {}},
        {"headers": {}, "body": "", "isBase64Encoded": True},
    ],
)
def test_empty_body(event):
    assert rejected(event).message == f"The request for {FUNCTION} has an empty body."


@pytest.mark.parametrize("event", [None, "body", [MARKER]])
def test_not_an_http_event(event):
    error = rejected(event)
    assert error.message.startswith(f"{FUNCTION} received no HTTP request")


@pytest.mark.parametrize("body", [f"%%{MARKER}%%", "abc", '{"data": []}', "QUJD\nREVG"])
def test_bad_base64_marked_as_base64(body):
    error = rejected(raw_event(body, encoded=True))
    assert error.message == f"The request body for {FUNCTION} is marked base64 but is not."


def test_corrupt_gzip():
    compressed = bytearray(gzip.compress(json_bytes({"data": [[0, MARKER, "y"]]})))
    compressed[12] ^= 0xFF
    error = rejected(raw_event(bytes(compressed)))
    assert error.message == f"The compressed request body for {FUNCTION} is corrupt."


def test_gzip_magic_followed_by_garbage():
    error = rejected(raw_event(b"\x1f\x8b" + MARKER.encode() * 4))
    assert "corrupt" in error.message


def test_corrupt_deflate():
    compressed = bytearray(zlib.compress(json_bytes({"data": [[0, MARKER, "y"]]})))
    compressed[5] ^= 0xFF
    rejected(raw_event(bytes(compressed), headers={"Content-Encoding": "deflate"}))


def test_gzip_truncated_mid_stream():
    compressed = gzip.compress(json_bytes({"data": [[0, MARKER, "y"]] * 50}))
    rejected(raw_event(compressed[: len(compressed) // 2]))


def test_gzip_missing_its_integrity_trailer_is_corrupt():
    # The last 8 bytes of a gzip member are its CRC-32 and length: without them the body is unverified.
    compressed = gzip.compress(json_bytes({"data": [[0, MARKER, "y"]]}))
    error = rejected(raw_event(compressed[:-8]))
    assert "corrupt" in error.message


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """65 MB of zero bytes gzip-compressed (about 65 KB), built a megabyte at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    megabyte = bytes(1024 * 1024)
    return b"".join(compressor.compress(megabyte) for _ in range(65)) + compressor.flush()


@pytest.mark.parametrize("headers", [{"Content-Encoding": "gzip"}, {}])
def test_gzip_bomb_beyond_64_mb(gzip_bomb, headers):
    assert len(gzip_bomb) < MAX_BODY_BYTES
    error = rejected(raw_event(gzip_bomb, headers=headers))
    assert error.message == f"The request body for {FUNCTION} expands beyond 16 MB: lower MAX_BATCH_ROWS."


def test_body_one_byte_beyond_64_mb_decompressed():
    document = b'{"data": [[0, "x", "y"]]}'
    padded = document + b" " * (MAX_DECOMPRESSED_BYTES + 1 - len(document))
    error = rejected(raw_event(gzip.compress(padded, compresslevel=1)))
    assert "expands beyond 16 MB" in error.message


def test_deflate_bomb_beyond_64_mb():
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
    megabyte = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(megabyte) for _ in range(65)) + compressor.flush()
    error = rejected(raw_event(bomb, headers={"Content-Encoding": "deflate"}))
    assert "expands beyond 16 MB" in error.message


@pytest.mark.parametrize("encoded", [False, True])
def test_body_over_6_mb(encoded):
    document = '{"data": [[0, "' + MARKER + '", "y"]]}'
    body = document + " " * (MAX_BODY_BYTES + 1 - len(document))
    event = raw_event(body.encode()) if encoded else raw_event(body)
    error = rejected(event)
    assert error.message == f"The request body for {FUNCTION} exceeds 6 MB: lower MAX_BATCH_ROWS."


def test_messages_are_one_sentence():
    events = [
        raw_event("{"),
        raw_event("[]"),
        raw_event('{"data": [[0, "x"]]}'),
        raw_event("%%", encoded=True),
        raw_event(b"\x1f\x8b\x08" + bytes(20)),
    ]
    for event in events:
        message = rejected(event).message
        assert message.endswith(".")
        assert "\n" not in message


# --- answers --------------------------------------------------------------------------------------


def test_ok_answers_json():
    batch = Batch((Row(7, ("a",)), Row(3, ("b",))))
    answer = ok(batch, [[1, 2], None])
    assert answer["statusCode"] == 200
    assert answer["headers"] == {"Content-Type": "application/json"}
    assert json.loads(answer["body"]) == {"data": [[7, [1, 2]], [3, None]]}


@pytest.mark.parametrize("values", [[], [1], [1, 2, 3]])
def test_ok_requires_one_value_per_row(values):
    batch = Batch((Row(0, ("a",)), Row(1, ("b",))))
    with pytest.raises(AssertionError):
        ok(batch, values)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CallerError("Row 3: the model name must be a non-empty string."), 400),
        (PipelineError("recommend failed unexpectedly."), 400),
        (FailedError("Model 'm' answered 1 predictions for 2 rows."), 400),  # a retry repeats it: no 5xx
        (MisconfiguredError("The f function is misconfigured: X is missing; redeploy the stack."), 400),
    ],
)
def test_failed_answers_the_bare_sentence(error, status):
    answer = failed(error)
    assert answer == {"statusCode": status, "headers": {"Content-Type": "text/plain"}, "body": error.message}
    assert status_of(error) == status


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            ThrottledError("SageMaker is throttling requests"),
            429,
            "SageMaker is throttling requests; Snowflake will retry.",
        ),
        (
            UnavailableError("deploy_model ran out of time", then="continues where this call stopped"),
            503,
            "deploy_model ran out of time; Snowflake will retry, and the retry continues where this call stopped.",
        ),
    ],
)
def test_a_retryable_failure_says_snowflake_retries_and_a_terminal_says_retry_later(error, status, body):
    assert failed(error) == {"statusCode": status, "headers": {"Content-Type": "text/plain"}, "body": body}
    assert error.told("retry later").endswith("; retry later" + body.split("; Snowflake will retry", 1)[1])


def test_failed_from_a_parse_error():
    with pytest.raises(CallerError) as info:
        parse(raw_event("not json " + MARKER))
    answer = failed(info.value)
    assert answer["statusCode"] == 400
    assert answer["headers"]["Content-Type"] == "text/plain"
    assert answer["body"] == f"The request body for {FUNCTION} is not valid JSON."


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"data": [[0, ' + "[" * 50_000 + "]" * 50_000 + "]]}", "nested too deeply"),
        ('{"data": [[0, ' + "9" * 5_000 + "]]}", "is not valid JSON"),
        ('{"data": [[0, 1e999999]]', "is not valid JSON"),
    ],
    ids=["deep", "deep-argument", "huge-integer", "truncated-huge-float"],
)
def test_hostile_json_is_a_400_never_a_crash(body, fragment):
    assert fragment in rejected(raw_event(body)).message


def test_repeated_row_numbers_are_refused():
    error = rejected(
        raw_event(json.dumps({"data": [[0, "A.B.C", "A.B.D"], [1, "A.B.C", "A.B.E"], [0, "X.Y.Z", "X.Y.W"]]}))
    )
    assert error.message == f"Row number 0 appears more than once in the batch for {FUNCTION}."

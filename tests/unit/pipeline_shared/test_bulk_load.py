"""pipeline_shared.bulk_load: the reasons its one-sentence errors give, from the connector's own exception classes."""

import pytest
from snowflake.connector.errors import (
    DatabaseError,
    HttpError,
    InterfaceError,
    InternalServerError,
    OperationalError,
    ProgrammingError,
    ServiceUnavailableError,
)

from pipeline_shared import first_line
from pipeline_shared.bulk_load import LOST, WriteTimeout, reason

RAW = (
    "250003 (08001): Failed to execute request: HTTPSConnectionPool(host='acme.snowflakecomputing.com', port=443): "
    "Max retries exceeded with url: /queries/v1/query-request?requestId=6a1f (Caused by ReadTimeoutError(...))"
)


def test_a_lost_snowflake_is_a_plain_phrase_without_the_connectors_text():
    assert reason(OperationalError(msg=RAW, errno=250003)) == LOST
    assert "HTTPSConnectionPool" not in LOST and "requestId" not in LOST


@pytest.mark.parametrize(
    "error",
    [
        HttpError(msg="401 Unauthorized: post acme.snowflakecomputing.com/queries/v1/query-request", errno=290401),
        InternalServerError(msg="HTTP 500: Internal Server Error", errno=290500),
        ServiceUnavailableError(msg="HTTP 503: Service Unavailable", errno=290503),
    ],
    ids=["session-gone", "500", "503"],
)
def test_an_http_answer_instead_of_snowflakes_is_the_same_plain_phrase(error):
    """The connector's HTTP classes carry the URL: a session lost mid-write (401) must not show it."""
    assert reason(error) == LOST


def test_a_lock_wait_that_ran_out_says_who_may_hold_it():
    error = ProgrammingError(msg="Statement '01b4' has locked table 'RECS' in transaction 1715 ...", errno=625)
    assert "another transaction kept the table locked too long" in reason(error)


@pytest.mark.parametrize(
    "error",
    [
        ProgrammingError(msg="SQL compilation error:\nObject 'DB.S.T' does not exist or not authorized.", errno=2003),
        DatabaseError(msg="Incorrect username or password was specified.", errno=250001),
        InterfaceError(msg="Connection is closed", errno=250002),
    ],
    ids=["sql", "login", "closed"],
)
def test_what_snowflake_refused_keeps_its_first_line(error):
    assert reason(error) == first_line(error)
    assert "\n" not in reason(error)


def test_a_statement_cancelled_at_the_clients_timeout_says_so():
    error = ProgrammingError(msg="SQL execution canceled", errno=604)
    assert reason(error).startswith("the statement was cancelled: it ran longer than the client's timeout")


def test_a_write_limit_is_its_base_plus_a_second_per_thousand_rows_started():
    limit = WriteTimeout(base_s=180)
    assert [limit.for_rows(n) for n in (0, 1, 999, 1_000, 1_001, 162_541)] == [180, 181, 181, 181, 182, 343]
    assert limit.shortest == 180
    assert WriteTimeout(base_s=10, rows_per_s=100).for_rows(250) == 13


def test_a_fixed_write_limit_ignores_the_rows():
    limit = WriteTimeout(base_s=180, fixed_s=30)
    assert limit.for_rows(0) == limit.for_rows(10_000_000) == limit.shortest == 30

"""The fakesnow stand-in locks tables the way Snowflake documents (local_mode.table_locks)."""

from __future__ import annotations

import threading
import time

import pytest
from snowflake.connector import SnowflakeConnection
from snowflake.connector.errors import ProgrammingError

from local_mode.standins import Server
from tests.conftest import DATABASE, SCHEMA, snowflake_connection

pytestmark = pytest.mark.integration


@pytest.fixture
def table(snowflake_db: SnowflakeConnection, request: pytest.FixtureRequest) -> str:
    name = f"{DATABASE}.{SCHEMA}.LOCKS_{request.node.name.upper().replace('[', '_').replace(']', '')[-40:]}"
    with snowflake_db.cursor() as cursor:
        cursor.execute(f"CREATE OR REPLACE TABLE {name} (V INT)")
    return name


def values(connection: SnowflakeConnection, table: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT V FROM {table} ORDER BY V")
        return [row[0] for row in cursor.fetchall()]


def waits_for(server: Server, table: str, count: int, timeout: float = 30) -> None:
    """Until the stand-in has announced ``count`` lock waits on ``table`` (in its stdout, the log)."""
    deadline = time.monotonic() + timeout
    while server.log.read_text().count(f'"lock_wait": {{"table": "{table}"') < count:
        assert time.monotonic() < deadline, f"no {count} lock waits on {table}"
        time.sleep(0.05)


def replace_in_background(connection: SnowflakeConnection, table: str, value: int) -> threading.Thread:
    """Clear and refill ``table`` in one transaction, as the swap does, on another thread."""

    def swap() -> None:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"INSERT INTO {table} VALUES ({value})")
            cursor.execute("COMMIT")

    thread = threading.Thread(target=swap)
    thread.start()
    return thread


@pytest.mark.parametrize("before", [[], [7, 8]], ids=["empty", "filled"])
def test_a_second_writer_waits_and_then_replaces_the_first(fakesnow: Server, snowflake_db, table, before) -> None:
    """Without the lock DuckDB gives both writers' rows (empty table) or a 500 (filled table)."""
    for value in before:
        snowflake_db.cursor().execute(f"INSERT INTO {table} VALUES ({value})")
    first, second = snowflake_connection(fakesnow), snowflake_connection(fakesnow)
    with first.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(f"DELETE FROM {table}")
        waiting = replace_in_background(second, table, 2)
        waits_for(fakesnow, table, 1)
        cursor.execute(f"INSERT INTO {table} VALUES (1)")
        cursor.execute("COMMIT")
    waiting.join(timeout=30)
    assert values(snowflake_db, table) == [2]


def test_a_wait_longer_than_lock_timeout_is_snowflakes_error_625(fakesnow: Server, snowflake_db, table) -> None:
    holder = snowflake_connection(fakesnow)
    waiter = snowflake_connection(fakesnow, session_parameters={"LOCK_TIMEOUT": 1})
    holder.cursor().execute("BEGIN")
    holder.cursor().execute(f"DELETE FROM {table}")
    started = time.monotonic()
    with pytest.raises(ProgrammingError) as refused:
        waiter.cursor().execute(f"UPDATE {table} SET V = 3")
    assert refused.value.errno == 625 and refused.value.sqlstate == "57014"
    assert f"has locked table '{table}'" in str(refused.value)
    assert 1 <= time.monotonic() - started < 10
    holder.cursor().execute("ROLLBACK")


def test_closing_a_session_rolls_back_its_transaction_and_frees_the_table(fakesnow: Server, snowflake_db, table):
    snowflake_db.cursor().execute(f"INSERT INTO {table} VALUES (5)")
    holder = snowflake_connection(fakesnow)
    holder.cursor().execute("BEGIN")
    holder.cursor().execute(f"DELETE FROM {table}")
    holder.close()
    waiter = snowflake_connection(fakesnow, session_parameters={"LOCK_TIMEOUT": 5})
    waiter.cursor().execute(f"UPDATE {table} SET V = 6")
    assert values(snowflake_db, table) == [6]


def test_inserts_do_not_wait_for_the_lock(fakesnow: Server, snowflake_db, table) -> None:
    holder = snowflake_connection(fakesnow)
    holder.cursor().execute("BEGIN")
    holder.cursor().execute(f"DELETE FROM {table}")
    inserter = snowflake_connection(fakesnow, session_parameters={"LOCK_TIMEOUT": 1})
    inserter.cursor().execute(f"INSERT INTO {table} VALUES (4)")
    holder.cursor().execute("COMMIT")
    assert values(snowflake_db, table) == [4]


def test_a_session_closed_while_its_statement_waits_holds_nothing(fakesnow: Server, snowflake_db, table) -> None:
    holder, quitter = snowflake_connection(fakesnow), snowflake_connection(fakesnow)
    holder.cursor().execute("BEGIN")
    holder.cursor().execute(f"DELETE FROM {table}")
    errors: list[Exception] = []

    def wait_for_the_lock() -> None:
        try:
            with quitter.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(f"DELETE FROM {table}")
        except ProgrammingError as exc:
            errors.append(exc)

    waiting = threading.Thread(target=wait_for_the_lock)
    waiting.start()
    waits_for(fakesnow, table, 1)
    quitter.close()  # logs out while its DELETE waits
    waiting.join(timeout=30)
    assert errors and "its session was closed while it waited" in str(errors[0])
    holder.cursor().execute("COMMIT")
    later = snowflake_connection(fakesnow, session_parameters={"LOCK_TIMEOUT": 5})
    later.cursor().execute(f"UPDATE {table} SET V = 1")  # the table is free: nobody holds it for the closed session

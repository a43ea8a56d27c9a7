"""Snowflake's table locks, added to the fakesnow stand-in (DuckDB has optimistic MVCC instead).

What Snowflake documents ("Transactions", resource locking; the ``LOCK_TIMEOUT`` parameter):

- UPDATE, DELETE and MERGE lock their table; the lock is held until the transaction commits or
  rolls back (for an autocommitted statement, until the statement ends). Another UPDATE, DELETE
  or MERGE on the table waits for it; INSERT and COPY do not.
- A statement waits at most the session's ``LOCK_TIMEOUT`` seconds (default 43,200), and at most
  20 statements wait for one lock; beyond either it is aborted with error 000625 (57014),
  "Statement '...' has locked table '...' in transaction ... and this lock has not yet been
  released." (The waiter-limit wording is Snowflake's; the timeout's second sentence is ours.)
- Closing a session (the connector's logout) rolls back its open transaction.
- A statement its client cancels while it waits ends with 000604 (see :mod:`local_mode.running_statements`).
- A DDL statement is one atomic change ("DDL statements are always autocommitted", each its own
  transaction), so two sessions running ``CREATE TABLE IF NOT EXISTS`` for one table at once both
  succeed (https://docs.snowflake.com/en/sql-reference/sql/create-table: IF NOT EXISTS creates the
  table only if it does not exist). fakesnow runs such a statement as several DuckDB writes -- the
  catalog, then its own information-schema rows for VARCHAR columns -- and two sessions at once
  collide there: one gets fakesnow's unhandled error (a duplicate key in ``_fs_columns_ext``, HTTP
  500), which the connector retries, or, once the statement is answered "in progress", loses as
  "Statement ... not found". Two training jobs writing one new output table do exactly this. Here DDL
  statements run one at a time.

Without this, two sessions that each clear and refill one table both go ahead in DuckDB: on an
empty table the result holds both writers' rows; on a full one the second fails with an
unhandled "Conflict on tuple deletion". With it, the second waits and then replaces the first's
rows, as in Snowflake. ``LOCK_TIMEOUT`` is read from the login's session parameters
(``snowflake.connector.connect(session_parameters=...)``). A lock wait is announced on stdout as
one JSON line ``{"lock_wait": {"table", "waiting"}}`` so tests can see a statement queue up.

Not modelled: DDL inside an explicit transaction does not release locks (fakesnow does not commit
there either), and a detached transaction (its client gone without closing) keeps its locks.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.dialect import parse_one
from fakesnow.fakes import FakeSnowflakeConnection
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp

from local_mode.running_statements import cancel_event, canceled

DEFAULT_LOCK_TIMEOUT_S = 43_200
MAX_WAITERS = 20
LOCKING = (exp.Delete, exp.Update, exp.Merge)
DDL = (exp.Create, exp.Drop, exp.Alter)
LOCKED = 625  # Snowflake's error number for a statement aborted while waiting for a lock


@dataclass
class _Session:
    """What this module keeps per connection: its explicit transaction, locks and lock timeout."""

    owner: int = field(default_factory=itertools.count(1).__next__)
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    explicit: bool = False
    transaction: int = 0
    closed: bool = False  # logged out: a statement still waiting gives up, nothing is locked for it any more


class TableLocks:
    """Exclusive table locks owned by sessions; waiters queue with a timeout and a limit."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._owners: dict[str, tuple[int, int]] = {}  # table -> (owner, its transaction id)
        self._waiting: dict[str, int] = {}

    def acquire(self, table: str, session: _Session, transaction: int, timeout_s: float) -> None:
        """Lock ``table`` for ``session`` (re-entrant); raises Snowflake's 000625 error on limit or timeout."""
        owner = session.owner
        with self._changed:
            held = self._owners.get(table)
            if held is None or held[0] == owner:
                self._owners[table] = (owner, transaction)
                return
            if self._waiting.get(table, 0) >= MAX_WAITERS:
                raise _locked(
                    table, held[1], f"the number of waiters for this lock exceeds the {MAX_WAITERS} statements limit"
                )
            self._waiting[table] = self._waiting.get(table, 0) + 1
            print(json.dumps({"lock_wait": {"table": table, "waiting": self._waiting[table]}}), flush=True)
            deadline = time.monotonic() + timeout_s
            cancel = cancel_event.get()
            try:
                while (held := self._owners.get(table)) is not None:
                    if session.closed:
                        raise _locked(table, held[1], "its session was closed while it waited")
                    if cancel is not None and cancel.is_set():
                        raise canceled()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _locked(table, held[1], f"it waited longer than LOCK_TIMEOUT ({timeout_s:g} s)")
                    self._changed.wait(min(remaining, 0.2))  # a cancel is seen within 0.2 s
                if session.closed:
                    raise _locked(table, transaction, "its session was closed while it waited")
                self._owners[table] = (owner, transaction)
            finally:
                self._waiting[table] -= 1

    def release_all(self, owner: int) -> None:
        """Free every table ``owner`` holds, and wake every waiter (to take a table, or to see its session closed)."""
        with self._changed:
            for table in [t for t, (o, _) in self._owners.items() if o == owner]:
                del self._owners[table]
            self._changed.notify_all()


def _locked(table: str, transaction: int, why: str) -> ProgrammingError:
    return ProgrammingError(
        msg=f"Statement has locked table '{table}' in transaction {transaction} and this lock has not yet been "
        f"released.\nYour statement was aborted because {why}.",
        errno=LOCKED,
        sqlstate="57014",
    )


LOCKS = TableLocks()
_DDL = threading.Lock()  # one DDL statement at a time: fakesnow's several writes for one are not atomic
_execute = FakeSnowflakeCursor.execute


def session_of(connection: FakeSnowflakeConnection) -> _Session:
    """This module's state for ``connection`` (kept on the connection object)."""
    session = getattr(connection, "_standin_session", None)
    if session is None:
        session = _Session()
        connection._standin_session = session
    return session


def _target(expression: exp.Expression, connection: FakeSnowflakeConnection) -> str:
    table = expression.this if isinstance(expression.this, exp.Table) else expression.find(exp.Table)
    assert table is not None
    database = (table.catalog or connection.database or "").upper()
    schema = (table.db or connection.schema or "").upper()
    return f"{database}.{schema}.{table.name.upper()}"


def _execute_with_locks(self: FakeSnowflakeCursor, command: str, *args: Any, **kwargs: Any) -> FakeSnowflakeCursor:
    connection = self._conn
    try:
        expression = parse_one(command)
    except Exception:
        return _execute(self, command, *args, **kwargs)
    session = session_of(connection)
    if isinstance(expression, exp.Transaction):
        result = _execute(self, command, *args, **kwargs)
        session.explicit, session.transaction = True, time.time_ns()
        return result
    if isinstance(expression, (exp.Commit, exp.Rollback)):
        try:
            return _execute(self, command, *args, **kwargs)
        finally:
            session.explicit = False
            LOCKS.release_all(session.owner)
    if isinstance(expression, DDL):
        with _DDL:
            return _execute(self, command, *args, **kwargs)
    if not isinstance(expression, LOCKING):
        return _execute(self, command, *args, **kwargs)
    in_transaction = session.explicit or connection._in_transaction
    transaction = session.transaction if in_transaction else time.time_ns()
    LOCKS.acquire(_target(expression, connection), session, transaction, session.lock_timeout_s)
    try:
        return _execute(self, command, *args, **kwargs)
    finally:
        if session.closed or not (session.explicit or connection._in_transaction):
            LOCKS.release_all(session.owner)


def end_session(connection: FakeSnowflakeConnection) -> None:
    """A closed session's open transaction is rolled back and its locks released."""
    session = session_of(connection)
    session.closed = True
    if session.explicit or connection._in_transaction:
        with contextlib.suppress(duckdb.Error):  # nothing was open in DuckDB after all
            connection._duck_conn.rollback()
    LOCKS.release_all(session.owner)


class Sessions(dict[str, FakeSnowflakeConnection]):
    """fakesnow's token -> session map, ending a session's transaction when it is deleted."""

    def __delitem__(self, token: str) -> None:
        connection = self[token]
        super().__delitem__(token)
        end_session(connection)
        connection.close()


def install() -> None:
    """Patch fakesnow's cursor so UPDATE, DELETE and MERGE take table locks and DDL runs one statement at a time."""
    FakeSnowflakeCursor.execute = _execute_with_locks

"""What can go wrong, in the pipeline's words: the logic raises these, and whoever answers says it.

Each error is one sentence (``message``) that never echoes request data. Its kind says whether a retry
can help: :class:`RetryableError` (throttled, or unavailable for a moment) yes; every other kind no. The
external functions answer each kind with its HTTP status (``protocol.status_of``: Snowflake retries only
429 and 5xx, with the same batch id); the operator CLI with an exit code.
"""

from __future__ import annotations


class PipelineError(Exception):
    """A failure the caller is told in one sentence; a retry cannot fix it unless it is a :class:`RetryableError`.

    ``row``: which of several requests of one call it concerns (the SQL row's number; None: the call as a
    whole). The external functions say it ("Row 3: ..."), the operator CLI, with one request, does not.
    """

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.message, self.row = message, row


class CallerError(PipelineError):
    """The caller's request is wrong (a name, a reference, an option, a state the object is in); retrying the
    same request cannot help."""


class FailedError(PipelineError):
    """Something broke that a retry cannot fix (our bug, a broken model): the query fails now."""


class RetryableError(PipelineError):
    """Transient trouble. ``message`` says what happened; who retries is said by whoever answers
    (:meth:`told`): Snowflake, for a batch, or the operator, at a terminal."""

    def __init__(self, message: str, *, then: str = "", row: int | None = None) -> None:
        super().__init__(message, row=row)
        self.then = then  # what the retry does, e.g. "continues where this call stopped"

    def told(self, retrier: str = "Snowflake will retry") -> str:
        """The one sentence for the caller: the reason, then who retries (and what the retry does)."""
        return f"{self.message}; {retrier}" + (f", and the retry {self.then}" if self.then else "") + "."


class ThrottledError(RetryableError):
    """An upstream service throttled us."""


class UnavailableError(RetryableError):
    """An upstream service failed transiently, or the call ran out of time before it could answer."""

"""Snowflake object names that are safe to put into SQL text.

Only unquoted identifiers are accepted (letters, digits, ``_`` and ``$``, not starting with a
digit or ``$``, at most 255 characters per part, one to three dot-separated parts). Anything
else -- quotes, spaces, semicolons, comments -- is rejected, so a validated name can never
change the meaning of the statement it is placed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline_shared import InputError

_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")
MAX_PARTS = 3

# Where the pipeline connects, one rule for cdk.json, the custom resource and the training image:
# an account identifier (``myorg-myaccount``, ``xy12345.us-east-2.aws``, ``myorg-myaccount.privatelink``) and a
# host name begin and end with a letter or digit; a secret ARN is in a partition Snowflake's API integrations
# serve (aws, aws-us-gov; the stack refuses China regions).
SNOWFLAKE_ACCOUNT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9])?")
SNOWFLAKE_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
SECRET_ARN = re.compile(r"arn:aws(?:-us-gov)?:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]{1,512}")


class InvalidIdentifierError(InputError):
    """A name that is not a plain Snowflake identifier."""


def plain_identifier(text: object) -> str | None:
    """``text`` as one plain identifier (no dots), upper-cased as Snowflake resolves it; None if it is not."""
    if not isinstance(text, str) or not _PART.fullmatch(text.strip()):
        return None
    return text.strip().upper()


@dataclass(frozen=True)
class TableName:
    """A validated ``[DATABASE.][SCHEMA.]TABLE`` name, stored upper-cased as Snowflake resolves it."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: object, *, what: str = "table name") -> TableName:
        """Validate ``text``; raise :class:`InvalidIdentifierError` naming ``what`` if it is unsafe."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidIdentifierError(f"The {what} is missing: give a table as DATABASE.SCHEMA.TABLE.")
        parts = tuple(text.strip().split("."))
        if len(parts) > MAX_PARTS or not all(_PART.fullmatch(p) for p in parts):
            raise InvalidIdentifierError(
                f"The {what} is not a plain Snowflake identifier: use DATABASE.SCHEMA.TABLE "
                "with letters, digits, '_' or '$' only (no quotes, spaces or punctuation)."
            )
        return cls(tuple(p.upper() for p in parts))

    @property
    def sql(self) -> str:
        """The name as SQL text (safe by construction)."""
        return ".".join(self.parts)

    @property
    def table(self) -> str:
        return self.parts[-1]

    @property
    def namespace(self) -> str | None:
        """``DATABASE.SCHEMA`` or ``SCHEMA`` the table lives in, or None for a bare name."""
        return ".".join(self.parts[:-1]) or None

    def __str__(self) -> str:
        return self.sql

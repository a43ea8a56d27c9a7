"""The numbered SQL files, rendered for one environment of ``cdk.json``.

The files hold ``{{ NAME }}`` placeholders. :func:`template_values` is the one source of their
values: database, schema and warehouse from the environment's Snowflake settings, and one
``DATABASE.SCHEMA.FUNCTION`` name per external function in :data:`pipeline_shared.catalogue.CATALOGUE`.
:func:`render` refuses placeholders it does not know, placeholders without a value, and values
that could change a statement's meaning: identifiers must be plain Snowflake identifiers and
the model name lower-case letters, digits and hyphens.

``recommender-sql --env dev [--file 04_retraining.sql]`` prints the SQL.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from snowflake.connector.util_text import split_statements

from pipeline_shared.catalogue import CATALOGUE
from pipeline_shared.identifiers import InvalidIdentifierError, TableName, plain_identifier
from stacks.config import CDK_JSON, ConfigError, PipelineConfig, load_environment

SQL_DIR = Path(__file__).resolve().parent
SQL_FILES: list[Path] = [
    SQL_DIR / name
    for name in ("01_database.sql", "02_tables.sql", "03_loading.sql", "04_retraining.sql", "05_examples.sql")
]

DEFAULT_MODEL_NAME = "movielens"
DEFAULT_RECOMMENDATIONS_TABLE = "USER_MOVIE_RECOMMENDATIONS"

# Placeholders whose value is pasted between other name parts: exactly one identifier.
NAME_PLACEHOLDERS = ("DATABASE", "SCHEMA", "WAREHOUSE", "RECOMMENDATIONS_TABLE")
# One per external function (overloads share a name), rendered DATABASE.SCHEMA.NAME.
FUNCTION_PLACEHOLDERS = tuple(dict.fromkeys(function.name for function in CATALOGUE))
MODEL_NAME = "MODEL_NAME"  # goes inside a string literal
PLACEHOLDERS = (*NAME_PLACEHOLDERS, MODEL_NAME, *FUNCTION_PLACEHOLDERS)

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]*)\s*\}\}")
_MODEL_NAME = re.compile(r"[a-z0-9-]+")


class TemplateError(ValueError):
    """A template or a value that cannot be rendered safely; the message names the placeholder."""


def template_values(
    config: PipelineConfig,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    recommendations_table: str = DEFAULT_RECOMMENDATIONS_TABLE,
) -> dict[str, str]:
    """Every placeholder's value for ``config``'s environment (validated)."""
    snowflake = config.snowflake
    values = {
        "DATABASE": snowflake.database,
        "SCHEMA": snowflake.schema,
        "WAREHOUSE": snowflake.warehouse,
        "RECOMMENDATIONS_TABLE": recommendations_table,
        MODEL_NAME: model_name,
        **{name: f"{snowflake.database}.{snowflake.schema}.{name}" for name in FUNCTION_PLACEHOLDERS},
    }
    return _validated(values)


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``{{ NAME }}`` replaced by its validated value.

    Raises :class:`TemplateError` (a ``ValueError``) for an unknown placeholder in ``text`` or
    ``values``, a placeholder without a value, a malformed ``{{ ... }}``, or an unsafe value.
    """
    safe = _validated(values)
    for name in dict.fromkeys(_PLACEHOLDER.findall(text)):
        if name not in PLACEHOLDERS:
            raise TemplateError(f"Unknown placeholder {{{{ {name} }}}}: known are {', '.join(PLACEHOLDERS)}.")
        if name not in safe:
            raise TemplateError(f"No value for placeholder {{{{ {name} }}}}: add {name} to the values.")
    rendered = _PLACEHOLDER.sub(lambda match: safe[match.group(1)], text)
    leftover = re.search(r"\{\{|\}\}", rendered)
    if leftover:
        line = rendered.count("\n", 0, leftover.start()) + 1
        raise TemplateError(f"Malformed placeholder on line {line}: write placeholders as {{{{ NAME }}}}.")
    return rendered


def statements(text: str) -> list[str]:
    """The SQL statements in ``text``, comments removed, without their terminating ``;``."""
    parts = (statement for statement, _ in split_statements(io.StringIO(text), remove_comments=True))
    return [cleaned for cleaned in (part.strip().rstrip(";").strip() for part in parts) if cleaned]


def render_file(path: Path, values: Mapping[str, str]) -> str:
    try:
        return render(path.read_text(encoding="utf-8"), values)
    except TemplateError as exc:
        raise TemplateError(f"{path.name}: {exc}") from None


def _validated(values: Mapping[str, str]) -> dict[str, str]:
    """``values`` in canonical form; raises :class:`TemplateError` naming the first bad one."""
    safe = {}
    for name, value in values.items():
        if name not in PLACEHOLDERS:
            raise TemplateError(f"Unknown placeholder {name} in the values: known are {', '.join(PLACEHOLDERS)}.")
        if name == MODEL_NAME:
            if not isinstance(value, str) or not _MODEL_NAME.fullmatch(value):
                raise TemplateError(
                    f"{MODEL_NAME} must be lower-case letters, digits and hyphens, e.g. '{DEFAULT_MODEL_NAME}'."
                )
            safe[name] = value
            continue
        if name in NAME_PLACEHOLDERS:
            canonical, shape = plain_identifier(value), "one plain identifier"
        else:
            canonical, shape = _qualified(value), "a plain DATABASE.SCHEMA.NAME"
        if canonical is None:
            raise TemplateError(
                f"{name} must be {shape} (letters, digits, '_' or '$'; no quotes, spaces or punctuation)."
            )
        safe[name] = canonical
    return safe


def _qualified(value: object) -> str | None:
    try:
        return TableName.parse(value, what="name").sql
    except InvalidIdentifierError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recommender-sql",
        description="Print the numbered Snowflake SQL files rendered for an environment of cdk.json.",
    )
    parser.add_argument("--env", required=True, help="environment in cdk.json, e.g. dev")
    parser.add_argument(
        "--file", choices=[path.name for path in SQL_FILES], help="print only this file (default: all, in order)"
    )
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help="model name for deploy/invoke/recommend")
    parser.add_argument(
        "--recommendations-table", default=DEFAULT_RECOMMENDATIONS_TABLE, help="table training writes to"
    )
    parser.add_argument("--cdk-json", type=Path, default=CDK_JSON, help="cdk.json to read (default: the project's)")
    args = parser.parse_args(argv)
    try:
        values = template_values(
            load_environment(args.env, args.cdk_json),
            model_name=args.model_name,
            recommendations_table=args.recommendations_table,
        )
        files = [path for path in SQL_FILES if args.file in (None, path.name)]
        rendered = [render_file(path, values) for path in files]
    except (ConfigError, TemplateError) as exc:
        print(exc, file=sys.stderr)
        return 2
    for path, text in zip(files, rendered, strict=True):
        print(f"-- {path.name} for environment {args.env}")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

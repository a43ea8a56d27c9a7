import pytest

from pipeline_shared.identifiers import InvalidIdentifierError, TableName, plain_identifier


@pytest.mark.parametrize(
    ("text", "parts", "namespace", "table"),
    [
        ("ratings", ("RATINGS",), None, "RATINGS"),
        ("public.ratings", ("PUBLIC", "RATINGS"), "PUBLIC", "RATINGS"),
        ("MovieLens.Public.Ratings", ("MOVIELENS", "PUBLIC", "RATINGS"), "MOVIELENS.PUBLIC", "RATINGS"),
        ("_db.s$1.t_2", ("_DB", "S$1", "T_2"), "_DB.S$1", "T_2"),
        ("  db.s.t  ", ("DB", "S", "T"), "DB.S", "T"),
    ],
)
def test_parse_valid_names(text, parts, namespace, table):
    name = TableName.parse(text)
    assert name.parts == parts
    assert name.sql == ".".join(parts)
    assert str(name) == name.sql
    assert name.namespace == namespace
    assert name.table == table


def test_part_of_255_characters_is_accepted():
    part = "a" * 255
    assert TableName.parse(f"db.{part}").table == part.upper()


@pytest.mark.parametrize(
    "text",
    [
        "x; drop table y",
        'db."Quoted".t',
        '"t"',
        "db.s.t'",
        "'t'",
        "t--comment",
        "t -- comment",
        "db.s.t/* c */",
        "db./*c*/t",
        "my table",
        "db. s.t",
        "a.b.c.d",
        "a..b",
        ".a",
        "a.",
        "1table",
        "db.9s.t",
        "$t",
        "db.s.t;",
        "t\nx",
        "a" * 256,
        "db.s." + "b" * 256,
    ],
)
def test_parse_rejects_unsafe_text_without_echoing_it(text):
    with pytest.raises(InvalidIdentifierError, match="not a plain Snowflake identifier") as info:
        TableName.parse(text)
    assert text.strip() not in str(info.value)


@pytest.mark.parametrize("text", ["", "   ", None, 42, b"db.s.t", ["db", "s", "t"]])
def test_parse_rejects_missing_or_non_string(text):
    with pytest.raises(InvalidIdentifierError, match="missing"):
        TableName.parse(text)


def test_error_names_what():
    with pytest.raises(InvalidIdentifierError, match="output table"):
        TableName.parse("a b", what="output table")


def test_invalid_identifier_error_is_value_error():
    assert issubclass(InvalidIdentifierError, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("compute_wh", "COMPUTE_WH"), (" Public ", "PUBLIC"), ("A$1", "A$1"), ("db.schema", None), ("1x", None),
     ('"Q"', None), ("a b", None), ("", None), (None, None), (7, None), ("x" * 256, None)],
)  # fmt: skip
def test_plain_identifier_is_one_part_or_none(text, expected):
    assert plain_identifier(text) == expected

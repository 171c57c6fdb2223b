"""The emulator's reading of statements (tests/stack/ksqldb_emulator/statements.py).

Statements are parsed by kctx's ksqlDB dialect; these tests pin what the emulator takes
from its trees (names, columns, types, properties, queries, expression texts) and the
ksqlDB wording of the errors. In-process, no stack needed.
"""
from __future__ import annotations

import pytest

from tests.stack.ksqldb_emulator import sqltypes as T
from tests.stack.ksqldb_emulator.statements import (
    HEADERS_TYPE, Column, ParseError, parse, parse_schema, parse_type, split, substitute,
)


def error(text: str, types=None) -> str:
    with pytest.raises(ParseError) as info:
        parse(text, types)
    return str(info.value)


# ---------------------------------------------------------------------------
# statements
# ---------------------------------------------------------------------------


def test_create_stream_columns_types_and_properties():
    s = parse("CREATE OR REPLACE STREAM `Orders` (id BIGINT KEY, `amount` DECIMAL(10, 2), "
              "tags ARRAY<VARCHAR>, attrs MAP<STRING, INT>, addr STRUCT<street STRING, `zip` INT>, "
              "h ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, t BYTES HEADER('trace')) "
              "WITH (kafka_topic='orders', PARTITIONS=3, 'VALUE_FORMAT'='AVRO', WRAP_SINGLE_VALUE=false, "
              "RETENTION_MS=-1);")
    assert (s.kind, s.name, s.source_type, s.or_replace, s.if_not_exists, s.is_source) == (
        "CREATE_STREAM", "Orders", "STREAM", True, False, False)
    assert s.columns == [
        Column("ID", T.BIGINT, "KEY"),
        Column("amount", T.decimal(10, 2)),
        Column("TAGS", T.array(T.STRING)),
        Column("ATTRS", T.map_of(T.STRING, T.INTEGER)),
        Column("ADDR", T.struct([("STREET", T.STRING), ("zip", T.INTEGER)])),
        Column("H", HEADERS_TYPE, "HEADERS"),
        Column("T", T.BYTES, "HEADERS", "trace"),
    ]
    assert s.props == {"KAFKA_TOPIC": "orders", "PARTITIONS": 3, "VALUE_FORMAT": "AVRO",
                       "WRAP_SINGLE_VALUE": False, "RETENTION_MS": -1}


def test_create_source_table_if_not_exists_primary_key():
    s = parse("CREATE SOURCE TABLE IF NOT EXISTS T (K STRING PRIMARY KEY, V DOUBLE) "
              "WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON')")
    assert (s.kind, s.is_source, s.if_not_exists) == ("CREATE_TABLE", True, True)
    assert [c.kind for c in s.columns] == ["PRIMARY_KEY", None]


def test_custom_types_resolve_from_the_catalog():
    s = parse("CREATE TYPE ADDRESS AS STRUCT<street STRING>;")
    assert (s.kind, s.name, s.type) == ("CREATE_TYPE", "ADDRESS", T.struct([("STREET", T.STRING)]))
    s2 = parse("CREATE STREAM S (A ADDRESS) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');", {"ADDRESS": s.type})
    assert s2.columns == [Column("A", s.type)]


def test_csas_query_clauses():
    s = parse("CREATE TABLE OUT WITH (KAFKA_TOPIC='out') AS SELECT o.ID, COUNT(*) AS N, o.* , c.addr->*\n"
              "FROM ORDERS o LEFT JOIN CUSTOMERS AS c WITHIN 1 HOUR ON o.CID = c.ID FULL OUTER JOIN X ON o.ID = X.ID\n"
              "WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES) WHERE o.AMOUNT > 10 GROUP BY o.ID "
              "HAVING COUNT(*) > 1 EMIT FINAL LIMIT 5;")
    assert (s.kind, s.props) == ("CTAS", {"KAFKA_TOPIC": "out"})
    q = s.query
    assert [(i.expr.kind, i.expr.text, i.alias) for i in q.items] == [
        ("col", "O.ID", None), ("func", "COUNT(*)", "N"), ("star", "O.*", None), ("structall", "C.ADDR->*", None)]
    assert (q.source.name, q.source.alias, q.source.line, q.source.col) == ("ORDERS", "O", 2, 6)
    assert [(j.kind, j.right.name, j.right.alias, j.within, j.on.text, j.right.line, j.right.col)
            for j in q.joins] == [
        ("LEFT", "CUSTOMERS", "C", True, "(O.CID = C.ID)", 2, 25),
        ("FULL", "X", "X", False, "(O.ID = X.ID)", 2, 86)]
    assert (q.window, q.where.text, [g.text for g in q.group_by], q.having.text, q.emit, q.limit) == (
        "TUMBLING", "(O.AMOUNT > 10)", ["O.ID"], "(COUNT(*) > 1)", "FINAL", 5)


def test_insert_and_other_statements():
    s = parse("INSERT INTO S (ID, `v`) VALUES (1, 'it''s');")
    assert (s.kind, s.name, s.columns) == ("INSERT_VALUES", "S", ["ID", "v"])
    assert [(v.value, v.type, v.text) for v in s.value] == [(1, T.INTEGER, "1"), ("it's", T.STRING, "'it's'")]
    s = parse("INSERT INTO S WITH (QUERY_ID='q') SELECT * FROM T PARTITION BY A, B;")
    assert (s.kind, s.props, [p.text for p in s.query.partition_by]) == ("INSERT_INTO", {"QUERY_ID": "q"}, ["A", "B"])
    cases = {
        "DROP TABLE IF EXISTS T DELETE TOPIC": ("DROP", "T", "TABLE", True, True),
        "DROP TYPE FOO": ("DROP_TYPE", "FOO", None, False, False),
    }
    for text, want in cases.items():
        s = parse(text)
        assert (s.kind, s.name, s.source_type, s.if_exists, s.delete_topic) == want
    assert [(s.kind, s.extended, s.all) for s in map(parse, [
        "LIST STREAMS", "SHOW TABLES EXTENDED", "SHOW ALL TOPICS EXTENDED", "SHOW PROPERTIES", "SHOW VARIABLES",
        "DESCRIBE STREAMS EXTENDED"])] == [
        ("SHOW_STREAMS", False, False), ("SHOW_TABLES", True, False), ("SHOW_TOPICS", True, True),
        ("SHOW_PROPERTIES", False, False), ("SHOW_VARIABLES", False, False), ("DESCRIBE_STREAMS", True, False)]
    assert [(s.kind, s.name, s.all) for s in map(parse, [
        "TERMINATE ALL", "TERMINATE CSAS_X_1", "DESCRIBE `x` EXTENDED", "EXPLAIN CSAS_X_1",
        "EXPLAIN SELECT * FROM S", "PRINT 'topic' FROM BEGINNING", "SELECT * FROM S EMIT CHANGES"])] == [
        ("TERMINATE", None, True), ("TERMINATE", "CSAS_X_1", False), ("DESCRIBE", "x", False),
        ("EXPLAIN", "CSAS_X_1", False), ("EXPLAIN_STATEMENT", None, False), ("PRINT", None, False),
        ("SELECT", None, False)]
    assert [(s.kind, s.name, s.value) for s in map(parse, [
        "DEFINE myVar = 'a''b'", "UNDEFINE myVar", "SET 'auto.offset.reset' = 'earliest'",
        "UNSET 'auto.offset.reset'"])] == [
        ("DEFINE", "myVar", "a'b"), ("UNDEFINE", "myVar", None), ("SET", "auto.offset.reset", "earliest"),
        ("UNSET", "auto.offset.reset", None)]
    s = parse("ALTER STREAM S ADD COLUMN A INT, ADD B ARRAY<STRING>")
    assert (s.kind, s.name, s.columns) == ("ALTER", "S", [Column("A", T.INTEGER), Column("B", T.array(T.STRING))])


# ---------------------------------------------------------------------------
# expressions (texts appear in ksqlDB's messages; types in derived schemas)
# ---------------------------------------------------------------------------


def items(select: str) -> list:
    return [i.expr for i in parse(f"SELECT {select} FROM S;").query.items]


def test_literal_types():
    got = [(e.type.render() if e.type else None, e.value, e.text)
           for e in items("1, -2147483649, 1.50, -0.5, 1e3, TRUE, NULL, DATE '2020-01-01', -(3)")]
    assert got == [("INTEGER", 1, "1"), ("BIGINT", -2147483649, "-2147483649"), ("DECIMAL(3, 2)", "1.50", "1.50"),
                   ("DECIMAL(1, 1)", "-0.5", "-0.5"), ("DOUBLE", 1000.0, "1e3"), ("BOOLEAN", True, "true"),
                   (None, None, "null"), ("DATE", "2020-01-01", "DATE"), ("INTEGER", -3, "-3")]


def test_expression_texts():
    got = [e.text for e in items(
        "A + B * 2, A != B, A IS NOT NULL, NOT A, A NOT BETWEEN 1 AND 2, A IN (1, 2), A LIKE 'x%', "
        "S->F[1], CAST(A AS DECIMAL(4, 2)), ARRAY[1, 2], STRUCT(X := 1), A || B, -A, "
        "A IS DISTINCT FROM B, (A OR B) AND C")]
    assert got == ["(A + (B * 2))", "(A <> B)", "(A IS NOT NULL)", "(NOT A)", "(A BETWEEN 1 AND 2)",
                   "(A IN (1, 2))", "(A LIKE 'x%')", "S->F[1]", "CAST(A AS DECIMAL(4, 2))", "ARRAY[1, 2]",
                   "STRUCT(X:=1)", "(A || B)", "-A", "(A IS DISTINCT FROM B)", "((A OR B) AND C)"]


def test_functions_keep_the_name_as_written():
    # ksqlDB quotes the name as written: "Function 'dateadd' does not accept parameters"
    f, g, h = items("dateAdd(DAYS, 1, D), transform(A, (x, y) => x + y), Count(*)")
    assert (f.value, f.qualifier, f.text) == ("DATEADD", "dateAdd", "DATEADD(DAYS, 1, D)")
    assert (f.args[0].kind, f.args[0].value) == ("col", "DAYS")  # a time unit reads as a bare word
    assert (g.qualifier, g.args[1].kind, g.args[1].value, g.args[1].text) == (
        "transform", "lambda", ["X", "Y"], "(X, Y) => (X + Y)")
    assert (h.value, h.qualifier, h.args, h.text) == ("COUNT", "Count", [], "COUNT(*)")


def test_case_and_map():
    case, m = items("CASE WHEN A > 1 THEN 'x' ELSE 'y' END, MAP('k' := 1)")
    assert case.kind == "case" and [a.text for a in case.args] == ["(A > 1)", "'x'"]
    assert case.value[0] is None and case.value[1].text == "'y'"
    assert (m.kind, [a.text for a in m.args]) == ("map", ["'k'", "1"])


# ---------------------------------------------------------------------------
# types, schemas, splitting, substitution
# ---------------------------------------------------------------------------


def test_parse_type_reads_rendered_types_back():
    for t in (T.decimal(4, 2), T.map_of(T.STRING, T.array(T.BIGINT)),
              T.struct([("a b", T.INTEGER), ("SELECT", T.STRING)]), HEADERS_TYPE):
        assert parse_type(t.render()) == t


def test_parse_schema():
    assert parse_schema("ID BIGINT KEY, `name` STRING") == [Column("ID", T.BIGINT, "KEY"), Column("name", T.STRING)]


def test_split_gives_statement_texts_and_positions():
    assert split("-- c\nSHOW STREAMS ;\n\n  DESCRIBE X; SHOW TOPICS") == [
        ("SHOW STREAMS ;", 2, 1), ("DESCRIBE X;", 4, 3), ("SHOW TOPICS", 4, 15)]
    assert split("  -- only a comment\n") == []


def test_substitute():
    assert substitute("CREATE STREAM ${name} WITH (KAFKA_TOPIC='${Name}')", {"NAME": "S"}) == \
        "CREATE STREAM S WITH (KAFKA_TOPIC='S')"
    with pytest.raises(ParseError) as info:
        substitute("SHOW STREAMS;\nDROP STREAM ${x};", {})
    assert str(info.value) == "line 2:13: Syntax Error\nvariable 'x' is not defined"


# ---------------------------------------------------------------------------
# errors, in ksqlDB's words
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='x' VALUE_FORMAT='JSON');",
     "line 1:47: Syntax Error\nSyntax error at or near 'VALUE_FORMAT' at line 1:47"),
    ("CREATE STREAM X (A INT", "line 1:23: Syntax Error\nSyntax error at or near '<EOF>' at line 1:23"),
    ("CREATE STREAM SELECT (A INT);", "line 1:15: Syntax Error\nSyntax error at or near 'SELECT' at line 1:15"),
    ("CRATE STREAM X;", "line 1:1: Syntax Error\nUnknown statement 'CRATE'\nDid you mean 'CREATE'?"),
    ("SELECT 'abc FROM S;", "line 1:8: Syntax Error\nunterminated string (missing closing ')"),
    ("CREATE STREAM S AS SELECT 9223372036854775808 FROM T;",
     "Failed to prepare statement: line 1:27: Invalid numeric literal: 9223372036854775808"),
    ("CREATE STREAM S AS SELECT 1.7976931348623159E308 FROM T;",
     "Failed to prepare statement: line 1:27: Number overflows DOUBLE: 1.7976931348623159E308"),
    ("CREATE STREAM S (A FOO) WITH (KAFKA_TOPIC='s');", "Failed to prepare statement: Cannot resolve unknown type: FOO"),
    ("CREATE STREAM S (H ARRAY<STRING> HEADERS) WITH (KAFKA_TOPIC='s');",
     "Failed to prepare statement: Invalid type for HEADERS column: expected "
     "ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got ARRAY<STRING>"),
    ("CREATE STREAM S (H STRING HEADER('k')) WITH (KAFKA_TOPIC='s');",
     "Failed to prepare statement: Invalid type for HEADER('k') column: expected BYTES, got STRING"),
    ("CREATE TABLE T AS SELECT A, COUNT(*) FROM S GROUP BY A, a;", "Duplicate GROUP BY expression: A"),
])
def test_errors(text, message):
    assert error(text) == message


def test_error_positions_shift_to_the_request():
    with pytest.raises(ParseError) as info:
        parse("SHOW STREAMS X;")
    assert str(info.value) == "line 1:14: Syntax Error\nSyntax error at or near 'X' at line 1:14"
    # the same statement starting at line 3, column 5 of a request
    assert str(info.value.shifted(3, 5)) == "line 3:18: Syntax Error\nSyntax error at or near 'X' at line 3:18"

"""The ksqlDB dialect: acceptance over ksqlDB's own functional-test corpus, canonical
rendering of every statement kind, programmatic trees, types, variables."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlglot import exp

from kctx_cli.ksql import KsqlSyntaxError
from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.dialect import (
    KSQL,
    defined_variables,
    format_text,
    parse,
    parse_expression,
    parse_one,
    parse_statements,
    parse_type,
    render,
    substitute,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "ksql-corpus" / "query-validation-tests.jsonl"


def test_corpus_statements_parse_and_round_trip():
    """Every statement of every corpus test without expected_exception parses, and its
    canonical rendering parses back to an equal tree (SPEC §3; the bar is 99%)."""
    total = ok = 0
    failures = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            case = json.loads(line)
            if case["expected_exception"]:
                continue
            for text in case["statements"]:
                total += 1
                statements = parse_statements(text)
                if len(statements) != 1 or statements[0].error:
                    failures.append((case["test"], text, str(statements[0].error) if statements else "empty"))
                    continue
                tree = statements[0].tree
                again = parse(render(tree))
                if again != [tree]:
                    failures.append((case["test"], text, "round trip: " + render(tree)))
                    continue
                ok += 1
    rate = ok / total
    print(f"\nksql corpus: {ok}/{total} statements parse and round-trip ({rate:.2%})")
    for name, text, why in failures[:20]:
        print(f"  {name}: {why}\n    {text[:200]}")
    assert total > 2000
    assert rate >= 0.99, failures[:5]


# (input, canonical rendering): one or more cases per statement kind
CANONICAL = [
    # CREATE STREAM / TABLE with columns, KEY / PRIMARY KEY / HEADERS / HEADER('k')
    (
        "create stream orders (id varchar key, amount decimal(18,4), tags array<string>, "
        "attrs map<string, int>, addr struct<street string, `zip` int>, raw bytes, d date, "
        "t time, ts timestamp, h array<struct<key string, value bytes>> headers, "
        "tr bytes header('trace')) with (kafka_topic='orders', partitions=3, "
        "value_format='avro', timestamp='ts')",
        "CREATE STREAM ORDERS (ID STRING KEY, AMOUNT DECIMAL(18, 4), TAGS ARRAY<STRING>, "
        "ATTRS MAP<STRING, INT>, ADDR STRUCT<STREET STRING, `zip` INT>, RAW BYTES, D DATE, "
        "T TIME, TS TIMESTAMP, H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS, "
        "TR BYTES HEADER('trace')) WITH (KAFKA_TOPIC='orders', PARTITIONS=3, "
        "VALUE_FORMAT='avro', TIMESTAMP='ts')",
    ),
    (
        "CREATE OR REPLACE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, n BIGINT, b BOOLEAN, x DOUBLE)"
        " WITH ('kafka_topic'='c', key_format='KAFKA')",
        "CREATE OR REPLACE TABLE IF NOT EXISTS C (ID INT PRIMARY KEY, N BIGINT, B BOOLEAN, X DOUBLE)"
        " WITH ('kafka_topic'='c', KEY_FORMAT='KAFKA')",
    ),
    (
        "CREATE SOURCE TABLE s (k STRING PRIMARY KEY) WITH (kafka_topic='s', format='json')",
        "CREATE SOURCE TABLE S (K STRING PRIMARY KEY) WITH (KAFKA_TOPIC='s', FORMAT='json')",
    ),
    ("CREATE STREAM s WITH (kafka_topic='s', value_format='avro')",
     "CREATE STREAM S WITH (KAFKA_TOPIC='s', VALUE_FORMAT='avro')"),
    # CSAS / CTAS with windows, joins, clauses
    (
        "CREATE TABLE t WITH (kafka_topic='t') AS SELECT id, COUNT(*) AS n, WINDOWSTART AS ws "
        "FROM s WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) "
        "WHERE amount > 10 GROUP BY id HAVING COUNT(*) > 1 EMIT FINAL",
        "CREATE TABLE T WITH (KAFKA_TOPIC='t') AS SELECT ID, COUNT(*) AS N, WINDOWSTART AS WS "
        "FROM S WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) "
        "WHERE AMOUNT > 10 GROUP BY ID HAVING COUNT(*) > 1 EMIT FINAL",
    ),
    (
        "create table t as select id, sum(x) total from s window hopping (size 30 seconds, "
        "advance by 10 seconds) group by id emit changes",
        "CREATE TABLE T AS SELECT ID, SUM(X) AS TOTAL FROM S WINDOW HOPPING (SIZE 30 SECONDS, "
        "ADVANCE BY 10 SECONDS) GROUP BY ID EMIT CHANGES",
    ),
    (
        "CREATE TABLE t AS SELECT id, COUNT(*) FROM s WINDOW SESSION (5 MINUTES, GRACE PERIOD 1 MINUTE) GROUP BY id",
        "CREATE TABLE T AS SELECT ID, COUNT(*) FROM S WINDOW SESSION (5 MINUTES, GRACE PERIOD 1 MINUTE) GROUP BY ID",
    ),
    (
        "CREATE STREAM j AS SELECT o.id, s.x FROM orders o INNER JOIN shipments AS s "
        "WITHIN 1 HOUR GRACE PERIOD 5 MINUTES ON o.id = s.order_id "
        "LEFT OUTER JOIN customers c ON o.cid = c.id PARTITION BY o.id EMIT CHANGES",
        "CREATE STREAM J AS SELECT O.ID, S.X FROM ORDERS O JOIN SHIPMENTS S "
        "WITHIN 1 HOUR GRACE PERIOD 5 MINUTES ON O.ID = S.ORDER_ID "
        "LEFT JOIN CUSTOMERS C ON O.CID = C.ID PARTITION BY O.ID EMIT CHANGES",
    ),
    (
        "CREATE STREAM j AS SELECT * FROM a FULL JOIN b WITHIN (1 SECOND, 2 HOURS) ON a.id = b.id "
        "RIGHT JOIN c ON a.id = c.id",
        "CREATE STREAM J AS SELECT * FROM A FULL OUTER JOIN B WITHIN (1 SECOND, 2 HOURS) ON A.ID = B.ID "
        "RIGHT JOIN C ON A.ID = C.ID",
    ),
    (
        "CREATE TABLE fk AS SELECT * FROM orders o JOIN customers c ON FETCH_FIELD_FROM_STRUCT(o.cust, 'id') = c.id",
        "CREATE TABLE FK AS SELECT * FROM ORDERS O JOIN CUSTOMERS C ON FETCH_FIELD_FROM_STRUCT(O.CUST, 'id') = C.ID",
    ),
    ("SELECT * FROM s PARTITION BY (a, b) EMIT CHANGES LIMIT 10",
     "SELECT * FROM S PARTITION BY A, B EMIT CHANGES LIMIT 10"),
    ("SELECT * FROM s WHERE k = 'a' AND WINDOWSTART >= 1", "SELECT * FROM S WHERE K = 'a' AND WINDOWSTART >= 1"),
    # INSERT
    ("insert into s with (query_id='q1') select * from t emit changes",
     "INSERT INTO S WITH (QUERY_ID='q1') SELECT * FROM T EMIT CHANGES"),
    ("INSERT INTO s (id, v) VALUES ('a', 1.5)", "INSERT INTO S (ID, V) VALUES ('a', 1.5)"),
    ("INSERT INTO s VALUES ('it''s', -1, NULL, true)", "INSERT INTO S VALUES ('it''s', -1, NULL, TRUE)"),
    # DROP / ALTER / TYPE
    ("drop stream if exists s delete topic", "DROP STREAM IF EXISTS S DELETE TOPIC"),
    ("DROP TABLE t", "DROP TABLE T"),
    ("DROP TYPE IF EXISTS address", "DROP TYPE IF EXISTS ADDRESS"),
    ("ALTER STREAM s ADD COLUMN c INT, ADD d STRING", "ALTER STREAM S ADD COLUMN C INT, ADD COLUMN D STRING"),
    ("CREATE TYPE IF NOT EXISTS address AS STRUCT<street STRING, n INT>",
     "CREATE TYPE IF NOT EXISTS ADDRESS AS STRUCT<STREET STRING, N INT>"),
    ("CREATE STREAM s (a address) WITH (kafka_topic='s')", "CREATE STREAM S (A ADDRESS) WITH (KAFKA_TOPIC='s')"),
    # query control, variables, properties
    ("terminate CSAS_S_0", "TERMINATE CSAS_S_0"),
    ("TERMINATE ALL", "TERMINATE ALL"),
    ("pause all", "PAUSE ALL"),
    ("RESUME q1", "RESUME Q1"),
    ("DEFINE topicName = 'orders'", "DEFINE topicName = 'orders'"),
    ("UNDEFINE topicName", "UNDEFINE topicName"),
    ("set 'auto.offset.reset'='earliest'", "SET 'auto.offset.reset' = 'earliest'"),
    ("UNSET 'auto.offset.reset'", "UNSET 'auto.offset.reset'"),
    ("ALTER SYSTEM 'ksql.x'='1'", "ALTER SYSTEM 'ksql.x' = '1'"),
    ("CREATE STREAM ${name} WITH (kafka_topic=${topic})", "CREATE STREAM ${name} WITH (KAFKA_TOPIC=${topic})"),
    # ASSERT
    ("assert topic orders with (partitions=3) timeout 10 seconds",
     "ASSERT TOPIC 'orders' WITH (PARTITIONS=3) TIMEOUT 10 SECONDS"),
    ("ASSERT NOT EXISTS TOPIC 'my-topic'", "ASSERT NOT EXISTS TOPIC 'my-topic'"),
    ("ASSERT SCHEMA SUBJECT 'orders-value' ID 4 TIMEOUT 3 MINUTES",
     "ASSERT SCHEMA SUBJECT 'orders-value' ID 4 TIMEOUT 3 MINUTES"),
    ("ASSERT NOT EXISTS SCHEMA ID 7", "ASSERT NOT EXISTS SCHEMA ID 7"),
    # SHOW / LIST / DESCRIBE / EXPLAIN / PRINT
    ("list streams extended", "SHOW STREAMS EXTENDED"),
    ("SHOW TABLES", "SHOW TABLES"),
    ("SHOW QUERIES EXTENDED", "SHOW QUERIES EXTENDED"),
    ("SHOW ALL TOPICS EXTENDED", "SHOW ALL TOPICS EXTENDED"),
    ("SHOW TOPICS", "SHOW TOPICS"),
    ("SHOW TYPES", "SHOW TYPES"),
    ("SHOW PROPERTIES", "SHOW PROPERTIES"),
    ("SHOW FUNCTIONS", "SHOW FUNCTIONS"),
    ("SHOW VARIABLES", "SHOW VARIABLES"),
    ("SHOW SOURCE CONNECTORS", "SHOW SOURCE CONNECTORS"),
    ("describe orders extended", "DESCRIBE ORDERS EXTENDED"),
    ("DESCRIBE STREAMS EXTENDED", "DESCRIBE STREAMS EXTENDED"),
    ("DESCRIBE TABLES", "DESCRIBE TABLES"),
    ("DESCRIBE FUNCTION substring", "DESCRIBE FUNCTION SUBSTRING"),
    ("EXPLAIN CTAS_T_1", "EXPLAIN CTAS_T_1"),
    ("EXPLAIN SELECT * FROM s EMIT CHANGES", "EXPLAIN SELECT * FROM S EMIT CHANGES"),
    ("PRINT 'orders' FROM BEGINNING INTERVAL 2 LIMIT 10", "PRINT 'orders' FROM BEGINNING INTERVAL 2 LIMIT 10"),
    # a topic keeps its case even unquoted (AstBuilder getIdentifierText(true, ...), F08)
    ("PRINT orders", "PRINT 'orders'"),
    ("CREATE SINK CONNECTOR IF NOT EXISTS jdbc WITH ('connector.class'='x')",
     "CREATE SINK CONNECTOR IF NOT EXISTS JDBC WITH ('connector.class'='x')"),
    ("DROP CONNECTOR IF EXISTS jdbc", "DROP CONNECTOR IF EXISTS JDBC"),
    # expressions
    ("SELECT TRANSFORM(arr, x => x * 2), REDUCE(m, 0, (s, k, v) => s + v), FILTER(arr, (x) => x > 1) FROM s",
     "SELECT TRANSFORM(ARR, X => X * 2), REDUCE(M, 0, (S, K, V) => S + V), FILTER(ARR, X => X > 1) FROM S"),
    ("SELECT a->b->c, a->b[1], arr[2], s->* FROM s",
     "SELECT A->B->C, A->B[1], ARR[2], S->* FROM S"),
    ("SELECT ARRAY[1, 2], MAP('a' := 1, 'b' := 2), STRUCT(f1 := 1, `f2` := 'x'), ARRAY[] FROM s",
     "SELECT ARRAY[1, 2], MAP('a' := 1, 'b' := 2), STRUCT(F1 := 1, `f2` := 'x'), ARRAY[] FROM S"),
    ("SELECT CAST(a AS DECIMAL(4, 2)), CAST(b AS ARRAY<MAP<STRING, BIGINT>>) FROM s",
     "SELECT CAST(A AS DECIMAL(4, 2)), CAST(B AS ARRAY<MAP<STRING, BIGINT>>) FROM S"),
    ("SELECT CASE WHEN a < 0 THEN 'neg' WHEN a = 0 THEN 'zero' ELSE 'pos' END, CASE a WHEN 1 THEN 'one' END FROM s",
     "SELECT CASE WHEN A < 0 THEN 'neg' WHEN A = 0 THEN 'zero' ELSE 'pos' END, CASE A WHEN 1 THEN 'one' END FROM S"),
    ("SELECT * FROM s WHERE a NOT BETWEEN 1 AND 2 OR b NOT IN (1, 2) OR c NOT LIKE 'x%' ESCAPE '!' "
     "OR d IS NOT NULL OR e IS DISTINCT FROM f OR NOT (g <> h)",
     "SELECT * FROM S WHERE A NOT BETWEEN 1 AND 2 OR B NOT IN (1, 2) OR C NOT LIKE 'x%' ESCAPE '!' "
     "OR D IS NOT NULL OR E IS DISTINCT FROM F OR NOT (G <> H)"),
    ("SELECT -a + b * (c - d) / 2 % 3, 'a' || 'b', 1.5e3, .5 FROM s",
     "SELECT -A + B * (C - D) / 2 % 3, 'a' || 'b', 1.5e3, .5 FROM S"),
    ("SELECT TIMESTAMPADD(SECONDS, 5, ts), ts AT TIME ZONE 'UTC' FROM s",
     "SELECT TIMESTAMPADD(SECONDS, 5, TS), TS AT TIME ZONE 'UTC' FROM S"),
    ("SELECT - -5, -(5), 5 - -3, -9223372036854775808, 1R, 2e3, `a``b` FROM s",
     "SELECT - -5, -(5), 5 - -3, -9223372036854775808, `1R`, 2e3, `a``b` FROM S"),
    ("SELECT s.*, c->*, * FROM s WINDOW w SESSION (1 SECOND)", "SELECT S.*, C->*, * FROM S WINDOW W SESSION (1 SECOND)"),
    ("CREATE STREAM s (a STRUCT<>, b INT ARRAY) WITH (kafka_topic='s')",
     "CREATE STREAM S (A STRUCT<>, B ARRAY<INT>) WITH (KAFKA_TOPIC='s')"),
    ("SELECT * FROM s AS x PARTITION BY k EMIT CHANGES", "SELECT * FROM S X PARTITION BY K EMIT CHANGES"),
    ('SELECT `Mixed Case`, "quoted", `ROWTIME`, `from`, `FROM` FROM `my-stream`',
     "SELECT `Mixed Case`, `quoted`, ROWTIME, `from`, `FROM` FROM `my-stream`"),
]


@pytest.mark.parametrize("text,canonical", CANONICAL, ids=[c[1][:40] for c in CANONICAL])
def test_canonical_rendering(text, canonical):
    tree = parse_one(text)
    assert render(tree) == canonical
    assert parse_one(canonical) == tree
    assert render(parse_one(canonical)) == canonical


def test_statement_node_classes():
    kinds = [type(t).__name__ for t in parse(
        "CREATE STREAM a (x INT) WITH (kafka_topic='a'); INSERT INTO a VALUES (1); "
        "SELECT * FROM a; DROP STREAM a; SHOW STREAMS; DESCRIBE a; TERMINATE q; "
        "SET 'a'='b'; DEFINE v = 'x'; ASSERT TOPIC t; CREATE TYPE t AS INT; EXPLAIN q;"
    )]
    assert kinds == ["CreateSource", "InsertValues", "Query", "Drop", "Show", "Describe",
                     "Terminate", "SetProperty", "Define", "AssertTopic", "CreateType", "Explain"]


def test_tree_shape_of_a_windowed_ctas():
    tree = parse_one(
        "CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM s "
        "WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES, GRACE PERIOD 2 MINUTES) GROUP BY id EMIT CHANGES"
    )
    assert isinstance(tree, k.CreateSource) and tree.args["kind"] == "TABLE"
    query = tree.args["expression"]
    assert isinstance(query, k.Query)
    window = query.args["window"]
    assert window.args["kind"] == "HOPPING"
    assert render(window.args["size"]) == "1 HOUR"
    assert render(window.args["advance"]) == "10 MINUTES"
    assert render(window.args["grace"]) == "2 MINUTES"
    assert query.args["emit"].this == "CHANGES"
    assert [render(g) for g in query.args["group"].expressions] == ["ID"]
    count = query.expressions[1]
    assert isinstance(count, exp.Alias) and count.this == exp.Anonymous(this="COUNT", expressions=[exp.Star()])


def test_programmatic_trees_render_like_the_module_docs():
    ddl = k.CreateSource(
        kind="TABLE",
        this=k.ident("CUSTOMERS"),
        columns=[
            k.ColumnDef(this=k.ident("ID"), kind=parse_type("STRING"), constraint="PRIMARY KEY"),
            k.ColumnDef(this=k.ident("name"), kind=parse_type("STRUCT<A INT>")),
        ],
        properties=k.props(KAFKA_TOPIC="customers", PARTITIONS=3, VALUE_FORMAT="AVRO"),
    )
    text = render(ddl)
    assert text == ("CREATE TABLE CUSTOMERS (ID STRING PRIMARY KEY, `name` STRUCT<A INT>) "
                    "WITH (KAFKA_TOPIC='customers', PARTITIONS=3, VALUE_FORMAT='AVRO')")
    assert parse_one(text) == ddl

    query = k.Query(
        expressions=[k.col("CUSTOMER_ID"), exp.alias_(k.func("SUM", k.col("AMOUNT")), k.ident("TOTAL"))],
        from_=exp.From(this=k.table("ORDERS", alias="O")),
        joins=[k.Join(this=k.table("PAYMENTS", alias="P"), side="LEFT",
                      within=k.Within(before=k.duration(1, "HOUR")),
                      on=exp.EQ(this=k.col("ID", "O"), expression=k.col("ORDER_ID", "P")))],
        window=k.WindowClause(kind="TUMBLING", size=k.duration(1, "HOUR"), grace=k.duration(10, "MINUTES")),
        where=exp.Where(this=exp.GT(this=k.col("AMOUNT"), expression=k.lit(1000))),
        group=exp.Group(expressions=[k.col("CUSTOMER_ID")]),
        emit=k.Emit(this="CHANGES"),
    )
    csas = k.CreateSource(kind="TABLE", this=k.ident("ORDER_TOTALS"),
                          properties=k.props(KAFKA_TOPIC="order_totals"), expression=query)
    text = render(csas)
    assert text == (
        "CREATE TABLE ORDER_TOTALS WITH (KAFKA_TOPIC='order_totals') AS SELECT CUSTOMER_ID, "
        "SUM(AMOUNT) AS TOTAL FROM ORDERS O LEFT JOIN PAYMENTS P WITHIN 1 HOUR ON O.ID = P.ORDER_ID "
        "WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES) WHERE AMOUNT > 1000 "
        "GROUP BY CUSTOMER_ID EMIT CHANGES"
    )
    assert parse_one(text) == csas


def test_types():
    assert render(parse_type("varchar")) == "STRING"
    assert render(parse_type("integer")) == "INT"
    assert render(parse_type("map<string, array<decimal(10,2)>>")) == "MAP<STRING, ARRAY<DECIMAL(10, 2)>>"
    assert render(parse_type("STRUCT<>")) == "STRUCT<>"
    assert parse_type("BYTES").this == exp.DType.VARBINARY
    assert parse_type("my_type").args["kind"] == "MY_TYPE"
    with pytest.raises(KsqlSyntaxError, match="DECIMAL needs a precision and a scale"):
        parse_type("DECIMAL")


def test_expression_parsing_and_identifier_case():
    assert render(parse_expression("a.b->c > 1 and not x")) == "A.B->C > 1 AND NOT X"
    # unquoted names are upper-cased (as ksqlDB resolves them); quoted ones keep their case
    assert parse_one("SELECT `a` FROM s") != parse_one("SELECT a FROM s")
    assert parse_one('SELECT "A" FROM s') == parse_one("SELECT a FROM s")


def test_sqlglot_entry_points_use_the_dialect():
    import sqlglot

    tree = sqlglot.parse_one("select a from s emit changes", read=KSQL)
    assert tree.sql(dialect=KSQL) == "SELECT A FROM S EMIT CHANGES"


def test_format_text_keeps_comments_and_separates_statements():
    text = (
        "-- orders\ncreate stream o (id int key) with (kafka_topic='o');  -- trailing\n"
        "select * from o /* all */ emit changes;\n-- end\n"
    )
    assert format_text(text) == (
        "-- orders\nCREATE STREAM O (ID INT KEY) WITH (KAFKA_TOPIC='o');\n\n"
        "-- trailing\n/* all */\nSELECT * FROM O EMIT CHANGES;\n\n-- end\n"
    )
    assert format_text(format_text(text)) == format_text(text)
    assert format_text("") == ""


def test_parse_statements_goes_on_after_an_error():
    results = parse_statements("SELECT FROM s;\nSHOW STREAMS;\nDROP;\n")
    assert [bool(r.error) for r in results] == [True, False, True]
    assert (results[0].error.line, results[0].error.column) == (1, 8)
    assert (results[2].error.line, results[2].error.column) == (3, 5)
    assert results[1].text == "SHOW STREAMS"
    with pytest.raises(KsqlSyntaxError) as info:
        parse("SHOW STREAMS; SELECT FROM s;")
    assert str(info.value) == "1:22: expected an expression, found 'FROM'"
    assert info.value.reason == "expected an expression, found 'FROM'"


def test_variable_substitution():
    trees = parse("DEFINE topic = 'orders'; DEFINE n = '3'; UNDEFINE n;")
    variables = defined_variables(trees)
    assert variables == {"topic": "orders"}
    text = "CREATE STREAM s WITH (kafka_topic='${topic}', partitions=${P});"
    assert substitute(text, {"topic": "orders", "p": "3"}) == (
        "CREATE STREAM s WITH (kafka_topic='orders', partitions=3);"
    )
    with pytest.raises(KsqlSyntaxError, match="variable 'missing' is not defined"):
        substitute("SELECT ${missing} FROM s;", {})
    # before substitution the reference stays in the tree and is rendered back
    tree = parse_one("SELECT ${col} FROM ${src}")
    assert isinstance(tree.expressions[0], k.Variable)
    assert render(tree) == "SELECT ${col} FROM ${src}"


def test_statements_ksqldb_rejects_while_parsing_are_rejected():
    """Corpus tests whose expected exception is ksqlDB's ParseFailedException: some
    statement of each is an error here too, at the same column when ksqlDB names one for
    a syntax error."""
    import re

    checked = 0
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            case = json.loads(line)
            expected = case["expected_exception"] or {}
            if "ParseFailedException" not in (expected.get("type") or ""):
                continue
            errors = [s.error for text in case["statements"] for s in parse_statements(text) if s.error]
            assert errors, case["test"]
            where = re.search(r"line \d+:(\d+): Syntax Error", expected.get("message") or "")
            if where:
                assert errors[0].column == int(where.group(1)), (case["test"], errors[0])
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("text,error", [
    ("SELECT t.* + 1 FROM t", "1:8: '*' selects columns and cannot be part of an expression"),
    ("SELECT s->* x FROM t", "1:13: expected ',' or FROM, found 'x'"),
    ("SELECT 9223372036854775808 FROM s", "1:8: invalid numeric literal 9223372036854775808: out of the BIGINT range"),
    ("SELECT 1e999 FROM s", "1:8: number overflows DOUBLE: 1e999"),
    ("SELECT CAST(a AS NULL) FROM s", "1:18: expected a type, found 'NULL'"),
    ("CREATE TABLE t (k INT PRIMARY KEY) WITH (window_size='30 bobs', kafka_topic='t')",
     "1:54: invalid WINDOW_SIZE '30 bobs': expected '<number> <unit>' with a unit among "
     "NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS"),
    # ksqlDB 8.1.5 splits at each whitespace character: two spaces make three tokens
    ("CREATE TABLE t (k INT PRIMARY KEY) WITH (window_size='5  SECONDS', kafka_topic='t')",
     "1:54: invalid WINDOW_SIZE '5  SECONDS': expected '<number> <unit>' with a unit among "
     "NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS"),
    ("CREATE TABLE t (k INT PRIMARY KEY) WITH (window_size='0 SECONDS', kafka_topic='t')",
     "1:54: invalid WINDOW_SIZE '0 SECONDS': the size must be positive"),
    ("SELECT a FROM s PARTITION a", "1:27: expected BY, found 'a'"),
    ("CREATE OR REPLACE TYPE t AS INT", "1:19: CREATE OR REPLACE is not supported for types, found 'TYPE'"),
])
def test_syntax_errors(text, error):
    with pytest.raises(KsqlSyntaxError) as info:
        parse_one(text)
    assert str(info.value) == error


@pytest.mark.parametrize("size", ["5 NANOSECONDS", "5 microsecond", " 1 Hour ", "5\tSECONDS", "05 DAYS"])
def test_window_sizes_the_real_server_accepts(size):
    """Each accepted by ksqlDB 8.1.5 in CREATE TABLE ... WITH (WINDOW_SIZE=...)."""
    from kctx_cli.ksql.dialect import parse_one

    parse_one(f"CREATE TABLE t (k INT PRIMARY KEY) WITH (window_type='TUMBLING', window_size='{size}', "
              f"kafka_topic='t', value_format='JSON');")

"""The offline analyzer's verdict on a statement equals the real ksqlDB's (issue 15).

Each statement is sent as ``EXPLAIN <statement>`` (ksqlDB plans it and refuses it exactly
as it would refuse the statement, and runs nothing) over a few sources created for the
test under a unique prefix and dropped afterwards; kctx checks the same statement offline
with the same sources. Table-driven: the two verdicts (accepted / refused) must agree.
"""
from __future__ import annotations

import copy

import pytest

from kctx_cli.backends.ksqldb import KsqlStatementError
from kctx_cli.ksql.dialect import parse_statements
from kctx_cli.derive.analyzer import ScriptAnalyzer, check_statements
from tests.ksqldb_helpers import KsqlSources

SOURCES = [
    "CREATE STREAM {p}_K (K STRING KEY, DATA STRING) WITH (kafka_topic='{t}_k', value_format='KAFKA', partitions=1);",
    "CREATE STREAM {p}_S (ID STRING KEY, V INT, K INT, M MAP<STRING, INT>, A ARRAY<INT>) "
    "WITH (kafka_topic='{t}_s', value_format='JSON', partitions=1);",
    "CREATE STREAM {p}_D (ID STRING KEY, V INT) WITH (kafka_topic='{t}_d', value_format='DELIMITED', partitions=1);",
    "CREATE TABLE {p}_T (ID STRING PRIMARY KEY, V INT, A ARRAY<INT>) WITH (kafka_topic='{t}_t', value_format='JSON', "
    "partitions=1);",
    "CREATE TABLE {p}_TA (ID INT PRIMARY KEY, FK INT, X STRING) WITH (kafka_topic='{t}_ta', value_format='JSON', "
    "partitions=1);",
    "CREATE TABLE {p}_TB (ID INT PRIMARY KEY, Y STRING) WITH (kafka_topic='{t}_tb', value_format='JSON', partitions=1);",
    "CREATE TABLE {p}_TC (ID INT PRIMARY KEY, Z STRING) WITH (kafka_topic='{t}_tc', value_format='JSON', partitions=1);",
]

STATEMENTS = [
    "CREATE TABLE {p}_O AS SELECT DATA, COUNT(*) AS C FROM {p}_K GROUP BY DATA;",
    "CREATE TABLE {p}_O AS SELECT ID, AVG(V) AS A FROM {p}_D GROUP BY ID;",
    "CREATE TABLE {p}_O AS SELECT S.ID, COUNT(*) AS C, WINDOWSTART AS WS FROM {p}_S S JOIN {p}_T T ON S.ID = T.ID "
    "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY S.ID;",
    "CREATE TABLE {p}_O AS SELECT ID, MAX(V) AS X FROM {p}_T GROUP BY ID;",
    "CREATE STREAM {p}_O AS SELECT ID, NULL <> NULL AS B FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT ID, CAST(ID AS ARRAY<INT>) AS B FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT ID, MAP(K := V) AS B FROM {p}_S;",
    "CREATE TABLE {p}_O AS SELECT ID, EXPLODE(A) AS E FROM {p}_T;",
    "CREATE TABLE {p}_O AS SELECT ID, EARLIEST_BY_OFFSET(V, V) AS E FROM {p}_S GROUP BY ID;",
    "CREATE STREAM {p}_O AS SELECT ID, ARRAY[V, 'x'] AS E FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT ID, V AS WINDOWSTART FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT ROWTIME, ID, V FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT ROWTIME AS TS, ID, V FROM {p}_S;",
    "CREATE TABLE {p}_O AS SELECT ID, COUNT(*) AS C FROM {p}_S WINDOW TUMBLING (SIZE 1 MINUTE);",
    "CREATE STREAM {p}_O AS SELECT ID, M['a'] AS X, ARRAY[1, 2][1] AS Y, V IS DISTINCT FROM 1 AS Z FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT ID, DATEADD(DAYS, 1, FROM_DAYS(V)) AS X FROM {p}_S;",
    "CREATE STREAM {p}_O AS SELECT * FROM {p}_S WHERE K IN (true);",
    "CREATE STREAM {p}_O AS SELECT * FROM {p}_S WHERE A < A;",
    "CREATE STREAM {p}_O AS SELECT * FROM {p}_S WHERE A = A AND K IN (1, 2.5, 3);",
    "CREATE TABLE {p}_O AS SELECT A.ID, X, Y, Z FROM {p}_TA A JOIN {p}_TB B ON A.ID = B.ID "
    "JOIN {p}_TC C ON A.FK = C.ID;",
    "CREATE TABLE {p}_O AS SELECT A.ID, X, Y, Z FROM {p}_TA A JOIN {p}_TC C ON A.FK = C.ID "
    "JOIN {p}_TB B ON A.ID = B.ID;",
    "CREATE TABLE {p}_O AS SELECT ID, SUM(V) AS S FROM {p}_S GROUP BY ID;",
    "CREATE TABLE {p}_O AS SELECT ID, SUM(ID) AS S FROM {p}_S GROUP BY ID;",
]


@pytest.fixture(scope="module")
def prepared(ksqldb_url):
    import secrets

    p = f"T_ANA_{secrets.token_hex(3).upper()}"
    ks = KsqlSources(ksqldb_url)
    analyzer = ScriptAnalyzer()
    try:
        for s in SOURCES:
            text = s.format(p=p, t=p.lower())
            ks.execute(text)
            assert check_statements(parse_statements(text), analyzer) == []
        yield p, ks, analyzer
    finally:
        ks.close()


@pytest.mark.parametrize("statement", STATEMENTS, ids=[s[:70] for s in STATEMENTS])
def test_verdict_matches_ksqldb(prepared, statement):
    p, ks, analyzer = prepared
    text = statement.format(p=p)
    try:
        ks.client.execute("EXPLAIN " + text)
        server = None
    except KsqlStatementError as exc:
        server = str(exc)
    found = check_statements(parse_statements(text), ScriptAnalyzer(copy.deepcopy(analyzer.catalog)))
    kctx = found[0].message if found else None
    assert (server is None) == (kctx is None), f"ksqlDB: {server!r}; kctx: {kctx!r}"

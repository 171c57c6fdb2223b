"""kctx's output-schema inference (kctx_cli.query.schema) against the ksqlDB emulator's
own analyzer (tests/stack/ksqldb_emulator/analyzer.py): two independent readings of
ksqlDB's rules that must agree.

* offline: the multi-way join cases of ksqlDB's functional tests (multi-joins.json; the
  shared corpus has no such file, so their statements and expected schemas are written
  out here) replayed through the emulator's engine, as the corpus runner does;
* stack: the example project's sources and every derived entity created on the emulator
  from kctx's rendered DDL; DESCRIBE of each derived entity must list exactly the
  columns, types and key flags kctx infers.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.stack.ksqldb_emulator import corpus

# -- offline: ksqlDB's multi-joins.json cases through the emulator ------------------------

_S1 = "CREATE STREAM S1 (ID INT KEY, K INT, V0 bigint) WITH (kafka_topic='left', value_format='JSON');"
_S2 = "CREATE STREAM S2 (ID INT KEY, K INT, V0 bigint) WITH (kafka_topic='right', value_format='JSON');"
_T1 = "CREATE TABLE T1 (ID INT PRIMARY KEY, V0 bigint) WITH (kafka_topic='left', value_format='JSON');"
_T2 = "CREATE TABLE T2 (ID INT PRIMARY KEY, V0 bigint) WITH (kafka_topic='right', value_format='JSON');"
_T3 = "CREATE TABLE T3 (ID INT PRIMARY KEY, V0 bigint) WITH (kafka_topic='right2', value_format='JSON');"
_T3D = "CREATE TABLE T3 (ID INT PRIMARY KEY, DIFF bigint) WITH (kafka_topic='right2', value_format='JSON');"
_STT = "FROM S1 JOIN T2 ON S1.ID = T2.ID JOIN T3 ON S1.ID = T3.ID;"

MULTI_JOINS = {  # ksqlDB test name: (statements, expected OUTPUT schema or ("error", message part))
    "first join column in projection": (
        [_S1, _T2, _T3, f"CREATE STREAM OUTPUT as SELECT S1.ID, s1.V0, t2.V0, t3.V0 {_STT}"],
        "S1_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "second join column in projection": (
        [_S1, _T2, _T3, f"CREATE STREAM OUTPUT as SELECT T2.ID, s1.V0, t2.V0, t3.V0 {_STT}"],
        "T2_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "third join column in projection": (
        [_S1, _T2, _T3, f"CREATE STREAM OUTPUT as SELECT T3.ID, s1.V0, t2.V0, t3.V0 {_STT}"],
        "T3_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "inner-inner - missing join columns in projection": (
        [_S1, _T2, _T3, f"CREATE STREAM OUTPUT as SELECT s1.V0, t2.V0, t3.V0 {_STT}"],
        ("error", "The query used to build `OUTPUT` must include the join expressions S1.ID, T2.ID or T3.ID "
                  "in its projection")),
    "inner-inner with expression in first - missing join columns in projection": (
        [_S1, _T2, _T3, "CREATE STREAM OUTPUT as SELECT s1.V0, t2.V0, t3.V0 FROM S1 INNER JOIN T2 "
                        "ON S1.ID + 1 = T2.ID INNER JOIN T3 ON S1.ID = T3.ID;"],
        ("error", "The query used to build `OUTPUT` must include the join expressions S1.ID or T3.ID in its "
                  "projection")),
    "inner-inner with expression in second - missing join columns in projection": (
        [_S1, _T2, _T3, "CREATE STREAM OUTPUT as SELECT s1.V0, t2.V0, t3.V0 FROM S1 INNER JOIN T2 "
                        "ON S1.ID = T2.ID INNER JOIN T3 ON S1.ID + 1 = T3.ID;"],
        ("error", "The query used to build `OUTPUT` must include the join expression T3.ID in its projection")),
    "stream-table-table - inner-inner - rekey": (
        [_S1, _T2, _T3, "CREATE STREAM OUTPUT as SELECT S1.K, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 ON S1.K = T2.ID "
                        "JOIN T3 ON S1.K = T3.ID;"],
        "K INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - rekey with different expression": (
        [_S1, _T2, _T3, "CREATE STREAM OUTPUT as SELECT T3.ID, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 "
                        "ON S1.K - 1 = T2.ID JOIN T3 ON S1.K + 1 = T3.ID;"],
        "T3_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - rekey on different expression": (
        [_S1.replace("V0 bigint", "V0 int"), _T2.replace("V0 bigint", "V0 int"), _T3.replace("V0 bigint", "V0 int"),
         "CREATE STREAM OUTPUT as SELECT S1.K, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 ON S1.V0 = T2.ID "
         "JOIN T3 ON S1.K = T3.ID;"],
        "K INT KEY, S1_V0 INT, T2_V0 INT, T3_V0 INT"),
    "stream-table-table - explicit ROWTIME": (
        [_S1.replace("K INT, ", ""), _T2, _T3,
         f"CREATE STREAM OUTPUT as SELECT *, S1.ROWTIME, T2.ROWTIME, T3.ROWTIME {_STT}"],
        "S1_ID INT KEY, S1_V0 BIGINT, T2_ID INT, T2_V0 BIGINT, T3_ID INT, T3_V0 BIGINT, S1_ROWTIME BIGINT, "
        "T2_ROWTIME BIGINT, T3_ROWTIME BIGINT"),
    "stream-table-table - inner-inner - select * ": (
        [_S1.replace("K INT, ", ""), _T2, _T3, f"CREATE STREAM OUTPUT as SELECT * {_STT}"],
        "S1_ID INT KEY, S1_V0 BIGINT, T2_ID INT, T2_V0 BIGINT, T3_ID INT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - flip join expression": (
        [_S1, _T2, _T3, "CREATE STREAM OUTPUT as SELECT T2.ID, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 "
                        "ON T2.ID = S1.ID JOIN T3 ON T3.ID = S1.ID;"],
        "T2_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - aliasing": (
        [_S1, _T2, _T3, "CREATE STREAM OUTPUT as SELECT S.ID, s.V0, t.V0, tt.V0 FROM S1 s JOIN T2 t "
                        "ON S.ID = T.ID JOIN T3 tt ON S.ID = TT.ID;"],
        "S_ID INT KEY, S_V0 BIGINT, T_V0 BIGINT, TT_V0 BIGINT"),
    "stream-stream-table - inner-inner - cascading join criteria": (
        [_S1, _S2, _T3, "CREATE STREAM OUTPUT as SELECT s1.k, s1.V0, s2.V0, t3.V0 FROM S1 JOIN S2 WITHIN "
                        "10 seconds ON S1.K = S2.K JOIN T3 ON S2.K = T3.ID;"],
        "S1_K INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-stream-table - inner-inner - rekey left and right": (
        [_S1, _S2, _T3, "CREATE STREAM OUTPUT as SELECT T3.ID, s1.V0, s2.V0, t3.V0 FROM S1 JOIN S2 WITHIN "
                        "10 seconds ON S1.K = S2.K JOIN T3 ON S1.K = T3.ID;"],
        "T3_ID INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-stream-table - full-inner": (
        [_S1, _S2, _T3, "CREATE STREAM OUTPUT as SELECT S1.ID, s1.V0, s2.V0, t3.V0 FROM S1 FULL JOIN S2 WITHIN "
                        "10 seconds ON S1.ID = S2.ID JOIN T3 ON S1.ID = T3.ID;"],
        "S1_ID INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"),
    "table-table-table - inner-full": (
        [_T1, _T2, _T3, "CREATE TABLE OUTPUT as SELECT ROWKEY AS ID, T1.V0, T2.V0, T3.V0 FROM T1 JOIN T2 "
                        "ON T1.ID = T2.ID FULL JOIN T3 ON T1.ID = T3.ID;"],
        "ID INT PRIMARY KEY, T1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "should generate correct aliases when sources have some matching and some different columns": (
        [_S1, _T2, _T3D, f"CREATE STREAM OUTPUT as SELECT S1.ID, s1.V0, t2.V0, t3.DIFF {_STT}"],
        "S1_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, DIFF BIGINT"),
}


@pytest.mark.parametrize("name", MULTI_JOINS)
def test_emulator_agrees_with_ksqldb_multi_joins(name):
    statements, want = MULTI_JOINS[name]
    test = {"file": "multi-joins.json", "test": name, "statements": statements, "properties": None,
            "expected_exception": None, "post_sources": None}
    if isinstance(want, tuple):
        test["expected_exception"] = {"message": want[1]}
    else:
        test["post_sources"] = [{"name": "OUTPUT", "schema": want}]
    outcome = corpus.run_one(test)
    assert outcome.ok, outcome.reason
    if isinstance(want, tuple):
        assert outcome.message_match, outcome


def test_emulator_rejects_an_unqualified_pseudo_column_in_a_join():
    # as kctx does (test_query_schema.test_rowtime_is_ambiguous_in_a_join)
    outcome = corpus.run_one({
        "file": "-", "test": "-", "properties": None, "post_sources": None,
        "expected_exception": {"message": "Column 'ROWTIME' is ambiguous. Could be S1.ROWTIME or T2.ROWTIME."},
        "statements": [_S1, _T2, "CREATE STREAM OUTPUT AS SELECT S1.ID, ROWTIME AS TS FROM S1 JOIN T2 ON S1.ID = T2.ID;"],
    })
    assert outcome.ok and outcome.message_match, outcome


# -- stack: the example project on the emulator --------------------------------------------

def _prefixed_shop(tmp_path: Path, prefix: str) -> Path:
    """A copy of the example project whose topics and ksqlDB names carry ``prefix``."""
    root = tmp_path / "shop"
    shutil.copytree(REPO / "models", root / "models", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "kctx.toml", root / "kctx.toml")
    for f in (root / "models").glob("*.py"):
        text = re.sub(r'(\n\s+topic = ")', rf"\g<1>{prefix}_", f.read_text())
        f.write_text(re.sub(r'(\n        name = ")', rf"\g<1>{prefix.upper()}_", text))
    return root


def _ksql_type(schema: dict) -> str:
    """A DESCRIBE field schema as kctx renders types (SqlType.ksql())."""
    t = schema["type"]
    if t == "INTEGER":
        return "INT"
    if t == "DECIMAL":
        p = schema["parameters"]
        return f"DECIMAL({p['precision']}, {p['scale']})"
    if t == "ARRAY":
        return f"ARRAY<{_ksql_type(schema['memberSchema'])}>"
    if t == "MAP":
        return f"MAP<STRING, {_ksql_type(schema['memberSchema'])}>"
    if t == "STRUCT":
        return "STRUCT<" + ", ".join(f"{f['name']} {_ksql_type(f['schema'])}" for f in schema["fields"]) + ">"
    return t


def test_emulator_describes_what_kctx_infers(stack, tmp_path, unique_name, monkeypatch):
    from kctx_cli.backends.ksqldb import KsqlClient, KsqlStatementError
    from kctx_cli.config import load_config
    from kctx_cli.ksql import ddl
    from kctx_cli.model.discovery import load_project
    from kctx_cli.query.schema import Resolver

    root = _prefixed_shop(tmp_path, unique_name)
    project = load_project(load_config(root))
    resolver = Resolver(project.entities)
    client = KsqlClient(stack.ksqldb_url)
    created: list = []
    try:
        for info in ddl.ordered(project, resolver):
            client.execute(ddl.entity_ddl(info, resolver))
            created.append(info)
        derived = [e for e in project.entities if e.derived]
        assert len(derived) == 6
        for info in derived:
            described = client.describe(info.source_name)
            assert described is not None, info.source_name
            got = [(f["name"], _ksql_type(f["schema"]), f.get("type") == "KEY") for f in described["fields"]]
            a = resolver.analysis(info)
            # DESCRIBE lists no window bounds (kctx marks them `system`)
            want = [(c.name, c.type.ksql(), c.key) for c in a.columns if not c.system]
            assert got == want, info.name
            assert described["type"] == a.kind, info.name
    finally:
        for info in reversed(created):
            kind = "TABLE" if (client.describe(info.source_name) or {}).get("type") == "TABLE" else "STREAM"
            try:
                client.execute(f"DROP {kind} IF EXISTS {info.source_name} DELETE TOPIC;")
            except KsqlStatementError:
                pass  # best effort: the names are unique to this run

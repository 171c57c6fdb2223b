"""`kctx ksql check` and `kctx ksql fmt` through the real CLI (`python -m kctx_cli`).

The malformed files are checked in one CLI run (module fixture) to keep the suite quick;
each case then asserts its own file:line:column: message line.
"""
from __future__ import annotations

import json

import pytest

from tests.helpers import run_kctx

RESERVED_HINT = "(quote it with back-quotes to use it as a name)"

# name -> (file content, expected "line:column: message")
BAD = {
    "unclosed_call": (
        "CREATE TABLE t AS SELECT id, COUNT(* FROM s GROUP BY id;\n",
        "1:38: expected ')' or ',', found 'FROM'",
    ),
    "unterminated_string": (
        "CREATE STREAM s (id STRING KEY)\n  WITH (kafka_topic='orders, value_format='JSON');\n",
        "2:48: unterminated string (missing closing ')",
    ),
    "reserved_column": (
        "CREATE STREAM s (from STRING, v INT) WITH (kafka_topic='s');\n",
        f"1:18: expected a column name, found reserved word 'from' {RESERVED_HINT}",
    ),
    "unknown_statement": (
        "CRATE STREAM s (id INT) WITH (kafka_topic='s');\n",
        "1:1: expected a statement (SELECT, CREATE, INSERT, DROP, ALTER, SHOW, LIST, DESCRIBE, "
        "EXPLAIN, PRINT, TERMINATE, PAUSE, RESUME, SET, UNSET, DEFINE, UNDEFINE, ASSERT), found 'CRATE'",
    ),
    "window_without_unit": (
        "CREATE TABLE t AS SELECT id, COUNT(*) FROM s\nWINDOW TUMBLING (SIZE 1) GROUP BY id;\n",
        "2:24: expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS), found ')'",
    ),
    "unknown_window_kind": (
        "CREATE TABLE t AS SELECT id, COUNT(*) FROM s WINDOW ROLLING (SIZE 1 HOUR) GROUP BY id;\n",
        "1:53: expected TUMBLING, HOPPING or SESSION, found 'ROLLING'",
    ),
    "hopping_without_advance": (
        "CREATE TABLE t AS SELECT id, COUNT(*) FROM s WINDOW HOPPING (SIZE 1 HOUR) GROUP BY id;\n",
        "1:73: expected ', ADVANCE BY <duration>' (a HOPPING window needs both SIZE and ADVANCE BY), found ')'",
    ),
    "grace_without_period": (
        "CREATE TABLE t AS SELECT a, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOUR, GRACE 5 MINUTES) GROUP BY a;\n",
        "1:81: expected PERIOD, found '5'",
    ),
    "bad_emit": (
        "SELECT * FROM s EMIT NOW;\n",
        "1:22: expected CHANGES or FINAL, found 'NOW'",
    ),
    "join_without_on": (
        "CREATE STREAM j AS SELECT * FROM a JOIN b WITHIN 1 HOUR WHERE a.id = b.id;\n",
        "1:57: expected ON, found 'WHERE'",
    ),
    "drop_without_name": (
        "DROP STREAM;\n",
        "1:12: expected a stream name, but the statement ended",
    ),
    "property_without_value": (
        "CREATE STREAM s (id INT) WITH (kafka_topic=);\n",
        "1:44: expected a literal (a string in quotes, a number, TRUE, FALSE or NULL), found ')'",
    ),
    "property_without_equals": (
        "CREATE STREAM s (id INT) WITH (kafka_topic 's');\n",
        "1:44: expected '=', found 's'",
    ),
    "clause_out_of_order": (
        "SELECT * FROM s GROUP BY a WHERE b = 1;\n",
        "1:28: 'WHERE' is out of place: a query's clauses go FROM, JOIN, WINDOW, WHERE, GROUP BY, "
        "PARTITION BY, HAVING, EMIT, LIMIT",
    ),
    "missing_from": (
        "SELECT a, b WHERE c = 1;\n",
        "1:13: expected FROM, found 'WHERE'",
    ),
    "trailing_comma_in_select": (
        "SELECT a, FROM s;\n",
        "1:11: expected an expression, found 'FROM'",
    ),
    "unterminated_comment": (
        "SELECT a /* never closed FROM s;\n",
        "1:10: unterminated comment (missing */)",
    ),
    "unterminated_backquote": (
        "SELECT `a FROM s;\n",
        "1:8: unterminated quoted name (missing closing `)",
    ),
    "stray_character": (
        "SELECT a # b FROM s;\n",
        "1:10: unexpected character '#'",
    ),
    "csas_with_columns": (
        "CREATE STREAM s (a INT) AS SELECT * FROM t;\n",
        "1:25: a CREATE ... AS SELECT statement cannot declare columns, found 'AS'",
    ),
    "decimal_without_precision": (
        "CREATE STREAM s (a DECIMAL) WITH (kafka_topic='s');\n",
        "1:27: expected '(' (DECIMAL needs a precision and a scale), found ')'",
    ),
    "map_without_value_type": (
        "CREATE STREAM s (a MAP<STRING>) WITH (kafka_topic='s');\n",
        "1:30: expected ',' and the value type (MAP<key type, value type>), found '>'",
    ),
    "is_not_value": (
        "SELECT * FROM s WHERE a IS NOT 5;\n",
        "1:32: expected NULL or DISTINCT FROM after IS NOT, found '5'",
    ),
    "case_without_end": (
        "SELECT CASE WHEN a THEN 1 FROM s;\n",
        "1:27: expected END, found 'FROM'",
    ),
    "insert_without_query": (
        "INSERT INTO s WITH (query_id='q');\n",
        "1:34: expected SELECT or VALUES, but the statement ended",
    ),
    "set_without_quotes": (
        "SET auto.offset.reset = 'earliest';\n",
        "1:5: expected a property name in quotes, found 'auto'",
    ),
    "terminate_without_id": (
        "TERMINATE;\n",
        "1:10: expected a query id or ALL, but the statement ended",
    ),
    "missing_semicolon": (
        "SELECT * FROM s EMIT CHANGES\nSELECT * FROM t;\n",
        "2:1: missing ';' at the end of the previous statement, found 'SELECT'",
    ),
    "unclosed_column_list": (
        "CREATE STREAM s (id INT KEY WITH (kafka_topic='s');\n",
        "1:29: expected ')' or ',', found 'WITH'",
    ),
    "order_by": (
        "SELECT * FROM s\nORDER BY a EMIT CHANGES;\n",
        "2:1: ksqlDB queries have no ORDER BY",
    ),
    "bad_lambda": (
        "SELECT TRANSFORM(arr, (x, y => x) FROM s;\n",
        "1:25: expected ')', found ','",
    ),
}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ksql-bad")
    for name, (text, _) in BAD.items():
        (root / f"{name}.sql").write_text(text, encoding="utf-8")
    names = [f"{name}.sql" for name in BAD]
    return run_kctx("ksql", "check", *names, cwd=root)


def test_bad_files_fail_with_one_line_each(bad_run):
    assert bad_run.returncode == 1
    assert "Traceback" not in bad_run.stderr
    assert bad_run.stderr.strip() == f"{len(BAD)} errors in {len(BAD)} files"
    assert len(bad_run.stdout.splitlines()) == len(BAD)


@pytest.mark.parametrize("name", list(BAD))
def test_bad_file_message(bad_run, name):
    expected = f"{name}.sql:{BAD[name][1]}"
    assert expected in bad_run.stdout.splitlines(), bad_run.stdout


def test_check_goes_on_after_an_error_and_counts_statements(tmp_path):
    (tmp_path / "m.sql").write_text(
        "CREATE STREAM s (id INT KEY) WITH (kafka_topic='s', value_format='json');\n"
        "SELECT id FROM s WHERE;\n"
        "SHOW STREAMS;\n"
        "DROP TABLE IF EXISTS;\n",
        encoding="utf-8",
    )
    (tmp_path / "ok.sql").write_text("SHOW TOPICS;\n", encoding="utf-8")
    result = run_kctx("ksql", "check", "m.sql", "ok.sql", "missing.sql", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "m.sql:2:23: expected an expression, but the statement ended",
        "m.sql:4:21: expected a table name, but the statement ended",
        "missing.sql: no such file",
    ]
    assert result.stderr.strip() == "3 errors in 3 files"


def test_check_ok_and_json_output(tmp_path):
    (tmp_path / "a.sql").write_text(
        "-- a migration\nDEFINE t = 'orders';\n"
        "CREATE STREAM ${t} (id INT KEY) WITH (kafka_topic='${t}', value_format='json');\n"
        "CREATE TABLE c AS SELECT id, COUNT(*) AS n FROM ${t} WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY id EMIT CHANGES;\n",
        encoding="utf-8",
    )
    result = run_kctx("ksql", "check", "a.sql", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert result.stderr.strip() == "ok: 3 statements in 1 file"

    (tmp_path / "b.sql").write_text("SELECT * FROM;\n", encoding="utf-8")
    result = run_kctx("ksql", "check", "--output", "json", "a.sql", "b.sql", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "ok": False,
        "files": ["a.sql", "b.sql"],
        "statements": 4,
        "errors": [{"file": "b.sql", "line": 1, "column": 14, "code": "ksql-syntax",
                    "message": "expected a source name, but the statement ended"}],
    }


def test_check_directory_and_binary_files(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "bin.sql").write_bytes(b"\xff\xfe\x00SELECT")
    result = run_kctx("ksql", "check", "d", "bin.sql", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["d: is a directory, not a KSQL file", "bin.sql: not UTF-8 text"]


def test_fmt_prints_and_writes_the_canonical_form(tmp_path):
    source = (
        "-- orders\ncreate stream orders (id varchar key, amount decimal(10,2))\n"
        "  with (kafka_topic='orders', value_format='avro');\n"
        "create table totals as select id, sum(amount) total from orders\n"
        "  window tumbling (size 1 hour) group by id emit changes;\n"
    )
    canonical = (
        "-- orders\nCREATE STREAM ORDERS (ID STRING KEY, AMOUNT DECIMAL(10, 2)) "
        "WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='avro');\n\n"
        "CREATE TABLE TOTALS AS SELECT ID, SUM(AMOUNT) AS TOTAL FROM ORDERS "
        "WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY ID EMIT CHANGES;\n"
    )
    path = tmp_path / "m.sql"
    path.write_text(source, encoding="utf-8")
    result = run_kctx("ksql", "fmt", "m.sql", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == canonical
    assert path.read_text(encoding="utf-8") == source  # printing leaves the file alone

    result = run_kctx("ksql", "fmt", "--write", "m.sql", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.strip() == "reformatted m.sql"
    assert path.read_text(encoding="utf-8") == canonical
    result = run_kctx("ksql", "fmt", "--write", "m.sql", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""  # already canonical


def test_fmt_refuses_a_broken_file(tmp_path):
    path = tmp_path / "bad.sql"
    text = "SHOW STREAMS;\nSELECT * FROM s EMIT;\n"
    path.write_text(text, encoding="utf-8")
    result = run_kctx("ksql", "fmt", "--write", "bad.sql", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "bad.sql:2:21: expected CHANGES or FINAL, but the statement ended"
    assert path.read_text(encoding="utf-8") == text

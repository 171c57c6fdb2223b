"""Columns read from a registered schema (issue 15): kctx_cli.derive.registered.

A CREATE STREAM/TABLE with an AVRO or PROTOBUF format and no value (or key) columns takes
them from the Schema Registry. Each expected row below is what the real ksqlDB 8.1.5 said
(DESCRIBE after registering the schema and creating a stream without columns), unless a
corpus test is named.
"""
from __future__ import annotations

import json

import pytest

from kctx_cli.derive.analyzer import ScriptAnalyzer, check_statements
from kctx_cli.derive.registered import RegisteredSchema, Schemas, Unknown, columns
from kctx_cli.ksql.dialect import parse_statements


def _rec(*fields, name="R", **extra):
    return {"type": "record", "name": name, "fields": [{"name": n, "type": t} for n, t in fields], **extra}


def _text(cols) -> str:
    from kctx_cli.derive.analyzer import _quoted, _type_text

    return ", ".join(f"{_quoted(n)} {_type_text(t)}" for n, t in cols)


# (Avro value schema, columns by subject); names are upper-cased by subject
AVRO_VALUES = [
    # corpus avro.json "should support primitives", "should coerce column types ...": float is DOUBLE
    (_rec(("c1", "boolean"), ("c2", "int"), ("c3", "long"), ("c4", "float"), ("c5", "double"), ("c6", "string"),
          ("c7", "bytes")),
     "C1 BOOLEAN, C2 INT, C3 BIGINT, C4 DOUBLE, C5 DOUBLE, C6 STRING, C7 BYTES"),
    # nullable unions: the other member, whichever side null is on
    (_rec(("a", ["null", "string"]), ("b", ["long", "null"])), "A STRING, B BIGINT"),
    # logical types: decimal (bytes; fixed; scale 0 when absent), date, time-millis, timestamp-millis;
    # the others are their underlying type
    (_rec(("d", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 3}),
          ("f", {"type": "fixed", "name": "FD", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 2}),
          ("n", {"type": "bytes", "logicalType": "decimal", "precision": 5}),
          ("dt", {"type": "int", "logicalType": "date"}), ("tm", {"type": "int", "logicalType": "time-millis"}),
          ("ts", {"type": "long", "logicalType": "timestamp-millis"}),
          ("tsu", {"type": "long", "logicalType": "timestamp-micros"}),
          ("u", {"type": "string", "logicalType": "uuid"})),
     "D DECIMAL(10, 3), F DECIMAL(12, 2), N DECIMAL(5, 0), DT DATE, TM TIME, TS TIMESTAMP, TSU BIGINT, U STRING"),
    # enums are STRING, fixed is BYTES (corpus avro.json "should convert enum to STRING", "should not filter
    # out bytes"), maps MAP<STRING, ...>, arrays ARRAY
    (_rec(("e", {"type": "enum", "name": "E", "symbols": ["A", "B"]}), ("x", {"type": "fixed", "name": "X", "size": 4}),
          ("m", {"type": "map", "values": ["null", "long"]}), ("l", {"type": "array", "items": "string"})),
     "E STRING, X BYTES, M MAP<STRING, BIGINT>, L ARRAY<STRING>"),
    # nested records are STRUCTs, a named type used again by name (and by full name)
    (_rec(("a", {"type": "array", "items": _rec(("x", "int"), ("y", ["null", {"type": "array", "items": "string"}]),
                                                  name="Inner", namespace="ns")}),
          ("n", ["null", "ns.Inner"]), ("o", "Inner"), namespace="ns"),
     "A ARRAY<STRUCT<X INT, Y ARRAY<STRING>>>, N STRUCT<X INT, Y ARRAY<STRING>>, O STRUCT<X INT, Y ARRAY<STRING>>"),
    # a union of several types is a STRUCT of its members, named by their type (a named type's simple name)
    (_rec(("u1", ["int", "string"]), ("u2", ["null", "int", "string"]),
          ("u3", ["null", _rec(("z", "int"), name="ns.a.Rec"), {"type": "enum", "name": "Col", "symbols": ["R"]},
                  {"type": "array", "items": "int"}, {"type": "map", "values": "int"}, "float"])),
     "U1 STRUCT<INT INT, STRING STRING>, U2 STRUCT<INT INT, STRING STRING>, "
     "U3 STRUCT<REC STRUCT<Z INT>, COL STRING, ARRAY ARRAY<INT>, MAP MAP<STRING, INT>, FLOAT DOUBLE>"),
]


@pytest.mark.parametrize("schema,expected", AVRO_VALUES, ids=[e[:40] for _, e in AVRO_VALUES])
def test_avro_value_columns(schema, expected):
    assert _text(columns(RegisteredSchema("AVRO", schema), key=False, by_id=False)) == expected
    # the registry's text form reads the same
    assert _text(columns(RegisteredSchema("AVRO", json.dumps(schema)), key=False, by_id=False)) == expected


def test_avro_names_keep_their_case_by_schema_id():
    """VALUE_SCHEMA_ID: the schema's names as written, union members too (real server 8.1.5;
    corpus protobuf.json "specify a protobuf schema with external references")."""
    schema = _rec(("c1", "int"), ("Mixed", _rec(("low", "string"), name="In")), ("u", ["int", "string"]))
    got = columns(RegisteredSchema("AVRO", schema), key=False, by_id=True)
    assert _text(got) == "`c1` INT, `Mixed` STRUCT<`low` STRING>, `u` STRUCT<`int` INT, `string` STRING>"
    assert [n for n, _ in got] == ["c1", "Mixed", "u"]


@pytest.mark.parametrize("schema,wrap,expected", [
    ({"type": "int"}, "false", "ROWVAL INT"),
    (_rec(("v", "int")), "false", "ROWVAL STRUCT<V INT>"),
    ("string", False, "ROWVAL STRING"),
])
def test_avro_unwrapped_value_is_rowval(schema, wrap, expected):
    assert _text(columns(RegisteredSchema("AVRO", schema), key=False, by_id=False, wrap_single_value=wrap)) == expected


@pytest.mark.parametrize("schema", [{"type": "int"}, {"type": "array", "items": "string"}, "null", ["null"],
                                    _rec(("rowtime", "long")), _rec(("a", "int"), ("A", "int")),
                                    _rec(("self", ["null", "R"]))])
def test_avro_value_columns_ksqldb_refuses_or_kctx_cannot_tell(schema):
    """An anonymous value without WRAP_SINGLE_VALUE=false, a reserved or repeated name, a
    recursive record: ksqlDB refuses them or kctx cannot tell -- unknown, never a finding."""
    with pytest.raises(Unknown):
        columns(RegisteredSchema("AVRO", schema), key=False, by_id=False)


@pytest.mark.parametrize("schema,expected", [
    ("long", "ROWKEY BIGINT"),
    ({"type": "string", "logicalType": "uuid"}, "ROWKEY STRING"),
    (_rec(("a", "int"), ("b", ["null", "string"]), name="k"), "ROWKEY STRUCT<A INT, B STRING>"),
])
def test_avro_key_is_rowkey(schema, expected):
    """An Avro key schema is one column ROWKEY (a record: ROWKEY STRUCT) -- real server 8.1.5;
    corpus group-by.json "AVRO schema and schema id"."""
    assert _text(columns(RegisteredSchema("AVRO", schema), key=True, by_id=False)) == expected


PROTO = [
    ('syntax = "proto3"; message M {bool a = 1; int32 b = 2; int64 c = 3; uint32 d = 4; uint64 e = 5; sint32 f = 6; '
     'sint64 g = 7; fixed32 h = 8; fixed64 i = 9; sfixed32 j = 10; sfixed64 k = 11; float l = 12; double m = 13; '
     'string n = 14; bytes o = 15; optional int32 p = 16;}', None,
     "A BOOLEAN, B INT, C BIGINT, D BIGINT, E BIGINT, F INT, G BIGINT, H BIGINT, I BIGINT, J INT, K BIGINT, "
     "L DOUBLE, M DOUBLE, N STRING, O BYTES, P INT"),
    ('syntax = "proto3"; import "google/protobuf/wrappers.proto"; import "google/protobuf/timestamp.proto"; '
     'import "google/type/date.proto"; import "google/type/timeofday.proto"; import "confluent/type/decimal.proto"; '
     'message M {google.protobuf.BoolValue a = 1; google.protobuf.UInt32Value b = 2; google.protobuf.FloatValue c = 3; '
     'google.protobuf.StringValue d = 4; google.protobuf.Timestamp t = 5; google.type.Date dt = 6; '
     'google.type.TimeOfDay tm = 7; confluent.type.Decimal x = 8 [(confluent.field_meta) = { params: '
     '[{ value: "4", key: "precision" }, { value: "2", key: "scale" }]}]; confluent.type.Decimal y = 9;}', None,
     "A BOOLEAN, B BIGINT, C DOUBLE, D STRING, T TIMESTAMP, DT DATE, TM TIME, X DECIMAL(4, 2), Y DECIMAL(64, 0)"),
    # enums, nested messages, repeated, maps, a oneof first (<name>_<index>), a message of the package
    ('syntax = "proto3"; package my.pkg; message M { enum E {X = 0; Y = 1;} message Inner {int32 f1 = 1; '
     'repeated string tags = 2;} E e = 1; Inner n = 2; repeated Inner ns = 3; map<string, int64> m = 4; '
     'oneof choice { string s = 5; int32 i = 6; } Other o = 7; // a comment\n repeated int32 r = 8;} '
     'message Other {string z = 1;}', "my.pkg.M",
     "CHOICE_0 STRUCT<S STRING, I INT>, E STRING, N STRUCT<F1 INT, TAGS ARRAY<STRING>>, "
     "NS ARRAY<STRUCT<F1 INT, TAGS ARRAY<STRING>>>, M MAP<STRING, BIGINT>, O STRUCT<Z STRING>, R ARRAY<INT>"),
    ('syntax = "proto3"; message A {int32 a = 1;} message B {string b = 1;}', "B", "B STRING"),
    ('syntax = "proto2"; message M {optional int32 a = 1; required string b = 2; repeated int64 c = 3;}', None,
     "A INT, B STRING, C ARRAY<BIGINT>"),
]


@pytest.mark.parametrize("text,full_name,expected", PROTO, ids=[e[:40] for _, _, e in PROTO])
def test_protobuf_value_columns(text, full_name, expected):
    assert _text(columns(RegisteredSchema("PROTOBUF", text), key=False, by_id=False, full_name=full_name)) == expected


def test_protobuf_references_and_keys():
    """Imports are the schema's references (corpus protobuf.json "... external references");
    a key message has one field, its column; several top-level messages need a full name."""
    refs = (("event.proto", 'syntax = "proto3";\n\nmessage Event {\n int64 timestamp = 1;\n}'),)
    main = 'syntax = "proto3";\n\nimport "event.proto"; \n\nmessage Logistics {\n Event event = 1;\n}'
    assert _text(columns(RegisteredSchema("PROTOBUF", main, refs), key=False, by_id=True)) == \
        "`event` STRUCT<`timestamp` BIGINT>"
    assert _text(columns(RegisteredSchema("PROTOBUF", main, refs), key=False, by_id=False)) == \
        "EVENT STRUCT<TIMESTAMP BIGINT>"
    key = 'syntax = "proto3"; message K {string k1 = 1;}'
    assert _text(columns(RegisteredSchema("PROTOBUF", key), key=True, by_id=False)) == "K1 STRING"
    for text, full in [('syntax = "proto3"; message K {string a = 1; int32 b = 2;}', None),
                       ('syntax = "proto3"; message A {int32 a = 1;} message B {string b = 1;}', None),
                       ('syntax = "proto3"; message A {int32 a = 1;}', "Nope"),
                       ('syntax = "proto3"; message M {map<int32, string> m = 1;}', None)]:
        with pytest.raises(Unknown):
            columns(RegisteredSchema("PROTOBUF", text), key=True, by_id=False, full_name=full)


def _analyse(text: str, schemas) -> tuple[list, ScriptAnalyzer]:
    analyzer = ScriptAnalyzer(schemas=schemas)
    return check_statements(parse_statements(text), analyzer), analyzer


def test_analyzer_reads_columns_of_a_create_without_them():
    """Value and key columns from the subjects; a query over them is checked; a missing or
    unconvertible subject leaves the columns unknown (later statements are not judged)."""
    order = _rec(("order_id", "string"), ("amount", {"type": "bytes", "logicalType": "decimal", "precision": 18,
                                                    "scale": 4}), name="Order")
    schemas = Schemas({"orders-value": RegisteredSchema("AVRO", order), "orders-key": RegisteredSchema("AVRO", "long"),
                       "p-value": RegisteredSchema("PROTOBUF", 'syntax = "proto3"; message P {string name = 1;}')},
                      {7: RegisteredSchema("AVRO", _rec(("Low", "int")))})
    found, a = _analyse(
        "CREATE STREAM O WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='AVRO');\n"
        "CREATE STREAM OK (ID BIGINT KEY) WITH (KAFKA_TOPIC='orders', FORMAT='AVRO');\n"
        "CREATE STREAM OKEY (V STRING) WITH (KAFKA_TOPIC='orders', KEY_FORMAT='AVRO', VALUE_FORMAT='JSON');\n"
        "CREATE TABLE P (ID STRING PRIMARY KEY) WITH (KAFKA_TOPIC='p', VALUE_FORMAT='PROTOBUF');\n"
        "CREATE STREAM I WITH (KAFKA_TOPIC='x', VALUE_FORMAT='AVRO', VALUE_SCHEMA_ID=7);\n"
        "CREATE STREAM U WITH (KAFKA_TOPIC='unknown', VALUE_FORMAT='AVRO');\n"
        "CREATE STREAM W WITH (KAFKA_TOPIC='p', VALUE_FORMAT='AVRO');\n", schemas)
    assert found == []
    assert a.catalog.get("O").schema_text() == "ORDER_ID STRING, AMOUNT DECIMAL(18, 4)"
    assert a.catalog.get("OK").schema_text() == "ID BIGINT KEY, ORDER_ID STRING, AMOUNT DECIMAL(18, 4)"
    assert a.catalog.get("OKEY").schema_text() == "ROWKEY BIGINT KEY, V STRING"
    assert a.catalog.get("P").schema_text() == "ID STRING KEY, NAME STRING"
    assert a.catalog.get("I").schema_text() == "`Low` INT"
    assert a.catalog.get("U").schema_text() is None and a.catalog.get("U").inferred
    assert a.catalog.get("W").schema_text() is None  # a PROTOBUF subject read as AVRO: not guessed
    more = ("CREATE STREAM Q1 AS SELECT ORDER_ID, AMOUNT AS A2 FROM O;\n"
            "CREATE STREAM Q2 AS SELECT ORDER_ID, MISSING FROM O;\n"
            "CREATE STREAM Q3 AS SELECT MISSING FROM U;\n")
    found = check_statements(parse_statements(more), a)
    assert [(f.line, f.code) for f in found] == [(2, "unknown-column")]
    assert a.catalog.get("Q1").schema_text() == "ORDER_ID STRING, A2 DECIMAL(18, 4)"


def test_validate_sees_columns_of_a_schema_a_migration_registered(tmp_path):
    """`kctx validate`: a hand-written CREATE STREAM without columns after a register-schema
    step has the schema's columns, so a query on a missing column is reported."""
    from tests.helpers import run_kctx

    (tmp_path / "kctx.toml").write_text('[project]\nmodels = "models"\n')
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    mig = tmp_path / "migrations"
    mig.mkdir()
    schema = json.dumps(_rec(("id", "string"), ("amount", "double"), ("ts", {"type": "long",
                                                                          "logicalType": "timestamp-millis"}),
                             name="Click"), separators=(",", ":"))
    (mig / "V000001__register.sql").write_text(
        "-- kctx:up\n"
        '-- kctx:create-topic {"configs":{},"name":"clicks","partitions":1,"replicas":1}\n'
        f'-- kctx:register-schema {{"first":true,"schema":{schema},"subject":"clicks-value"}}\n')
    (mig / "V000002__streams.sql").write_text(
        "-- kctx:up\n"
        "CREATE STREAM CLICKS WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='AVRO');\n"
        "CREATE STREAM BIG_CLICKS AS SELECT ID, AMOUNT, TS FROM CLICKS WHERE AMOUNT > 10;\n"
        "CREATE STREAM BAD_CLICKS AS SELECT ID, PRICE FROM CLICKS;\n")
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    lines = [ln for ln in res.stdout.splitlines() if "V0000" in ln]
    assert len(lines) == 1 and "migrations/V000002__streams.sql:4:" in lines[0] and "PRICE" in lines[0], res.stdout

"""Operations: render -> parse round trip, reverse, offline replay, destructive flags."""
from __future__ import annotations

import pytest

from kctx_cli.migrations import files
from kctx_cli.migrations.state import State, replay
from kctx_cli.ops import (AddPartitions, CreateTopic, DeleteSchema, DeleteSubject, DeleteTopic, DerivedSchema,
                          Irreversible, IrreversibleError, Ksql, OpError, RegisterSchema, SetCompatibility,
                          SetTopicConfig, parse_op)

SCHEMA = {"type": "record", "name": "A", "fields": [{"name": "id", "type": "string"}]}

OPS = [
    CreateTopic("t", 3, 1, {"retention.ms": "1000"}),
    DeleteTopic("t", was={"partitions": 3, "replicas": 1, "configs": {}}),
    AddPartitions("t", 6, was=3),
    SetTopicConfig("t", set={"retention.ms": "5"}, unset=["segment.ms"], was={"retention.ms": "1", "segment.ms": "9"}),
    RegisterSchema("t-value", SCHEMA, first=True),
    DeleteSchema("t-value", SCHEMA),
    DeleteSubject("t-value"),
    SetCompatibility("t-value", "FULL", was=None, had_was=True),
    DerivedSchema("d-value", SCHEMA),
    Irreversible(reason="partitions cannot be removed"),
]


@pytest.mark.parametrize("op", OPS, ids=[o.name for o in OPS])
def test_render_parse_round_trip(op):
    line = op.render()
    assert line.startswith(f"-- kctx:{op.name} {{")
    name, _, payload = line[len("-- kctx:"):].partition(" ")
    back = parse_op(name, payload)
    assert back.render() == line
    assert type(back) is type(op)


def test_render_is_sorted_compact_json():
    assert CreateTopic("t", 3, 1, {"b": "2", "a": "1"}).render() == \
        '-- kctx:create-topic {"configs":{"a":"1","b":"2"},"name":"t","partitions":3,"replicas":1}'


def test_reverses():
    assert [o.render() for o in CreateTopic("t", 3, 1).reverse()] == ['-- kctx:delete-topic {"name":"t"}']
    with pytest.raises(IrreversibleError, match="partition count"):  # unknown shape: cannot re-create
        DeleteTopic("t").reverse()
    assert DeleteTopic("t", was={"partitions": 2, "replicas": 1, "configs": {}}).reverse()[0].partitions == 2
    with pytest.raises(IrreversibleError, match="partitions cannot be removed"):
        AddPartitions("t", 6).reverse()
    back = SetTopicConfig("t", set={"a": "2"}, unset=["b"], was={"a": "1", "b": "9"}).reverse()[0]
    assert (back.set, back.unset) == ({"a": "1", "b": "9"}, [])
    back = SetTopicConfig("t", set={"a": "2"}, was={"a": None}).reverse()[0]
    assert (back.set, back.unset) == ({}, ["a"])
    with pytest.raises(IrreversibleError, match="configs before the change are not known"):
        SetTopicConfig("t", set={"a": "2"}).reverse()
    assert isinstance(RegisterSchema("s", SCHEMA, first=True).reverse()[0], DeleteSubject)
    assert isinstance(RegisterSchema("s", SCHEMA).reverse()[0], DeleteSchema)
    assert SetCompatibility("s", "FULL", was="BACKWARD", had_was=True).reverse()[0].level == "BACKWARD"
    with pytest.raises(IrreversibleError, match="compatibility level before the change is not known"):
        SetCompatibility("s", "FULL").reverse()
    assert DerivedSchema("s", SCHEMA).reverse() == []
    with pytest.raises(IrreversibleError, match="cannot be started again"):
        Ksql("TERMINATE CSAS_X_1;").reverse()


def test_destructive_flags():
    assert [o.name for o in OPS if o.destructive] == ["delete-topic", "delete-schema", "delete-subject"]
    assert Ksql("DROP STREAM X;").destructive and Ksql("TERMINATE Q1;").destructive
    assert not Ksql("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='x', VALUE_FORMAT='JSON');").destructive
    assert RegisterSchema("s", SCHEMA, marked_destructive=True).destructive


def test_replay_of_ksql_statements():
    st = State()
    CreateTopic("a", 2, 1).replay(st)
    Ksql("CREATE STREAM A (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');").replay(st)
    Ksql("ALTER STREAM A ADD COLUMN W INT;").replay(st)
    assert st.sources["A"].statement == ("CREATE STREAM A (ID STRING KEY, V STRING, W INT) WITH (KAFKA_TOPIC='a', "
                                         "VALUE_FORMAT='JSON');")
    Ksql("CREATE TABLE B WITH (KAFKA_TOPIC='b', PARTITIONS=4) AS SELECT ID, COUNT(*) AS N FROM A GROUP BY ID;").replay(st)
    assert st.topics["b"].partitions == 4 and st.topics["b"].owner == "ksqldb" and st.sources["B"].derived
    with pytest.raises(OpError, match="TABLE B already exists"):
        Ksql("CREATE TABLE B WITH (KAFKA_TOPIC='b') AS SELECT ID, COUNT(*) AS N FROM A GROUP BY ID;").replay(st)
    Ksql("CREATE OR REPLACE TABLE B WITH (KAFKA_TOPIC='b') AS SELECT ID, COUNT(*) AS N FROM A WHERE V = 'x' GROUP BY ID;").replay(st)
    assert "WHERE V = 'x'" in st.sources["B"].statement
    DerivedSchema("b-value", SCHEMA).replay(st)
    Ksql("DROP TABLE B DELETE TOPIC;").replay(st)
    assert "B" not in st.sources and "b" not in st.topics and "b-value" not in st.subjects
    Ksql("DROP STREAM IF EXISTS NOPE;").replay(st)
    with pytest.raises(OpError, match="partitions can only grow"):
        AddPartitions("a", 1).replay(st)


def test_file_round_trip_and_checksum(tmp_path):
    up = [CreateTopic("a", 1, 1), Ksql("CREATE STREAM A (ID STRING KEY) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');")]
    up[1].note = "the stream"
    down = [Ksql("DROP STREAM A;"), DeleteTopic("a")]
    text = files.render(1, "first one", up, down)
    assert text == (
        "-- V000001__first_one: generated by kctx makemigrations; edit with care, an applied file is checksummed.\n"
        "-- kctx:up\n"
        '-- kctx:create-topic {"configs":{},"name":"a","partitions":1,"replicas":1}\n'
        "-- the stream\n"
        "CREATE STREAM A (ID STRING KEY) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');\n"
        "\n-- kctx:down\n-- DROP STREAM A;\n-- kctx:delete-topic {\"name\":\"a\"}\n")
    path = tmp_path / files.filename(1, "first one")
    path.write_text(text)
    m = files.read(path)
    assert (m.version, m.description, m.label) == (1, "first_one", "V000001")
    assert [s.op.render() for s in m.up] == [o.render() for o in up]
    assert [s.op.render() for s in m.down] == [o.render() for o in down]
    assert [s.line for s in m.up] == [3, 5]
    import hashlib

    assert m.checksum == hashlib.md5(text.encode()).hexdigest()
    assert replay([m]).sources["A"].topic == "a"


def test_a_plain_ksql_migrations_file_reads_as_all_up(tmp_path):
    p = tmp_path / "V000001__Initial_setup.sql"
    p.write_text("CREATE STREAM A (ID STRING KEY) WITH (KAFKA_TOPIC='a', PARTITIONS=1, VALUE_FORMAT='JSON');\n"
                 "-- a comment\nINSERT INTO A (ID) VALUES ('x');\n")
    m = files.read(p)
    assert len(m.up) == 2 and m.down is None and not m.reversible
    assert m.irreversible_reason == "it has no down part"

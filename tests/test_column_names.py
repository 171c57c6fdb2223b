"""Columns whose names are Python keywords (issue 15, 3): ``from_: Annotated[str,
ColumnName("from")]`` declares the column FROM. The column name is what the DDL (back-quoted
where ksqlDB reserves the word), the DSL, the Avro schemas and validate use; the attribute,
the constructor keyword and ``_asdict`` keep the Python name. What the real ksqlDB 8.1.5
answers for the same declarations is checked by tests/test_query_vs_ksqldb.py
(``test_aliases_and_keyword_columns_on_ksqldb``): it accepts `FROM` quoted, registers the
Avro field ``FROM`` for a source it creates, and reads a registered field ``from`` into the
column FROM."""
from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Annotated, Optional

import fastavro
import pytest

from kctx_cli.avro.schema import key_schema, value_schema
from kctx_cli.config import load_config
from kctx_cli.derive.ddl import entity_ddl
from kctx_cli.derive.schema import analyze, compare_declared
from kctx_cli.ksql.dialect import parse_one, render
from kctx_cli.model import ColumnName, Key, Precision, Stream, Struct
from kctx_cli.model.checks import check as model_check
from kctx_cli.model.discovery import load_project
from kctx_cli.query import func, select
from kctx_cli.query.compiler import render_select
from tests.helpers import make_project, run_kctx


class Route(Struct):
    from_: Annotated[str, ColumnName("from")]
    to: str  # TO is reserved by ksqlDB's grammar too: back-quoted, not renamed


class Message(Stream):
    id: Annotated[str, Key]
    from_: Annotated[str, ColumnName("from")]
    class_: Annotated[Optional[str], ColumnName("class")] = None
    in_: Annotated[int, ColumnName("IN")] = 0
    select: str = ""  # not a Python keyword, but reserved by ksqlDB: back-quoted
    route: Optional[Route] = None

    class Meta:
        name = "MESSAGES"
        topic = "messages"


def test_the_field_keeps_its_python_name_and_gets_the_column_name():
    fields = {f.name: f for f in Message.__kctx__.fields}
    assert [(n, f.column, f.avro_name) for n, f in fields.items()] == [
        ("id", "ID", "id"), ("from_", "FROM", "from"), ("class_", "CLASS", "class"), ("in_", "IN", "IN"),
        ("select", "SELECT", "select"), ("route", "ROUTE", "route")]
    m = Message(id="1", from_="ada", route=Route(from_="a", to="b"))
    assert m.from_ == "ada" and m.class_ is None
    assert m._asdict() == {"id": "1", "from_": "ada", "class_": None, "in_": 0, "select": "",
                           "route": {"from_": "a", "to": "b"}}
    assert repr(Message.from_) == "Message.from_"


def test_ddl_quotes_reserved_column_names():
    text = entity_ddl(Message.__kctx__)
    assert text == ("CREATE STREAM MESSAGES (ID STRING KEY, `FROM` STRING, CLASS STRING, `IN` BIGINT, `SELECT` STRING, "
                    "ROUTE STRUCT<`FROM` STRING, `TO` STRING>) WITH (KAFKA_TOPIC='messages', KEY_FORMAT='AVRO', "
                    "VALUE_FORMAT='AVRO');")
    assert render(parse_one(text[:-1])) + ";" == text


def test_source_avro_schema_uses_the_column_name_as_written():
    s = value_schema(Message.__kctx__)
    assert [f["name"] for f in s["fields"]] == ["from", "class", "IN", "select", "route"]
    route = s["fields"][-1]["type"][1]
    assert [f["name"] for f in route["fields"]] == ["from", "to"]
    fastavro.parse_schema(s)

    class Keyed(Stream):
        from_: Annotated[str, Key, ColumnName("from")]
        to: Annotated[str, Key]
        v: int

    assert [f["name"] for f in key_schema(Keyed.__kctx__)["fields"]] == ["from", "to"]


def test_struct_defaults_take_python_or_column_names():
    class Trip(Stream):
        id: Annotated[str, Key]
        route: Route = {"from_": "x", "to": "y"}
        back: Route = {"from": "y", "to": "x"}

    defaults = [f["default"] for f in value_schema(Trip.__kctx__)["fields"]]
    assert defaults == [{"from": "x", "to": "y"}, {"from": "y", "to": "x"}]


def test_dsl_renders_the_column_name():
    m = Message
    q = (select(m.id, m.from_, m.class_, m.route.from_, func.UCASE(m.from_).label("where"), m.route.to)
         .from_(m).where((m.from_ != "x") & (m.in_ > 1)))
    text = render_select(q)
    assert text == ("SELECT ID, `FROM`, CLASS, ROUTE->`FROM`, UCASE(`FROM`) AS `WHERE`, ROUTE->`TO` FROM MESSAGES "
                    "WHERE `FROM` <> 'x' AND `IN` > 1")
    assert render(parse_one(text)) == text
    a = analyze(q)
    assert a.problems == []
    # a struct member named like a column is numbered (ksqlDB's ColumnNames: FROM is taken)
    assert [(c.name, c.type.ksql(), c.key) for c in a.columns] == [
        ("ID", "STRING", True), ("FROM", "STRING", False), ("CLASS", "STRING", False), ("FROM_1", "STRING", False),
        ("WHERE", "STRING", False), ("TO", "STRING", False)]


def test_derived_entity_declares_a_keyword_column():
    class Copy(Stream):
        id: Annotated[str, Key]
        from_: Annotated[str, ColumnName("from")]
        class_: Annotated[Optional[str], ColumnName("class")] = None

        class Meta:
            name = "COPY"

            def query():
                return select(Message.id, Message.from_, func.LCASE(Message.select).label("class")).from_(Message)

    info = Copy.__kctx__
    assert compare_declared(info, analyze(info.query())) == []
    assert entity_ddl(info).endswith("AS SELECT ID, `FROM`, LCASE(`SELECT`) AS CLASS FROM MESSAGES;")
    # what ksqlDB registers for it: the upper-case column names
    assert [f["name"] for f in value_schema(info)["fields"]] == ["FROM", "CLASS"]


def _roundtrip(schema: dict, datum: dict) -> dict:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), datum)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, fastavro.parse_schema(schema))


def test_runtime_serialises_by_the_avro_name_and_reads_it_back():
    from kctx_cli.avro.schema import value_fields
    from kctx_cli.runtime.codec import _instance_builder, _match

    info = Message.__kctx__
    schema = value_schema(info)
    m = Message(id="1", from_="ada", class_="c", in_=2, select="s", route=Route(from_="a", to="b"))
    # encoding: each registered field is matched to the model field that has its name
    pairs = _match(value_fields(info), schema["fields"])
    assert [(f.name, name) for f, name, _ in pairs] == [
        ("from_", "from"), ("class_", "class"), ("in_", "IN"), ("select", "select"), ("route", "route")]
    datum = {name: getattr(m, f.name) for f, name, _ in pairs}
    datum["route"] = {"from": "a", "to": "b"}
    back = _roundtrip(schema, datum)
    back["id"] = "1"  # the key, as the codec adds it
    build = _instance_builder(Message)
    assert build(dict(back)) == m
    # ksqlDB's own names (the upper-case columns) and any case are read too
    assert build({"ID": "1", "FROM": "ada", "CLASS": "c", "IN": 2, "SELECT": "s",
                  "ROUTE": {"FROM": "a", "TO": "b"}}) == m
    assert build({"id": "1", "From": "ada", "in": 2}) == Message(id="1", from_="ada", in_=2)


def test_encoder_writes_struct_members_by_their_avro_name():
    from kctx_cli.runtime.codec import _encoder

    route_t = next(f for f in Message.__kctx__.fields if f.name == "route").type
    node = value_schema(Message.__kctx__)["fields"][-1]["type"][1]
    assert _encoder(route_t, node)(Route(from_="a", to="b")) == {"from": "a", "to": "b"}


HEAD = """\
from typing import Annotated, Optional
from kctx_cli.model import ColumnName, Key, Stream, Struct
"""


def problems(tmp_path, src: str) -> list[str]:
    root = make_project(tmp_path / "p", {"m.py": HEAD + src})
    project = load_project(load_config(root))
    return [f"{p.code}: {p.message}" for p in model_check(project)]


def test_validate_accepts_reserved_words_it_quotes(tmp_path):
    assert problems(tmp_path, """
class Msg(Stream):
    id: Annotated[str, Key]
    from_: Annotated[str, ColumnName("from")]
    select: str
    when: int
""") == []


@pytest.mark.parametrize("field,message", [
    ("rowtime: int", "reserved-word: Msg.rowtime: 'ROWTIME' is a reserved column name (a system column): ksqlDB "
                     "refuses it even quoted; rename the field"),
    ('start: Annotated[int, ColumnName("windowstart")]',
     "reserved-word: Msg.start: 'WINDOWSTART' is a reserved column name (a system column): ksqlDB refuses it even "
     "quoted; rename the field"),
    ('from_: Annotated[str, ColumnName("from x")]', "bad-name: Msg.from_: ColumnName 'from x' is not a valid column name"),
    ('from_: Annotated[str, ColumnName("ID")]',
     "duplicate-column: Msg.from_: column name ID clashes with field 'id' (ksqlDB names are case-insensitive)"),
])
def test_validate_refuses_what_ksqldb_refuses(tmp_path, field, message):
    got = problems(tmp_path, f"""
class Msg(Stream):
    id: Annotated[str, Key]
    {field}
""")
    assert message in got, got


def test_column_name_inside_a_list_is_refused():
    from kctx_cli.model.types import TypeProblem, resolve_annotation

    with pytest.raises(TypeProblem, match="only valid on a top-level field"):
        resolve_annotation(list[Annotated[str, ColumnName("x")]])


def test_makemigrations_then_validate(tmp_path):
    root = make_project(tmp_path / "p", {"m.py": HEAD + """
from decimal import Decimal
from kctx_cli.model import Precision
from kctx_cli.query import select


class Msg(Stream):
    id: Annotated[str, Key]
    from_: Annotated[str, ColumnName("from")]
    class_: Annotated[Optional[str], ColumnName("class")] = None

    class Meta:
        name = "MSGS"


class Senders(Stream):
    id: Annotated[str, Key]
    from_: Annotated[str, ColumnName("from")]

    class Meta:
        name = "SENDERS"

        def query():
            return select(Msg.id, Msg.from_).from_(Msg).where(Msg.class_ == "x")
"""})
    r = run_kctx("makemigrations", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    text = "\n".join(p.read_text() for p in sorted((root / "migrations").glob("*.sql")))
    assert "CREATE STREAM MSGS (ID STRING KEY, `FROM` STRING, CLASS STRING)" in text
    assert '"name":"from"' in text.replace(" ", "")
    r = run_kctx("validate", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr


def test_drift_check_reads_ksqldbs_names_for_keyword_columns_and_aliases():
    from kctx_cli.ksql.compare import same_source

    # the real ksqlDB 8.1.5's DESCRIBE text of what kctx migrate created (tests/test_query_vs_ksqldb.py
    # test_aliases_and_keyword_columns_on_ksqldb): a struct field named like a column is FROM_1
    live = ("CREATE STREAM ENRICHED WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='enriched', KEY_FORMAT='AVRO', "
            "PARTITIONS=1, REPLICAS=1, RETENTION_MS=604800000, VALUE_FORMAT='AVRO') AS SELECT\n"
            "  O.CUSTOMER_ID O_CUSTOMER_ID,\n  O.ORDER_ID ORDER_ID,\n  O.`FROM` `FROM`,\n  O.ROUTE->`FROM` FROM_1,\n"
            "  C.CUSTOMER_ID C_CUSTOMER_ID,\n  C.NAME NAME\nFROM ORDERS O\n"
            "INNER JOIN CUSTOMERS C ON ((O.CUSTOMER_ID = C.CUSTOMER_ID))\nWHERE (O.CLASS <> 'spam')\nEMIT CHANGES;")
    mine = ("CREATE STREAM ENRICHED WITH (KAFKA_TOPIC='enriched', KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO') AS "
            "SELECT O.CUSTOMER_ID, O.ORDER_ID, O.`FROM`, O.ROUTE->`FROM`, C.CUSTOMER_ID, C.NAME FROM ORDERS O "
            "JOIN CUSTOMERS C ON O.CUSTOMER_ID = C.CUSTOMER_ID WHERE O.CLASS <> 'spam'")
    assert same_source(live, mine)
    assert not same_source(live, mine.replace("O.CLASS <> 'spam'", "O.CLASS <> 'ham'"))


def test_timestamp_property_back_quotes_a_reserved_column():
    # the real ksqlDB 8.1.5 reads TIMESTAMP as a column reference: TIMESTAMP='FROM' is refused
    # ("Cannot parse text that is not column reference: FROM"), TIMESTAMP='`FROM`' accepted
    class Sent(Stream):
        id: Annotated[str, Key]
        from_: Annotated[int, ColumnName("from")]
        at: int

        class Meta:
            timestamp = "from_"

    assert entity_ddl(Sent.__kctx__).endswith("VALUE_FORMAT='AVRO', TIMESTAMP='`FROM`');")

    class Plain(Stream):
        id: Annotated[str, Key]
        sent_at: int

        class Meta:
            timestamp = "sent_at"

    assert entity_ddl(Plain.__kctx__).endswith("TIMESTAMP='SENT_AT');")

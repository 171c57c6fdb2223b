"""kctx's Avro schemas for derived entities (kctx_cli/avro/schema.py) against the schemas
the ksqlDB emulator registers (tests/stack/ksqldb_emulator/sqltypes.py): both must be what
real ksqlDB registers, so they must be equal, for every type.

What ksqlDB registers was read from its source (confluentinc/ksql, 8.0): AvroSchemas,
AvroSchemaTranslator (Connect's AvroData, default config: connect.meta.data on, enhanced
schema support off), AvroFormat.getKeySchemaName, and the registered schemas in its
functional tests (ksqldb-functional-tests historical_plans/*/spec.json, e.g. avro
"deserialize anonymous map - value", collect-list "collect_list struct - AVRO", avro
"STRUCT - key - no inference", group-by "AVRO group by struct"). The MapEntry shape is also
written out below, so a change on both sides at once is still caught.

Offline: kctx renders the DDL of a source and a derived entity, the emulator's engine runs
it against an in-memory backend, and the subjects it registers are compared with kctx's.
"""
from __future__ import annotations

from kctx_cli.avro.schema import key_schema, value_schema
from kctx_cli.config import load_config
from kctx_cli.ksql.ddl import entity_ddl
from kctx_cli.model.discovery import load_project
from tests.helpers import make_project
from tests.stack.ksqldb_emulator.backend import MemoryBackend
from tests.stack.ksqldb_emulator.engine import Engine

MODELS = '''
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Optional
from kctx_cli.model import Int32, Key, Precision, Stream, Struct, Table

class Geo(Struct):
    lat: float
    lon: float

class Address(Struct):
    city: str
    geo: Geo                                  # STRUCT inside a STRUCT
    since: date

class Event(Stream):
    event_id: Annotated[str, Key]
    flag: bool
    small: Int32
    big: int
    ratio: float
    note: str
    raw: bytes
    day: date
    at_time: time
    at: datetime
    amount: Annotated[Decimal, Precision(18, 4)]
    address: Optional[Address] = None
    addresses: list[Address]                  # ARRAY of STRUCT
    tags: list[str]
    attrs: dict[str, Address]                 # MAP of STRUCT
    counts: dict[str, int]
    nested: dict[str, list[Address]]          # MAP of ARRAY of STRUCT
    class Meta:
        topic = "events"

class EventCopy(Stream):
    event_id: Annotated[str, Key]
    flag: bool
    small: Int32
    big: int
    ratio: float
    note: str
    raw: bytes
    day: date
    at_time: time
    at: datetime
    amount: Annotated[Decimal, Precision(18, 4)]
    address: Optional[Address] = None
    addresses: list[Address]
    tags: list[str]
    attrs: dict[str, Address]
    counts: dict[str, int]
    nested: dict[str, list[Address]]
    class Meta:
        topic = "event_copy"
        def query():
            from kctx_cli.query import select
            return select(*[getattr(Event, n) for n in (
                "event_id", "flag", "small", "big", "ratio", "note", "raw", "day", "at_time", "at",
                "amount", "address", "addresses", "tags", "attrs", "counts", "nested")]).from_(Event)

class Pair(Stream):
    region: Annotated[str, Key(order=1)]
    day: Annotated[date, Key(order=2)]
    total: float
    class Meta:
        topic = "pair"

class PairCopy(Stream):
    region: Annotated[str, Key(order=1)]
    day: Annotated[date, Key(order=2)]
    total: float
    class Meta:
        topic = "pair_copy"
        def query():
            from kctx_cli.query import select
            return select(Pair.region, Pair.day, Pair.total).from_(Pair)
'''


def _run(tmp_path, names):
    make_project(tmp_path, {"shop.py": MODELS})
    project = load_project(load_config(tmp_path))
    backend = MemoryBackend(auto_topics=True)
    engine = Engine(backend)
    for name in names:
        status, body = engine.handle_ksql({"ksql": entity_ddl(project.get(name)), "streamsProperties": {}})
        assert status == 200, body
    return project, backend


def test_every_type_value_and_single_key(tmp_path):
    project, backend = _run(tmp_path, ["Event", "EventCopy"])
    info = project.get("EventCopy")
    assert backend.latest_schema("event_copy-value") == value_schema(info)
    assert backend.latest_schema("event_copy-key") == key_schema(info) == "string"


def test_multi_column_key(tmp_path):
    project, backend = _run(tmp_path, ["Pair", "PairCopy"])
    info = project.get("PairCopy")
    assert backend.latest_schema("pair_copy-key") == key_schema(info)
    assert key_schema(info)["name"] == "PairCopyKey"  # AvroFormat.getKeySchemaName(PAIR_COPY)


def test_map_of_struct_is_an_array_of_map_entries(tmp_path):
    project, _ = _run(tmp_path, [])
    fields = {f["name"]: f["type"][1] for f in value_schema(project.get("EventCopy"))["fields"]}
    ns = "io.confluent.ksql.avro_schemas"
    attrs = fields["ATTRS"]
    assert attrs["type"] == "array" and attrs["connect.name"] == f"{ns}.KsqlDataSourceSchema_ATTRS"
    entry = attrs["items"]
    assert (entry["name"], entry["connect.internal.type"]) == ("KsqlDataSourceSchema_ATTRS", "MapEntry")
    assert entry["fields"][0] == {"name": "key", "type": ["null", "string"], "default": None}
    value = entry["fields"][1]["type"][1]
    assert value["name"] == "KsqlDataSourceSchema_ATTRS_MapValue" and "namespace" not in value
    assert value["connect.name"] == f"{ns}.KsqlDataSourceSchema_ATTRS_MapValue"
    geo = {f["name"]: f["type"][1] for f in fields["ADDRESS"]["fields"]}["GEO"]
    assert geo["name"] == "KsqlDataSourceSchema_ADDRESS_GEO"

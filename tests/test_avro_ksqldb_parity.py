"""kctx's Avro schemas for derived entities (kctx_cli/avro/schema.py) against the schemas
the real ksqlDB 8.1.5 registers in the real Confluent Schema Registry, for every type.

A temp project (MODELS: a source with a column of every type, a derived copy of it, a
STRUCT key, a multi-column key, aggregates grouped by two columns, a windowed table) goes
through `kctx makemigrations` and `kctx migrate`, as a user would: kctx creates the topics
and registers the sources' schemas, ksqlDB runs the CREATE … AS SELECT statements and
registers the derived entities' subjects. Each subject's latest schema is then compared,
as parsed JSON in canonical form (``schema_json``: sorted keys), with kctx's
``value_schema``/``key_schema`` (``registered_schemas``). Queries are terminated and the
sources dropped before the comparisons (tests/ksqldb_helpers.py).
"""
from __future__ import annotations

import json

import pytest
import requests

from kctx_cli.avro.schema import key_schema, registered_schemas, schema_json, value_schema
from kctx_cli.config import load_config
from kctx_cli.model.discovery import load_project
from tests.helpers import make_project, run_kctx
from tests.ksqldb_helpers import KsqlSources

# __P__ / __p__: this run's prefix for ksqlDB names / topics
MODELS = '''
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Optional
from kctx_cli.model import Int32, Key, Precision, Stream, Struct, Table
from kctx_cli.query import Tumbling, collect_list, count, hours, latest_by_offset, min_, select, sum_

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
    happened_at: datetime
    amount: Annotated[Decimal, Precision(18, 4)]
    address: Optional[Address] = None
    addresses: list[Address]                  # ARRAY of STRUCT
    tags: list[str]
    attrs: dict[str, Address]                 # MAP of STRUCT
    counts: dict[str, int]
    nested: dict[str, list[Address]]          # MAP of ARRAY of STRUCT
    class Meta:
        name = "__P___EVENTS"
        topic = "__p___events"
        partitions = 1

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
    happened_at: datetime
    amount: Annotated[Decimal, Precision(18, 4)]
    address: Optional[Address] = None
    addresses: list[Address]
    tags: list[str]
    attrs: dict[str, Address]
    counts: dict[str, int]
    nested: dict[str, list[Address]]
    class Meta:
        name = "__P___EVENT_COPY"
        topic = "__p___event_copy"
        partitions = 1
        def query():
            return select(*[getattr(Event, n) for n in (
                "event_id", "flag", "small", "big", "ratio", "note", "raw", "day", "at_time", "happened_at",
                "amount", "address", "addresses", "tags", "attrs", "counts", "nested")]).from_(Event)

class EventByAddress(Stream):
    address: Annotated[Address, Key]          # a STRUCT key
    event_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    class Meta:
        name = "__P___EVENT_BY_ADDRESS"
        topic = "__p___event_by_address"
        partitions = 1
        def query():
            return select(Event.address, Event.event_id, Event.amount).from_(Event).partition_by(Event.address)

class EventTotals(Table):                    # GROUP BY two columns: a key record; aggregates
    note: Annotated[str, Key(order=1)]
    day: Annotated[date, Key(order=2)]
    n: int
    total: Annotated[Decimal, Precision(18, 4)]
    last_address: Optional[Address] = None
    addresses: list[Address]
    tag_lists: list[list[str]]
    class Meta:
        name = "__P___EVENT_TOTALS"
        topic = "__p___event_totals"
        partitions = 1
        def query():
            return (select(Event.note, Event.day, count().label("n"), sum_(Event.amount).label("total"),
                           latest_by_offset(Event.address).label("last_address"),
                           collect_list(Event.address).label("addresses"), collect_list(Event.tags).label("tag_lists"))
                    .from_(Event).group_by(Event.note, Event.day))

class HourlyCounts(Table):                    # a windowed table
    event_id: Annotated[str, Key]
    n: int
    first_at: datetime
    class Meta:
        name = "__P___HOURLY_COUNTS"
        topic = "__p___hourly_counts"
        partitions = 1
        def query():
            return (select(Event.event_id, count().label("n"), min_(Event.happened_at).label("first_at"))
                    .from_(Event).window(Tumbling(hours=1)).group_by(Event.event_id))

class Pair(Stream):
    region: Annotated[str, Key(order=1)]
    day: Annotated[date, Key(order=2)]
    total: float
    class Meta:
        name = "__P___PAIR"
        topic = "__p___pair"
        partitions = 1

class PairCopy(Stream):
    region: Annotated[str, Key(order=1)]
    day: Annotated[date, Key(order=2)]
    total: float
    class Meta:
        name = "__P___PAIR_COPY"
        topic = "__p___pair_copy"
        partitions = 1
        def query():
            return select(Pair.region, Pair.day, Pair.total).from_(Pair)
'''

DERIVED = ("EventCopy", "EventByAddress", "EventTotals", "HourlyCounts", "PairCopy")


def _latest(registry: str, subject: str):
    r = requests.get(f"{registry}/subjects/{subject}/versions/latest", timeout=10)
    assert r.status_code == 200, f"{subject}: {r.status_code} {r.text}"
    return json.loads(r.json()["schema"]) if r.json().get("schemaType", "AVRO") == "AVRO" else r.json()


@pytest.fixture(scope="module")
def registered(stack, tmp_path_factory):
    """(project, subject -> latest schema in the registry for the subjects of this run's
    topics, the run's prefix) after `kctx migrate` of MODELS on the real stack. The sources
    are dropped (queries first) before the tests compare; the leftovers (subjects DROP does
    not delete, ksqlDB's internal ones, the migrations history topic) at the end."""
    import secrets

    from confluent_kafka.admin import AdminClient

    p = f"t_avro_parity_{secrets.token_hex(3)}"
    root = tmp_path_factory.mktemp("avro_parity")
    make_project(root, {"shop.py": MODELS.replace("__P__", p.upper()).replace("__p__", p)})
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    project = load_project(load_config(root))
    registry = stack.schema_registry_url
    try:
        with KsqlSources(stack.ksqldb_url) as ks:
            ks.adopt(*[project.get(n).source_name for n in ("Event", "Pair", *DERIVED)])  # dropped newest first
            for args in (("makemigrations",), ("migrate",)):
                r = run_kctx(*args, cwd=root, env=env)
                assert r.returncode == 0, r.stdout + r.stderr
            for n in DERIVED:
                ks.terminate_writers(project.get(n).source_name)
            subjects = [s for s in requests.get(f"{registry}/subjects", timeout=10).json() if s.startswith(p)]
            latest = {s: _latest(registry, s) for s in subjects}
        yield project, latest, p
    finally:
        for s in requests.get(f"{registry}/subjects", timeout=10).json():
            if s.startswith(p) or p.upper() in s:  # p.upper(): ksqlDB's changelog/repartition subjects
                requests.delete(f"{registry}/subjects/{s}", timeout=10)
                requests.delete(f"{registry}/subjects/{s}?permanent=true", timeout=10)
        admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
        if f"_kctx_{p}" in admin.list_topics(timeout=10).topics:
            for future in admin.delete_topics([f"_kctx_{p}"]).values():
                future.result(timeout=30)


def ksql_camel(p: str) -> str:
    """UPPER_UNDERSCORE -> UpperCamel, as ksqlDB names key records (AvroFormat.getKeySchemaName)."""
    return "".join(w.capitalize() for w in p.split("_"))


def test_every_subject_is_what_kctx_derives(registered):
    # every entity's subjects, sources (registered by kctx) and derived (by ksqlDB), and no other
    project, latest, p = registered
    want = {}
    for info in project.entities:
        want.update(registered_schemas(info))
    assert sorted(latest) == sorted(want)
    for subject in want:
        assert schema_json(latest[subject]) == schema_json(want[subject]), subject


def test_every_type_value_and_single_key(registered):
    project, latest, p = registered
    info = project.get("EventCopy")
    assert latest[f"{p}_event_copy-value"] == value_schema(info)
    assert latest[f"{p}_event_copy-key"] == key_schema(info) == "string"


def test_struct_key(registered):
    project, latest, p = registered
    info = project.get("EventByAddress")
    assert latest[f"{p}_event_by_address-key"] == key_schema(info)
    assert latest[f"{p}_event_by_address-value"] == value_schema(info)


def test_multi_column_keys(registered):
    project, latest, p = registered
    info = project.get("PairCopy")
    assert latest[f"{p}_pair_copy-key"] == key_schema(info)
    assert key_schema(info)["name"] == f"{ksql_camel(p)}PairCopyKey"  # AvroFormat.getKeySchemaName
    info = project.get("EventTotals")  # GROUP BY two columns
    assert latest[f"{p}_event_totals-key"] == key_schema(info)
    assert latest[f"{p}_event_totals-value"] == value_schema(info)


def test_windowed_table(registered):
    project, latest, p = registered
    info = project.get("HourlyCounts")
    assert latest[f"{p}_hourly_counts-key"] == key_schema(info) == "string"  # the window is not in the schema
    assert [f["name"] for f in latest[f"{p}_hourly_counts-value"]["fields"]] == ["N", "FIRST_AT"]
    assert latest[f"{p}_hourly_counts-value"] == value_schema(info)


def test_map_of_struct_is_an_array_of_map_entries(registered):
    project, latest, p = registered
    fields = {f["name"]: f["type"][1] for f in latest[f"{p}_event_copy-value"]["fields"]}
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

"""Entity DDL: CREATE STREAM/TABLE of source entities, CREATE ... AS SELECT of derived
ones, dependency order, and `kctx show ddl`."""
from __future__ import annotations

import pytest

from kctx_cli.config import load_config
from kctx_cli.errors import KctxError
from kctx_cli.derive.ddl import entity_ddl, ordered
from kctx_cli.ksql.dialect import parse_one, render
from kctx_cli.model.discovery import load_project
from kctx_cli.derive.schema import entity_kind, topic_configs
from tests.helpers import make_project, run_kctx

SRC = """
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
from kctx_cli.model import Entity, Header, Int32, Key, Precision, Stream, Struct, Table
from kctx_cli.query import Tumbling, count, hours, minutes, select, sum_


class Address(Struct):
    street: str
    city: str


class CustomerTotals(Entity):
    customer_id: Annotated[str, Key]
    orders: int
    total: Annotated[Decimal, Precision(18, 4)]
    class Meta:
        topic = "customer_totals"
        partitions = 6
        def query():
            return (select(Order.customer_id, count().label("orders"), sum_(Order.amount).label("total"))
                    .from_(Order).window(Tumbling(hours=1, grace=minutes(5))).group_by(Order.customer_id))


class Order(Stream):
    order_id: Annotated[str, Key]
    customer_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    ordered_at: datetime
    headers: Annotated[list[Address], Header()] = None
    class Meta:
        name = "ORDERS"
        topic = "orders"
        partitions = 6
        timestamp = "ordered_at"


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str
    tier: Int32 = 0
    address: Optional[Address] = None
    class Meta:
        name = "CUSTOMERS"
        topic = "customers"
        key_format = "KAFKA"


class Event(Stream):
    payload: str
    trace: Annotated[bytes, Header("trace-id")]
    class Meta:
        value_format = "JSON"
        timestamp = "payload"
        timestamp_format = "yyyy-MM-dd"


class Enriched(Entity):
    customer_id: Annotated[str, Key]
    order_id: str
    name: str
    class Meta:
        def query():
            return (select(Order.customer_id, Order.order_id, Customer.name).from_(Order)
                    .join(Customer, on=Order.customer_id == Customer.customer_id, how="left"))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("ddl") / "p", {"shop.py": SRC})
    return load_project(load_config(root))


def test_source_stream(project):
    assert entity_ddl(project.get("Order")) == (
        "CREATE STREAM ORDERS (ORDER_ID STRING KEY, CUSTOMER_ID STRING, AMOUNT DECIMAL(18, 4), ORDERED_AT TIMESTAMP, "
        "HEADERS ARRAY<STRUCT<STREET STRING, CITY STRING>> HEADERS) WITH (KAFKA_TOPIC='orders', PARTITIONS=6, "
        "REPLICAS=1, KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO', TIMESTAMP='ORDERED_AT');")


def test_source_table(project):
    assert entity_ddl(project.get("Customer")) == (
        "CREATE TABLE CUSTOMERS (CUSTOMER_ID STRING PRIMARY KEY, NAME STRING, TIER INT, "
        "ADDRESS STRUCT<STREET STRING, CITY STRING>) WITH (KAFKA_TOPIC='customers', PARTITIONS=1, REPLICAS=1, "
        "KEY_FORMAT='KAFKA', VALUE_FORMAT='AVRO');")


def test_keyless_stream_with_header_and_timestamp_format(project):
    assert entity_ddl(project.get("Event")) == (
        "CREATE STREAM EVENT (PAYLOAD STRING, TRACE BYTES HEADER('trace-id')) WITH (KAFKA_TOPIC='event', "
        "PARTITIONS=1, REPLICAS=1, VALUE_FORMAT='JSON', TIMESTAMP='PAYLOAD', TIMESTAMP_FORMAT='yyyy-MM-dd');")


def test_derived_table_is_ctas_on_a_compacted_topic(project):
    info = project.get("CustomerTotals")
    assert entity_kind(info) == "TABLE"
    assert topic_configs(info) == {"cleanup.policy": "compact"}
    assert entity_ddl(info) == (
        "CREATE TABLE CUSTOMER_TOTALS WITH (KAFKA_TOPIC='customer_totals', PARTITIONS=6, REPLICAS=1, "
        "KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO') AS SELECT CUSTOMER_ID, COUNT(*) AS ORDERS, SUM(AMOUNT) AS TOTAL "
        "FROM ORDERS WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 5 MINUTES) GROUP BY CUSTOMER_ID;")


def test_derived_stream_is_csas(project):
    info = project.get("Enriched")
    assert entity_kind(info) == "STREAM"
    assert "cleanup.policy" not in topic_configs(info)
    assert entity_ddl(info) == (
        "CREATE STREAM ENRICHED WITH (KAFKA_TOPIC='enriched', REPLICAS=1, KEY_FORMAT='AVRO', VALUE_FORMAT='AVRO') "
        "AS SELECT ORDERS.CUSTOMER_ID, ORDERS.ORDER_ID, CUSTOMERS.NAME FROM ORDERS LEFT JOIN CUSTOMERS "
        "ON ORDERS.CUSTOMER_ID = CUSTOMERS.CUSTOMER_ID;")


def test_every_statement_reparses_to_itself(project):
    for info in project.entities:
        text = entity_ddl(info)
        assert render(parse_one(text)) + ";" == text


def test_dependency_order(project):
    # CustomerTotals is declared first but reads Order; Enriched reads Order and Customer
    assert [e.name for e in ordered(project)] == ["Order", "CustomerTotals", "Customer", "Event", "Enriched"]


def test_cycle_is_an_error(tmp_path):
    src = """
from typing import Annotated
from kctx_cli.model import Key, Stream
from kctx_cli.query import select

class A(Stream):
    id: Annotated[str, Key]
    class Meta:
        def query():
            return select(B.id).from_(B)

class B(Stream):
    id: Annotated[str, Key]
    class Meta:
        def query():
            return select(A.id).from_(A)
"""
    project = load_project(load_config(make_project(tmp_path / "p", {"m.py": src})))
    with pytest.raises(KctxError, match="^cycle between derived entities: A -> B -> A$"):
        ordered(project)


def test_show_ddl_cli(project):
    root = project.config.root
    r = run_kctx("show", "ddl", cwd=root)
    assert r.returncode == 0, r.stderr
    statements = r.stdout.strip().split(";\n\n")
    assert [s.split(" ")[2] for s in statements] == ["ORDERS", "CUSTOMER_TOTALS", "CUSTOMERS", "EVENT", "ENRICHED"]
    one = run_kctx("show", "ddl", "customers", cwd=root)
    assert one.returncode == 0 and one.stdout.startswith("CREATE TABLE CUSTOMERS (")
    missing = run_kctx("show", "ddl", "Nope", cwd=root)
    assert missing.returncode == 1
    assert "no entity named 'Nope'" in missing.stdout + missing.stderr

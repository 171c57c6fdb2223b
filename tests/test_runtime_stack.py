"""The services runtime (issue 14) on the real stack: KafkaContext over a temp project
migrated with kctx migrate; what it writes is read by the real ksqlDB, what ksqlDB writes
is read back as equal entities; commit modes, DLQ routing with kctx dlq replay, bad input."""
from __future__ import annotations

import datetime as dt
import textwrap
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import make_project, run_kctx

UTC = dt.timezone.utc

MODELS = '''
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from kctx_cli.model import Ignore, Int32, Key, Precision, Stream, Struct, Table
from kctx_cli.query import select


class Address(Struct):
    street: str
    city: str


class Order(Stream):
    order_id: Annotated[UUID, Key]
    customer_id: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4)]
    ordered_at: datetime
    coupon: Optional[str] = None
    ship_to: Optional[Address] = None
    tags: list[str] = []
    session: Annotated[str, Ignore] = ""

    class Meta:
        topic = "{p}_orders"
        name = "{P}_ORDERS"
        partitions = 6
        timestamp = "ordered_at"
        dlq = True


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str
    tier: Int32 = 0

    class Meta:
        topic = "{p}_customers"
        name = "{P}_CUSTOMERS"
        partitions = 6
        key_format = "KAFKA"


class Visit(Stream):
    customer_id: Annotated[str, Key]
    page: str

    class Meta:
        topic = "{p}_visits"
        name = "{P}_VISITS"
        partitions = 6
        key_format = "KAFKA"
'''

DERIVED = '''
from decimal import Decimal
from datetime import datetime
from typing import Annotated, Optional
from uuid import UUID

from kctx_cli.model import Int32, Key, Precision, Stream
from kctx_cli.query import select

from models.shop import Address, Customer, Order, Visit


class BigOrder(Stream):
    order_id: Annotated[UUID, Key]
    customer_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    ordered_at: datetime
    coupon: Optional[str] = None
    ship_to: Optional[Address] = None

    class Meta:
        topic = "{p}_big_orders"
        name = "{P}_BIG_ORDERS"

        def query():
            return (select(Order.order_id, Order.customer_id, Order.amount, Order.ordered_at, Order.coupon,
                           Order.ship_to).from_(Order).where(Order.amount > 100))


class VisitByCustomer(Stream):
    customer_id: Annotated[str, Key]
    page: str
    name: str
    tier: Int32

    class Meta:
        topic = "{p}_visits_named"
        name = "{P}_VISITS_NAMED"
        key_format = "KAFKA"

        def query():
            return (select(Visit.customer_id.label("customer_id"), Visit.page, Customer.name, Customer.tier)
                    .from_(Visit).join(Customer, on=Visit.customer_id == Customer.customer_id))
'''


def write_project(root: Path, p: str, *, derived: bool = False, extra: str = "") -> Path:
    mods = {"shop.py": MODELS.replace("{p}", p).replace("{P}", p.upper()) + extra}
    if derived:
        mods["derived.py"] = DERIVED.replace("{p}", p).replace("{P}", p.upper())
    make_project(root, mods, toml=textwrap.dedent("""\
        [project]
        models = "models"
        migrations = "migrations"
        default_partitions = 3
        avro_namespace = "com.example.rt"
        """))
    return root


@pytest.fixture
def project(stack, tmp_path, unique_name, monkeypatch):
    """A migrated project (orders with a DLQ, a KAFKA-keyed table and stream); returns
    (root, prefix, migrate) where migrate() re-runs makemigrations + migrate."""
    p = unique_name
    root = write_project(tmp_path / "proj", p)
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    monkeypatch.setenv("KCTX_MIGRATIONS_TOPIC", f"_kctx_{p}")

    def migrate():
        for cmd in (("makemigrations",), ("migrate",)):
            r = run_kctx(*cmd, cwd=root, env=env)
            assert r.returncode == 0, r.stdout + r.stderr

    migrate()
    return root, p, migrate


def context(root: Path, **kw):
    """A new context; the models are imported afresh (a service process imports them once,
    these tests edit them between contexts)."""
    import sys

    from kctx_cli import KafkaContext

    for name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[name]

    return KafkaContext(project=root, **kw)


def classes(ctx):
    return {e.name: e.cls for e in ctx.project.entities} | {s.__name__: s for s in ctx.project.structs}


NOW = dt.datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


def sample_orders(C, n=4):
    out = []
    for i in range(n):
        out.append(C["Order"](
            order_id=uuid.UUID(int=i + 1), customer_id=f"c{i % 2}", quantity=i + 1,
            amount=Decimal("99.9999") + i * 100, ordered_at=NOW + dt.timedelta(seconds=i),
            coupon=None if i % 2 else f"SAVE{i}", ship_to=C["Address"](street=f"{i} Main", city="Paris") if i else None,
            tags=["a", "b"][: i % 3]))
    return out


# --------------------------------------------------------------------------- readiness

def test_ensure_ready_names_the_fix(stack, tmp_path, unique_name, monkeypatch):
    from kctx_cli.runtime import NotReadyError

    p = unique_name
    root = write_project(tmp_path / "proj", p)
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    monkeypatch.setenv("KCTX_MIGRATIONS_TOPIC", f"_kctx_{p}")
    with context(root) as ctx, pytest.raises(NotReadyError, match=r"no migration was ever applied .*: run kctx migrate$"):
        ctx.ensure_ready()
    assert run_kctx("makemigrations", cwd=root, env=env).returncode == 0
    with context(root) as ctx:
        with pytest.raises(NotReadyError, match=r"^no migration was ever applied"):
            ctx.ensure_ready()
    assert run_kctx("migrate", cwd=root, env=env).returncode == 0
    with context(root) as ctx:
        ctx.ensure_ready()

    # a model changed and not migrated
    shop = root / "models" / "shop.py"
    text = shop.read_text()
    shop.write_text(text.replace("    page: str\n", "    page: str\n    referrer: Optional[str] = None\n"))
    with context(root) as ctx, pytest.raises(NotReadyError) as ei:
        ctx.ensure_ready()
    assert "the models differ from the applied migrations" in str(ei.value)
    assert str(ei.value).endswith("run kctx makemigrations, then kctx migrate")
    assert run_kctx("makemigrations", cwd=root, env=env).returncode == 0
    with context(root) as ctx, pytest.raises(NotReadyError, match=r"V000002__.*\.sql not applied to this cluster: "
                                                                    r"run kctx migrate$"):
        ctx.ensure_ready()
    assert run_kctx("migrate", cwd=root, env=env).returncode == 0
    with context(root) as ctx:
        ctx.ensure_ready()

    # drift made by hand
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    res = ConfigResource(ConfigResource.Type.TOPIC, f"{p}_orders", incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result()
    with context(root) as ctx, pytest.raises(NotReadyError) as ei:
        ctx.ensure_ready()
    assert "the cluster differs from the applied migrations" in str(ei.value)
    assert "run kctx repair" in str(ei.value) and "\n" not in str(ei.value)
    # a service that uses only the customers table is ready: only its objects are compared
    with context(root) as ctx:
        ctx.ensure_ready(entities=[classes(ctx)["Customer"]])
        with pytest.raises(NotReadyError, match="the cluster differs"):
            ctx.ensure_ready(entities=["Order"])


def test_kafka_down_at_start_is_one_clear_error(tmp_path, unique_name):
    from kctx_cli.config import load_config
    from kctx_cli.runtime import NotReadyError, ProduceError

    root = write_project(tmp_path / "proj", unique_name)
    cfg = load_config(root, environ={"KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                                     "KCTX_SCHEMA_REGISTRY_URL": "http://127.0.0.1:1"})
    from kctx_cli import KafkaContext

    with KafkaContext(config=cfg) as ctx:
        with pytest.raises(NotReadyError, match=r"^Kafka at 127.0.0.1:1 does not answer within 3 s"):
            ctx.ensure_ready(timeout=3)


# --------------------------------------------------------------------------- produce

def test_produce_partitions_timestamps_and_keys_as_java(project):
    """Keys land where Java's murmur2 puts them (kctx_cli/tail/partitioner.py), the record
    timestamp is Meta.timestamp, AVRO keys carry the registered key schema id."""
    from kctx_cli.runtime import SerializationError
    from kctx_cli.tail.partitioner import partition_for

    root, p, _ = project
    delivered = []
    with context(root) as ctx:
        ctx.ensure_ready()
        C = classes(ctx)
        orders = sample_orders(C, 20)
        for o in orders:
            ctx.add(o, on_delivery=lambda err, m: delivered.append(m))
        for i in range(30):
            ctx.add(C["Customer"](customer_id=f"cust-{i}", name=f"n{i}"),
                    on_delivery=lambda err, m: delivered.append(m))
        fast = sample_orders(C, 40)[20:]  # add's fast path: no callback, no headers
        for o in fast:
            ctx.add(o)
        bad = sample_orders(C, 41)[40]
        bad.ordered_at = bad.ordered_at.replace(tzinfo=None)  # assignment is not re-validated
        with pytest.raises(SerializationError, match=r"^Order.ordered_at: datetime.datetime\(.*\) is not a "
                                                     r"timezone-aware datetime"):
            ctx.add(bad)
        ctx.flush()
        read = {m.value.order_id: m for m in ctx.subscribe(C["Order"], group=f"{p}-ts", idle_timeout=3)}
    assert len(delivered) == 50 and all(m.error() is None for m in delivered)
    assert len(read) == 40 and all(read[o.order_id].value == o for o in orders + fast)
    assert all(read[o.order_id].timestamp == o.ordered_at for o in orders + fast)
    assert all(read[o.order_id].partition == partition_for(read[o.order_id].raw.key(), 6) for o in fast)
    key_id = None
    for m in delivered:
        assert m.partition() == partition_for(m.key(), 6), m.key()
        if m.topic() == f"{p}_orders":
            assert m.key()[0] == 0
            key_id = key_id or m.key()[1:5]
            assert m.key()[1:5] == key_id
    by_id = {str(o.order_id): o for o in orders}
    from kctx_cli.runtime.ksql import KsqlQueryError  # noqa: F401 - imported for the module's availability
    ts = {m.timestamp()[1] for m in delivered if m.topic() == f"{p}_orders"}
    assert ts == {int(o.ordered_at.timestamp() * 1000) for o in by_id.values()}


def test_transaction_all_or_nothing(project):
    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        with ctx.transaction():
            ctx.add(C["Customer"](customer_id="a", name="A"))
            ctx.add(C["Customer"](customer_id="b", name="B"))
        with pytest.raises(RuntimeError):
            with ctx.transaction():
                ctx.add(C["Customer"](customer_id="x", name="aborted"))
                raise RuntimeError("boom")
        got = [m.value for m in ctx.subscribe(C["Customer"], group=f"{p}-g", idle_timeout=3)]
    assert sorted(c.customer_id for c in got) == ["a", "b"]


def test_async_add(project):
    import asyncio

    root, p, _ = project

    async def main(ctx, C):
        ms = await asyncio.gather(*(ctx.add_async(C["Customer"](customer_id=f"k{i}", name="x")) for i in range(5)))
        return ms

    with context(root) as ctx:
        C = classes(ctx)
        ms = asyncio.run(main(ctx, C))
    assert [m.topic() for m in ms] == [f"{p}_customers"] * 5 and all(m.offset() >= 0 for m in ms)


def test_model_registry_mismatch_is_one_error(project):
    from kctx_cli.runtime import SchemaMismatchError

    root, p, _ = project
    shop = root / "models" / "shop.py"
    shop.write_text(shop.read_text().replace("    tier: Int32 = 0\n", "    tier: Int32 = 0\n    vip: bool = False\n"))
    with context(root) as ctx:
        C = classes(ctx)
        with pytest.raises(SchemaMismatchError) as ei:
            ctx.add(C["Customer"](customer_id="a", name="A", vip=True))
    msg = str(ei.value)
    assert msg.startswith(f"Customer: the model's Avro schema differs from the latest registered version of "
                          f"{p}_customers-value (field vip is in the model only) and from every older one")
    assert msg.endswith("run kctx makemigrations, then kctx migrate") and "\n" not in msg


def test_a_reverted_schema_change_is_registered_once_and_produced_with(project):
    """Adding a field, then removing it again: the registry answers the first schema with
    its first version and keeps the latest at 2 (Confluent Schema Registry 8.1.5), so the
    revert's migration registers nothing, the plan is clean afterwards, and the context
    produces with version 1's id."""
    root, p, migrate = project
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    shop = root / "models" / "shop.py"
    original = shop.read_text()
    shop.write_text(original.replace("    tier: Int32 = 0\n", "    tier: Int32 = 0\n    vip: Optional[bool] = None\n"))
    migrate()
    shop.write_text(original)  # ksqlDB drops a column only by DROP TABLE and CREATE again
    r = run_kctx("makemigrations", "--allow-destructive", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    newest = sorted((root / "migrations").glob("V*.sql"))[-1].read_text()
    assert f'"subject":"{p}_customers-value"' not in newest, newest
    r = run_kctx("migrate", "--allow-destructive", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_kctx("plan", "--detailed-exitcode", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr

    with context(root) as ctx:
        C = classes(ctx)
        reg = ctx.registry
        versions = reg.get_versions(f"{p}_customers-value")
        first = reg.get_version(f"{p}_customers-value", 1)
        assert versions == [1, 2] and "vip" not in first.schema.schema_str
        assert "vip" in reg.get_latest_version(f"{p}_customers-value").schema.schema_str
        ctx.ensure_ready()
        ctx.add(C["Customer"](customer_id="rev", name="Reverted", tier=3))
        ctx.flush()
        got = [m for m in ctx.subscribe(C["Customer"], group=f"{p}-rev", idle_timeout=3)]
    assert [m.value for m in got] == [C["Customer"](customer_id="rev", name="Reverted", tier=3)]
    assert int.from_bytes(got[0].raw.value()[1:5], "big") == first.schema_id


# --------------------------------------------------------------------------- ksqlDB round trips

def test_round_trip_through_real_ksqldb(stack, tmp_path, unique_name, monkeypatch):
    """Entities added by the context are read by a ksqlDB stream, a CSAS over it and a
    co-partitioned stream-table join with the right values; rows ksqlDB writes come back
    through the context as equal entities."""
    from kctx_cli.query import select

    p = unique_name
    root = write_project(tmp_path / "proj", p, derived=True)
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    monkeypatch.setenv("KCTX_MIGRATIONS_TOPIC", f"_kctx_{p}")
    for cmd in (("makemigrations",), ("migrate",)):
        r = run_kctx(*cmd, cwd=root, env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    with context(root) as ctx:
        ctx.ensure_ready()
        C = classes(ctx)
        Order, BigOrder = C["Order"], C["BigOrder"]
        orders = sample_orders(C, 4)
        for i in range(6):
            ctx.add(C["Customer"](customer_id=f"c{i}", name=f"Name {i}", tier=i))
        ctx.flush()
        for o in orders:
            ctx.add(o)
        for i in range(6):
            ctx.add(C["Visit"](customer_id=f"c{i}", page=f"/p{i}"))
        ctx.flush()

        # ksqlDB reads the values the context wrote
        q = select(Order.order_id, Order.customer_id, Order.quantity, Order.amount, Order.ordered_at, Order.coupon,
                   Order.ship_to, Order.tags).from_(Order).emit_changes().limit(4)
        with ctx.stream(q, from_beginning=True, timeout=60) as rows:
            got = sorted(rows, key=lambda r: r["order_id"])
        assert [r["order_id"] for r in got] == [str(o.order_id) for o in orders]
        for r, o in zip(got, orders):
            assert r["amount"] == o.amount and r["quantity"] == o.quantity
            assert r["ordered_at"] == o.ordered_at
            assert r["coupon"] == o.coupon
            assert r["ship_to"] == (None if o.ship_to is None else {"STREET": o.ship_to.street, "CITY": o.ship_to.city})
            assert r["tags"] == o.tags

        # the CSAS output, written by ksqlDB, read back as equal entities
        want = [BigOrder(order_id=o.order_id, customer_id=o.customer_id, amount=o.amount, ordered_at=o.ordered_at,
                         coupon=o.coupon, ship_to=o.ship_to) for o in orders if o.amount > 100]
        got = [m.value for m in ctx.subscribe(BigOrder, group=f"{p}-big", max_messages=len(want), idle_timeout=60)]
        assert sorted(got, key=lambda b: b.order_id) == want
        assert all(isinstance(b.order_id, uuid.UUID) and isinstance(b.ship_to, C["Address"]) for b in got)

        # the co-partitioned join: every visit found its customer (same murmur2 partition)
        joined = [m.value for m in ctx.subscribe(C["VisitByCustomer"], group=f"{p}-j", max_messages=6,
                                                 idle_timeout=60)]
        assert sorted((v.customer_id, v.page, v.name, v.tier) for v in joined) == \
            [(f"c{i}", f"/p{i}", f"Name {i}", i) for i in range(6)]


# --------------------------------------------------------------------------- consume

def test_auto_commit_only_after_the_body_returned(project):
    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        for i in range(5):
            ctx.add(C["Visit"](customer_id="same", page=f"/{i}"))
        ctx.flush()
        seen = []
        with pytest.raises(RuntimeError):
            for msg in ctx.subscribe(C["Visit"], group=f"{p}-a", idle_timeout=10):
                if msg.value.page == "/2":
                    raise RuntimeError("handler failed")
                seen.append(msg.value.page)
        assert seen == ["/0", "/1"]
    with context(root) as ctx:
        C = classes(ctx)
        again = [m.value.page for m in ctx.subscribe(C["Visit"], group=f"{p}-a", idle_timeout=3)]
        assert again == ["/2", "/3", "/4"]  # /2 was not committed: redelivered (at-least-once)
        # the loop above ended, so its subscription left the group: the next member gets the
        # partitions at once (it waited max.poll.interval.ms, 5 minutes, for a silent member)
        t0 = time.monotonic()
        assert [m for m in ctx.subscribe(C["Visit"], group=f"{p}-a", idle_timeout=2)] == []
        assert time.monotonic() - t0 < 60


def test_manual_commit_and_nack(project):
    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        for i in range(4):
            ctx.add(C["Visit"](customer_id="k", page=f"/{i}"))
        ctx.flush()
        pages, nacked = [], False
        for msg in ctx.subscribe(C["Visit"], group=f"{p}-m", commit="manual", idle_timeout=3):
            pages.append(msg.value.page)
            assert msg.key == "k" and msg.partition >= 0 and msg.timestamp.tzinfo is not None
            if msg.value.page == "/1" and not nacked:
                nacked = True
                msg.nack()
                continue
            if msg.value.page in ("/0", "/1"):
                msg.commit()
        assert pages == ["/0", "/1", "/1", "/2", "/3"]
    with context(root) as ctx:
        C = classes(ctx)
        # /2 and /3 were never committed
        assert [m.value.page for m in ctx.subscribe(C["Visit"], group=f"{p}-m", commit="manual", idle_timeout=3)] \
            == ["/2", "/3"]


def test_for_each_dead_letters_then_dlq_replay_brings_them_back(project):
    root, p, _ = project
    from kctx_cli.dlq.headers import origin

    with context(root) as ctx:
        C = classes(ctx)
        orders = sample_orders(C, 6)
        for o in orders:
            ctx.add(o)
        ctx.flush()
        counted: dict = {}
        broken = {orders[1].order_id, orders[4].order_id}

        def handler(msg):
            if msg.value.order_id in broken:
                raise ValueError(f"cannot bill {msg.value.order_id}")
            counted[msg.value.order_id] = counted.get(msg.value.order_id, 0) + 1

        r = ctx.for_each(C["Order"], handler, group=f"{p}-billing", retries=2, backoff=0.01, idle_timeout=3)
        assert (r.processed, r.dead_lettered, r.retried) == (4, 2, 4)
        dlq = [m for m in ctx.subscribe(C["Order"], group=f"{p}-peek", idle_timeout=1)]  # noqa: F841
        # the DLQ holds the original bytes with kctx's headers
        from confluent_kafka import Consumer

        cons = Consumer({"bootstrap.servers": ctx.config.bootstrap_servers, "group.id": f"{p}-dlq-peek",
                         "auto.offset.reset": "earliest"})
        cons.subscribe([f"{p}_orders-dlq"])
        recs = []
        for _ in range(50):
            m = cons.poll(0.5)
            if m is not None and not m.error():
                recs.append(m)
            if len(recs) == 2:
                break
        cons.close()
        assert len(recs) == 2
        for m in recs:
            o = origin(m.headers())
            assert (o.convention, o.topic, o.error_code) == ("kctx", f"{p}_orders", "ValueError")
            assert o.error_message.startswith("cannot bill ")
            assert o.timestamp == int(NOW.timestamp() * 1000) + 1000 * [x.order_id for x in orders].index(
                ctx._codec(C["Order"]).decoder()(m.key(), m.value()).order_id)

        r = run_kctx("dlq", "replay", f"{p}_orders-dlq", cwd=root, env={"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"})
        assert r.returncode == 0, r.stdout + r.stderr
        broken.clear()  # fixed
        r = ctx.for_each(C["Order"], handler, group=f"{p}-billing", idle_timeout=3)
        assert (r.processed, r.dead_lettered) == (2, 0)
    assert sorted(counted.values()) == [1] * 6 and set(counted) == {o.order_id for o in orders}


def test_bad_input_goes_to_the_dlq_or_is_one_error(project):
    from confluent_kafka import Producer

    from kctx_cli.dlq.headers import origin
    from kctx_cli.runtime import ConsumeError, DeserializationError
    from kctx_cli.tail.partitioner import partition_for  # noqa: F401

    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        good = sample_orders(C, 1)[0]
        k, v = ctx._codec(C["Order"]).encode(good)
        prod = Producer({"bootstrap.servers": ctx.config.bootstrap_servers})
        prod.produce(f"{p}_orders", b"not avro at all", k, partition=0)
        prod.produce(f"{p}_orders", b"\x00" + (2**31 - 7).to_bytes(4, "big") + v[5:], k, partition=0)
        prod.produce(f"{p}_orders", v[:7], k, partition=0)  # truncated body
        prod.produce(f"{p}_orders", v, b"plain-text-key", partition=0)
        prod.produce(f"{p}_orders", v, b"\x00" + (2**31 - 5).to_bytes(4, "big") + k[5:], partition=0)
        prod.produce(f"{p}_orders", v, k, partition=0)
        prod.flush()
        with pytest.raises(DeserializationError, match=rf"^{p}_orders\[0\]@0: Order: the value is not "
                                                       r"Confluent-framed Avro \(magic byte 6e, 15 bytes\)$"):
            for _ in ctx.subscribe(C["Order"], group=f"{p}-strict", idle_timeout=5):
                pass
        seen = []
        r = ctx.for_each(C["Order"], lambda m: seen.append(m.value), group=f"{p}-lenient", idle_timeout=3)
        assert seen == [good] and (r.processed, r.dead_lettered) == (1, 5)
        codes = [x.split(": ")[1] for x in r.errors]
        assert codes == ["deserialization", "unknown-schema", "deserialization", "deserialization",
                         "unknown-schema"], r.errors
        assert "the value's schema id 2147483641 is unknown to the schema registry" in r.errors[1]
        assert "the key is not Confluent-framed Avro (magic byte 70, 14 bytes)" in r.errors[3]
        assert "the key's schema id 2147483643 is unknown to the schema registry" in r.errors[4]

        # a topic the migrations never created
        missing = root / "models" / "shop.py"
        missing.write_text(missing.read_text() + textwrap.dedent(f'''

            class Ghost(Stream):
                id: Annotated[str, Key]

                class Meta:
                    topic = "{p}_ghost"
            '''))
    with context(root) as ctx:
        with pytest.raises(ConsumeError, match=rf"^topic {p}_ghost does not exist: run kctx migrate$"):
            for _ in ctx.subscribe(classes(ctx)["Ghost"], group=f"{p}-ghost", idle_timeout=10):
                pass


def test_process_exactly_once_without_crash(project):
    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        for i in range(10):
            ctx.add(C["Visit"](customer_id=f"v{i}", page=f"/{i}"))
        ctx.flush()

        def to_customer(msg):
            return C["Customer"](customer_id=msg.value.customer_id, name=msg.value.page.upper())

        r = ctx.process(C["Visit"], to_customer, group=f"{p}-proc", idle_timeout=3)
        assert (r.processed, r.produced) == (10, 10) and r.transactions >= 1
        r = ctx.process(C["Visit"], to_customer, group=f"{p}-proc", idle_timeout=2)
        assert r.processed == 0
        out = [m.value for m in ctx.subscribe(C["Customer"], group=f"{p}-out", idle_timeout=3)]
    assert sorted(c.customer_id for c in out) == [f"v{i}" for i in range(10)]


# --------------------------------------------------------------------------- tables

def test_table_reads_from_the_warm_cache_kept_current(project, tmp_path, monkeypatch):
    root, p, _ = project
    cache = tmp_path / "cache"
    monkeypatch.setenv("KCTX_CACHE_DIR", str(cache))
    with context(root) as ctx:
        C = classes(ctx)
        Customer = C["Customer"]
        for i in range(20):
            ctx.add(Customer(customer_id=f"c{i}", name=f"Name {i}", tier=i % 4))
        ctx.flush()
    # pre-warmed by the CLI, as an operator would
    r = run_kctx("cache", "warm", f"{p}_customers", "--store", "decoded", cwd=root,
                 env={"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}", "KCTX_CACHE_DIR": str(cache)})
    assert r.returncode == 0, r.stdout + r.stderr
    with context(root) as ctx:
        C = classes(ctx)
        Customer = C["Customer"]
        t = ctx.table(Customer, refresh_interval=0.2)
        assert t.get("c3") == Customer(customer_id="c3", name="Name 3", tier=3)
        assert t.get("c3") is not t.get("c3")  # a fresh instance per call
        assert t.get("nope") is None and "c1" in t and len(t) == 20
        assert sorted(c.customer_id for c in t.to_list()) == sorted(f"c{i}" for i in range(20))
        assert t.first(where=(Customer.tier == 3) & Customer.name.like("%19")) == \
            Customer(customer_id="c19", name="Name 19", tier=3)
        assert {c.customer_id for c in t.filter(where=Customer.tier >= 3)} == {f"c{i}" for i in range(3, 20, 4)}
        # kept current from the topic by the background thread
        ctx.add(Customer(customer_id="c3", name="Renamed", tier=0))
        ctx.add(Customer(customer_id="c99", name="New", tier=1))
        ctx.flush()
        t.wait_until_current(60)
        assert t.get("c3").name == "Renamed" and t.get("c99").tier == 1
    assert (cache / f"{p}_customers" / "CURRENT").is_file()

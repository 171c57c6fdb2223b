"""The services runtime against bare confluent-kafka (issue 14): typed produce and consume
of N Avro entities vs a loop doing the same work with AvroSerializer/AvroDeserializer,
and ``ctx.table(...).get`` latency.

    set -a; eval "$(tests/stack/up)"; set +a
    python bench/bench_runtime.py [--n 1000000] [--rounds 2] [--gets 200000]
    python bench/bench_runtime.py --breakdown --n 20000 --rounds 21   # where the produce gap is

Both sides produce the same records (UUID key in Avro, a value of 7 fields: strings, an
INT, a DECIMAL(18, 4), a timestamp-millis, a nullable string) with the same producer
settings (murmur2_random, idempotence, acks=all, linger.ms=5): the bare loop builds a
dict per record and calls the two serializers, kctx builds an entity (validated) and
calls ``ctx.add`` (the value through AvroSerializer, the key written with fastavro under
confluent-kafka's framing: the same bytes, runtime/codec.py ``_avro_writer``). Consumers read the same topic from the beginning in a fresh group:
the bare loop deserialises key and value to dicts, kctx yields typed ``Message``s. Runs
alternate (bare, kctx, bare, kctx...) and the ratio of median throughputs is printed;
throughput is records per second of process CPU time (librdkafka's threads included)
unless --wall.
The topic and a 20,000-row table are created with kctx migrate in a temp project.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = '''
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from kctx_cli.model import Int32, Key, Precision, Stream, Table


class BenchOrder(Stream):
    order_id: Annotated[UUID, Key]
    customer_id: str
    product_id: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4)]
    ordered_at: datetime
    coupon: Optional[str] = None

    class Meta:
        topic = "{p}_orders"
        name = "{P}_ORDERS"
        partitions = 3
        timestamp = "ordered_at"


class BenchCustomer(Table):
    customer_id: Annotated[str, Key]
    name: str
    email: str
    tier: Int32 = 0
    registered_at: datetime

    class Meta:
        topic = "{p}_customers"
        name = "{P}_CUSTOMERS"
        partitions = 3
'''

# record timestamps start now: the topic's retention (7 days) deletes records whose
# timestamps are older, in the middle of a run (a fixed past date lost 1M records that way)
T0 = datetime.now(timezone.utc).replace(microsecond=0)
T0_MS = int(T0.timestamp()) * 1000
# CPU time of the whole process (librdkafka's threads included, the same work on both
# sides): on a shared machine wall time mostly measures the neighbours; --wall for it
CLOCK = time.process_time


def kctx(*args, cwd, env):
    r = subprocess.run([sys.executable, "-m", "kctx_cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"kctx {' '.join(args)} failed: {r.stdout}{r.stderr}")


def setup(tmp: Path, p: str) -> Path:
    root = tmp / "proj"
    (root / "models").mkdir(parents=True)
    (root / "migrations").mkdir()
    (root / "kctx.toml").write_text('[project]\nmodels = "models"\nmigrations = "migrations"\n')
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "bench.py").write_text(MODELS.replace("{p}", p).replace("{P}", p.upper()))
    env = dict(os.environ, PYTHONPATH=str(REPO), KCTX_MIGRATIONS_TOPIC=f"_kctx_{p}")
    kctx("makemigrations", cwd=root, env=env)
    kctx("migrate", cwd=root, env=env)
    os.environ["KCTX_MIGRATIONS_TOPIC"] = f"_kctx_{p}"
    return root


def values(i: int):
    return (uuid.UUID(int=i + 1), f"c{i % 1000}", f"p{i % 97}", i % 10 + 1, Decimal(i % 100000) / 100,
            T0 + timedelta(milliseconds=i), None if i % 3 else "SAVE")


def bare_produce(ctx, topic: str, n: int) -> float:
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    reg = ctx._write_registry()
    vs = reg.get_latest_version(f"{topic}-value").schema.schema_str
    ks = reg.get_latest_version(f"{topic}-key").schema.schema_str
    conf = {"auto.register.schemas": False, "use.latest.version": False}
    vser, kser = AvroSerializer(reg, vs, conf=conf), AvroSerializer(reg, ks, conf=conf)
    vctx, kctx_ = SerializationContext(topic, MessageField.VALUE), SerializationContext(topic, MessageField.KEY)
    p = Producer(ctx._producer_conf())
    t = CLOCK()
    for i in range(n):
        oid, c, pr, q, a, ts, cp = values(i)
        d = {"customer_id": c, "product_id": pr, "quantity": q, "amount": a, "ordered_at": ts, "coupon": cp}
        value = vser(d, vctx)
        key = kser(oid, kctx_)
        while True:
            try:
                p.produce(topic, value, key, timestamp=(ts - T0) // timedelta(milliseconds=1) + T0_MS)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    p.flush()
    return n / (CLOCK() - t)


def kctx_produce(ctx, cls, n: int) -> float:
    t = CLOCK()
    add = ctx.add
    for i in range(n):
        oid, c, pr, q, a, ts, cp = values(i)
        add(cls(order_id=oid, customer_id=c, product_id=pr, quantity=q, amount=a, ordered_at=ts, coupon=cp))
    ctx.flush()
    return n / (CLOCK() - t)


def bare_consume(ctx, topic: str, n: int) -> float:
    from confluent_kafka import Consumer
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    reg = ctx.registry
    vde, kde = AvroDeserializer(reg), AvroDeserializer(reg)
    vctx, kctx_ = SerializationContext(topic, MessageField.VALUE), SerializationContext(topic, MessageField.KEY)
    c = Consumer(ctx._kafka_conf(**{"group.id": f"bench-{uuid.uuid4().hex}", "auto.offset.reset": "earliest",
                                    "enable.auto.commit": True, "enable.auto.offset.store": False,
                                    "isolation.level": "read_committed", "fetch.queue.backoff.ms": 10}))
    c.subscribe([topic])
    got = 0
    t = None
    while got < n:
        msgs = c.consume(500, 1.0)
        if msgs and t is None:
            t = CLOCK()
        for m in msgs:
            if m.error():
                continue
            v = vde(m.value(), vctx)
            k = kde(m.key(), kctx_)
            v["order_id"] = k
            c.store_offsets(message=m)
            got += 1
    dt = CLOCK() - t
    c.close()
    return n / dt


def kctx_consume(ctx, cls, n: int) -> float:
    t = None
    got = 0
    for msg in ctx.subscribe(cls, group=f"bench-{uuid.uuid4().hex}", max_messages=n):
        if t is None:
            t = CLOCK()
        got += 1
        msg.value  # noqa: B018 - the typed entity, as a handler would use it
    return n / (CLOCK() - t)


def gets(ctx, cls, rows: int, count: int) -> tuple[float, float]:
    for i in range(rows):
        ctx.add(cls(customer_id=f"cust-{i}", name=f"Name {i}", email=f"c{i}@example.com", tier=i % 5,
                    registered_at=T0 + timedelta(seconds=i)))
    ctx.flush()
    tv = ctx.table(cls, follow=False)
    tv.wait_until_current(120)
    assert tv.get("cust-7").email == "c7@example.com"
    keys = [f"cust-{(i * 7919) % rows}" for i in range(1000)]
    per = []
    get = tv.get
    for _ in range(count // 1000):
        t = CLOCK()
        for k in keys:
            get(k)
        per.append((CLOCK() - t) / len(keys) * 1e6)
    raw = tv._table
    raw_per = []
    rget = raw.get
    kb = [k.encode() for k in keys]
    for _ in range(count // 1000):
        t = CLOCK()
        for k in kb:
            rget(k)
        raw_per.append((CLOCK() - t) / len(keys) * 1e6)
    tv.close()
    return statistics.median(per), statistics.median(raw_per)


def breakdown(ctx, cls, topic: str, n: int, rounds: int) -> None:
    """Where the produce gap is: the loops' pieces, alternating, median µs per record
    (``--breakdown``): the serializers + produce over pre-built dicts, with and without a
    delivery callback, ``ctx.add`` over pre-built entities, and building the values as a
    dict or as a validated entity."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    reg = ctx._write_registry()
    conf = {"auto.register.schemas": False, "use.latest.version": False}
    vser = AvroSerializer(reg, reg.get_latest_version(f"{topic}-value").schema.schema_str, conf=conf)
    kser = AvroSerializer(reg, reg.get_latest_version(f"{topic}-key").schema.schema_str, conf=conf)
    vctx, kctx_ = SerializationContext(topic, MessageField.VALUE), SerializationContext(topic, MessageField.KEY)
    p = Producer(ctx._producer_conf())

    def dicts():
        out = []
        for i in range(n):
            oid, c, pr, q, a, ts, cp = values(i)
            out.append((oid, {"customer_id": c, "product_id": pr, "quantity": q, "amount": a, "ordered_at": ts,
                              "coupon": cp}))
        return out

    def bare(cb):
        items = dicts()
        t = CLOCK()
        for oid, d in items:
            value, key = vser(d, vctx), kser(oid, kctx_)
            ts = (d["ordered_at"] - T0) // timedelta(milliseconds=1) + T0_MS
            while True:
                try:
                    if cb is None:
                        p.produce(topic, value, key, timestamp=ts)
                    else:
                        p.produce(topic, value, key, timestamp=ts, on_delivery=cb)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        p.flush()
        return CLOCK() - t

    def add():
        items = [cls(order_id=oid, customer_id=c, product_id=pr, quantity=q, amount=a, ordered_at=ts, coupon=cp)
                 for oid, c, pr, q, a, ts, cp in map(values, range(n))]
        t = CLOCK()
        for e in items:
            ctx.add(e)
        ctx.flush()
        return CLOCK() - t

    def build(entity: bool):
        t = CLOCK()
        for i in range(n):
            oid, c, pr, q, a, ts, cp = values(i)
            if entity:
                cls(order_id=oid, customer_id=c, product_id=pr, quantity=q, amount=a, ordered_at=ts, coupon=cp)
            else:
                {"customer_id": c, "product_id": pr, "quantity": q, "amount": a, "ordered_at": ts, "coupon": cp}
        return CLOCK() - t

    variants = {
        "bare loop over pre-built dicts": lambda: bare(None),
        "the same with a delivery callback": lambda: bare(ctx._delivered),
        "ctx.add over pre-built entities": add,
        "values(i) + a dict": lambda: build(False),
        "values(i) + a validated entity": lambda: build(True),
        "bare produce, building as it goes": lambda: n / bare_produce(ctx, topic, n),  # seconds
        "kctx produce, building as it goes": lambda: n / kctx_produce(ctx, cls, n),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for k, f in variants.items():
            times[k].append(f() / n * 1e6)
    for k, v in times.items():
        print(f"{k:40s} {statistics.median(v):6.2f} us/record  {[round(x, 2) for x in v]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--gets", type=int, default=200_000)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--wall", action="store_true", help="wall-clock time instead of process CPU time")
    ap.add_argument("--breakdown", action="store_true",
                    help="instead: the produce loops' pieces, --rounds alternating runs of --n records")
    a = ap.parse_args()
    global CLOCK
    if a.wall:
        CLOCK = time.perf_counter
    p = "bench_rt_" + uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        root = setup(Path(tmp), p)
        os.environ["KCTX_CACHE_DIR"] = str(Path(tmp) / "cache")
        sys.path.insert(0, str(root))
        from kctx_cli import KafkaContext

        with KafkaContext(project=root) as ctx:
            ctx.ensure_ready()
            order = ctx.project.get("BenchOrder").cls
            cust = ctx.project.get("BenchCustomer").cls
            topic = f"{p}_orders"
            if a.breakdown:
                breakdown(ctx, order, topic, a.n, a.rounds)
                return
            prod = {"bare": [], "kctx": []}
            cons = {"bare": [], "kctx": []}
            for _ in range(a.rounds):
                prod["bare"].append(bare_produce(ctx, topic, a.n))
                prod["kctx"].append(kctx_produce(ctx, order, a.n))
            total = a.n  # the first n records of the topic (each consume run starts a new group)
            for _ in range(a.rounds):
                cons["bare"].append(bare_consume(ctx, topic, total))
                cons["kctx"].append(kctx_consume(ctx, order, total))
            g, rg = gets(ctx, cust, a.rows, a.gets)
        for what, d, count in (("produce", prod, a.n), ("consume", cons, total)):
            b, k = statistics.median(d["bare"]), statistics.median(d["kctx"])
            print(f"{what} {count:,} records: bare {b:,.0f}/s {[round(x) for x in d['bare']]}, "
                  f"kctx {k:,.0f}/s {[round(x) for x in d['kctx']]}: ratio {k / b:.2f}")
        print(f"table get (typed entity): median {g:.2f} us; the cache's own decoded get: {rg:.2f} us")
        subprocess.run([sys.executable, "-c", f"""
import sys; sys.path.insert(0, {str(REPO)!r})
from confluent_kafka.admin import AdminClient
from kctx_cli.config import load_config
a = AdminClient(load_config({str(root)!r}).kafka_config())
fs = a.delete_topics(['{p}_orders', '{p}_customers', '_kctx_{p}'])
[f.result() for f in fs.values()]
"""], cwd=root)
        from kctx_cli.backends.ksqldb import KsqlClient
        from kctx_cli.config import load_config

        cfg = load_config(root)
        if cfg.ksqldb_url:
            k = KsqlClient(cfg.ksqldb_url, cfg.ksqldb)
            for stmt in (f"DROP STREAM IF EXISTS {p.upper()}_ORDERS;", f"DROP TABLE IF EXISTS {p.upper()}_CUSTOMERS;"):
                try:
                    k.request(stmt)
                except Exception:  # noqa: BLE001 - best effort
                    pass


if __name__ == "__main__":
    main()

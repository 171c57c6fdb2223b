"""Helpers for the incident-tool stack tests (tail, dlq, cache): real clients only."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from fastavro import parse_schema, schemaless_writer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def admin(bootstrap):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})


def create_topic(bootstrap, name, partitions=1, config=None):
    from confluent_kafka.admin import NewTopic

    a = admin(bootstrap)
    a.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(30)


def producer(bootstrap, **extra):
    from confluent_kafka import Producer

    # murmur2_random = Java's default partitioner for keyed records
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5, **extra})


def produce(bootstrap, topic, records, **extra):
    """records: dicts with key/value/headers/timestamp/partition. Returns delivered
    (partition, offset) in input order."""
    p = producer(bootstrap, **extra)
    out: list = [None] * len(records)

    def cb(i):
        def f(err, msg):
            assert err is None, err
            out[i] = (msg.partition(), msg.offset())
        return f

    for i, r in enumerate(records):
        kw = {k: r[k] for k in ("key", "value", "headers", "timestamp", "partition") if k in r}
        p.produce(topic, on_delivery=cb(i), **kw)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    return out


def register(registry_url, subject, schema: dict) -> int:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    return SchemaRegistryClient({"url": registry_url}).register_schema(subject, Schema(json.dumps(schema), "AVRO"))


def avro(schema_id: int, schema: dict, record) -> bytes:
    b = io.BytesIO()
    schemaless_writer(b, parse_schema(schema), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + b.getvalue()


def kctx(*args, env=None, timeout=120, check=None):
    """Run the real CLI; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([sys.executable, "-m", "kctx_cli", *args], capture_output=True, text=True, env=e,
                       timeout=timeout, cwd=REPO)
    if check is not None:
        assert r.returncode == check, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_all(bootstrap, topic, isolation="read_committed", timeout=30.0, settle=10.0):
    """Every record of a topic (all partitions) with a throwaway assign-only consumer.

    Kafka writes a committed transaction's markers after EndTxn has returned, so right
    after a commit the last stable offset can still lag the high watermark: a
    read_committed read first waits (up to ``settle`` s) until no transaction is in
    flight; a transaction left open on purpose (a killed producer) is then read around.
    A partition is done at an end-of-partition event at or past that end offset;
    ``timeout`` bounds the whole read."""
    import time

    from confluent_kafka import Consumer, KafkaError, TopicPartition

    def consumer(level):
        return Consumer({"bootstrap.servers": bootstrap, "group.id": "kctx-test-reader", "enable.auto.commit": False,
                         "isolation.level": level, "enable.partition.eof": True, "log_level": 0})

    c = consumer(isolation)
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        parts = sorted(md.partitions)

        def ends(cons):  # the LSO for a read_committed consumer, else the high watermark
            return {p: cons.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}

        high = ends(c)
        if isolation == "read_committed":
            probe = consumer("read_uncommitted")
            try:
                settle_until = time.monotonic() + settle
                while high != ends(probe) and time.monotonic() < settle_until:
                    time.sleep(0.2)
                    high = ends(c)
            finally:
                probe.close()
        c.assign([TopicPartition(topic, p, -2) for p in parts])  # OFFSET_BEGINNING
        pending, out = set(parts), []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for m in c.consume(1000, timeout=1.0):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= high[m.partition()]:
                        pending.discard(m.partition())
                    continue
                out.append(m)
        return out
    finally:
        c.close()

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


def read_all(bootstrap, topic, isolation="read_committed"):
    """Every record of a topic (all partitions) with a throwaway assign-only consumer."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kctx-test-reader", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": True, "log_level": 0})
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        parts = sorted(md.partitions)
        c.assign([TopicPartition(topic, p, -2) for p in parts])  # OFFSET_BEGINNING
        pending, out = set(parts), []
        while pending:
            for m in c.consume(1000, timeout=1.0):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        pending.discard(m.partition())
                    continue
                out.append(m)
        return out
    finally:
        c.close()

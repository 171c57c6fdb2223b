#!/usr/bin/env python3
"""kctx tail throughput vs baselines, on the real stack (eval "$(tests/stack/up)").

1. JSON lines: `kctx tail T -o jsonl > /dev/null` vs a bare confluent-kafka + fastavro
   loop doing the same decode and json.dumps (target: kctx >= 70% of the baseline).
2. Raw bytes: `kctx tail T -o raw > /dev/null` vs Debian's kcat `-C -e -q -f '%s\\n'`.

Both sides run as processes (start-up included, as a user would run them), alternating,
ROUNDS times; medians are reported.

    python bench/bench_tail.py [--records 200000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from decimal import Decimal

SCHEMA = {
    "type": "record", "name": "Order", "namespace": "bench",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer_id", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4}},
        {"name": "quantity", "type": "int"},
        {"name": "status", "type": "string"},
        {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}

BASELINE = textwrap.dedent('''
    import base64, datetime, decimal, io, json, sys
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from fastavro import parse_schema, schemaless_reader

    topic, n, bootstrap, registry = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    def default(o):
        if isinstance(o, decimal.Decimal): return str(o)
        if isinstance(o, datetime.datetime): return o.isoformat()
        if isinstance(o, bytes): return base64.b64encode(o).decode()
        raise TypeError(o)
    reg = SchemaRegistryClient({"url": registry})
    schemas = {}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-bare", "enable.auto.commit": False,
                  "fetch.queue.backoff.ms": 10})  # as kctx's consumers (default 1 s starves readers)
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, -2) for p in parts])
    out = open("/dev/null", "w")
    seen = 0
    while seen < n:
        for m in c.consume(1000, timeout=1.0):
            if m.error(): continue
            v = m.value()
            sid = int.from_bytes(v[1:5], "big")
            s = schemas.get(sid)
            if s is None:
                s = schemas[sid] = parse_schema(json.loads(reg.get_schema(sid).schema_str))
            b = io.BytesIO(v); b.seek(5)
            rec = schemaless_reader(b, s, None)
            out.write(json.dumps({"partition": m.partition(), "offset": m.offset(), "key": m.key().decode(),
                                  "value": rec}, default=default) + "\\n")
            seen += 1
    c.close()
''')


def produce(bootstrap, registry, topic, n):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from fastavro import parse_schema, schemaless_writer

    adm = AdminClient({"bootstrap.servers": bootstrap})  # keep it alive while the future runs
    adm.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    sid = SchemaRegistryClient({"url": registry}).register_schema(f"{topic}-value", Schema(json.dumps(SCHEMA), "AVRO"))
    parsed = parse_schema(SCHEMA)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1000000,
                  "queue.buffering.max.messages": 1000000, "partitioner": "murmur2_random"})
    head = b"\x00" + sid.to_bytes(4, "big")
    for i in range(n):
        b = io.BytesIO()
        schemaless_writer(b, parsed, {
            "order_id": f"o-{i:08d}", "customer_id": f"c-{i % 5000:05d}", "amount": Decimal(i % 100000) / 100,
            "quantity": i % 17, "status": ("NEW", "PAID", "SHIPPED")[i % 3], "created_at": 1700000000000 + i,
            "note": None if i % 2 else "gift wrap", "tags": ["web", "eu"] if i % 5 else []})
        p.produce(topic, key=f"c-{i % 5000:05d}".encode(), value=head + b.getvalue())
        if i % 20000 == 0:
            p.poll(0)
    p.flush(120)


def timed(cmd, env=None) -> float:
    t = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(cmd, stdout=devnull, check=True, env=env)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    bootstrap = os.environ.get("KCTX_BOOTSTRAP_SERVERS")
    registry = os.environ.get("KCTX_SCHEMA_REGISTRY_URL")
    if not bootstrap or not registry:
        print('start the stack first: eval "$(tests/stack/up)"', file=sys.stderr)
        return 1
    topic = f"bench_tail_{uuid.uuid4().hex[:8]}"
    t = time.perf_counter()
    produce(bootstrap, registry, topic, a.records)
    print(f"produced {a.records:,} Avro records to {topic} in {time.perf_counter() - t:.1f}s")

    kctx = [sys.executable, "-m", "kctx_cli", "tail", topic]
    bare = [sys.executable, "-c", BASELINE, topic, str(a.records), bootstrap, registry]
    kcat = shutil.which("kcat")
    runs: dict[str, list[float]] = {"kctx jsonl": [], "bare loop": [], "kctx raw": [], "kcat": []}
    for _ in range(a.rounds):
        runs["bare loop"].append(timed(bare))
        runs["kctx jsonl"].append(timed(kctx + ["-o", "jsonl"]))
        runs["kctx raw"].append(timed(kctx + ["-o", "raw"]))
        if kcat:
            runs["kcat"].append(timed([kcat, "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f", "%s\n"]))
    med = {k: statistics.median(v) for k, v in runs.items() if v}
    for k, v in med.items():
        print(f"{k:>11}: median {v:6.2f}s  {a.records / v:>9,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in runs[k])})")
    print(f"jsonl: kctx / bare loop = {med['bare loop'] / med['kctx jsonl']:.0%} of the baseline's rate (target >= 70%)")
    if "kcat" in med:
        print(f"raw:   kctx / kcat = {med['kcat'] / med['kctx raw']:.0%} of kcat's rate")
    else:
        print("raw:   kcat not installed (apt-get install kcat); no comparison")
    from confluent_kafka.admin import AdminClient

    adm = AdminClient({"bootstrap.servers": bootstrap})
    for f in adm.delete_topics([topic]).values():
        f.result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

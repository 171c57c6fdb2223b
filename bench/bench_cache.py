#!/usr/bin/env python3
"""kctx cache warm vs a bare consume loop over the same topic, on the real stack.

- warm: `kctx_cli.cache.warm.warm()` into a fresh directory vs a bare confluent-kafka loop
  (assign, consume(10000) until every record was seen, touching key and value); both
  in-process with the same client settings, alternating, ROUNDS times, medians
  (target: warm >= 60% of the bare loop's rate);
- re-warm with nothing new (target <= 1 s);
- `get` through the Python API (open_table), per call, median over 100k random keys
  (target <= 5 us), raw bytes and decoded Avro.

    python bench/bench_cache.py [--records 200000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_tail import produce  # noqa: E402  (same Avro order records, keys c-00000..c-04999)


def bare_loop(bootstrap, topic, n):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-bare", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "fetch.max.bytes": 52428800,
                  "fetch.queue.backoff.ms": 10})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, -2) for p in parts])
    seen = 0
    while seen < n:
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                continue
            m.key(), m.value()
            seen += 1
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", type=int, default=100_000, help="get samples")
    a = ap.parse_args()
    bootstrap = os.environ.get("KCTX_BOOTSTRAP_SERVERS")
    registry = os.environ.get("KCTX_SCHEMA_REGISTRY_URL")
    if not bootstrap or not registry:
        print('start the stack first: eval "$(tests/stack/up)"', file=sys.stderr)
        return 1
    from kctx_cli.cache import open_table
    from kctx_cli.cache.warm import warm
    from kctx_cli.config import load_config

    cfg = load_config()
    topic = f"bench_cache_{uuid.uuid4().hex[:8]}"
    t = time.perf_counter()
    produce(bootstrap, registry, topic, a.records)
    print(f"produced {a.records:,} Avro records (5,000 keys) to {topic} in {time.perf_counter() - t:.1f}s")

    base = tempfile.mkdtemp(prefix="bench-cache-")
    bare, warms = [], []
    for r in range(a.rounds):
        t = time.perf_counter()
        bare_loop(bootstrap, topic, a.records)
        bare.append(time.perf_counter() - t)
        shutil.rmtree(os.path.join(base, topic), ignore_errors=True)
        t = time.perf_counter()
        res = warm(cfg, topic, base=__import__("pathlib").Path(base))
        warms.append(time.perf_counter() - t)
        assert res.records == a.records, res
    mb, mw = statistics.median(bare), statistics.median(warms)
    print(f"bare consume loop: median {mb:.2f}s  {a.records / mb:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"kctx cache warm:   median {mw:.2f}s  {a.records / mw:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in warms)})")
    print(f"warm = {mb / mw:.0%} of the bare loop's rate (target >= 60%)")

    rewarm = []
    for _ in range(5):
        t = time.perf_counter()
        res = warm(cfg, topic, base=__import__("pathlib").Path(base))
        rewarm.append(time.perf_counter() - t)
        assert res.up_to_date
    print(f"re-warm, nothing new: median {statistics.median(rewarm) * 1000:.0f} ms (target <= 1000 ms)")

    keys = [f"c-{random.randrange(5000):05d}" for _ in range(a.keys)]
    with open_table(topic, cache_dir=base) as tab:
        for name, fn in (("get_raw", tab.get_raw), ("get (decoded Avro)", tab.get)):
            ns = time.perf_counter_ns
            samples = []
            for k in keys:
                t0 = ns()
                fn(k)
                samples.append(ns() - t0)
            print(f"{name}: median {statistics.median(samples) / 1000:.2f} us, "
                  f"p99 {sorted(samples)[int(len(samples) * 0.99)] / 1000:.2f} us over {len(keys):,} calls")
        # for reference: fastavro alone on the same bytes (the floor of a decoded get)
        import io

        from fastavro import schemaless_reader
        raw = [tab.get_raw(k) for k in keys[:20000]]
        schema = tab._schema(int.from_bytes(raw[0][1:5], "big"))
        samples = []
        for v in raw:
            t0 = time.perf_counter_ns()
            b = io.BytesIO(v)
            b.seek(5)
            schemaless_reader(b, schema, None)
            samples.append(time.perf_counter_ns() - t0)
        print(f"fastavro schemaless_reader alone: median {statistics.median(samples) / 1000:.2f} us")
    shutil.rmtree(base, ignore_errors=True)
    from confluent_kafka.admin import AdminClient

    adm = AdminClient({"bootstrap.servers": bootstrap})
    for f in adm.delete_topics([topic]).values():
        f.result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

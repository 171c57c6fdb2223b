#!/usr/bin/env python3
"""kctx cache warm vs a bare consume loop over the same topic, on the real stack.

- warm: `kctx_cli.cache.warm.warm()` into a fresh directory vs a bare confluent-kafka loop
  (assign, consume(10000) until every record was seen, touching key and value); both
  in-process with the same client settings, alternating, ROUNDS times, medians
  (target: warm >= 80% of the bare loop's rate, default raw mode; issue 11); the same for
  `--store decoded` (decodes each key's latest value once per batch);
- re-warm with nothing new (target <= 1 s);
- `get` through the Python API (open_table), per call, median over 100k random keys
  (target <= 5 us): raw bytes, decoded Avro from a raw cache, a decoded cache; and, as
  baselines on the same values, fastavro alone and the stored forms we weighed
  (pickle protocol 5 of the decoded dict vs the marshal form kctx uses).

    python bench/bench_cache.py [--records 200000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

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
    dec_base = Path(base) / "decoded"
    bare, warms, dwarms = [], [], []
    for r in range(a.rounds):
        t = time.perf_counter()
        bare_loop(bootstrap, topic, a.records)
        bare.append(time.perf_counter() - t)
        shutil.rmtree(os.path.join(base, topic), ignore_errors=True)
        t = time.perf_counter()
        res = warm(cfg, topic, base=Path(base))
        warms.append(time.perf_counter() - t)
        assert res.records == a.records, res
        shutil.rmtree(dec_base / topic, ignore_errors=True)
        t = time.perf_counter()
        res = warm(cfg, topic, base=dec_base, store_mode="decoded")
        dwarms.append(time.perf_counter() - t)
        assert res.records == a.records and res.store == "decoded", res
    mb, mw, md = statistics.median(bare), statistics.median(warms), statistics.median(dwarms)
    print(f"bare consume loop:          median {mb:.2f}s  {a.records / mb:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"kctx cache warm (raw):      median {mw:.2f}s  {a.records / mw:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in warms)})")
    print(f"kctx cache warm (decoded):  median {md:.2f}s  {a.records / md:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in dwarms)})")
    print(f"warm raw = {mb / mw:.0%} of the bare loop's rate (target >= 80%); decoded = {mb / md:.0%}")

    rewarm = []
    for _ in range(5):
        t = time.perf_counter()
        res = warm(cfg, topic, base=Path(base))
        rewarm.append(time.perf_counter() - t)
        assert res.up_to_date
    print(f"re-warm, nothing new: median {statistics.median(rewarm) * 1000:.0f} ms (target <= 1000 ms)")

    keys = [f"c-{random.randrange(5000):05d}" for _ in range(a.keys)]
    ns = time.perf_counter_ns

    def per_call(name, fn, args):
        samples = []
        for x in args:
            t0 = ns()
            fn(x)
            samples.append(ns() - t0)
        med = statistics.median(samples) / 1000
        print(f"{name:<44} median {med:5.2f} us, p99 {sorted(samples)[int(len(samples) * 0.99)] / 1000:6.2f} us "
              f"over {len(args):,} calls")
        return med

    with open_table(topic, cache_dir=base) as tab, open_table(topic, cache_dir=dec_base) as dtab:
        assert all(dtab.get(k) == tab.get(k) for k in keys[:2000])  # same values in both modes
        per_call("get_raw (raw cache)", tab.get_raw, keys)
        per_call("get (raw cache: fastavro decode per call)", tab.get, keys)
        per_call("get (--store decoded)", dtab.get, keys)
        # baselines on the same values: the floor of a decoded get from a raw cache, and
        # the stored forms weighed for decoded mode (loads only, no RocksDB read)
        import io
        import pickle

        from fastavro import schemaless_reader
        raw = [tab.get_raw(k) for k in keys[:20000]]
        schema = tab._schema(int.from_bytes(raw[0][1:5], "big"))

        def fastavro_alone(v):
            b = io.BytesIO(v)
            b.seek(5)
            schemaless_reader(b, schema, None)
        per_call("fastavro schemaless_reader alone", fastavro_alone, raw)
        pickles = [pickle.dumps(tab.get(k), 5) for k in keys[:20000]]
        per_call("pickle.loads (protocol 5) alone", pickle.loads, pickles)
        from kctx_cli.cache import codec
        fix = codec.fixer_for(json.loads(tab.meta(b"schema:%d" % int.from_bytes(raw[0][1:5], "big"))))

        def warm_time_decode(v):  # what decoded mode adds per written value (not per record read)
            b = io.BytesIO(v)
            b.seek(5)
            codec.encode_avro(v[1:5], schemaless_reader(b, schema, None), fix)
        per_call("warm-time decode + encode, per stored value", warm_time_decode, raw)
        stored = [dtab._db.get(k.encode()) for k in keys[:20000]]
        per_call("marshal form + restore (kctx decoded) alone", dtab._load, stored)
    shutil.rmtree(base, ignore_errors=True)
    from confluent_kafka.admin import AdminClient

    adm = AdminClient({"bootstrap.servers": bootstrap})
    for f in adm.delete_topics([topic]).values():
        f.result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""kctx dlq replay (exactly-once) vs a bare transactional consume-produce loop, on the
real stack. Both read the same DLQ topic from the start with their own consumer group
and transactional.id, write to their own target topic, batch 500 records per
transaction, and send the consumer offsets in each transaction; in-process, alternating,
ROUNDS times, medians (target: kctx >= 50% of the bare loop's rate).

    python bench/bench_dlq.py [--records 100000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def create(bootstrap, *topics):
    from confluent_kafka.admin import AdminClient, NewTopic

    adm = AdminClient({"bootstrap.servers": bootstrap})
    for f in adm.create_topics([NewTopic(t, 3, 1) for t in topics]).values():
        f.result(30)


def fill_dlq(bootstrap, dlq, orig, n):
    from confluent_kafka import Producer

    from kctx_cli.dlq.headers import kctx_headers

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "queue.buffering.max.messages": 1000000})
    value = b'{"order_id": "o-000000", "amount": "12.3400", "status": "NEW", "note": "' + b"x" * 100 + b'"}'
    for i in range(n):
        p.produce(dlq, key=b"k%d" % (i % 5000), value=value,
                  headers=kctx_headers(orig, i % 3, i, 1700000000000 + i, "E_VALIDATION", "amount out of range"))
        if i % 20000 == 0:
            p.poll(0)
    p.flush(120)


def bare_loop(bootstrap, dlq, target, n):
    from confluent_kafka import Consumer, Producer, TopicPartition

    group = f"bench-bare-{uuid.uuid4().hex[:8]}"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": "read_committed", "fetch.queue.backoff.ms": 10})
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": group, "partitioner": "murmur2_random"})
    p.init_transactions(30)
    parts = c.list_topics(dlq, timeout=10).topics[dlq].partitions
    c.assign([TopicPartition(dlq, q, -2) for q in parts])
    seen = 0
    while seen < n:
        msgs = [m for m in c.consume(500, timeout=1.0) if not m.error()]
        if not msgs:
            continue
        p.begin_transaction()
        nxt = {}
        for m in msgs:
            p.produce(target, key=m.key(), value=m.value(), headers=m.headers())
            nxt[m.partition()] = m.offset() + 1
        p.send_offsets_to_transaction([TopicPartition(dlq, q, o) for q, o in nxt.items()],
                                      c.consumer_group_metadata(), 30)
        p.commit_transaction(60)
        seen += len(msgs)
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    bootstrap = os.environ.get("KCTX_BOOTSTRAP_SERVERS")
    if not bootstrap:
        print('start the stack first: eval "$(tests/stack/up)"', file=sys.stderr)
        return 1
    from kctx_cli.config import load_config
    from kctx_cli.dlq.core import ReplayOptions, replay

    cfg = load_config()
    run = uuid.uuid4().hex[:8]
    orig, dlq = f"bench_dlq_{run}", f"bench_dlq_{run}-dlq"
    targets = [f"bench_dlq_{run}_t{i}" for i in range(2 * a.rounds)]
    create(bootstrap, orig, dlq, *targets)
    t = time.perf_counter()
    fill_dlq(bootstrap, dlq, orig, a.records)
    print(f"produced {a.records:,} dead-lettered records (kctx headers) to {dlq} in {time.perf_counter() - t:.1f}s")
    bare, kctx = [], []
    for r in range(a.rounds):
        t = time.perf_counter()
        bare_loop(bootstrap, dlq, targets[2 * r], a.records)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        res = replay(cfg, ReplayOptions(dlq=dlq, to=targets[2 * r + 1], group=f"bench-kctx-{run}-{r}"))
        kctx.append(time.perf_counter() - t)
        assert res.replayed == a.records, res
    mb, mk = statistics.median(bare), statistics.median(kctx)
    print(f"bare transactional loop: median {mb:.2f}s  {a.records / mb:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"kctx dlq replay (EOS):   median {mk:.2f}s  {a.records / mk:,.0f} rec/s  (runs: {', '.join(f'{x:.2f}' for x in kctx)})")
    print(f"kctx = {mb / mk:.0%} of the bare loop's rate (target >= 50%)")
    from confluent_kafka.admin import AdminClient

    adm = AdminClient({"bootstrap.servers": bootstrap})
    for f in adm.delete_topics([orig, dlq, *targets]).values():
        f.result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

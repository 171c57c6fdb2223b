"""kctx dlq list/show/replay against the real broker (transactions included)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kctx_cli.dlq.headers import kctx_headers
from test_tail_support import REPO, create_topic, kctx, produce, read_all

T0 = 1700000000000


def connect_headers(topic, p, o, exc="org.apache.kafka.connect.errors.DataException"):
    c = "__connect.errors."
    return [(c + "topic", topic.encode()), (c + "partition", str(p).encode()), (c + "offset", str(o).encode()),
            (c + "exception.class.name", exc.encode()), (c + "exception.message", b"Converting failed"),
            (c + "connector.name", b"sink-1")]


def spring_headers(topic, p, o, exc="java.lang.IllegalStateException"):
    s = "kafka_dlt-"
    return [(s + "original-topic", topic.encode()), (s + "original-partition", p.to_bytes(4, "big")),
            (s + "original-offset", o.to_bytes(8, "big")), (s + "original-timestamp", T0.to_bytes(8, "big")),
            (s + "exception-fqcn", exc.encode()), (s + "exception-message", b"boom")]


@pytest.fixture
def topics(bootstrap_servers, unique_name):
    orig, dlq = f"{unique_name}_orders", f"{unique_name}_orders-dlq"
    create_topic(bootstrap_servers, orig, 3)
    create_topic(bootstrap_servers, dlq, 2)
    return orig, dlq


def replay(*args, check=0):
    r = kctx("dlq", "replay", *args, "-o", "json", check=check)
    return json.loads(r.stdout)


@pytest.mark.parametrize("convention", ["kctx", "connect", "spring"])
def test_replay_each_header_convention(bootstrap_servers, topics, convention):
    orig, dlq = topics
    make = {"kctx": lambda i: kctx_headers(orig, 1, i, T0, "E_AMOUNT", "bad amount"),
            "connect": lambda i: connect_headers(orig, 1, i), "spring": lambda i: spring_headers(orig, 1, i)}[convention]
    recs = [{"key": f"k{i}".encode(), "value": f"v{i}".encode(), "headers": [("trace", b"x"), *make(i)]}
            for i in range(20)]
    produce(bootstrap_servers, dlq, recs)
    out = replay(dlq)
    assert (out["replayed"], out["parked"], out["mode"]) == (20, 0, "exactly-once")
    got = read_all(bootstrap_servers, orig)
    assert sorted(m.value() for m in got) == sorted(f"v{i}".encode() for i in range(20))
    for m in got:
        # the original's headers come back, the DLQ ones go, the replay is counted
        assert m.headers() == [("trace", b"x"), ("kctx-replayed", b"1")]
        # back to the original partition the headers name (1), whatever the key hashes to
        assert m.partition() == 1
    if convention in ("kctx", "spring"):
        assert {m.timestamp()[1] for m in got} == {T0}  # the original timestamp is kept
    # a re-run resumes after the committed offsets: nothing more
    assert replay(dlq)["replayed"] == 0
    assert len(read_all(bootstrap_servers, orig)) == 20


def test_dry_run_histogram_writes_nothing(bootstrap_servers, topics):
    orig, dlq = topics
    recs = [{"key": b"a", "value": b"1", "headers": kctx_headers(orig, 0, 1, None, "E1", "m")}] * 3 + \
           [{"key": b"b", "value": b"2", "headers": connect_headers(orig, 0, 2)}] * 2 + \
           [{"key": b"c", "value": b"3", "headers": kctx_headers(orig, 0, 3, None, "E1", "m") + [("kctx-replayed", b"3")]}]
    produce(bootstrap_servers, dlq, recs)
    out = replay(dlq, "--dry-run")
    assert out["histogram"] == [
        {"target": orig, "error_code": "E1", "action": "park", "count": 1},
        {"target": orig, "error_code": "E1", "action": "replay", "count": 3},
        {"target": orig, "error_code": "org.apache.kafka.connect.errors.DataException", "action": "replay", "count": 2},
    ]
    assert read_all(bootstrap_servers, orig, "read_uncommitted") == []
    md = __import__("test_tail_support").admin(bootstrap_servers).list_topics(timeout=10)
    assert f"{dlq}-parking" not in md.topics
    # nothing committed either: the real run replays everything
    text = kctx("dlq", "replay", dlq, "--dry-run", check=0).stdout
    assert "would replay 5, parked 1" in text and "dry run: nothing written" in text
    out = replay(dlq)
    assert (out["replayed"], out["parked"]) == (5, 1)
    parked = read_all(bootstrap_servers, f"{dlq}-parking")
    assert [m.value() for m in parked] == [b"3"] and ("kctx.dlq.error.code", b"E1") in parked[0].headers()


def test_filters_and_to(bootstrap_servers, topics, unique_name):
    orig, dlq = topics
    other = f"{unique_name}_fixed"
    create_topic(bootstrap_servers, other, 1)
    recs = [{"key": f"k{i % 3}".encode(), "value": f"v{i}".encode(), "timestamp": T0 + i * 1000,
             "headers": kctx_headers(orig, 0, i, None, "E1" if i % 2 else "E2", "m")} for i in range(12)]
    produce(bootstrap_servers, dlq, recs)
    assert replay(dlq, "--error-code", "E1", "--key", "k1", "--to", other)["replayed"] == 2  # i = 1, 7
    assert sorted(m.value() for m in read_all(bootstrap_servers, other)) == [b"v1", b"v7"]
    out = replay(dlq, "--since", str(T0 + 9000), "--until", "2023-11-14T22:13:30Z")  # i = 9, 10
    assert out["replayed"] == 2 and out["skipped"] == 10
    assert sorted(m.value() for m in read_all(bootstrap_servers, orig)) == [b"v10", b"v9"]
    # exception class names match by their simple name too
    produce(bootstrap_servers, dlq, [{"key": b"z", "value": b"vz", "headers": spring_headers(orig, 0, 99)}])
    assert replay(dlq, "--error-code", "IllegalStateException", "--dry-run")["replayed"] == 1


def test_at_least_once_mode(bootstrap_servers, topics):
    orig, dlq = topics
    produce(bootstrap_servers, dlq, [{"key": b"k", "value": b"v%d" % i, "headers": kctx_headers(orig, 0, i, None, "E", "m")}
                                     for i in range(10)])
    out = replay(dlq, "--at-least-once")
    assert (out["replayed"], out["mode"]) == (10, "at-least-once")
    assert replay(dlq, "--at-least-once")["replayed"] == 0
    assert len(read_all(bootstrap_servers, orig)) == 10


def test_list_and_show(bootstrap_servers, topics):
    orig, dlq = topics
    produce(bootstrap_servers, dlq, [{"key": b"k", "value": b'{"a": 1}', "timestamp": T0 + i,
                                      "headers": spring_headers(orig, 2, 40 + i)} for i in range(4)])
    rows = json.loads(kctx("dlq", "list", "--pattern", f"{orig}-.*", "-o", "json", check=0).stdout)
    row = next(r for r in rows if r["topic"] == dlq)
    assert (row["records"], row["partitions"], row["oldest"], row["newest"]) == \
        (4, 2, "2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20.003Z")
    assert [r["topic"] for r in rows] == [dlq]
    # the default pattern (no scan of each topic here: names only)
    from kctx_cli.config import load_config
    from kctx_cli.dlq.core import dlq_topics
    names = dlq_topics(load_config(), __import__("test_tail_support").admin(bootstrap_servers))
    assert dlq in names and orig not in names
    shown = json.loads(kctx("dlq", "show", dlq, "-o", "json", check=0).stdout)
    assert [s["origin"]["offset"] for s in shown] == [40, 41, 42, 43]
    assert shown[0]["origin"]["convention"] == "spring" and shown[0]["value"] == {"a": 1}
    assert shown[0]["origin"]["error_code"] == "java.lang.IllegalStateException"


def test_bad_input(bootstrap_servers, topics):
    orig, dlq = topics
    r = kctx("dlq", "replay", "nope-dlq")
    assert (r.returncode, r.stderr.strip()) == (1, "error: topic 'nope-dlq' does not exist")
    produce(bootstrap_servers, dlq, [{"key": b"k", "value": b"v", "partition": 0}])  # no DLQ headers
    r = kctx("dlq", "replay", dlq)
    assert r.returncode == 1 and r.stderr.strip() == (
        f"error: {dlq}[0]@0 has no original-topic header (kctx, Kafka Connect or Spring convention); pass --to TOPIC")
    produce(bootstrap_servers, dlq, [{"key": b"k", "value": b"v", "headers": kctx_headers("gone_topic_x", 0, 0, None, "E", "m")}])
    r = kctx("dlq", "replay", dlq, "--error-code", "E")
    assert r.returncode == 1 and r.stderr.strip() == \
        "error: target topic 'gone_topic_x' does not exist; create it or pass --to TOPIC"
    r = kctx("dlq", "replay", dlq, "--since", "last week")
    assert r.stderr.strip() == "error: --since: expected epoch milliseconds or an ISO-8601 time, got 'last week'"
    assert read_all(bootstrap_servers, orig, "read_uncommitted") == []


N_KILL = 8000  # more than six short runs at --rate 600 can finish


def _committed(bootstrap, topic, group) -> int:
    """Records before the group's committed offsets (the DLQ starts at offset 0)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                  "log_level": 0})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(max(tp.offset, 0) for tp in c.committed([TopicPartition(topic, p) for p in parts], timeout=10))
    finally:
        c.close()


def _start_replay(dlq, rate):
    return subprocess.Popen([sys.executable, "-m", "kctx_cli", "dlq", "replay", dlq, "--rate", str(rate), "-o", "json"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def test_sigkill_at_many_points_then_resume_is_exactly_once(bootstrap_servers, topics):
    orig, dlq = topics
    produce(bootstrap_servers, dlq, [{"key": f"k{i}".encode(), "value": b"%06d" % i,
                                      "headers": kctx_headers(orig, 0, i, None, "E", "m")} for i in range(N_KILL)])
    # kill points from start-up (before init_transactions) to the middle of later batches
    for delay in (0.3, 1.2, 1.9, 2.4, 2.9, 3.7):
        p = _start_replay(dlq, 600)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        assert p.returncode == -signal.SIGKILL
        # after each kill: what read_committed readers see is exactly what the committed
        # DLQ offsets say was replayed, each record once
        seen = [m.value() for m in read_all(bootstrap_servers, orig, "read_committed")]
        assert len(seen) == len(set(seen)) == _committed(bootstrap_servers, dlq, f"kctx-dlq-replay-{dlq}")
    out = replay(dlq)  # the resume
    assert out["replayed"] < N_KILL  # earlier runs committed some work
    got = read_all(bootstrap_servers, orig, "read_committed")
    values = sorted(m.value() for m in got)
    assert values == [b"%06d" % i for i in range(N_KILL)]  # each exactly once
    # aborted transactions left records in the log that read_uncommitted readers do see
    assert len(read_all(bootstrap_servers, orig, "read_uncommitted")) >= N_KILL


def test_sigterm_finishes_the_transaction_then_resume(bootstrap_servers, topics):
    orig, dlq = topics
    produce(bootstrap_servers, dlq, [{"key": f"k{i}".encode(), "value": b"%05d" % i,
                                      "headers": kctx_headers(orig, 0, i, None, "E", "m")} for i in range(3000)])
    p = _start_replay(dlq, 500)
    time.sleep(2.5)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 143, err
    first = json.loads(out)
    assert first["interrupted"] and 0 < first["replayed"] < 3000
    # what it reported is exactly what was committed
    assert len(read_all(bootstrap_servers, orig)) == first["replayed"]
    rest = replay(dlq)
    assert first["replayed"] + rest["replayed"] == 3000
    assert sorted(m.value() for m in read_all(bootstrap_servers, orig)) == [b"%05d" % i for i in range(3000)]


def test_key_filter_matches_avro_keys(bootstrap_servers, schema_registry_url, topics):
    from test_tail_support import avro, register

    orig, dlq = topics
    kid = register(schema_registry_url, f"{orig}-key", {"type": "string"})
    produce(bootstrap_servers, dlq, [{"key": avro(kid, {"type": "string"}, f"c{i}"), "value": b"v%d" % i,
                                      "headers": kctx_headers(orig, 0, i, None, "E", "m")} for i in range(6)])
    out = replay(dlq, "--key", "c4")
    assert (out["replayed"], out["skipped"]) == (1, 5)
    assert [m.value() for m in read_all(bootstrap_servers, orig)] == [b"v4"]

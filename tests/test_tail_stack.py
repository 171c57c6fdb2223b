"""kctx tail against the real stack (Kafka, Confluent Schema Registry)."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from kctx_cli.tail.partitioner import partition_for
from test_tail_support import avro, create_topic, jsonl, kctx, produce, register

SCHEMA = {"type": "record", "name": "Order", "namespace": "t",
          "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "long"}]}
T0 = 1700000000000  # record i has timestamp T0 + i*1000


@pytest.fixture
def orders(bootstrap_servers, schema_registry_url, unique_name):
    """3 partitions, 30 Avro records keyed k0..k9 with known timestamps."""
    topic = f"{unique_name}_orders"
    create_topic(bootstrap_servers, topic, 3)
    sid = register(schema_registry_url, f"{topic}-value", SCHEMA)
    recs = [{"key": f"k{i % 10}".encode(), "value": avro(sid, SCHEMA, {"id": f"o{i}", "amount": i}),
             "timestamp": T0 + i * 1000, "headers": [("trace", f"t{i}".encode())]} for i in range(30)]
    delivered = produce(bootstrap_servers, topic, recs)
    return topic, sid, delivered


def tail(*args, check=0):
    return jsonl(kctx("tail", *args, "-o", "jsonl", check=check).stdout)


def test_from_beginning_decodes_avro_with_schema_id_headers_and_time(orders):
    topic, sid, delivered = orders
    rows = tail(topic)
    assert len(rows) == 30
    by_id = {r["value"]["id"]: r for r in rows}
    r5 = by_id["o5"]
    assert r5["value"] == {"id": "o5", "amount": 5}
    assert r5["value_schema_id"] == sid and r5["value_format"] == "avro"
    assert r5["key"] == "k5" and r5["headers"] == [["trace", "t5"]]
    assert r5["timestamp"] == "2023-11-14T22:13:25.000Z"
    assert (r5["partition"], r5["offset"]) == delivered[5]


def test_key_routing_matches_what_the_producer_wrote(orders):
    topic, sid, delivered = orders
    for i in range(10):
        assert delivered[i][0] == partition_for(f"k{i}".encode(), 3)  # producer (murmur2) == our partitioner
    rows = tail(topic, "--key", "k3")
    assert [r["value"]["id"] for r in rows] == ["o3", "o13", "o23"]
    assert {r["partition"] for r in rows} == {delivered[3][0]}
    # --key-format says how keys are written when neither models nor ksqlDB do
    assert tail(topic, "--key", "k3", "--key-format", "string") == rows
    assert [r["value"]["id"] for r in tail(topic, "--key", "k3", "--scan-all")] == ["o3", "o13", "o23"]


def test_start_modes(orders):
    topic, sid, delivered = orders
    p0 = delivered[0][0]
    in_p0 = [i for i, (p, o) in enumerate(delivered) if p == p0]
    # an offset, in one partition
    rows = tail(topic, "--partition", str(p0), "--from", "2")
    assert [r["offset"] for r in rows] == list(range(2, len(in_p0)))
    # the last 2 per partition
    rows = tail(topic, "--from", "-2")
    assert len(rows) == 6 and all(r["offset"] >= 0 for r in rows)
    for p in range(3):
        offs = sorted(o for q, o in delivered if q == p)
        assert sorted(r["offset"] for r in rows if r["partition"] == p) == offs[-2:]
    # epoch milliseconds and ISO-8601 (offsets_for_times): records 25..29
    want = {f"o{i}" for i in range(25, 30)}
    assert {r["value"]["id"] for r in tail(topic, "--from", str(T0 + 25000))} == want
    iso = dt.datetime.fromtimestamp((T0 + 25000) / 1000, dt.timezone.utc).isoformat()
    assert {r["value"]["id"] for r in tail(topic, "--from", iso)} == want
    # end without --follow: nothing, exit 0
    assert tail(topic, "--from", "end") == []
    # --max, --grep
    assert len(tail(topic, "--max", "4")) == 4
    assert [r["value"]["id"] for r in tail(topic, "--grep", '"id": "o1[0-2]"')] == ["o10", "o11", "o12"] or \
        sorted(r["value"]["id"] for r in tail(topic, "--grep", '"id": "o1[0-2]"')) == ["o10", "o11", "o12"]


def test_follow_sees_new_records(orders, bootstrap_servers):
    import subprocess
    import sys

    topic, sid, _ = orders
    # -f means follow, as tail -f does everywhere (issue 11 §7); -s is --from
    proc = subprocess.Popen([sys.executable, "-m", "kctx_cli", "tail", topic, "-s", "end", "-f",
                             "--max", "2", "-o", "jsonl"], stdout=subprocess.PIPE, text=True)
    time.sleep(3)  # let it assign at the end
    produce(bootstrap_servers, topic, [{"key": b"n1", "value": b"new-1"}, {"key": b"n2", "value": b"new-2"}])
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert sorted(r["value"] for r in jsonl(out)) == ["new-1", "new-2"]


def test_corrupt_bytes_and_unknown_schema_id_do_not_stop_the_tail(bootstrap_servers, schema_registry_url, unique_name):
    topic = f"{unique_name}_mixed"
    create_topic(bootstrap_servers, topic, 1)
    sid = register(schema_registry_url, f"{topic}-value", SCHEMA)
    good = avro(sid, SCHEMA, {"id": "ok", "amount": 1})
    produce(bootstrap_servers, topic, [
        {"key": b"a", "value": good},
        {"key": b"b", "value": b"\x00" + sid.to_bytes(4, "big") + b"\xff" * 12},       # corrupt body
        {"key": b"c", "value": b"\x00" + (987654).to_bytes(4, "big") + b"\x02x\x02"},  # unknown id
        {"key": b"d", "value": b"\xc3\x28 not utf8"},
        {"key": b"e", "value": good},
    ])
    rows = tail(topic)
    assert [r["key"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert rows[1]["value_format"] == "hex" and rows[1]["value_error"].startswith(f"cannot decode Avro with schema id {sid}")
    assert rows[2]["value_error"] == "schema id 987654 not found in the registry"
    assert rows[2]["value_schema_id"] == 987654
    assert rows[3]["value_format"] == "hex" and rows[3]["value"] == b"\xc3\x28 not utf8".hex()
    assert rows[4]["value"] == {"id": "ok", "amount": 1}
    # the readable view also goes on, and says what failed
    pretty = kctx("tail", topic, "-o", "pretty", check=0).stdout
    assert "undecodable: schema id 987654 not found in the registry" in pretty
    assert pretty.count("ok") >= 2


def test_non_avro_topic_and_raw_output(bootstrap_servers, unique_name):
    topic = f"{unique_name}_plain"
    create_topic(bootstrap_servers, topic, 1)
    produce(bootstrap_servers, topic, [{"key": b"j", "value": b'{"a": [1, 2]}'}, {"key": None, "value": b"text"},
                                       {"key": b"t", "value": None}])
    rows = tail(topic)
    assert [(r["value_format"], r["value"]) for r in rows] == [("json", {"a": [1, 2]}), ("string", "text"), ("null", None)]
    assert rows[1]["key"] is None
    raw = kctx("tail", topic, "-o", "raw", check=0).stdout
    assert raw == '{"a": [1, 2]}\ntext\n\n'


def test_registry_outage_is_reported_not_fatal(orders):
    topic, sid, _ = orders
    r = kctx("tail", topic, "-o", "jsonl", "--max", "3", env={"KCTX_SCHEMA_REGISTRY_URL": "http://127.0.0.1:9"})
    assert r.returncode == 0
    rows = jsonl(r.stdout)
    assert len(rows) == 3 and all(x["value_format"] == "hex" and "unreachable" in x["value_error"] for x in rows)
    assert "warning: schema registry unreachable" in r.stderr
    assert "the tail goes on" in r.stderr


def test_bad_input(bootstrap_servers, orders):
    topic, _, _ = orders
    r = kctx("tail", "no_such_topic_xyz")
    assert (r.returncode, r.stderr.strip()) == (1, "error: topic 'no_such_topic_xyz' does not exist")
    r = kctx("tail", topic, "--from", "yesterday")
    assert r.returncode == 1 and r.stderr.strip() == (
        "error: --from: expected beginning, end, an offset, -N (last N), epoch milliseconds or an ISO-8601 time, got 'yesterday'")
    r = kctx("tail", topic, "--partition", "7")
    assert (r.returncode, r.stderr.strip()) == (1, f"error: topic '{topic}' has partitions 0-2; no partition 7")
    r = kctx("tail", topic, "--output", "xml")
    assert (r.returncode, r.stderr.strip()) == (1, "error: --output must be one of jsonl, pretty, raw, got 'xml'")
    t = time.monotonic()
    r = kctx("tail", topic, env={"KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert time.monotonic() - t < 15
    assert r.returncode == 1
    assert r.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:9: ") and "Traceback" not in r.stderr


def test_avro_keys_are_decoded_and_found_with_scan_all(bootstrap_servers, schema_registry_url, unique_name):
    topic = f"{unique_name}_akeys"
    create_topic(bootstrap_servers, topic, 4)
    kid = register(schema_registry_url, f"{topic}-key", {"type": "string"})
    recs = [{"key": avro(kid, {"type": "string"}, f"c{i}"), "value": b"v%d" % i} for i in range(12)]
    produce(bootstrap_servers, topic, recs)
    rows = tail(topic, "--key", "c7", "--scan-all")
    assert [(r["key"], r["key_format"], r["key_schema_id"], r["value"]) for r in rows] == [("c7", "avro", kid, "v7")]
    # without --scan-all: the key is Avro-encoded (from the key subject) before it is hashed
    assert tail(topic, "--key", "c7") == rows


def test_a_closed_pipe_ends_the_tail_quietly(bootstrap_servers, unique_name):
    import subprocess
    import sys

    topic = f"{unique_name}_pipe"
    create_topic(bootstrap_servers, topic, 1)
    produce(bootstrap_servers, topic, [{"key": b"k", "value": b"x" * 300} for _ in range(3000)])  # > a pipe buffer
    p = subprocess.Popen([sys.executable, "-m", "kctx_cli", "tail", topic, "-o", "jsonl"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.read(10) == b'{"topic": '
    p.stdout.close()  # as `| head -c 10` does
    assert p.wait(30) == 0
    assert p.stderr.read() == b""

"""Field cases of issue 11 ("incident tools") on the real stack: F21, F24, F25 (the
inputs in ../shared/field-cases are run as they are, with this test's names)."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

from test_tail_support import REPO, jsonl, kctx, read_all


def case(shared_dir, name):
    return next(p for p in (shared_dir / "field-cases").iterdir() if p.name.startswith(name))


def run_script(folder, script, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, script, *args], cwd=folder, capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_f21_tail_key_finds_keys_of_librdkafkas_default_partitioner(bootstrap_servers, shared_dir, unique_name):
    """confluent-kafka-dotnet#1103, kafkajs#1154: keys written with CRC32 consistent_random."""
    topic = f"{unique_name}_keys"
    out = run_script(case(shared_dir, "F21"), "produce_keys.py", topic)
    where = dict(kv.split(":") for kv in out.split())  # cust-i -> partition librdkafka chose
    for k in ("cust-3", "cust-7", "cust-11", "cust-0", "cust-19"):
        r = kctx("tail", topic, "--key", k, "-o", "jsonl", check=0)
        rows = jsonl(r.stdout)
        assert [(x["key"], x["value"], x["partition"]) for x in rows] == [(k, "v" + k[5:], int(where[k]))], r.stderr
        assert r.stderr == ""
    assert len(jsonl(kctx("tail", topic, "--key", "cust-3", "--scan-all", "-o", "jsonl", check=0).stdout)) == 1
    # nothing there: say which partitions were read, why, and how to read all
    r = kctx("tail", topic, "--key", "nobody", "-o", "jsonl", check=0)
    assert r.stdout == ""
    assert r.stderr.startswith("note: no record with key 'nobody' in partition(s) ")
    assert "murmur2 → " in r.stderr and "crc32 → " in r.stderr and "--scan-all reads every partition" in r.stderr


def test_f24_replay_goes_back_to_the_original_partition(bootstrap_servers, shared_dir, unique_name):
    """spring-cloud-stream-binder-kafka#50: the DLQ header names partition p; replay writes p."""
    p = unique_name
    out = run_script(case(shared_dir, "F24"), "produce_dlq_partition.py", p)
    original = int(out.split()[2])
    shown = json.loads(kctx("dlq", "show", f"{p}-orders-dlq", "-o", "json", check=0).stdout)
    assert shown[0]["origin"]["partition"] == original
    names = [h[0] for h in shown[0]["headers"]]
    assert "kctx.dlq.original.partition" in names and "kctx.dlq.error.code" in names  # every header
    assert shown[0]["origin"]["timestamp"].endswith("Z")  # ISO-8601
    out = json.loads(kctx("dlq", "replay", f"{p}-orders-dlq", "-o", "json", check=0).stdout)
    assert (out["replayed"], out["same_partition"], out["repartitioned"]) == (1, 1, 0)
    got = read_all(bootstrap_servers, f"{p}-orders")
    replayed = [m for m in got if ("kctx-replayed", b"1") in (m.headers() or [])]
    assert [(m.partition(), m.key()) for m in replayed] == [(original, b"cust-3")]


def test_f25_cache_of_a_ksqldb_table_with_an_int_key(bootstrap_servers, ksqldb_url, shared_dir, unique_name,
                                                      tmp_path):
    """ksql PR #3065: KAFKA-format INT keys are 4 big-endian bytes; `get 42` finds them."""
    topic, table = f"{unique_name}_users", f"{unique_name}_users".upper()
    run_script(case(shared_dir, "F25"), "setup_intkey.py", topic, table)
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    kctx("cache", "warm", table, env=env, check=0)
    assert json.loads(kctx("cache", "get", table, "42", "-o", "json", env=env, check=0).stdout) == {"NAME": "forty-two"}
    assert json.loads(kctx("cache", "get", table, "1", "-o", "json", env=env, check=0).stdout) == {"NAME": "one"}
    r = kctx("cache", "get", table, "2", env=env)
    assert r.returncode == 1 and r.stderr.startswith(f"error: key '2' not in the cache of '{table}' (looked up as "
                                                     f"KAFKA key (ID INT) from ksqlDB table {table})")
    r = kctx("cache", "get", table, "forty-two", env=env)
    assert (r.returncode, r.stderr.strip()) == (1, "error: key: 'forty-two' is not an INT")
    # by the topic name too, and tail labels the key as the int it is
    assert json.loads(kctx("cache", "get", topic, "42", "-o", "json", env=env, check=0).stdout) == {"NAME": "forty-two"}
    rows = jsonl(kctx("tail", topic, "-o", "jsonl", check=0).stdout)
    assert sorted((r["key"], r["key_format"]) for r in rows) == [(1, "int"), (2, "int"), (2, "int"), (42, "int")]
    rows = jsonl(kctx("tail", topic, "--key", "42", "-o", "jsonl", check=0).stdout)
    assert [(r["key"], r["value"]) for r in rows] == [(42, {"NAME": "forty-two"})]
    assert struct.pack(">i", 42) in {m.key() for m in read_all(bootstrap_servers, topic)}

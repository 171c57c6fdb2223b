"""kctx cache against the real broker and registry: warm, incremental re-warm, tombstones,
Avro values, a reader open during a warm."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from helpers import make_project, run_kctx
from kctx_cli.cache import open_table
from kctx_cli.cache.warm import warm
from kctx_cli.config import load_config
from kctx_cli.errors import KctxError
from test_tail_support import REPO, avro, create_topic, kctx, produce, register

COMPACT = {"cleanup.policy": "compact"}
SCHEMA = {"type": "record", "name": "Customer", "namespace": "t",
          "fields": [{"name": "id", "type": "string"}, {"name": "tier", "type": "int"},
                     {"name": "name", "type": ["null", "string"], "default": None}]}


def latest(records, delivered, upto=None):
    """The table a compacted topic describes: last value per key, tombstones delete.
    ``upto``: {partition: next offset} -> only records before it."""
    state = {}
    for r, (p, o) in zip(records, delivered):
        if upto is not None and o >= upto.get(p, 0):
            continue
        if r["value"] is None:
            state.pop(r["key"], None)
        else:
            state[r["key"]] = r["value"]
    return state


def cached(t):
    return dict(t.raw_items())


def test_warm_update_tombstone_rewarm(bootstrap_servers, unique_name, tmp_path):
    topic = f"{unique_name}_customers"
    create_topic(bootstrap_servers, topic, 3, COMPACT)
    cfg = load_config(REPO)
    recs = [{"key": f"k{i % 50}".encode(), "value": json.dumps({"i": i}).encode()} for i in range(200)]
    delivered = produce(bootstrap_servers, topic, recs)
    res = warm(cfg, topic, base=tmp_path)
    assert (res.records, res.puts, res.deletes, res.up_to_date) == (200, 200, 0, False)
    with open_table(topic, cache_dir=tmp_path) as t:
        assert cached(t) == latest(recs, delivered)
        assert t.get("k7") == {"i": 157}
        assert t.offsets() == {p: sum(1 for q, _ in delivered if q == p) for p in range(3)}

    more = [{"key": f"k{i}".encode(), "value": json.dumps({"i": 1000 + i}).encode()} for i in range(10)] + \
           [{"key": f"k{i}".encode(), "value": None} for i in range(40, 45)] + \
           [{"key": b"k3", "value": None}]
    delivered += produce(bootstrap_servers, topic, more)
    recs += more
    res = warm(cfg, topic, base=tmp_path)
    assert (res.records, res.puts, res.deletes) == (16, 10, 6)  # only what is new
    with open_table(topic, cache_dir=tmp_path) as t:
        assert cached(t) == latest(recs, delivered)
        assert "k3" not in t and "k41" not in t and t.get("k4") == {"i": 1004}

    t0 = time.monotonic()
    res = warm(cfg, topic, base=tmp_path)
    assert res.up_to_date and res.records == 0
    assert time.monotonic() - t0 < 1.0  # a re-warm with nothing new

    # the CLI on the same cache
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    r = kctx("cache", "get", topic, "k4", "-o", "json", env=env, check=0)
    assert json.loads(r.stdout) == {"i": 1004}
    r = kctx("cache", "get", topic, "k3", env=env)
    assert r.returncode == 1 and r.stderr.startswith(f"error: key 'k3' not in the cache of '{topic}' (looked up as key "
                                                     "format unknown (no model, no ksqlDB source)")
    stats = json.loads(kctx("cache", "stats", "-o", "json", env=env, check=0).stdout)
    assert [s["table"] for s in stats] == [topic]
    assert stats[0]["offsets"] == {str(p): n for p, n in res.offsets.items()}
    assert kctx("cache", "warm", topic, env=env, check=0).stdout.startswith(f"{topic}: already up to date")
    assert kctx("cache", "drop", topic, env=env, check=0).stdout.strip() == f"dropped {tmp_path / topic}"
    r = kctx("cache", "get", topic, "k4", env=env)
    assert (r.returncode, r.stderr.strip()) == (1, f"error: no cache for '{topic}' in {tmp_path}: run kctx cache warm {topic}")


def test_avro_values_are_decoded_from_schemas_stored_in_the_cache(bootstrap_servers, schema_registry_url,
                                                                   unique_name, tmp_path):
    topic = f"{unique_name}_avro"
    create_topic(bootstrap_servers, topic, 1, COMPACT)
    sid = register(schema_registry_url, f"{topic}-value", SCHEMA)
    recs = [{"key": b"c1", "value": avro(sid, SCHEMA, {"id": "c1", "tier": 1, "name": "Ann"})},
            {"key": b"c2", "value": avro(sid, SCHEMA, {"id": "c2", "tier": 2, "name": None})},
            {"key": b"c1", "value": avro(sid, SCHEMA, {"id": "c1", "tier": 3, "name": "Ann B"})}]
    produce(bootstrap_servers, topic, recs)
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    kctx("cache", "warm", topic, env=env, check=0)
    with open_table(topic, cache_dir=tmp_path) as t:
        assert t.get("c1") == {"id": "c1", "tier": 3, "name": "Ann B"}
        assert t.get_raw("c2") == recs[1]["value"]  # stored as in Kafka, schema id included
        assert t.schema_ids() == [sid]
    # readers need no registry: the writer schema is in the cache
    r = kctx("cache", "get", topic, "c2", "-o", "json", env={**env, "KCTX_SCHEMA_REGISTRY_URL": "http://127.0.0.1:9"}, check=0)
    assert json.loads(r.stdout) == {"id": "c2", "tier": 2, "name": None}


def test_model_entity_name_resolves_to_its_topic(bootstrap_servers, unique_name, tmp_path):
    topic = f"{unique_name}_accounts"
    create_topic(bootstrap_servers, topic, 1, COMPACT)
    produce(bootstrap_servers, topic, [{"key": b"a1", "value": b'{"balance": 5}'}])
    proj = make_project(tmp_path / "proj", {"accounts.py": f'''
        from typing import Annotated
        from kctx_cli.model import Table, Key

        class Account(Table):
            account_id: Annotated[str, Key]
            balance: int
            class Meta:
                topic = "{topic}"
    '''})
    env = {"KCTX_CACHE_DIR": str(tmp_path / "cache")}
    r = run_kctx("cache", "warm", "Account", cwd=proj, env=env)
    assert r.returncode == 0, r.stderr
    assert f"{topic}: 1 records read" in r.stdout
    r = run_kctx("cache", "get", "Account", "a1", "-o", "json", cwd=proj, env=env)
    assert json.loads(r.stdout) == {"balance": 5}


# KCTX_STRESS_REPEAT=50 repeats the reader-during-warm test (run it under CPU load:
# bench/stress_reader_during_warm.sh); 1 by default
REPEAT = int(os.environ.get("KCTX_STRESS_REPEAT", "1"))


@pytest.mark.parametrize("round_", range(REPEAT))
def test_reader_during_warm_sees_consistent_batches(bootstrap_servers, unique_name, tmp_path, round_):
    """A reader never sees data newer (or older) than the stored offsets: the warm writes
    each batch's data and the offsets derived from those very records in one WriteBatch."""
    topic = f"{unique_name}_live"
    create_topic(bootstrap_servers, topic, 2, COMPACT)
    recs = [{"key": f"k{i % 40}".encode(), "value": b"%d" % i} for i in range(3000)]
    recs[1500:1500] = [{"key": f"k{i}".encode(), "value": None} for i in range(0, 40, 3)]  # tombstones mid-way
    # idempotent: a retried produce request must not duplicate or reorder records
    produce(bootstrap_servers, topic, recs, **{"enable.idempotence": True})
    # the expected states come from the log itself (offset order), not from the producer's view
    from test_tail_support import read_all

    log = sorted(read_all(bootstrap_servers, topic, "read_uncommitted"), key=lambda m: (m.partition(), m.offset()))
    assert len(log) == len(recs)
    recs = [{"key": m.key(), "value": m.value()} for m in log]
    delivered = [(m.partition(), m.offset()) for m in log]
    warm_proc = subprocess.Popen([sys.executable, "-m", "kctx_cli", "cache", "warm", topic, "--cache-dir", str(tmp_path),
                                  "--batch", "100", "--pause", "0.05"], cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    table = None
    seen = set()
    try:
        deadline = time.monotonic() + 60
        while table is None and time.monotonic() < deadline:
            try:
                table = open_table(topic, cache_dir=tmp_path)
            except KctxError:
                time.sleep(0.02)
        assert table is not None
        while True:
            done = warm_proc.poll() is not None
            table.refresh()
            offs = table.offsets()
            # data and offsets come from the same write batch: the cache is exactly the
            # topic's state before the stored offsets, never half a batch
            assert cached(table) == latest(recs, delivered, offs), offs
            seen.add(tuple(sorted(offs.items())))
            if done:
                break
            time.sleep(0.03)
        assert warm_proc.returncode == 0, warm_proc.stderr.read()
        table.refresh()
        assert cached(table) == latest(recs, delivered)
        assert len(seen) >= 4  # the reader really watched a warm in progress
    finally:
        if table is not None:
            table.close()
        if warm_proc.poll() is None:
            warm_proc.kill()


def test_bad_input(bootstrap_servers, unique_name, tmp_path):
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    r = kctx("cache", "warm", "no_such_topic_q", env=env)
    assert (r.returncode, r.stderr.strip()) == (1, "error: topic 'no_such_topic_q' does not exist")
    r = kctx("cache", "get", "nothing_here", "k", env=env)
    assert r.returncode == 1 and r.stderr.strip() == \
        f"error: no cache for 'nothing_here' in {tmp_path}: run kctx cache warm nothing_here"
    r = kctx("cache", "drop", "nothing_here", env=env)
    assert (r.returncode, r.stderr.strip()) == (1, f"error: no cache for 'nothing_here' at {tmp_path / 'nothing_here'}")
    t0 = time.monotonic()
    r = kctx("cache", "warm", "x", env={**env, "KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert r.returncode == 1 and r.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:9")
    assert time.monotonic() - t0 < 15


def test_ksqldb_table_name_resolves_to_its_topic(bootstrap_servers, ksqldb_url, unique_name, tmp_path):
    import urllib.request

    table, topic = f"{unique_name}_tbl".upper(), f"{unique_name}_tbl_topic"
    stmt = (f"CREATE TABLE {table} (ID STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='{topic}', "
            f"PARTITIONS=1, VALUE_FORMAT='JSON');")
    req = urllib.request.Request(ksqldb_url + "/ksql", data=json.dumps({"ksql": stmt, "streamsProperties": {}}).encode(),
                                 headers={"Content-Type": "application/vnd.ksql.v1+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.loads(r.read())[0]["commandStatus"]["status"] == "SUCCESS"
    produce(bootstrap_servers, topic, [{"key": b"a", "value": b'{"V": 1}'}, {"key": b"a", "value": b'{"V": 2}'}])
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    out = json.loads(kctx("cache", "warm", table, "-o", "json", env=env, check=0).stdout)
    assert (out["topic"], out["records"]) == (topic, 2)
    assert json.loads(kctx("cache", "get", table, "a", "-o", "json", env=env, check=0).stdout) == {"V": 2}


def test_decoded_mode_matches_the_topic_and_raw_mode(bootstrap_servers, schema_registry_url, unique_name, tmp_path):
    """--store decoded: the same values as raw mode and as the topic's latest state, through
    an incremental re-warm with tombstones, with the same offsets."""
    from test_cache_unit import everything, everything_schema

    topic = f"{unique_name}_decoded"
    create_topic(bootstrap_servers, topic, 3, COMPACT)
    schema = everything_schema()
    sid = register(schema_registry_url, f"{topic}-value", schema)
    recs = [{"key": f"k{i % 7}".encode(), "value": avro(sid, schema, everything(i % 6))} for i in range(30)]
    recs += [{"key": b"json", "value": b'{"a": [1, null]}'}, {"key": b"text", "value": b"hello"}]
    delivered = produce(bootstrap_servers, topic, recs)
    cfg = load_config(REPO)
    raw_dir, dec_dir = tmp_path / "raw", tmp_path / "dec"
    env = {"KCTX_CACHE_DIR": str(dec_dir)}
    out = json.loads(kctx("cache", "warm", topic, "--store", "decoded", "-o", "json", env=env, check=0).stdout)
    assert (out["store"], out["records"], out["puts"], out["deletes"]) == ("decoded", 32, 32, 0)
    warm(cfg, topic, base=raw_dir)

    def check():
        want = latest(recs, delivered)
        with open_table(topic, cache_dir=raw_dir) as r, open_table(topic, cache_dir=dec_dir) as d:
            assert d.store == "decoded" and r.store == "raw"
            assert cached(r) == want  # raw mode keeps the Kafka bytes
            assert dict(d.items()) == dict(r.items()) == {k: r.decode(v) for k, v in want.items()}
            for k in want:
                assert d.get(k) == r.get(k)
                if isinstance(r.get(k), dict) and "ts" in r.get(k):
                    assert {f: type(x) for f, x in d.get(k).items()} == {f: type(x) for f, x in r.get(k).items()}
            assert d.offsets() == r.offsets() == {p: 1 + max(o for q, o in delivered if q == p)
                                                  for p in {q for q, _ in delivered}}

    check()
    # incremental re-warm: updates and tombstones, both modes read only what is new
    more = [{"key": b"k1", "value": avro(sid, schema, everything(5))}, {"key": b"k2", "value": None},
            {"key": b"text", "value": None}, {"key": b"k9", "value": avro(sid, schema, everything(0))}]
    delivered += produce(bootstrap_servers, topic, more)
    recs += more
    res_d = warm(cfg, topic, base=dec_dir)  # no --store: keeps the cache's mode
    res_r = warm(cfg, topic, base=raw_dir)
    assert (res_d.store, res_r.store) == ("decoded", "raw")
    assert (res_d.records, res_d.puts, res_d.deletes) == (res_r.records, res_r.puts, res_r.deletes) == (4, 2, 2)
    assert res_d.offsets == res_r.offsets
    check()
    assert warm(cfg, topic, base=dec_dir).up_to_date

    r = kctx("cache", "get", topic, "k1", "-o", "json", env=env, check=0)
    assert json.loads(r.stdout)["amount"] == str(everything(5)["amount"])
    r = kctx("cache", "get", topic, "k2", env=env)
    assert r.returncode == 1 and r.stderr.startswith(f"error: key 'k2' not in the cache of '{topic}' (looked up as ")
    r = kctx("cache", "warm", topic, "--store", "raw", env=env)
    assert (r.returncode, r.stderr.strip()) == (1, f"error: the cache at {dec_dir / topic} stores decoded values: "
                                                   f"drop it (kctx cache drop {topic}) to warm it with --store raw")
    r = kctx("cache", "warm", topic, "--store", "pickle", env=env)
    assert (r.returncode, r.stderr.strip()) == (1, "error: unknown --store 'pickle' (choose raw or decoded)")

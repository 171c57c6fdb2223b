"""Issue 11 acceptance: a producer matrix on the real stack. Each cell writes keyed
records the way one kind of client does — confluent-kafka's default partitioner
(librdkafka consistent_random, CRC32), murmur2_random (Java/ksqlDB), Avro keys via the
registry, KAFKA INT/BIGINT keys, ksqlDB INSERT INTO … VALUES — and `kctx tail --key`,
`kctx cache get` and `kctx dlq replay` must be right on every cell, with the key typed as
a person types it."""
from __future__ import annotations

import json
import re
import struct

import pytest

from kctx_cli.dlq.headers import kctx_headers
from test_tail_support import create_topic, jsonl, kctx, read_all

PARTITIONS = 6
N_KEYS = 12


def _producer(bootstrap, partitioner):
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    if partitioner:
        conf["partitioner"] = partitioner
    return Producer(conf)


def _avro_key_serializer(registry_url):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer

    return AvroSerializer(SchemaRegistryClient({"url": registry_url}), '"string"')


def produce_client(stack, topic, kind, partitioner):
    """Two versions per key; returns {typed key: [(partition, offset, key bytes, value)]}."""
    from confluent_kafka.serialization import MessageField, SerializationContext

    create_topic(stack.bootstrap_servers, topic, PARTITIONS, {"cleanup.policy": "compact"})
    p = _producer(stack.bootstrap_servers, partitioner)
    ser = _avro_key_serializer(stack.schema_registry_url) if kind == "avro" else None
    out: dict[str, list] = {}
    for version in (1, 2):
        for i in range(N_KEYS):
            typed = {"string": f"cust-{i}", "avro": f"cust-{i}", "int": str(1000 + i * 7919),
                     "bigint": str(2 ** 40 + i)}[kind]
            if kind == "string":
                kb = typed.encode()
            elif kind == "avro":
                kb = ser(typed, SerializationContext(topic, MessageField.KEY))
            elif kind == "int":
                kb = struct.pack(">i", int(typed))
            else:
                kb = struct.pack(">q", int(typed))
            value = json.dumps({"k": typed, "v": version}).encode()

            def cb(err, msg, typed=typed, kb=kb, value=value):
                assert err is None, err
                out.setdefault(typed, []).append((msg.partition(), msg.offset(), kb, value))

            p.produce(topic, key=kb, value=value, on_delivery=cb)
        assert p.flush(30) == 0
    return out


# ksqlDB cells: kind -> (key columns, KEY_FORMAT, the INSERT's key literal for key i, the key as typed)
KSQLDB_KEYS = {
    "ksqldb-int": ("ID INT PRIMARY KEY", "KAFKA", lambda i: f"{1000 + i * 7919}", lambda i: str(1000 + i * 7919)),
    "ksqldb-composite": ("REGION STRING PRIMARY KEY, ID INT PRIMARY KEY", "JSON", lambda i: f"'r{i % 3}', {i}",
                         lambda i: f"id={i},region=r{i % 3}"),  # lower case, the other order
    # Confluent's serializers write a top-level bytes schema's datum raw (backends/wire.py)
    "ksqldb-avro-decimal": ("AMOUNT DECIMAL(10, 2) PRIMARY KEY", "AVRO", lambda i: f"{i * 37 - 200}.5",
                            lambda i: f"{i * 37 - 200}.5"),
    "ksqldb-avro-bytes": ("DIGEST BYTES PRIMARY KEY", "AVRO", lambda i: f"TO_BYTES('{i:02x}ff', 'hex')",
                          lambda i: f"0x{i:02x}ff"),
}


def produce_ksqldb(stack, topic, name, kind):
    """A ksqlDB table filled with INSERT INTO … VALUES (ksqlDB's own serializers and
    murmur2 partitioning), its key per ``KSQLDB_KEYS[kind]``; returns {typed key: [(partition,
    offset, key bytes, value)]} (the value's T column says which key a record has)."""
    from ksqldb_helpers import KsqlSources

    cols, fmt, literal, typed_of = KSQLDB_KEYS[kind]
    src = KsqlSources(stack.ksqldb_url)
    src.execute(f"CREATE TABLE {name} ({cols}, T STRING, V INT) WITH (KAFKA_TOPIC='{topic}', "
                f"PARTITIONS={PARTITIONS}, KEY_FORMAT='{fmt}', VALUE_FORMAT='JSON');")
    names = ", ".join(re.findall(r"(\w+) \w+(?:\([^)]*\))? PRIMARY KEY", cols))
    for version in (1, 2):
        for i in range(N_KEYS):
            src.execute(f"INSERT INTO {name} ({names}, T, V) VALUES ({literal(i)}, '{typed_of(i)}', {version});")
    msgs = read_all(stack.bootstrap_servers, topic, "read_uncommitted")
    assert len(msgs) == 2 * N_KEYS
    out: dict[str, list] = {}
    for m in sorted(msgs, key=lambda m: (m.partition(), m.offset())):
        out.setdefault(json.loads(m.value())["T"], []).append((m.partition(), m.offset(), m.key(), m.value()))
    return out


CELLS = [
    ("string keys, confluent-kafka default (consistent_random/CRC32)", "string", None),
    ("string keys, murmur2_random", "string", "murmur2_random"),
    ("Avro string keys, default partitioner", "avro", None),
    ("Avro string keys, murmur2_random", "avro", "murmur2_random"),
    ("KAFKA INT keys, murmur2_random", "int", "murmur2_random"),
    ("KAFKA INT keys, default partitioner", "int", None),
    ("KAFKA BIGINT keys, murmur2_random", "bigint", "murmur2_random"),
    ("ksqlDB INSERT VALUES, INT key (KAFKA)", "ksqldb-int", None),
    ("ksqlDB INSERT VALUES, composite key (JSON)", "ksqldb-composite", None),
    ("ksqlDB INSERT VALUES, DECIMAL key (AVRO: raw unscaled bytes)", "ksqldb-avro-decimal", None),
    ("ksqlDB INSERT VALUES, BYTES key (AVRO: raw bytes)", "ksqldb-avro-bytes", None),
]


@pytest.mark.parametrize("label,kind,partitioner", CELLS, ids=[c[1] + "-" + (c[2] or "default") for c in CELLS])
def test_tail_key_cache_get_and_replay_on_every_cell(stack, unique_name, tmp_path, label, kind, partitioner):
    topic = f"{unique_name}_t"
    name = topic
    if kind.startswith("ksqldb"):
        name = f"{unique_name}_tbl".upper()
        written = produce_ksqldb(stack, topic, name, kind)
    else:
        written = produce_client(stack, topic, kind, partitioner)
    assert len(written) == N_KEYS
    for recs in written.values():  # a key's records share one partition
        assert len({p for p, *_ in recs}) == 1

    # tail --key: exactly that key's records, from its partition, with the key as typed
    for typed in list(written)[:4]:
        r = kctx("tail", topic, "--key", typed, "-o", "jsonl", check=0)
        rows = jsonl(r.stdout)
        want = [(p, o) for p, o, *_ in written[typed]]
        assert [(x["partition"], x["offset"]) for x in rows] == want, (label, typed, r.stderr)

    # cache get: the latest value of the key, typed as text
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    warm = json.loads(kctx("cache", "warm", name, "-o", "json", env=env, check=0).stdout)
    assert warm["records"] == 2 * N_KEYS and warm["undecodable"] == 0
    for typed, recs in list(written.items())[:4]:
        r = kctx("cache", "get", name, "-o", "json", "--", typed, env=env)  # "--": keys may start with "-"
        assert r.returncode == 0, (label, typed, r.stderr)
        assert json.loads(r.stdout) == json.loads(recs[-1][3]), (label, typed)

    # dlq replay: back to the partition each original was in (the kctx DLQ headers name it)
    dlq = f"{topic}-dlq"
    create_topic(stack.bootstrap_servers, dlq, 1)
    p = _producer(stack.bootstrap_servers, None)
    sent = {}
    for typed, recs in written.items():
        part, off, kb, value = recs[-1]
        p.produce(dlq, key=kb, value=value, partition=0, headers=kctx_headers(topic, part, off, None, "E", "m"))
        sent[kb] = part
    assert p.flush(30) == 0
    out = json.loads(kctx("dlq", "replay", dlq, "-o", "json", check=0).stdout)
    assert (out["replayed"], out["same_partition"]) == (N_KEYS, N_KEYS), label
    replayed = [m for m in read_all(stack.bootstrap_servers, topic) if ("kctx-replayed", b"1") in (m.headers() or [])]
    assert {m.key(): m.partition() for m in replayed} == sent, label

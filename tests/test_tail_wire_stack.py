"""Protobuf and JSON Schema values (Confluent wire format, schema type from the real
registry) decoded by tail, dlq show and cache get (issue 11 §6)."""
from __future__ import annotations

import json

from kctx_cli.dlq.headers import kctx_headers
from test_tail_support import create_topic, jsonl, kctx, produce

PROTO = """syntax = "proto3";
package shop;
message Other { string x = 1; }
message Order {
  string id = 1;
  int32 qty = 2;
  message Line { string sku = 1; }
  repeated Line lines = 3;
}
"""
JSON_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}


def _register(url, subject, text, kind):
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    return SchemaRegistryClient({"url": url}).register_schema(subject, Schema(text, kind))


def _order_bytes(registry_url, sid):
    """A shop.Order built from the registered descriptor (no generated code)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.common.protobuf import _init_pool, _str_to_proto
    from google.protobuf.descriptor_pool import DescriptorPool
    from google.protobuf.message_factory import GetMessageClass

    s = SchemaRegistryClient({"url": registry_url}).get_schema(sid, fmt="serialized")
    pool = DescriptorPool()
    _init_pool(pool)
    pool.Add(_str_to_proto("default", s.schema_str))
    Order = GetMessageClass(pool.FindMessageTypeByName("shop.Order"))
    m = Order(id="o-1", qty=3)
    m.lines.add(sku="A\x1b[2J")
    # message indexes [1] (Order is the second message): count 1 (zig-zag 2), index 1 (2)
    return b"\x00" + sid.to_bytes(4, "big") + b"\x02\x02" + m.SerializeToString()


def test_protobuf_and_json_schema_values(bootstrap_servers, schema_registry_url, unique_name, tmp_path):
    topic = f"{unique_name}_pb"
    create_topic(bootstrap_servers, topic, 1, {"cleanup.policy": "compact"})
    pid = _register(schema_registry_url, f"{topic}-value", PROTO, "PROTOBUF")
    jid = _register(schema_registry_url, f"{unique_name}_js-value", json.dumps(JSON_SCHEMA), "JSON")
    pb = _order_bytes(schema_registry_url, pid)
    js = b"\x00" + jid.to_bytes(4, "big") + b'{"id": "j-1", "n": 2}'
    corrupt = b"\x00" + pid.to_bytes(4, "big") + b"\x02\x02\xff\xff\xff"
    produce(bootstrap_servers, topic, [{"key": b"p", "value": pb}, {"key": b"j", "value": js},
                                       {"key": b"bad", "value": corrupt}])
    rows = {r["key"]: r for r in jsonl(kctx("tail", topic, "-o", "jsonl", check=0).stdout)}
    order = {"id": "o-1", "qty": 3, "lines": [{"sku": "A\x1b[2J"}]}
    assert (rows["p"]["value"], rows["p"]["value_format"], rows["p"]["value_schema_id"]) == (order, "protobuf", pid)
    assert (rows["j"]["value"], rows["j"]["value_format"]) == ({"id": "j-1", "n": 2}, "json_sr")
    assert rows["bad"]["value_format"] == "hex" and rows["bad"]["value_error"].startswith(
        f"cannot decode PROTOBUF with schema id {pid}")
    pretty = kctx("tail", topic, "-o", "pretty", check=0).stdout
    assert "\x1b" not in pretty and "A\\u001b[2J" in pretty

    # the cache keeps the descriptors: get decodes without the registry
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    kctx("cache", "warm", topic, env=env, check=0)
    no_registry = {**env, "KCTX_SCHEMA_REGISTRY_URL": "http://127.0.0.1:9"}
    assert json.loads(kctx("cache", "get", topic, "p", "-o", "json", env=no_registry, check=0).stdout) == order
    assert json.loads(kctx("cache", "get", topic, "j", "-o", "json", env=no_registry, check=0).stdout) == \
        {"id": "j-1", "n": 2}
    r = kctx("cache", "get", topic, "bad", env=no_registry)
    assert r.returncode == 1 and r.stderr.startswith(
        f"error: the value of key 'bad' in the cache of '{topic}' cannot be decoded: it does not decode as PROTOBUF")
    # decoded mode: the bad record is counted and reported, the rest cached
    out = json.loads(kctx("cache", "warm", topic, "--store", "decoded", "-o", "json",
                          env={"KCTX_CACHE_DIR": str(tmp_path / "dec")}, check=0).stdout)
    assert (out["records"], out["undecodable"]) == (3, 1)
    assert out["undecodable_records"][0]["offset"] == 2 and out["undecodable_records"][0]["partition"] == 0
    assert json.loads(kctx("cache", "get", topic, "p", "-o", "json", env={"KCTX_CACHE_DIR": str(tmp_path / "dec")},
                           check=0).stdout) == order

    # dlq show decodes them too
    dlq = f"{unique_name}_pb-dlq"
    create_topic(bootstrap_servers, dlq, 1)
    produce(bootstrap_servers, dlq, [{"key": b"p", "value": pb, "headers": kctx_headers(topic, 0, 0, None, "E", "m")}])
    shown = json.loads(kctx("dlq", "show", dlq, "-o", "json", check=0).stdout)
    assert (shown[0]["value"], shown[0]["value_format"]) == (order, "protobuf")


def test_avro_decoded_warm_goes_on_past_a_corrupt_record(bootstrap_servers, schema_registry_url, unique_name, tmp_path):
    from test_tail_support import avro, register

    schema = {"type": "record", "name": "C", "fields": [{"name": "id", "type": "string"}]}
    topic = f"{unique_name}_c"
    create_topic(bootstrap_servers, topic, 2, {"cleanup.policy": "compact"})
    sid = register(schema_registry_url, f"{topic}-value", schema)
    delivered = produce(bootstrap_servers, topic, [
        {"key": b"a", "value": avro(sid, schema, {"id": "a"}), "partition": 0},
        {"key": b"b", "value": b"\x00" + sid.to_bytes(4, "big") + b"\xff" * 9, "partition": 1},
        {"key": b"c", "value": avro(sid, schema, {"id": "c"}) + b"junk", "partition": 1},
        {"key": b"d", "value": avro(sid, schema, {"id": "d"}), "partition": 1}])
    env = {"KCTX_CACHE_DIR": str(tmp_path)}
    r = kctx("cache", "warm", topic, "--store", "decoded", env=env, check=0)
    assert f"{topic}[1]@{delivered[1][1]}: value does not decode" in r.stderr
    assert f"{topic}[1]@{delivered[2][1]}: value does not decode: 4 trailing bytes" in r.stderr
    assert "2 undecodable record(s) stored raw" in r.stdout
    assert json.loads(kctx("cache", "get", topic, "d", "-o", "json", env=env, check=0).stdout) == {"id": "d"}
    r = kctx("cache", "get", topic, "b", env=env)
    assert r.returncode == 1 and "cannot be decoded: it does not decode as Avro with schema id" in r.stderr

"""Offline: keys in every format (issue 11 §1, §2, §4), partitioners, safe output,
lossless JSON, DLQ replay partition choice, Protobuf/JSON Schema framing."""
from __future__ import annotations

import io
import json
import struct

import pytest
from fastavro import parse_schema, schemaless_writer

from kctx_cli.dlq.headers import Origin, kctx_headers, origin
from kctx_cli.dlq.core import target_partition
from kctx_cli.errors import KctxError
from kctx_cli.tail import keys as K
from kctx_cli.tail.decode import Decoder, plain, safe
from kctx_cli.tail.partitioner import candidates, crc32_partition, fnv1a, fnv1a_partition, partition_for


# ---------------------------------------------------------------- partitioners

def test_partitioner_check_values():
    import zlib

    # CRC-32 check value (librdkafka's rd_crc32 is zlib's CRC-32); FNV-1a 32 test vectors
    assert zlib.crc32(b"123456789") == 0xCBF43926
    assert (fnv1a(b"a"), fnv1a(b"foobar")) == (0xE40C292C, 0xBF9CF968)
    assert crc32_partition(b"123456789", 7) == 0xCBF43926 % 7
    # sarama: int32(h) % n, negated when negative (0xbf9cf968 has the sign bit set)
    assert fnv1a_partition(b"foobar", 7) == abs(0xBF9CF968 - (1 << 32)) % 7
    assert candidates(b"21", 7) == {"murmur2": partition_for(b"21", 7), "crc32": zlib.crc32(b"21") % 7,
                                    "fnv1a": fnv1a_partition(b"21", 7)}


# ---------------------------------------------------------------- specs and typed keys

INT_TABLE = {"name": "USERS", "type": "TABLE", "keyFormat": "KAFKA", "fields": [
    {"name": "ID", "schema": {"type": "INTEGER"}, "type": "KEY"}, {"name": "NAME", "schema": {"type": "STRING"}}]}


def test_spec_from_ksqldb_description_and_option():
    s = K.spec_from_description(INT_TABLE)  # DESCRIBE says INTEGER for INT
    assert (s.format, s.columns, s.origin) == ("KAFKA", (("ID", "INT"),), "ksqlDB table USERS")
    assert K.spec_from_option("BIGINT") == K.KeySpec("KAFKA", (("KEY", "BIGINT"),), "--key-format")
    with pytest.raises(KctxError) as e:
        K.spec_from_option("long")
    assert str(e.value).startswith("--key-format must be one of string, int, bigint")


def test_kafka_keys_encode_as_the_java_serializers():
    for typ, text, wire in [("INT", "42", struct.pack(">i", 42)), ("INT", "-1", b"\xff\xff\xff\xff"),
                            ("BIGINT", "42", struct.pack(">q", 42)), ("DOUBLE", "1.5", struct.pack(">d", 1.5)),
                            ("STRING", "c-7", b"c-7"), ("BYTES", "0x00ff", b"\x00\xff")]:
        spec = K.KeySpec("KAFKA", (("ID", typ),), "t")
        assert K.encodings(K.parse_key(text, spec), spec) == [wire], typ
        assert K.cache_keys(K.parse_key(text, spec), spec) == [wire]
    spec = K.KeySpec("KAFKA", (("ID", "INT"),), "ksqlDB table USERS")
    for bad, msg in [("x", "key: 'x' is not an INT"), ("3000000000", "key: 3000000000 is out of the INT range"),
                     ("ID=4x", "key column ID: '4x' is not an INT")]:
        with pytest.raises(KctxError) as e:
            K.parse_key(bad, spec)
        assert str(e.value).startswith(msg)
    assert K.parse_key("id=42", spec).value == 42  # the column may be named, in any case


def test_composite_keys_in_any_order_and_spelling():
    spec = K.KeySpec("JSON", (("REGION", "STRING"), ("ID", "INT")), "model Shop")
    want = [b'{"REGION":"eu","ID":7}']  # ksqlDB: an object in column order, compact
    for text in ("REGION=eu,ID=7", "id=7,region=eu", " ID = 7 , REGION = eu ", '{"id": 7, "Region": "eu"}',
                 'region="eu",id=7'):
        assert K.encodings(K.parse_key(text, spec), spec) == want, text
    for bad, msg in [("REGION=eu", "key: missing key column(s) ID of model Shop"),
                     ("REGION=eu,ID=7,X=1", "key: no key column 'X' in model Shop"),
                     ("7", "key: model Shop has a composite key; give it as REGION=…,ID=… (any order)"),
                     ("ID=1,ID=2", "key: column 'ID' given twice")]:
        with pytest.raises(KctxError) as e:
            K.parse_key(bad, spec)
        assert str(e.value).startswith(msg), bad
    # framed (Avro) composite keys are matched / cached by their canonical text
    avro = K.KeySpec("AVRO", (("REGION", "STRING"), ("ID", "INT")), "ksqlDB table SHOPS")
    k = K.parse_key("id=7,region=eu", avro)
    assert K.cache_keys(k, avro) == [b'{"ID":7,"REGION":"eu"}']
    assert K.norm({"REGION": "eu", "ID": 7}) in K.wanted_forms(k)


def test_unknown_format_tries_every_plausible_encoding():
    k = K.parse_key("42", K.UNKNOWN)
    enc = K.encodings(k, K.UNKNOWN)
    assert enc[0] == b"42"
    assert struct.pack(">i", 42) in enc and struct.pack(">q", 42) in enc and struct.pack(">d", 42.0) in enc
    assert K.encodings(K.parse_key("c-7", K.UNKNOWN), K.UNKNOWN)[:2] == [b"c-7", b'"c-7"']
    # Avro keys from the key subject: the framed bytes (what the partitioner hashed)
    schema = parse_schema({"type": "string"})
    got = K.encodings(K.parse_key("c-7", K.UNKNOWN), K.UNKNOWN, [(12, schema)])
    b = io.BytesIO()
    schemaless_writer(b, schema, "c-7")
    assert b"\x00" + (12).to_bytes(4, "big") + b.getvalue() in got


def test_avro_record_keys_encode_with_the_schema_field_names():
    schema = parse_schema({"type": "record", "name": "K", "fields": [{"name": "REGION", "type": "string"},
                                                                     {"name": "ID", "type": "int"}]})
    spec = K.KeySpec("AVRO", (("REGION", "STRING"), ("ID", "INT")), "t")
    (wire,) = K.encodings(K.parse_key("id=7,region=eu", spec), spec, [(3, schema)])
    b = io.BytesIO()
    schemaless_writer(b, schema, {"REGION": "eu", "ID": 7})
    assert wire == b"\x00\x00\x00\x00\x03" + b.getvalue()


# ---------------------------------------------------------------- labelling keys

def test_keys_are_labelled_by_what_they_are():
    unknown = Decoder(None)
    d = unknown.decode_key(struct.pack(">i", 42))
    assert (d.format, d.value, d.hints) == ("hex", "0000002a", {"int": 42})  # never a "string"
    d = unknown.decode_key(struct.pack(">q", 42))  # starts with 0 like a framed key: no registry -> binary
    assert (d.format, d.hints["bigint"], d.error) == ("hex", 42, None)
    assert unknown.decode_key(b"c-7").format == "string"
    int_spec = Decoder(None, K.KeySpec("KAFKA", (("ID", "INT"),), "t"))
    assert (int_spec.decode_key(struct.pack(">i", 42)).value, int_spec.decode_key(struct.pack(">i", 42)).format) == \
        (42, "int")
    big = Decoder(None, K.spec_from_option("bigint")).decode_key(struct.pack(">q", -5))
    assert (big.value, big.format) == (-5, "bigint")
    js = Decoder(None, K.spec_from_option("json")).decode_key(b'"abc"')
    assert (js.value, js.format) == ("abc", "json")


# ---------------------------------------------------------------- safe output, lossless JSON

def test_safe_escapes_control_sequences():
    evil = "ok\x1b]0;owned\x07\x1b[2J\r\nfake line\u202eevil\x9b31m"
    s = safe(evil)
    assert all(c not in s for c in "\x1b\x07\r\n\u202e\x9b")
    assert s == "ok\\x1b]0;owned\\x07\\x1b[2J\\r\\nfake line\\u202eevil\\x9b31m"
    assert safe("plain é ✓") == "plain é ✓"


def test_pretty_view_never_prints_control_characters(monkeypatch):
    from rich.console import Console

    from kctx_cli.tail.core import PrettySink

    class M:
        def topic(self): return "t"
        def partition(self): return 0
        def offset(self): return 1
        def timestamp(self): return (1, 1700000000000)
        def headers(self): return [("h\x1b[31m", b"\x1b]0;title\x07"), ("bin", b"\xff\x00")]

    buf = io.StringIO()
    sink = PrettySink(Console(file=buf, force_terminal=False, width=200, color_system=None))
    d = Decoder(None)
    sink.write(M(), d.decode_key(b"k\x1b[2J"), d.decode(b"v\x1b]0;x\x07\x9b"))
    sink.write(M(), d.decode_key(b"k"), d.decode(b'{"a": "\\u001b[2J\\u009b"}'))
    out = buf.getvalue()
    assert not any(c in out for c in "\x1b\x07\x9b"), repr(out)
    assert "h\\x1b[31m=0x1b5d303b" in out and "0xff00" in out and '"a": "\\u001b[2J\\x9b"' in out


def test_json_is_parsed_only_when_lossless():
    assert plain(b'{"a": [1, 2.5, null]}').format == "json"
    for text in (b'{"a": 1, "a": 2}', b'{"a": NaN}', b'[1e400]', b'[0.1000000000000000055511151231257827]'):
        d = plain(text)
        assert (d.format, d.value) == ("string", text.decode()), text
    assert plain(b"\xff\x0a").format == "hex"


# ---------------------------------------------------------------- DLQ: partition and times

def test_replay_goes_back_to_the_original_partition():
    o = origin(kctx_headers("orders", 5, 7, 1704067200000, "E", "m"))
    assert target_partition(o, 6, False) == 5
    assert target_partition(o, 6, True) is None      # --repartition
    assert target_partition(o, 3, False) is None     # no partition 5 in the target
    assert target_partition(Origin("connect", "t", None), 3, False) is None
    spring = origin([("kafka_dlt-original-topic", b"t"), ("kafka_dlt-original-partition", (1).to_bytes(4, "big"))])
    assert target_partition(spring, 3, False) == 1


def test_origin_times_are_iso_with_the_epoch_ms_kept():
    d = origin(kctx_headers("orders", 5, 7, 1704067200000, "E", "m")).as_dict()
    assert (d["timestamp"], d["timestamp_ms"]) == ("2024-01-01T00:00:00.000Z", 1704067200000)


# ---------------------------------------------------------------- Protobuf / JSON Schema framing

def test_confluent_message_indexes():
    from kctx_cli.backends.wire import WireError, message_indexes

    assert message_indexes(b"\x00\x00\x00\x00\x01\x00rest") == ([0], 6)
    # count 2 (zig-zag 4), indexes 1 (2) and 0 (0)
    assert message_indexes(b"\x00\x00\x00\x00\x01\x04\x02\x00rest") == ([1, 0], 8)
    with pytest.raises(WireError):
        message_indexes(b"\x00\x00\x00\x00\x01\x04\x02")


def test_json_schema_and_protobuf_values_decode():
    import google.protobuf  # noqa: F401 - a dependency (confluent-kafka[protobuf]): missing is a failure
    import base64

    from google.protobuf import descriptor_pb2

    from kctx_cli.backends.wire import JsonSchema, ProtobufSchema, from_stored

    js = JsonSchema('{"type": "object"}')
    assert js.decode(b"\x00\x00\x00\x00\x09" + b'{"a": 1}') == {"a": 1}
    fdp = descriptor_pb2.FileDescriptorProto(name="x.proto", package="shop", syntax="proto3")
    m = fdp.message_type.add(name="Order")
    m.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    m.field.add(name="qty", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    schema = ProtobufSchema([("default", base64.b64encode(fdp.SerializeToString()).decode())])
    body = b"\x0a\x03o-1\x10\x05"  # id="o-1", qty=5
    assert schema.decode(b"\x00\x00\x00\x00\x02\x00" + body) == {"id": "o-1", "qty": 5}
    again = from_stored(schema.stored())
    assert again.decode(b"\x00\x00\x00\x00\x02\x00" + body) == {"id": "o-1", "qty": 5}
    assert from_stored(json.dumps({"type": "record"})) is None


def test_tables_do_not_wrap_when_piped(monkeypatch):
    from rich.table import Table

    from kctx_cli.commands.console import stdout

    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)
    monkeypatch.setenv("COLUMNS", "80")
    t = Table("a", "b")
    t.add_row("x" * 150, "y" * 150)
    stdout().print(t)
    row = [line for line in buf.getvalue().splitlines() if "x" in line]
    assert len(row) == 1 and "x" * 150 in row[0] and "y" * 150 in row[0]


def test_binary_header_values_are_hex():
    from kctx_cli.tail.decode import header_value

    assert header_value(b"\x00\x00\x00\x01") == "0x00000001"  # Spring's big-endian partition
    assert header_value(b"\xde\xad\xbe\xef") == "0xdeadbeef"
    assert header_value(b"java.lang.X: boom\n\tat y") == "java.lang.X: boom\n\tat y"
    assert header_value(None) is None

"""Offline parts of the incident tools: partitioner, --from parsing, decoding, DLQ headers."""
from __future__ import annotations

import io
import json

import pytest
from fastavro import parse_schema, schemaless_writer

from kctx_cli.backends.registry import SchemaUnavailable
from kctx_cli.dlq.headers import kctx_headers, origin, replay_headers
from kctx_cli.errors import KctxError
from kctx_cli.tail.decode import Decoder
from kctx_cli.tail.jsonout import iso_ms
from kctx_cli.tail.partitioner import murmur2, partition_for
from kctx_cli.tail.start import Start, parse_start


# values computed by Java's org.apache.kafka.common.utils.Utils.murmur2 (Kafka's UtilsTest)
@pytest.mark.parametrize("data,expected", [
    (b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829), (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107), (b"", 275646681),
])
def test_murmur2_matches_java(data, expected):
    assert murmur2(data) == expected


def test_partition_is_positive_modulo():
    assert partition_for(b"21", 7) == (-973932308 & 0x7FFFFFFF) % 7


@pytest.mark.parametrize("text,start", [
    ("beginning", Start("beginning")), ("earliest", Start("beginning")), ("end", Start("end")),
    ("latest", Start("end")), ("42", Start("offset", 42)), ("-5", Start("last", 5)),
    ("1700000000000", Start("time", 1700000000000)),
    ("2023-11-14T22:13:20Z", Start("time", 1700000000000)),
    ("2023-11-14T22:13:20", Start("time", 1700000000000)),  # no zone = UTC
    ("2023-11-14T23:13:20+01:00", Start("time", 1700000000000)),
])
def test_parse_start(text, start):
    assert parse_start(text) == start


@pytest.mark.parametrize("bad", ["yesterday", "", "12abc", "--3"])
def test_parse_start_rejects(bad):
    with pytest.raises(KctxError) as e:
        parse_start(bad)
    assert str(e.value) == (f"--from: expected beginning, end, an offset, -N (last N), epoch milliseconds or an "
                            f"ISO-8601 time, got '{bad}'")


SCHEMA = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "long"}]}


class FakeSchemas:
    """Stands in for the registry cache in unit tests only (the stack tests use the real Schema Registry)."""

    def __init__(self, outage=False):
        self.outage = outage

    def get(self, sid):
        if self.outage:
            raise SchemaUnavailable("schema registry unreachable: ConnectError", outage=True)
        if sid == 7:
            return parse_schema(SCHEMA)
        raise SchemaUnavailable(f"schema id {sid} not found in the registry", outage=False)

    def typed(self, sid):
        return "AVRO", self.get(sid)


def wire(sid: int, rec) -> bytes:
    b = io.BytesIO()
    schemaless_writer(b, parse_schema(SCHEMA), rec)
    return b"\x00" + sid.to_bytes(4, "big") + b.getvalue()


def test_decode_avro_json_string_hex_null():
    d = Decoder(FakeSchemas())
    v = d.decode(wire(7, {"id": "a", "n": 3}))
    assert (v.value, v.format, v.schema_id, v.error) == ({"id": "a", "n": 3}, "avro", 7, None)
    assert d.decode(b'{"x": 1}').value == {"x": 1} and d.decode(b'{"x": 1}').format == "json"
    assert d.decode(b"hello").format == "string"
    assert d.decode(b"{not json").format == "string"
    h = d.decode(b"\xff\xfe")
    assert (h.value, h.format) == ("fffe", "hex")
    assert d.decode(None).format == "null"


def test_decode_failures_are_reported_not_raised():
    d = Decoder(FakeSchemas())
    unknown = d.decode(wire(99, {"id": "a", "n": 3}))
    assert unknown.format == "hex" and unknown.error == "schema id 99 not found in the registry"
    corrupt = d.decode(b"\x00\x00\x00\x00\x07" + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
    assert corrupt.format == "hex" and corrupt.error.startswith("cannot decode Avro with schema id 7")
    trailing = d.decode(wire(7, {"id": "a", "n": 3}) + b"xx")
    assert trailing.error == "Avro body has 2 trailing bytes for schema id 7"
    down = Decoder(FakeSchemas(outage=True))
    r = down.decode(wire(7, {"id": "a", "n": 3}))
    assert r.format == "hex" and "unreachable" in r.error and down.registry_errors


def test_iso_ms():
    assert iso_ms(1700000000123) == "2023-11-14T22:13:20.123Z"


def test_dlq_header_conventions():
    k = origin(kctx_headers("orders", 2, 41, 1700000000000, "E42", "bad amount"))
    assert (k.convention, k.topic, k.partition, k.offset, k.timestamp, k.error_code, k.error_message) == \
        ("kctx", "orders", 2, 41, 1700000000000, "E42", "bad amount")
    c = origin([("__connect.errors.topic", b"orders"), ("__connect.errors.partition", b"1"),
                ("__connect.errors.offset", b"7"),
                ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
                ("__connect.errors.exception.message", b"Converting byte[] to Kafka Connect data failed")])
    assert (c.convention, c.topic, c.partition, c.offset, c.error_code) == \
        ("connect", "orders", 1, 7, "org.apache.kafka.connect.errors.DataException")
    s = origin([("kafka_dlt-original-topic", b"orders"), ("kafka_dlt-original-partition", (2).to_bytes(4, "big")),
                ("kafka_dlt-original-offset", (2**40).to_bytes(8, "big")),
                ("kafka_dlt-original-timestamp", (1700000000000).to_bytes(8, "big")),
                ("kafka_dlt-exception-fqcn", b"java.lang.IllegalStateException"),
                ("kafka_dlt-exception-message", b"boom"), ("kctx-replayed", b"2")])
    assert (s.convention, s.topic, s.partition, s.offset, s.timestamp, s.error_code, s.error_message, s.replay_count) == \
        ("spring", "orders", 2, 2**40, 1700000000000, "java.lang.IllegalStateException", "boom", 2)
    assert origin([("x", b"y")]).convention is None


def test_replay_headers_drop_dlq_headers_and_count():
    hs = [("trace", b"t1"), *kctx_headers("o", 0, 1, None, "E", "m"), ("__connect.errors.topic", b"o"),
          ("kafka_dlt-original-topic", b"o"), ("kctx-replayed", b"1")]
    assert replay_headers(hs, 2) == [("trace", b"t1"), ("kctx-replayed", b"2")]


def test_record_json_shape():
    # json_default renders what fastavro returns for logical types
    import datetime
    import decimal
    import uuid

    from kctx_cli.tail.jsonout import json_default
    v = {"d": decimal.Decimal("12.3400"), "t": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
         "day": datetime.date(2026, 1, 2), "u": uuid.UUID(int=1), "b": b"\x01"}
    assert json.loads(json.dumps(v, default=json_default)) == {
        "d": "12.3400", "t": "2026-01-02T03:04:05.678Z", "day": "2026-01-02",
        "u": "00000000-0000-0000-0000-000000000001", "b": "AQ=="}


def test_schema_cache_remembers_unknown_ids_and_backs_off_on_outage():
    from kctx_cli.backends.registry import SchemaCache

    calls = []

    def fetch(sid):
        calls.append(sid)
        if sid == 1:
            return "AVRO", json.dumps(SCHEMA)
        if sid == 2:
            raise SchemaUnavailable("schema id 2 not found in the registry", outage=False)
        if sid == 3:
            return "PROTOBUF", "syntax = 'proto3';"
        raise SchemaUnavailable("schema registry unreachable: refused", outage=True)

    c = SchemaCache(fetch, retry_after=60)
    assert c.get(1) is c.get(1) and calls == [1]
    for _ in range(2):
        with pytest.raises(SchemaUnavailable, match="not found"):
            c.get(2)
    with pytest.raises(SchemaUnavailable, match="schema id 3 is PROTOBUF, not Avro"):
        c.get(3)
    with pytest.raises(SchemaUnavailable) as e:
        c.get(4)
    assert e.value.outage
    with pytest.raises(SchemaUnavailable):
        c.get(5)  # inside the back-off: no request
    assert calls == [1, 2, 3, 4]

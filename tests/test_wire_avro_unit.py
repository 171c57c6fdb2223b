"""backends.wire's Avro payloads: a top-level bytes schema (BYTES, DECIMAL) is written raw,
as Confluent's serializers write it, every other schema with fastavro; generated values
round-trip, the bodies agree with fastavro where it applies, and typed DECIMAL keys are rescaled to their column. What ksqlDB writes is
checked on the real stack (test_runtime_avro_keys_stack.py, test_key_matrix_stack.py)."""
from __future__ import annotations

import io
import random
from decimal import Decimal

import pytest
from fastavro import parse_schema, schemaless_writer

from kctx_cli.backends.wire import avro_writer, read_avro, write_avro
from kctx_cli.errors import KctxError
from kctx_cli.tail.keys import convert, spec_from_description

HEADER = b"\x00\x00\x00\x00\x07"
DEC = parse_schema({"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 3})


def decimals(n: int):
    r = random.Random(7)
    yield from (Decimal("0.000"), Decimal("-0.001"), Decimal("999999999.999"), Decimal("-999999999.999"),
                Decimal("0.128"), Decimal("-0.128"), Decimal("1.5"))
    for _ in range(n):  # within DECIMAL(12, 3): at most 9 integer digits, 0 to 3 places
        places = r.randrange(0, 4)
        yield Decimal(r.randrange(-10 ** (9 + places) + 1, 10 ** (9 + places))).scaleb(-places)


def test_decimal_round_trips_raw_at_the_schema_scale():
    for d in decimals(2000):
        body = write_avro(DEC, d)
        avro = io.BytesIO()
        schemaless_writer(avro, DEC, d)
        # Avro's encoding is the same bytes behind a length prefix; the payload has none
        assert avro.getvalue().endswith(body) and len(avro.getvalue()) > len(body)
        value, trailing = read_avro(HEADER + body, DEC)
        assert (value, value.as_tuple().exponent, trailing) == (d, -3, 0)


def test_bytes_are_raw():
    r = random.Random(11)
    for _ in range(200):
        b = r.randbytes(r.randrange(0, 50))
        assert write_avro("bytes", b) == b
        assert read_avro(HEADER + b, "bytes") == (b, 0)
    assert read_avro(HEADER, "bytes") == (b"", 0)  # an empty BYTES key: the header alone


def test_other_schemas_are_fastavro_and_report_trailing_bytes():
    schema = parse_schema({"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"},
                                                                    {"name": "n", "type": "long"}]})
    body = write_avro(schema, {"a": "é", "n": -3})
    out = io.BytesIO()
    schemaless_writer(out, schema, {"a": "é", "n": -3})
    assert body == out.getvalue()
    assert read_avro(HEADER + body, schema) == ({"a": "é", "n": -3}, 0)
    assert read_avro(HEADER + body + b"xy", schema)[1] == 2


@pytest.mark.parametrize("schema,datum,message", [
    ("bytes", "text", "holds bytes, not str"),
    (DEC, 3, "holds bytes or a Decimal, not int"),
    (DEC, Decimal("1.2345"), "Scale provided in schema does not match the decimal"),
])
def test_a_datum_the_schema_cannot_hold_is_an_error(schema, datum, message):
    with pytest.raises((TypeError, ValueError), match=message):
        avro_writer(schema)(datum)


def test_typed_decimal_keys_take_their_columns_scale():
    assert convert("12.5", "DECIMAL(10, 2)", "key").as_tuple().exponent == -2
    assert convert(" -163.5 ", "DECIMAL(10, 2)", "key") == Decimal("-163.50")
    assert convert("7", "DECIMAL", "key") == Decimal("7")  # scale unknown: as typed
    for bad, why in (("1.234", "more than 2 decimal places"), ("123456789.5", "more than 10 digits at scale 2"),
                     ("x", "is not a DECIMAL"), ("NaN", "is not a DECIMAL"), ("-Infinity", "is not a DECIMAL")):
        with pytest.raises(KctxError, match=why):
            convert(bad, "DECIMAL(10, 2)", "key")
    with pytest.raises(KctxError, match="is not a DECIMAL"):
        convert("Infinity", "DECIMAL", "key")
    desc = {"keyFormat": "AVRO", "name": "T", "type": "TABLE", "fields": [
        {"name": "A", "type": "KEY", "schema": {"type": "DECIMAL", "parameters": {"precision": 10, "scale": 2}}},
        {"name": "B", "type": "KEY", "schema": {"type": "INTEGER"}},
        {"name": "V", "schema": {"type": "INTEGER"}}]}
    assert spec_from_description(desc).columns == (("A", "DECIMAL(10, 2)"), ("B", "INT"))

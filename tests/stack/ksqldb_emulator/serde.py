"""INSERT ... VALUES: literal values to the bytes ksqlDB would write.

Formats: KAFKA (key/value: big-endian INT/BIGINT/DOUBLE, UTF-8 STRING), JSON (an object of
the columns; a single key column unwrapped), AVRO (Confluent wire format with the
subject's registered schema), NONE (no key). Others are refused with a clear message.
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import struct

from . import sqltypes as T


class SerdeError(Exception):
    pass


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def coerce(value, t: T.SqlType, column: str):
    """A literal's Python value as the column's type (ksqlDB's implicit literal casts)."""
    if value is None:
        return None
    b = t.base
    try:
        if b == "BOOLEAN":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        elif b in ("INTEGER", "BIGINT"):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int):
                return value
            if isinstance(value, str) and value.lstrip("-").isdigit():
                return int(value)
        elif b == "DOUBLE":
            if not isinstance(value, bool):
                return float(value)
        elif b == "DECIMAL":
            if not isinstance(value, bool):
                q = decimal.Decimal(str(value)).quantize(decimal.Decimal(1).scaleb(-t.scale))
                if len(q.as_tuple().digits) > t.precision:
                    raise ValueError
                return q
        elif b == "STRING":
            if isinstance(value, str):
                return value
        elif b == "BYTES":
            if isinstance(value, str):
                return base64.b64decode(value)
        elif b == "TIMESTAMP":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                d = dt.datetime.fromisoformat(value)
                d = d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)
                return int((d - _EPOCH).total_seconds() * 1000)
        elif b == "DATE":
            if isinstance(value, str):
                return (dt.date.fromisoformat(value) - dt.date(1970, 1, 1)).days
            if isinstance(value, int):
                return value
        elif b == "TIME":
            if isinstance(value, str):
                tm = dt.time.fromisoformat(value)
                return ((tm.hour * 60 + tm.minute) * 60 + tm.second) * 1000 + tm.microsecond // 1000
            if isinstance(value, int):
                return value
        elif b in ("ARRAY", "MAP", "STRUCT"):
            return value
    except (ValueError, decimal.InvalidOperation):
        pass
    raise SerdeError(f"Expected type {t.render()} for field {column} but got {value!r}")


def _json_value(v, t: T.SqlType):
    if v is None:
        return None
    if t.base == "DECIMAL":
        return float(v) if v != v.to_integral_value() else int(v) if t.scale == 0 else float(v)
    if t.base == "BYTES":
        return base64.b64encode(v).decode()
    return v


def _avro_value(v, t: T.SqlType):
    if v is None:
        return None
    if t.base == "TIMESTAMP":
        return _EPOCH + dt.timedelta(milliseconds=v)
    if t.base == "DATE":
        return dt.date(1970, 1, 1) + dt.timedelta(days=v)
    if t.base == "TIME":
        return (dt.datetime.min + dt.timedelta(milliseconds=v)).time()
    if t.base == "ARRAY":
        return [_avro_value(x, t.item) for x in v]
    if t.base == "MAP":  # ksqlDB registers maps as arrays of MapEntry {key, value} records
        return [{"key": k, "value": _avro_value(x, t.item)} for k, x in v.items()]
    if t.base == "STRUCT":
        types = dict(t.fields)
        return {n: _avro_value(x, types[n]) if n in types else x for n, x in v.items()}
    return v


def serialize(fmt: str, columns: list[tuple[str, T.SqlType, object]], topic: str, part: str, registry):
    """Bytes for the key (part="key") or value (part="value") of one record."""
    if fmt == "NONE" or not columns:
        return None
    if fmt == "KAFKA":
        if len(columns) != 1:
            raise SerdeError("The 'KAFKA' format only supports a single field.")
        _, t, v = columns[0]
        if v is None:
            return None
        if t.base == "STRING":
            return v.encode()
        if t.base == "INTEGER":
            return struct.pack(">i", v)
        if t.base == "BIGINT":
            return struct.pack(">q", v)
        if t.base == "DOUBLE":
            return struct.pack(">d", v)
        if t.base == "BYTES":
            return v
        raise SerdeError(f"The 'KAFKA' format does not support type '{t.base}'")
    if fmt == "JSON":
        if part == "key" and len(columns) == 1:
            return json.dumps(_json_value(columns[0][2], columns[0][1])).encode()
        return json.dumps({n: _json_value(v, t) for n, t, v in columns}).encode()
    if fmt == "AVRO":
        if registry is None:
            raise SerdeError("AVRO needs a Schema Registry (--schema-registry-url)")
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        latest = registry.get_latest_version(f"{topic}-{part}")
        ser = AvroSerializer(registry, latest.schema.schema_str,
                             conf={"auto.register.schemas": False, "use.latest.version": True})
        schema = json.loads(latest.schema.schema_str)
        field = MessageField.KEY if part == "key" else MessageField.VALUE
        if isinstance(schema, dict) and schema.get("type") == "record":
            obj = {n: _avro_value(v, t) for n, t, v in columns}
        else:
            obj = _avro_value(columns[0][2], columns[0][1])
        return ser(obj, SerializationContext(topic, field))
    raise SerdeError(f"The kctx ksqlDB emulator cannot write the {fmt} format")

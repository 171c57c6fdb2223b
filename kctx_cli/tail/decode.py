"""Turn record bytes into something printable, never failing.

Order of attempts for a key or a value:
1. Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body):
   decoded with the writer schema from the registry (cached by id);
2. UTF-8 text that parses as JSON (object or array) -> the JSON value;
3. other UTF-8 text -> the string;
4. anything else -> hex.

A wire-format record that cannot be decoded (unknown id, corrupt body, registry down)
comes back as hex with an ``error`` saying why, so the caller prints it and goes on.
"""
from __future__ import annotations

import base64
import datetime as _dt
import decimal
import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_reader

from kctx_cli.backends.registry import SchemaCache, SchemaUnavailable

MAGIC = 0


@dataclass(slots=True)
class Decoded:
    value: Any            # a JSON-able value (after to_jsonable) or None for a null payload
    format: str           # avro | json | string | hex | null
    schema_id: int | None = None
    error: str | None = None


NULL = Decoded(None, "null")


class Decoder:
    def __init__(self, schemas: SchemaCache | None):
        self.schemas = schemas
        self.registry_errors: list[str] = []  # outages, for the caller to report once

    def decode(self, data: bytes | None) -> Decoded:
        if data is None:
            return NULL
        if len(data) >= 5 and data[0] == MAGIC:
            return self._avro(data)
        return plain(data)

    def _avro(self, data: bytes) -> Decoded:
        schema_id = int.from_bytes(data[1:5], "big")
        if self.schemas is None:
            return Decoded(data.hex(), "hex", schema_id, "no schema registry configured")
        try:
            schema = self.schemas.get(schema_id)
        except SchemaUnavailable as exc:
            if exc.outage and (not self.registry_errors or self.registry_errors[-1] != str(exc)):
                self.registry_errors.append(str(exc))
            return Decoded(data.hex(), "hex", schema_id, str(exc))
        bio = io.BytesIO(data)
        bio.seek(5)
        try:
            value = schemaless_reader(bio, schema, None)
        except Exception as exc:  # noqa: BLE001 - corrupt bytes are data, not a bug
            return Decoded(data.hex(), "hex", schema_id, f"cannot decode Avro with schema id {schema_id}: {_short(exc)}")
        if bio.tell() != len(data):
            return Decoded(data.hex(), "hex", schema_id,
                           f"Avro body has {len(data) - bio.tell()} trailing bytes for schema id {schema_id}")
        return Decoded(value, "avro", schema_id)


def plain(data: bytes) -> Decoded:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Decoded(data.hex(), "hex")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return Decoded(json.loads(text), "json")
        except ValueError:
            pass
    return Decoded(text, "string")


def _short(exc: Exception) -> str:
    msg = str(exc) or type(exc).__name__
    return msg if len(msg) < 200 else msg[:200] + "…"


def json_default(o: Any):
    """json.dumps fallback for what fastavro returns (logical types, bytes)."""
    if isinstance(o, decimal.Decimal):
        return str(o)
    if isinstance(o, _dt.datetime):
        if o.tzinfo is _dt.timezone.utc:  # what fastavro returns for timestamp-millis
            return o.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
        if o.tzinfo is not None:
            o = o.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return o.isoformat(timespec="milliseconds") + "Z"
        return o.isoformat()
    if isinstance(o, (_dt.date, _dt.time)):
        return o.isoformat()
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, (bytes, bytearray)):
        return base64.b64encode(bytes(o)).decode("ascii")
    raise TypeError(f"cannot encode {type(o).__name__}")


# one encoder for all records: json.dumps(default=...) builds a new one per call
dumps = json.JSONEncoder(default=json_default, ensure_ascii=False).encode


def iso_ms(ms: int) -> str:
    """Kafka timestamp (ms since epoch) as ISO-8601 UTC with milliseconds."""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def header_value(v: bytes | None) -> str | None:
    if v is None:
        return None
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + v.hex()

"""Avro, Protobuf and JSON Schema payloads in the Confluent wire format.

Framing (Confluent docs, "Wire format"): byte 0 is the magic 0, bytes 1-4 the schema id
(big-endian); the schema's type comes from the registry (``schemaType``: AVRO when
absent, PROTOBUF, JSON). Then

AVRO      the Avro binary encoding of the value (fastavro), except for a top-level
          ``bytes`` schema (BYTES, or DECIMAL as bytes with the decimal logical type): its
          bytes as they are, without Avro's length prefix. Confluent's serializers make that
          exception (kafka-avro-serializer 8.1.5: AbstractKafkaAvroSerializer writes a
          byte[]/ByteBuffer datum raw, AbstractKafkaAvroDeserializer returns the rest of the
          payload for a BYTES writer schema; confluent-kafka-python's AvroSerializer
          likewise), so ksqlDB writes a DECIMAL(12, 3) key 12.5 as 00 <id> 30 d4 (checked on
          ksqlDB 8.1.5); the decimal's bytes are the unscaled two's-complement integer, as in
          Avro (fastavro's own bytes-decimal conversions).
JSON      the JSON text of the value (KafkaJsonSchemaSerializer).
PROTOBUF  the message indexes — a zig-zag varint count, then that many zig-zag varints,
          the path of the message type among the file's (nested) messages; a single 0
          byte stands for [0], the first message — then the protobuf-encoded message
          (KafkaProtobufSerializer, MessageIndexes.toByteArray).

Protobuf descriptors are fetched ``?format=serialized`` (base64 FileDescriptorProto) with
their references, built into a DescriptorPool with the well-known types as confluent-kafka's
deserializer does (its ``_init_pool``/``_str_to_proto``), and decoded with
``json_format.MessageToDict`` (proto3 JSON mapping: field names as declared, 64-bit ints
as strings, enums by name, bytes as base64).
"""
from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any, Callable

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import LOGICAL_READERS
from fastavro.write import LOGICAL_WRITERS


class WireError(Exception):
    """A payload that does not decode with its schema (the message says why)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated message indexes")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise WireError("malformed varint in the message indexes")
    return (result >> 1) ^ -(result & 1), pos  # zig-zag


def message_indexes(data: bytes, pos: int = 5) -> tuple[list[int], int]:
    """The message-index path at ``pos`` of a framed Protobuf payload, and where the
    message body starts. WireError for a malformed or implausible path."""
    count, pos = _varint(data, pos)
    if count == 0:
        return [0], pos
    if count < 0 or count > 100:
        raise WireError(f"implausible message index count {count}")
    out = []
    for _ in range(count):
        i, pos = _varint(data, pos)
        out.append(i)
    return out, pos


def _raw_bytes(schema) -> bool:
    # confluent-kafka-python's own test (AvroSerializer/AvroDeserializer)
    return schema == "bytes" or isinstance(schema, dict) and schema.get("type") == "bytes"


def read_avro(data: bytes, schema) -> tuple[Any, int]:
    """``(datum, trailing)`` of a Confluent-framed Avro payload: ``data`` with its 5-byte
    header, ``schema`` the writer schema as ``fastavro.parse_schema`` gives it;
    ``trailing`` counts the bytes left after the Avro body (0 for a whole payload). A
    top-level bytes schema is read as Confluent's serializers write it (module
    docstring): the bytes after the header, a ``Decimal`` for the decimal logical type.
    fastavro's exceptions (EOFError, ValueError...) for a body that does not decode."""
    if _raw_bytes(schema):
        body = bytes(data[5:])
        if isinstance(schema, dict) and schema.get("logicalType") == "decimal":
            return LOGICAL_READERS["bytes-decimal"](body, schema, schema), 0
        return body, 0
    bio = io.BytesIO(data)
    bio.seek(5)
    value = schemaless_reader(bio, schema, None)
    return value, len(data) - bio.tell()


def avro_writer(schema) -> Callable[[Any], bytes]:
    """datum -> the Avro body (no header) Confluent's serializers write for it with
    ``schema`` (parsed by ``fastavro.parse_schema``), the schema's kind decided once:
    fastavro's ``schemaless_writer``, or for a top-level bytes schema the bytes as they are
    (a ``Decimal`` converted to its unscaled two's-complement bytes at the schema's scale:
    module docstring). The function raises ValueError or TypeError (fastavro's, or for a
    datum a bytes schema cannot hold) when the datum does not fit the schema."""
    if _raw_bytes(schema):
        decimal = isinstance(schema, dict) and schema.get("logicalType") == "decimal"
        to_bytes = LOGICAL_WRITERS["bytes-decimal"]

        def raw(datum) -> bytes:
            if isinstance(datum, (bytes, bytearray, memoryview)):
                return bytes(datum)
            if decimal and isinstance(datum, Decimal):
                return to_bytes(datum, schema)
            raise TypeError(f"a top-level bytes schema holds bytes{' or a Decimal' if decimal else ''}, "
                            f"not {type(datum).__name__}")
        return raw
    BytesIO = io.BytesIO

    def write(datum) -> bytes:
        out = BytesIO()
        schemaless_writer(out, schema, datum)
        return out.getvalue()
    return write


def write_avro(schema, datum) -> bytes:
    """``avro_writer(schema)(datum)``: one datum's Avro body (no header)."""
    return avro_writer(schema)(datum)


class JsonSchema:
    """A JSON Schema registered schema: the payload is plain JSON text."""

    kind = "JSON"
    label = "json_sr"

    def __init__(self, text: str):
        self.text = text

    def decode(self, data: bytes, start: int = 5) -> Any:
        """The JSON value of a framed payload: ``data[start:]`` (``start`` = 5, after the magic
        byte and schema id) parsed as UTF-8 JSON text. WireError when it is not."""
        try:
            return json.loads(data[start:].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise WireError(f"not JSON: {exc}") from None

    def stored(self) -> str:
        """This schema as one JSON text for a cache (``{"schemaType": "JSON", "schema": ...}``),
        read back by ``from_stored``."""
        return json.dumps({"schemaType": "JSON", "schema": self.text})


class ProtobufSchema:
    """A Protobuf registered schema: its file and the files it imports, as base64
    FileDescriptorProtos (``files``: ``[(name, base64), ...]``, dependencies first, the
    schema's own file last)."""

    kind = "PROTOBUF"
    label = "protobuf"

    def __init__(self, files: list[tuple[str, str]]):
        from confluent_kafka.schema_registry.common.protobuf import _init_pool, _str_to_proto
        from google.protobuf.descriptor_pool import DescriptorPool

        self.files = files
        self.pool = DescriptorPool()
        _init_pool(self.pool)
        for name, b64 in files:
            self.fdp = _str_to_proto(name, b64)
            self.pool.Add(self.fdp)
        self._classes: dict[tuple, Any] = {}

    def _message_class(self, path: list[int]):
        key = tuple(path)
        cls = self._classes.get(key)
        if cls is None:
            from google.protobuf.message_factory import GetMessageClass

            msgs, names = self.fdp.message_type, []
            for depth, i in enumerate(path):
                if i < 0 or i >= len(msgs):
                    raise WireError(f"message index {i} out of range ({len(msgs)} message types)")
                names.append(msgs[i].name)
                msgs = msgs[i].nested_type
            full = ".".join(filter(None, [self.fdp.package, *names]))
            cls = self._classes[key] = GetMessageClass(self.pool.FindMessageTypeByName(full))
        return cls

    def decode(self, data: bytes, start: int = 5) -> Any:
        """A framed Protobuf payload as a dict (``json_format.MessageToDict`` with the .proto field
        names): the message indexes at ``start`` (5: after the magic byte and schema id) choose
        the message type, the rest is its encoding. WireError for bad indexes or bytes that do
        not parse."""
        from google.protobuf import json_format
        from google.protobuf.message import DecodeError

        path, body = message_indexes(data, start)
        msg = self._message_class(path)()
        try:
            msg.ParseFromString(data[body:])
        except DecodeError as exc:
            raise WireError(f"cannot parse {msg.DESCRIPTOR.full_name}: {exc}") from None
        return json_format.MessageToDict(msg, preserving_proto_field_name=True)

    def stored(self) -> str:
        """This schema as one JSON text for a cache (``{"schemaType": "PROTOBUF", "files": ...}``),
        read back by ``from_stored``."""
        return json.dumps({"schemaType": "PROTOBUF", "files": self.files})


def from_stored(text: str):
    """A schema kept by a cache (``stored()``), or None when ``text`` is an Avro schema."""
    if not text.startswith('{"schemaType"'):
        return None
    d = json.loads(text)
    if d["schemaType"] == "JSON":
        return JsonSchema(d["schema"])
    return ProtobufSchema([tuple(f) for f in d["files"]])


def fetch_protobuf(get_json, schema_id: int) -> ProtobufSchema:
    """The Protobuf schema of ``schema_id`` with its references (recursively), through
    ``get_json(path, what)`` (kctx_cli.backends.registry.schema_fetcher)."""
    from urllib.parse import quote

    from confluent_kafka.schema_registry.common.protobuf import _is_builtin

    files: list[tuple[str, str]] = []
    seen: set[str] = set()

    def refs(references):
        for r in references or []:
            name = r.get("name")
            if not name or _is_builtin(name) or name in seen:
                continue
            seen.add(name)
            body = get_json(f"/subjects/{quote(r['subject'], safe='')}/versions/{r['version']}?format=serialized",
                            f"reference {name}")
            refs(body.get("references"))
            files.append((name, body["schema"]))

    body = get_json(f"/schemas/ids/{schema_id}?format=serialized", f"schema id {schema_id}")
    refs(body.get("references"))
    files.append(("default", body["schema"]))
    return ProtobufSchema(files)

"""Turn record bytes into something printable, never failing.

Order of attempts for a key or a value:
1. Confluent wire format (magic byte 0, 4-byte big-endian schema id): decoded with the
   writer schema from the registry (cached by id) by its type — Avro, Protobuf or JSON
   Schema (kctx_cli/backends/wire.py);
2. UTF-8 text that parses as JSON (object or array) without losing anything (no
   duplicate member names, no NaN/Infinity, every number kept exactly) -> the JSON value;
3. other UTF-8 text -> the string;
4. anything else -> hex.

A wire-format record that cannot be decoded (unknown id, corrupt body, registry down)
comes back as hex with an ``error`` saying why, so the caller prints it and goes on.

Keys (``decode_key``) are read with the topic's KeySpec (kctx_cli/tail/keys.py) when it
is known: a KAFKA INT key is the int 42 (label ``int``), never the "string" of its 4 bytes.
Without one, a key that is not printable text is ``hex`` with ``hints`` (what 4 or 8 bytes
read as: int, bigint, double); a framed key whose id is not in the registry is binary too
(schema id 0 is never assigned: an 8-byte BIGINT key starts with 0 as well).
"""
from __future__ import annotations

import decimal
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from kctx_cli.backends.registry import SchemaCache, SchemaUnavailable
from kctx_cli.backends.wire import read_avro

MAGIC = 0


@dataclass(slots=True)
class Decoded:
    """One decoded key or value: ``value`` a JSON-able value (None for a null payload);
    ``format`` how it was read (avro, protobuf, json_sr, json, string, int, bigint, double,
    hex, null); ``schema_id`` from the Confluent wire-format header, if any; ``error`` why it
    did not decode with its schema (``value`` is then the bytes in hex, ``format`` hex); ``hints`` for a
    binary key of unknown format, its readings as numbers (``{"int": ...}`` or
    ``{"bigint": ..., "double": ...}``)."""
    value: Any            # a JSON-able value (after to_jsonable) or None for a null payload
    format: str           # avro | protobuf | json_sr | json | string | int | bigint | double | hex | null
    schema_id: int | None = None
    error: str | None = None
    hints: dict | None = None  # binary keys of unknown format: {"int": …} / {"bigint": …, "double": …}


NULL = Decoded(None, "null")


class Decoder:
    """Decodes keys and values; ``schemas`` a SchemaCache (None: no registry), ``key_spec``
    the topic's KeySpec (kctx_cli.tail.keys; None or unknown: guess per key)."""

    def __init__(self, schemas: SchemaCache | None, key_spec=None):
        self.schemas = schemas
        self.key_spec = key_spec
        self.registry_errors: list[str] = []  # outages, for the caller to report once

    def decode(self, data: bytes | None) -> Decoded:
        """A value (or a key read like a value): never raises."""
        if data is None:
            return NULL
        if len(data) >= 5 and data[0] == MAGIC:
            return self._framed(data)
        return plain(data)

    def decode_key(self, data: bytes | None) -> Decoded:
        """A key, by the topic's KeySpec when known (module docstring); never raises."""
        if data is None:
            return NULL
        spec = self.key_spec
        fmt = spec.format if spec is not None else None
        if fmt == "KAFKA":
            from kctx_cli.tail.keys import decode_kafka

            got = decode_kafka(data, spec.single_type or "STRING")
            if got is not None:
                return Decoded(got[0], got[1])
            return _text_or_binary(data)
        if fmt == "JSON":
            d = plain(data, any_json=True)
            return d if d.format != "string" else _text_or_binary(data)
        if len(data) >= 5 and data[0] == MAGIC:
            d = self._framed(data)
            if d.error is None or fmt is not None or (self.schemas is not None and d.error.startswith("schema registry")):
                return d
            b = _text_or_binary(data)
            b.schema_id, b.error = None, None
            return b
        return _text_or_binary(data)

    def _framed(self, data: bytes) -> Decoded:
        schema_id = int.from_bytes(data[1:5], "big")
        if self.schemas is None:
            return Decoded(data.hex(), "hex", schema_id, "no schema registry configured")
        try:
            kind, schema = self.schemas.typed(schema_id)
        except SchemaUnavailable as exc:
            if exc.outage and (not self.registry_errors or self.registry_errors[-1] != str(exc)):
                self.registry_errors.append(str(exc))
            return Decoded(data.hex(), "hex", schema_id, str(exc))
        if kind != "AVRO":
            from kctx_cli.backends.wire import WireError

            try:
                return Decoded(schema.decode(data), schema.label, schema_id)
            except WireError as exc:
                return Decoded(data.hex(), "hex", schema_id, f"cannot decode {kind} with schema id {schema_id}: {exc}")
            except Exception as exc:  # noqa: BLE001 - corrupt bytes are data, not a bug
                return Decoded(data.hex(), "hex", schema_id,
                               f"cannot decode {kind} with schema id {schema_id}: {_short(exc)}")
        try:
            value, trailing = read_avro(data, schema)
        except Exception as exc:  # noqa: BLE001 - corrupt bytes are data, not a bug
            return Decoded(data.hex(), "hex", schema_id, f"cannot decode Avro with schema id {schema_id}: {_short(exc)}")
        if trailing:
            return Decoded(data.hex(), "hex", schema_id,
                           f"Avro body has {trailing} trailing bytes for schema id {schema_id}")
        return Decoded(value, "avro", schema_id)


def plain(data: bytes, *, any_json: bool = False) -> Decoded:
    """Bytes without framing: JSON (object/array; with ``any_json`` any JSON value) when
    it parses losslessly (``lossless_json``), else UTF-8 text, else hex."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Decoded(data.hex(), "hex")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") or (any_json and stripped):
        v = lossless_json(text)
        if v is not _NOT_JSON:
            return Decoded(v, "json")
    return Decoded(text, "string")


_NOT_JSON = object()


class _Lossy(ValueError):
    pass


def _reject_constant(name):
    raise _Lossy(name)


def _exact_float(s: str):
    f = float(s)
    if not math.isfinite(f) or decimal.Decimal(s) != decimal.Decimal(repr(f)):
        raise _Lossy(s)  # 1e400, or more digits than a double keeps
    return f


def _unique_pairs(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _Lossy("duplicate member")
    return d


def lossless_json(text: str):
    """``text`` parsed as JSON when re-encoding the result loses nothing a reader relies
    on: no duplicate member names, no NaN/Infinity, every number the same value. Else
    ``_NOT_JSON`` (the caller keeps the text)."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_exact_float,
                          object_pairs_hook=_unique_pairs)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _text_or_binary(data: bytes) -> Decoded:
    """A key of unknown format: printable UTF-8 text is a string, anything else binary
    (hex, with what 4 or 8 bytes read as)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return Decoded(text, "string")
    from kctx_cli.tail.keys import binary_hints

    return Decoded(data.hex(), "hex", hints=binary_hints(data) or None)


# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def _escape(m) -> str:
    c = m.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c) or (
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def safe(text: str, *, lines: bool = False) -> str:
    """``text`` for a terminal: control characters (ESC, BEL, CR, …, C1 such as CSI) and
    invisible/reordering Unicode format characters are shown as escapes (``\\x1b``,
    ``\\n``, ``\\u202e``), so data can neither run terminal sequences nor forge lines
    (SPEC §9: "Data read from topics never reaches a terminal as control sequences")."""
    if lines:  # several lines of kctx's own layout (indented JSON): keep its line breaks
        return "\n".join(safe(line) for line in text.split("\n"))
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def _short(exc: Exception) -> str:
    msg = str(exc) or type(exc).__name__
    return msg if len(msg) < 200 else msg[:200] + "…"


_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def header_value(v: bytes | None) -> str | None:
    """A header value as text: UTF-8 text (tabs and line breaks allowed, as in stack
    traces), else ``0x`` + hex — also for valid UTF-8 holding other control bytes, such as
    Spring's big-endian numbers (00 00 00 01). Lossless either way."""
    if v is None:
        return None
    try:
        text = v.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + v.hex()
    return "0x" + v.hex() if _BINARY.search(text) else text

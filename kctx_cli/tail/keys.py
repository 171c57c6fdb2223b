"""Keys as the topic's writer encoded them, and as the user types them.

A ``KeySpec`` says how a topic's keys are written:

    format    KAFKA | JSON | AVRO | PROTOBUF | JSON_SR | None (not known)
    columns   ((name, ksqlDB type), ...) in key order; () when not known

It comes, in this order, from ``--key-format``, the project's model of the topic
(``Meta.key_format`` and its key columns), ksqlDB's description of a stream/table over the
topic (``keyFormat`` and its KEY columns), else it is unknown.

KAFKA is ksqlDB's name for Kafka's own serializers (ksqlDB docs, serialization.md "KAFKA";
ksql PR #3065): INT a 4-byte big-endian int (IntegerSerializer), BIGINT 8 bytes
(LongSerializer), DOUBLE an 8-byte IEEE 754 double, STRING UTF-8, BYTES the bytes.
JSON keys are what ksqlDB writes: one column unwrapped (``42``, ``"abc"``), several as an
object in column order (``{"A":1,"B":"x"}``). AVRO/PROTOBUF/JSON_SR keys carry the
Confluent framing (magic 0, 4-byte schema id) and are compared after decoding.

A key typed by the user is one value (``42``, ``c-7``) or, for a composite key,
``col=value`` pairs separated by commas in any order (``region=eu,id=7``; names are
case-insensitive), or a JSON object (``{"ID": 7, "REGION": "eu"}``).
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from kctx_cli.errors import KctxError

# --key-format values -> (format, column type)
KEY_FORMAT_OPTIONS = {
    "string": ("KAFKA", "STRING"), "int": ("KAFKA", "INT"), "bigint": ("KAFKA", "BIGINT"),
    "double": ("KAFKA", "DOUBLE"), "bytes": ("KAFKA", "BYTES"), "json": ("JSON", None),
    "avro": ("AVRO", None), "protobuf": ("PROTOBUF", None), "json_sr": ("JSON_SR", None),
}
WIRE_FORMATS = ("AVRO", "PROTOBUF", "JSON_SR")
KSQLDB_TIMEOUT = 15  # seconds per request: a busy ksqlDB answers DESCRIBE slowly
_SQL_NAMES = {"INTEGER": "INT"}  # DESCRIBE's schema type names -> ksqlDB SQL type names
_INT_RANGE = {"INT": (-(2 ** 31), 2 ** 31 - 1), "BIGINT": (-(2 ** 63), 2 ** 63 - 1)}


@dataclass(frozen=True)
class KeySpec:
    """How a topic's keys are written (see the module docstring). ``origin`` says where
    that was learnt, for messages ("model Order", "ksqlDB table USERS", "--key-format")."""

    format: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    origin: str = ""

    @property
    def known(self) -> bool:
        """Whether the key format is known (``format`` is not None)."""
        return self.format is not None

    @property
    def single_type(self) -> str | None:
        """The ksqlDB type of a one-column key, else None."""
        return self.columns[0][1] if len(self.columns) == 1 else None


UNKNOWN = KeySpec()


@dataclass
class TypedKey:
    """A key as the user typed it, parsed: one ``value`` or named ``parts`` (composite)."""

    text: str
    value: Any = None
    parts: dict[str, Any] | None = None  # column name (as typed or as the spec spells it) -> value
    typed: bool = False                   # values converted with the spec's column types
    alternatives: list[Any] = field(default_factory=list)  # other readings of an untyped value


# --------------------------------------------------------------------------- spec sources

def spec_from_option(option: str) -> KeySpec:
    """``--key-format`` (one of KEY_FORMAT_OPTIONS, case-insensitive) -> a KeySpec;
    KctxError for anything else."""
    o = option.strip().lower()
    if o not in KEY_FORMAT_OPTIONS:
        raise KctxError(f"--key-format must be one of {', '.join(KEY_FORMAT_OPTIONS)}, got '{option}'")
    fmt, typ = KEY_FORMAT_OPTIONS[o]
    return KeySpec(fmt, (("KEY", typ),) if typ else (), "--key-format")


def spec_from_entity(info) -> KeySpec:
    """The KeySpec of a model entity (``EntityInfo``): Meta.key_format and its key columns."""
    cols = tuple((f.column, "STRING" if f.type is None else f"DECIMAL({f.type.precision}, {f.type.scale})"
                  if f.type.name == "DECIMAL" else f.type.name) for f in info.keys)
    return KeySpec(info.key_format.upper(), cols, f"model {info.name}")


def _sql_type(schema: dict) -> str:
    """A DESCRIBE field schema's ksqlDB type name, DECIMAL with its precision and scale
    (``parameters``), so a typed key is rescaled as the column holds it."""
    t = schema.get("type") or "STRING"
    params = schema.get("parameters") or {}
    if t == "DECIMAL" and "precision" in params and "scale" in params:
        return f"DECIMAL({params['precision']}, {params['scale']})"
    return _SQL_NAMES.get(t, t)


def spec_from_description(desc: dict) -> KeySpec:
    """The KeySpec of a ksqlDB ``sourceDescription`` (DESCRIBE): ``keyFormat`` and the
    fields whose ``type`` is KEY, in order."""
    cols = tuple((f["name"], _sql_type(f.get("schema") or {})) for f in desc.get("fields") or []
                 if f.get("type") == "KEY")
    fmt = (desc.get("keyFormat") or "").upper() or None
    if fmt == "NONE":
        fmt = None
    return KeySpec(fmt, cols, f"ksqlDB {str(desc.get('type', 'source')).lower()} {desc.get('name')}")


def resolve_spec(config, topic: str, option: str | None = None, *, name: str | None = None) -> KeySpec:
    """The KeySpec of ``topic`` (see the module docstring for the order). ``name``: the
    entity or ksqlDB source the user named, tried before a search by topic. Never fails
    for an unreachable ksqlDB or broken models: the spec is then unknown."""
    if option:
        return spec_from_option(option)
    try:
        from kctx_cli.model.discovery import load_project

        project = load_project(config)
        info = project.find(name) if name else None
        if info is None:
            info = next((e for e in project.entities if e.topic == topic and e.keys), None)
        if info is not None and info.keys:
            return spec_from_entity(info)
    except Exception:  # noqa: BLE001 - no models (or broken ones): an incident tool goes on
        pass
    desc = ksqldb_description(config, topic, name)
    return spec_from_description(desc) if desc else UNKNOWN


def ksqldb_description(config, topic: str, name: str | None = None) -> dict | None:
    """DESCRIBE of the ksqlDB stream/table named ``name``, else of one reading ``topic``
    (SHOW STREAMS/TABLES list their topics); None when ksqlDB is not configured, down, or
    has none."""
    if config is None or not getattr(config, "ksqldb_url", None):
        return None
    try:
        from kctx_cli.backends.ksqldb import KsqlClient

        client = KsqlClient(config.ksqldb_url, config.ksqldb, timeout=KSQLDB_TIMEOUT)
        for n in dict.fromkeys([name, name.upper()] if name else []):  # as given, then as ksqlDB upper-cases it
            d = client.describe(n)
            if d is not None:
                return d
        for what in ("TABLES", "STREAMS"):
            for e in client.request(f"SHOW {what};"):
                for s in e.get(what.lower()) or []:
                    if s.get("topic") == topic:
                        return client.describe(s["name"])
    except Exception:  # noqa: BLE001 - ksqlDB down: the key format stays unknown
        return None
    return None


# --------------------------------------------------------------------------- parsing input

def split_pairs(text: str) -> dict[str, str] | None:
    """``a=1,b=x`` -> {"a": "1", "b": "x"}; a JSON object -> its members as given; None
    when ``text`` is not a composite key. A value may be double-quoted to hold commas."""
    t = text.strip()
    if t.startswith("{"):
        try:
            obj = json.loads(t)
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None
    if "=" not in t:
        return None
    out: dict[str, str] = {}
    i, n = 0, len(t)
    while i < n:
        eq = t.find("=", i)
        if eq < 0:
            return None
        name = t[i:eq].strip()
        if not name or "," in name:
            return None
        j = eq + 1
        if j < n and t[j] == '"':
            end = t.find('"', j + 1)
            if end < 0:
                return None
            value, j = t[j + 1:end], end + 1
            while j < n and t[j] == " ":
                j += 1
            if j < n and t[j] != ",":
                return None
        else:
            end = t.find(",", j)
            end = n if end < 0 else end
            value, j = t[j:end].strip(), end
        if name in out:
            raise KctxError(f"key: column '{name}' given twice in '{text}'")
        out[name] = value
        i = j + 1
    return out


def convert(text: Any, sql_type: str, what: str) -> Any:
    """``text`` (a typed string, or a JSON value from an object) as a value of ksqlDB type
    ``sql_type``; KctxError naming ``what`` when it is not one."""
    t = (sql_type or "STRING").upper()
    if not isinstance(text, str):
        if t in ("INT", "BIGINT") and isinstance(text, int) and not isinstance(text, bool):
            text = str(text)
        elif t == "DOUBLE" and isinstance(text, (int, float)) and not isinstance(text, bool):
            return float(text)
        elif t == "BOOLEAN" and isinstance(text, bool):
            return text
        elif t == "STRING":
            return text if isinstance(text, str) else json.dumps(text)
        else:
            text = json.dumps(text)
    if t in _INT_RANGE:
        try:
            v = int(text.strip())
        except ValueError:
            raise KctxError(f"{what}: '{text}' is not an {t}") from None
        lo, hi = _INT_RANGE[t]
        if not lo <= v <= hi:
            raise KctxError(f"{what}: {v} is out of the {t} range {lo}..{hi}")
        return v
    if t == "DOUBLE":
        try:
            v = float(text)
        except ValueError:
            raise KctxError(f"{what}: '{text}' is not a DOUBLE") from None
        return v
    if t == "BOOLEAN":
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise KctxError(f"{what}: '{text}' is not a BOOLEAN (true or false)")
        return low == "true"
    if t == "BYTES":
        return parse_bytes(text)
    if t.startswith("DECIMAL"):
        from decimal import Context, Decimal, InvalidOperation

        try:
            v = Decimal(text.strip())
        except InvalidOperation:
            v = None
        if v is None or not v.is_finite():  # NaN, Infinity: no DECIMAL column holds them
            raise KctxError(f"{what}: '{text}' is not a DECIMAL")
        m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
        if m is None:
            return v
        # at the column's scale, as the writer stored it (12.5 in DECIMAL(10, 2) is 12.50):
        # framed keys are matched by their decoded value's text
        precision, scale = int(m[1]), int(m[2])
        q = v.quantize(Decimal(1).scaleb(-scale), context=Context(prec=80))  # DECIMAL's precision is <= 38
        if q != v:
            raise KctxError(f"{what}: '{text}' has more than {scale} decimal places ({t})")
        if len(q.as_tuple().digits) > precision:
            raise KctxError(f"{what}: '{text}' has more than {precision} digits at scale {scale} ({t})")
        return q
    return text


def parse_bytes(text: str) -> bytes:
    """A BYTES key as typed: ``0x`` + hex digits, else the text's UTF-8 bytes."""
    if text[:2].lower() == "0x":
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise KctxError(f"key: '{text}' is not hex bytes (0x followed by pairs of hex digits)") from None
    return text.encode("utf-8")


def parse_key(text: str, spec: KeySpec) -> TypedKey:
    """The user's key text read with the spec's columns (see the module docstring).
    KctxError: a composite key with unknown or missing columns, a value not of its
    column's type."""
    if text is None:
        raise KctxError("key: empty")
    pairs = split_pairs(text) if (len(spec.columns) != 1 or "=" in text or text.strip().startswith("{")) else None
    cols = spec.columns
    if pairs is not None and cols:
        by_name = {c.casefold(): (c, t) for c, t in cols}
        parts: dict[str, Any] = {}
        for n, v in pairs.items():
            hit = by_name.get(str(n).casefold())
            if hit is None:
                if len(cols) == 1 and len(pairs) == 1 and not text.strip().startswith("{"):
                    break  # a single value that contains '=': read it whole below
                raise KctxError(f"key: no key column '{n}' in {spec.origin} (key columns: "
                                f"{', '.join(c for c, _ in cols)})")
            parts[hit[0]] = convert(v, hit[1], f"key column {hit[0]}")
        else:
            missing = [c for c, _ in cols if c not in parts]
            if missing:
                raise KctxError(f"key: missing key column(s) {', '.join(missing)} of {spec.origin}; "
                                f"give them as {','.join(c + '=…' for c, _ in cols)}")
            if len(cols) == 1:
                return TypedKey(text, value=parts[cols[0][0]], typed=True)
            return TypedKey(text, parts={c: parts[c] for c, _ in cols}, typed=True)
    if len(cols) == 1:
        return TypedKey(text, value=convert(text, cols[0][1], "key"), typed=True)
    if len(cols) > 1:
        raise KctxError(f"key: {spec.origin} has a composite key; give it as "
                        f"{','.join(c + '=…' for c, _ in cols)} (any order)")
    # no columns known
    if pairs is not None:
        return TypedKey(text, parts=dict(pairs), typed=text.strip().startswith("{"))
    return TypedKey(text, value=text, alternatives=_readings(text))


def _readings(text: str) -> list[Any]:
    """Other values an untyped key may stand for: an integer, a double."""
    out: list[Any] = []
    t = text.strip()
    try:
        out.append(int(t))
    except ValueError:
        try:
            f = float(t)
            if math.isfinite(f):
                out.append(f)
        except ValueError:
            pass
    return out


# --------------------------------------------------------------------------- encoding

def kafka_bytes(value: Any, sql_type: str) -> bytes:
    """A KAFKA-format key: INT '>i', BIGINT '>q', DOUBLE '>d', STRING UTF-8, BYTES as is."""
    t = (sql_type or "STRING").upper()
    if t == "INT":
        return struct.pack(">i", value)
    if t == "BIGINT":
        return struct.pack(">q", value)
    if t == "DOUBLE":
        return struct.pack(">d", float(value))
    if t == "BYTES":
        return value if isinstance(value, bytes) else str(value).encode()
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8")


def json_text(value: Any) -> str:
    """Compact JSON as ksqlDB (Jackson) writes a key: no spaces, columns in order, a
    DOUBLE with its fraction (1.0), decimals as numbers."""
    from decimal import Decimal

    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + json_text(v) for k, v in value.items()) + "}"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        import base64

        return json.dumps(base64.b64encode(value).decode())
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encodings(key: TypedKey, spec: KeySpec, avro_key_schemas=()) -> list[bytes]:
    """The wire bytes the topic's writer may have produced for ``key``, most likely
    first. ``avro_key_schemas``: ``(schema id, parsed schema)`` pairs registered for the
    topic's key subject, to encode Avro keys (their partition depends on those bytes).
    For an unknown spec every plausible encoding is listed: UTF-8 text, JSON, INT/BIGINT/
    DOUBLE big-endian, Avro."""
    out: list[bytes] = []

    def add(b: bytes | None):
        if b is not None and b not in out:
            out.append(b)

    fmt = spec.format
    value = key.parts if key.parts is not None else key.value
    if fmt == "KAFKA":
        if key.parts is not None:
            raise KctxError(f"key: {spec.origin} has KAFKA-format keys, which hold one column only")
        add(kafka_bytes(value, spec.single_type or "STRING"))
        return out
    if fmt == "JSON":
        add(json_text(value).encode())
        return out
    if fmt in WIRE_FORMATS:
        for sid, schema in avro_key_schemas:
            add(_avro_bytes(sid, schema, value))
        return out
    # unknown: the text itself, then the other readings
    if key.parts is None:
        add(str(key.value).encode("utf-8"))
        add(json_text(key.value).encode())
        for alt in key.alternatives:
            if isinstance(alt, int):
                if -(2 ** 31) <= alt < 2 ** 31:
                    add(struct.pack(">i", alt))
                if -(2 ** 63) <= alt < 2 ** 63:
                    add(struct.pack(">q", alt))
                add(struct.pack(">d", float(alt)))
            else:
                add(struct.pack(">d", alt))
            add(json_text(alt).encode())
    else:
        add(json_text(_loose(key.parts)).encode())
    for sid, schema in avro_key_schemas:
        for v in ([value] + list(key.alternatives)) if key.parts is None else [_loose(key.parts)]:
            add(_avro_bytes(sid, schema, v))
    return out


def _loose(parts: dict[str, Any]) -> dict[str, Any]:
    """Untyped composite values read as JSON literals where they are (``7`` -> 7)."""
    out = {}
    for k, v in parts.items():
        if isinstance(v, str):
            try:
                j = json.loads(v)
                v = j if isinstance(j, (int, float, bool)) else v
            except ValueError:
                pass
        out[k] = v
    return out


def _avro_bytes(sid: int, schema, value) -> bytes | None:
    """Confluent framing + Avro body of ``value`` with ``schema``, or None when the
    value does not fit the schema (another reading may)."""
    from kctx_cli.backends.wire import write_avro

    if isinstance(value, dict):
        # record field names as the schema spells them (the user may type them in any case)
        fields = schema.get("fields") if isinstance(schema, dict) else None
        if fields:
            by = {str(k).casefold(): v for k, v in value.items()}
            value = {f["name"]: by.get(f["name"].casefold()) for f in fields}
    elif isinstance(schema, dict) and schema.get("type") == "record" and len(schema.get("fields", ())) == 1:
        value = {schema["fields"][0]["name"]: value}
    try:
        body = write_avro(schema, value)
    except Exception:  # noqa: BLE001 - this reading of the key does not fit this schema
        return None
    return b"\x00" + sid.to_bytes(4, "big") + body


# --------------------------------------------------------------------------- comparing

def norm(value: Any) -> Any:
    """A comparable form of a key value: a one-field record is its field, names fold
    case, scalars become text (numbers as JSON writes them)."""
    if isinstance(value, dict):
        if len(value) == 1:
            return norm(next(iter(value.values())))
        return tuple(sorted((str(k).casefold(), norm(v)) for k, v in value.items()))
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def wanted_forms(key: TypedKey) -> set:
    """The ``norm`` forms a decoded key equal to ``key`` may take."""
    if key.parts is not None:
        return {norm(key.parts), norm(_loose(key.parts))}
    return {norm(key.value), *(norm(a) for a in key.alternatives)}


def cache_keys(key: TypedKey, spec: KeySpec) -> list[bytes]:
    """The RocksDB keys a cache may hold ``key`` under (kctx_cli/cache/store.py): the
    writer's bytes for KAFKA/JSON keys, the canonical text for framed (Avro, Protobuf,
    JSON Schema) keys; for an unknown spec every candidate."""
    out: list[bytes] = []

    def add(b: bytes):
        if b not in out:
            out.append(b)

    if spec.format not in WIRE_FORMATS:
        for b in encodings(key, spec):
            add(b)
    if spec.format in WIRE_FORMATS or not spec.known:
        if key.parts is not None:
            for parts in ([key.parts] if key.typed else [_loose(key.parts), key.parts]):
                add(canonical_text(parts).encode())
        else:
            add(canonical_text(key.value).encode())
            for a in key.alternatives:
                add(canonical_text(a).encode())
    return out


def canonical_text(value: Any) -> str:
    """The text a framed key is stored under in a cache and matched by: a string as is,
    a one-field record its field, else compact JSON with sorted fields."""
    from kctx_cli.tail.jsonout import json_default

    v = value
    if isinstance(v, dict) and len(v) == 1:
        v = next(iter(v.values()))
    if isinstance(v, str):
        return v
    return json.dumps(v, default=json_default, separators=(",", ":"), sort_keys=True)


# --------------------------------------------------------------------------- decoding

def decode_kafka(data: bytes, sql_type: str):
    """A KAFKA-format key of type ``sql_type`` -> (value, label), or None when the bytes
    do not have that type's size."""
    t = (sql_type or "").upper()
    if t == "INT" and len(data) == 4:
        return struct.unpack(">i", data)[0], "int"
    if t == "BIGINT" and len(data) == 8:
        return struct.unpack(">q", data)[0], "bigint"
    if t == "DOUBLE" and len(data) == 8:
        return struct.unpack(">d", data)[0], "double"
    if t == "BYTES":
        return data.hex(), "hex"
    return None


def binary_hints(data: bytes) -> dict[str, Any]:
    """What a binary key of unknown format reads as: 4 bytes an INT, 8 a BIGINT/DOUBLE."""
    if len(data) == 4:
        return {"int": struct.unpack(">i", data)[0]}
    if len(data) == 8:
        d = struct.unpack(">d", data)[0]
        h = {"bigint": struct.unpack(">q", data)[0]}
        if math.isfinite(d):
            h["double"] = d
        return h
    return {}

"""The columns ksqlDB reads from a registered schema (issue 15).

A ``CREATE STREAM|TABLE`` whose value format is AVRO or PROTOBUF and that declares no value
columns takes them from the Schema Registry: the latest schema of ``<topic>-value``, or the
schema ``VALUE_SCHEMA_ID`` names; likewise the key columns from ``<topic>-key`` /
``KEY_SCHEMA_ID`` when the key format is one of them and no key column is declared. The
analyzer (``kctx_cli.derive.analyzer``) is given the subjects it can know offline -- those
the migrations register (``migrations.state.State.subjects``), a corpus test's topics --
and converts them here by ksqlDB's rules. Whatever these rules do not cover raises
``Unknown``: the source's columns stay unknown and nothing is said about it (never a
rejection: the registry may hold another version than the migrations registered).

The rules and their source (ksqldb-docs reference/serialization.md, the corpus
avro.json / protobuf.json, and the real ksqlDB 8.1.5 asked with a registered schema and a
CREATE STREAM without columns, then DESCRIBE):

* names: upper-cased when the schema is found by subject; kept as written with
  ``*_SCHEMA_ID`` (field names, nested field names and union member names alike) -- real
  server 8.1.5; corpus protobuf.json "specify a protobuf schema with external references"
  (`event`) vs "... using internal references" (`EVENT`);
* Avro: boolean BOOLEAN, int INT, long BIGINT, float and double DOUBLE, string STRING,
  bytes and fixed BYTES, enum STRING, record STRUCT, array ARRAY, map MAP<STRING, ...>;
  logical types decimal (bytes or fixed; scale 0 when absent) DECIMAL(p, s), date DATE,
  time-millis TIME, timestamp-millis TIMESTAMP; any other logical type (time-micros,
  timestamp-micros, local-timestamp-millis, uuid) is its underlying type;
  a union with null is its other member; a union of several non-null types is a STRUCT with
  one field per member, named by the member's type (INT, STRING, ARRAY, MAP, a named
  type's simple name: ``["null", "int", "string"]`` -> ``STRUCT<INT INT, STRING STRING>``)
  -- real server 8.1.5;
* Avro value: a record's fields are the columns; with ``WRAP_SINGLE_VALUE=false`` the
  whole schema is one column ``ROWVAL``; any other schema ksqlDB refuses ("anonymous type")
  -- real server 8.1.5; Avro key: one column ``ROWKEY`` of the schema's type (a record is
  ``ROWKEY STRUCT<...>``) -- real server 8.1.5, corpus group-by.json "AVRO schema and
  schema id";
* Protobuf: bool BOOLEAN; int32, sint32, sfixed32 INT; int64, sint64, sfixed64, uint32,
  uint64, fixed32, fixed64 BIGINT; float and double DOUBLE; string STRING; bytes BYTES;
  enum STRING; message STRUCT; repeated ARRAY; map<string, V> MAP<STRING, V>;
  google.protobuf wrappers their primitive (UInt32Value BIGINT, FloatValue DOUBLE),
  google.protobuf.Timestamp TIMESTAMP, google.type.Date DATE, google.type.TimeOfDay TIME,
  confluent.type.Decimal DECIMAL(precision, scale) from its field_meta params
  (DECIMAL(64, 0) without) -- corpus protobuf.json, real server 8.1.5;
  a oneof is a STRUCT column ``<name>_<index>`` of its members, placed before the other
  fields (proto3 ``optional`` is not a oneof) -- real server 8.1.5;
* Protobuf message: the file's only top-level message, or the one
  ``*_SCHEMA_FULL_NAME`` names (several top-level messages without it ksqlDB refuses);
  imports are the schema's references; a key message has exactly one field, its column
  (ksqlDB refuses several) -- real server 8.1.5.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from kctx_cli.sqltypes import (BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INT, STRING, TIME, TIMESTAMP, SqlType,
                               array_of, decimal_type, map_of)

# the formats whose columns ksqlDB can read from the registry, and the registry's schemaType of each
SCHEMA_FORMATS = {"AVRO": "AVRO", "PROTOBUF": "PROTOBUF", "JSON_SR": "JSON"}
# system column names a registered schema cannot bring (ksqlDB refuses the CREATE): real server 8.1.5
_RESERVED = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")


class Unknown(Exception):
    """The schema's columns cannot be told offline (or ksqlDB would refuse them): unknown."""


@dataclass(frozen=True)
class RegisteredSchema:
    """One schema as the registry holds it: ``schema_type`` AVRO / PROTOBUF / JSON, the
    ``schema`` (Avro: parsed JSON or its text; Protobuf: the .proto text) and, for Protobuf,
    the ``references`` it imports as ``(import name, .proto text)``."""

    schema_type: str
    schema: Any
    references: tuple[tuple[str, str], ...] = ()


@dataclass
class Schemas:
    """The registry as far as it is known offline: the latest schema of each subject and
    schemas by id (for ``*_SCHEMA_ID``)."""

    subjects: dict[str, RegisteredSchema] = field(default_factory=dict)
    ids: dict[int, RegisteredSchema] = field(default_factory=dict)

    def latest(self, subject: str) -> RegisteredSchema | None:
        """The latest schema of ``subject``, or None when it is not known."""
        return self.subjects.get(subject)

    def by_id(self, schema_id: int) -> RegisteredSchema | None:
        """The schema with id ``schema_id``, or None when it is not known."""
        return self.ids.get(schema_id)


class StateSchemas(Schemas):
    """The subjects of a ``migrations.state.State`` as the replay has them so far (read
    when asked, so a replay that goes on is seen): kctx registers Avro schemas."""

    def __init__(self, state):
        super().__init__()
        self.state = state

    def latest(self, subject: str) -> RegisteredSchema | None:
        s = self.state.subjects.get(subject)
        if s is None or not s.schemas:
            return None
        return RegisteredSchema("AVRO", s.schemas[-1])


def columns(rs: RegisteredSchema, key: bool, by_id: bool, wrap_single_value: object = None,
            full_name: str | None = None) -> list[tuple[str, SqlType]]:
    """The ``[(name, type)]`` ksqlDB reads from ``rs`` for the key (``key``) or the value
    columns; ``by_id``: named by ``*_SCHEMA_ID`` (names keep their case); raises Unknown."""
    keep = by_id
    if rs.schema_type == "AVRO":
        schema = _avro_json(rs.schema)
        t = _Avro(keep).type(schema, None)
        if key:
            out = [("ROWKEY", t)]
        elif str(wrap_single_value).lower() == "false":
            out = [("ROWVAL", t)]
        elif t.name == "STRUCT" and _avro_kind(schema) == "record":
            out = list(t.fields)
        else:
            raise Unknown("an anonymous value schema needs WRAP_SINGLE_VALUE=false")
    elif rs.schema_type == "PROTOBUF":
        if str(wrap_single_value).lower() == "false":
            raise Unknown("PROTOBUF does not take WRAP_SINGLE_VALUE=false")
        out = _Proto(rs.schema, rs.references, keep).columns(full_name)
        if key and len(out) != 1:
            raise Unknown("a key message with several fields")
    else:
        raise Unknown(f"{rs.schema_type} schemas are not converted offline")
    if len({n.upper() for n, _ in out}) != len(out) or any(n.upper() in _RESERVED for n, _ in out):
        raise Unknown("duplicate or reserved column names")
    return out


# ---------------------------------------------------------------------------
# Avro
# ---------------------------------------------------------------------------

_AVRO_PRIMITIVES = {"boolean": BOOLEAN, "int": INT, "long": BIGINT, "float": DOUBLE, "double": DOUBLE,
                    "bytes": BYTES, "string": STRING}


def _avro_json(schema: Any) -> Any:
    if isinstance(schema, str):
        s = schema.strip()
        if s[:1] in ("{", "[", '"'):
            return json.loads(s)
        return s
    return schema


def _avro_kind(schema: Any) -> str | None:
    if isinstance(schema, dict):
        return schema.get("type") if isinstance(schema.get("type"), str) else None
    return None


class _Avro:
    def __init__(self, keep_case: bool):
        self.keep = keep_case
        self.named: dict[str, SqlType] = {}

    def name(self, n: str) -> str:
        return n if self.keep else n.upper()

    def _full(self, name: str, namespace: str | None) -> str:
        if "." in name or not namespace:
            return name
        return f"{namespace}.{name}"

    def lookup(self, name: str, namespace: str | None) -> SqlType:
        for candidate in (self._full(name, namespace), name):
            if candidate in self.named:
                return self.named[candidate]
        raise Unknown(f"Avro type {name} is not defined")

    def type(self, s: Any, namespace: str | None) -> SqlType:
        if isinstance(s, str):
            if s in _AVRO_PRIMITIVES:
                return _AVRO_PRIMITIVES[s]
            if s == "null":
                raise Unknown("a null column")
            return self.lookup(s, namespace)
        if isinstance(s, list):
            members = [m for m in s if m != "null" and not (isinstance(m, dict) and m.get("type") == "null")]
            if not members:
                raise Unknown("a union of null")
            if len(members) == 1:
                return self.type(members[0], namespace)
            fields = [(self.name(self.member_name(m)), self.type(m, namespace)) for m in members]
            if len({n for n, _ in fields}) != len(fields):
                raise Unknown("a union whose members have one name")
            return SqlType("STRUCT", fields=tuple(fields))
        if not isinstance(s, dict):
            raise Unknown("not an Avro schema")
        kind = s.get("type")
        if not isinstance(kind, str):  # {"type": {...}} or {"type": [...]}: the inner schema
            return self.type(kind, namespace)
        logical = s.get("logicalType")
        if logical == "decimal" and kind in ("bytes", "fixed"):
            t = decimal_type(int(s["precision"]), int(s.get("scale", 0)))
            if kind == "fixed":
                self.named[self._full(s["name"], s.get("namespace", namespace))] = t
            return t
        if logical == "date" and kind == "int":
            return DATE
        if logical == "time-millis" and kind == "int":
            return TIME
        if logical == "timestamp-millis" and kind == "long":
            return TIMESTAMP
        if kind in _AVRO_PRIMITIVES:
            return _AVRO_PRIMITIVES[kind]
        if kind == "record":
            ns = s.get("namespace", namespace)
            if "." in s["name"]:
                ns = s["name"].rsplit(".", 1)[0]
            full = self._full(s["name"], ns)
            self.named[full] = _RECURSIVE
            fields = tuple((self.name(f["name"]), self.type(f["type"], ns)) for f in s.get("fields") or [])
            if any(t is _RECURSIVE for _, t in fields):
                raise Unknown("a recursive record")
            t = SqlType("STRUCT", fields=fields)
            self.named[full] = t
            return t
        if kind == "enum":
            self.named[self._full(s["name"], s.get("namespace", namespace))] = STRING
            return STRING
        if kind == "fixed":
            self.named[self._full(s["name"], s.get("namespace", namespace))] = BYTES
            return BYTES
        if kind == "array":
            return array_of(self.type(s["items"], namespace))
        if kind == "map":
            return map_of(self.type(s["values"], namespace))
        return self.type(kind, namespace)  # {"type": "Name"}: a named type

    @staticmethod
    def member_name(m: Any) -> str:
        """The field name a union member gets: its type name, a named type's simple name."""
        if isinstance(m, str):
            return m.rsplit(".", 1)[-1]
        if isinstance(m, dict):
            kind = m.get("type")
            if kind in ("record", "enum", "fixed") and isinstance(m.get("name"), str):
                return m["name"].rsplit(".", 1)[-1]
            if isinstance(kind, str):
                return kind.rsplit(".", 1)[-1]
        raise Unknown("a nested union")


_RECURSIVE = SqlType("RECURSIVE")


# ---------------------------------------------------------------------------
# Protobuf
# ---------------------------------------------------------------------------

_PB_SCALARS = {"bool": BOOLEAN, "int32": INT, "sint32": INT, "sfixed32": INT, "int64": BIGINT, "sint64": BIGINT,
               "sfixed64": BIGINT, "uint32": BIGINT, "uint64": BIGINT, "fixed32": BIGINT, "fixed64": BIGINT,
               "float": DOUBLE, "double": DOUBLE, "string": STRING, "bytes": BYTES}
_PB_WELL_KNOWN = {
    "google.protobuf.BoolValue": BOOLEAN, "google.protobuf.Int32Value": INT, "google.protobuf.Int64Value": BIGINT,
    "google.protobuf.UInt32Value": BIGINT, "google.protobuf.UInt64Value": BIGINT,
    "google.protobuf.FloatValue": DOUBLE, "google.protobuf.DoubleValue": DOUBLE,
    "google.protobuf.StringValue": STRING, "google.protobuf.BytesValue": BYTES,
    "google.protobuf.Timestamp": TIMESTAMP, "google.type.Date": DATE, "google.type.TimeOfDay": TIME,
}
_PB_DECIMAL = "confluent.type.Decimal"
_TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(?P<t>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_.][\w.]*|'
                    r'-?\d[\w.+-]*|[{}\[\]()<>;=,:])', re.S)


@dataclass
class _PbField:
    name: str
    type: str
    repeated: bool
    scope: str  # the full name of the message declaring it (for type resolution)
    options: str = ""
    map_kv: tuple[str, str] | None = None
    oneof: int | None = None  # index of the real oneof holding it


@dataclass
class _PbMessage:
    full: str
    fields: list[_PbField] = field(default_factory=list)
    oneofs: list[str] = field(default_factory=list)


class _Proto:
    def __init__(self, text: str, references, keep_case: bool):
        self.keep = keep_case
        self.messages: dict[str, _PbMessage] = {}
        self.enums: set[str] = set()
        self.top: list[str] = []
        for _, ref in references or ():
            self.parse(ref, top=False)
        self.parse(text, top=True)

    # -- parsing ---------------------------------------------------------------
    def parse(self, text: str, top: bool) -> None:
        toks = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise Unknown(f"unreadable .proto text at {pos}")
            if m.group("t") is not None:
                toks.append(m.group("t"))
            pos = m.end()
        self.toks, self.i, self.package = toks, 0, ""
        while self.i < len(toks):
            t = self.next()
            if t == "package":
                self.package = self.next()
                self.expect(";")
            elif t in ("syntax", "import", "option", "edition"):
                self.skip_to(";")
            elif t == "message":
                name = self.next()
                full = f"{self.package}.{name}" if self.package else name
                if top:
                    self.top.append(full)
                self.message(full)
            elif t == "enum":
                name = self.next()
                self.enums.add(f"{self.package}.{name}" if self.package else name)
                self.skip_block()
            elif t in ("service", "extend"):
                self.next()
                self.skip_block()
            elif t == ";":
                continue
            else:
                raise Unknown(f"unexpected {t!r} in a .proto file")

    def next(self) -> str:
        if self.i >= len(self.toks):
            raise Unknown("a .proto file ends too early")
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, tok: str) -> None:
        if self.next() != tok:
            raise Unknown(f"{tok!r} expected in a .proto file")

    def skip_to(self, tok: str) -> None:
        depth = 0
        while True:
            t = self.next()
            if t in ("{", "[", "("):
                depth += 1
            elif t in ("}", "]", ")"):
                depth -= 1
            if t == tok and depth <= 0:
                return

    def skip_block(self) -> None:
        self.expect("{")
        depth = 1
        while depth:
            t = self.next()
            depth += {"{": 1, "}": -1}.get(t, 0)

    def message(self, full: str) -> None:
        msg = self.messages[full] = _PbMessage(full)
        self.expect("{")
        oneof = None  # (index) while inside a oneof block
        while True:
            t = self.next()
            if t == "}":
                if oneof is not None:
                    oneof = None
                    continue
                return
            if t == ";":
                continue
            if t == "message":
                self.message(f"{full}.{self.next()}")
            elif t == "enum":
                self.enums.add(f"{full}.{self.next()}")
                self.skip_block()
            elif t in ("option", "reserved", "extensions"):
                self.skip_to(";")
            elif t in ("extend",):
                self.next()
                self.skip_block()
            elif t == "oneof":
                msg.oneofs.append(self.next())
                self.expect("{")
                oneof = len(msg.oneofs) - 1
            elif t == "group":
                raise Unknown("proto2 groups")
            else:
                repeated = False
                if t in ("repeated", "optional", "required"):
                    repeated = t == "repeated"
                    t = self.next()
                map_kv = None
                ftype = t
                if t == "map":
                    self.expect("<")
                    k = self.next()
                    self.expect(",")
                    v = self.next()
                    self.expect(">")
                    map_kv = (k, v)
                name = self.next()
                self.expect("=")
                self.next()  # the field number
                options = ""
                t = self.next()
                if t == "[":
                    start = self.i
                    self.i -= 1
                    self.skip_to("]")
                    options = " ".join(self.toks[start:self.i - 1])
                    t = self.next()
                if t != ";":
                    raise Unknown("';' expected after a field")
                msg.fields.append(_PbField(name, ftype, repeated, full, options, map_kv, oneof))

    # -- conversion ------------------------------------------------------------
    def columns(self, full_name: str | None) -> list[tuple[str, SqlType]]:
        if full_name:
            found = [m for m in self.messages if m == full_name or m == full_name.lstrip(".")]
            if not found:
                raise Unknown(f"no message {full_name}")
            root = found[0]
        else:
            if len(self.top) != 1:
                raise Unknown("several top-level messages and no *_SCHEMA_FULL_NAME")
            root = self.top[0]
        t = self.message_type(root, ())
        return list(t.fields)

    def name(self, n: str) -> str:
        return n if self.keep else n.upper()

    def message_type(self, full: str, seen: tuple) -> SqlType:
        if full in seen:
            raise Unknown("a recursive message")
        msg = self.messages[full]
        seen = seen + (full,)
        fields: list[tuple[str, SqlType]] = []
        for n, oneof in enumerate(msg.oneofs):
            members = tuple((self.name(f.name), self.field_type(f, seen)) for f in msg.fields if f.oneof == n)
            fields.append((self.name(f"{oneof}_{n}"), SqlType("STRUCT", fields=members)))
        for f in msg.fields:
            if f.oneof is None:
                fields.append((self.name(f.name), self.field_type(f, seen)))
        return SqlType("STRUCT", fields=tuple(fields))

    def field_type(self, f: _PbField, seen: tuple) -> SqlType:
        if f.map_kv is not None:
            if f.map_kv[0] != "string":
                raise Unknown("a map whose keys are not strings")
            return map_of(self.type_named(f.map_kv[1], f.scope, f.options, seen))
        t = self.type_named(f.type, f.scope, f.options, seen)
        return array_of(t) if f.repeated else t

    def type_named(self, name: str, scope: str, options: str, seen: tuple) -> SqlType:
        if name in _PB_SCALARS:
            return _PB_SCALARS[name]
        full = self.resolve(name, scope)
        if full in _PB_WELL_KNOWN:
            return _PB_WELL_KNOWN[full]
        if full == _PB_DECIMAL:
            params = dict((k, v) for v, k in re.findall(r'value\s*:\s*"(\w+)"\s*,\s*key\s*:\s*"(\w+)"', options))
            params.update(re.findall(r'key\s*:\s*"(\w+)"\s*,\s*value\s*:\s*"(\w+)"', options))
            return decimal_type(int(params.get("precision", 64)), int(params.get("scale", 0)))
        if full in self.enums:
            return STRING
        if full in self.messages:
            return self.message_type(full, seen)
        raise Unknown(f"protobuf type {name} is not known offline")

    def resolve(self, name: str, scope: str) -> str:
        if name.startswith("."):
            return name[1:]
        known = self.messages.keys() | self.enums | _PB_WELL_KNOWN.keys() | {_PB_DECIMAL}
        parts = scope.split(".") if scope else []
        while True:
            candidate = ".".join(parts + [name])
            if candidate in known:
                return candidate
            if not parts:
                break
            parts.pop()
        return name

"""Avro schemas derived from entity models (SPEC §3).

Source entities (declared fields, written by producers) get a schema that reads like
the model: record name = class name, namespace from ``Meta.namespace`` / the project's
``avro_namespace``, Python field names (a field's ``ColumnName`` as written when it has one:
``from_: Annotated[str, ColumnName("from")]`` is the field ``from``), docs, defaults, nested
Struct records::

    value_schema(Order.__kctx__) ->
    {"type": "record", "name": "Order", "namespace": "com.example.shop",
     "fields": [{"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                 "precision": 18, "scale": 4}}, ...]}

Derived entities (CSAS/CTAS output) get exactly what ksqlDB itself registers for the
query's output, so kctx's expectation matches the registry: record
``io.confluent.ksql.avro_schemas.KsqlDataSourceSchema``, upper-case column names, every
field, array item and map value optional (``["null", T]`` with default null), nested
records named ``KsqlDataSourceSchema_<COLUMN>``, and the Kafka Connect annotations its
AvroData writes (``connect.name``, Connect decimal/date/time/timestamp types), maps as
arrays of ``MapEntry`` records (see ``_KsqlSchema`` for the evidence).

Keys: one key column is registered unwrapped (the bare type, as ksqlDB does with
KEY_FORMAT='AVRO'); several key columns form a record (for derived entities named
``<SourceCamel>Key`` as ksqlDB names it). No key schema when the key format is not AVRO
or the entity has no key.

``schema_json`` renders deterministic JSON (sorted keys; fields keep declaration order).
``check(project)`` lists derivation problems for ``kctx validate``.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import uuid
from typing import Any

from kctx_cli.errors import KctxError, Problem
from kctx_cli.model.entity import EntityInfo, Field
from kctx_cli.sqltypes import SqlType

KSQL_NAMESPACE = "io.confluent.ksql.avro_schemas"
KSQL_RECORD = "KsqlDataSourceSchema"

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MS = dt.timedelta(milliseconds=1)
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")


class SchemaError(KctxError):
    """A model that cannot be turned into a valid Avro schema. ``attr`` names the field
    (for file:line), ``code`` is the validate problem code."""

    def __init__(self, message: str, attr: str | None = None, code: str = "avro-invalid"):
        super().__init__(message)
        self.attr = attr
        self.code = code


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def value_fields(info: EntityInfo) -> list[Field]:
    """The fields stored in the Avro value: not keys, not header columns (ksqlDB reads
    those from the record's headers)."""
    return [f for f in info.values if f.header is None]


def value_schema(info: EntityInfo) -> dict:
    """The Avro value schema of an entity (validated with fastavro)."""
    _require_types(info)
    fields = value_fields(info)
    if info.derived:
        fields = _query_order(info, fields)
        schema = _KsqlSchema().record(KSQL_RECORD, [(f.column, f.type) for f in fields])
    else:
        schema = _SourceSchema(info).record_of(info.name, fields, info.doc)
    _validate(schema, info)
    return schema


def key_schema(info: EntityInfo) -> dict | str | None:
    """The Avro key schema, or None when the key is not Avro or there is no key.
    One key column gives its bare type (a str for primitives such as ``"string"``)."""
    keys = info.keys
    if not keys or info.key_format != "AVRO":
        return None
    _require_types(info)
    if info.derived:
        ks, name = _KsqlSchema(), ksql_key_record_name(info.source_name)
        if len(keys) == 1:  # unwrapped: a STRUCT key is itself the <Source>Key record
            schema = ks.type(keys[0].type, name)
        else:
            keys = _query_order(info, keys)
            schema = ks.record(name, [(f.column, f.type) for f in keys])
    else:
        src = _SourceSchema(info)
        if len(keys) == 1:
            schema = src.field_type(keys[0])
        else:
            schema = src.record_of(f"{info.name}Key", keys, f"Key of {info.name}")
    _validate(schema, info)
    return schema


def registered_schemas(info: EntityInfo) -> dict[str, Any]:
    """subject -> schema for everything this entity puts in the Schema Registry."""
    out: dict[str, Any] = {}
    if info.value_format == "AVRO":
        out[info.value_subject] = value_schema(info)
    k = key_schema(info)
    if k is not None:
        out[info.key_subject] = k
    return out


def schema_json(schema: Any, indent: int | None = None) -> str:
    """Deterministic JSON text: keys sorted, lists (fields, unions) in their order."""
    if indent is None:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(schema, sort_keys=True, indent=indent, ensure_ascii=False)


def check(project) -> list[Problem]:
    """Problems deriving the Avro schemas of every entity (for ``kctx validate``)."""
    from kctx_cli.model.discovery import location

    root = project.config.root
    problems: list[Problem] = []
    seen: dict[str, tuple[str, str]] = {}  # record full name -> (shape, "Entity value schema")
    for info in project.entities:
        if any(f.type is None for f in info.fields):
            continue  # the type problem itself is reported by the model checks
        for what, derive in (("value", value_schema), ("key", key_schema)):
            try:
                schema = derive(info)
            except SchemaError as exc:
                file, line = location(info, exc.attr, root)
                problems.append(Problem(file, line, exc.code, str(exc)))
                break  # the key schema would repeat the same problem
            if schema is None or info.derived:
                continue  # every ksqlDB output is named KsqlDataSourceSchema: not a clash
            for full, shape in _named_shapes(schema, None).items():
                owner = f"{info.name} {what} schema"
                if full not in seen:
                    seen[full] = (shape, owner)
                elif seen[full][0] != shape:
                    file, line = location(info, None, root)
                    problems.append(Problem(
                        file, line, "avro-name-clash",
                        f"Avro record name '{full}' in the {owner} differs from the record of the same "
                        f"name in the {seen[full][1]}: rename one of the classes or set Meta.namespace",
                    ))
    return problems


# ---------------------------------------------------------------------------
# source entities: the model as written
# ---------------------------------------------------------------------------


class _SourceSchema:
    def __init__(self, info: EntityInfo):
        self.info = info
        self.defined: dict[str, Any] = {}  # record name -> the class defining it (once per schema)

    def record_of(self, name: str, fields: list[Field], doc: str | None) -> dict:
        self._define(name, self.info.cls)
        ns = self.info.namespace
        if ns and not all(_AVRO_NAME.fullmatch(part) for part in ns.split(".")):
            raise SchemaError(f"{self.info.name}: namespace '{ns}' is not a valid Avro namespace "
                              f"(dot-separated names of ASCII letters, digits and _)",
                              "Meta.namespace" if "namespace" in self.info.meta else None, "avro-bad-name")
        rec: dict[str, Any] = {"type": "record", "name": name}
        if self.info.namespace:
            rec["namespace"] = self.info.namespace
        if doc:
            rec["doc"] = doc
        rec["fields"] = [self.field(f, f.name) for f in fields]
        return rec

    def _define(self, name: str, owner) -> bool:
        """Register a record name; False when the same class already defined it."""
        if not _AVRO_NAME.fullmatch(name):
            raise SchemaError(f"{self.info.name}: class name '{name}' is not a valid Avro record name "
                              f"(ASCII letters, digits and _)", None, "avro-bad-name")
        prev = self.defined.get(name)
        if prev is None:
            self.defined[name] = owner
            return True
        if prev is owner:
            return False
        raise SchemaError(
            f"{self.info.name}: two different classes are named '{name}' in its Avro schema "
            f"({_qual(prev)} and {_qual(owner)}); Avro record names must be unique: rename one",
            code="avro-name-clash",
        )

    def field(self, f: Field, attr: str, owner: str | None = None) -> dict:
        """One record field; ``attr`` is the entity field that locates problems,
        ``owner`` the class declaring ``f`` (a Struct for nested fields)."""
        where = f"{owner or self.info.name}.{f.name}"
        if not _AVRO_NAME.fullmatch(f.avro_name):  # the ColumnName, else the attribute's name
            raise SchemaError(f"{where}: '{f.avro_name}' is not a valid Avro field name "
                              f"(ASCII letters, digits and _, not starting with a digit)", attr, "avro-bad-name")
        out: dict[str, Any] = {"name": f.avro_name, "type": self.field_type(f, attr)}
        if f.doc:
            out["doc"] = f.doc
        if f.has_default:
            if f.default is None:
                if not f.nullable:
                    raise SchemaError(f"{where}: default None on a non-nullable field: declare it Optional[...]",
                                      attr, "avro-bad-default")
                out["default"] = None
            else:
                out["default"] = _default(f.type, f.default, where, attr)
        return out

    def field_type(self, f: Field, attr: str | None = None) -> Any:
        t = self.type(f.type, attr or f.name)
        if not f.nullable:
            return t
        # a non-null default must match the union's first branch (Avro spec)
        if f.has_default and f.default is not None:
            return [t, "null"]
        return ["null", t]

    def type(self, t: SqlType, attr: str) -> Any:
        n = t.name
        if n == "BOOLEAN":
            return "boolean"
        if n == "INT":
            return "int"
        if n == "BIGINT":
            return "long"
        if n == "DOUBLE":
            return "float" if t.avro == "float" else "double"
        if n == "STRING":
            return {"type": "string", "logicalType": "uuid"} if t.avro == "uuid" else "string"
        if n == "BYTES":
            return "bytes"
        if n == "DECIMAL":
            return {"type": "bytes", "logicalType": "decimal", "precision": t.precision, "scale": t.scale}
        if n == "TIMESTAMP":
            return {"type": "long", "logicalType": "timestamp-millis"}
        if n == "DATE":
            return {"type": "int", "logicalType": "date"}
        if n == "TIME":
            return {"type": "int", "logicalType": "time-millis"}
        if n == "ARRAY":
            item = self.type(t.item, attr)
            return {"type": "array", "items": ["null", item] if t.item_nullable else item}
        if n == "MAP":
            item = self.type(t.item, attr)
            return {"type": "map", "values": ["null", item] if t.item_nullable else item}
        if n == "STRUCT":
            return self.struct(t, attr)
        raise SchemaError(f"{self.info.name}.{attr}: type {t.ksql()} has no Avro mapping", attr)

    def struct(self, t: SqlType, attr: str) -> Any:
        name = t.struct_name or f"{self.info.name}_{attr}"
        owner = t.origin if t.origin is not None else name
        if not self._define(name, owner):
            return name  # defined earlier in this schema: refer to it by name
        rec: dict[str, Any] = {"type": "record", "name": name}
        if t.origin is not None:
            sinfo = t.origin.__kctx__
            if sinfo.doc:
                rec["doc"] = sinfo.doc
            rec["fields"] = [self.field(sf, attr, t.origin.__name__) for sf in sinfo.fields]
        else:  # a STRUCT type built without a class (e.g. by a query): plain fields
            rec["fields"] = [{"name": col, "type": self.type(st, attr)} for col, st in t.fields]
        return rec


def _qual(owner) -> str:
    return f"{owner.__module__}.{owner.__qualname__}" if isinstance(owner, type) else str(owner)


# ---------------------------------------------------------------------------
# derived entities: what ksqlDB registers for a CSAS/CTAS output
# ---------------------------------------------------------------------------


def _connect(avro_type: str, connect_name: str, logical: str, **extra) -> dict:
    return {"type": avro_type, **extra, "connect.version": 1, "connect.name": connect_name,
            "logicalType": logical}


def ksql_key_record_name(source_name: str) -> str:
    """ksqlDB's key record name: the source name UPPER_UNDERSCORE -> UpperCamel + "Key"
    (AvroFormat.getKeySchemaName, Guava CaseFormat): HIGH_VALUE_ORDER -> HighValueOrderKey."""
    return "".join(p[:1].upper() + p[1:].lower() for p in source_name.split("_")) + "Key"


class _KsqlSchema:
    """What ksqlDB registers for a source it creates (CREATE ... AS SELECT, or CREATE with
    columns). Facts from ksqlDB's source (confluentinc/ksql, 8.0): AvroSchemaTranslator runs
    AvroSchemas.getAvroCompatibleConnectSchema, then Connect's AvroData.fromConnectSchema with
    default AvroDataConfig (connect.meta.data=true, enhanced.avro.schema.support=false), and
    the registered schemas in its functional tests' historical_plans/*/spec.json show the
    result:

    - every field optional: ``["null", T]`` with default null; records carry ``connect.name``;
      only the first (outermost) record has the namespace: nested ones share it, so Avro's
      JSON leaves it off.
    - nested STRUCT: record ``<parent>_<COLUMN>``; ARRAY adds no name part, items are
      optional (``["null", record]``) - collect-list "collect_list struct - AVRO".
    - MAP (ksqlDB keys are optional STRINGs, which Avro maps cannot express): an array of
      ``MapEntry`` records named ``<parent>_<COLUMN>`` with optional ``key``/``value`` fields,
      the array carrying the same ``connect.name`` - avro "deserialize anonymous map - value",
      date/time/timestamp "... in complex types". A STRUCT map value is named
      ``<parent>_<COLUMN>_MapValue`` (AvroSchemas.MAP_VALUE_NAME).
    - DECIMAL/DATE/TIME/TIMESTAMP: Connect logical types with ``connect.version``/
      ``connect.name`` (+ ``connect.parameters`` for decimals); BYTES is plain ``"bytes"``.
    - keys: one column unwrapped (its bare type); several columns, or one STRUCT column,
      form a record named ``<SourceCamel>Key`` (AvroFormat.getKeySchemaName) - avro
      "STRUCT - key - no inference", group-by "AVRO group by struct",
      multi-col-keys "select * from stream - with key inference".
    """

    def __init__(self):
        self.namespace_written = False

    def record(self, name: str, columns) -> dict:
        rec: dict[str, Any] = {"type": "record", "name": name}
        if not self.namespace_written:
            rec["namespace"] = KSQL_NAMESPACE
            self.namespace_written = True
        rec["fields"] = [
            {"name": col, "type": ["null", self.type(t, f"{name}_{col}")], "default": None}
            for col, t in columns
        ]
        rec["connect.name"] = f"{KSQL_NAMESPACE}.{name}"
        return rec

    def type(self, t: SqlType, name: str) -> Any:
        n = t.name
        simple = {"BOOLEAN": "boolean", "INT": "int", "BIGINT": "long", "DOUBLE": "double",
                  "STRING": "string", "BYTES": "bytes"}
        if n in simple:
            return simple[n]
        if n == "DECIMAL":
            return _connect("bytes", "org.apache.kafka.connect.data.Decimal", "decimal",
                            scale=t.scale, precision=t.precision,
                            **{"connect.parameters": {"scale": str(t.scale),
                                                      "connect.decimal.precision": str(t.precision)}})
        if n == "TIMESTAMP":
            return _connect("long", "org.apache.kafka.connect.data.Timestamp", "timestamp-millis")
        if n == "DATE":
            return _connect("int", "org.apache.kafka.connect.data.Date", "date")
        if n == "TIME":
            return _connect("int", "org.apache.kafka.connect.data.Time", "time-millis")
        if n == "ARRAY":
            return {"type": "array", "items": ["null", self.type(t.item, name)]}
        if n == "MAP":
            entry: dict[str, Any] = {"type": "record", "name": name}
            if not self.namespace_written:
                entry["namespace"] = KSQL_NAMESPACE
                self.namespace_written = True
            entry["fields"] = [
                {"name": "key", "type": ["null", "string"], "default": None},
                {"name": "value", "type": ["null", self.type(t.item, f"{name}_MapValue")], "default": None},
            ]
            entry["connect.internal.type"] = "MapEntry"
            return {"type": "array", "items": entry, "connect.name": f"{KSQL_NAMESPACE}.{name}"}
        if n == "STRUCT":
            return self.record(name, t.fields)
        raise SchemaError(f"type {t.ksql()} has no Avro mapping")


# ---------------------------------------------------------------------------
# defaults: Python values -> Avro JSON default values, checked against the type
# ---------------------------------------------------------------------------


def _default(t: SqlType, v: Any, where: str, attr: str) -> Any:
    def bad(reason: str):
        return SchemaError(f"{where}: default {v!r} {reason}", attr, "avro-bad-default")

    n = t.name
    if n == "BOOLEAN":
        if not isinstance(v, bool):
            raise bad("is not a bool (BOOLEAN field)")
        return v
    if n in ("INT", "BIGINT"):
        lo, hi = INT32 if n == "INT" else INT64
        if not isinstance(v, int) or isinstance(v, bool):
            raise bad(f"is not an int ({n} field)")
        if not lo <= v <= hi:
            raise bad(f"is out of range for {n} ({lo}..{hi})")
        return v
    if n == "DOUBLE":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise bad("is not a number (DOUBLE field)")
        if not math.isfinite(v):
            raise bad("cannot be written as an Avro JSON default (NaN and infinity are not JSON)")
        return float(v)
    if n == "STRING":
        if t.avro == "uuid":
            if isinstance(v, uuid.UUID):
                return str(v)
            try:
                return str(uuid.UUID(str(v))) if isinstance(v, str) else _raise(bad("is not a UUID"))
            except ValueError:
                raise bad("is not a valid UUID") from None
        if not isinstance(v, str):
            raise bad("is not a str (STRING field)")
        return v
    if n == "BYTES":
        if not isinstance(v, (bytes, bytearray)):
            raise bad("is not bytes (BYTES field)")
        return bytes(v).decode("latin-1")  # Avro JSON encodes bytes as code points 0-255
    if n == "DECIMAL":
        return _decimal_default(t, v, bad)
    if n == "TIMESTAMP":
        if isinstance(v, dt.datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=dt.timezone.utc)  # naive timestamps are UTC (SPEC §3)
            return (v - EPOCH) // MS
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise bad("is not a datetime (TIMESTAMP field)")
    if n == "DATE":
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            return (v - dt.date(1970, 1, 1)).days
        raise bad("is not a date (DATE field)")
    if n == "TIME":
        if isinstance(v, dt.time):
            return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
        raise bad("is not a time (TIME field)")
    if n == "ARRAY":
        if not isinstance(v, (list, tuple)):
            raise bad("is not a list (ARRAY field)")
        return [_item_default(t, x, f"{where}[{i}]", attr) for i, x in enumerate(v)]
    if n == "MAP":
        if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
            raise bad("is not a dict with str keys (MAP field)")
        return {k: _item_default(t, x, f"{where}[{k!r}]", attr) for k, x in v.items()}
    if n == "STRUCT":
        return _struct_default(t, v, where, attr, bad)
    raise bad(f"cannot be a default of a {t.ksql()} field")


def _raise(exc):
    raise exc


def _item_default(t: SqlType, x: Any, where: str, attr: str) -> Any:
    if x is None:
        if not t.item_nullable:
            raise SchemaError(f"{where}: None is not allowed: the element type is not Optional", attr,
                              "avro-bad-default")
        return None
    return _default(t.item, x, where, attr)


def _decimal_default(t: SqlType, v: Any, bad) -> str:
    if isinstance(v, float):
        raise bad("is a float: use Decimal('...') so the value is exact")
    if isinstance(v, bool) or not isinstance(v, (int, decimal.Decimal)):
        raise bad("is not a Decimal (DECIMAL field)")
    d = decimal.Decimal(v)
    if not d.is_finite():
        raise bad("is not a finite number")
    with decimal.localcontext() as ctx:
        ctx.prec = max(t.precision, 1) + 50
        unscaled = d.scaleb(t.scale)
        if unscaled != unscaled.to_integral_value():
            raise bad(f"has more than {t.scale} decimal places ({t.ksql()})")
        n = int(unscaled)
    if len(str(abs(n))) > t.precision:
        raise bad(f"has more than {t.precision} digits ({t.ksql()})")
    # Avro decimal bytes: the unscaled value, two's-complement big-endian, JSON-encoded as latin-1
    raw = n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)
    return raw.decode("latin-1")


def _struct_default(t: SqlType, v: Any, where: str, attr: str, bad) -> dict:
    if not isinstance(v, dict):
        raise bad("is not a dict of the struct's fields (STRUCT field)")
    if t.origin is None:
        raise bad("cannot be checked: the STRUCT has no declaring class")
    fields = t.origin.__kctx__.fields
    known = {f.name for f in fields} | {f.avro_name for f in fields}  # attribute or ColumnName
    unknown = sorted(set(v) - known)
    if unknown:
        raise bad(f"has unknown struct field(s) {', '.join(unknown)}")
    out = {}
    for f in fields:
        fw = f"{where}.{f.name}"
        if f.name in v or f.avro_name in v:
            x = v[f.name] if f.name in v else v[f.avro_name]
        elif f.has_default:
            x = f.default
        else:
            raise SchemaError(f"{where}: default lacks struct field '{f.name}' (it has no default)", attr,
                              "avro-bad-default")
        if x is None:
            if not f.nullable:
                raise SchemaError(f"{fw}: None is not allowed: the field is not Optional", attr, "avro-bad-default")
            out[f.avro_name] = None
        else:
            out[f.avro_name] = _default(f.type, x, fw, attr)
    return out


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _query_order(info: EntityInfo, fields: list[Field]) -> list[Field]:
    """Declared fields of a derived entity in the order its query produces them: ksqlDB
    registers the SELECT's column order. Declaration order when the query cannot be
    analysed (its problems are reported by the query checks)."""
    try:
        from kctx_cli.derive.schema import analyze

        produced = [c.name for c in analyze(info.query()).columns]
    except Exception:  # noqa: BLE001 - a broken query must not break schema derivation
        return fields
    pos = {name: i for i, name in enumerate(produced)}
    return sorted(fields, key=lambda f: pos.get(f.column, len(pos)))  # stable: undeclared order kept


def _require_types(info: EntityInfo) -> None:
    for f in info.fields:
        if f.type is None:
            raise SchemaError(f"{info.name}.{f.name}: the field type is invalid, so no Avro schema can be "
                              f"derived (run kctx validate)", f.name, "unsupported-type")


def _validate(schema: Any, info: EntityInfo) -> None:
    import fastavro
    from fastavro.schema import SchemaParseException, UnknownType

    try:
        fastavro.parse_schema(schema, _write_hint=False)
    except (SchemaParseException, UnknownType, ValueError, TypeError) as exc:
        raise SchemaError(f"{info.name}: derived Avro schema is invalid: {exc}") from None


def _named_shapes(schema: Any, namespace: str | None) -> dict[str, str]:
    """Full name -> shallow JSON of every record defined in a schema (nested named
    records replaced by their names), to compare definitions across schemas."""
    out: dict[str, str] = {}

    def shallow(node, ns):
        if isinstance(node, str) and node not in _PRIMITIVES and "." not in node and ns:
            return f"{ns}.{node}"  # a reference to a record defined earlier
        if isinstance(node, list):
            return [shallow(b, ns) for b in node]
        if isinstance(node, dict):
            if node.get("type") == "record":
                full = node["name"] if "." in node["name"] else ".".join(x for x in (node.get("namespace", ns), node["name"]) if x)
                inner_ns = full.rsplit(".", 1)[0] if "." in full else None
                shape = dict(node)
                shape["fields"] = [dict(f, type=shallow(f["type"], inner_ns)) for f in node["fields"]]
                shape.pop("namespace", None)
                out.setdefault(full, schema_json(dict(shape, name=full)))
                return full
            if node.get("type") == "array":
                return dict(node, items=shallow(node["items"], ns))
            if node.get("type") == "map":
                return dict(node, values=shallow(node["values"], ns))
        return node

    shallow(schema, namespace)
    return out

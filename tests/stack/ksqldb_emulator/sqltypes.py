"""ksqlDB SQL types as the emulator needs them: render, REST schema JSON, Avro schema.

A type is an immutable ``SqlType``; ``statements.parse_type`` builds them from text (via kctx's ksqlDB dialect).
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Names ksqlDB's REST API uses for a column's base type (SqlBaseType).
PRIMITIVES = ("BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "STRING", "BYTES", "DATE", "TIME", "TIMESTAMP")


@dataclass(frozen=True)
class SqlType:
    base: str  # one of PRIMITIVES, DECIMAL, ARRAY, MAP, STRUCT
    precision: int | None = None
    scale: int | None = None
    item: "SqlType | None" = None  # ARRAY element / MAP value
    key: "SqlType | None" = None  # MAP key
    fields: tuple[tuple[str, "SqlType"], ...] = field(default=())  # STRUCT

    # -- text -------------------------------------------------------------
    def render(self) -> str:
        """ksqlDB's SqlType.toString(): INTEGER, DECIMAL(4, 2), STRUCT<`A` INTEGER>."""
        if self.base == "DECIMAL":
            return f"DECIMAL({self.precision}, {self.scale})"
        if self.base == "ARRAY":
            return f"ARRAY<{self.item.render()}>"
        if self.base == "MAP":
            return f"MAP<{self.key.render()}, {self.item.render()}>"
        if self.base == "STRUCT":
            return "STRUCT<" + ", ".join(f"`{n}` {t.render()}" for n, t in self.fields) + ">"
        return self.base

    # -- REST -------------------------------------------------------------
    def schema_info(self) -> dict:
        """The ``schema`` object of a FieldInfo in DESCRIBE responses."""
        out: dict = {"type": self.base, "fields": None, "memberSchema": None}
        if self.base == "STRUCT":
            out["fields"] = [{"name": n, "schema": t.schema_info()} for n, t in self.fields]
        elif self.base in ("ARRAY", "MAP"):
            out["memberSchema"] = self.item.schema_info()
        elif self.base == "DECIMAL":
            out["parameters"] = {"precision": self.precision, "scale": self.scale}
        return out

    # -- JSON for the command topic ------------------------------------------
    def to_json(self):
        return self.render()

    @property
    def is_numeric(self) -> bool:
        return self.base in ("INTEGER", "BIGINT", "DOUBLE", "DECIMAL")


BOOLEAN = SqlType("BOOLEAN")
INTEGER = SqlType("INTEGER")
BIGINT = SqlType("BIGINT")
DOUBLE = SqlType("DOUBLE")
STRING = SqlType("STRING")
BYTES = SqlType("BYTES")
DATE = SqlType("DATE")
TIME = SqlType("TIME")
TIMESTAMP = SqlType("TIMESTAMP")


def decimal(precision: int, scale: int) -> SqlType:
    return SqlType("DECIMAL", precision=precision, scale=scale)


def array(item: SqlType) -> SqlType:
    return SqlType("ARRAY", item=item)


def map_of(key: SqlType, value: SqlType) -> SqlType:
    return SqlType("MAP", key=key, item=value)


def struct(fields) -> SqlType:
    return SqlType("STRUCT", fields=tuple(fields))


def decimal_of(t: SqlType) -> SqlType:
    """Integer types widened to DECIMAL the way ksqlDB does for arithmetic."""
    if t.base == "INTEGER":
        return decimal(10, 0)
    if t.base == "BIGINT":
        return decimal(19, 0)
    return t


# --- Avro: what ksqlDB registers (AvroSchemas + Connect's AvroData, connect.meta.data on) ---
# Evidence: confluentinc/ksql ksqldb-serde AvroSchemas/AvroSchemaTranslator/AvroFormat and the
# registered schemas in ksqldb-functional-tests historical_plans/*/spec.json (8.0). Every
# field optional with default null; nested records <parent>_<COLUMN> without namespace (the
# outermost record carries it); STRING-keyed MAPs become arrays of MapEntry records (ksqlDB's
# map keys are optional, which Avro maps cannot express) whose STRUCT values are named
# <parent>_<COLUMN>_MapValue; keys: one column unwrapped, else record <SourceCamel>Key.
# kctx_cli/avro/schema.py derives the same; tests/test_avro_ksqldb_parity.py compares them.

AVRO_NAMESPACE = "io.confluent.ksql.avro_schemas"
AVRO_RECORD = "KsqlDataSourceSchema"


def _avro(t: SqlType, full_name: str):
    if t.base == "BOOLEAN":
        return "boolean"
    if t.base == "INTEGER":
        return "int"
    if t.base == "BIGINT":
        return "long"
    if t.base == "DOUBLE":
        return "double"
    if t.base == "STRING":
        return "string"
    if t.base == "BYTES":
        return "bytes"
    # Temporal types carry Kafka Connect's logical-type markers, as ksqlDB's AvroData writes them.
    if t.base == "DATE":
        return {"type": "int", "connect.version": 1, "connect.name": "org.apache.kafka.connect.data.Date",
                "logicalType": "date"}
    if t.base == "TIME":
        return {"type": "int", "connect.version": 1, "connect.name": "org.apache.kafka.connect.data.Time",
                "logicalType": "time-millis"}
    if t.base == "TIMESTAMP":
        return {"type": "long", "connect.version": 1, "connect.name": "org.apache.kafka.connect.data.Timestamp",
                "logicalType": "timestamp-millis"}
    if t.base == "DECIMAL":
        return {
            "type": "bytes",
            "scale": t.scale,
            "precision": t.precision,
            "connect.version": 1,
            "connect.parameters": {"scale": str(t.scale), "connect.decimal.precision": str(t.precision)},
            "connect.name": "org.apache.kafka.connect.data.Decimal",
            "logicalType": "decimal",
        }
    if t.base == "ARRAY":
        return {"type": "array", "items": _optional(_avro(t.item, full_name))}
    if t.base == "MAP":
        entry = {"type": "record", "name": full_name.rpartition(".")[2], "fields": [
            {"name": "key", "type": _optional("string"), "default": None},
            {"name": "value", "type": _optional(_avro(t.item, f"{full_name}_MapValue")), "default": None},
        ], "connect.internal.type": "MapEntry"}
        return {"type": "array", "items": entry, "connect.name": full_name}
    if t.base == "STRUCT":
        return _record(t.fields, full_name, outermost=False)
    raise ValueError(t.base)


def _optional(schema):
    return ["null", schema]


def _record(fields, full_name: str, outermost: bool = True) -> dict:
    namespace, _, name = full_name.rpartition(".")
    out = {"type": "record", "name": name}
    if namespace and outermost:
        out["namespace"] = namespace
    out["fields"] = [
        {"name": n, "type": _optional(_avro(t, f"{full_name}_{n}")), "default": None}
        for n, t in fields
    ]
    out["connect.name"] = full_name
    return out


def avro_schema(columns: list[tuple[str, SqlType]], record: str = AVRO_RECORD,
                full_name: str | None = None) -> dict:
    """Value (or multi-column key) schema as ksqlDB registers it; ``full_name`` is
    VALUE_AVRO_SCHEMA_FULL_NAME / KEY_SCHEMA_FULL_NAME when the statement sets it."""
    return _record(columns, full_name or f"{AVRO_NAMESPACE}.{record}")


def key_record_name(source: str) -> str:
    """ksqlDB's AvroFormat.getKeySchemaName: UPPER_UNDERSCORE -> UpperCamel, plus "Key"."""
    return "".join(p[:1].upper() + p[1:].lower() for p in source.split("_")) + "Key"


def avro_key_schema(columns: list[tuple[str, SqlType]], source: str, full_name: str | None = None):
    """Key schema: a single key column is registered unwrapped (UNWRAP_SINGLES); the
    record (several columns, or one STRUCT column) is named after the source."""
    full_name = full_name or f"{AVRO_NAMESPACE}.{key_record_name(source)}"
    if len(columns) == 1:
        t = columns[0][1]
        if t.base == "STRUCT":
            return _record(t.fields, full_name)
        schema = _avro(t, full_name)
        if t.base == "MAP":  # the MapEntry record is the outermost named type
            schema["items"] = dict(schema["items"], namespace=full_name.rpartition(".")[0])
        return schema
    return _record(columns, full_name)


def from_avro(schema) -> SqlType:
    """ksqlDB's reading of an Avro schema (used when a CREATE has no columns)."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1:
            raise ValueError(f"unions other than [null, T] are not supported: {schema}")
        return from_avro(branches[0])
    if isinstance(schema, str):
        return from_avro({"type": schema})
    t = schema.get("type")
    logical = schema.get("logicalType")
    if isinstance(t, (list, dict)):
        return from_avro(t)
    if t == "boolean":
        return BOOLEAN
    if t == "int":
        return {"date": DATE, "time-millis": TIME}.get(logical, INTEGER)
    if t == "long":
        return TIMESTAMP if logical == "timestamp-millis" else BIGINT
    if t in ("float", "double"):
        return DOUBLE
    if t in ("string", "enum"):
        return STRING
    if t in ("bytes", "fixed"):
        if logical == "decimal":
            return decimal(int(schema["precision"]), int(schema.get("scale", 0)))
        return BYTES
    if t == "array":
        items = schema["items"]
        if isinstance(items, dict) and items.get("connect.internal.type") == "MapEntry":
            value = next(f["type"] for f in items["fields"] if f["name"] == "value")
            return map_of(STRING, from_avro(value))  # Connect's map with non-string-able keys
        return array(from_avro(items))
    if t == "map":
        return map_of(STRING, from_avro(schema["values"]))
    if t == "record":
        return struct([(f["name"].upper(), from_avro(f["type"])) for f in schema["fields"]])
    raise ValueError(f"unsupported Avro type: {t}")

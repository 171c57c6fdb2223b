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


# --- Avro (ksqlDB's AvroSchemas: record KsqlDataSourceSchema, optional fields) ------

AVRO_NAMESPACE = "io.confluent.ksql.avro_schemas"
AVRO_RECORD = "KsqlDataSourceSchema"


def _avro(t: SqlType, name: str):
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
        return {"type": "array", "items": _optional(_avro(t.item, name))}
    if t.base == "MAP":
        # ksqlDB's STRING-keyed maps become Avro maps.
        return {"type": "map", "values": _optional(_avro(t.item, name))}
    if t.base == "STRUCT":
        return _record(t.fields, name)
    raise ValueError(t.base)


def _optional(schema):
    return ["null", schema]


def _record(fields, full_name: str) -> dict:
    namespace, _, name = full_name.rpartition(".")
    out = {"type": "record", "name": name}
    if namespace:
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


def avro_key_schema(columns: list[tuple[str, SqlType]], full_name: str | None = None):
    """Key schema: a single key column is registered unwrapped (UNWRAP_SINGLES)."""
    if len(columns) == 1:
        return _avro(columns[0][1], full_name or f"{AVRO_NAMESPACE}.{AVRO_RECORD}Key_{columns[0][0]}")
    return avro_schema(columns, AVRO_RECORD + "Key", full_name)


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
        return array(from_avro(schema["items"]))
    if t == "map":
        return map_of(STRING, from_avro(schema["values"]))
    if t == "record":
        return struct([(f["name"].upper(), from_avro(f["type"])) for f in schema["fields"]])
    raise ValueError(f"unsupported Avro type: {t}")

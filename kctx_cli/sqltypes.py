"""kctx's model of ksqlDB's SQL types: one value class and its constructors.

Every package reads and builds types through this module (the models map Python
annotations to it, the query DSL types expressions with it, the Avro derivation
encodes it). It depends on nothing in kctx. Type names and parameters are ksqlDB's:
https://docs.ksqldb.io/en/latest/reference/sql/data-types/ (../shared/ksqldb-docs).
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass, field


PRIMITIVES = ("BOOLEAN", "INT", "BIGINT", "DOUBLE", "STRING", "BYTES", "DATE", "TIME", "TIMESTAMP")


@dataclass(frozen=True)
class SqlType:
    """A ksqlDB type. ``avro`` refines the Avro encoding where ksqlDB's type is coarser
    (``float`` for a DOUBLE column written as Avro float, ``uuid`` for a STRING)."""

    name: str
    precision: int | None = None
    scale: int | None = None
    item: "SqlType | None" = None  # ARRAY element, MAP value
    item_nullable: bool = False
    fields: tuple[tuple[str, "SqlType"], ...] = ()  # STRUCT members (ksqlDB names)
    struct_name: str | None = None  # Python class the STRUCT came from (Avro record name)
    origin: type | None = field(default=None, compare=False, repr=False)  # that Struct class
    avro: str | None = field(default=None, compare=False)

    def ksql(self, quote=None) -> str:
        """Type as written in ksqlDB DDL. ``quote``: applied to STRUCT member names (KSQL text
        passes ``kctx_cli.ksql.keywords.quote_name``: a member named ``FROM`` is back-quoted);
        none by default (messages, comparisons)."""
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision}, {self.scale})"
        if self.name == "ARRAY":
            return f"ARRAY<{self.item.ksql(quote)}>"
        if self.name == "MAP":
            return f"MAP<STRING, {self.item.ksql(quote)}>"
        if self.name == "STRUCT":
            inner = ", ".join(f"{quote(n) if quote else n} {t.ksql(quote)}" for n, t in self.fields)
            return f"STRUCT<{inner}>"
        return self.name

    __str__ = ksql

    @property
    def is_numeric(self) -> bool:
        """Whether the type is INT, BIGINT, DOUBLE or DECIMAL (ksqlDB's numeric types)."""
        return self.name in ("INT", "BIGINT", "DOUBLE", "DECIMAL")


BOOLEAN = SqlType("BOOLEAN")
INT = SqlType("INT")
BIGINT = SqlType("BIGINT")
DOUBLE = SqlType("DOUBLE")
STRING = SqlType("STRING")
BYTES = SqlType("BYTES")
DATE = SqlType("DATE")
TIME = SqlType("TIME")
TIMESTAMP = SqlType("TIMESTAMP")


def decimal_type(precision: int, scale: int) -> SqlType:
    """``DECIMAL(precision, scale)``; ksqlDB allows precision 1..38, 0 <= scale <= precision
    (checked where the type is declared, not here)."""
    return SqlType("DECIMAL", precision=precision, scale=scale)


def array_of(item: SqlType, nullable: bool = False) -> SqlType:
    """``ARRAY<item>``; ``nullable``: whether elements may be null (Avro union with null)."""
    return SqlType("ARRAY", item=item, item_nullable=nullable)


def map_of(value: SqlType, nullable: bool = False) -> SqlType:
    """``MAP<STRING, value>`` (ksqlDB's Avro maps have STRING keys); ``nullable`` as in array_of."""
    return SqlType("MAP", item=value, item_nullable=nullable)


def decimal_literal_type(v: decimal.Decimal) -> SqlType:
    """The DECIMAL type of a Decimal literal as kctx renders it (kctx_cli.query.compiler.literal): with a
    fraction it is ksqlDB's decimal literal, whose precision counts a leading zero
    (0.5 is DECIMAL(2, 1), 0.05 DECIMAL(3, 2), 10.25 DECIMAL(4, 2): the real server's
    answers); a whole number is rendered CAST(n AS DECIMAL(p, 0)) (a bare 100 would be INT)."""
    sign, digits, exponent = v.as_tuple()
    if exponent >= 0:
        return decimal_type(max(len(str(abs(int(v)))), 1), 0)
    scale = -exponent
    return decimal_type(max(len(digits), scale + 1), scale)

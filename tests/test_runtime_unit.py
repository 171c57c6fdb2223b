"""The services runtime without a cluster: lazy import, ksqlDB column types, local DSL
predicate evaluation, schema difference messages, entity <-> Avro datum mapping."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from decimal import Decimal
from typing import Annotated, Optional

import pytest

from kctx_cli.errors import KctxError
from kctx_cli.model import Int32, Key, Precision, Struct, Table
from tests.helpers import REPO

UTC = dt.timezone.utc


def test_import_kctx_cli_and_the_context_stay_light():
    code = ("import sys, kctx_cli\nfrom kctx_cli import KafkaContext\n"
            "print([m for m in ('confluent_kafka', 'fastavro', 'rocksdict', 'sqlglot') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
    with pytest.raises(AttributeError):
        import kctx_cli

        kctx_cli.NoSuchThing  # noqa: B018


def test_query_stream_column_types():
    from kctx_cli.runtime.ksql import type_converter

    assert type_converter("DECIMAL(18, 4)")(12.5) == Decimal("12.5")
    assert type_converter("TIMESTAMP")("2026-11-29T10:07:02.767") == dt.datetime(2026, 11, 29, 10, 7, 2, 767000,
                                                                                   tzinfo=UTC)
    assert type_converter("DATE")("2026-01-02") == dt.date(2026, 1, 2)
    assert type_converter("TIME")("10:07:02.767") == dt.time(10, 7, 2, 767000)
    assert type_converter("BYTES")("AAE=") == b"\x00\x01"
    assert type_converter("STRING") is None and type_converter("INTEGER") is None
    assert type_converter("ARRAY<DECIMAL(4, 2)>")([1.5, None]) == [Decimal("1.5"), None]
    assert type_converter("MAP<STRING, TIMESTAMP>")({"a": "1970-01-01T00:00:00.001"}) == \
        {"a": dt.datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)}
    conv = type_converter("STRUCT<`A` STRING, `B` DECIMAL(4, 2), `C` STRUCT<`D` DATE>>")
    assert conv({"A": "x", "B": 1.25, "C": {"D": "2026-01-01"}}) == \
        {"A": "x", "B": Decimal("1.25"), "C": {"D": dt.date(2026, 1, 1)}}
    assert type_converter("STRUCT<`A` STRING>") is None


class Addr(Struct):
    city: str


class Cust(Table):
    cid: Annotated[str, Key]
    name: str
    tier: Int32 = 0
    score: Optional[Annotated[Decimal, Precision(6, 2)]] = None
    addr: Optional[Addr] = None
    tags: list[str] = []

    class Meta:
        topic = "custs"


def test_local_predicates_three_valued():
    from kctx_cli.query.expr import Func
    from kctx_cli.runtime.evaluate import predicate

    a = Cust(cid="a", name="Ada", tier=2, score=Decimal("1.5"), addr=Addr(city="Paris"), tags=["x", "y"])
    b = Cust(cid="b", name="Bob")
    cases = [
        (Cust.tier >= 2, True, False),
        (Cust.score > 1, True, False),  # NULL > 1 is not true
        (~(Cust.score > 1), False, False),  # NOT NULL is NULL
        ((Cust.score > 1) | (Cust.tier == 0), True, True),
        (Cust.score.is_null(), False, True),
        (Cust.name.like("A%"), True, False),
        (Cust.name.like("_ob"), False, True),
        (Cust.name.in_("Ada", "Zed"), True, False),
        (Cust.tier.between(0, 1), False, True),
        (Cust.addr.city == "Paris", True, False),
        (Cust.tags[1] == "x", True, False),
        (Cust.tags[-1] == "y", True, False),
        (Cust.tier + 1 == 3, True, False),
        (Func("UCASE", (Cust.name,)) == "BOB", False, True),
        (Cust.score.is_distinct_from(None), True, False),
    ]
    for expr, want_a, want_b in cases:
        test = predicate(expr, Cust)
        assert (test(a), test(b)) == (want_a, want_b), expr


def test_local_predicates_refuse_what_they_cannot_evaluate():
    from kctx_cli.query.expr import Func
    from kctx_cli.runtime.evaluate import predicate

    with pytest.raises(KctxError, match="function SPLIT cannot be evaluated locally"):
        predicate(Func("SPLIT", (Cust.name, ",")) == "x", Cust)

    class Other(Table):
        oid: Annotated[str, Key]

    with pytest.raises(KctxError, match="is a column of Other, not of Cust"):
        predicate(Other.oid == "x", Cust)


def test_schema_difference_messages():
    from kctx_cli.runtime.codec import _first_difference

    a = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "string"}]}
    b = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "string"}]}
    assert _first_difference(a, b) == 'x.type: "int" in the model, "long" registered'
    c = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}]}
    assert _first_difference(a, c) == "field y is in the model only"
    assert _first_difference(c, a) == "field y is in the registry only"


def test_avro_datums_both_ways_for_kctx_and_ksqldb_schemas():
    """Source schemas use the Python names, ksqlDB's upper-case columns and MapEntry arrays."""
    from kctx_cli.sqltypes import SqlType
    from kctx_cli.runtime.codec import _decoder, _encoder, _instance_builder

    build = _instance_builder(Cust)
    c = build({"CID": "a", "NAME": "Ada", "TIER": 1, "SCORE": Decimal("2.50"), "ADDR": {"CITY": "Rome"},
               "TAGS": ["t"]})
    assert c == Cust(cid="a", name="Ada", tier=1, score=Decimal("2.5"), addr=Addr(city="Rome"), tags=["t"])
    assert build({"cid": "b", "name": "B"}) == Cust(cid="b", name="B")  # defaults for missing optional fields
    from kctx_cli.runtime.errors import DeserializationError

    with pytest.raises(DeserializationError, match="Cust: the record has no field 'name'"):
        build({"cid": "c"})
    m = SqlType("MAP", item=SqlType("BIGINT"), item_nullable=True)
    assert _decoder(m)([{"key": "a", "value": 1}, {"key": "b", "value": None}]) == {"a": 1, "b": None}
    entry = {"type": "array", "items": {"type": "record", "name": "E", "fields": [
        {"name": "key", "type": ["null", "string"]}, {"name": "value", "type": ["null", "long"]}]}}
    assert _encoder(m, entry)({"a": 1}) == [{"key": "a", "value": 1}]
    u = SqlType("STRING", avro="uuid")
    assert _encoder(u, "string")(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert _encoder(u, {"type": "string", "logicalType": "uuid"}) is None
    assert _decoder(u)("00000000-0000-0000-0000-000000000001") == uuid.UUID(int=1)
    ts = _decoder(SqlType("TIMESTAMP"))
    assert ts(1) == dt.datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)


# SQL's three-valued AND / OR (NULL is None): the truth tables, every pair of operands
_TV = (True, False, None)
_AND = {(True, True): True, (True, False): False, (True, None): None, (False, True): False, (False, False): False,
        (False, None): False, (None, True): None, (None, False): False, (None, None): None}
_OR = {(True, True): True, (True, False): True, (True, None): True, (False, True): True, (False, False): False,
       (False, None): None, (None, True): True, (None, False): None, (None, None): None}


@pytest.mark.parametrize("a", _TV)
@pytest.mark.parametrize("b", _TV)
def test_and_or_three_valued(a, b):
    from kctx_cli.query import expr as X
    from kctx_cli.runtime.evaluate import compile_expr

    class Row:
        pass

    assert compile_expr(X.BinaryOp("AND", X.Literal(a), X.Literal(b)))(Row()) is _AND[a, b]
    assert compile_expr(X.BinaryOp("OR", X.Literal(a), X.Literal(b)))(Row()) is _OR[a, b]


# Java's integer arithmetic, as the real ksqlDB 8.1.5 answered for N = -7 (INT):
# N/2 = -3, N % 2 = -1, 7/(N+5) = -3, CAST(N AS DECIMAL(4,1)) % 2 = -1.0
@pytest.mark.parametrize("op, a, b, want", [
    ("/", -7, 2, -3), ("/", 7, -2, -3), ("/", 7, 2, 3), ("/", -8, 2, -4), ("/", -7, 0, None),
    ("%", -7, 2, -1), ("%", 7, -2, 1), ("%", 7, 2, 1), ("%", -7, 0, None),
    ("%", Decimal("-7.0"), 2, Decimal("-1.0")), ("%", -7.5, 2.0, -1.5), ("/", -7.0, 2, -3.5),
])
def test_arithmetic_as_java(op, a, b, want):
    from kctx_cli.query import expr as X
    from kctx_cli.runtime.evaluate import compile_expr

    got = compile_expr(X.BinaryOp(op, X.Literal(a), X.Literal(b)))(object())
    assert got == want and type(got) is type(want)


def test_is_not_distinct_from_locally():
    from kctx_cli.query import expr as X
    from kctx_cli.runtime.evaluate import compile_expr

    same = X.BinaryOp("IS NOT DISTINCT FROM", X.Literal(None), X.Literal(None))
    assert compile_expr(same)(object()) is True
    assert compile_expr(X.BinaryOp("IS NOT DISTINCT FROM", X.Literal(1), X.Literal(None)))(object()) is False

"""Kind and output-schema inference (ksqlDB's rules for names, keys and types)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from kctx_cli.model import types as T
from kctx_cli.query import (
    Tumbling, avg, case, collect_list, count, func, hours, latest_by_offset, max_, select, sum_,
    window_start,
)
from kctx_cli.query.schema import analyze, promote
from tests.query_entities import Customer, Order, Payment, Region

O, C, P, R = Order, Customer, Payment, Region


def cols(q):
    a = analyze(q)
    assert a.problems == []
    return a.kind, [(c.name, c.type.ksql() if c.type else None, c.key) for c in a.columns]


def test_projection_of_a_stream_keeps_the_source_key():
    assert cols(select(O.amount, O.order_id).from_(O)) == (
        "STREAM", [("ORDER_ID", "STRING", True), ("AMOUNT", "DECIMAL(18, 4)", False)])


def test_alias_renames_the_key():
    assert cols(select(O.order_id.label("id"), O.note).from_(O)) == (
        "STREAM", [("ID", "STRING", True), ("NOTE", "STRING", False)])


def test_projection_of_a_table_is_a_table():
    assert cols(select(C.customer_id, C.address.city).from_(C)) == (
        "TABLE", [("CUSTOMER_ID", "STRING", True), ("CITY", "STRING", False)])


def test_group_by_makes_a_table_keyed_by_the_grouping():
    kind, columns = cols(select(O.customer_id, count().label("n"), sum_(O.quantity).label("q"),
                                sum_(O.amount).label("total"), avg(O.quantity).label("a"), max_(O.price).label("m"),
                                collect_list(O.currency).label("curs"), latest_by_offset(O.note).label("last"),
                                latest_by_offset(O.note, 3).label("last3"))
                         .from_(O).group_by(O.customer_id))
    assert kind == "TABLE"
    assert columns == [("CUSTOMER_ID", "STRING", True), ("N", "BIGINT", False), ("Q", "INT", False),
                       ("TOTAL", "DECIMAL(18, 4)", False), ("A", "DOUBLE", False), ("M", "DOUBLE", False),
                       ("CURS", "ARRAY<STRING>", False), ("LAST", "STRING", False), ("LAST3", "ARRAY<STRING>", False)]


def test_windowed_table_has_window_bounds():
    kind, columns = cols(select(O.customer_id, count().label("n")).from_(O)
                         .window(Tumbling(hours=1)).group_by(O.customer_id))
    assert columns == [("CUSTOMER_ID", "STRING", True), ("N", "BIGINT", False),
                       ("WINDOWSTART", "BIGINT", False), ("WINDOWEND", "BIGINT", False)]
    a = analyze(select(O.customer_id, window_start.label("ws"), count().label("n")).from_(O)
                .window(Tumbling(hours=1)).group_by(O.customer_id))
    assert [c.name for c in a.columns] == ["CUSTOMER_ID", "WS", "N", "WINDOWSTART", "WINDOWEND"]
    assert a.windowed


def test_partition_by_sets_the_key():
    assert cols(select(O.order_id, O.customer_id).from_(O).partition_by(O.customer_id)) == (
        "STREAM", [("CUSTOMER_ID", "STRING", True), ("ORDER_ID", "STRING", False)])


def test_join_key_and_kinds():
    kind, columns = cols(select(O.order_id, C.customer_id, C.name).from_(O).join(C, on=O.customer_id == C.customer_id))
    assert kind == "STREAM" and columns[0] == ("CUSTOMER_ID", "STRING", True)
    kind, columns = cols(select(P.order_id, O.amount).from_(O).join(P, on=P.order_id == O.order_id, within=hours(1)))
    assert kind == "STREAM" and columns[0] == ("ORDER_ID", "STRING", True)
    # foreign-key table-table join: keyed by the left table's key
    a = analyze(select(C.customer_id, R.label).from_(C).join(R, on=C.region_id == R.region_id))
    assert a.kind == "TABLE" and a.fk_join and [c.name for c in a.keys] == ["CUSTOMER_ID"]


def test_unnamed_expressions_get_ksql_col_names():
    _, columns = cols(select(O.order_id, O.quantity + 1).from_(O))
    assert columns[1] == ("KSQL_COL_1", "INT", False)


@pytest.mark.parametrize("expr,expected", [
    (O.quantity + 1, "INT"),
    (O.quantity + 10_000_000_000, "BIGINT"),
    (O.quantity * O.price, "DOUBLE"),
    (O.amount + O.amount, "DECIMAL(19, 4)"),
    (O.amount * O.amount, "DECIMAL(37, 8)"),
    (O.amount / O.amount, "DECIMAL(41, 23)"),
    (O.amount - O.quantity, "DECIMAL(19, 4)"),  # INT upcasts to DECIMAL(10, 0)
    (O.amount % 7, "DECIMAL(14, 4)"),
    (O.amount * Decimal("1.25"), "DECIMAL(22, 6)"),
    (O.amount * 1.5, "DOUBLE"),
    (O.amount > 10, "BOOLEAN"),
    (O.currency + "!", "STRING"),
    (func.ROUND(O.price), "BIGINT"),
    (func.ROUND(O.amount), "DECIMAL(15, 0)"),
    (func.UCASE(O.currency), "STRING"),
    (func.COALESCE(O.note, "x"), "STRING"),
    (func.TIMESTAMPTOSTRING(O.quantity, "yyyy"), "STRING"),
    (func.LEN(O.currency), "INT"),
    (case((O.quantity > 1, O.quantity), else_=0), "INT"),
    (O.quantity.cast("BIGINT"), "BIGINT"),
    (func.SOME_UDF(O.quantity), None),
])
def test_expression_types(expr, expected):
    a = analyze(select(O.order_id, expr.label("x")).from_(O))
    assert a.problems == []
    t = a.column("X").type
    assert (t.ksql() if t else None) == expected


def test_decimal_promotion_rules():
    d = T.decimal_type
    assert promote("+", d(5, 2), d(7, 3)).ksql() == "DECIMAL(8, 3)"
    assert promote("*", d(5, 2), d(7, 3)).ksql() == "DECIMAL(13, 5)"
    assert promote("/", d(5, 2), d(7, 3)).ksql() == "DECIMAL(16, 10)"
    assert promote("+", T.BIGINT, d(5, 2)).ksql() == "DECIMAL(22, 2)"
    assert promote("+", T.INT, T.BIGINT).ksql() == "BIGINT"


def test_full_join_has_a_synthetic_key():
    from kctx_cli.query import rowkey

    q = (select(rowkey.label("id"), O.amount, P.paid).from_(O)
         .full_join(P, on=P.order_id == O.order_id, within=hours(1)))
    assert cols(q) == ("STREAM", [("ID", "STRING", True), ("AMOUNT", "DECIMAL(18, 4)", False),
                                  ("PAID", "DECIMAL(10, 2)", False)])
    missing = analyze(select(O.amount, P.paid).from_(O).full_join(P, on=P.order_id == O.order_id, within=hours(1)))
    assert missing.problems == [(
        "key-not-selected",
        "the key ROWKEY (from the synthetic key of a FULL join or a join on expressions; use rowkey.label('...')) "
        "must be in the SELECT list (ksqlDB keeps key columns in the projection)")]


def test_table_table_primary_key_join_is_a_table():
    q = select(C.customer_id, C.name, R.label).from_(C).join(R, on=C.customer_id == R.region_id)
    a = analyze(q)
    assert a.problems == [] and a.kind == "TABLE" and not a.fk_join

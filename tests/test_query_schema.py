"""Kind and output-schema inference (ksqlDB's rules for names, keys and types)."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Optional

import pytest

from kctx_cli.model import Int32, Key, Stream, Table
from kctx_cli import sqltypes as T
from kctx_cli.query import (
    Tumbling, avg, case, collect_list, count, func, hours, latest_by_offset, max_, select, sum_,
    window_start,
)
from kctx_cli.derive.schema import analyze, promote
from tests.query_entities import Address, Customer, Order, Payment, Region

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
    # CUSTOMER_ID is a column of both sources: ksqlDB names it <SOURCE>_CUSTOMER_ID
    kind, columns = cols(select(O.order_id, C.customer_id, C.name).from_(O).join(C, on=O.customer_id == C.customer_id))
    assert kind == "STREAM" and columns == [("CUSTOMERS_CUSTOMER_ID", "STRING", True),
                                            ("ORDER_ID", "STRING", False), ("NAME", "STRING", False)]
    kind, columns = cols(select(P.order_id, O.amount).from_(O).join(P, on=P.order_id == O.order_id, within=hours(1)))
    assert kind == "STREAM" and columns[0] == ("PAYMENTS_ORDER_ID", "STRING", True)
    # a label names the key column whatever its source
    kind, columns = cols(select(O.customer_id.label("customer_id"), C.name).from_(O)
                         .join(C, on=O.customer_id == C.customer_id))
    assert columns == [("CUSTOMER_ID", "STRING", True), ("NAME", "STRING", False)]
    # foreign-key table-table join: keyed by the left table's key
    a = analyze(select(C.customer_id, R.label).from_(C).join(R, on=C.region_id == R.region_id))
    assert a.kind == "TABLE" and a.fk_join and [c.name for c in a.keys] == ["CUSTOMER_ID"]


def test_unnamed_expressions_get_ksql_col_names():
    # ksqlDB counts generated names only (group-by.json "multiple expressions":
    # SELECT f2, f1, f2+f1, COUNT(*) ... -> KSQL_COL_0 INT, KSQL_COL_1 BIGINT)
    _, columns = cols(select(O.order_id, O.quantity + 1, O.quantity * 2).from_(O))
    assert columns[1:] == [("KSQL_COL_0", "INT", False), ("KSQL_COL_1", "INT", False)]


def test_generated_names_skip_numbers_a_source_column_uses():
    class Odd(Stream):
        id: Annotated[str, Key]
        ksql_col_0: int
        city: str
        address: Optional[Address] = None

        class Meta:
            name = "ODD"

    a = analyze(select(Odd.id, Odd.ksql_col_0 + 1, Odd.address.city, Odd.address.street, Odd.address.city)
                .from_(Odd))
    # a column CITY exists, so the struct field becomes CITY_1, the next one CITY_2
    assert [c.name for c in a.columns] == ["ID", "KSQL_COL_1", "CITY_1", "STREET", "CITY_2"]


def test_group_by_keys_follow_the_group_by_order():
    # group-by.json "multiple expressions": SELECT f2, f1, ... GROUP BY f1, f2 -> F1 KEY, F2 KEY
    _, columns = cols(select(O.currency, O.customer_id, count().label("n")).from_(O)
                      .group_by(O.customer_id, O.currency))
    assert columns == [("CUSTOMER_ID", "STRING", True), ("CURRENCY", "STRING", True), ("N", "BIGINT", False)]


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
    # ksqlDB 8.1.5 (EXPLAIN of the query): ROUND(DECIMAL(18, 4)) is DECIMAL(14, 0), not (15, 0)
    (func.ROUND(O.amount), "DECIMAL(14, 0)"),
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


# What ksqlDB 8.1.5 answers (tests/test_query_vs_ksqldb.py runs the same on the server): the
# functions resolve as its UdfIndex does (exact match, else numbers widen for scalar functions
# only; ties are ambiguous), CASE converts nothing, Decimal literals have ksqlDB's precision.
@pytest.mark.parametrize("expr,expected", [
    (func.ROUND(O.quantity), "BIGINT"),                        # ROUND(INT) is BIGINT
    (func.TRUNC(O.price), "BIGINT"),
    (func.CEIL(O.amount), "DECIMAL(18, 4)"),                   # CEIL/FLOOR keep the DECIMAL
    (func.GREATEST(O.amount, O.amount.cast("DECIMAL(6, 5)")), "DECIMAL(19, 5)"),  # widened
    (func.LEAST(O.price, O.quantity), "DOUBLE"),               # INT widens to DOUBLE, the only fit
    (func.LEN(func.TO_BYTES(O.note, "hex")), "INT"),           # LEN takes BYTES too
    (func.SQRT(O.amount), "DOUBLE"),
    (func.COALESCE(O.quantity, 1), "INT"),
    (func.LATEST_BY_OFFSET(O.note, False), "STRING"),          # (T, ignoreNulls) is not an array
    (O.quantity * Decimal("0.5"), "DECIMAL(13, 1)"),           # 0.5 is DECIMAL(2, 1)
    (O.amount + Decimal("100"), "DECIMAL(19, 4)"),             # rendered CAST(100 AS DECIMAL(3, 0))
    (case((O.quantity > 1, None), else_=O.amount), "DECIMAL(18, 4)"),
    (func.SPLIT(O.note, ",") == func.SPLIT(O.currency, ","), "BOOLEAN"),  # ARRAY = ARRAY
])
def test_types_as_ksqldb_answers(expr, expected):
    q = select(O.order_id, expr.label("x")).from_(O)
    a = analyze(q.group_by(O.order_id) if getattr(expr, "aggregate", False) else q)
    assert a.problems == []
    assert a.column("X").type.ksql() == expected


@pytest.mark.parametrize("expr,code,part", [
    (func.ROUND(O.quantity, 1), "bad-function-call", "is ambiguous in ksqlDB"),
    (func.GREATEST(O.quantity, O.price.cast("BIGINT")), "bad-function-call", "is ambiguous in ksqlDB"),
    (func.COALESCE(O.quantity, O.price), "bad-function-call", "COALESCE does not accept (INT, DOUBLE)"),
    (avg(O.amount), "bad-function-call", "AVG does not take DECIMAL(18, 4) as its first argument"),
    (case((O.quantity > 1, O.quantity), else_=O.quantity.cast("BIGINT")), "type-mismatch", "CASE results have"),
    (case((O.quantity > 1, None)), "null-type", "every CASE result is NULL"),
    ((O.currency == "a") > False, "type-mismatch", "type mismatch in comparison"),  # BOOLEAN: = and <> only
    (O.quantity.in_("a"), "type-mismatch", "type mismatch in IN"),
    (func.FILTER(func.SPLIT(O.note, ","), lambda note: note == "a"), "bad-lambda", "lambda parameter note"),
])
def test_problems_as_ksqldb_answers(expr, code, part):
    q = select(O.order_id, expr.label("x")).from_(O)
    a = analyze(q.group_by(O.order_id) if getattr(expr, "aggregate", False) else q)
    assert [c for c, _ in a.problems] == [code], a.problems
    assert part in a.problems[0][1]


def test_arrays_structs_and_maps_compare_with_equality_only():
    ok = analyze(select(C.customer_id, (C.address == C.address).label("x")).from_(C))
    assert ok.problems == []
    bad = analyze(select(C.customer_id, (C.address < C.address).label("x")).from_(C))
    assert [c for c, _ in bad.problems] == ["type-mismatch"]


def test_a_projection_of_keys_only_is_refused():
    # ksqlDB 8.1.5: "The projection contains no value columns."
    assert [c for c, _ in analyze(select(O.order_id).from_(O)).problems] == ["no-value-columns"]


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


# -- multi-way joins: the cases of ksqlDB's functional tests (multi-joins.json) -------------

class S1(Stream):
    id: Annotated[Int32, Key]
    k: Int32
    v0: int

    class Meta:
        name = "S1"


class S2(Stream):
    id: Annotated[Int32, Key]
    k: Int32
    v0: int

    class Meta:
        name = "S2"


class T1(Table):
    id: Annotated[Int32, Key]
    v0: int

    class Meta:
        name = "T1"


class T2(Table):
    id: Annotated[Int32, Key]
    v0: int

    class Meta:
        name = "T2"


class T3(Table):
    id: Annotated[Int32, Key]
    v0: int
    diff: int

    class Meta:
        name = "T3"


def schema(q) -> str:
    """The result as ksqlDB's tests write it: "S1_ID INT KEY, S1_V0 BIGINT, ..."."""
    a = analyze(q)
    assert a.problems == []
    key = "PRIMARY KEY" if a.kind == "TABLE" else "KEY"
    return ", ".join(f"{c.name} {c.type.ksql()}" + (f" {key}" if c.key else "") for c in a.columns)


def s1_t2_t3(*items, on2=None, on3=None):
    return (select(*items).from_(S1).join(T2, on=on2 if on2 is not None else S1.id == T2.id)
            .join(T3, on=on3 if on3 is not None else S1.id == T3.id))


@pytest.mark.parametrize("key,expected", [
    (S1.id, "S1_ID INT KEY"),   # "first join column in projection"
    (T2.id, "T2_ID INT KEY"),   # "second join column in projection"
    (T3.id, "T3_ID INT KEY"),   # "third join column in projection"
])
def test_any_column_the_key_equals_can_be_the_key(key, expected):
    assert schema(s1_t2_t3(key, S1.v0, T2.v0, T3.v0)) == f"{expected}, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"


def test_only_clashing_names_are_prefixed():
    # "should generate correct aliases when sources have some matching and some different columns"
    assert schema(s1_t2_t3(S1.id, S1.v0, T2.v0, T3.diff)) == "S1_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, DIFF BIGINT"


def test_the_last_join_sets_the_key_when_the_joins_differ():
    # "stream-table-table - inner-inner - rekey on different expression": keyed by S1.K = T3.ID,
    # named K as no other source has a K. The test's sources have V0 int: joining the BIGINT V0
    # of S1 above on T2's INT key is refused by ksqlDB 8.1.5 ("Invalid join. Key types differ:
    # BIGINT vs INTEGER"), and kctx says so
    a = analyze(s1_t2_t3(S1.k, S1.v0, T2.v0, T3.v0, on2=S1.v0 == T2.id, on3=S1.k == T3.id))
    assert a.problems == [("join-type-mismatch", "join columns have different types: S1.v0 (BIGINT) vs T2.id (INT)")]

    def int_v0(base, name, *cols):
        return type(name, (base,), {"__annotations__": {"id": Annotated[Int32, Key], **{c: Int32 for c in cols}},
                                    "Meta": type("Meta", (), {"name": name})})

    s1, t2, t3 = int_v0(Stream, "S1", "k", "v0"), int_v0(Table, "T2", "v0"), int_v0(Table, "T3", "v0")
    q = (select(s1.k, s1.v0, t2.v0, t3.v0).from_(s1).join(t2, on=s1.v0 == t2.id).join(t3, on=s1.k == t3.id))
    assert schema(q) == "K INT KEY, S1_V0 INT, T2_V0 INT, T3_V0 INT"
    # "... rekey with different expression": only T3.ID is the key
    q = s1_t2_t3(T3.id, S1.v0, T2.v0, T3.v0, on2=S1.k - 1 == T2.id, on3=S1.k + 1 == T3.id)
    assert schema(q) == "T3_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"


def test_cascading_join_criteria_carry_the_key():
    # "stream-stream-table - inner-inner - cascading join criteria"
    q = (select(S1.k, S1.v0, S2.v0, T3.v0).from_(S1).join(S2, on=S1.k == S2.k, within=hours(1))
         .join(T3, on=S2.k == T3.id))
    assert schema(q) == "S1_K INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"


def test_full_join_then_inner_join():
    # "stream-stream-table - full-inner": the inner join's columns are the key again
    q = (select(S1.id, S1.v0, S2.v0, T3.v0).from_(S1).full_join(S2, on=S1.id == S2.id, within=hours(1))
         .join(T3, on=S1.id == T3.id))
    assert schema(q) == "S1_ID INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"
    # "table-table-table - inner-full": a FULL join last has the synthetic key
    from kctx_cli.query import rowkey

    q = (select(rowkey.label("id"), T1.v0, T2.v0, T3.v0).from_(T1).join(T2, on=T1.id == T2.id)
         .full_join(T3, on=T1.id == T3.id))
    assert schema(q) == "ID INT PRIMARY KEY, T1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"


@pytest.mark.parametrize("on2,on3,listed", [
    (S1.id == T2.id, S1.id == T3.id, "S1.id or T2.id or T3.id"),  # "inner-inner - missing join columns ..."
    (S1.id + 1 == T2.id, S1.id == T3.id, "S1.id or T3.id"),       # "... with expression in first ..."
    (S1.id == T2.id, S1.id + 1 == T3.id, "T3.id"),                # "... with expression in second ..."
])
def test_missing_join_key_lists_the_columns_it_may_be(on2, on3, listed):
    a = analyze(s1_t2_t3(S1.v0, T2.v0, T3.v0, on2=on2, on3=on3))
    assert a.problems == [("key-not-selected", f"the key {listed} (from the join) must be in the SELECT list "
                                                "(ksqlDB keeps key columns in the projection)")]


def test_rowtime_is_ambiguous_in_a_join():
    # ksqlDB qualifies unqualified columns; pseudo columns belong to every source (its
    # DataSourceExtractor), so an unqualified ROWTIME in a join is rejected as ambiguous
    from kctx_cli.query import rowtime

    a = analyze(s1_t2_t3(S1.id, rowtime.label("ts")))
    assert a.problems == [("ambiguous-column", "ROWTIME is ambiguous in a join: every joined source has one, "
                                               "and ksqlDB rejects it unqualified")]
    assert analyze(select(S1.id, rowtime.label("ts")).from_(S1)).problems == []

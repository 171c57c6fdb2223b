"""DSL -> KSQL: every construct renders to exact text, and that text re-parses with
the ksqlDB dialect to the same canonical form."""
from __future__ import annotations

from decimal import Decimal

import pytest

from kctx_cli.ksql.dialect import parse_one, render
from kctx_cli.query import (
    Hopping, Session, Tumbling, avg, case, cast, collect_list, count, days, earliest_by_offset, func,
    hours, latest_by_offset, max_, min_, minutes, rowtime, seconds, select, sum_, window_end,
    window_start,
)
from kctx_cli.query.compiler import render_select
from tests.query_entities import Customer, Order, Payment, Region, Shipment

O, C, P, S, R = Order, Customer, Payment, Shipment, Region

CASES = [
    ("where", select(O.order_id, O.amount).from_(O).where((O.amount > 1000) & (O.currency == "EUR")),
     "SELECT ORDER_ID, AMOUNT FROM ORDERS WHERE AMOUNT > 1000 AND CURRENCY = 'EUR'"),
    ("where-twice-and-or", select(O.order_id).from_(O).where((O.quantity < 1) | (O.quantity >= 10)).where(O.note != "x"),
     "SELECT ORDER_ID FROM ORDERS WHERE (QUANTITY < 1 OR QUANTITY >= 10) AND NOTE <> 'x'"),
    ("alias-arith", select(O.order_id, ((O.amount + 1) * 2).label("doubled"), (O.quantity - (O.quantity - 1)).label("one"),
                           (O.amount / (O.quantity * 2)).label("per"), (O.quantity % 3).label("m"), (-O.quantity).label("neg")).from_(O),
     "SELECT ORDER_ID, (AMOUNT + 1) * 2 AS DOUBLED, QUANTITY - (QUANTITY - 1) AS ONE, AMOUNT / (QUANTITY * 2) AS PER, "
     "QUANTITY % 3 AS M, -QUANTITY AS NEG FROM ORDERS"),
    ("case", select(O.order_id, case((O.amount > 100, "big"), (O.amount > 10, "medium"), else_="small").label("bucket")).from_(O),
     "SELECT ORDER_ID, CASE WHEN AMOUNT > 100 THEN 'big' WHEN AMOUNT > 10 THEN 'medium' ELSE 'small' END AS BUCKET FROM ORDERS"),
    ("cast", select(O.order_id, cast(O.quantity, "DECIMAL(10, 2)").label("q"), O.price.cast(str).label("p")).from_(O),
     "SELECT ORDER_ID, CAST(QUANTITY AS DECIMAL(10, 2)) AS Q, CAST(PRICE AS STRING) AS P FROM ORDERS"),
    ("scalar-functions", select(O.order_id, func.ucase(O.currency).label("cur"), func.LCASE(O.currency).label("low"),
                                func.concat(O.currency, "-", O.product_id).label("tag"), func.round(O.price, 2).label("r"),
                                func.abs(O.quantity).label("a"), func.coalesce(O.note, "").label("n"),
                                func.ifnull(O.note, "none").label("n2"),
                                func.timestamptostring(rowtime, "yyyy-MM-dd", "UTC").label("day")).from_(O),
     "SELECT ORDER_ID, UCASE(CURRENCY) AS CUR, LCASE(CURRENCY) AS LOW, CONCAT(CURRENCY, '-', PRODUCT_ID) AS TAG, "
     "ROUND(PRICE, 2) AS R, ABS(QUANTITY) AS A, COALESCE(NOTE, '') AS N, IFNULL(NOTE, 'none') AS N2, "
     "TIMESTAMPTOSTRING(ROWTIME, 'yyyy-MM-dd', 'UTC') AS DAY FROM ORDERS"),
    ("predicates", select(O.order_id).from_(O).where(O.currency.in_("EUR", "USD") & O.note.is_null() & O.customer_id.is_not_null()
                                                      & O.product_id.like("p-%") & O.quantity.between(1, 5) & ~(O.price > 2.5)),
     "SELECT ORDER_ID FROM ORDERS WHERE CURRENCY IN ('EUR', 'USD') AND NOTE IS NULL AND CUSTOMER_ID IS NOT NULL "
     "AND PRODUCT_ID LIKE 'p-%' AND QUANTITY BETWEEN 1 AND 5 AND NOT PRICE > 2.5E0"),
    ("literals", select(O.order_id, (O.amount * Decimal("1.25")).label("x"), (O.price * 0.5).label("y")).from_(O).where(O.note.is_null() | (O.currency == "")),
     "SELECT ORDER_ID, AMOUNT * 1.25 AS X, PRICE * 0.5E0 AS Y FROM ORDERS WHERE NOTE IS NULL OR CURRENCY = ''"),
    ("none-and-bool", select(O.order_id, func.coalesce(O.note, None).label("n")).from_(O).where((O.note == None) | (O.customer_id != None) | (O.note.is_null() == True)),  # noqa: E711,E712
     "SELECT ORDER_ID, COALESCE(NOTE, NULL) AS N FROM ORDERS WHERE NOTE IS NULL OR CUSTOMER_ID IS NOT NULL OR (NOTE IS NULL) = TRUE"),
    ("select-entity", select(R).from_(R),
     "SELECT REGION_ID, LABEL FROM REGIONS"),
    ("group-by-aggregates", select(O.customer_id, count().label("n"), count(O.note).label("notes"), sum_(O.amount).label("total"),
                                   avg(O.price).label("avg_price"), min_(O.quantity).label("lo"), max_(O.quantity).label("hi"),
                                   latest_by_offset(O.currency).label("last_cur"), earliest_by_offset(O.currency).label("first_cur"),
                                   collect_list(O.product_id).label("products"), count(O.product_id, distinct=True).label("distinct_products"))
     .from_(O).group_by(O.customer_id).having(count() > 1),
     "SELECT CUSTOMER_ID, COUNT(*) AS N, COUNT(NOTE) AS NOTES, SUM(AMOUNT) AS TOTAL, AVG(PRICE) AS AVG_PRICE, MIN(QUANTITY) AS LO, "
     "MAX(QUANTITY) AS HI, LATEST_BY_OFFSET(CURRENCY) AS LAST_CUR, EARLIEST_BY_OFFSET(CURRENCY) AS FIRST_CUR, "
     "COLLECT_LIST(PRODUCT_ID) AS PRODUCTS, COUNT_DISTINCT(PRODUCT_ID) AS DISTINCT_PRODUCTS FROM ORDERS GROUP BY CUSTOMER_ID HAVING COUNT(*) > 1"),
    ("tumbling", select(O.customer_id, count().label("n"), window_start.label("ws"), window_end.label("we")).from_(O)
     .window(Tumbling(hours=1, grace=minutes(5), retention=days(7))).group_by(O.customer_id).emit_final(),
     "SELECT CUSTOMER_ID, COUNT(*) AS N, WINDOWSTART AS WS, WINDOWEND AS WE FROM ORDERS "
     "WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 5 MINUTES) GROUP BY CUSTOMER_ID EMIT FINAL"),
    ("hopping", select(O.customer_id, sum_(O.quantity).label("q")).from_(O)
     .window(Hopping(minutes=10, advance_by=minutes(1), grace=seconds(30))).group_by(O.customer_id).emit_changes(),
     "SELECT CUSTOMER_ID, SUM(QUANTITY) AS Q FROM ORDERS WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 1 MINUTE, "
     "GRACE PERIOD 30 SECONDS) GROUP BY CUSTOMER_ID EMIT CHANGES"),
    ("session", select(O.customer_id, count().label("n")).from_(O).window(Session(minutes=30)).group_by(O.customer_id),
     "SELECT CUSTOMER_ID, COUNT(*) AS N FROM ORDERS WINDOW SESSION (30 MINUTES) GROUP BY CUSTOMER_ID"),
    ("stream-stream-within", select(O.order_id, P.paid).from_(O).join(P, on=P.order_id == O.order_id, within=hours(1), grace=minutes(10)),
     "SELECT ORDERS.ORDER_ID, PAYMENTS.PAID FROM ORDERS JOIN PAYMENTS WITHIN 1 HOUR GRACE PERIOD 10 MINUTES "
     "ON PAYMENTS.ORDER_ID = ORDERS.ORDER_ID"),
    ("stream-stream-before-after", select(O.order_id, P.paid).from_(O).full_join(P, on=O.order_id == P.order_id, within=(minutes(5), hours(2))),
     "SELECT ORDERS.ORDER_ID, PAYMENTS.PAID FROM ORDERS FULL OUTER JOIN PAYMENTS WITHIN (5 MINUTES, 2 HOURS) "
     "ON ORDERS.ORDER_ID = PAYMENTS.ORDER_ID"),
    ("stream-table", select(O.order_id, O.customer_id, C.name, C.address.city.label("city")).from_(O)
     .join(C, on=O.customer_id == C.customer_id, how="left"),
     "SELECT ORDERS.ORDER_ID, ORDERS.CUSTOMER_ID, CUSTOMERS.NAME, CUSTOMERS.ADDRESS->CITY AS CITY FROM ORDERS "
     "LEFT JOIN CUSTOMERS ON ORDERS.CUSTOMER_ID = CUSTOMERS.CUSTOMER_ID"),
    ("table-table-fk", select(C.customer_id, C.name, R.label).from_(C).join(R, on=C.region_id == R.region_id),
     "SELECT CUSTOMERS.CUSTOMER_ID, CUSTOMERS.NAME, REGIONS.LABEL FROM CUSTOMERS JOIN REGIONS "
     "ON CUSTOMERS.REGION_ID = REGIONS.REGION_ID"),
    ("multi-way", select(O.order_id, P.paid, S.carrier).from_(O)
     .join(P, on=P.order_id == O.order_id, within=hours(1))
     .join(S, on=S.order_id == O.order_id, within=hours(2), how="left"),
     "SELECT ORDERS.ORDER_ID, PAYMENTS.PAID, SHIPMENTS.CARRIER FROM ORDERS JOIN PAYMENTS WITHIN 1 HOUR "
     "ON PAYMENTS.ORDER_ID = ORDERS.ORDER_ID LEFT JOIN SHIPMENTS WITHIN 2 HOURS ON SHIPMENTS.ORDER_ID = ORDERS.ORDER_ID"),
    ("partition-by", select(O.customer_id, O.order_id, O.amount).from_(O).partition_by(O.customer_id),
     "SELECT CUSTOMER_ID, ORDER_ID, AMOUNT FROM ORDERS PARTITION BY CUSTOMER_ID"),
    ("emit-limit", select(O.order_id).from_(O).emit_changes().limit(10),
     "SELECT ORDER_ID FROM ORDERS EMIT CHANGES LIMIT 10"),
    ("lambda", select(O.order_id, func.transform(func.split(O.note, ","), lambda x: func.trim(x)).label("parts")).from_(O),
     "SELECT ORDER_ID, TRANSFORM(SPLIT(NOTE, ','), X => TRIM(X)) AS PARTS FROM ORDERS"),
]


@pytest.mark.parametrize("query,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_render(query, expected):
    text = render_select(query)
    assert text == expected
    # canonical: parsing the rendered text and rendering again changes nothing
    assert render(parse_one(text)) == text


def test_queries_are_values():
    base = select(O.order_id).from_(O)
    a = base.where(O.quantity > 1)
    assert render_select(base) == "SELECT ORDER_ID FROM ORDERS"
    assert render_select(a) == "SELECT ORDER_ID FROM ORDERS WHERE QUANTITY > 1"


def test_python_boolean_operators_are_refused():
    with pytest.raises(TypeError, match="use & | ~ instead of and/or/not"):
        bool(O.quantity > 1)


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match="join how='cross': use 'inner', 'left', 'right' or 'full'"):
        select(O.order_id).from_(O).join(C, on=O.customer_id == C.customer_id, how="cross")
    with pytest.raises(TypeError, match=r"Tumbling\(\) got unexpected arguments \['weeks'\]"):
        Tumbling(weeks=1)
    with pytest.raises(TypeError, match="give a duration as days=, hours=, minutes=, seconds= or milliseconds="):
        Tumbling()
    with pytest.raises(ValueError, match="grace= needs within="):
        select(O.order_id).from_(O).join(P, on=P.order_id == O.order_id, grace=minutes(1))
    assert Tumbling(hours=1, minutes=30).size.ksql() == "90 MINUTES"

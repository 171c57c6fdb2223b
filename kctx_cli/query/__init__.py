"""The typed query DSL: expressions over entity columns (``expr``), the query builder
(``select``), the KSQL compiler (``compiler``) and output-schema inference (``schema``).
Users import what they need from here:

    from kctx_cli.query import select, count, sum_, func, case, Tumbling, minutes

    select(Order.customer_id, count().label("orders"), sum_(Order.amount).label("total"))
        .from_(Order)
        .window(Tumbling(hours=1, grace=minutes(5)))
        .group_by(Order.customer_id)

    o, c = aliased(Order, "O"), aliased(Customer, "C")   # FROM ORDERS O JOIN CUSTOMERS C
    select(o.order_id, c.name).from_(o).join(c, on=o.customer_id == c.customer_id)
"""
from kctx_cli.query.expr import (  # noqa: F401
    Aliased, Expr, aliased, case, cast, func, lit, rowkey, rowtime, window_end, window_start,
)
from kctx_cli.query.select import (  # noqa: F401
    Duration, Hopping, Select, Session, Tumbling, Within, avg, collect_list, collect_set, count,
    days, duration, earliest_by_offset, hours, latest_by_offset, max_, milliseconds, min_, minutes,
    seconds, select, sum_,
)

__all__ = [
    "Aliased", "Duration", "Expr", "Hopping", "Select", "Session", "Tumbling", "Within", "aliased", "avg", "case",
    "cast", "collect_list", "collect_set", "count", "days", "duration", "earliest_by_offset", "func", "hours",
    "latest_by_offset", "lit", "max_", "milliseconds", "min_", "minutes", "rowkey", "rowtime", "seconds",
    "select", "sum_", "window_end", "window_start",
]

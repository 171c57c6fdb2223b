"""Broken queries in models: `kctx validate`'s query checks report each with the exact
message at file:line (the line is marked `# <-` in the case source)."""
from __future__ import annotations

import pytest

from kctx_cli.config import load_config
from kctx_cli.model.discovery import load_project
from kctx_cli.query.checks import check
from tests.helpers import make_project, run_kctx

SOURCES = """
from decimal import Decimal
from typing import Annotated, Optional
from kctx_cli.model import Int32, Key, Precision, Stream, Table


class Order(Stream):
    order_id: Annotated[str, Key]
    customer_id: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4)]
    note: Optional[str] = None
    class Meta:
        name = "ORDERS"


class Payment(Stream):
    payment_id: Annotated[str, Key]
    order_id: str


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str
    class Meta:
        name = "CUSTOMERS"


class Region(Table):
    region_id: Annotated[str, Key]
    label: str
"""

HEAD = """\
from decimal import Decimal
from typing import Annotated, Optional
from kctx_cli.model import Entity, Int32, Key, Precision, Stream, Table
from kctx_cli.query import Tumbling, count, func, hours, select, sum_
from models.src import Customer, Order, Payment, Region
"""

CASES = {
    "join-column-prefixed": ("""
class Enriched(Stream):
    customer_id: Annotated[str, Key]
    name: str
    class Meta:
        def query():  # <-
            return (select(Order.customer_id, Customer.name).from_(Order)
                    .join(Customer, on=Order.customer_id == Customer.customer_id))
""", "Enriched: the query produces column ORDERS_CUSTOMER_ID (STRING) that the entity does not declare "
     "(ksqlDB prefixes a join column that several sources have with its source's name: "
     ".label('customer_id') keeps the plain name)"),
    "window-without-aggregation": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).window(Tumbling(hours=1))
""", "Big: WINDOW needs a GROUP BY: windows only apply to aggregations"),
    "join-non-key": ("""
class Enriched(Stream):
    customer_id: Annotated[str, Key]
    name: str
    class Meta:
        def query():  # <-
            return (select(Order.customer_id, Customer.name).from_(Order)
                    .join(Customer, on=Order.customer_id == Customer.name))
""", "Enriched: join on a non-key column: Customer.name is not the PRIMARY KEY of table Customer "
     "(joins to a table must use its key)"),
    "unknown-column": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).where(Order.amout > 10)
""", "Big: Meta.query refers to unknown column Order.amout (did you mean 'amount'?)"),
    "comparison-type-mismatch": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).where(Order.amount > "big")
""", "Big: type mismatch in comparison: Order.amount (DECIMAL(18, 4)) > 'big' (STRING)"),
    "aggregate-without-group-by": ("""
class Totals(Table):
    total: Annotated[Decimal, Precision(18, 4)]
    class Meta:
        def query():  # <-
            return select(sum_(Order.amount).label("total")).from_(Order)
""", "Totals: aggregate SUM needs a GROUP BY (use group_by(...))"),
    "not-grouped": ("""
class Totals(Table):
    customer_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.customer_id, Order.note, count().label("n")).from_(Order).group_by(Order.customer_id)
""", "Totals: SELECT Order.note is neither in GROUP BY nor inside an aggregate (Order.note is not grouped)"),
    "aggregate-in-where": ("""
class Totals(Table):
    customer_id: Annotated[str, Key]
    n: int
    class Meta:
        def query():  # <-
            return (select(Order.customer_id, count().label("n")).from_(Order)
                    .where(count() > 1).group_by(Order.customer_id))
""", "Totals: aggregate COUNT is not allowed in WHERE (use having())"),
    "self-reference": ("""
class Loop(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Loop.order_id).from_(Loop)
""", "Loop: Meta.query reads Loop itself (a derived entity cannot read its own output)"),
    "cycle": ("""
class A(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(B.order_id).from_(B)


class B(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():
            return select(A.order_id).from_(A)
""", "cycle between derived entities: A -> B -> A"),
    "query-raises": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).where(Order.amount > 1 / 0)
""", "Big: Meta.query raised ZeroDivisionError: division by zero"),
    "stream-stream-without-within": ("""
class Paid(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).join(Payment, on=Payment.order_id == Order.order_id)
""", "Paid: a stream-stream join needs a window: join(Payment, ..., within=hours(1))"),
    "full-stream-table-join": ("""
class Enriched(Stream):
    customer_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return (select(Order.customer_id).from_(Order)
                    .join(Customer, on=Order.customer_id == Customer.customer_id, how="full"))
""", "Enriched: a stream-table join supports INNER and LEFT only, not FULL"),
    "join-type-mismatch": ("""
class Paid(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return (select(Order.order_id).from_(Order)
                    .join(Payment, on=Payment.order_id == Order.quantity, within=hours(1)))
""", "Paid: join columns have different types: Order.quantity (INT) vs Payment.order_id (STRING)"),
    "key-not-selected": ("""
class Amounts(Stream):
    amount: Annotated[Decimal, Precision(18, 4)]
    class Meta:
        def query():  # <-
            return select(Order.amount).from_(Order)
""", "Amounts: the key Order.order_id (from the key of Order) must be in the SELECT list "
     "(ksqlDB keeps key columns in the projection)"),
    "declared-type-mismatch": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    amount: float  # <-
    class Meta:
        def query():
            return select(Order.order_id, Order.amount).from_(Order)
""", "Big.amount is declared DOUBLE but the query produces DECIMAL(18, 4)"),
    "undeclared-column": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "big"
        def query():  # <-
            return select(Order.order_id, (Order.quantity * 2)).from_(Order)
""", "Big: the query produces column KSQL_COL_0 (INT) that the entity does not declare "
     "(name the expression with .label('...'))"),
    "declared-key-mismatch": ("""
class ByCustomer(Stream):
    order_id: str  # <-
    customer_id: Annotated[str, Key]
    class Meta:
        def query():
            return select(Order.order_id, Order.customer_id).from_(Order)
""", "ByCustomer.order_id is a key column of the query's result: declare it Annotated[..., Key]"),
    "kind-mismatch": ("""
class Totals(Stream):  # <-
    customer_id: Annotated[str, Key]
    n: int
    class Meta:
        def query():
            return select(Order.customer_id, count().label("n")).from_(Order).group_by(Order.customer_id)
""", "Totals is declared as a STREAM but its query produces a TABLE (it aggregates, groups or windows)"),
    "where-not-boolean": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).where(Order.quantity + 1)
""", "Big: WHERE condition must be BOOLEAN, got Order.quantity + 1 (INT)"),
    "column-not-in-scope": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id).from_(Order).where(Customer.name == "x")
""", "Big: column Customer.name is not from a source of the query (Order)"),
    "not-a-select": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return "SELECT * FROM ORDERS"
""", "Big: the query function must return select(...), got str"),
    "window-on-table": ("""
class Counts(Table):
    name: Annotated[str, Key]
    n: int
    class Meta:
        def query():  # <-
            return select(Customer.name, count().label("n")).from_(Customer).window(Tumbling(hours=1)).group_by(Customer.name)
""", "Counts: WINDOW needs a stream source; Customer is a table"),
    "function-argument-type": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    q: str
    class Meta:
        def query():  # <-
            return select(Order.order_id, func.ucase(Order.quantity).label("q")).from_(Order)
""", "Big: UCASE does not take INT as its first argument (expects STRING)"),
    "having-not-grouped": ("""
class Totals(Table):
    customer_id: Annotated[str, Key]
    n: int
    class Meta:
        def query():  # <-
            return (select(Order.customer_id, count().label("n")).from_(Order)
                    .group_by(Order.customer_id).having(Order.quantity > 1))
""", "Totals: HAVING uses Order.quantity, which is neither in GROUP BY nor inside an aggregate"),
    "fk-join-full": ("""
class WithRegion(Table):
    customer_id: Annotated[str, Key]
    label: str
    class Meta:
        def query():  # <-
            return (select(Customer.customer_id, Region.label).from_(Customer)
                    .join(Region, on=Customer.name == Region.region_id, how="full"))
""", "WithRegion: a foreign-key table-table join supports INNER and LEFT only, not FULL"),
    "table-stream-join": ("""
class Odd(Stream):
    customer_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return (select(Customer.customer_id).from_(Customer)
                    .join(Order, on=Order.customer_id == Customer.customer_id))
""", "Odd: a table cannot be joined with stream Order: put the stream first (stream-table joins only)"),
    "method-typo": ("""
class Big(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.order_id.lable("id")).from_(Order)
""", "Big: Meta.query raised TypeError: 'lable' is not a method of a query column (label, cast, in_, is_null, "
     "is_not_null, like, between); as a STRUCT field it cannot be called"),
    "nested-aggregate": ("""
class Totals(Table):
    customer_id: Annotated[str, Key]
    class Meta:
        def query():  # <-
            return select(Order.customer_id, sum_(count()).label("x")).from_(Order).group_by(Order.customer_id)
""", "Totals: aggregate COUNT cannot be nested in another aggregate"),
}


def marked_line(src: str) -> int:
    for i, line in enumerate((HEAD + src.lstrip("\n")).splitlines(), start=1):
        if "# <-" in line:
            return i
    raise AssertionError("no '# <-' marker")


def problems_of(tmp_path, src: str) -> list[str]:
    root = make_project(tmp_path / "p", {"src.py": SOURCES, "derived.py": HEAD + src.lstrip("\n")})
    project = load_project(load_config(root), strict=True)
    return [str(p) for p in sorted(check(project))]


@pytest.mark.parametrize("src,message", CASES.values(), ids=CASES.keys())
def test_broken_query(tmp_path, src, message):
    got = problems_of(tmp_path, src)
    assert f"models/derived.py:{marked_line(src)}: {message}" in got, got


def test_a_valid_project_has_no_query_problems(tmp_path):
    src = """
class BigOrder(Stream):
    order_id: Annotated[str, Key]
    amount: Annotated[Decimal, Precision(18, 4)]
    class Meta:
        def query():
            return select(Order.order_id, Order.amount).from_(Order).where(Order.amount > 1000)


class CustomerTotals(Entity):
    customer_id: Annotated[str, Key]
    orders: int
    total: Annotated[Decimal, Precision(18, 4)]
    class Meta:
        def query():
            return (select(Order.customer_id, count().label("orders"), sum_(Order.amount).label("total"))
                    .from_(Order).group_by(Order.customer_id))


class Enriched(Entity):
    customer_id: Annotated[str, Key]
    order_id: str
    name: str
    class Meta:
        def query():
            return (select(Order.customer_id.label("customer_id"), Order.order_id, Customer.name).from_(Order)
                    .join(Customer, on=Order.customer_id == Customer.customer_id, how="left"))
"""
    assert problems_of(tmp_path, src) == []


def test_validate_cli_reports_query_problems(tmp_path):
    src, message = CASES["window-without-aggregation"]
    root = make_project(tmp_path / "p", {"src.py": SOURCES, "derived.py": HEAD + src.lstrip("\n")})
    r = run_kctx("validate", cwd=root)
    assert r.returncode == 1
    assert f"models/derived.py:{marked_line(src)}: {message}" in r.stdout


def test_kind_is_inferred_unless_declared(tmp_path):
    from kctx_cli.query.schema import entity_kind, topic_configs

    src = """
class Names(Entity):
    customer_id: Annotated[str, Key]
    name: str
    class Meta:
        def query():
            return select(Customer.customer_id, Customer.name).from_(Customer)


class Declared(Entity):
    customer_id: Annotated[str, Key]
    name: str
    class Meta:
        kind = "table"
        configs = {"cleanup.policy": "compact,delete"}
        def query():
            return select(Customer.customer_id, Customer.name).from_(Customer)


class Filtered(Entity):
    order_id: Annotated[str, Key]
    class Meta:
        def query():
            return select(Order.order_id).from_(Order)
"""
    root = make_project(tmp_path / "p", {"src.py": SOURCES, "derived.py": HEAD + src.lstrip("\n")})
    project = load_project(load_config(root))
    assert check(project) == []
    assert entity_kind(project.get("Names")) == "TABLE"        # a projection of a table
    assert entity_kind(project.get("Filtered")) == "STREAM"
    declared = project.get("Declared")
    assert entity_kind(declared) == "TABLE"
    assert topic_configs(declared) == {"cleanup.policy": "compact,delete"}  # explicit config wins
    assert topic_configs(project.get("Names")) == {"cleanup.policy": "compact"}

"""Broken queries in models: `kctx validate`'s query checks report each with the exact
message at file:line (the line is marked `# <-` in the case source)."""
from __future__ import annotations

import json

import pytest

from kctx_cli.config import load_config
from kctx_cli.model.discovery import load_project
from kctx_cli.derive.checks import check
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
    from kctx_cli.derive.schema import entity_kind, topic_configs

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
    customer_id: str
    class Meta:
        def query():  # the key alone is refused by ksqlDB 8.1.5: "The projection contains no value columns."
            return select(Order.order_id, Order.customer_id).from_(Order)
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


# ---------------------------------------------------------------------------
# co-partitioning: ksqlDB refuses a join of sources with different partition counts
# (reference/partition-data.md "Records Have the Same Number of Partitions"); validate
# says so with ksqlDB 8.1.5's own message, at the model's Meta.query and at the line of
# the migration statement that makemigrations wrote for it. Each case runs the real CLI:
# makemigrations, then validate.
# ---------------------------------------------------------------------------

PARTITIONED = """
from typing import Annotated
from kctx_cli.model import Key, Stream, Table


class Order(Stream):
    order_id: Annotated[str, Key]
    customer_id: str
    product_id: str
    class Meta:
        name = "ORDERS"
        partitions = 6


class Payment(Stream):
    payment_id: Annotated[str, Key]
    order_id: str
    class Meta:
        name = "PAYMENTS"
        partitions = 3


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str
    region_id: str
    class Meta:
        name = "CUSTOMERS"
        partitions = 3


class Account(Table):
    customer_id: Annotated[str, Key]
    balance: int
    class Meta:
        name = "ACCOUNTS"
        partitions = 6


class Product(Table):
    product_id: Annotated[str, Key]
    title: str
    class Meta:
        name = "PRODUCTS"
        partitions = 6


class Region(Table):
    region_id: Annotated[str, Key]
    label: str
    class Meta:
        name = "REGIONS"
        partitions = 6
"""

PHEAD = """\
from typing import Annotated
from kctx_cli.model import Key, Stream, Table
from kctx_cli.query import hours, select
from models.src import Account, Customer, Order, Payment, Product, Region
"""


def refused(left: str, lp: int, right: str, rp: int) -> str:
    """ksqlDB 8.1.5's text, as its server answered for these joins."""
    return (f"Can't join `{left}` with `{right}` since the number of partitions don't match. "
            f"`{left}` partitions = {lp}; `{right}` partitions = {rp}. "
            "Please repartition either one so that the number of partitions match.")


# name: (derived models, the entity whose statement is refused, message | None when accepted)
COPARTITION_CASES = {
    "stream-table": ("""
class Enriched(Stream):
    customer_id: Annotated[str, Key]
    order_id: str
    name: str
    class Meta:
        name = "ENRICHED"
        def query():  # <-
            return (select(Order.customer_id.label("customer_id"), Order.order_id, Customer.name).from_(Order)
                    .join(Customer, on=Order.customer_id == Customer.customer_id))
""", "ENRICHED", refused("ORDERS", 6, "CUSTOMERS", 3)),
    "stream-stream": ("""
class Paid(Stream):
    order_id: Annotated[str, Key]
    payment_id: str
    class Meta:
        name = "PAID"
        def query():  # <-
            return (select(Order.order_id.label("order_id"), Payment.payment_id).from_(Order)
                    .join(Payment, on=Order.order_id == Payment.order_id, within=hours(1)))
""", "PAID", refused("ORDERS", 6, "PAYMENTS", 3)),
    "table-table-primary-key": ("""
class Balance(Table):
    customer_id: Annotated[str, Key]
    balance: int
    name: str
    class Meta:
        name = "BALANCES"
        def query():  # <-
            return (select(Account.customer_id.label("customer_id"), Account.balance, Customer.name).from_(Account)
                    .join(Customer, on=Account.customer_id == Customer.customer_id))
""", "BALANCES", refused("ACCOUNTS", 6, "CUSTOMERS", 3)),
    "three-way-second-join": ("""
class Enriched(Stream):
    customer_id: Annotated[str, Key]
    order_id: str
    title: str
    name: str
    class Meta:
        name = "ENRICHED"
        def query():  # <-
            return (select(Order.customer_id.label("customer_id"), Order.order_id, Product.title, Customer.name)
                    .from_(Order)
                    .join(Product, on=Order.product_id == Product.product_id)
                    .join(Customer, on=Order.customer_id == Customer.customer_id))
""", "ENRICHED", refused("ORDERS", 6, "CUSTOMERS", 3)),
    "derived-with-own-partitions": ("""
class OrderByProduct(Stream):
    product_id: Annotated[str, Key]
    order_id: str
    class Meta:
        name = "ORDERS_BY_PRODUCT"
        partitions = 3
        def query():
            return select(Order.product_id, Order.order_id).from_(Order).partition_by(Order.product_id)


class WithTitle(Stream):
    product_id: Annotated[str, Key]
    order_id: str
    title: str
    class Meta:
        name = "WITH_TITLE"
        def query():  # <-
            return (select(OrderByProduct.product_id.label("product_id"), OrderByProduct.order_id, Product.title)
                    .from_(OrderByProduct)
                    .join(Product, on=OrderByProduct.product_id == Product.product_id))
""", "WITH_TITLE", refused("ORDERS_BY_PRODUCT", 3, "PRODUCTS", 6)),
    "derived-inherits-its-source-partitions": ("""
class PaymentByOrder(Stream):
    order_id: Annotated[str, Key]
    payment_id: str
    class Meta:
        name = "PAYMENTS_BY_ORDER"
        def query():
            return select(Payment.order_id, Payment.payment_id).from_(Payment).partition_by(Payment.order_id)


class Paid(Stream):
    order_id: Annotated[str, Key]
    payment_id: str
    class Meta:
        name = "PAID"
        def query():  # <-
            return (select(Order.order_id.label("order_id"), PaymentByOrder.payment_id).from_(Order)
                    .join(PaymentByOrder, on=Order.order_id == PaymentByOrder.order_id, within=hours(1)))
""", "PAID", refused("ORDERS", 6, "PAYMENTS_BY_ORDER", 3)),
    "foreign-key-join-accepted": ("""
class CustomerRegion(Table):
    customer_id: Annotated[str, Key]
    name: str
    label: str
    class Meta:
        name = "CUSTOMER_REGIONS"
        def query():
            return (select(Customer.customer_id, Customer.name, Region.label).from_(Customer)
                    .join(Region, on=Customer.region_id == Region.region_id))
""", "CUSTOMER_REGIONS", None),
    "equal-counts-accepted": ("""
class WithTitle(Stream):
    product_id: Annotated[str, Key]
    order_id: str
    title: str
    class Meta:
        name = "WITH_TITLE"
        def query():
            return (select(Order.product_id.label("product_id"), Order.order_id, Product.title).from_(Order)
                    .join(Product, on=Order.product_id == Product.product_id))


class OrderByProduct(Stream):
    product_id: Annotated[str, Key]
    order_id: str
    customer_id: str
    class Meta:
        name = "ORDERS_BY_PRODUCT"
        partitions = 3
        def query():
            return (select(Order.product_id, Order.order_id, Order.customer_id).from_(Order)
                    .partition_by(Order.product_id))


class Named(Stream):
    customer_id: Annotated[str, Key]
    order_id: str
    name: str
    class Meta:
        name = "NAMED"
        def query():
            return (select(OrderByProduct.customer_id.label("customer_id"), OrderByProduct.order_id, Customer.name)
                    .from_(OrderByProduct)
                    .join(Customer, on=OrderByProduct.customer_id == Customer.customer_id))
""", "NAMED", None),
}


def _statement_line(root, source: str) -> tuple[str, int]:
    """The migration file and line of the CREATE statement of ``source``."""
    (path,) = (root / "migrations").glob("V*.sql")
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith((f"CREATE STREAM {source} ", f"CREATE TABLE {source} ")):
            return f"migrations/{path.name}", n
    raise AssertionError(f"no CREATE of {source} in {path}")


@pytest.mark.parametrize("src,source,message", COPARTITION_CASES.values(), ids=COPARTITION_CASES.keys())
def test_join_partition_counts(tmp_path, src, source, message):
    models = PHEAD + src.lstrip("\n")
    root = make_project(tmp_path / "p", {"src.py": PARTITIONED, "derived.py": models})
    made = run_kctx("makemigrations", cwd=root)
    assert made.returncode == 0, made.stdout + made.stderr
    res = run_kctx("validate", cwd=root)
    lines = res.stdout.splitlines()
    if message is None:
        assert res.returncode == 0, res.stdout + res.stderr
        assert lines[0].startswith("ok: "), lines
        return
    line = next(i for i, ln in enumerate(models.splitlines(), start=1) if "# <-" in ln)
    file, stmt = _statement_line(root, source)
    assert res.returncode == 1, res.stdout + res.stderr
    # the model says it where the query is; the migration written from it would be refused too
    assert lines == [f"{file}:{stmt}: {message}", f"models/derived.py:{line}: {message}",
                     "2 problems found in " + lines[-1].rsplit(" in ", 1)[1]], res.stdout


# hand-written migration files: partition counts come from the replayed state (kctx
# create-topic / add-partitions operations, PARTITIONS in WITH, a CSAS without PARTITIONS
# gets its FROM source's count); "# <-" marks the first line of each refused statement
CLICKS = """\
-- kctx:up
-- kctx:create-topic {"configs":{},"name":"clicks","partitions":6,"replicas":1}
CREATE STREAM CLICKS (USER_ID BIGINT KEY, URL STRING, REGION STRING)
  WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');
CREATE TABLE USERS (ID BIGINT PRIMARY KEY, FULL_NAME STRING, REGION STRING)
  WITH (KAFKA_TOPIC='users', PARTITIONS=3, VALUE_FORMAT='JSON');
CREATE TABLE REGIONS (CODE STRING PRIMARY KEY, LABEL STRING)
  WITH (KAFKA_TOPIC='regions', PARTITIONS=6, VALUE_FORMAT='JSON');
CREATE TABLE COUNTRIES (CODE STRING PRIMARY KEY, NAME STRING)
  WITH (KAFKA_TOPIC='countries', PARTITIONS=3, VALUE_FORMAT='JSON');
CREATE TABLE ACCOUNTS (ID BIGINT PRIMARY KEY, BALANCE INT)
  WITH (KAFKA_TOPIC='accounts', PARTITIONS=6, VALUE_FORMAT='JSON');
CREATE TABLE CREDIT_LIMITS (ID BIGINT PRIMARY KEY, CREDIT INT)
  WITH (KAFKA_TOPIC='credit_limits', PARTITIONS=3, VALUE_FORMAT='JSON');
"""

MIGRATION_CASES = {
    "stream-table-with-aliases": (CLICKS + """
CREATE STREAM CLICKS_BY_USER AS  # <-
  SELECT c.USER_ID, c.URL, u.FULL_NAME
  FROM CLICKS c JOIN USERS u ON c.USER_ID = u.ID;
""", refused("C", 6, "U", 3)),
    "repartitioned-stream-keeps-its-count": (CLICKS + """
CREATE STREAM CLICKS_BY_REGION AS
  SELECT REGIONS.CODE, CLICKS.URL, REGIONS.LABEL
  FROM CLICKS JOIN REGIONS ON CLICKS.REGION = REGIONS.CODE;
CREATE STREAM CLICKS_BY_COUNTRY AS  # <-
  SELECT COUNTRIES.CODE, CLICKS.URL, COUNTRIES.NAME
  FROM CLICKS JOIN COUNTRIES ON CLICKS.REGION = COUNTRIES.CODE;
""", refused("CLICKS", 6, "COUNTRIES", 3)),
    "csas-gets-its-source-count": (CLICKS + """
CREATE STREAM CLICKS_COPY AS SELECT * FROM CLICKS;
CREATE STREAM COPY_WITH_NAMES AS SELECT CLICKS_COPY.USER_ID, USERS.FULL_NAME  # <-
  FROM CLICKS_COPY JOIN USERS ON CLICKS_COPY.USER_ID = USERS.ID;
""", refused("CLICKS_COPY", 6, "USERS", 3)),
    "csas-with-partitions": (CLICKS + """
CREATE STREAM CLICKS_3 WITH (PARTITIONS=3) AS SELECT * FROM CLICKS;
CREATE STREAM NAMED_3 AS SELECT CLICKS_3.USER_ID, USERS.FULL_NAME
  FROM CLICKS_3 JOIN USERS ON CLICKS_3.USER_ID = USERS.ID;
CREATE STREAM LABELLED_3 AS SELECT REGIONS.CODE, REGIONS.LABEL  # <-
  FROM CLICKS_3 JOIN REGIONS ON CLICKS_3.REGION = REGIONS.CODE;
""", refused("CLICKS_3", 3, "REGIONS", 6)),
    "foreign-key-join-accepted": (CLICKS + """
CREATE TABLE USER_REGIONS AS
  SELECT USERS.ID, USERS.FULL_NAME, REGIONS.LABEL
  FROM USERS JOIN REGIONS ON USERS.REGION = REGIONS.CODE;
""", None),
    # ksqlDB gives an intermediate join result the partition count of its right input
    # (JoinNode.getPartitions): after USERS (3) JOIN REGIONS (6) on a foreign key, 6
    "foreign-key-then-primary-key-accepted": (CLICKS + """
CREATE TABLE USER_ACCOUNTS AS
  SELECT USERS.ID, REGIONS.LABEL, ACCOUNTS.BALANCE
  FROM USERS JOIN REGIONS ON USERS.REGION = REGIONS.CODE JOIN ACCOUNTS ON USERS.ID = ACCOUNTS.ID;
""", None),
    "foreign-key-then-primary-key-refused": (CLICKS + """
CREATE TABLE USER_LIMITS AS  # <-
  SELECT USERS.ID, REGIONS.LABEL, CREDIT_LIMITS.CREDIT
  FROM USERS JOIN REGIONS ON USERS.REGION = REGIONS.CODE JOIN CREDIT_LIMITS ON USERS.ID = CREDIT_LIMITS.ID;
""", refused("USERS", 6, "CREDIT_LIMITS", 3)),
    "grown-topic-accepted": (CLICKS + """
-- kctx:add-partitions {"name":"users","partitions":6}
CREATE STREAM CLICKS_BY_USER AS
  SELECT c.USER_ID, c.URL, u.FULL_NAME
  FROM CLICKS c JOIN USERS u ON c.USER_ID = u.ID;
""", None),
    "topic-made-outside-kctx-unknown": ("""\
-- kctx:up
CREATE STREAM CLICKS (USER_ID BIGINT KEY, URL STRING) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');
CREATE TABLE USERS (ID BIGINT PRIMARY KEY, FULL_NAME STRING)
  WITH (KAFKA_TOPIC='users', PARTITIONS=3, VALUE_FORMAT='JSON');
CREATE STREAM CLICKS_BY_USER AS
  SELECT c.USER_ID, c.URL, u.FULL_NAME
  FROM CLICKS c JOIN USERS u ON c.USER_ID = u.ID;
""", None),
}


@pytest.mark.parametrize("text,message", MIGRATION_CASES.values(), ids=MIGRATION_CASES.keys())
def test_join_partition_counts_in_migration_files(tmp_path, text, message):
    root = make_project(tmp_path / "p", {})
    name = "V000001__clicks.sql"
    marked = [n for n, ln in enumerate(text.splitlines(), start=1) if "# <-" in ln]
    (root / "migrations" / name).write_text(text.replace("  # <-", ""))
    res = run_kctx("validate", "--output", "json", cwd=root)
    problems = json.loads(res.stdout)["problems"]
    assert res.returncode == 1, res.stdout + res.stderr
    got = [f"{p['file']}:{p['line']}: {p['message']}" for p in problems if p["code"] == "join-partitions"]
    assert got == [f"migrations/{name}:{n}: {message}" for n in marked]
    # the models (none here) would drop these sources: the only other findings
    assert {p["code"] for p in problems} - {"join-partitions"} <= {"migration-missing", "migration-refused"}, problems
    if message is not None:
        shown = run_kctx("validate", cwd=root)
        assert shown.returncode == 1
        assert f"migrations/{name}:{marked[0]}: {message}" in shown.stdout.splitlines(), shown.stdout

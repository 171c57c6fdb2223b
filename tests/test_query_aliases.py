"""Source aliases in the DSL (``aliased(Order, "O")``, issue 15): the compiler renders
``FROM ORDERS O`` and ``O.COL``, the analysis names clashing join columns ``O_COL`` and
follows each alias to its entity (kinds, keys, types, co-partitioning, dependency order),
a self-join is expressible and refused with ksqlDB's message. What the real ksqlDB 8.1.5
answers for the same statements is checked by tests/test_query_vs_ksqldb.py
(``test_aliases_and_keyword_columns_on_ksqldb``)."""
from __future__ import annotations

import pytest

from kctx_cli.config import load_config
from kctx_cli.derive import ddl
from kctx_cli.derive.checks import check
from kctx_cli.derive.schema import Resolver, analyze
from kctx_cli.ksql.dialect import parse_one, render
from kctx_cli.model.discovery import load_project
from kctx_cli.query import Aliased, aliased, count, hours, select
from kctx_cli.query.compiler import render_select
from tests.helpers import make_project
from tests.query_entities import Customer, Order, Payment, Region

o, c, p, r = aliased(Order, "O"), aliased(Customer, "C"), aliased(Payment, "p"), aliased(Region, "R")

RENDERED = [
    ("no join: the alias qualifies every column",
     select(o.order_id, o.amount).from_(o).where(o.amount > 10),
     "SELECT O.ORDER_ID, O.AMOUNT FROM ORDERS O WHERE O.AMOUNT > 10"),
    ("stream-table join",
     select(o.customer_id, o.order_id, c.name).from_(o).join(c, on=o.customer_id == c.customer_id),
     "SELECT O.CUSTOMER_ID, O.ORDER_ID, C.NAME FROM ORDERS O JOIN CUSTOMERS C ON O.CUSTOMER_ID = C.CUSTOMER_ID"),
    ("lower-case alias is upper-cased; stream-stream join with WITHIN",
     select(o.order_id, p.paid).from_(o).left_join(p, on=o.order_id == p.order_id, within=hours(1)),
     "SELECT O.ORDER_ID, P.PAID FROM ORDERS O LEFT JOIN PAYMENTS P WITHIN 1 HOUR ON O.ORDER_ID = P.ORDER_ID"),
    ("an aliased and an unaliased source",
     select(o.customer_id, Customer.name).from_(o).join(Customer, on=o.customer_id == Customer.customer_id),
     "SELECT O.CUSTOMER_ID, CUSTOMERS.NAME FROM ORDERS O JOIN CUSTOMERS ON O.CUSTOMER_ID = CUSTOMERS.CUSTOMER_ID"),
    ("group by",
     select(o.customer_id, count().label("n")).from_(o).group_by(o.customer_id).having(count() > 1),
     "SELECT O.CUSTOMER_ID, COUNT(*) AS N FROM ORDERS O GROUP BY O.CUSTOMER_ID HAVING COUNT(*) > 1"),
    ("partition by",
     select(o.order_id, o.customer_id).from_(o).partition_by(o.customer_id),
     "SELECT O.ORDER_ID, O.CUSTOMER_ID FROM ORDERS O PARTITION BY O.CUSTOMER_ID"),
    ("an aliased entity stands for all its columns",
     select(r).from_(r),
     "SELECT R.REGION_ID, R.LABEL FROM REGIONS R"),
    ("a reserved word as alias is back-quoted",
     select(aliased(Region, "from").region_id, aliased(Region, "FROM").label).from_(aliased(Region, "from")),
     "SELECT `FROM`.REGION_ID, `FROM`.LABEL FROM REGIONS `FROM`"),
    ("a self-join (ksqlDB refuses it: see test_a_self_join_is_refused_with_ksqldbs_message)",
     (lambda a, b: select(a.order_id, b.amount).from_(a).join(b, on=a.order_id == b.customer_id, within=hours(1)))(
         aliased(Order, "A"), aliased(Order, "B")),
     "SELECT A.ORDER_ID, B.AMOUNT FROM ORDERS A JOIN ORDERS B WITHIN 1 HOUR ON A.ORDER_ID = B.CUSTOMER_ID"),
]


@pytest.mark.parametrize("q,text", [(q, t) for _, q, t in RENDERED], ids=[n for n, _, _ in RENDERED])
def test_aliases_render_and_reparse(q, text):
    assert render_select(q) == text
    assert render(parse_one(text)) == text


def test_without_aliases_nothing_changes():
    q = select(Order.customer_id, Customer.name).from_(Order).join(Customer, on=Order.customer_id == Customer.customer_id)
    assert render_select(q) == ("SELECT ORDERS.CUSTOMER_ID, CUSTOMERS.NAME FROM ORDERS JOIN CUSTOMERS "
                                "ON ORDERS.CUSTOMER_ID = CUSTOMERS.CUSTOMER_ID")
    assert q.source_alias is None and q.joins[0].alias is None
    assert q.sources == q.entities == [Order, Customer]


def test_the_alias_object():
    assert isinstance(o, Aliased) and repr(o) == "aliased(Order, 'O')"
    assert aliased(Order, "o") == o and hash(aliased(Order, "o")) == hash(o)  # one source, by entity and name
    assert aliased(Order, "O") != aliased(Payment, "O")
    assert repr(o.amount) == "O.amount"
    # every attribute is a column, as on the class: an alias has no public attribute of its own
    assert repr(c.name) == "C.name"
    with pytest.raises(AttributeError):
        o.amout  # noqa: B018 - a typo fails as on the class
    with pytest.raises(ValueError, match="not an identifier"):
        aliased(Order, "1x")
    with pytest.raises(TypeError, match="entity class"):
        aliased("ORDERS", "O")
    q = select(o.order_id).from_(o).join(c, on=o.customer_id == c.customer_id)
    assert q.entities == [Order, Customer]  # what the query reads: dependencies follow the alias
    assert q.sources == [o, c]


def cols(q):
    a = analyze(q)
    assert a.problems == []
    return a.kind, [(col.name, col.type.ksql(), col.key) for col in a.columns]


def test_clashing_join_columns_are_prefixed_with_the_alias():
    # the real ksqlDB 8.1.5: SELECT * FROM O O JOIN C C ON O.CUSTOMER_ID = C.ID -> O_CUSTOMER_ID KEY, ...
    assert cols(select(o.customer_id, o.order_id, c.customer_id, c.name).from_(o)
                .join(c, on=o.customer_id == c.customer_id)) == (
        "STREAM", [("O_CUSTOMER_ID", "STRING", True), ("ORDER_ID", "STRING", False),
                   ("C_CUSTOMER_ID", "STRING", False), ("NAME", "STRING", False)])
    # unaliased sources keep their ksqlDB name as the prefix
    assert cols(select(o.customer_id, Customer.customer_id.label("cid"), Customer.name).from_(o)
                .join(Customer, on=o.customer_id == Customer.customer_id))[1][0] == ("O_CUSTOMER_ID", "STRING", True)


def test_the_alias_is_followed_to_its_entity():
    # kind, key and types come from the entity
    assert cols(select(o.order_id, o.amount).from_(o)) == (
        "STREAM", [("ORDER_ID", "STRING", True), ("AMOUNT", "DECIMAL(18, 4)", False)])
    assert cols(select(o.customer_id, count().label("n")).from_(o).group_by(o.customer_id)) == (
        "TABLE", [("CUSTOMER_ID", "STRING", True), ("N", "BIGINT", False)])
    assert cols(select(o.order_id, o.customer_id).from_(o).partition_by(o.customer_id))[1][0] == (
        "CUSTOMER_ID", "STRING", True)
    # a table-table foreign-key join keeps the left (aliased) table's key
    a = analyze(select(c.customer_id, c.name, r.label).from_(c).join(r, on=c.region_id == r.region_id))
    assert a.problems == [] and a.kind == "TABLE" and a.fk_join
    assert [(x.name, x.key) for x in a.columns] == [("CUSTOMER_ID", True), ("NAME", False), ("LABEL", False)]


def problems(q) -> list[tuple[str, str]]:
    return analyze(q).problems


def test_a_self_join_is_refused_with_ksqldbs_message():
    a, b = aliased(Order, "A"), aliased(Order, "B")
    msg = ("self-join", "Can not join 'ORDERS' to 'ORDERS': self joins are not yet supported")
    assert msg in problems(select(a.order_id, b.amount).from_(a).join(b, on=a.order_id == b.customer_id,
                                                                     within=hours(1)))
    # the same entity joined twice without aliases: ksqlDB gives the same answer
    assert msg in problems(select(Order.order_id).from_(Order).join(Order, on=Order.order_id == Order.customer_id,
                                                                   within=hours(1)))


def test_columns_must_name_the_source_as_the_query_does():
    # once aliased, a source is known by its alias only (ksqlDB 8.1.5: "SELECT column
    # 'ORDERS.ORDER_ID' cannot be resolved.")
    got = problems(select(Order.order_id, o.amount).from_(o))
    assert ("column-not-in-scope", "column Order.order_id is not from a source of the query (O): Order is read "
                                   "as O, use O.order_id (the aliased entity's column)") in got
    got = problems(select(o.order_id).from_(Order))
    assert ("column-not-in-scope", "column O.order_id is not from a source of the query (Order)") in got
    # two sources under one name: "Duplicate key `X`"
    x1, x2 = aliased(Order, "X"), aliased(Customer, "X")
    got = problems(select(x1.customer_id, x2.name).from_(x1).join(x2, on=x1.customer_id == x2.customer_id))
    assert ("duplicate-alias", "Duplicate key `X`: two sources of the join are named X; give them distinct "
                               "aliases") in got


def test_a_missing_join_key_is_named_by_its_alias():
    got = problems(select(o.order_id, c.name).from_(o).join(c, on=o.customer_id == c.customer_id))
    assert any(code == "key-not-selected" and "O.customer_id or C.customer_id" in m for code, m in got), got


MODELS = {"src.py": """
from typing import Annotated
from kctx_cli.model import Key, Stream, Table


class Order(Stream):
    order_id: Annotated[str, Key]
    customer_id: str
    parent_id: str
    class Meta:
        name = "ORDERS"
        partitions = 6


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str
    class Meta:
        name = "CUSTOMERS"
        partitions = 3
""", "derived.py": """
from typing import Annotated
from kctx_cli.model import Key, Stream
from kctx_cli.query import aliased, hours, select
from models.src import Customer, Order


class Enriched(Stream):
    customer_id: Annotated[str, Key]
    order_id: str
    name: str
    class Meta:
        name = "ENRICHED"
        def query():
            o, c = aliased(Order, "O"), aliased(Customer, "C")
            return (select(o.customer_id.label("customer_id"), o.order_id, c.name).from_(o)
                    .join(c, on=o.customer_id == c.customer_id))


class Children(Stream):
    order_id: Annotated[str, Key]
    child_id: str
    class Meta:
        name = "CHILDREN"
        def query():
            a, b = aliased(Order, "A"), aliased(Order, "B")
            return (select(a.order_id.label("order_id"), b.order_id.label("child_id")).from_(a)
                    .join(b, on=a.order_id == b.parent_id, within=hours(1)))
"""}


def test_validate_follows_aliases(tmp_path):
    root = make_project(tmp_path / "p", MODELS)
    project = load_project(load_config(root), strict=True)
    got = [f"{p.code}: {p.message}" for p in check(project)]
    # co-partitioning names the sources by their aliases, as ksqlDB does ("Can't join `O` with `C` ...")
    assert ("join-partitions: Can't join `O` with `C` since the number of partitions don't match. `O` partitions = 6; "
            "`C` partitions = 3. Please repartition either one so that the number of partitions match.") in got
    assert "self-join: Children: Can not join 'ORDERS' to 'ORDERS': self joins are not yet supported" in got
    # dependency order and the rendered DDL follow the alias to the entity
    resolver = Resolver(project.entities)
    by_name = {e.name: e for e in project.entities}
    assert ddl.dependencies(by_name["Enriched"], resolver) == [by_name["Order"].cls, by_name["Customer"].cls]
    order = [e.name for e in ddl.ordered(project, resolver)]
    assert order.index("Order") < order.index("Enriched") and order.index("Customer") < order.index("Enriched")
    assert ddl.entity_ddl(by_name["Enriched"], resolver).endswith(
        "AS SELECT O.CUSTOMER_ID AS CUSTOMER_ID, O.ORDER_ID, C.NAME FROM ORDERS O JOIN CUSTOMERS C "
        "ON O.CUSTOMER_ID = C.CUSTOMER_ID;")

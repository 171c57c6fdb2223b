"""Syntax-tree nodes for ksqlDB statements and clauses that sqlglot has no class for.

Everything else in a KSQL tree is a plain ``sqlglot.exp`` node:

=====================================  ==============================================
KSQL                                   sqlglot node
=====================================  ==============================================
identifier ``A`` / `` `a b` ``          ``exp.Identifier(this="A")`` (unquoted names are
                                       stored UPPER-cased, as ksqlDB resolves them; the
                                       generator adds backquotes when a name needs them)
column ``A`` / ``T.A``                 ``exp.Column(this=ident, table=ident)``
``T.*`` / ``*``                        ``exp.Column(this=exp.Star(), table=ident)`` / ``exp.Star()``
literals                               ``exp.Literal.string/number``, ``exp.Null()``,
                                       ``exp.Boolean(this=True)``
``a AND b`` ``a OR b`` ``NOT a``       ``exp.And`` ``exp.Or`` ``exp.Not``
``= <> < <= > >=``                     ``exp.EQ NEQ LT LTE GT GTE``
``+ - * / % ||`` unary ``-``           ``exp.Add Sub Mul Div Mod DPipe``, ``exp.Neg``
``(e)``                                ``exp.Paren`` (kept from the source; build with
                                       ``exp.paren(e)`` when precedence needs it)
BETWEEN / IN / LIKE [ESCAPE]           ``exp.Between``, ``exp.In(this, expressions=[...])``,
                                       ``exp.Like`` (inside ``exp.Escape``); NOT x → ``exp.Not``
IS [NOT] NULL, IS [NOT] DISTINCT FROM  ``exp.Is(this, exp.Null())`` (in ``exp.Not``),
                                       ``exp.NullSafeNEQ`` / ``exp.NullSafeEQ``
function call ``F(a, b)`` ``COUNT(*)``  ``exp.Anonymous(this="F", expressions=[...])``
                                       (every function, aggregates too: the name is kept)
lambda ``x => e``, ``(x, y) => e``     ``exp.Lambda(this=e, expressions=[ident, ...])``
CASE                                   ``exp.Case(this=operand?, ifs=[exp.If(this=c, true=r)],
                                       default=e)``
CAST(e AS T)                           ``exp.Cast(this=e, to=datatype)``
``ARRAY[a, b]``                        ``exp.Array(expressions=[...])``
``a[i]``                               ``exp.Bracket(this=a, expressions=[i])``
``a AT TIME ZONE 'z'``                 ``exp.AtTimeZone(this=a, zone=literal)``
types                                  ``exp.DataType`` — build them with
                                       ``kctx_cli.ksql.dialect.parse_type("ARRAY<STRING>")``
=====================================  ==============================================

The ksqlDB-only pieces are the classes below. Build trees with them and render with
``kctx_cli.ksql.dialect.render`` (tests/test_ksql_dialect.py builds these too)::

    from sqlglot import exp
    from kctx_cli.ksql import nodes as k
    from kctx_cli.ksql.dialect import render, parse_type

    # CREATE TABLE CUSTOMERS (ID STRING PRIMARY KEY, NAME STRING)
    #   WITH (KAFKA_TOPIC='customers', PARTITIONS=3, VALUE_FORMAT='AVRO')
    ddl = k.CreateSource(
        kind="TABLE",
        this=k.ident("CUSTOMERS"),
        columns=[
            k.ColumnDef(this=k.ident("ID"), kind=parse_type("STRING"), constraint="PRIMARY KEY"),
            k.ColumnDef(this=k.ident("NAME"), kind=parse_type("STRING")),
        ],
        properties=k.props(KAFKA_TOPIC="customers", PARTITIONS=3, VALUE_FORMAT="AVRO"),
    )

    # CREATE TABLE ORDER_TOTALS WITH (KAFKA_TOPIC='order_totals') AS
    #   SELECT CUSTOMER_ID, SUM(AMOUNT) AS TOTAL FROM ORDERS
    #   WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES)
    #   GROUP BY CUSTOMER_ID EMIT CHANGES
    query = k.Query(
        expressions=[k.col("CUSTOMER_ID"),
                     exp.alias_(k.func("SUM", k.col("AMOUNT")), k.ident("TOTAL"))],
        from_=exp.From(this=k.table("ORDERS")),
        window=k.WindowClause(kind="TUMBLING", size=k.duration(1, "HOUR"),
                              grace=k.duration(10, "MINUTES")),
        group=exp.Group(expressions=[k.col("CUSTOMER_ID")]),
        emit=k.Emit(this="CHANGES"),
    )
    csas = k.CreateSource(kind="TABLE", this=k.ident("ORDER_TOTALS"),
                          properties=k.props(KAFKA_TOPIC="order_totals"), expression=query)
    render(csas)

Joins are ``k.Join(this=k.table("B", alias="B"), side="LEFT"|"RIGHT"|"FULL"|None,
on=<condition>, within=k.Within(before=k.duration(1, "HOUR")))`` in ``Query(joins=[...])``.
Clause args of ``Query``: ``expressions``, ``from_``, ``joins``, ``window``, ``where``,
``group``, ``partition_by``, ``having``, ``emit``, ``limit`` (``exp.Limit(expression=n)``).
"""
from __future__ import annotations

from typing import Any

from sqlglot import exp

from kctx_cli.ksql.keywords import needs_quotes


class Node(exp.Expression):
    """Base class of the ksqlDB-specific nodes (lets code test ``isinstance(x, Node)``)."""


# ---------------------------------------------------------------------------
# time, windows, joins, query clauses
# ---------------------------------------------------------------------------


class Duration(Node):
    """``<number> <unit>`` as in ``SIZE 1 HOUR``; unit is upper-case text (HOUR, HOURS, ...)."""

    arg_types = {"this": True, "unit": True}


class WindowClause(Node):
    """``WINDOW TUMBLING|HOPPING|SESSION (...)``.

    kind: "TUMBLING" | "HOPPING" | "SESSION"; size: Duration (SESSION: the gap);
    advance: Duration (HOPPING); retention, grace: optional Duration.
    """

    arg_types = {
        "kind": True, "size": True, "advance": False, "retention": False, "grace": False,
        "name": False,  # the grammar's optional identifier before the kind
    }


class Within(Node):
    """``WITHIN <before>`` or ``WITHIN (<before>, <after>)`` [GRACE PERIOD <grace>]."""

    arg_types = {"before": True, "after": False, "grace": False}


class Join(exp.Join):
    """A ksqlDB join: side None (INNER), "LEFT", "RIGHT" or "FULL" (OUTER); optional WITHIN."""

    arg_types = {**exp.Join.arg_types, "within": False}


class PartitionBy(Node):
    """``PARTITION BY e, ...``."""

    arg_types = {"expressions": True}


class Emit(Node):
    """``EMIT CHANGES`` / ``EMIT FINAL``: this is "CHANGES" or "FINAL"."""

    arg_types = {"this": True}


class Query(exp.Select):
    """A ksqlDB SELECT: sqlglot's Select plus WINDOW, PARTITION BY and EMIT."""

    arg_types = {**exp.Select.arg_types, "window": False, "partition_by": False, "emit": False}


# ---------------------------------------------------------------------------
# expressions
# ---------------------------------------------------------------------------


class StructDeref(Node, exp.Condition):
    """``base->FIELD`` (expression is an Identifier, or Star for ``base->*``)."""

    arg_types = {"this": True, "expression": True}


class Variable(Node, exp.Condition):
    """``${name}``: a variable reference left in place (see ``dialect.substitute``)."""

    arg_types = {"this": True}


class MapConstructor(Node, exp.Func):
    """``MAP(k := v, ...)``: expressions are ``exp.PropertyEQ(this=k, expression=v)``."""

    arg_types = {"expressions": False}


class StructConstructor(Node, exp.Func):
    """``STRUCT(F := v, ...)``: expressions are ``exp.PropertyEQ(this=ident, expression=v)``."""

    arg_types = {"expressions": False}


class TimeUnit(Node):
    """A bare time unit used as a function argument, e.g. ``TIMESTAMPADD(SECONDS, 5, TS)``."""

    arg_types = {"this": True}


class TypedLiteral(Node, exp.Condition):
    """``identifier 'string'`` (grammar: typeConstructor), e.g. ``DECIMAL '1.5'``."""

    arg_types = {"this": True, "expression": True}


# ---------------------------------------------------------------------------
# statements
# ---------------------------------------------------------------------------


class Property(Node):
    """``NAME=literal`` in ``WITH (...)``. this: Identifier (or string Literal as written)."""

    arg_types = {"this": True, "value": True}


class ColumnDef(Node):
    """A column of CREATE STREAM/TABLE (or a field of ALTER ... ADD COLUMN).

    constraint: None, "KEY", "PRIMARY KEY" or "HEADERS"; header: string Literal for HEADER('k').
    """

    arg_types = {"this": True, "kind": True, "constraint": False, "header": False}


class CreateSource(Node):
    """CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name [(cols)] [WITH (...)]
    [AS query].  kind: "STREAM" | "TABLE"; columns: [ColumnDef]; properties: [Property];
    expression: Query (CSAS/CTAS)."""

    arg_types = {
        "kind": True,
        "this": True,
        "replace": False,
        "source": False,
        "exists": False,
        "columns": False,
        "properties": False,
        "expression": False,
    }


class CreateConnector(Node):
    """CREATE SOURCE|SINK CONNECTOR [IF NOT EXISTS] name WITH (...); kind: "SOURCE"|"SINK"."""

    arg_types = {"kind": True, "this": True, "exists": False, "properties": True}


class InsertInto(Node):
    """INSERT INTO name [WITH (...)] query."""

    arg_types = {"this": True, "properties": False, "expression": True}


class InsertValues(Node):
    """INSERT INTO name [(cols)] VALUES (v, ...)."""

    arg_types = {"this": True, "columns": False, "expressions": True}


class Drop(Node):
    """DROP STREAM|TABLE|TYPE|CONNECTOR [IF EXISTS] name [DELETE TOPIC]."""

    arg_types = {"kind": True, "this": True, "exists": False, "delete_topic": False}


class AlterSource(Node):
    """ALTER STREAM|TABLE name ADD [COLUMN] c T, ...  (expressions: [ColumnDef])."""

    arg_types = {"kind": True, "this": True, "expressions": True}


class CreateType(Node):
    """CREATE TYPE [IF NOT EXISTS] name AS type."""

    arg_types = {"this": True, "exists": False, "kind": True}


class Terminate(Node):
    """TERMINATE query_id | TERMINATE ALL (this None, all True)."""

    arg_types = {"this": False, "all": False}


class Pause(Node):
    """PAUSE query_id | PAUSE ALL."""

    arg_types = {"this": False, "all": False}


class Resume(Node):
    """RESUME query_id | RESUME ALL."""

    arg_types = {"this": False, "all": False}


class Define(Node):
    """DEFINE name = 'value' (this: Identifier as written, value: string Literal)."""

    arg_types = {"this": True, "value": True}


class Undefine(Node):
    """UNDEFINE name."""

    arg_types = {"this": True}


class SetProperty(Node):
    """SET 'name' = 'value'."""

    arg_types = {"this": True, "value": True}


class UnsetProperty(Node):
    """UNSET 'name'."""

    arg_types = {"this": True}


class AlterSystem(Node):
    """ALTER SYSTEM 'name' = 'value'."""

    arg_types = {"this": True, "value": True}


class AssertTopic(Node):
    """ASSERT [NOT EXISTS] TOPIC name [WITH (...)] [TIMEOUT n unit]."""

    arg_types = {"this": True, "not_exists": False, "properties": False, "timeout": False}


class AssertSchema(Node):
    """ASSERT [NOT EXISTS] SCHEMA [SUBJECT name] [ID literal] [TIMEOUT n unit]."""

    arg_types = {"subject": False, "id": False, "not_exists": False, "timeout": False}


class Show(Node):
    """SHOW|LIST <this> [EXTENDED]: this is the upper-case object word
    (STREAMS, TABLES, QUERIES, TOPICS, TYPES, PROPERTIES, FUNCTIONS, VARIABLES, CONNECTORS,
    CONNECTOR PLUGINS); all: SHOW ALL TOPICS; prefix: SOURCE|SINK for connectors."""

    arg_types = {"this": True, "extended": False, "all": False, "prefix": False}


class Describe(Node):
    """DESCRIBE name [EXTENDED] | DESCRIBE STREAMS|TABLES [EXTENDED] |
    DESCRIBE FUNCTION name | DESCRIBE CONNECTOR name.

    kind: None (a source), "STREAMS", "TABLES", "FUNCTION", "CONNECTOR"."""

    arg_types = {"this": False, "kind": False, "extended": False}


class Explain(Node):
    """EXPLAIN statement | EXPLAIN query_id (this: a statement node or an Identifier)."""

    arg_types = {"this": True}


class Print(Node):
    """PRINT topic [FROM BEGINNING] [INTERVAL|SAMPLE n] [LIMIT n]."""

    arg_types = {"this": True, "from_beginning": False, "interval": False, "limit": False}


STATEMENTS = (
    Query, CreateSource, CreateConnector, InsertInto, InsertValues, Drop, AlterSource,
    CreateType, Terminate, Pause, Resume, Define, Undefine, SetProperty, UnsetProperty,
    AlterSystem, AssertTopic, AssertSchema, Show, Describe, Explain, Print,
)


# ---------------------------------------------------------------------------
# small builders for programmatic trees
# ---------------------------------------------------------------------------


def ident(name: str) -> exp.Identifier:
    """An identifier; pass the ksqlDB name exactly (upper-case for ordinary names).
    ``quoted`` is set when the name needs back-quotes, as the parser does."""
    return exp.Identifier(this=name, quoted=needs_quotes(name))


def col(name: str, table: str | None = None) -> exp.Column:
    """Column reference ``NAME`` or ``TABLE.NAME``."""
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def table(name: str, alias: str | None = None) -> exp.Table:
    """A source in FROM / JOIN, optionally aliased (``ORDERS O``)."""
    node = exp.Table(this=ident(name))
    if alias:
        node.set("alias", exp.TableAlias(this=ident(alias)))
    return node


def func(name: str, *args: exp.Expression) -> exp.Anonymous:
    """Function call ``NAME(args...)``; ``func("COUNT", exp.Star())`` is COUNT(*)."""
    return exp.Anonymous(this=name.upper(), expressions=list(args))


def lit(value: Any) -> exp.Expression:
    """A literal from a Python value (str, int, float, Decimal, bool, None)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(str(value))


def duration(n: int, unit: str) -> Duration:
    """``n UNIT`` (unit: MILLISECOND(S), SECOND(S), MINUTE(S), HOUR(S), DAY(S))."""
    return Duration(this=exp.Literal.number(str(n)), unit=unit.upper())


def props(**values: Any) -> list[Property]:
    """WITH properties in the given order: ``props(KAFKA_TOPIC="t", PARTITIONS=3)``."""
    return [Property(this=ident(k.upper()), value=lit(v)) for k, v in values.items()]

"""The KSQL compiler: DSL trees (``kctx_cli.query.expr`` / ``select``) become sqlglot
trees of the ksqlDB dialect (``kctx_cli.ksql.nodes``), rendered by the dialect's own
generator. The DSL never produces text itself (the SQLAlchemy Core split).

Columns are qualified with their source's ksqlDB name only when the query joins; a column
of an ``aliased`` source always carries its alias (``FROM ORDERS O`` ... ``O.AMOUNT``).
"""
from __future__ import annotations

import decimal

from sqlglot import exp

from kctx_cli.ksql import nodes as k
from kctx_cli.sqltypes import decimal_literal_type
from kctx_cli.query import expr as E
from kctx_cli.query.select import Duration, Select, Window, Within

_BINARY = {
    "=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE,
    "+": exp.Add, "-": exp.Sub, "*": exp.Mul, "/": exp.Div, "%": exp.Mod,
    "AND": exp.And, "OR": exp.Or, "LIKE": exp.Like,
    "IS DISTINCT FROM": exp.NullSafeNEQ, "IS NOT DISTINCT FROM": exp.NullSafeEQ,
}
# binding strength, to add parentheses exactly where the tree needs them
_PREC = {"OR": 1, "AND": 2, "NOT": 3, "=": 4, "<>": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "LIKE": 4,
         "IS DISTINCT FROM": 4, "IS NOT DISTINCT FROM": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_ATOM = 9


def _prec(e) -> int:
    if isinstance(e, E.BinaryOp):
        return _PREC.get(e.op, _ATOM)
    if isinstance(e, E.UnaryOp):
        return 3 if e.op == "NOT" else 7
    if isinstance(e, (E.InList, E.IsNull, E.Between, E.Like)):
        return 4
    return _ATOM


class Compiler:
    """Turns one query into a ``k.Query`` tree."""

    def __init__(self, q: Select):
        self.qualify = bool(q.joins)  # columns of a join carry their source name

    # -- expressions -----------------------------------------------------------
    def expr(self, e) -> exp.Expression:  # noqa: C901 - one case per node kind
        """The sqlglot node of DSL expression ``e`` (kctx_cli.query.expr), with parentheses exactly
        where precedence needs them (``operand``). A column becomes its ksqlDB column name,
        qualified with its source's name when the query joins. TypeError for anything that is
        not a DSL node."""
        if isinstance(e, E.Column):
            info = e.entity.__kctx__
            f = info.field(e.name)
            name = f.column if f is not None else e.name.upper()
            if e._alias is not None:
                return k.col(name, e._alias._name)
            return k.col(name, info.source_name if self.qualify else None)
        if isinstance(e, E.Deref):
            return k.StructDeref(this=self.expr(e.base), expression=k.ident(E.member_name(e)))
        if isinstance(e, E.Literal):
            return literal(e.value)
        if isinstance(e, E.BinaryOp):
            p = _PREC[e.op]
            left = self.operand(e.left, p, right=False)
            right = self.operand(e.right, p, right=True)
            return _BINARY[e.op](this=left, expression=right)
        if isinstance(e, E.UnaryOp):
            if e.op == "NOT":
                return exp.Not(this=self.operand(e.operand, 3, right=True))
            return exp.Neg(this=self.operand(e.operand, 7, right=True))
        if isinstance(e, E.InList):
            return exp.In(this=self.operand(e.operand, 4), expressions=[self.expr(v) for v in e.values])
        if isinstance(e, E.IsNull):
            node = exp.Is(this=self.operand(e.operand, 4), expression=exp.Null())
            return exp.Not(this=node) if e.negated else node
        if isinstance(e, E.Between):
            return exp.Between(this=self.operand(e.operand, 4), low=self.operand(e.low, 5),
                               high=self.operand(e.high, 5))
        if isinstance(e, E.Func):
            return k.func(e.name, *[self.expr(a) for a in e.args])
        if isinstance(e, E.Star):
            return exp.Star()
        if isinstance(e, E.Case):
            ifs = [exp.If(this=self.expr(c), true=self.expr(v)) for c, v in e.whens]
            return exp.Case(ifs=ifs, default=self.expr(e.else_) if e.else_ is not None else None)
        if isinstance(e, E.Cast):
            from kctx_cli.ksql.dialect import parse_type, quote_name

            return exp.Cast(this=self.expr(e.operand), to=parse_type(e.to.ksql(quote_name)))
        if isinstance(e, E.Pseudo):
            return k.col(e.name)
        if isinstance(e, E.Lambda):
            return exp.Lambda(this=self.expr(e.body), expressions=[k.ident(p.name) for p in e.params])
        if isinstance(e, E.LambdaVar):
            return k.col(e.name)
        if isinstance(e, E.Alias):
            return self.expr(e.expr)
        if isinstance(e, E.Like):
            like = exp.Like(this=self.operand(e.operand, 4), expression=self.operand(e.pattern, 5))
            return exp.Escape(this=like, expression=literal(e.escape))
        if isinstance(e, E.Subscript):
            return exp.Bracket(this=self.operand(e.base, _ATOM), expressions=[self.expr(e.index)])
        if isinstance(e, E.ArrayCtor):
            return exp.Array(expressions=[self.expr(i) for i in e.items])
        if isinstance(e, E.MapCtor):
            return k.MapConstructor(expressions=[exp.PropertyEQ(this=self.expr(a), expression=self.expr(b))
                                                 for a, b in e.pairs])
        if isinstance(e, E.StructCtor):
            return k.StructConstructor(expressions=[exp.PropertyEQ(this=k.ident(n.upper()), expression=self.expr(v))
                                                    for n, v in e.fields])
        raise TypeError(f"cannot compile {e!r} to KSQL")

    def operand(self, e, parent: int, right: bool = False) -> exp.Expression:
        """``expr(e)`` as an operand of an operator of binding strength ``parent`` (on the
        ``right`` side or not): parenthesised when it binds less tightly, or equally on the right
        (``a - (b - c)``), or when both are predicates (ksqlDB's grammar does not chain them)."""
        node = self.expr(e)
        p = _prec(e)
        # a - (b - c) and a / (b * c) need them on the right at equal strength; ksqlDB's
        # grammar does not chain predicates at all: (a IS NULL) = TRUE
        if p < parent or (p == parent and p < _ATOM and (right or p == 4)):
            return exp.Paren(this=node)
        return node

    def item(self, e) -> exp.Expression:
        """A select item: ``expr AS NAME`` for a label (the name upper-cased), else ``expr``."""
        if isinstance(e, E.Alias):
            return exp.Alias(this=self.expr(e.expr), alias=k.ident(e.name.upper()))
        return self.expr(e)

    # -- clauses -----------------------------------------------------------------
    def query(self, q: Select) -> k.Query:
        """The ``k.Query`` of ``q``: SELECT, FROM, JOINs, WINDOW, WHERE, GROUP BY, PARTITION BY,
        HAVING, EMIT, LIMIT as the Select holds them (no check: see kctx_cli.derive.schema)."""
        args: dict = {
            "expressions": [self.item(i) for i in q.items],
            "from_": exp.From(this=k.table(q.source.__kctx__.source_name,
                                           q.source_alias._name if q.source_alias is not None else None)),
        }
        # sqlglot spells the FROM arg "from" (older) or "from_" (newer); follow the class
        if "from_" not in k.Query.arg_types:
            args["from"] = args.pop("from_")
        if q.joins:
            args["joins"] = [self.join(j) for j in q.joins]
        if q.window_ is not None:
            args["window"] = window(q.window_)
        if q.where_ is not None:
            args["where"] = exp.Where(this=self.expr(q.where_))
        if q.group_by_:
            args["group"] = exp.Group(expressions=[self.expr(g) for g in q.group_by_])
        if q.partition_by_:
            args["partition_by"] = k.PartitionBy(expressions=[self.expr(p) for p in q.partition_by_])
        if q.having_ is not None:
            args["having"] = exp.Having(this=self.expr(q.having_))
        if q.emit:
            args["emit"] = k.Emit(this=q.emit)
        if q.limit_ is not None:
            args["limit"] = exp.Limit(expression=exp.Literal.number(str(q.limit_)))
        return k.Query(**args)

    def join(self, j) -> k.Join:
        """The ``k.Join`` of one Select join: the source, ``ON``, the side (LEFT / RIGHT / FULL;
        none for INNER) and ``WITHIN``."""
        alias = j.alias._name if j.alias is not None else None
        node = k.Join(this=k.table(j.entity.__kctx__.source_name, alias), on=self.expr(j.on))
        if j.how != "INNER":
            node.set("side", j.how)
        if j.within is not None:
            node.set("within", within(j.within))
        return node


def literal(v) -> exp.Expression:
    """A Python value as a KSQL literal node: None NULL, bool TRUE / FALSE, str a quoted
    string, int as written, float with an exponent (``1.5E0``: ksqlDB reads ``1.5`` as a
    DECIMAL, the exponent keeps it a DOUBLE), Decimal with a fraction as written (a DECIMAL
    literal), a whole Decimal as ``CAST(n AS DECIMAL(p, 0))`` (a bare ``100`` is an INT).
    TypeError for any other type."""
    if v is None:
        return exp.Null()
    if isinstance(v, bool):
        return exp.Boolean(this=v)
    if isinstance(v, str):
        return exp.Literal.string(v)
    if isinstance(v, float):
        # ksqlDB reads 1.5 as DECIMAL; the exponent keeps a Python float a DOUBLE
        text = repr(v).upper()
        return exp.Literal.number(text if "E" in text else text + "E0")
    if isinstance(v, decimal.Decimal):
        # ksqlDB reads 12.50 as DECIMAL(4, 2) but 100 as INT and 1E+2 as DOUBLE: a fraction is
        # written out in full, a whole number is cast (decimal_literal_type)
        if v.as_tuple().exponent < 0:
            return exp.Literal.number(format(v, "f"))
        from kctx_cli.ksql.dialect import parse_type

        return exp.Cast(this=exp.Literal.number(str(int(v))), to=parse_type(decimal_literal_type(v).ksql()))
    if isinstance(v, int):
        return exp.Literal.number(str(v))
    raise TypeError(f"unsupported literal {v!r}")


def dur(d: Duration) -> k.Duration:
    """A Duration as ``n UNIT`` (the unit plural unless n is 1: ``1 HOUR``, ``5 MINUTES``)."""
    return k.duration(d.value, d.unit if d.value == 1 else d.unit + "S")


def window(w: Window) -> k.WindowClause:
    """The ``WINDOW TUMBLING|HOPPING|SESSION (...)`` clause of a Window: size, ADVANCE BY,
    RETENTION, GRACE PERIOD (reference/time-and-windows-in-ksqldb-queries.md)."""
    node = k.WindowClause(kind=w.kind, size=dur(w.size))
    if getattr(w, "advance_by", None) is not None:
        node.set("advance", dur(w.advance_by))
    if w.retention is not None:
        node.set("retention", dur(w.retention))
    if w.grace is not None:
        node.set("grace", dur(w.grace))
    return node


def within(w: Within) -> k.Within:
    """The ``WITHIN`` clause of a stream-stream join: ``WITHIN before`` or ``WITHIN (before,
    after)``, then ``GRACE PERIOD`` (reference/join-streams-and-tables.md)."""
    node = k.Within(before=dur(w.before))
    if w.after is not None:
        node.set("after", dur(w.after))
    if w.grace is not None:
        node.set("grace", dur(w.grace))
    return node


def compile_select(q: Select) -> k.Query:
    """The sqlglot tree of a DSL query."""
    return Compiler(q).query(q)


def render_select(q: Select) -> str:
    """KSQL text of a DSL query (no trailing semicolon)."""
    from kctx_cli.ksql.dialect import render

    return render(compile_select(q))

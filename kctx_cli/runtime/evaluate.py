"""Evaluate a query-DSL predicate (kctx_cli/query/expr.py) on entity instances, locally
(``TableView.first(where=Customer.tier >= 2)``), with SQL semantics as ksqlDB applies
them: NULL (None) propagates through comparisons and arithmetic, ``AND``/``OR``/``NOT``
use three-valued logic, a row matches only when the predicate is TRUE; ``LIKE`` with
``%``/``_`` (ksqlDB docs, "LIKE"); ``IN``, ``BETWEEN`` (inclusive), ``IS [NOT] NULL``,
``IS [NOT] DISTINCT FROM``, integer ``/`` and ``%`` as Java computes them (truncated,
the dividend's sign); struct fields (``Customer.address.city``), ``a[i]`` (1-based, negative
from the end) and ``m['k']``; CASE; UCASE/LCASE/LEN/ABS/COALESCE/IFNULL. Anything else is a
``KctxError`` naming the node (run such queries in ksqlDB: ``ctx.query``).
"""
from __future__ import annotations

import math
import operator
import re
from typing import Any, Callable

from kctx_cli.errors import KctxError

_CMP = {"=": operator.eq, "<>": operator.ne, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


def _int_div(a: int, b: int) -> int:
    """Java's integer division, as ksqlDB computes INT/BIGINT ``/``: truncated toward zero
    (-7 / 2 is -3; Python's ``//`` floors to -4). Checked on ksqlDB 8.1.5."""
    q = a // b
    return q + 1 if q < 0 and q * b != a else q


def _mod(a, b):
    """Java's remainder, as ksqlDB computes ``%``: the sign of the dividend (-7 % 2 is -1;
    Python's ``%`` gives 1). Decimal's ``%`` already works so; floats use math.fmod. By
    zero: None (ksqlDB logs the error and the value is NULL)."""
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a - b * _int_div(a, b)
    if isinstance(a, float) or isinstance(b, float):
        return math.fmod(a, b)
    return a % b


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "%": _mod}


def predicate(expr, cls=None) -> Callable[[Any], bool]:
    """``expr`` -> ``test(entity) -> bool`` (True only when the predicate is TRUE)."""
    f = compile_expr(expr, cls)
    return lambda row: f(row) is True


def compile_expr(e, cls=None) -> Callable[[Any], Any]:  # noqa: C901 - one case per node kind
    """DSL expression ``e`` (kctx_cli.query.expr; a plain value stands for itself) as a
    function ``f(row)`` giving its value on an entity instance ``row``, None for NULL, with
    the module's semantics. ``cls``: the class of the rows (a column of another entity is a
    KctxError). KctxError, when compiling, for a node or function that cannot be evaluated
    locally (the message says to run the query in ksqlDB)."""
    from kctx_cli.query import expr as X

    if not isinstance(e, X.Expr):  # a plain Python value inside a node (function arguments)
        return lambda row: e
    if isinstance(e, X.Column):
        if cls is not None and e.entity is not cls and not issubclass(cls, e.entity):
            raise KctxError(f"{e!r} is a column of {e.entity.__name__}, not of {cls.__name__}")
        name = e.name
        return lambda row: row.__dict__.get(name)
    if isinstance(e, X.Deref):
        base = compile_expr(e.base, cls)
        member = e.member

        def deref(row):
            v = base(row)
            if v is None:
                return None
            d = v if isinstance(v, dict) else v.__dict__
            if member in d:
                return d[member]
            low = member.casefold()
            return next((x for k, x in d.items() if k.casefold() == low), None)
        return deref
    if isinstance(e, X.Literal):
        v = e.value
        return lambda row: v
    if isinstance(e, X.Alias):
        return compile_expr(e.expr, cls)
    if isinstance(e, X.BinaryOp):
        op = e.op.upper()
        left, right = compile_expr(e.left, cls), compile_expr(e.right, cls)
        if op in ("AND", "OR"):  # SQL's three-valued logic: NULL (None) unless one side decides
            decides = op == "OR"  # a False decides an AND, a True an OR
            other = not decides

            def logic(row):
                a = left(row)
                if a is decides:
                    return decides
                b = right(row)
                if b is decides:
                    return decides
                return other if (a is other and b is other) else None
            return logic
        if op in _CMP:
            fn = _CMP[op]

            def cmp(row):
                a, b = left(row), right(row)
                return None if a is None or b is None else fn(a, b)
            return cmp
        if op == "IS DISTINCT FROM":
            return lambda row: left(row) != right(row)
        if op == "IS NOT DISTINCT FROM":
            return lambda row: left(row) == right(row)
        if op in _ARITH:
            fn = _ARITH[op]

            def arith(row):
                a, b = left(row), right(row)
                return None if a is None or b is None else fn(a, b)
            return arith
        if op == "/":
            def div(row):
                a, b = left(row), right(row)
                if a is None or b is None or b == 0:
                    return None
                return _int_div(a, b) if isinstance(a, int) and isinstance(b, int) else a / b
            return div
        if op == "LIKE":
            return _like(left, right, None)
    if isinstance(e, X.Like):
        return _like(compile_expr(e.operand, cls), compile_expr(e.pattern, cls), e.escape)
    if isinstance(e, X.UnaryOp):
        inner = compile_expr(e.operand, cls)
        if e.op.upper() == "NOT":
            return lambda row: (lambda v: None if v is None else not v)(inner(row))
        if e.op == "-":
            return lambda row: (lambda v: None if v is None else -v)(inner(row))
    if isinstance(e, X.IsNull):
        inner = compile_expr(e.operand, cls)
        neg = e.negated
        return lambda row: (inner(row) is not None) if neg else (inner(row) is None)
    if isinstance(e, X.InList):
        inner = compile_expr(e.operand, cls)
        vals = [compile_expr(v, cls) for v in e.values]

        def in_(row):
            a = inner(row)
            if a is None:
                return None
            seen_null = False
            for f in vals:
                b = f(row)
                if b is None:
                    seen_null = True
                elif a == b:
                    return True
            return None if seen_null else False
        return in_
    if isinstance(e, X.Between):
        inner, lo, hi = compile_expr(e.operand, cls), compile_expr(e.low, cls), compile_expr(e.high, cls)

        def between(row):
            a, b, c = inner(row), lo(row), hi(row)
            return None if a is None or b is None or c is None else b <= a <= c
        return between
    if isinstance(e, X.Subscript):
        base, idx = compile_expr(e.base, cls), compile_expr(e.index, cls)

        def sub(row):
            v, i = base(row), idx(row)
            if v is None or i is None:
                return None
            if isinstance(v, dict):
                return v.get(i)
            if not isinstance(i, int) or i == 0 or abs(i) > len(v):
                return None
            return v[i - 1] if i > 0 else v[i]
        return sub
    if isinstance(e, X.Case):
        whens = [(compile_expr(c, cls), compile_expr(v, cls)) for c, v in e.whens]
        other = compile_expr(e.else_, cls) if e.else_ is not None else (lambda row: None)

        def case(row):
            for c, v in whens:
                if c(row) is True:
                    return v(row)
            return other(row)
        return case
    if isinstance(e, X.Func):
        return _func(e, cls)
    raise KctxError(f"{type(e).__name__} {e!r} cannot be evaluated locally: run the query in ksqlDB (ctx.query)")


def _func(e, cls):
    name = e.name.upper()
    if name not in ("UCASE", "LCASE", "LEN", "ABS", "TRIM", "COALESCE", "IFNULL"):
        raise KctxError(f"function {name} cannot be evaluated locally: run the query in ksqlDB (ctx.query)")
    args = [compile_expr(a, cls) for a in e.args]
    one = {"UCASE": str.upper, "LCASE": str.lower, "LEN": len, "ABS": abs, "TRIM": str.strip}
    if name in one and len(args) == 1:
        fn, a = one[name], args[0]
        return lambda row: (lambda v: None if v is None else fn(v))(a(row))
    if name in ("COALESCE", "IFNULL"):
        return lambda row: next((v for v in (f(row) for f in args) if v is not None), None)
    raise KctxError(f"function {name} cannot be evaluated locally: run the query in ksqlDB (ctx.query)")


def _like(left, right, escape):
    cache: dict = {}

    def like(row):
        a, p = left(row), right(row)
        if a is None or p is None:
            return None
        rx = cache.get(p)
        if rx is None:
            out, i = [], 0
            while i < len(p):
                ch = p[i]
                if escape and ch == escape and i + 1 < len(p):
                    out.append(re.escape(p[i + 1]))
                    i += 2
                    continue
                out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
                i += 1
            rx = cache[p] = re.compile("".join(out), re.S)
        return rx.fullmatch(a) is not None
    return like

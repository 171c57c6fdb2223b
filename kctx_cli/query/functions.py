"""ksqlDB functions as the DSL knows them: which are aggregates, the signatures the real
ksqlDB 8.1.5 has (``DESCRIBE FUNCTION``), how a call resolves among them and the type it
returns (see "signatures and return types" below). A function missing here still renders
(``func.ANY_NAME(...)``); its result type is then unknown and not checked.
"""
from __future__ import annotations

import functools
from typing import Callable

from kctx_cli import sqltypes as T
from kctx_cli.sqltypes import SqlType


class FunctionTypeError(Exception):
    """Arguments a function cannot take; the message is shown to the user."""


# ---------------------------------------------------------------------------
# type text -> SqlType (for cast() and the function table)
# ---------------------------------------------------------------------------

_PY = {int: T.BIGINT, str: T.STRING, float: T.DOUBLE, bool: T.BOOLEAN, bytes: T.BYTES}


def parse_type(spec) -> SqlType:
    """``"DECIMAL(10, 2)"``, ``"ARRAY<STRING>"``, a SqlType or a Python type -> SqlType.

    Text is read by the ksqlDB dialect (``kctx_cli.ksql.dialect.parse_type``, the one
    reader of type text) and converted by ``sql_type_of``; raises ValueError for text that
    is no ksqlDB type, or a type kctx does not model (a custom type, ``VARCHAR(10)``)."""
    if isinstance(spec, SqlType):
        return spec
    if spec in _PY:
        return _PY[spec]
    if not isinstance(spec, str):
        raise ValueError(f"cannot cast to {spec!r}: give a ksqlDB type name such as 'DECIMAL(10, 2)'")
    return _parse_text(spec.strip())


@functools.lru_cache(maxsize=1024)
def _parse_text(text: str) -> SqlType:
    from kctx_cli.ksql.dialect import parse_type as read_type  # sqlglot only once a type is read
    from kctx_cli.ksql.errors import KsqlSyntaxError

    try:
        node = read_type(text)
    except KsqlSyntaxError as err:
        raise ValueError(f"cannot parse type {text!r}: {err}") from None
    return sql_type_of(node)


def sql_type_of(node) -> SqlType:
    """A type tree of the ksqlDB dialect (``sqlglot.exp.DataType``) -> SqlType; ValueError
    for a type kctx does not model. A MAP's key type is read, then dropped (SqlType's MAP
    has STRING keys); STRUCT field names are ksqlDB's (an unquoted name upper-cased, a
    back-quoted one as written)."""
    from sqlglot import exp

    from kctx_cli.ksql.dialect import render

    kind, params = node.this, node.expressions
    if kind == exp.DType.ARRAY:
        return T.array_of(sql_type_of(params[0]))
    if kind == exp.DType.MAP:
        sql_type_of(params[0])
        return T.map_of(sql_type_of(params[1]))
    if kind == exp.DType.STRUCT:
        members = []
        for f in params:
            if not isinstance(f.this, exp.Identifier):  # a ${variable}
                raise ValueError(f"cannot parse type {render(node)!r}: a field name is a variable")
            members.append((f.this.this, sql_type_of(f.args["kind"])))
        return SqlType("STRUCT", fields=tuple(members))
    if kind == exp.DType.DECIMAL:
        precision, scale = (str(p.this.this) for p in params)
        if not (precision.isdigit() and scale.isdigit()):
            raise ValueError("DECIMAL needs (precision, scale)")
        return T.decimal_type(int(precision), int(scale))
    if kind == exp.DType.USERDEFINED:
        raise ValueError(f"unknown ksqlDB type {node.args['kind']}")
    if params:
        raise ValueError(f"unsupported type {render(node)}: only DECIMAL takes parameters")
    return SqlType(render(node))  # a primitive, by its canonical name (STRING for VARCHAR)


INT_RANGE = (-(2**31), 2**31 - 1)


def decimal_of(t: SqlType) -> SqlType:
    """ksqlDB's implicit upcast of an integer to DECIMAL (data-types reference)."""
    if t.name == "INT":
        return T.decimal_type(10, 0)
    if t.name == "BIGINT":
        return T.decimal_type(19, 0)
    return t


# ---------------------------------------------------------------------------
# signatures and return types (ksqlDB 8.1.5)
# ---------------------------------------------------------------------------
#
# Every built-in function kctx types, with the signatures the real ksqlDB 8.1.5 lists
# (``DESCRIBE FUNCTION <name>``), resolved as its UdfIndex does:
#
# 1. a signature whose parameters all match exactly (DECIMAL matches any DECIMAL; a
#    generic T binds to the first argument it meets, later ones must have the same type,
#    DECIMAL precision included: COALESCE(DECIMAL(5, 2), DECIMAL(7, 3)) is refused);
# 2. else, for scalar functions only, implicit widening of numbers (INT -> BIGINT ->
#    DECIMAL -> DOUBLE; never into a generic): ROUND(INT, INT) fits ROUND(DOUBLE, INT)
#    and ROUND(DECIMAL, INT), so ksqlDB refuses it as ambiguous. Aggregates take no
#    implicit cast: AVG(DECIMAL) is refused, AVG only has DOUBLE/INT/BIGINT variants;
# 3. of several matches the best is a non-variadic one, then the one with more
#    parameters, then the one with fewer generic parameters; a tie is ambiguous.
#
# DECIMAL results follow the functions' schema providers: the argument's type (ABS, CEIL,
# FLOOR, SUM, MIN, MAX, ROUND/TRUNC with a scale), ROUND/TRUNC without a scale drop the
# fraction (DECIMAL(p - s, 0)), GREATEST/LEAST widen (max integer digits + max scale).
# A function missing here still renders (``func.ANY_NAME(...)``); its type is unknown.

# parameter/return spec: a type name, "T"/"S" (generic), "ARRAY<T>", "MAP<T>" (a MAP with
# STRING keys), "ANY" (any type), "LAMBDA", "INTERVAL" (a time unit); "X..." is variadic;
# None as a return: not typed; "ARRAY<ARG0>": an ARRAY of the first argument's type
_S, _I, _B, _D, _DEC, _BOOL, _BY = "STRING", "INT", "BIGINT", "DOUBLE", "DECIMAL", "BOOLEAN", "BYTES"
_TS, _DT, _TM = "TIMESTAMP", "DATE", "TIME"
_NUMS = (_I, _B, _DEC, _D)  # implicit widening order (ksqlDB's SqlBaseType order)


def _sig(ret, *params):
    return (ret, params)


def _each(ret_same: bool, types, *rest, ret=None):
    """One signature per type: (t, *rest) -> t (ret_same) or -> ret."""
    return [(t if ret_same else ret, (t, *rest)) for t in types]


_ORDERABLE = (_TM, _DT, _BY, _TS, _DEC, _I, _B, _D, _S)

SCALAR: dict[str, list] = {
    # strings
    "UCASE": [_sig(_S, _S)], "LCASE": [_sig(_S, _S)], "TRIM": [_sig(_S, _S)], "INITCAP": [_sig(_S, _S)],
    "CONCAT": [_sig(_S, _S + "..."), _sig(_BY, _BY + "...")],
    "CONCAT_WS": [_sig(_S, _S, _S + "..."), _sig(_BY, _BY, _BY + "...")],
    "SUBSTRING": [_sig(_S, _S, _I, _I), _sig(_BY, _BY, _I, _I), _sig(_BY, _BY, _I), _sig(_S, _S, _I)],
    "REPLACE": [_sig(_S, _S, _S, _S)],
    "LPAD": [_sig(_S, _S, _I, _S), _sig(_BY, _BY, _I, _BY)], "RPAD": [_sig(_S, _S, _I, _S), _sig(_BY, _BY, _I, _BY)],
    "LEN": [_sig(_I, _S), _sig(_I, _BY)],
    "INSTR": [_sig(_I, _S, _S), _sig(_I, _S, _S, _I, _I), _sig(_I, _S, _S, _I)],
    "SPLIT": [_sig("ARRAY<STRING>", _S, _S), _sig("ARRAY<BYTES>", _BY, _BY)],
    "REGEXP_EXTRACT": [_sig(_S, _S, _S), _sig(_S, _S, _S, _I)], "REGEXP_REPLACE": [_sig(_S, _S, _S, _S)],
    "MASK": [_sig(_S, _S), _sig(_S, _S, _S, _S, _S, _S)], "EXTRACTJSONFIELD": [_sig(_S, _S, _S)],
    "UUID": [_sig(_S), _sig(_S, _BY)], "CHR": [_sig(_S, _I), _sig(_S, _S)],
    "ENCODE": [_sig(_S, _S, _S, _S)], "TO_BYTES": [_sig(_BY, _S, _S)], "FROM_BYTES": [_sig(_S, _BY, _S)],
    # numbers
    "ABS": _each(True, (_DEC, _D, _I, _B)),
    "ROUND": [_sig(_DEC, _DEC), _sig(_D, _D, _I), _sig(_B, _D), _sig(_DEC, _DEC, _I), _sig(_B, _I), _sig(_B, _B)],
    "CEIL": _each(True, (_DEC, _D, _I, _B)), "FLOOR": _each(True, (_DEC, _D, _I, _B)),
    "SIGN": _each(False, (_D, _I, _B), ret=_I),
    "SQRT": _each(False, (_D, _I, _B), ret=_D), "EXP": _each(False, (_D, _I, _B), ret=_D),
    "LN": _each(False, (_D, _I, _B), ret=_D),
    "LOG": [_sig(_D, _I, _I), _sig(_D, _B, _B), _sig(_D, _D, _D), _sig(_D, _D), _sig(_D, _I), _sig(_D, _B)],
    "POWER": [_sig(_D, _D, _D), _sig(_D, _I, _I), _sig(_D, _B, _B)], "RANDOM": [_sig(_D)],
    "TRUNC": [_sig(_DEC, _DEC), _sig(_B, _D), _sig(_D, _D, _I), _sig(_DEC, _DEC, _I), _sig(_B, _I), _sig(_B, _B)],
    "GREATEST": [(t, (t, t + "...")) for t in _ORDERABLE],
    "LEAST": [(t, (t, t + "...")) for t in _ORDERABLE],
    # nulls
    "COALESCE": [_sig("T", "T", "T...")], "AS_VALUE": [_sig("T", "T")], "IFNULL": [_sig("T", "T", "T")], "NULLIF": [_sig("T", "T", "T")],
    # dates and times
    "TIMESTAMPTOSTRING": [_sig(_S, _B, _S), _sig(_S, _B, _S, _S)],
    "STRINGTOTIMESTAMP": [_sig(_B, _S, _S), _sig(_B, _S, _S, _S)],
    "UNIX_TIMESTAMP": [_sig(_B), _sig(_B, _TS)], "UNIX_DATE": [_sig(_I), _sig(_I, _DT)],
    "FORMAT_TIMESTAMP": [_sig(_S, _TS, _S), _sig(_S, _TS, _S, _S)],
    "PARSE_TIMESTAMP": [_sig(_TS, _S, _S), _sig(_TS, _S, _S, _S)], "FROM_UNIXTIME": [_sig(_TS, _B)],
    "FORMAT_DATE": [_sig(_S, _DT, _S)], "PARSE_DATE": [_sig(_DT, _S, _S)],
    "FORMAT_TIME": [_sig(_S, _TM, _S)], "PARSE_TIME": [_sig(_TM, _S, _S)],
    "DATETOSTRING": [_sig(_S, _I, _S)], "STRINGTODATE": [_sig(_I, _S, _S)], "FROM_DAYS": [_sig(_DT, _I)],
    "DATEADD": [_sig(_DT, "INTERVAL", _I, _DT)], "TIMESTAMPADD": [_sig(_TS, "INTERVAL", _I, _TS)],
    "TIMESTAMPSUB": [_sig(_TS, "INTERVAL", _I, _TS)], "CONVERT_TZ": [_sig(_TS, _TS, _S, _S)],
    # collections
    "ARRAY_LENGTH": [_sig(_I, "ARRAY<T>")], "ARRAY_CONTAINS": [_sig(_BOOL, "ARRAY<T>", "T")],
    "ARRAY_DISTINCT": [_sig("ARRAY<T>", "ARRAY<T>")],
    "ARRAY_SORT": [_sig("ARRAY<T>", "ARRAY<T>"), _sig("ARRAY<T>", "ARRAY<T>", _S)],
    "ARRAY_MAX": [_sig("T", "ARRAY<T>")], "ARRAY_MIN": [_sig("T", "ARRAY<T>")],
    "ARRAY_JOIN": [_sig(_S, "ARRAY<T>"), _sig(_S, "ARRAY<T>", _S)],
    "ARRAY_REMOVE": [_sig("ARRAY<T>", "ARRAY<T>", "T")],
    "MAP_KEYS": [_sig("ARRAY<STRING>", "MAP<T>")], "MAP_VALUES": [_sig("ARRAY<T>", "MAP<T>")],
    # lambdas: the lambda's result type is not inferred (TRANSFORM's result is unknown)
    "TRANSFORM": [_sig(None, "ARRAY<T>", "LAMBDA"), _sig(None, "MAP<T>", "LAMBDA", "LAMBDA")],
    "FILTER": [_sig("ARRAY<T>", "ARRAY<T>", "LAMBDA"), _sig("MAP<T>", "MAP<T>", "LAMBDA")],
    "REDUCE": [_sig("S", "ARRAY<T>", "S", "LAMBDA"), _sig("S", "MAP<T>", "S", "LAMBDA")],
}

AGGREGATE: dict[str, list] = {
    "COUNT": [_sig(_B), _sig(_B, "ANY")], "COUNT_DISTINCT": [_sig(_B, "ANY")],
    "SUM": _each(True, (_DEC, _D, _I, _B)), "AVG": _each(False, (_D, _I, _B), ret=_D),
    "MIN": _each(True, (_DEC, _D, _I, _B, _S, _TS, _TM, _DT, _BY)),
    "MAX": _each(True, (_DEC, _D, _I, _B, _S, _TS, _TM, _DT, _BY)),
    "LATEST_BY_OFFSET": [_sig("T", "T"), _sig("ARRAY<T>", "T", _I), _sig("ARRAY<T>", "T", _I, _BOOL),
                         _sig("T", "T", _BOOL)],
    "EARLIEST_BY_OFFSET": [_sig("T", "T"), _sig("ARRAY<T>", "T", _I), _sig("ARRAY<T>", "T", _I, _BOOL),
                           _sig("T", "T", _BOOL)],
    "COLLECT_LIST": [_sig("ARRAY<T>", "T")], "COLLECT_SET": [_sig("ARRAY<T>", "T")],
    # TOPK(col, k) -> ARRAY of col; TOPK(col, other columns..., k) returns STRUCTs (not typed)
    "TOPK": [("ARRAY<ARG0>", (t, _I)) for t in (_D, _I, _B, _S)] + [(None, (t, "ANY", "ANY...")) for t in (_D, _I, _B, _S)],
    "TOPKDISTINCT": [("ARRAY<ARG0>", (t, _I)) for t in (_B, _I, _D, _DEC, _BY, _DT, _TM, _TS, _S)],
    "HISTOGRAM": [_sig("MAP<BIGINT>", _S)],
    "STDDEV_SAMP": _each(False, (_D, _I, _B), ret=_D), "STDDEV_SAMPLE": _each(False, (_D, _I, _B), ret=_D),
    "CORRELATION": [_sig(_D, t, t) for t in (_D, _I, _B)],
    "ATTR": [_sig("T", "T")],
}

_SIMPLE_TYPES = {n: SqlType(n) for n in T.PRIMITIVES}

# ---------------------------------------------------------------------------
# every other built-in, from the real server's DESCRIBE FUNCTION
# ---------------------------------------------------------------------------
# kctx_cli/query/functions_server.py is generated by tools/gen_functions.py from the real
# ksqlDB (SHOW FUNCTIONS / DESCRIBE FUNCTION). The tables above stay the reference for
# the functions they list (their DECIMAL results, TOPK's STRUCTs and the like are refined
# by hand and checked against the server by tests/test_query_vs_ksqldb.py); every other
# built-in is read from the generated table into the signature language here. What that
# language cannot say is loosened, never guessed: a parameter of another shape takes
# anything ("ANY"), a return type it cannot say is untyped (None), and a function with a
# variadic parameter before the last is left out (unknown: not checked).

_PRIMS = {"INT", "BIGINT", "DOUBLE", "DECIMAL", "STRING", "BOOLEAN", "BYTES", "DATE", "TIME", "TIMESTAMP"}


def _server_type(text: str, letters: dict, param: bool):
    t = text.replace("VARCHAR", "STRING").strip()
    if t in _PRIMS:
        return t if (param or t != "DECIMAL") else None
    if param and t == "INTERVAL UNIT":
        return "INTERVAL"
    if param and t.startswith("LAMBDA"):
        return "LAMBDA"
    if len(t) == 1 and t.isalpha():
        if param and t not in letters and len(letters) < 2:
            letters[t] = ("T", "S")[len(letters)]
        g = letters.get(t)
        return g if g else ("ANY" if param else None)
    if t.startswith("ARRAY<") and t.endswith(">"):
        inner = t[6:-1].strip()
        if len(inner) == 1 and inner.isalpha():
            if param and inner not in letters and not letters:
                letters[inner] = "T"
            return "ARRAY<T>" if letters.get(inner) == "T" else ("ANY" if param else None)
        if not param and inner in _PRIMS - {"DECIMAL"}:
            return f"ARRAY<{inner}>"
    if t.startswith("MAP<STRING,") or (t.startswith("MAP<") and param):
        inner = t[t.index(",") + 1:-1].strip() if "," in t else ""
        if len(inner) == 1 and inner.isalpha():
            if param and inner not in letters and not letters:
                letters[inner] = "T"
            return "MAP<T>" if letters.get(inner) == "T" else ("ANY" if param else None)
        if not param and inner in _PRIMS - {"DECIMAL"}:
            return f"MAP<{inner}>"
    return "ANY" if param else None


def _from_server() -> tuple[dict, dict]:
    try:
        from kctx_cli.query.functions_server import FUNCTIONS
    except ImportError:  # pragma: no cover - the generated table is part of the package
        return {}, {}
    scalar: dict[str, list] = {}
    aggregate: dict[str, list] = {}
    for name, (kind, sigs) in FUNCTIONS.items():
        if name in SCALAR or name in AGGREGATE or kind not in ("SCALAR", "AGGREGATE"):
            continue
        out = []
        for ret, params in sigs:
            if any(p.endswith("...") for p in params[:-1]):
                out = None
                break
            letters: dict = {}
            ps = []
            for p in params:
                variadic = p.endswith("...")
                spec = _server_type(p[:-3] if variadic else p, letters, True)
                ps.append(spec + ("..." if variadic else ""))
            out.append((_server_type(ret, letters, False), tuple(ps)))
        if out:
            # signatures that loosening made alike are one (untyped when their returns differ):
            # ENTRIES(MAP<STRING, INT>, BOOLEAN) and ENTRIES(MAP<STRING, DOUBLE>, BOOLEAN) both
            # read ENTRIES(ANY, BOOLEAN), which must not look ambiguous
            merged: dict = {}
            for r, ps in out:
                merged[ps] = r if ps not in merged or merged[ps] == r else None
            out = [(r, ps) for ps, r in merged.items()]
            (aggregate if kind == "AGGREGATE" else scalar)[name] = out
    return scalar, aggregate


_SERVER_SCALAR, _SERVER_AGGREGATE = _from_server()
SCALAR.update(_SERVER_SCALAR)
AGGREGATE.update(_SERVER_AGGREGATE)


def is_aggregate(name: str) -> bool:
    """Whether ``name`` (any case) is an aggregate function: in AGGREGATE, kctx's table plus
    the aggregates of the ksqlDB server's own list (functions_server)."""
    return name.upper() in AGGREGATE


def _base(spec: str) -> str:
    return spec[:-3] if spec.endswith("...") else spec


def _generic(spec: str) -> bool:
    return _base(spec) in ("T", "S", "ARRAY<T>", "MAP<T>", "ANY", "LAMBDA")


def _accepts(spec: str, arg: SqlType | None, bound: dict, casts: bool) -> bool:
    """Whether a parameter takes an argument (None: unknown, takes anything); binds generics."""
    spec = _base(spec)
    if arg is None or spec in ("ANY", "LAMBDA", "INTERVAL"):
        return True
    if spec in ("T", "S"):
        if spec in bound:
            return bound[spec].ksql() == arg.ksql()
        bound[spec] = arg
        return True
    if spec in ("ARRAY<T>", "MAP<T>"):
        if arg.name != spec[:spec.index("<")]:
            return False
        return _accepts("T", arg.item, bound, casts)
    if spec.startswith("ARRAY<"):  # only as return types
        return False
    if arg.name == spec:
        return True
    return (casts and arg.name in _NUMS and spec in _NUMS
            and _NUMS.index(arg.name) < _NUMS.index(spec))


def _match(params: tuple, args: list, casts: bool) -> dict | None:
    """The generic bindings when the signature takes the arguments, else None."""
    variadic = bool(params) and params[-1].endswith("...")
    fixed = params[:-1] if variadic else params
    if len(args) < len(fixed) or (not variadic and len(args) > len(fixed)):
        return None
    bound: dict = {}
    for i, arg in enumerate(args):
        spec = fixed[i] if i < len(fixed) else params[-1]
        if not _accepts(spec, arg, bound, casts):
            return None
    return bound


def _rank(params: tuple) -> tuple:
    """ksqlDB's preference between matching signatures: non-variadic, more parameters,
    fewer generic parameters."""
    variadic = bool(params) and params[-1].endswith("...")
    return (0 if variadic else 1, len(params), -sum(1 for p in params if _generic(p)))


def _decimal_result(name: str, params: tuple, args: list) -> SqlType | None:
    decimals = [a for a in args if a is not None and a.name == "DECIMAL"]
    if not decimals:
        return None
    if name in ("GREATEST", "LEAST"):
        digits = max(d.precision - d.scale for d in decimals)
        scale = max(d.scale for d in decimals)
        return T.decimal_type(digits + scale, scale)
    d = decimals[0]
    if name in ("ROUND", "TRUNC") and len(args) == 1:
        if d.precision - d.scale < 1:
            raise FunctionTypeError(f"{name} of {d.ksql()} has no integer digits: ksqlDB cannot type its "
                                    f"result (cast the argument to a DECIMAL with a larger precision)")
        return T.decimal_type(d.precision - d.scale, 0)
    return d


def _result(name: str, ret, params: tuple, bound: dict, args: list) -> SqlType | None:
    if ret is None:
        return None
    if ret in ("T", "S"):
        return bound.get(ret)
    if ret in ("ARRAY<T>", "MAP<T>"):
        item = bound.get("T")
        return None if item is None else (T.array_of(item) if ret.startswith("ARRAY") else T.map_of(item))
    if ret == "ARRAY<ARG0>":  # an array of the first argument's type
        return None if args[0] is None else T.array_of(args[0])
    if ret.startswith("ARRAY<"):
        return T.array_of(_SIMPLE_TYPES[ret[6:-1]])
    if ret.startswith("MAP<"):
        return T.map_of(_SIMPLE_TYPES[ret[4:-1]])
    if ret == "DECIMAL":
        if any(a is None for a in args):
            return None
        return _decimal_result(name, params, args)
    return _SIMPLE_TYPES[ret]


def _calls(name: str, sigs: list) -> str:
    def one(params):
        return ", ".join(p[:-3] + "..." if p.endswith("...") else p for p in params)

    return "; ".join(f"{name}({one(p)})" for _, p in sigs)


def result_type(name: str, args: list[SqlType | None]) -> SqlType | None:
    """The type ``name(args)`` returns; raises FunctionTypeError for a call ksqlDB refuses.
    An unknown argument type (None) matches any parameter; when it leaves more than one
    signature, the result is unknown rather than an error."""
    aggregate = name in AGGREGATE
    sigs = AGGREGATE.get(name) or SCALAR.get(name)
    if sigs is None:
        return None
    counts = [(len(p) - 1, None) if p and p[-1].endswith("...") else (len(p), len(p)) for _, p in sigs]
    if not any(lo <= len(args) and (hi is None or len(args) <= hi) for lo, hi in counts):
        los = [lo for lo, _ in counts]
        his = [hi for _, hi in counts]
        lo, hi = min(los), (None if None in his else max(his))
        want = f"{lo}" if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
        raise FunctionTypeError(f"{name} takes {want} argument(s), got {len(args)}")
    unknown = any(a is None for a in args)
    for casts in ((False,) if aggregate else (False, True)):
        found = [(ret, params, bound) for ret, params in sigs
                 if (bound := _match(params, args, casts)) is not None]
        if not found:
            continue
        if unknown:  # only certain when every match gives the same type
            types = {(t.ksql() if (t := _result(name, r, p, b, args)) is not None else None) for r, p, b in found}
            if len(types) != 1:
                return None
            ret, params, bound = found[0]
            return _result(name, ret, params, bound, args)
        found.sort(key=lambda f: _rank(f[1]))
        if len(found) > 1 and _rank(found[-1][1]) == _rank(found[-2][1]):
            raise FunctionTypeError(
                f"{name}({', '.join(a.ksql() for a in args)}) is ambiguous in ksqlDB: it fits "
                f"{_calls(name, [(r, p) for r, p, _ in found])}; cast the arguments to one of them")
        ret, params, bound = found[-1]
        return _result(name, ret, params, bound, args)
    # nothing matches: name the first argument when no signature takes it at all
    first = args[0] if args else None
    if first is not None:
        firsts = [p[0] for _, p in sigs if p]
        if firsts and not any(_accepts(f, first, {}, not aggregate) for f in firsts):
            allowed = list(dict.fromkeys(_base(f).replace("<T>", "") for f in firsts))
            raise FunctionTypeError(f"{name} does not take {first.ksql()} as its first argument "
                                    f"(expects {' or '.join(allowed)})")
    given = ", ".join(a.ksql() if a is not None else "?" for a in args)
    how = "" if aggregate else " (numbers widen INT -> BIGINT -> DECIMAL -> DOUBLE, nothing else converts)"
    raise FunctionTypeError(f"{name} does not accept ({given}){how}; ksqlDB 8.1 has {_calls(name, sigs)}")

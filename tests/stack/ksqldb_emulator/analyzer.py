"""Output schema of a CREATE ... AS SELECT / INSERT INTO ... SELECT, as ksqlDB derives it.

No records are processed: this only works out the sink's columns (key columns first),
their types, and the checks ksqlDB makes on the projection, with ksqlDB's messages.
Function return types come from a table of ksqlDB's built-in functions; a function not
in the table is accepted and typed STRING (the emulator does not resolve UDFs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import sqltypes as T
from .statements import Column, Expr, Query


class AnalysisError(Exception):
    """A statement ksqlDB would reject; ``str()`` is ksqlDB's message."""


PSEUDO = {"ROWTIME": T.BIGINT, "ROWPARTITION": T.INTEGER, "ROWOFFSET": T.BIGINT}
WINDOW_BOUNDS = {"WINDOWSTART": T.BIGINT, "WINDOWEND": T.BIGINT}
# Time-unit keywords that functions such as DATEADD take as bare words.
TIME_UNITS = {"DAYS", "HOURS", "MINUTES", "SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS",
              "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "WEEKS", "MONTHS", "YEARS"}

AGGREGATES = {
    "COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET",
    "COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT", "HISTOGRAM", "STDDEV_SAMP",
    "STDDEV_SAMPLE", "CORRELATION", "ATTR", "VARIANCE",
}
TABLE_FUNCTIONS = {"EXPLODE", "CUBE_EXPLODE"}

_STRING_FUNCS = {
    "CONCAT", "CONCAT_WS", "SUBSTRING", "UCASE", "LCASE", "TRIM", "LTRIM", "RTRIM", "REPLACE",
    "REGEXP_REPLACE", "REGEXP_EXTRACT", "MASK", "MASK_LEFT", "MASK_RIGHT", "MASK_KEEP_LEFT",
    "MASK_KEEP_RIGHT", "LPAD", "RPAD", "INITCAP", "EXTRACTJSONFIELD", "FORMAT_DATE",
    "FORMAT_TIME", "FORMAT_TIMESTAMP", "TIMESTAMPTOSTRING", "CHR", "UUID", "TO_JSON_STRING",
    "ENCODE", "ELT", "SUBSTR", "FROM_BYTES", "URL_DECODE_PARAM",
    "URL_ENCODE_PARAM", "URL_EXTRACT_FRAGMENT", "URL_EXTRACT_HOST", "URL_EXTRACT_PATH",
    "URL_EXTRACT_PARAMETER", "URL_EXTRACT_PROTOCOL", "URL_EXTRACT_QUERY", "DATETOSTRING",
    "JSON_RECORDS", "JSON_KEYS", "IP_MASK", "REVERSE",
}
_INT_FUNCS = {"INT_FROM_BYTES", "LEN", "LENGTH", "INSTR", "STRINGTODATE", "ARRAY_LENGTH", "FIELD", "SIGN",
              "UNIX_DATE", "JSON_ARRAY_LENGTH", "URL_EXTRACT_PORT", "ASCII"}
_BIGINT_FUNCS = {"BIGINT_FROM_BYTES", "STRINGTOTIMESTAMP", "UNIX_TIMESTAMP"}
_DOUBLE_FUNCS = {"DOUBLE_FROM_BYTES", "EXP", "LN", "SQRT", "LOG", "POWER", "RANDOM", "SIN", "COS", "TAN", "ASIN",
                 "ACOS", "ATAN", "ATAN2", "SINH", "COSH", "TANH", "COT", "DEGREES", "RADIANS",
                 "PI", "CBRT", "GEO_DISTANCE"}
_BOOL_FUNCS = {"JSON_ARRAY_CONTAINS", "ARRAY_CONTAINS", "IS_JSON_STRING", "STARTSWITH", "ENDSWITH", "REGEXP_LIKE"}
_SAME_AS_ARG = {"ABS", "CEIL", "FLOOR", "AS_VALUE", "NULLIF", "ARRAY_SORT", "ARRAY_DISTINCT",
                "ARRAY_EXCEPT", "ARRAY_INTERSECT", "ARRAY_UNION", "ARRAY_REMOVE", "ARRAY_CONCAT",
                "MAP_UNION", "FILTER", "TRUNC", "SLICE"}


@dataclass
class Source:
    """What the analyzer needs to know about a catalog source."""

    name: str
    type: str  # STREAM / TABLE
    columns: list[Column]
    windowed: bool = False


@dataclass
class Output:
    columns: list[Column]
    result_type: str  # STREAM / TABLE
    windowed: bool
    window_type: str | None
    sources: list[str]


class Scope:
    def __init__(self, sources: list[tuple[str, Source]], windowed: bool, clause: str = "SELECT"):
        self.sources = sources  # (alias, source)
        self.windowed = windowed
        self.clause = clause
        self.lambda_vars: dict[str, T.SqlType | None] = {}
        self.synthetic: tuple[str, T.SqlType | None] | None = None  # a join's synthetic key column

    def resolve(self, e: Expr) -> T.SqlType:
        name, q = e.value, e.qualifier
        if q is None and name in self.lambda_vars:
            return self.lambda_vars[name]
        if q is None and self.synthetic is not None and name == self.synthetic[0]:
            return self.synthetic[1] or T.STRING
        if q is None and len(self.sources) > 1:
            # ksqlDB qualifies unqualified references first; every source has the pseudo
            # columns (ROWTIME, ...), so those are always ambiguous in a join
            owners = [alias for alias, src in self.sources
                      if name in PSEUDO or any(c.name == name for c in src.columns)
                      or (src.windowed and name in WINDOW_BOUNDS)]
            if len(owners) > 1:
                could = _joined(sorted(f"{a}.{name}" for a in owners), "or")
                raise AnalysisError(f"Column '{name}' is ambiguous. Could be {could}.")
        for alias, src in self.sources:
            if q is not None and q not in (alias, src.name):
                continue
            for c in src.columns:
                if c.name == name:
                    return c.type
            if name in PSEUDO:
                return PSEUDO[name]
            if self.windowed and name in WINDOW_BOUNDS:
                return WINDOW_BOUNDS[name]
        if q is None and name in TIME_UNITS:
            return None
        shown = f"{q}.{name}" if q else name
        if self.clause == "PARTITION BY":
            raise AnalysisError(f"PARTITION BY column '{shown}' cannot be resolved. '{shown}' must be a column "
                                f"in the source schema since PARTITION BY is applied on the input.")
        raise AnalysisError(f"{self.clause} column '{shown}' cannot be resolved.")


def _widest(types: list[T.SqlType | None]) -> T.SqlType | None:
    order = ["INTEGER", "BIGINT", "DECIMAL", "DOUBLE"]
    known = [t for t in types if t is not None]
    if not known:
        return None
    if all(t.base in order for t in known):
        best = max(known, key=lambda t: order.index(t.base))
        if best.base == "DECIMAL":
            decs = [T.decimal_of(t) for t in known]
            scale = max(t.scale for t in decs)
            digits = max(t.precision - t.scale for t in decs)
            return T.decimal(digits + scale, scale)
        return best
    return known[0]


def _arith(op: str, a: T.SqlType, b: T.SqlType, text: str) -> T.SqlType:
    if op == "||":
        return T.STRING
    if a is None or b is None:
        return a or b
    if a.base == "STRING" and b.base == "STRING" and op == "+":
        return T.STRING
    if not (a.is_numeric and b.is_numeric):
        if a.base in ("DATE", "TIME", "TIMESTAMP"):
            return a
        raise AnalysisError(
            f"Error processing expression: {text}. Unsupported arithmetic types. {a.render()} {b.render()}"
        )  # prefixed with the clause by type_of's caller
    if "DOUBLE" in (a.base, b.base):
        return T.DOUBLE
    if "DECIMAL" in (a.base, b.base):
        a, b = T.decimal_of(a), T.decimal_of(b)
        p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
        if op in ("+", "-"):
            s = max(s1, s2)
            p = s + max(p1 - s1, p2 - s2) + 1
        elif op == "*":
            p, s = p1 + p2 + 1, s1 + s2
        elif op == "/":
            s = max(6, s1 + p2 + 1)
            p = p1 - s1 + s2 + s
        else:
            s = max(s1, s2)
            p = min(p1 - s1, p2 - s2) + s
        return T.decimal(min(p, 38) if p > 38 else p, s)
    if "BIGINT" in (a.base, b.base):
        return T.BIGINT
    return T.INTEGER


def is_aggregate(e: Expr) -> bool:
    return e.kind == "func" and e.value in AGGREGATES


def maybe_aggregate(e: Expr | None) -> bool:
    """Contains a known aggregate or a function the emulator does not know (maybe a UDAF)."""
    if e is None:
        return False
    if e.kind == "func" and (e.value in AGGREGATES or e.value not in KNOWN_SCALARS):
        return True
    return any(isinstance(a, Expr) and maybe_aggregate(a) for a in e.args) or (
        e.kind == "case" and any(isinstance(x, Expr) and maybe_aggregate(x) for x in e.value)
    )


def contains_aggregate(e: Expr | None) -> bool:
    if e is None:
        return False
    if is_aggregate(e):
        return True
    return any(isinstance(a, Expr) and contains_aggregate(a) for a in e.args) or (
        e.kind == "case" and any(isinstance(x, Expr) and contains_aggregate(x) for x in e.value)
    )


def columns_in(e: Expr | None) -> list[Expr]:
    if e is None:
        return []
    if e.kind == "col":
        return [e]
    out = []
    for a in e.args:
        if isinstance(a, Expr):
            out += columns_in(a)
    if e.kind == "case":
        for x in e.value:
            if isinstance(x, Expr):
                out += columns_in(x)
    return out


def type_of(e: Expr, scope: Scope) -> T.SqlType | None:
    k = e.kind
    if k == "lit":
        return e.type
    if k == "col":
        return scope.resolve(e)
    if k == "deref":
        base = type_of(e.args[0], scope)
        if base is not None and base.base == "STRUCT":
            for n, t in base.fields:
                if n == e.value:
                    return t
        raise AnalysisError(f"Could not find field '{e.value}' in '{e.args[0].text}'.")
    if k == "sub":
        base = type_of(e.args[0], scope)
        type_of(e.args[1], scope)
        return base.item if base is not None and base.base in ("ARRAY", "MAP") else None
    if k == "binop":
        return _arith(e.value, type_of(e.args[0], scope), type_of(e.args[1], scope), e.text)
    if k == "neg":
        return type_of(e.args[0], scope)
    if k in ("cmp", "and", "or", "not", "isnull", "between", "in", "like"):
        for a in e.args:
            type_of(a, scope)
        if k == "cmp":
            l, r = (type_of(a, scope) for a in e.args)
            if all(a.kind == "lit" and a.type is None for a in e.args):
                raise AnalysisError(f"Comparison with NULL not supported: NULL {e.value} NULL")
            if l is not None and r is not None and _incomparable(l, r) and not _time_string(e.args, l, r):
                raise AnalysisError(
                    f"Cannot compare {_show(e.args[0], scope)} ({l.render()}) to {_show(e.args[1], scope)} "
                    f"({r.render()}) "
                    f"with {_CMP_NAMES.get(e.value, e.value)}."
                )
        return T.BOOLEAN
    if k == "case":
        operand, default = e.value
        if operand is not None:
            type_of(operand, scope)
        results = [type_of(e.args[i + 1], scope) for i in range(0, len(e.args), 2)]
        for i in range(0, len(e.args), 2):
            type_of(e.args[i], scope)
        if default is not None:
            results.append(type_of(default, scope))
        known = [t for t in results if t is not None]
        if not known:
            raise AnalysisError("Invalid Case expression. All case branches have NULL type")
        return known[0]
    if k == "cast":
        src = type_of(e.args[0], scope)
        if src is not None and e.type.base in ("ARRAY", "MAP", "STRUCT") and src.base != e.type.base:
            raise AnalysisError(f"Invalid {scope.clause.title() if scope.clause != 'SELECT' else 'Select'}: "
                                f"Cast of {src.render()} to {e.type.render()} is not supported")
        return e.type
    if k == "array":
        if not e.args:
            raise AnalysisError(
                "Array constructor cannot be empty. Please supply at least one element "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        items = [type_of(a, scope) for a in e.args]
        item = _widest(items)
        if item is None:
            raise AnalysisError(
                "Cannot construct an array with all NULL elements "
                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may "
                "cast a NULL value to the desired type."
            )
        return T.array(item)
    if k == "map":
        if not e.args:
            raise AnalysisError(
                "Map constructor cannot be empty. Please supply at least one key value pair "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        keys = [type_of(a, scope) for a in e.args[0::2]]
        vals = [type_of(a, scope) for a in e.args[1::2]]
        if all(t is None for t in keys):
            raise AnalysisError("Cannot construct a map with all NULL keys "
                                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, "
                                "you may cast a NULL key to the desired type.")
        if all(t is None for t in vals):
            raise AnalysisError("Cannot construct a map with all NULL values "
                                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, "
                                "you may cast a NULL value to the desired type.")
        return T.map_of(_widest(keys), _widest(vals))
    if k == "struct":
        return T.struct([(n, type_of(a, scope) or T.STRING) for n, a in zip(e.value, e.args)])
    if k == "lambda":
        return type_of(e.args[0], scope)
    if k == "func":
        return _func_type(e, scope)
    if k == "star":
        return None
    raise AnalysisError(f"Unsupported expression: {e.text}")


_CMP_NAMES = {"=": "EQUAL", "<>": "NOT_EQUAL", "<": "LESS_THAN", ">": "GREATER_THAN",
              "<=": "LESS_THAN_OR_EQUAL", ">=": "GREATER_THAN_OR_EQUAL",
              "IS DISTINCT FROM": "IS_DISTINCT_FROM"}


def _time_string(args: list[Expr], a: T.SqlType, b: T.SqlType) -> bool:
    """ROWTIME / WINDOWSTART / WINDOWEND may be compared with timestamp strings."""
    magic = {"ROWTIME", "WINDOWSTART", "WINDOWEND"}
    return any(x.kind == "col" and x.value in magic for x in args) and "STRING" in (a.base, b.base)


def _incomparable(a: T.SqlType, b: T.SqlType) -> bool:
    if a.is_numeric and b.is_numeric:
        return False
    if {a.base, b.base} <= {"DATE", "TIMESTAMP"}:
        return False
    if {a.base, b.base} <= {"STRING", "DATE", "TIME", "TIMESTAMP"} and "STRING" in (a.base, b.base):
        return False
    return a.base != b.base


def _lambda_type(fn: Expr, params: list[T.SqlType | None], scope: Scope) -> T.SqlType | None:
    if fn.kind != "lambda":
        return type_of(fn, scope)
    saved = dict(scope.lambda_vars)
    scope.lambda_vars.update(zip(fn.value, params))
    try:
        return type_of(fn.args[0], scope)
    finally:
        scope.lambda_vars = saved


def _func_type(e: Expr, scope: Scope) -> T.SqlType | None:
    name, args = e.value, e.args
    if name in ("TRANSFORM", "FILTER", "REDUCE", "ANY", "ALL", "NONE"):
        coll = type_of(args[0], scope) if args else None
        if coll is None:
            return None
        if coll.base == "ARRAY":
            if name == "TRANSFORM":
                return T.array(_lambda_type(args[1], [coll.item], scope) or T.STRING)
            if name == "FILTER":
                _lambda_type(args[1], [coll.item], scope)
                return coll
            if name == "REDUCE":
                init = type_of(args[1], scope)
                _lambda_type(args[2], [init, coll.item], scope)
                return init
            return T.BOOLEAN
        if coll.base == "MAP":
            if name == "TRANSFORM":
                kt = _lambda_type(args[1], [coll.key, coll.item], scope)
                vt = _lambda_type(args[2], [coll.key, coll.item], scope)
                return T.map_of(kt or T.STRING, vt or T.STRING)
            if name == "FILTER":
                _lambda_type(args[1], [coll.key, coll.item], scope)
                return coll
            if name == "REDUCE":
                init = type_of(args[1], scope)
                _lambda_type(args[2], [init, coll.key, coll.item], scope)
                return init
            return T.BOOLEAN
        return None
    types = [type_of(a, scope) for a in args]
    first = types[0] if types else None
    if name in ("DATEADD", "DATESUB", "TIMEADD", "TIMESUB", "TIMESTAMPADD", "TIMESTAMPSUB"):
        if not args or not (args[0].kind == "col" and args[0].qualifier is None and args[0].value in TIME_UNITS):
            shown = ", ".join(t.render() if t is not None else "null" for t in types)
            raise AnalysisError(f"Function '{e.qualifier}' does not accept parameters ({shown}).")
    if name in ("EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET") and len(args) > 1 and args[1].kind != "lit":
        raise AnalysisError(f"Parameter 2 passed to function {name} must be a literal constant, but was "
                            f"expression: '{args[1].text}'")
    if name in ("COUNT", "COUNT_DISTINCT"):
        return T.BIGINT
    if name == "SUM":
        return first
    if name in ("AVG", "STDDEV_SAMP", "STDDEV_SAMPLE", "CORRELATION", "VARIANCE"):
        return T.DOUBLE
    if name in ("MIN", "MAX", "ATTR"):
        return first
    if name in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
        return T.array(first) if len(args) > 1 and not (args[1].kind == "lit" and args[1].type == T.BOOLEAN) else first
    if name in ("COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT"):
        return T.array(first) if first else None
    if name == "HISTOGRAM":
        return T.map_of(T.STRING, T.BIGINT)
    if name in TABLE_FUNCTIONS:
        if name == "CUBE_EXPLODE":
            return first
        return first.item if first is not None and first.base == "ARRAY" else first
    if name in ("GREATEST", "LEAST", "COALESCE") and not args:
        dot = "" if name == "COALESCE" else "."
        raise AnalysisError(f"Function '{e.qualifier}' does not accept parameters (){dot}")
    if name in ("GREATEST", "LEAST"):
        shown = ", ".join(t.render() if t is not None else "null" for t in types)
        known = {t.base for t in types if t is not None}
        numeric = {"INTEGER", "BIGINT", "DECIMAL", "DOUBLE"}
        if not known or (known <= numeric and len(known) > 1 and "DOUBLE" not in known):
            raise AnalysisError(f"Function '{e.qualifier}' cannot be resolved due to ambiguous method "
                                f"parameters ({shown}).")
        temporal = known - {"STRING"}
        if len(known) > 1 and not known <= numeric and not (len(temporal) == 1 and temporal <= {"DATE", "TIME", "TIMESTAMP"}):
            raise AnalysisError(f"Function '{e.qualifier}' does not accept parameters ({shown}).")
        if temporal and temporal <= {"DATE", "TIME", "TIMESTAMP"}:
            return T.SqlType(next(iter(temporal)))
        return _widest(types)
    if name in ("IFNULL", "COALESCE"):
        return _widest(types)
    if name in _SAME_AS_ARG:
        return first
    if name == "ROUND":
        if first is not None and first.base == "DOUBLE":
            return T.DOUBLE if len(args) > 1 else T.BIGINT
        if first is not None and first.base == "DECIMAL":
            return T.decimal(first.precision - first.scale + 1, 0) if len(args) == 1 else first
        return first
    if name in ("ARRAY_MAX", "ARRAY_MIN"):
        return first.item if first is not None and first.base == "ARRAY" else None
    if name == "AS_MAP":
        return T.map_of(T.STRING, types[1].item if len(types) > 1 and types[1] and types[1].item else T.STRING)
    if name == "MAP_KEYS":
        return T.array(first.key) if first is not None and first.base == "MAP" else None
    if name == "MAP_VALUES":
        return T.array(first.item) if first is not None and first.base == "MAP" else None
    if name in ("SPLIT", "REGEXP_SPLIT_TO_ARRAY", "REGEXP_EXTRACT_ALL"):
        return T.array(T.BYTES if first is not None and first.base == "BYTES" else T.STRING)
    if name in ("ENTRIES",):
        return T.array(T.struct([("K", T.STRING), ("V", first.item if first else T.STRING)]))
    if name == "GENERATE_SERIES":
        return T.array(first)
    if name == "ARRAY":
        return T.array(_widest(types))
    if name == "TO_BYTES":
        return T.BYTES
    if name in ("FROM_UNIXTIME", "PARSE_TIMESTAMP", "TIMESTAMPADD", "TIMESTAMPSUB",
                "CONVERT_TZ"):
        return T.TIMESTAMP
    if name in ("PARSE_DATE", "DATEADD", "DATESUB"):
        return T.DATE
    if name in ("PARSE_TIME", "TIMEADD", "TIMESUB"):
        return T.TIME
    if name in _INT_FUNCS:
        return T.INTEGER
    if name in _BIGINT_FUNCS:
        return T.BIGINT
    if name in _DOUBLE_FUNCS:
        return T.DOUBLE
    if name in _BOOL_FUNCS:
        return T.BOOLEAN
    if name in ("SUBSTRING", "REPLACE", "LPAD", "RPAD", "TRIM", "UCASE", "LCASE", "CONCAT") and first is not None and first.base == "BYTES":
        return T.BYTES
    return T.STRING


KNOWN_SCALARS = (_STRING_FUNCS | _INT_FUNCS | _BIGINT_FUNCS | _DOUBLE_FUNCS | _BOOL_FUNCS | _SAME_AS_ARG
                 | TABLE_FUNCTIONS | {
    "TRANSFORM", "FILTER", "REDUCE", "IFNULL", "COALESCE", "GREATEST", "LEAST", "ROUND", "ARRAY_MAX",
    "ARRAY_MIN", "AS_MAP", "MAP_KEYS", "MAP_VALUES", "SPLIT", "REGEXP_SPLIT_TO_ARRAY",
    "REGEXP_EXTRACT_ALL", "ENTRIES", "GENERATE_SERIES", "ARRAY", "TO_BYTES", "FROM_UNIXTIME",
    "PARSE_TIMESTAMP", "TIMESTAMPADD", "TIMESTAMPSUB", "CONVERT_TZ", "PARSE_DATE", "DATEADD",
    "DATESUB", "PARSE_TIME", "TIMEADD", "TIMESUB"})


# ---------------------------------------------------------------------------
# Output schema
# ---------------------------------------------------------------------------


def _expand(q: Query, scope: Scope, joined: bool, keys_last: bool = False) -> list[tuple[Expr, str | None]]:
    """SELECT items with '*' expanded into column references (name decided later)."""
    out: list[tuple[Expr, str | None]] = []
    for item in q.items:
        if item.expr.kind == "structall":
            st = type_of(item.expr.args[0], scope)
            if st is None or st.base != "STRUCT":
                raise AnalysisError(f"Cannot expand {item.expr.text}: not a STRUCT")
            for fname, _ in st.fields:
                out.append((Expr("deref", [item.expr.args[0]], value=fname, text=f"{item.expr.args[0].text}->{fname}"), fname))
            continue
        if item.expr.kind != "star":
            out.append((item.expr, item.alias))
            continue
        for alias, src in scope.sources:
            if item.expr.qualifier is not None and item.expr.qualifier not in (alias, src.name):
                continue
            keys = [c for c in src.columns if c.kind in ("KEY", "PRIMARY_KEY")]
            vals = [c for c in src.columns if c.kind not in ("KEY", "PRIMARY_KEY")]  # values and headers
            for c in (vals + keys if keys_last else keys + vals):
                ref = Expr("col", value=c.name, qualifier=alias, text=f"{alias}.{c.name}")
                out.append((ref, f"{alias}_{c.name}" if joined else c.name))
    return out


def _same(a: Expr, b: Expr, scope: Scope) -> bool:
    """Two expressions are the same column reference or have the same text."""
    if a.kind == "col" and b.kind == "col":
        if a.value != b.value:
            return False
        if a.qualifier is None or b.qualifier is None:
            return True
        ok = {a.qualifier, b.qualifier}
        for alias, src in scope.sources:
            if ok <= {alias, src.name}:
                return True
        return a.qualifier == b.qualifier
    return _norm(a, scope) == _norm(b, scope)


def _norm(e: Expr, scope: Scope) -> str:
    if e.kind == "col":
        return e.value
    if e.kind in ("func", "binop", "cmp", "neg", "deref", "sub", "cast"):
        parts = ",".join(_norm(a, scope) for a in e.args if isinstance(a, Expr))
        return f"{e.kind}:{e.value}:{e.type.render() if e.type else ''}({parts})"
    return e.text


def _qualified(e: Expr, default: str) -> str:
    """ksqlDB's rendering of an expression in key messages: columns qualified by source."""
    if e.kind == "col":
        return f"{e.qualifier or default}.{e.value}"
    if e.kind == "func":
        return f"{e.value}(" + ", ".join(_qualified(a, default) for a in e.args) + ")"
    if e.kind == "binop":
        return f"({_qualified(e.args[0], default)} {e.value} {_qualified(e.args[1], default)})"
    return e.text


def _joined(items: list[str], word: str = "and") -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _missing(sink: str, what: str, exprs: list[str], require_all: bool = True) -> AnalysisError:
    """ksqlDB's message for key expressions the projection lacks: all of them are needed
    (GROUP BY, PARTITION BY), or any one will do (the columns a join's key equals)."""
    types = what + ("" if len(exprs) == 1 else "s")
    postfix = "s" if len(exprs) > 1 and require_all else ""
    listed = _joined(exprs, "and" if require_all else "or")
    example = ", ".join(exprs) if require_all else exprs[0]
    return AnalysisError(
        f"Key{postfix} missing from projection (ie, SELECT). \n"
        f"The query used to build `{sink}` must include the {types} {listed} in its "
        f"projection (eg, SELECT {example}...)."
    )


SYNTHETIC_KEY_DOC = "https://cnfl.io/2LV7ouS"
_NUMBERED = re.compile(r"(?P<name>.*?)(?:_(?P<number>\d+))?")


def _canon(e: Expr, scoped) -> str:
    """An expression with every column qualified by its source's alias, for comparing
    join expressions as ksqlDB does after qualifying unqualified references."""
    if e.kind == "col":
        owner = (_alias_of(e.qualifier, scoped) if e.qualifier is not None
                 else next((a for a, src in scoped if any(c.name == e.value for c in src.columns)), ""))
        return f"{owner}.{e.value}"
    if e.kind in ("func", "binop", "cmp", "neg", "deref", "sub", "cast"):
        parts = ",".join(_canon(a, scoped) for a in e.args if isinstance(a, Expr))
        return f"{e.kind}:{e.value}:{e.type.render() if e.type else ''}({parts})"
    return e.text


def _join_sides(q: Query, i: int, scoped, scope: Scope) -> tuple[Expr, Expr] | None:
    """(left, right) of join i's equality, right being the side of the source it joins."""
    cond = q.joins[i].on
    if cond.kind != "cmp" or cond.value != "=":
        return None
    a, b = cond.args

    def only_right(x: Expr) -> bool:
        cols = columns_in(x)
        return bool(cols) and all(_belongs(c, scoped[i + 1], scope) for c in cols)

    return (b, a) if only_right(a) and not only_right(b) else (a, b)


def _viable_join_keys(q: Query, scoped, scope: Scope) -> list[Expr]:
    """The source columns a join's result key equals, in ksqlDB's order (its JoinTree).

    Joins nest left-deep. A join's key equals both sides of its condition, plus what its
    left input's key equals when one side is among those; a FULL join's key equals nothing
    (either side may be null). Only plain columns qualify; none => a synthetic key.
    """
    equiv: set[str] = set()
    viable: list[Expr] = []
    for i, j in enumerate(q.joins):
        sides = _join_sides(q, i, scoped, scope)
        if sides is None or j.kind == "FULL":
            equiv, viable = set(), []
            continue
        keys = {_canon(x, scoped) for x in sides}
        equiv = keys | (equiv if equiv & keys else set())
        ordered: list[Expr] = []
        for x in viable + list(sides):
            if x.kind == "col" and _canon(x, scoped) in equiv and all(
                    _canon(x, scoped) != _canon(o, scoped) for o in ordered):
                ordered.append(x)
        viable = ordered
    return viable


def _synthetic_key(q: Query, scoped, scope: Scope) -> tuple[str, T.SqlType | None]:
    """ROWKEY, or ROWKEY_<n> when a source already has a column of that name; typed as
    the last join's expression."""
    used = set()
    for _, src in scoped:
        for c in src.columns:
            if c.name == "ROWKEY":
                used.add(0)
            elif c.name.startswith("ROWKEY_") and c.name[7:].isdigit():
                used.add(int(c.name[7:]))
    n = next(i for i in range(len(used) + 1) if i not in used)
    sides = _join_sides(q, len(q.joins) - 1, scoped, scope)
    try:
        ktype = type_of(sides[0], scope) if sides else None
    except AnalysisError:
        ktype = None
    return ("ROWKEY" if n == 0 else f"ROWKEY_{n}"), ktype


def _foreign_key_join(q: Query, scoped, scope: Scope) -> bool:
    """A table-table join whose left side is not exactly the left table's (single) key."""
    sides = _join_sides(q, 0, scoped, scope)
    if sides is None:
        return False
    left = sides[0]
    lkeys = [c.name for c in scoped[0][1].columns if c.kind in ("KEY", "PRIMARY_KEY")]
    return not (left.kind == "col" and len(lkeys) == 1 and left.value == lkeys[0])


def _find_key(ref: Expr, named, used: set[int], scoped) -> int | None:
    """The projection item that selects column ``ref`` (not already a key)."""
    want = _canon(ref, scoped)
    return next((i for i, (e, _, _) in enumerate(named)
                 if i not in used and e.kind == "col" and _canon(e, scoped) == want), None)


def _no_duplicate_key(ref: Expr, named, scoped, internal: str) -> None:
    want = _canon(ref, scoped)
    dups = sorted(alias for e, alias, _ in named if e.kind == "col" and _canon(e, scoped) == want)
    if len(dups) > 1:
        raise AnalysisError(
            f"The projection contains a key column (`{internal}`) more than once, aliased as: "
            f"{_joined(dups)}.\nEach key column must only be in the projection once. If you intended "
            f"to copy the key into the value, then consider using the AS_VALUE function to indicate "
            f"which key reference should be copied.")


def analyze(q: Query, sink: str, sources: dict[str, Source], statement_type: str | None) -> Output:
    """Derive the sink's schema; raise AnalysisError with ksqlDB's message on bad queries."""
    rels = [q.source] + [j.right for j in q.joins]
    scoped = []
    for r in rels:
        src = sources.get(r.name)
        if src is None:
            raise AnalysisError(f"Line: {r.line}, Col: {r.col}: Source `{r.name}` does not exist.")
        scoped.append((r.alias, src))
    windowed = q.window is not None or scoped[0][1].windowed
    scope = Scope(scoped, windowed)
    joined = bool(q.joins)
    viable: list[Expr] = []
    synthetic: tuple[str, T.SqlType | None] = ("ROWKEY", None)
    if joined:
        viable = _viable_join_keys(q, scoped, scope)
        if not viable:
            synthetic = _synthetic_key(q, scoped, scope)
            scope.synthetic = synthetic

    if q.where is not None:
        scope.clause = "WHERE"
        wt = _clause_type(q.where, scope)
        if wt is not None and wt.base != "BOOLEAN":
            raise AnalysisError(
                f"Type error in WHERE expression: Should evaluate to boolean but is {q.where.text} "
                f"({wt.render()}) instead."
            )
    scope.clause = "SELECT"

    star_partition = bool(q.partition_by) and not joined and any(i.expr.kind == "star" for i in q.items)
    items = _expand(q, scope, joined, keys_last=star_partition)
    # Generated names KSQL_COL_n skip names that already exist in the sources.
    taken = {c.name for _, s in scoped for c in s.columns}
    counter = 0
    source_numbers: dict[str, set[int]] = {}
    for name in taken:
        m = _NUMBERED.fullmatch(name)
        source_numbers.setdefault(m["name"], set()).add(int(m["number"] or 0))
    field_counters: dict[str, int] = {}
    named: list[tuple[Expr, str, T.SqlType | None]] = []
    for e, alias in items:
        t = type_of(e, scope)
        if alias is None:
            # ksqlDB (AstSanitizer): in a join, a column named by more than one source, or a
            # qualified pseudo column (ROWTIME, ...), is <SOURCE ALIAS>_<COLUMN>
            if e.kind == "col" and joined and (_ambiguous(e.value, scoped)
                                               or (e.qualifier is not None and e.value in PSEUDO)):
                src_alias = e.qualifier or next(a for a, src in scoped if any(c.name == e.value for c in src.columns))
                alias = f"{_alias_of(src_alias, scoped)}_{e.value}"
            elif e.kind == "col":
                alias = e.value
            elif e.kind == "deref":
                # ksqlDB's ColumnNames: the field's name, or <name>_<n> skipping the numbers
                # that source columns (NAME is NAME_0) and earlier fields of that name use
                base = _NUMBERED.fullmatch(e.value)["name"]
                n = field_counters.get(base, 0)
                while n in source_numbers.get(base, ()):
                    n += 1
                field_counters[base] = n + 1
                alias = base if n == 0 else f"{base}_{n}"
            else:
                while f"KSQL_COL_{counter}" in taken:
                    counter += 1
                alias = f"KSQL_COL_{counter}"
                counter += 1
        named.append((e, alias, t))

    for e, alias, t in named:
        if t is None and e.kind == "lit":
            raise AnalysisError("Can't infer a type of null. Please explicitly cast it to a required type, "
                                "e.g. CAST(null AS VARCHAR).")
    if q.joins:
        _check_joins(q, scoped, scope)
    if scoped[0][1].type == "TABLE" and any(f.value in TABLE_FUNCTIONS for e, _, _ in named for f in _calls(e)):
        raise AnalysisError("Table source is not supported with table functions")
    has_agg = any(contains_aggregate(e) for e, _, _ in named) or contains_aggregate(q.having)
    left_type = scoped[0][1].type
    keys: list[Column] = []
    used: set[int] = set()

    if q.group_by or has_agg:
        result = "TABLE"
        scope.clause = "GROUP BY"
        for g in q.group_by:
            agg = next((f for f in _calls(g) if f.value in AGGREGATES), None)
            if agg is not None:
                raise AnalysisError(f"GROUP BY does not support aggregate functions: {agg.value} is an "
                                    f"aggregate function.")
            type_of(g, scope)
        for e, _, _ in named:
            for f in _calls(e):
                if f.value in AGGREGATES and any(contains_aggregate(a) for a in f.args):
                    shown = _show(f, scope).replace("(*)", "()")
                    raise AnalysisError(f"Aggregate functions can not be nested: {shown}")
        if q.group_by and not (has_agg or any(maybe_aggregate(e) for e, _, _ in named) or maybe_aggregate(q.having)):
            raise AnalysisError("GROUP BY requires aggregate functions in either the SELECT or HAVING clause.")
        bad = [_show(e, scope) for e, _, _ in named if not _grouped(e, q.group_by, scope)]
        if bad:
            raise AnalysisError("Non-aggregate SELECT expression(s) not part of GROUP BY: " + ", ".join(bad)
                                + "\nEither add the column(s) to the GROUP BY or remove them from the SELECT.")
        if q.having is not None and not _grouped(q.having, q.group_by, scope):
            cols = [_show(c, scope) for c in columns_in(q.having) if not any(_same(c, g, scope) for g in q.group_by)]
            raise AnalysisError("Non-aggregate HAVING expression not part of GROUP BY: " + ", ".join(cols))
        if left_type == "TABLE" and not joined:
            bad_udafs = []
            for e, _, _ in named:
                for f in _calls(e):
                    if f.value in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "MIN", "MAX", "TOPK",
                                   "TOPKDISTINCT", "COLLECT_SET") and f.value not in bad_udafs:
                        bad_udafs.append(f.value)
            if bad_udafs:
                raise AnalysisError(f"The aggregation function{'s' if len(bad_udafs) > 1 else ''} "
                                    f"{_joined(bad_udafs)} cannot be applied to a table source, only to a "
                                    f"stream source.")
        if not q.group_by and statement_type == "TABLE":
            calls = [_show(f, scope).replace("(*)", "(ROWTIME)")
                     for e, _, _ in named for f in _calls(e) if f.value in AGGREGATES]
            raise AnalysisError(f"CREATE TABLE AS SELECT statement does not support aggregate function "
                                f"[{', '.join(calls)}] without a GROUP BY clause.")
        found: list[int | None] = []
        for g in q.group_by:
            idx = next((i for i, (e, _, _) in enumerate(named) if i not in used and _same(e, g, scope)), None)
            found.append(idx)
            if idx is not None:
                used.add(idx)
        if None in found:
            raise _missing(sink, "grouping expression", [_show(g, scope) for g in q.group_by])
        for idx in found:
            e, alias, t = named[idx]
            keys.append(Column(alias, t or T.STRING, "PRIMARY_KEY"))
        for g in q.group_by:
            dups = [alias for e, alias, _ in named if _same(e, g, scope)]
            if len(dups) > 1:
                raise AnalysisError(
                    f"The projection contains a key column more than once: {_joined([f'`{d}`' for d in dups])}."
                    f"\nEach key column must only be in the projection once. If you intended to copy the key "
                    f"into the value, then consider using the AS_VALUE function to indicate which key "
                    f"reference should be copied.")
    elif q.partition_by:
        result = left_type
        if result == "TABLE":
            raise AnalysisError("Invalid Partition By: PARTITION BY is not supported on tables.")
        scope.clause = "PARTITION BY"
        exprs = [p for p in q.partition_by if not (p.kind == "lit" and p.type is None)]
        if len(exprs) != len(q.partition_by) and len(q.partition_by) > 1:
            raise AnalysisError("Cannot PARTITION BY multiple columns including NULL")
        for p in exprs:
            type_of(p, scope)
        missing = []
        for p in exprs:
            idx = next((i for i, (e, _, _) in enumerate(named) if i not in used and _same(e, p, scope)), None)
            if idx is None and star_partition:
                # SELECT * ... PARTITION BY expr: the expression becomes the key column.
                if p.kind in ("col", "deref"):
                    pname = p.value
                else:
                    while f"KSQL_COL_{counter}" in taken:
                        counter += 1
                    pname = f"KSQL_COL_{counter}"
                    counter += 1
                keys.append(Column(pname, type_of(p, scope) or T.STRING, "KEY"))
                continue
            if idx is None:
                missing.append(_qualified(p, q.source.alias))
                continue
            used.add(idx)
            e, alias, t = named[idx]
            keys.append(Column(alias, t or T.STRING, "KEY"))
        if missing:
            raise _missing(sink, "partitioning expression", [_qualified(p, q.source.alias) for p in exprs])
        for p in exprs:
            dups = sorted(alias for e, alias, _ in named if _same(e, p, scope))
            if len(dups) > 1:
                shown = p.value if p.kind == "col" else p.text
                raise AnalysisError(
                    f"The projection contains a key column (`{shown}`) more than once, aliased as: "
                    f"{_joined(dups)}.\nEach key column must only be in the projection once. If you intended "
                    f"to copy the key into the value, then consider using the AS_VALUE function to indicate "
                    f"which key reference should be copied.")
    elif q.joins:
        result = "TABLE" if all(s.type == "TABLE" for _, s in scoped) else "STREAM"
        key_kind = "PRIMARY_KEY" if result == "TABLE" else "KEY"
        left_alias, left_src = scoped[0]
        if result == "TABLE" and _foreign_key_join(q, scoped, scope):
            # ksqlDB: a foreign-key join is keyed by all of the left table's key columns
            missing = []
            for k in (c for c in left_src.columns if c.kind in ("KEY", "PRIMARY_KEY")):
                ref = Expr("col", value=k.name, qualifier=left_alias, text=f"{left_alias}.{k.name}")
                idx = _find_key(ref, named, used, scoped)
                if idx is None:
                    missing.append(k.name)
                    continue
                used.add(idx)
                keys.append(Column(named[idx][1], named[idx][2] or T.STRING, key_kind))
                _no_duplicate_key(ref, named, scoped, f"{left_alias}_{k.name}")
            if missing:
                col = "column" if len(missing) == 1 else "columns"
                raise AnalysisError(
                    f"Primary key {col} missing in projection. For foreign-key table-table joins, the "
                    f"projection must include all primary key columns from the left input table "
                    f"(`{left_src.name}`). Missing {col}: {', '.join(f'`{m}`' for m in missing)}.")
        elif viable:
            # the first viable column (in ksqlDB's order) that the projection selects is the key
            found = next(((w, i) for w in viable if (i := _find_key(w, named, used, scoped)) is not None), None)
            if found is None:
                raise _missing(sink, "join expression", [_qualified(w, left_alias) for w in viable],
                               require_all=False)
            w, idx = found
            used.add(idx)
            keys.append(Column(named[idx][1], named[idx][2] or T.STRING, key_kind))
            _no_duplicate_key(w, named, scoped, f"{_canon(w, scoped).replace('.', '_')}")
        else:
            # FULL joins and joins on expressions: the synthetic key must be selected by name
            name, ktype = synthetic
            idx = next((i for i, (e, _, _) in enumerate(named)
                        if e.kind == "col" and e.qualifier is None and e.value == name), None)
            if idx is None:
                raise AnalysisError(
                    f"Key missing from projection (ie, SELECT). See {SYNTHETIC_KEY_DOC}.\n"
                    f"The query used to build `{sink}` must include the join expression {name} in its "
                    f"projection (eg, SELECT {name}...).\n{name} was added as a synthetic key column because "
                    f"the join criteria did not match any source column. This expression must be included "
                    f"in the projection and may be aliased. ")
            used.add(idx)
            keys.append(Column(named[idx][1], named[idx][2] or ktype or T.STRING, key_kind))
    else:
        result = left_type
        src_keys = [c for c in scoped[0][1].columns if c.kind in ("KEY", "PRIMARY_KEY")]
        missing = []
        for k in src_keys:
            idx = next((i for i, (e, _, _) in enumerate(named)
                        if i not in used and e.kind == "col" and e.value == k.name), None)
            if idx is None:
                missing.append(k.name)
                continue
            used.add(idx)
            e, alias, t = named[idx]
            keys.append(Column(alias, t, "PRIMARY_KEY" if result == "TABLE" else "KEY"))
        if missing:
            raise _missing(sink, "key column", [k.name for k in src_keys])
        order = sorted(used)
        by_alias = {c.name: c for c in keys}
        keys = [by_alias[named[i][1]] for i in order if named[i][1] in by_alias]

    if q.having is not None and not q.group_by:
        raise AnalysisError("HAVING can only be used with GROUP BY")
    if q.having is not None:
        scope.clause = "HAVING"
        _clause_type(q.having, scope)
        scope.clause = "SELECT"

    values = [Column(alias, t or T.STRING) for i, (e, alias, t) in enumerate(named) if i not in used]
    if not values:
        raise AnalysisError("The projection contains no value columns.")
    seen: set[str] = set()
    for c in keys + values:
        if c.name in seen:
            if c in values:
                raise AnalysisError(f"Duplicate value columns found in schema: `{c.name}` {c.type.render()}")
            raise AnalysisError(f"Duplicate key columns found in schema: `{c.name}` {c.type.render()}")
        seen.add(c.name)

    if statement_type == "STREAM" and result == "TABLE":
        raise AnalysisError("Invalid result type. Your SELECT query produces a TABLE. "
                            "Please use CREATE TABLE AS SELECT statement instead.")
    if statement_type == "TABLE" and result == "STREAM":
        raise AnalysisError("Invalid result type. Your SELECT query produces a STREAM. "
                            "Please use CREATE STREAM AS SELECT statement instead.")
    if q.emit == "FINAL" and q.window is None:
        raise AnalysisError("EMIT FINAL is only supported for windowed aggregations.")
    window_type = q.window or (None if not scoped[0][1].windowed else "")
    kind = "PRIMARY_KEY" if result == "TABLE" else "KEY"
    keys = [Column(k.name, k.type, kind) for k in keys]
    return Output(keys + values, result, windowed, window_type, [r.name for r in rels])


def _clause_type(e: Expr, scope: Scope) -> T.SqlType | None:
    """type_of for WHERE / HAVING, with ksqlDB's "Error in <clause> expression: " prefix."""
    try:
        return type_of(e, scope)
    except AnalysisError as err:
        msg = str(err)
        if msg.startswith(("Cannot compare", "Error processing expression")):
            raise AnalysisError(f"Error in {scope.clause} expression: {msg}") from None
        raise


def _owned(e: Expr, scope: Scope) -> str:
    """Columns qualified by their source, as in ksqlDB's join-condition messages."""
    if e.kind == "col":
        owner = e.qualifier or next((a for a, src in scope.sources
                                     if any(c.name == e.value for c in src.columns)), "")
        return f"{owner}.{e.value}" if owner else e.value
    if e.kind == "cast":
        return f"CAST({_owned(e.args[0], scope)} AS {e.type.render()})"
    if e.kind == "func":
        return f"{e.value}(" + ", ".join(_owned(a, scope) for a in e.args) + ")"
    return e.text


def _show(e: Expr, scope: Scope) -> str:
    """An expression as ksqlDB prints it after analysis: join columns as ALIAS_COLUMN."""
    k = e.kind
    if k == "col":
        if len(scope.sources) > 1 and e.value not in scope.lambda_vars:
            owner = e.qualifier or next((a for a, src in scope.sources
                                         if any(c.name == e.value for c in src.columns)), None)
            if owner is not None:
                for alias, src in scope.sources:
                    if owner in (alias, src.name):
                        return f"{alias}_{e.value}"
        return e.value
    if k == "func":
        if not e.args and e.text.endswith("(*)"):
            return f"{e.value}(*)"
        return f"{e.value}(" + ", ".join(_show(a, scope) for a in e.args) + ")"
    if k in ("binop", "cmp"):
        return f"({_show(e.args[0], scope)} {e.value} {_show(e.args[1], scope)})"
    if k == "deref":
        return f"{_show(e.args[0], scope)}->{e.value}"
    if k == "struct":
        return "STRUCT(" + ", ".join(f"{n}:={_show(a, scope)}" for n, a in zip(e.value, e.args)) + ")"
    if k == "cast":
        return f"CAST({_show(e.args[0], scope)} AS {e.type.render()})"
    if k == "and":
        return f"({_show(e.args[0], scope)} AND {_show(e.args[1], scope)})"
    if k == "or":
        return f"({_show(e.args[0], scope)} OR {_show(e.args[1], scope)})"
    return e.text


def _calls(e: Expr) -> list[Expr]:
    out = [e] if e.kind == "func" else []
    for a in e.args:
        if isinstance(a, Expr):
            out += _calls(a)
    return out


def _check_joins(q: Query, scoped, scope: Scope) -> None:
    """ksqlDB's join checks: one equality per join, on the table's primary key for stream-table."""
    left_alias, left = scoped[0]
    for n, (j, (alias, right)) in enumerate(zip(q.joins, scoped[1:])):
        cond = j.on
        if cond.kind == "and":
            raise AnalysisError(f"Invalid join condition: joins on multiple conditions are not yet supported. "
                                f"Got {cond.text}.")
        if cond.kind != "cmp":
            continue
        lt, rt = (type_of(a, scope) for a in cond.args)
        if lt is not None and rt is not None and lt.base != rt.base and not (lt.is_numeric and rt.is_numeric):
            la, ra = (_owned(a, scope) for a in cond.args)
            raise AnalysisError(f"Invalid join condition: types don't match. Got {la}{{{lt.render()}}} = "
                                f"{ra}{{{rt.render()}}}.")
        if left.type == "TABLE" and right.type == "TABLE" and j.kind == "RIGHT":
            lkeys = {c.name for c in left.columns if c.kind in ("KEY", "PRIMARY_KEY")}
            lside = next((a for a in cond.args if columns_in(a)
                          and all(_belongs(c, (left_alias, left), scope) for c in columns_in(a))), None)
            if lside is not None and not (lside.kind == "col" and lside.value in lkeys):
                raise AnalysisError("RIGHT OUTER JOIN on a foreign key is not supported")
        for side in cond.args:
            if not columns_in(side):
                raise AnalysisError(f"Invalid comparison expression '{side.text}' in join '{cond.text}'. Each "
                                    f"side of the join comparision must contain references from exactly one "
                                    f"source.")
        if left.type == "TABLE" and right.type == "STREAM":
            kind = {"INNER": "[INNER] JOIN", "LEFT": "LEFT [OUTER] JOIN", "RIGHT": "RIGHT [OUTER] JOIN",
                    "FULL": "[FULL] OUTER JOIN"}[j.kind]
            raise AnalysisError(f"Invalid join order: table-stream joins are not supported; only stream-table "
                                f"joins. Got {left_alias} {kind} {alias}.")
        if left.type == "STREAM" and right.type == "TABLE":
            if j.kind == "FULL":
                raise AnalysisError(f"Invalid join type: full-outer join not supported for stream-table join. "
                                    f"Got {left_alias} [FULL] OUTER JOIN {alias}.")
            rkeys = [c.name for c in right.columns if c.kind in ("KEY", "PRIMARY_KEY")]
            rside = next((a for a in cond.args if columns_in(a)
                          and all(_belongs(c, (alias, right), scope) for c in columns_in(a))
                          and not all(_belongs(c, (left_alias, left), scope) for c in columns_in(a))), None)
            lside = next((a for a in cond.args if a is not rside), None)
            if rside is not None and not (rside.kind == "col" and rside.value in rkeys and len(rkeys) == 1):
                def q_(x):
                    return _qualified(x, left_alias) if x is lside else _qualified(x, alias)
                raise AnalysisError(f"Invalid join condition: stream-table joins require to join on the "
                                    f"table's primary key. Got {q_(lside)} = {q_(rside)}.")
        if left.type == "TABLE" and right.type == "TABLE":
            rkeys = [c.name for c in right.columns if c.kind in ("KEY", "PRIMARY_KEY")]
            sides = _join_sides(q, n, scoped, scope)
            if sides is not None and not (sides[1].kind == "col" and len(rkeys) == 1 and sides[1].value == rkeys[0]):
                lq, rq = _qualified(sides[0], left_alias), _qualified(sides[1], alias)
                raise AnalysisError(f"Invalid join condition: table-table joins require to join on the "
                                    f"primary key of the right input table. Got {lq} = {rq}.")


def _grouped(e: Expr, group_by: list[Expr], scope: Scope) -> bool:
    """ksqlDB's rule: every column outside an aggregate must be (inside) a GROUP BY expression."""
    if any(_same(e, g, scope) for g in group_by):
        return True
    if maybe_aggregate(e) and e.kind == "func" and (e.value in AGGREGATES or e.value not in KNOWN_SCALARS):
        return True
    if e.kind == "col":
        return e.value in WINDOW_BOUNDS or e.value in TIME_UNITS
    if e.kind == "lit":
        return True
    parts = [a for a in e.args if isinstance(a, Expr)]
    if e.kind == "case":
        parts += [x for x in e.value if isinstance(x, Expr)]
    return all(_grouped(a, group_by, scope) for a in parts)


def _ambiguous(name: str, scoped) -> bool:
    return sum(any(c.name == name for c in src.columns) for _, src in scoped) > 1


def _alias_of(qualifier: str, scoped) -> str:
    for alias, src in scoped:
        if qualifier in (alias, src.name):
            return alias
    return qualifier


def _belongs(col: Expr, scoped_entry, scope: Scope) -> bool:
    alias, src = scoped_entry
    if col.qualifier is not None:
        return col.qualifier in (alias, src.name)
    return any(c.name == col.value for c in src.columns)

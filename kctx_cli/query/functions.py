"""ksqlDB functions as the DSL knows them: which are aggregates, how many arguments
they take and the type they return (ksqlDB's function reference). A function missing
here still renders (``func.ANY_NAME(...)``); its result type is then unknown and not
checked.
"""
from __future__ import annotations

import re
from typing import Callable

from kctx_cli.model import types as T
from kctx_cli.model.types import SqlType


class FunctionTypeError(Exception):
    """Arguments a function cannot take; the message is shown to the user."""


# ---------------------------------------------------------------------------
# type text -> SqlType (for cast() and the function table)
# ---------------------------------------------------------------------------

_PY = {int: T.BIGINT, str: T.STRING, float: T.DOUBLE, bool: T.BOOLEAN, bytes: T.BYTES}
_ALIASES = {"INTEGER": "INT", "VARCHAR": "STRING"}


def parse_type(spec) -> SqlType:
    """``"DECIMAL(10, 2)"``, ``"ARRAY<STRING>"``, a SqlType or a Python type -> SqlType."""
    if isinstance(spec, SqlType):
        return spec
    if spec in _PY:
        return _PY[spec]
    if not isinstance(spec, str):
        raise ValueError(f"cannot cast to {spec!r}: give a ksqlDB type name such as 'DECIMAL(10, 2)'")
    t, rest = _parse(spec.strip())
    if rest.strip():
        raise ValueError(f"cannot parse type {spec!r}")
    return t


def _parse(s: str) -> tuple[SqlType, str]:
    m = re.match(r"\s*([A-Za-z_]+)\s*", s)
    if not m:
        raise ValueError(f"cannot parse type {s!r}")
    name = _ALIASES.get(m.group(1).upper(), m.group(1).upper())
    rest = s[m.end():]
    if name == "DECIMAL":
        m2 = re.match(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*", rest)
        if not m2:
            raise ValueError("DECIMAL needs (precision, scale)")
        return T.decimal_type(int(m2.group(1)), int(m2.group(2))), rest[m2.end():]
    if name == "ARRAY":
        item, rest = _parse(rest.lstrip()[1:])
        return T.array_of(item), rest.lstrip()[1:]
    if name == "MAP":
        _key, rest = _parse(rest.lstrip()[1:])
        item, rest = _parse(rest.lstrip()[1:])
        return T.map_of(item), rest.lstrip()[1:]
    if name == "STRUCT":
        rest = rest.lstrip()[1:]
        members = []
        while True:
            m3 = re.match(r"\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s+", rest)
            if not m3:
                break
            t, rest = _parse(rest[m3.end():])
            members.append((m3.group(1).upper(), t))
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:]
                continue
            break
        return SqlType("STRUCT", fields=tuple(members)), rest.lstrip()[1:]
    if name not in T.PRIMITIVES:
        raise ValueError(f"unknown ksqlDB type {name}")
    return SqlType(name), rest


# ---------------------------------------------------------------------------
# return-type rules
# ---------------------------------------------------------------------------

INT_RANGE = (-(2**31), 2**31 - 1)


def decimal_of(t: SqlType) -> SqlType:
    """ksqlDB's implicit upcast of an integer to DECIMAL (data-types reference)."""
    if t.name == "INT":
        return T.decimal_type(10, 0)
    if t.name == "BIGINT":
        return T.decimal_type(19, 0)
    return t


def _same(i: int = 0) -> Callable:
    return lambda args: args[i] if i < len(args) else None


def _first_known(args):
    return next((a for a in args if a is not None), None)


def _round(args):
    t = args[0]
    if t is None:
        return None
    if len(args) == 1:
        if t.name == "DOUBLE":
            return T.BIGINT
        if t.name == "DECIMAL":
            return T.decimal_type(t.precision - t.scale + 1, 0)
        return t
    return t  # ROUND(x, scale) keeps the input's type


def _ceil_floor(args):
    t = args[0]
    if t is not None and t.name == "DECIMAL":
        return T.decimal_type(t.precision - t.scale + 1, 0)
    return t


def _array_of_first(args):
    return T.array_of(args[0]) if args and args[0] is not None else None


def _item_of_first(args):
    t = args[0] if args else None
    return t.item if t is not None and t.name in ("ARRAY", "MAP") else None


def _by_offset(args):
    # LATEST_BY_OFFSET(col) -> type of col; LATEST_BY_OFFSET(col, n) -> ARRAY of it
    if not args or args[0] is None:
        return None
    return T.array_of(args[0]) if len(args) > 1 else args[0]


def _sum(args):
    t = args[0] if args else None
    if t is not None and not t.is_numeric:
        raise FunctionTypeError(f"SUM needs a numeric argument, got {t.ksql()}")
    return t


def _avg(args):
    t = args[0] if args else None
    if t is None:
        return T.DOUBLE
    if not t.is_numeric:
        raise FunctionTypeError(f"AVG needs a numeric argument, got {t.ksql()}")
    return t if t.name == "DECIMAL" else T.DOUBLE


_S, _I, _B, _D, _BOOL = T.STRING, T.INT, T.BIGINT, T.DOUBLE, T.BOOLEAN

# name: (min args, max args or None, result type or rule(arg types) -> type)
SCALAR: dict[str, tuple[int, int | None, object]] = {
    # strings
    "UCASE": (1, 1, _S), "LCASE": (1, 1, _S), "TRIM": (1, 1, _S), "LTRIM": (1, 1, _S),
    "RTRIM": (1, 1, _S), "INITCAP": (1, 1, _S), "CONCAT": (1, None, _same(0)),
    "CONCAT_WS": (2, None, _same(0)), "SUBSTRING": (2, 3, _same(0)), "REPLACE": (3, 3, _same(0)),
    "LPAD": (3, 3, _same(0)), "RPAD": (3, 3, _same(0)), "LEN": (1, 1, _I), "INSTR": (2, 4, _I),
    "SPLIT": (2, 2, lambda a: T.array_of(a[0]) if a[0] is not None else None),
    "REGEXP_EXTRACT": (2, 3, _S), "REGEXP_REPLACE": (3, 3, _S), "MASK": (1, 5, _S),
    "EXTRACTJSONFIELD": (2, 2, _S), "UUID": (0, 0, _S), "CHR": (1, 1, _S),
    "ENCODE": (3, 3, _S), "TO_BYTES": (2, 2, T.BYTES), "FROM_BYTES": (2, 2, _S),
    # numbers
    "ABS": (1, 1, _same(0)), "ROUND": (1, 2, _round), "CEIL": (1, 1, _ceil_floor),
    "FLOOR": (1, 1, _ceil_floor), "SIGN": (1, 1, _I), "SQRT": (1, 1, _D), "EXP": (1, 1, _D),
    "LN": (1, 1, _D), "LOG": (1, 2, _D), "POWER": (2, 2, _D), "RANDOM": (0, 0, _D),
    "TRUNC": (1, 2, _same(0)), "GREATEST": (1, None, _first_known), "LEAST": (1, None, _first_known),
    # nulls
    "COALESCE": (1, None, _first_known), "IFNULL": (2, 2, _first_known), "NULLIF": (2, 2, _same(0)),
    # dates and times
    "TIMESTAMPTOSTRING": (2, 3, _S), "STRINGTOTIMESTAMP": (2, 3, _B), "UNIX_TIMESTAMP": (0, 1, _B),
    "UNIX_DATE": (0, 1, _I), "FORMAT_TIMESTAMP": (2, 3, _S), "PARSE_TIMESTAMP": (2, 3, T.TIMESTAMP),
    "FROM_UNIXTIME": (1, 1, T.TIMESTAMP), "FORMAT_DATE": (2, 2, _S), "PARSE_DATE": (2, 2, T.DATE),
    "FORMAT_TIME": (2, 2, _S), "PARSE_TIME": (2, 2, T.TIME), "DATETOSTRING": (2, 2, _S),
    "STRINGTODATE": (2, 2, _I), "FROM_DAYS": (1, 1, T.DATE), "DATEADD": (3, 3, T.DATE),
    "TIMESTAMPADD": (3, 3, T.TIMESTAMP), "TIMESTAMPSUB": (3, 3, T.TIMESTAMP),
    "CONVERT_TZ": (3, 3, T.TIMESTAMP),
    # collections
    "ARRAY_LENGTH": (1, 1, _I), "ARRAY_CONTAINS": (2, 2, _BOOL), "ARRAY_DISTINCT": (1, 1, _same(0)),
    "ARRAY_SORT": (1, 2, _same(0)), "ARRAY_MAX": (1, 1, _item_of_first), "ARRAY_MIN": (1, 1, _item_of_first),
    "ARRAY_JOIN": (1, 2, _S), "ARRAY_REMOVE": (2, 2, _same(0)), "MAP_KEYS": (1, 1, lambda a: T.array_of(T.STRING)),
    "MAP_VALUES": (1, 1, lambda a: T.array_of(a[0].item) if a[0] is not None else None),
    "TRANSFORM": (2, 3, lambda a: None), "FILTER": (2, 2, _same(0)), "REDUCE": (3, 3, _same(1)),
}

AGGREGATE: dict[str, tuple[int, int | None, object]] = {
    "COUNT": (0, 1, _B), "COUNT_DISTINCT": (1, 1, _B), "SUM": (1, 1, _sum), "AVG": (1, 1, _avg),
    "MIN": (1, 1, _same(0)), "MAX": (1, 1, _same(0)),
    "LATEST_BY_OFFSET": (1, 3, _by_offset), "EARLIEST_BY_OFFSET": (1, 3, _by_offset),
    "COLLECT_LIST": (1, 1, _array_of_first), "COLLECT_SET": (1, 1, _array_of_first),
    "TOPK": (2, 2, _array_of_first), "TOPKDISTINCT": (2, 2, _array_of_first),
    "HISTOGRAM": (1, 1, lambda a: T.map_of(T.BIGINT)), "STDDEV_SAMP": (1, 1, _D),
    "STDDEV_SAMPLE": (1, 1, _D), "CORRELATION": (2, 2, _D), "ATTR": (1, 1, _same(0)),
}


_STRING_FIRST = ("UCASE", "LCASE", "TRIM", "LTRIM", "RTRIM", "INITCAP", "LEN", "INSTR", "SPLIT",
                 "REGEXP_EXTRACT", "REGEXP_REPLACE", "MASK", "EXTRACTJSONFIELD", "LPAD", "RPAD", "REPLACE",
                 "PARSE_TIMESTAMP", "PARSE_DATE", "PARSE_TIME", "STRINGTOTIMESTAMP", "STRINGTODATE")
_NUMERIC_FIRST = ("ABS", "ROUND", "CEIL", "FLOOR", "SIGN", "SQRT", "EXP", "LN", "TRUNC")
# the first argument's type families a function accepts (ksqlDB's function reference)
FIRST_ARG: dict[str, tuple[str, ...]] = {
    **{n: ("STRING",) for n in _STRING_FIRST},
    **{n: ("INT", "BIGINT", "DOUBLE", "DECIMAL") for n in _NUMERIC_FIRST},
    "SUBSTRING": ("STRING", "BYTES"), "CONCAT": ("STRING", "BYTES"),
    "TIMESTAMPTOSTRING": ("BIGINT", "INT"), "FORMAT_TIMESTAMP": ("TIMESTAMP",), "FORMAT_DATE": ("DATE",),
    "FORMAT_TIME": ("TIME",), "UNIX_TIMESTAMP": ("TIMESTAMP",), "UNIX_DATE": ("DATE",),
    "ARRAY_LENGTH": ("ARRAY",), "ARRAY_CONTAINS": ("ARRAY",), "ARRAY_DISTINCT": ("ARRAY",),
    "ARRAY_SORT": ("ARRAY",), "ARRAY_MAX": ("ARRAY",), "ARRAY_MIN": ("ARRAY",), "ARRAY_JOIN": ("ARRAY",),
    "ARRAY_REMOVE": ("ARRAY",), "MAP_KEYS": ("MAP",), "MAP_VALUES": ("MAP",),
}


def is_aggregate(name: str) -> bool:
    return name.upper() in AGGREGATE


def result_type(name: str, args: list[SqlType | None]) -> SqlType | None:
    """The type ``name(args)`` returns; raises FunctionTypeError for a wrong call."""
    entry = AGGREGATE.get(name) or SCALAR.get(name)
    if entry is None:
        return None
    lo, hi, rule = entry
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = f"{lo}" if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
        raise FunctionTypeError(f"{name} takes {want} argument(s), got {len(args)}")
    allowed = FIRST_ARG.get(name)
    if allowed and args and args[0] is not None and args[0].name not in allowed:
        raise FunctionTypeError(f"{name} does not take {args[0].ksql()} as its first argument "
                                f"(expects {' or '.join(allowed)})")
    if isinstance(rule, SqlType):
        return rule
    return rule(args)

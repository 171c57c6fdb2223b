"""The query builder: ``select(...).from_(Order).where(...).group_by(...)``.

Every method returns a new ``Select`` (queries are values; a base query can be reused).
Nothing here renders text or checks types: ``kctx_cli.query.compiler`` renders and
``kctx_cli.derive.schema`` infers kinds, columns and problems.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace

from kctx_cli.query.expr import Alias, Aliased, Expr, Func, Star, aliased, lit

# ---------------------------------------------------------------------------
# durations and windows
# ---------------------------------------------------------------------------

_UNITS = ("DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND")
_UNIT_MS = {"DAY": 86_400_000, "HOUR": 3_600_000, "MINUTE": 60_000, "SECOND": 1000, "MILLISECOND": 1}


@dataclass(frozen=True)
class Duration:
    """A ksqlDB window duration: ``value`` in ``unit`` (DAY ... MILLISECOND)."""

    value: int
    unit: str

    @property
    def millis(self) -> int:
        """The duration in milliseconds."""
        return self.value * _UNIT_MS[self.unit]

    def ksql(self) -> str:
        """The duration as KSQL writes it: ``1 HOUR``, ``5 MINUTES`` (plural unless the value is 1)."""
        return f"{self.value} {self.unit}{'' if self.value == 1 else 'S'}"


def days(n: int) -> Duration:
    """A Duration of ``n`` days (``n`` made an int)."""
    return Duration(int(n), "DAY")


def hours(n: int) -> Duration:
    """A Duration of ``n`` hours (``n`` made an int)."""
    return Duration(int(n), "HOUR")


def minutes(n: int) -> Duration:
    """A Duration of ``n`` minutes (``n`` made an int)."""
    return Duration(int(n), "MINUTE")


def seconds(n: int) -> Duration:
    """A Duration of ``n`` seconds (``n`` made an int)."""
    return Duration(int(n), "SECOND")


def milliseconds(n: int) -> Duration:
    """A Duration of ``n`` milliseconds (``n`` made an int)."""
    return Duration(int(n), "MILLISECOND")


def duration(value=None, **units) -> Duration:
    """A Duration from a Duration, a timedelta, or keywords (``hours=1, minutes=30``):
    one keyword keeps its unit; several are added up in the largest unit that is exact."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, _dt.timedelta):
        units = {"milliseconds": int(value.total_seconds() * 1000)}
    elif value is not None:
        raise TypeError(f"a duration must be a Duration or timedelta, got {value!r}")
    given = {k.rstrip("s").upper(): v for k, v in units.items() if v}
    unknown = [k for k in given if k not in _UNIT_MS]
    if unknown or not given:
        raise TypeError("give a duration as days=, hours=, minutes=, seconds= or milliseconds=")
    if len(given) == 1:
        (unit, v), = given.items()
        if v != int(v):
            total = v * _UNIT_MS[unit]
        else:
            return Duration(int(v), unit)
    else:
        total = sum(v * _UNIT_MS[u] for u, v in given.items())
    total = int(total)
    for unit in _UNITS:
        if total % _UNIT_MS[unit] == 0:
            return Duration(total // _UNIT_MS[unit], unit)
    raise AssertionError("unreachable")  # MILLISECOND divides everything


_DURATION_KW = ("days", "hours", "minutes", "seconds", "milliseconds")


def _split_kw(kw: dict) -> tuple[dict, dict]:
    units = {k: kw.pop(k) for k in list(kw) if k in _DURATION_KW}
    return units, kw


def _opt(d):
    return None if d is None else duration(d)


@dataclass(frozen=True)
class Window:
    """Base of the three ksqlDB window kinds."""

    kind: str = field(init=False, default="")
    size: Duration | None = None
    retention: Duration | None = None
    grace: Duration | None = None


@dataclass(frozen=True, init=False)
class Tumbling(Window):
    """``Tumbling(hours=1, grace=minutes(5), retention=days(7))`` or ``Tumbling(size=hours(1))``."""

    def __init__(self, size=None, *, grace=None, retention=None, **units):
        units, rest = _split_kw(units)
        if rest:
            raise TypeError(f"Tumbling() got unexpected arguments {sorted(rest)}")
        object.__setattr__(self, "kind", "TUMBLING")
        object.__setattr__(self, "size", duration(size, **units))
        object.__setattr__(self, "grace", _opt(grace))
        object.__setattr__(self, "retention", _opt(retention))


@dataclass(frozen=True, init=False)
class Hopping(Window):
    """``Hopping(minutes=10, advance_by=minutes(1), grace=minutes(2))``."""

    advance_by: Duration | None = None

    def __init__(self, size=None, *, advance_by, grace=None, retention=None, **units):
        units, rest = _split_kw(units)
        if rest:
            raise TypeError(f"Hopping() got unexpected arguments {sorted(rest)}")
        object.__setattr__(self, "kind", "HOPPING")
        object.__setattr__(self, "size", duration(size, **units))
        object.__setattr__(self, "advance_by", duration(advance_by))
        object.__setattr__(self, "grace", _opt(grace))
        object.__setattr__(self, "retention", _opt(retention))


@dataclass(frozen=True, init=False)
class Session(Window):
    """``Session(minutes=30, grace=minutes(5))``: the inactivity gap."""

    def __init__(self, gap=None, *, grace=None, retention=None, **units):
        units, rest = _split_kw(units)
        if rest:
            raise TypeError(f"Session() got unexpected arguments {sorted(rest)}")
        object.__setattr__(self, "kind", "SESSION")
        object.__setattr__(self, "size", duration(gap, **units))
        object.__setattr__(self, "grace", _opt(grace))
        object.__setattr__(self, "retention", _opt(retention))


@dataclass(frozen=True)
class Within:
    """A stream-stream join window: ``WITHIN 1 HOUR`` or ``WITHIN (before, after)``."""

    before: Duration
    after: Duration | None = None
    grace: Duration | None = None


# ---------------------------------------------------------------------------
# joins and the query
# ---------------------------------------------------------------------------

JOIN_TYPES = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "full": "FULL", "outer": "FULL",
              "full outer": "FULL", "left outer": "LEFT", "right outer": "RIGHT"}


@dataclass(frozen=True)
class Join:
    """One JOIN of a Select: the ``entity`` joined, the ``on`` condition, ``how`` (INNER, LEFT,
    RIGHT, FULL), for a stream-stream join its ``within`` window, and the ``alias`` (an
    ``aliased`` entity) it is joined under, if any."""
    entity: type
    on: Expr
    how: str = "INNER"
    within: Within | None = None
    alias: Aliased | None = None

    @property
    def source(self):
        """The joined source as columns name it: the Aliased, else the entity class."""
        return self.alias if self.alias is not None else self.entity


@dataclass(frozen=True)
class Select:
    """One ksqlDB SELECT; build it with ``select()`` and the methods below."""

    items: tuple = ()
    source: type | None = None
    joins: tuple = ()
    where_: Expr | None = None
    group_by_: tuple = ()
    window_: Window | None = None
    having_: Expr | None = None
    partition_by_: tuple = ()
    emit: str | None = None  # CHANGES / FINAL
    limit_: int | None = None
    source_alias: Aliased | None = None  # FROM <source> <alias>

    def from_(self, entity) -> "Select":
        """The query reading from entity class ``entity``, or from an ``aliased`` entity
        (``FROM ORDERS O``); replaces an earlier ``from_``."""
        if isinstance(entity, Aliased):
            return replace(self, source=entity._entity, source_alias=entity)
        return replace(self, source=entity, source_alias=None)

    def join(self, entity, on, *, how: str = "inner", within=None, grace=None) -> "Select":
        """``.join(Customer, on=Order.customer_id == Customer.customer_id, how="left")``;
        stream-stream joins take ``within=hours(1)`` or ``within=(minutes(5), hours(1))``
        and an optional ``grace=``."""
        kind = JOIN_TYPES.get(str(how).lower())
        if kind is None:
            raise ValueError(f"join how={how!r}: use 'inner', 'left', 'right' or 'full'")
        w = None
        if within is not None:
            if isinstance(within, Within):
                w = within if grace is None else replace(within, grace=duration(grace))
            elif isinstance(within, tuple):
                w = Within(duration(within[0]), duration(within[1]), _opt(grace))
            else:
                w = Within(duration(within), None, _opt(grace))
        elif grace is not None:
            raise ValueError("grace= needs within= (it is the join window's grace period)")
        if isinstance(entity, Aliased):
            return replace(self, joins=self.joins + (Join(entity._entity, lit(on), kind, w, entity),))
        return replace(self, joins=self.joins + (Join(entity, lit(on), kind, w),))

    def left_join(self, entity, on, **kw) -> "Select":
        """``join(entity, on, how="left", **kw)``."""
        return self.join(entity, on, how="left", **kw)

    def full_join(self, entity, on, **kw) -> "Select":
        """``join(entity, on, how="full", **kw)`` (FULL OUTER JOIN)."""
        return self.join(entity, on, how="full", **kw)

    def right_join(self, entity, on, **kw) -> "Select":
        """``join(entity, on, how="right", **kw)``."""
        return self.join(entity, on, how="right", **kw)

    def where(self, condition) -> "Select":
        """Several calls are ANDed."""
        cond = lit(condition)
        return replace(self, where_=cond if self.where_ is None else self.where_ & cond)

    def group_by(self, *exprs) -> "Select":
        """GROUP BY these expressions, added after those of earlier calls."""
        return replace(self, group_by_=self.group_by_ + tuple(lit(e) for e in exprs))

    def window(self, window: Window) -> "Select":
        """Aggregate in ``window`` (Tumbling, Hopping or Session; replaces an earlier one).
        TypeError for anything else."""
        if not isinstance(window, Window):
            raise TypeError("window() takes Tumbling(...), Hopping(...) or Session(...)")
        return replace(self, window_=window)

    def having(self, condition) -> "Select":
        """HAVING ``condition``; several calls are ANDed."""
        cond = lit(condition)
        return replace(self, having_=cond if self.having_ is None else self.having_ & cond)

    def partition_by(self, *exprs) -> "Select":
        """PARTITION BY these expressions (the result's new key), added after earlier ones."""
        return replace(self, partition_by_=self.partition_by_ + tuple(lit(e) for e in exprs))

    def emit_changes(self) -> "Select":
        """``EMIT CHANGES``: every update of the result is emitted."""
        return replace(self, emit="CHANGES")

    def emit_final(self) -> "Select":
        """``EMIT FINAL``: a windowed aggregation emits each window once, when it closes
        (reference/select-push-query.md)."""
        return replace(self, emit="FINAL")

    def limit(self, n: int) -> "Select":
        """``LIMIT n`` (a derived entity's query may not have one: the analysis reports it)."""
        return replace(self, limit_=int(n))

    # what the query reads --------------------------------------------------
    @property
    def entities(self) -> list[type]:
        """FROM and JOIN entities in order (an aliased source: its entity class)."""
        out = [self.source] if self.source is not None else []
        return out + [j.entity for j in self.joins]

    @property
    def sources(self) -> list:
        """FROM and JOIN sources in order as columns name them: each an ``Aliased`` when it
        is joined under an alias, else its entity class (a self-join lists two Aliased of
        one entity)."""
        out = [self.source_alias if self.source_alias is not None else self.source] if self.source is not None else []
        return out + [j.source for j in self.joins]

    def __repr__(self) -> str:
        # structural only: rendering is the compiler's (render_select), which imports this module
        names = [getattr(e, "__name__", "?") for e in self.entities]
        return f"<Select from {' JOIN '.join(names) or '?'}: {len(self.items)} item{'s' if len(self.items) != 1 else ''}>"


def select(*items) -> Select:
    """``select(Order.order_id, (Order.amount * 2).label("double_amount"))``; an entity
    class stands for all its columns (``select(Order)``, ksqlDB's ``SELECT *``), an
    ``aliased`` entity for all its columns under the alias (``O.ORDER_ID, O.AMOUNT, ...``)."""
    out = []
    for i in items:
        if isinstance(i, type) and hasattr(i, "__kctx__"):
            from kctx_cli.query.expr import Column

            out.extend(Column(i, f.name) for f in i.__kctx__.fields)
        elif isinstance(i, Aliased):
            from kctx_cli.query.expr import Column

            out.extend(Column(i._entity, f.name, i) for f in i._entity.__kctx__.fields)
        else:
            out.append(lit(i))
    return Select(items=tuple(out))


# ---------------------------------------------------------------------------
# aggregate helpers (``sum_`` etc. avoid shadowing Python builtins)
# ---------------------------------------------------------------------------


def count(expr=None, *, distinct: bool = False) -> Func:
    """``count()`` is COUNT(*); ``count(x)`` counts non-null x; distinct=True: COUNT_DISTINCT."""
    if distinct:
        return Func("COUNT_DISTINCT", (lit(expr),))
    return Func("COUNT", (Star(),) if expr is None else (lit(expr),))


def sum_(expr) -> Func:
    """``SUM(expr)`` (an aggregate; ``_``: Python's ``sum`` stays usable)."""
    return Func("SUM", (lit(expr),))


def avg(expr) -> Func:
    """``AVG(expr)`` (an aggregate; a DOUBLE)."""
    return Func("AVG", (lit(expr),))


def min_(expr) -> Func:
    """``MIN(expr)`` (an aggregate)."""
    return Func("MIN", (lit(expr),))


def max_(expr) -> Func:
    """``MAX(expr)`` (an aggregate)."""
    return Func("MAX", (lit(expr),))


def latest_by_offset(expr, n: int | None = None) -> Func:
    """``LATEST_BY_OFFSET(expr)``: the value of the latest record by offset; with ``n``,
    ``LATEST_BY_OFFSET(expr, n)``, an ARRAY of the latest ``n`` values (an aggregate)."""
    return Func("LATEST_BY_OFFSET", (lit(expr),) if n is None else (lit(expr), lit(n)))


def earliest_by_offset(expr, n: int | None = None) -> Func:
    """``EARLIEST_BY_OFFSET(expr)``: the value of the earliest record by offset; with ``n``,
    an ARRAY of the earliest ``n`` values (an aggregate)."""
    return Func("EARLIEST_BY_OFFSET", (lit(expr),) if n is None else (lit(expr), lit(n)))


def collect_list(expr) -> Func:
    """``COLLECT_LIST(expr)``: the values as an ARRAY (an aggregate)."""
    return Func("COLLECT_LIST", (lit(expr),))


def collect_set(expr) -> Func:
    """``COLLECT_SET(expr)``: the distinct values as an ARRAY (an aggregate)."""
    return Func("COLLECT_SET", (lit(expr),))


__all__ = [
    "Alias", "Aliased", "Duration", "Hopping", "Join", "Select", "Session", "Tumbling", "Window", "Within",
    "aliased", "avg", "collect_list", "collect_set", "count", "days", "duration", "earliest_by_offset",
    "hours", "latest_by_offset", "max_", "milliseconds", "min_", "minutes", "seconds", "select", "sum_",
]

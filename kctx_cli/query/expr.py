"""The query DSL's expression tree (the SQLAlchemy Core split: build here, render in
``kctx_cli.query.compiler``).

Overloaded operators on ``Column`` objects build nodes; nothing here knows KSQL text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class Expr:
    """Base of every expression node; operators build bigger nodes."""

    __slots__ = ()

    # comparison -----------------------------------------------------------
    def __eq__(self, other):  # type: ignore[override]
        if other is None:  # as SQLAlchemy: x == None is IS NULL (= NULL is never true)
            return IsNull(self, negated=False)
        return BinaryOp("=", self, lit(other))

    def __ne__(self, other):  # type: ignore[override]
        if other is None:
            return IsNull(self, negated=True)
        return BinaryOp("<>", self, lit(other))

    def __lt__(self, other):
        return BinaryOp("<", self, lit(other))

    def __le__(self, other):
        return BinaryOp("<=", self, lit(other))

    def __gt__(self, other):
        return BinaryOp(">", self, lit(other))

    def __ge__(self, other):
        return BinaryOp(">=", self, lit(other))

    __hash__ = object.__hash__

    # boolean --------------------------------------------------------------
    def __and__(self, other):
        return BinaryOp("AND", self, lit(other))

    def __rand__(self, other):
        return BinaryOp("AND", lit(other), self)

    def __or__(self, other):
        return BinaryOp("OR", self, lit(other))

    def __ror__(self, other):
        return BinaryOp("OR", lit(other), self)

    def __invert__(self):
        return UnaryOp("NOT", self)

    def __bool__(self):
        raise TypeError(
            "a query expression has no truth value: use & | ~ instead of and/or/not, "
            "and .in_() instead of 'in'"
        )

    # arithmetic -----------------------------------------------------------
    def __add__(self, other):
        return BinaryOp("+", self, lit(other))

    def __radd__(self, other):
        return BinaryOp("+", lit(other), self)

    def __sub__(self, other):
        return BinaryOp("-", self, lit(other))

    def __rsub__(self, other):
        return BinaryOp("-", lit(other), self)

    def __mul__(self, other):
        return BinaryOp("*", self, lit(other))

    def __rmul__(self, other):
        return BinaryOp("*", lit(other), self)

    def __truediv__(self, other):
        return BinaryOp("/", self, lit(other))

    def __rtruediv__(self, other):
        return BinaryOp("/", lit(other), self)

    def __mod__(self, other):
        return BinaryOp("%", self, lit(other))

    def __neg__(self):
        return UnaryOp("-", self)

    # predicates -----------------------------------------------------------
    def in_(self, *values):
        """``x IN (v, ...)``: values as arguments or one list / tuple / set; each wrapped by ``lit``."""
        if len(values) == 1 and isinstance(values[0], (list, tuple, set)):
            values = tuple(values[0])
        return InList(self, tuple(lit(v) for v in values))

    def is_null(self):
        """``x IS NULL`` (also what ``x == None`` builds)."""
        return IsNull(self, negated=False)

    def is_not_null(self):
        """``x IS NOT NULL`` (also what ``x != None`` builds)."""
        return IsNull(self, negated=True)

    def like(self, pattern: str):
        """``x LIKE pattern`` (``%`` any run of characters, ``_`` one; see ``like_escape``)."""
        return BinaryOp("LIKE", self, lit(pattern))

    def between(self, low, high):
        """``x BETWEEN low AND high`` (both ends included)."""
        return Between(self, lit(low), lit(high))

    def __getitem__(self, index):
        """``a[1]`` (ARRAY, 1-based; negative from the end) or ``m['k']`` (MAP)."""
        return Subscript(self, lit(index))

    def is_distinct_from(self, other):
        """``x IS DISTINCT FROM y``: NULL-safe inequality (a BOOLEAN, never NULL)."""
        return BinaryOp("IS DISTINCT FROM", self, lit(other))

    def is_not_distinct_from(self, other):
        """``x IS NOT DISTINCT FROM y``: NULL-safe equality."""
        return BinaryOp("IS NOT DISTINCT FROM", self, lit(other))

    def like_escape(self, pattern: str, escape: str):
        """``x LIKE pattern ESCAPE escape`` (``escape``: one character)."""
        if not isinstance(escape, str) or len(escape) != 1:
            raise ValueError(f"ESCAPE takes one character, got {escape!r}")
        return Like(self, lit(pattern), escape)

    def deref(self, member: str) -> "Deref":
        """``expr->member`` on any STRUCT-typed expression (``func.AS_STRUCT(...).deref("f")``)."""
        return Deref(self, member)

    def label(self, name: str) -> "Alias":
        """The expression as output column ``name`` (``AS NAME``; upper-cased when rendered, as
        ksqlDB does with unquoted names). ``as_`` is the same method."""
        return Alias(self, name)

    as_ = label


@dataclass(eq=False)
class Column(Expr):
    """``Entity.field`` on an entity class, or ``alias.field`` on an ``aliased`` entity
    (``_alias``: that Aliased, None for the class's own column; underscored so that no
    STRUCT member name is shadowed)."""

    entity: type
    name: str
    _alias: "Aliased | None" = None

    def __getattr__(self, item: str):
        # Struct member access: Order.address.city -> ADDRESS->CITY
        if item.startswith("_"):
            raise AttributeError(item)
        return Deref(self, item)

    def __repr__(self):
        if self._alias is not None:
            return f"{self._alias._name}.{self.name}"
        return f"{self.entity.__name__}.{self.name}"


class Aliased:
    """An entity under an alias in one query: ``o = aliased(Order, "O")`` (SQLAlchemy's
    ``aliased``). ``o.amount`` is the column ``O.AMOUNT``; ``from_(o)`` / ``join(o, ...)``
    render ``ORDERS O``. Two Aliased of the same entity and name are the same source.
    Only underscored attributes of its own (``_entity``, ``_name``): every other attribute
    is a column of the entity, as on the class."""

    __slots__ = ("_entity", "_name")

    def __init__(self, entity: type, name: str):
        object.__setattr__(self, "_entity", entity)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, item: str):
        if item.startswith("_"):
            raise AttributeError(item)
        column = getattr(self._entity, item)  # AttributeError as the class gives it
        if not isinstance(column, Column):
            raise AttributeError(f"{item!r} is not a column of {self._entity.__name__}")
        return Column(column.entity, column.name, self)

    def __setattr__(self, item, value):
        raise AttributeError("an aliased entity is read-only")

    def __eq__(self, other):
        return isinstance(other, Aliased) and other._entity is self._entity and other._name == self._name

    def __hash__(self):
        return hash((Aliased, self._entity, self._name))

    def __repr__(self):
        return f"aliased({getattr(self._entity, '__name__', self._entity)}, {self._name!r})"


_ALIAS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def aliased(entity, name: str) -> Aliased:
    """``entity`` (an entity class) under the alias ``name`` in one query: ``FROM ORDERS O``.
    The name is upper-cased as ksqlDB does with unquoted names (a reserved word such as
    ``FROM`` is back-quoted when rendered). ValueError for a name that is not an identifier
    (letters, digits, ``_``), TypeError for anything but an entity class."""
    # the metaclass's property, not the class's (reading __kctx__ would resolve the
    # class's annotations now, perhaps before a Struct it names is declared)
    if not (isinstance(entity, type) and hasattr(type(entity), "__kctx__")):
        raise TypeError(f"aliased() takes an entity class, got {entity!r}")
    if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name):
        raise ValueError(f"alias {name!r} is not an identifier (letters, digits and _, not starting with a digit)")
    return Aliased(entity, name.upper())


def source_of(column: Column):
    """The query source a column belongs to: its Aliased, else its entity class."""
    return column._alias if column._alias is not None else column.entity


@dataclass(eq=False)
class Deref(Expr):
    """``base->member``: a field of a STRUCT-typed expression (``Order.address.city``); the
    member is upper-cased when rendered, or named by its Struct field's ``ColumnName``
    (``member_name``)."""
    base: Expr
    member: str

    def __getattr__(self, item: str):
        if item.startswith("_"):
            raise AttributeError(item)
        return Deref(self, item)

    def __call__(self, *args, **kwargs):
        # Order.amount.lable("x"): a typo of a method reads as a struct field; say so
        raise TypeError(f"'{self.member}' is not a method of a query column (label, cast, in_, is_null, "
                        f"is_not_null, like, between); as a STRUCT field it cannot be called")


def member_name(d: "Deref") -> str:
    """The ksqlDB name of the STRUCT member ``d`` reads: when its base is a column (or a
    member) typed by a Struct class that has a field of that Python name, that field's column
    name (``Order.route.from_`` -> ``FROM`` for ``from_: Annotated[str, ColumnName("from")]``);
    otherwise the member upper-cased, as ksqlDB reads an unquoted name."""
    origin = _struct_class(d.base)
    f = origin.__kctx__.field(d.member) if origin is not None else None
    return f.column if f is not None else d.member.upper()


def _struct_class(e):
    """The Struct class typing column or member ``e``, when the model says so; else None."""
    if isinstance(e, Column):
        info = getattr(e.entity, "__kctx__", None)
        f = info.field(e.name) if info is not None else None
    elif isinstance(e, Deref):
        origin = _struct_class(e.base)
        f = origin.__kctx__.field(e.member) if origin is not None else None
    else:
        return None
    t = getattr(f, "type", None)
    return getattr(t, "origin", None) if t is not None and t.name == "STRUCT" else None


@dataclass(eq=False)
class Literal(Expr):
    """A Python value in a query: None, bool, int, float (rendered as a DOUBLE), Decimal
    (a DECIMAL), str. The analysis refuses any other type (QueryProblem ``bad-literal``)."""
    value: Any


@dataclass(eq=False)
class BinaryOp(Expr):
    """``left op right``; ``op`` is a comparison (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``),
    arithmetic (``+ - * / %``), ``AND``, ``OR``, ``LIKE``, ``IS DISTINCT FROM`` or ``IS NOT
    DISTINCT FROM``."""
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class UnaryOp(Expr):
    """``NOT operand`` (``op`` ``NOT``, from ``~x``) or ``-operand`` (``op`` ``-``)."""
    op: str
    operand: Expr


@dataclass(eq=False)
class InList(Expr):
    """``operand IN (values...)``; ``values`` a tuple of expressions."""
    operand: Expr
    values: tuple


@dataclass(eq=False)
class IsNull(Expr):
    """``operand IS NULL``, or ``IS NOT NULL`` when ``negated``."""
    operand: Expr
    negated: bool


@dataclass(eq=False)
class Between(Expr):
    """``operand BETWEEN low AND high``."""
    operand: Expr
    low: Expr
    high: Expr


@dataclass(eq=False)
class Alias(Expr):
    """``expr AS name``: a select item's output column name (see ``Expr.label``)."""
    expr: Expr
    name: str


def lit(value) -> Expr:
    """Wrap a Python value as a literal unless it already is an expression."""
    return value if isinstance(value, Expr) else Literal(value)


@dataclass(eq=False)
class Like(Expr):
    """``operand LIKE pattern ESCAPE escape``."""

    operand: Expr
    pattern: Expr
    escape: str


@dataclass(eq=False)
class Subscript(Expr):
    """``base[index]``: an ARRAY element (INT index) or a MAP value (key)."""

    base: Expr
    index: Expr


@dataclass(eq=False)
class ArrayCtor(Expr):
    """``ARRAY[a, b, ...]``."""

    items: tuple


@dataclass(eq=False)
class MapCtor(Expr):
    """``MAP(k1 := v1, ...)``: ``pairs`` is ((key, value), ...)."""

    pairs: tuple


@dataclass(eq=False)
class StructCtor(Expr):
    """``STRUCT(f1 := v1, ...)``: ``fields`` is ((name, value), ...)."""

    fields: tuple


def array(*items) -> ArrayCtor:
    """``ARRAY[items...]``; ksqlDB refuses an empty one and one of NULLs only."""
    return ArrayCtor(tuple(lit(i) for i in items))


def map_(pairs=None, **kw) -> MapCtor:
    """``MAP('k' := v, ...)`` from a dict (keys: values or expressions) or keywords."""
    items = list((pairs or {}).items()) + list(kw.items())
    return MapCtor(tuple((lit(k), lit(v)) for k, v in items))


def struct(**fields) -> StructCtor:
    """``STRUCT(name := value, ...)``; the field names are upper-cased as ksqlDB does."""
    return StructCtor(tuple((name, lit(v)) for name, v in fields.items()))


# ---------------------------------------------------------------------------
# Functions, CASE, CAST and pseudo columns
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class Func(Expr):
    """A function call; ``aggregate`` is decided by the function table (COUNT, SUM, ...)."""

    name: str
    args: tuple
    distinct: bool = False

    @property
    def aggregate(self) -> bool:
        """Whether the function is an aggregate (kctx_cli.query.functions.is_aggregate)."""
        from kctx_cli.query.functions import is_aggregate

        return is_aggregate(self.name)


@dataclass(eq=False)
class Star(Expr):
    """``*`` inside COUNT(*)."""


@dataclass(eq=False)
class Case(Expr):
    """``CASE WHEN c1 THEN v1 ... [ELSE else_] END``; ``whens`` is ((condition, value), ...).
    Build it with ``case``."""
    whens: tuple  # ((condition, value), ...)
    else_: Expr | None = None


@dataclass(eq=False)
class Cast(Expr):
    """``CAST(operand AS to)``, ``to`` a kctx_cli.sqltypes.SqlType. Build it with ``cast``."""
    operand: Expr
    to: Any  # kctx_cli.sqltypes.SqlType


@dataclass(eq=False)
class Pseudo(Expr):
    """A system column: WINDOWSTART, WINDOWEND, ROWTIME, ROWPARTITION, ROWOFFSET, ROWKEY."""

    name: str


@dataclass(eq=False)
class Lambda(Expr):
    """``x => ...`` for ksqlDB's higher-order functions (TRANSFORM, FILTER, REDUCE)."""

    params: tuple
    body: Expr


@dataclass(eq=False)
class LambdaVar(Expr):
    """A lambda parameter (upper-case name) inside a Lambda's body."""
    name: str


class _FuncNamespace:
    """``func.NAME(*args)`` calls any ksqlDB function (SQLAlchemy's ``func``)."""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        upper = name.upper()

        def call(*args, distinct: bool = False):
            return Func(upper, tuple(_arg(a) for a in args), distinct)

        call.__name__ = upper
        return call


func = _FuncNamespace()


def _arg(a):
    import inspect

    if callable(a) and not isinstance(a, Expr) and not isinstance(a, type):
        # a Python lambda becomes a KSQL lambda: func.TRANSFORM(Order.tags, lambda x: func.UCASE(x))
        names = tuple(inspect.signature(a).parameters)
        params = tuple(LambdaVar(n.upper()) for n in names)
        return Lambda(params, lit(a(*params)))
    return lit(a)


def case(*whens, else_=None) -> Case:
    """``case((Order.amount > 100, "big"), (Order.amount > 10, "medium"), else_="small")``."""
    if not whens:
        raise ValueError("case() needs at least one (condition, value) pair")
    pairs = []
    for w in whens:
        if not isinstance(w, tuple) or len(w) != 2:
            raise ValueError("case() takes (condition, value) pairs")
        pairs.append((lit(w[0]), lit(w[1])))
    return Case(tuple(pairs), None if else_ is None else lit(else_))


def cast(value, to) -> Cast:
    """``cast(Order.qty, "DECIMAL(10, 2)")``, a SqlType, or a Python type (int, str, ...)."""
    from kctx_cli.query.functions import parse_type

    return Cast(lit(value), parse_type(to))


def _cast_method(self, to) -> Cast:
    """``x.cast(to)`` (installed as ``Expr.cast``): ``CAST(x AS to)``, ``to`` as ``cast`` takes
    it (type text, a SqlType or a Python type)."""
    return cast(self, to)


Expr.cast = _cast_method  # type: ignore[attr-defined]

window_start = Pseudo("WINDOWSTART")
window_end = Pseudo("WINDOWEND")
rowtime = Pseudo("ROWTIME")
rowkey = Pseudo("ROWKEY")


# ---------------------------------------------------------------------------
# Structural identity (``==`` builds nodes, so comparisons of trees use ``same``)
# ---------------------------------------------------------------------------


def shape(e) -> tuple:
    """A hashable tuple that is equal for structurally equal expressions."""
    if isinstance(e, Column):
        if e._alias is not None:
            return ("col", e.entity, e.name, e._alias._name)
        return ("col", e.entity, e.name)
    if isinstance(e, Deref):
        return ("deref", shape(e.base), member_name(e))
    if isinstance(e, Literal):
        return ("lit", type(e.value).__name__, repr(e.value))
    if isinstance(e, BinaryOp):
        return ("bin", e.op, shape(e.left), shape(e.right))
    if isinstance(e, UnaryOp):
        return ("un", e.op, shape(e.operand))
    if isinstance(e, Alias):
        return shape(e.expr)
    if isinstance(e, Func):
        return ("fn", e.name, e.distinct, tuple(shape(a) for a in e.args))
    if isinstance(e, Case):
        return ("case", tuple((shape(c), shape(v)) for c, v in e.whens), shape(e.else_) if e.else_ is not None else None)
    if isinstance(e, Cast):
        return ("cast", shape(e.operand), e.to.ksql())
    if isinstance(e, Pseudo):
        return ("pseudo", e.name)
    if isinstance(e, InList):
        return ("in", shape(e.operand), tuple(shape(v) for v in e.values))
    if isinstance(e, IsNull):
        return ("isnull", shape(e.operand), e.negated)
    if isinstance(e, Between):
        return ("between", shape(e.operand), shape(e.low), shape(e.high))
    if isinstance(e, Star):
        return ("star",)
    if isinstance(e, LambdaVar):
        return ("lvar", e.name)
    if isinstance(e, Lambda):
        return ("lambda", tuple(p.name for p in e.params), shape(e.body))
    if isinstance(e, Like):
        return ("like", shape(e.operand), shape(e.pattern), e.escape)
    if isinstance(e, Subscript):
        return ("sub", shape(e.base), shape(e.index))
    if isinstance(e, ArrayCtor):
        return ("array", tuple(shape(i) for i in e.items))
    if isinstance(e, MapCtor):
        return ("map", tuple((shape(a), shape(b)) for a, b in e.pairs))
    if isinstance(e, StructCtor):
        return ("struct", tuple((n.upper(), shape(v)) for n, v in e.fields))
    return ("obj", id(e))


def same(a, b) -> bool:
    """Whether ``a`` and ``b`` are structurally equal (``shape``): ``==`` on expressions builds
    a comparison node instead."""
    return shape(a) == shape(b)


def children(e) -> list:
    """Direct sub-expressions, for walking a tree."""
    if isinstance(e, Deref):
        return [e.base]
    if isinstance(e, BinaryOp):
        return [e.left, e.right]
    if isinstance(e, (UnaryOp, IsNull, Cast)):
        return [e.operand]
    if isinstance(e, Alias):
        return [e.expr]
    if isinstance(e, Func):
        return list(e.args)
    if isinstance(e, Case):
        out = [x for pair in e.whens for x in pair]
        return out + ([e.else_] if e.else_ is not None else [])
    if isinstance(e, InList):
        return [e.operand, *e.values]
    if isinstance(e, Between):
        return [e.operand, e.low, e.high]
    if isinstance(e, Lambda):
        return [e.body]
    if isinstance(e, Like):
        return [e.operand, e.pattern]
    if isinstance(e, Subscript):
        return [e.base, e.index]
    if isinstance(e, ArrayCtor):
        return list(e.items)
    if isinstance(e, MapCtor):
        return [x for pair in e.pairs for x in pair]
    if isinstance(e, StructCtor):
        return [v for _, v in e.fields]
    return []


def walk(e):
    """Pre-order walk over an expression tree."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))

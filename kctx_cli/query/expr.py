"""The query DSL's expression tree (the SQLAlchemy Core split: build here, render in
``kctx_cli.query.compiler``).

Overloaded operators on ``Column`` objects build nodes; nothing here knows KSQL text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Expr:
    """Base of every expression node; operators build bigger nodes."""

    __slots__ = ()

    # comparison -----------------------------------------------------------
    def __eq__(self, other):  # type: ignore[override]
        return BinaryOp("=", self, lit(other))

    def __ne__(self, other):  # type: ignore[override]
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
        if len(values) == 1 and isinstance(values[0], (list, tuple, set)):
            values = tuple(values[0])
        return InList(self, tuple(lit(v) for v in values))

    def is_null(self):
        return IsNull(self, negated=False)

    def is_not_null(self):
        return IsNull(self, negated=True)

    def like(self, pattern: str):
        return BinaryOp("LIKE", self, lit(pattern))

    def between(self, low, high):
        return Between(self, lit(low), lit(high))

    def label(self, name: str) -> "Alias":
        return Alias(self, name)

    as_ = label


@dataclass(eq=False)
class Column(Expr):
    """``Entity.field`` on an entity class."""

    entity: type
    name: str

    def __getattr__(self, item: str):
        # Struct member access: Order.address.city -> ADDRESS->CITY
        if item.startswith("_"):
            raise AttributeError(item)
        return Deref(self, item)

    def __repr__(self):
        return f"{self.entity.__name__}.{self.name}"


@dataclass(eq=False)
class Deref(Expr):
    base: Expr
    member: str

    def __getattr__(self, item: str):
        if item.startswith("_"):
            raise AttributeError(item)
        return Deref(self, item)


@dataclass(eq=False)
class Literal(Expr):
    value: Any


@dataclass(eq=False)
class BinaryOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class UnaryOp(Expr):
    op: str
    operand: Expr


@dataclass(eq=False)
class InList(Expr):
    operand: Expr
    values: tuple


@dataclass(eq=False)
class IsNull(Expr):
    operand: Expr
    negated: bool


@dataclass(eq=False)
class Between(Expr):
    operand: Expr
    low: Expr
    high: Expr


@dataclass(eq=False)
class Alias(Expr):
    expr: Expr
    name: str


def lit(value) -> Expr:
    """Wrap a Python value as a literal unless it already is an expression."""
    return value if isinstance(value, Expr) else Literal(value)

"""The mapping from Python annotations on entity classes to ksqlDB column types.

The type value itself (``SqlType`` and its constants) lives in ``kctx_cli.sqltypes``;
this module adds the ``Annotated[...]`` markers (Precision, Key, Doc, Ignore, Header,
ColumnName …) and ``resolve_annotation``, which rejects anything ksqlDB cannot read *and*
write with a message that says what to use instead.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import enum
import types as _pytypes
import typing
import uuid
from dataclasses import dataclass

from kctx_cli.sqltypes import (BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, STRING, TIME, TIMESTAMP, SqlType, array_of,
                               decimal_type, map_of)

# ---------------------------------------------------------------------------
# Metadata markers used inside typing.Annotated[...]
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """``Annotated[Decimal, Precision(18, 4)]``: DECIMAL(precision, scale)."""

    precision: int
    scale: int = 0


@dataclass(frozen=True)
class KeyMarker:
    """Marks a key column; ``order`` sorts composite keys (default: declaration order)."""

    order: int | None = None

    def __call__(self, order: int | None = None) -> "KeyMarker":
        return KeyMarker(order)


Key = KeyMarker()


@dataclass(frozen=True)
class Doc:
    """``Annotated[str, Doc("...")]``: documentation carried into the Avro schema."""

    text: str


@dataclass(frozen=True)
class ColumnName:
    """``from_: Annotated[str, ColumnName("from")]``: the field's name outside Python, for a
    column whose name is a Python keyword (``from``, ``class``, ``in``, ``is`` ...) or any
    name the attribute cannot have. The ksqlDB column is the name upper-cased (``FROM``,
    back-quoted in KSQL where ksqlDB reserves the word), a source entity's Avro field is the
    name as written; the attribute, the constructor keyword and the DSL column keep the
    Python name (``Order(from_="x")``, ``Order.from_``). Letters, digits and ``_`` only."""

    name: str


@dataclass(frozen=True)
class IgnoreMarker:
    """A Python-only attribute: no column, no Avro field (the seed's [KafkaIgnore])."""


Ignore = IgnoreMarker()


@dataclass(frozen=True)
class Int32Marker:
    """The marker of ``Int32`` (``Annotated[int, Int32Marker()]``): an ``int`` field as ksqlDB
    INT (Avro ``int``) instead of BIGINT."""
    pass


@dataclass(frozen=True)
class Float32Marker:
    """The marker of ``Float32`` (``Annotated[float, Float32Marker()]``): a ``float`` field as
    Avro ``float``; ksqlDB reads it as DOUBLE (it has no 32-bit floating type)."""
    pass


@dataclass(frozen=True)
class HeaderMarker:
    """A column read from record headers: all headers, or one header's bytes."""

    key: str | None = None


def Header(key: str | None = None) -> HeaderMarker:  # noqa: N802 - reads like a type marker
    """A column read from the record's headers (reference/create-stream.md):
    ``Annotated[bytes, Header("k")]`` is ``HEADER('k')``, the last header with that key (NULL
    when there is none); ``Annotated[list[H], Header()]`` (H a Struct of key and value) is
    ``HEADERS``, all of them."""
    return HeaderMarker(key)


# Convenient aliases: int is BIGINT/long by default (Python ints are unbounded).
Int32 = typing.Annotated[int, Int32Marker()]
Float32 = typing.Annotated[float, Float32Marker()]


# ---------------------------------------------------------------------------
# Python annotation -> (SqlType, nullable, markers)
# ---------------------------------------------------------------------------


class TypeProblem(Exception):
    """An annotation kctx cannot map; the message is shown to the user as is."""


@dataclass
class Resolved:
    """What ``resolve_annotation`` read from one annotation: the ksqlDB ``type`` (None for an
    ignored attribute), ``nullable`` (Optional), the ``key`` marker, the ``doc`` text,
    ``ignored``, the ``header`` marker and the ``column_name`` (``ColumnName``); None / False
    where the annotation does not say."""
    type: SqlType | None  # None for ignored attributes
    nullable: bool = False
    key: KeyMarker | None = None
    doc: str | None = None
    ignored: bool = False
    header: HeaderMarker | None = None
    column_name: str | None = None  # ColumnName("...")


_SIMPLE = {
    bool: BOOLEAN,
    int: BIGINT,
    float: DOUBLE,
    str: STRING,
    bytes: BYTES,
    _dt.date: DATE,
    _dt.time: TIME,
    _dt.datetime: TIMESTAMP,
}


def resolve_annotation(annotation, *, owner: str = "", _depth: int = 0) -> Resolved:
    """Map one field annotation; raises TypeProblem with a user-facing message."""
    markers: list = []
    ann = annotation
    # Peel Annotated and Optional layers in any order: Optional[Annotated[..]] and
    # Annotated[Optional[..], ..] are both common.
    nullable = False
    while True:
        if typing.get_origin(ann) is typing.Annotated:
            markers.extend(ann.__metadata__)
            ann = ann.__origin__
            continue
        inner = _strip_none(ann)
        if inner is not None:
            nullable = True
            ann = inner
            continue
        break

    res = Resolved(type=None, nullable=nullable)
    precision = None
    int32 = float32 = False
    for m in markers:
        if isinstance(m, IgnoreMarker):
            res.ignored = True
        elif isinstance(m, KeyMarker):
            res.key = m
        elif isinstance(m, Doc):
            res.doc = m.text
        elif isinstance(m, Precision):
            precision = m
        elif isinstance(m, Int32Marker):
            int32 = True
        elif isinstance(m, Float32Marker):
            float32 = True
        elif isinstance(m, HeaderMarker):
            res.header = m
        elif isinstance(m, ColumnName):
            res.column_name = m.name
        elif isinstance(m, str):
            res.doc = m  # Annotated[str, "a doc string"] reads naturally
    if res.ignored:
        return res
    res.type = _map_type(ann, precision=precision, int32=int32, float32=float32, owner=owner, depth=_depth)
    return res


def _strip_none(ann):
    """Return T for Optional[T] / T | None, else None. General unions are an error."""
    origin = typing.get_origin(ann)
    if origin is typing.Union or origin is _pytypes.UnionType:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) != 1:  # no None at all, or None plus several types
            raise TypeProblem(
                f"union type {_name(ann)} is not supported: ksqlDB cannot write Avro unions other than "
                f"[\"null\", T]; use one type (Optional[T] for nullable) or a STRUCT with one field per variant"
            )
        return args[0]
    return None


def _name(ann) -> str:
    if isinstance(ann, type):
        return ann.__qualname__
    return str(ann).replace("typing.", "")


def _map_type(ann, *, precision, int32, float32, owner, depth) -> SqlType:
    if depth > 20:
        raise TypeProblem("type nesting is deeper than 20 levels (recursive STRUCT?): ksqlDB types cannot be recursive")
    if ann is decimal.Decimal:
        if precision is None:
            raise TypeProblem(
                "Decimal needs a precision and scale: use Annotated[Decimal, Precision(18, 4)]"
            )
        p, s = precision.precision, precision.scale
        if not (isinstance(p, int) and isinstance(s, int)) or p < 1 or s < 0 or s > p:
            raise TypeProblem(
                f"Precision({p}, {s}) is invalid: precision must be ≥ 1 and 0 ≤ scale ≤ precision"
            )
        return decimal_type(p, s)
    if precision is not None:
        raise TypeProblem(f"Precision applies to Decimal only, not {_name(ann)}")
    if ann is int and int32:
        return SqlType("INT")
    if ann is float and float32:
        return SqlType("DOUBLE", avro="float")
    if ann is uuid.UUID:
        return SqlType("STRING", avro="uuid")
    if ann in _SIMPLE:
        return _SIMPLE[ann]
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        raise TypeProblem(
            f"enum {ann.__qualname__} is not supported: ksqlDB cannot write Avro enums; "
            f"declare the field as str and validate values in the producer"
        )
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        raise TypeProblem(
            f"{_name(ann)} is enum-like and not supported: ksqlDB cannot write Avro enums; declare it as str"
        )
    args = typing.get_args(ann)
    if origin in (list, typing.List) or ann is list:
        if not args:
            raise TypeProblem("list needs an element type: use list[T]")
        return array_of(*_element(args[0], owner, depth))
    if origin in (dict, typing.Dict) or ann is dict:
        if len(args) != 2:
            raise TypeProblem("dict needs key and value types: use dict[str, T]")
        if args[0] is not str:
            raise TypeProblem(
                f"map keys must be str (ksqlDB MAP keys are STRING), got dict[{_name(args[0])}, ...]"
            )
        return map_of(*_element(args[1], owner, depth))
    # a Struct subclass (kctx_cli.model.entity marks them; not imported: entity imports this module)
    if isinstance(ann, type) and getattr(ann, "_kctx_struct", False) and not ann.__dict__.get("_kctx_base", False):
        members = tuple((f.column, f.type) for f in ann.__kctx__.fields)
        if not members:
            raise TypeProblem(f"struct {ann.__qualname__} has no fields")
        return SqlType("STRUCT", fields=members, struct_name=ann.__name__, origin=ann)
    hint = ""
    if ann in (tuple, set, frozenset) or origin in (tuple, set, frozenset):
        hint = "; use list[T] for a sequence"
    elif ann is complex:
        hint = "; use two float fields or a STRUCT"
    elif ann is typing.Any or ann is object:
        hint = "; every field needs a concrete type"
    elif ann is bytearray or ann is memoryview:
        hint = "; use bytes"
    elif getattr(ann, "__kctx_char__", False):
        hint = "; ksqlDB has no CHAR type: use str"
    raise TypeProblem(f"type {_name(ann)} is not supported by ksqlDB/Avro{hint}")


def _element(ann, owner, depth) -> tuple[SqlType, bool]:
    """Element types of arrays and maps: nullable elements are allowed (ksqlDB writes them)."""
    res = resolve_annotation(ann, owner=owner, _depth=depth + 1)
    if res.key or res.ignored or res.column_name is not None:
        raise TypeProblem("Key/Ignore/ColumnName markers are only valid on a top-level field")
    return res.type, res.nullable


class Char(str):
    """A one-character string, as C# ``char``: kept only so that using it gives a clear error."""

    __kctx_char__ = True

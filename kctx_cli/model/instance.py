"""Entity and Struct *instances*: construction, validation, equality (SPEC §8).

Entity classes behave like keyword dataclasses at run time::

    o = Order(order_id=uuid4(), customer_id="c-1", product_id="p-1", quantity=2,
              amount=Decimal("12.5"), ordered_at=datetime.now(timezone.utc))
    o.amount            # Decimal('12.5')
    Order.amount        # still the query-DSL column (kctx_cli.query.expr.Column)

Arguments are keyword arguments, or positional ones in declaration order (ignored fields
last). A field with a default may be left out (``Optional[...]`` fields default to None, as
their Avro schema does); mutable defaults (lists, dicts, structs) are copied per instance.
Construction checks every value against the column's ksqlDB/Avro type and raises
``EntityValueError`` (one line naming ``Class.field``) for:

- a value of the wrong Python type (``bool`` is not an ``int``; an ``int`` is accepted for
  DOUBLE and DECIMAL and converted; a ``float`` is refused for DECIMAL: it is not exact);
- INT/BIGINT outside 32/64-bit two's complement (Avro ``int``/``long``, Avro spec
  "Primitive Types");
- a Decimal with more decimal places than the column's scale, or more digits than its
  precision (Avro spec "Decimal": the unscaled value must fit the precision);
- a naive ``datetime`` for a TIMESTAMP (SPEC §1: timezone-aware, stored as UTC millis);
- None for a field that is not ``Optional``; a missing required field; an unknown name.

Normalisation, so that an entity equals itself after a trip through Kafka/ksqlDB:
TIMESTAMP and TIME values are truncated to whole milliseconds (Avro ``timestamp-millis``/
``time-millis``), a UUID given as text becomes a ``uuid.UUID``, a STRUCT given as a dict
becomes its Struct class, tuples become lists. Equality compares the class and every
stored field; ignored (``Ignore``) fields are Python-only and take no part in it.
Instances are mutable and not hashable (as ``@dataclass`` with ``eq=True``); assignment
after construction is not re-validated (serialisation checks the values again).
"""
from __future__ import annotations

import copy
import datetime as _dt
import decimal
import uuid
from typing import Any, Callable

from kctx_cli.errors import KctxError

_UTC = _dt.timezone.utc
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class EntityValueError(KctxError, ValueError):
    """A value that does not fit an entity field (wrong type, range, scale, naive time),
    a missing required field or an unknown one. The message is one line that starts
    with ``Class.field``."""


class _Bad(Exception):
    """Internal: a validator's reason; wrapped into EntityValueError with the field name."""


_MISSING: Any = object()


class Plan:
    """The compiled constructor of one class: per field its name, default and checker."""

    __slots__ = ("cls", "names", "fields", "ignored", "by_name", "stored", "problem")

    def __init__(self, cls):
        info = cls.__kctx__
        self.cls = cls
        self.problem = None
        bad = [f for f in info.fields if f.type is None]
        if bad:
            self.problem = (f"{cls.__name__}.{bad[0].name}: the field type is not supported, so {cls.__name__} "
                            f"cannot be instantiated (run kctx validate)")
        elif info.meta.get("abstract"):
            self.problem = f"{cls.__name__} is abstract (Meta.abstract = True) and cannot be instantiated"
        # (name, default or _MISSING, a factory copying a mutable default or None,
        #  checker of non-None values or None, the type accepted as is, nullable)
        self.fields: list[tuple] = []
        for f in info.fields:
            default = f.default if f.has_default else _MISSING
            check = None if f.type is None else _checker(f.type, cls.__name__)
            self.fields.append((f.name, default, _factory(default), check, _EXACT.get(_exact_key(f.type)),
                                f.nullable))
        self.stored = tuple(f.name for f in info.fields)
        for f in info.ignored:
            default = f.default if f.has_default else _MISSING
            self.fields.append((f.name, default, _factory(default), None, None, True))
        self.names = tuple(x[0] for x in self.fields)
        self.by_name = set(self.names)


def _factory(v):
    """None for an immutable default, else a function returning a fresh copy."""
    if type(v) is list and not v:
        return list
    if type(v) is dict and not v:
        return dict
    if isinstance(v, (list, dict, set, bytearray)) or hasattr(type(v), "__kctx__"):
        return lambda: copy.deepcopy(v)
    return None


# values of these exact Python types need no check for these column types
_EXACT = {"STRING": str, "BOOLEAN": bool, "DOUBLE": float, "BYTES": bytes, "UUID": uuid.UUID}
_RANGES = {"INT": _INT32, "BIGINT": _INT64}


def _exact_key(t):
    if t is None:
        return None
    if t.name == "STRING" and t.avro == "uuid":
        return "UUID"
    return t.name


def plan_of(cls) -> Plan:
    """The cached constructor plan of ``cls`` (built on first use)."""
    p = cls.__dict__.get("_kctx_plan")
    if p is None:
        p = Plan(cls)
        type.__setattr__(cls, "_kctx_plan", p)
    return p


def fast_init(cls):
    """A straight-line ``__init__`` for ``cls`` (as dataclasses generate theirs): each field a
    keyword-only parameter (Python binds them in C), every check inlined; anything unusual
    (positional arguments, a missing or unknown field, a bad value) is handed to ``init``,
    which raises the precise error. Generated names start with ``_``, which no field does."""
    plan = plan_of(cls)
    if plan.problem:
        return None
    # builtins by names no field can take (a field may be called `type` or `int`)
    ns: dict[str, Any] = {"_M": _MISSING, "_Bad": _Bad, "_slow": init, "_cls": cls, "_type": type, "_int": int,
                          "_datetime": _dt.datetime, "_UTC": _UTC, "_Decimal": decimal.Decimal}
    info = cls.__kctx__
    plan_types = [f.type for f in info.fields] + [None for _ in info.ignored]
    names = [f[0] for f in plan.fields]
    # the slow path gets the keywords as given, rebuilt from the parameters (errors only)
    given = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    slow = f"return _slow(_self, _args, {{**{{k: v for k, v in {given}.items() if v is not _M}}, **_extra}})"
    lines = [f"def __init__(_self, *_args, {', '.join(f'{n}=_M' for n in names)}, **_extra):",
             "    if _args or _extra or _type(_self) is not _cls:",
             f"        {slow}",
             "    _d = _self.__dict__",
             "    try:"]
    for i, (name, default, factory, check, exact, nullable) in enumerate(plan.fields):
        ns[f"_D{i}"], ns[f"_F{i}"], ns[f"_C{i}"], ns[f"_E{i}"] = default, factory, check, exact
        lines.append(f"        if {name} is _M:")
        if default is _MISSING:
            lines.append(f"            {slow}")
        else:
            lines.append(f"            {name} = {'_D%d' % i if factory is None else '_F%d()' % i}")
        t = plan_types[i]
        rng = _RANGES.get(_exact_key(t))
        # the common valid value passes an inline test; anything else goes to the checker
        if check is not None and rng is not None:  # ints: the range check inline
            lines.append(f"        elif _type({name}) is not _int or not {rng[0]} <= {name} <= {rng[1]}:")
        elif check is not None and t.name == "TIMESTAMP":  # UTC, whole milliseconds
            lines.append(f"        elif _type({name}) is not _datetime or {name}.tzinfo is not _UTC "
                         f"or {name}.microsecond % 1000:")
        elif check is not None and t.name == "DECIMAL":  # exactly the column's places, digits fit
            ns[f"_Q{i}"] = decimal.Decimal((0, (1,), -t.scale))
            lines.append(f"        elif _type({name}) is not _Decimal or not {name}.same_quantum(_Q{i}) "
                         f"or {name}.adjusted() >= {t.precision - t.scale}:")
        elif check is not None:
            lines.append(f"        elif _type({name}) is not _E{i}:")
        if check is not None:
            lines.append(f"            if {name} is None:")
            lines.append("                pass" if nullable else f"                {slow}")
            lines.append("            else:")
            lines.append(f"                {name} = _C{i}({name})")
        lines.append(f"        _d[{name!r}] = {name}")
    lines += ["    except _Bad:", f"        {slow}"]
    exec("\n".join(lines), ns)  # noqa: S102 - code built from field names of a class
    return ns["__init__"]


def init(self, args: tuple, kwargs: dict) -> None:
    """``__init__`` of entities and structs (see the module docstring)."""
    plan = plan_of(type(self))
    if plan.problem:
        raise EntityValueError(plan.problem)
    cls_name = type(self).__name__
    if args:
        if len(args) > len(plan.names):
            raise EntityValueError(f"{cls_name}() takes {len(plan.names)} positional arguments "
                                   f"({', '.join(plan.names)}) but {len(args)} were given")
        for name, v in zip(plan.names, args):
            if name in kwargs:
                raise EntityValueError(f"{cls_name}.{name}: given both positionally and by keyword")
            kwargs[name] = v
    d = self.__dict__
    used = 0
    missing = None
    for name, default, factory, check, exact, nullable in plan.fields:
        v = kwargs.get(name, _MISSING)
        if v is _MISSING:
            if default is _MISSING:
                missing = (missing or []) + [name]
                continue
            v = default if factory is None else factory()
        else:
            used += 1
        d[name] = _checked(cls_name, name, v, check, exact, nullable)
    if used != len(kwargs):
        unknown = sorted(k for k in kwargs if k not in plan.by_name)
        raise EntityValueError(f"{cls_name}: unknown field(s) {', '.join(unknown)} "
                               f"(fields: {', '.join(plan.names)})")
    if missing:
        raise EntityValueError(f"{cls_name}: missing required field(s) {', '.join(missing)}")


def check_value(cls, name: str, value) -> Any:
    """``value`` as constructing ``cls`` would store it in its field ``name`` — checked and
    converted the same way (a Decimal at its column's scale, ...) — for callers that take
    one field's value without building an entity (a table's key in ``ctx.remove`` and
    ``ctx.table(...).get``). EntityValueError, the message construction gives, when the
    field does not take it (or ``cls`` has no such field)."""
    plan = plan_of(cls)
    if plan.problem:
        raise EntityValueError(plan.problem)
    for fname, _, _, check, exact, nullable in plan.fields:
        if fname == name:
            break
    else:
        raise EntityValueError(f"{cls.__name__}: unknown field {name} (fields: {', '.join(plan.names)})")
    return _checked(cls.__name__, name, value, check, exact, nullable)


def _checked(owner: str, name: str, v, check, exact, nullable: bool):
    # one field's step of init and check_value: a value of the exact type as it is, None
    # only where Optional, anything else through the field's checker
    if check is None or type(v) is exact:
        return v
    if v is None:
        if not nullable:
            raise EntityValueError(f"{owner}.{name}: None is not allowed: the field is not Optional")
        return None
    try:
        return check(v)
    except _Bad as exc:
        raise EntityValueError(f"{owner}.{name}: {exc}") from None


def eq(self, other) -> Any:
    """Same class and equal stored (not ignored) fields."""
    if type(other) is not type(self):
        return NotImplemented
    d, o = self.__dict__, other.__dict__
    return all(d.get(n) == o.get(n) for n in plan_of(type(self)).stored)


def repr_(self) -> str:
    """``Order(order_id=..., amount=Decimal('12.5'), ...)``: every field, ignored ones too."""
    d = self.__dict__
    inner = ", ".join(f"{n}={d.get(n)!r}" for n in plan_of(type(self)).names)
    return f"{type(self).__name__}({inner})"


def as_dict(self) -> dict[str, Any]:
    """The stored fields (ignored ones left out) as a dict; nested structs as dicts."""
    d = self.__dict__
    return {n: _plain(d.get(n)) for n in plan_of(type(self)).stored}


def _plain(v):
    if hasattr(type(v), "__kctx__"):
        return as_dict(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


# --------------------------------------------------------------------------- checkers

def checker(t, nullable: bool, owner: str) -> Callable[[Any], Any]:
    """A function value -> normalised value for a column of SqlType ``t``; raises _Bad."""
    inner = _checker(t, owner)

    if nullable:
        def check(v):
            return None if v is None else inner(v)
    else:
        def check(v):
            if v is None:
                raise _Bad("None is not allowed: the field is not Optional")
            return inner(v)
    return check


def _type_name(v) -> str:
    return type(v).__name__


def _checker(t, owner: str) -> Callable[[Any], Any]:
    n = t.name
    if n == "BOOLEAN":
        def check(v):
            if v is True or v is False:
                return v
            raise _Bad(f"expected bool (BOOLEAN), got {_type_name(v)} {v!r}")
        return check
    if n in ("INT", "BIGINT"):
        lo, hi = _INT32 if n == "INT" else _INT64

        def check(v):
            if type(v) is int or (isinstance(v, int) and not isinstance(v, bool)):
                if lo <= v <= hi:
                    return v
                raise _Bad(f"{v} is out of range for {n} ({lo}..{hi})")
            raise _Bad(f"expected int ({n}), got {_type_name(v)} {v!r}")
        return check
    if n == "DOUBLE":
        def check(v):
            if type(v) is float:
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
            raise _Bad(f"expected float (DOUBLE), got {_type_name(v)} {v!r}")
        return check
    if n == "STRING":
        if t.avro == "uuid":
            def check(v):
                if isinstance(v, uuid.UUID):
                    return v
                if isinstance(v, str):
                    try:
                        return uuid.UUID(v)
                    except ValueError:
                        raise _Bad(f"{v!r} is not a UUID") from None
                raise _Bad(f"expected UUID, got {_type_name(v)} {v!r}")
            return check

        def check(v):
            if type(v) is str or isinstance(v, str):
                return v
            raise _Bad(f"expected str (STRING), got {_type_name(v)} {v!r}")
        return check
    if n == "BYTES":
        def check(v):
            if type(v) is bytes:
                return v
            if isinstance(v, (bytes, bytearray, memoryview)):
                return bytes(v)
            raise _Bad(f"expected bytes (BYTES), got {_type_name(v)} {v!r}")
        return check
    if n == "DECIMAL":
        return _decimal_checker(t.precision, t.scale)
    if n == "TIMESTAMP":
        def check(v):
            if not isinstance(v, _dt.datetime):
                raise _Bad(f"expected a timezone-aware datetime (TIMESTAMP), got {_type_name(v)} {v!r}")
            tz = v.tzinfo
            if tz is not _UTC and (tz is None or tz.utcoffset(v) is None):
                raise _Bad(f"datetime {v.isoformat()} is naive: give a timezone "
                           f"(e.g. datetime.now(timezone.utc)); TIMESTAMP is stored as UTC milliseconds")
            us = v.microsecond
            return v if us % 1000 == 0 else v.replace(microsecond=us - us % 1000)
        return check
    if n == "DATE":
        def check(v):
            if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
                return v
            raise _Bad(f"expected a date (DATE), got {_type_name(v)} {v!r}")
        return check
    if n == "TIME":
        def check(v):
            if not isinstance(v, _dt.time):
                raise _Bad(f"expected a time (TIME), got {_type_name(v)} {v!r}")
            if v.tzinfo is not None:
                raise _Bad(f"time {v.isoformat()} has a timezone: TIME is a time of day without one")
            us = v.microsecond
            return v if us % 1000 == 0 else v.replace(microsecond=us - us % 1000)
        return check
    if n == "ARRAY":
        item = checker(t.item, t.item_nullable, owner)

        def check(v):
            if not isinstance(v, (list, tuple)):
                raise _Bad(f"expected a list (ARRAY), got {_type_name(v)} {v!r}")
            out = []
            for i, x in enumerate(v):
                try:
                    out.append(item(x))
                except _Bad as exc:
                    raise _Bad(f"[{i}]: {exc}") from None
            return out
        return check
    if n == "MAP":
        item = checker(t.item, t.item_nullable, owner)

        def check(v):
            if not isinstance(v, dict):
                raise _Bad(f"expected a dict (MAP), got {_type_name(v)} {v!r}")
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise _Bad(f"map key {k!r} is not a str (ksqlDB MAP keys are STRING)")
                try:
                    out[k] = item(x)
                except _Bad as exc:
                    raise _Bad(f"[{k!r}]: {exc}") from None
            return out
        return check
    if n == "STRUCT":
        struct_cls = t.origin

        def check(v):
            if struct_cls is None:
                if isinstance(v, dict):
                    return v
                raise _Bad(f"expected a dict (STRUCT), got {_type_name(v)} {v!r}")
            if type(v) is struct_cls:
                return v
            if isinstance(v, dict):
                try:
                    return struct_cls(**v)
                except EntityValueError as exc:
                    raise _Bad(str(exc)) from None
            raise _Bad(f"expected {struct_cls.__name__} (or a dict of its fields), got {_type_name(v)} {v!r}")
        return check
    raise _Bad(f"type {t.ksql()} has no Python mapping")  # pragma: no cover - resolve_annotation refuses it


def _decimal_checker(precision: int, scale: int):
    label = f"DECIMAL({precision}, {scale})"
    max_int_digits = precision - scale
    quantum = decimal.Decimal((0, (1,), -scale))

    def check(v):
        if type(v) is not decimal.Decimal:
            if isinstance(v, bool) or not isinstance(v, (int, decimal.Decimal)):
                if isinstance(v, float):
                    raise _Bad(f"{v!r} is a float: use Decimal('...') so the value is exact ({label})")
                raise _Bad(f"expected Decimal ({label}), got {_type_name(v)} {v!r}")
            v = decimal.Decimal(v)
        elif v.same_quantum(quantum) and v.adjusted() < max_int_digits:
            return v  # exactly `scale` places (finite: NaN/Infinity have no such exponent), digits fit
        else:  # other places (12.5 or 1.230000 in DECIMAL(18, 4)): one C quantize decides most
            try:
                q = v.quantize(quantum)
            except decimal.InvalidOperation:  # not finite, or too many digits: the checks below say why
                q = None
            if q is not None and q == v and q.adjusted() < max_int_digits:
                return q  # the same value at the column's scale (12.5000), as ksqlDB returns it
        sign, digits, exp = v.as_tuple()
        if not isinstance(exp, int):
            raise _Bad(f"{v} is not a finite number ({label})")
        if exp < -scale:  # trailing zeros are no decimal places: 1.2300 fits DECIMAL(p, 2)
            text = "".join(map(str, digits))
            if exp + (len(text) - len(text.rstrip("0"))) < -scale:
                raise _Bad(f"{v} has more than {scale} decimal places ({label})")
            drop = -scale - exp  # exact: only zeros go (Avro writers need exponent >= -scale)
            digits, exp = digits[:len(digits) - drop] or (0,), -scale
            v = decimal.Decimal((sign, digits, exp))
        # digits before the point must fit precision - scale (Avro: unscaled value fits precision)
        int_digits = len(digits) + exp if v else 0
        if int_digits > max_int_digits:
            raise _Bad(f"{v} has more than {precision} digits at scale {scale} ({label})")
        return v
    return check

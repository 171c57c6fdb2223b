"""Decoded storage (``kctx cache warm --store decoded``): values decoded once at warm time
and kept in a form that loads in about a microsecond.

Why not pickle: unpickling a decoded Avro record costs ~4 us (every Decimal and every
aware datetime is rebuilt through a constructor call, timezone.utc included), about as
much as fastavro itself. ``marshal`` loads plain dicts/lists/str/int/bytes several times
faster, so a value is stored as

    0x01 + schema id (4 bytes) + marshal(value with Avro logical types made plain)

and the writer makes them plain / the reader restores them with small functions built
once per writer schema (the reader's from the schema stored in the cache; only the
fields that need it are touched):

    decimal -> str, date -> ordinal, time -> microseconds of the day,
    timestamp-* -> microseconds since the epoch (aware UTC; local-timestamp-* naive),
    uuid -> str

Other tags: 0x02 + marshal(value) for values that need no schema (JSON, text),
0x03 + pickle(value) when marshal cannot express the value or a union of several
non-null branches makes the plain form ambiguous, 0x04 + the raw bytes (undecodable,
e.g. the writer schema was not available). marshal and pickle data must come from a
trusted place: the cache directory is written by kctx only and must be protected like
any pickle file; its format is tied to the Python version (re-warm after an upgrade).
"""
from __future__ import annotations

import marshal
import pickle
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

AVRO, PLAIN, PICKLE, RAW = 1, 2, 3, 4
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


class _Unsupported(Exception):
    """The schema cannot use the marshal form (pickle is used instead)."""


# -- writing (warm)
def encode_avro(sid_bytes: bytes, value, fixer) -> bytes:
    """``value``: fastavro's decoded value (changed in place); ``fixer``: what
    ``fixer_for`` returned for the writer schema (False: use pickle)."""
    if fixer is None:
        return b"\x01" + sid_bytes + marshal.dumps(value)
    if fixer is not False:
        plain = fixer[1](value)
        try:
            return b"\x01" + sid_bytes + marshal.dumps(plain)
        except ValueError:  # a type marshal cannot store: pickle what fastavro returned
            value = fixer[0](plain)
    return b"\x03" + pickle.dumps(value, 5)


def encode_plain(value) -> bytes:
    """A value that needs no schema (JSON, text, bytes) in the stored form: tag 0x04 + the
    bytes for ``bytes``, else 0x02 + marshal, else 0x03 + pickle (protocol 5) when marshal
    cannot express it."""
    if isinstance(value, bytes):
        return b"\x04" + value
    try:
        return b"\x02" + marshal.dumps(value)
    except ValueError:
        return b"\x03" + pickle.dumps(value, 5)


# -- per schema: (restore plain -> decoded, decoded -> plain), built once per writer schema
def _ts(v):
    return _UTC_EPOCH + timedelta(0, 0, v)  # positional: faster than microseconds=v


def _local_ts(v):
    return _NAIVE_EPOCH + timedelta(0, 0, v)


def _time(v):
    s, us = divmod(v, 1_000_000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return time(h, m, s, us)


def _time_plain(v):
    return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond


_TS = (_ts, lambda v: (v - _UTC_EPOCH) // _US)
_LOCAL_TS = (_local_ts, lambda v: (v - _NAIVE_EPOCH) // _US)
_LOGICAL = {"decimal": (Decimal, str), "date": (date.fromordinal, date.toordinal),
            "time-millis": (_time, _time_plain), "time-micros": (_time, _time_plain),
            "timestamp-millis": _TS, "timestamp-micros": _TS, "timestamp-nanos": None,
            "local-timestamp-millis": _LOCAL_TS, "local-timestamp-micros": _LOCAL_TS, "uuid": (UUID, str)}


def fixer_for(schema):
    """(restore, make_plain) for values of this writer schema; None when marshal stores
    its values as they are; False when the marshal form cannot be used for it."""
    try:
        return _fixer(schema, {}, "", set())
    except _Unsupported:
        return False


def _both(make):
    """Apply ``make`` to the restore and to the plain function of a fixer pair."""
    return lambda pair: (make(pair[0]), make(pair[1]))


def _nullable(f):
    return lambda v: None if v is None else f(v)


def _array(f):
    return lambda v: [f(x) for x in v]


def _map(f):
    return lambda v: {k: f(x) for k, x in v.items()}


def _record(todo):
    def fix(d):
        for n, f in todo:
            d[n] = f(d[n])
        return d
    return fix


def _fixer(s, names, ns, busy):
    if isinstance(s, str):
        if s in names or (ns and f"{ns}.{s}" in names):
            full = s if s in names else f"{ns}.{s}"
            if full in busy:
                raise _Unsupported  # recursive type
            return names[full]
        return None  # primitive
    if isinstance(s, list):  # union
        branches = [b for b in s if b != "null"]
        fixes = [_fixer(b, names, ns, busy) for b in branches]
        if len(branches) > 1 and any(f is not None for f in fixes):
            raise _Unsupported  # which branch a plain value came from is lost
        f = fixes[0] if fixes else None
        return None if f is None else _both(_nullable)(f)
    t = s.get("type")
    lt = s.get("logicalType")
    if lt in _LOGICAL:
        if _LOGICAL[lt] is None:
            raise _Unsupported
        if lt != "uuid" or t == "string":  # fastavro returns a UUID only for strings
            return _LOGICAL[lt]
    if isinstance(t, (dict, list)):
        return _fixer(t, names, ns, busy)
    if t in ("record", "error"):
        name = s["name"] if "." in s["name"] else ".".join(filter(None, [s.get("namespace", ns), s["name"]]))
        inner_ns = name.rpartition(".")[0]
        busy.add(name)
        names[name] = None  # until known; a self-reference is refused via busy
        todo = [(f["name"], _fixer(f["type"], names, inner_ns, busy)) for f in s["fields"]]
        todo = [(n, f) for n, f in todo if f is not None]
        busy.discard(name)
        names[name] = fix = (_record([(n, f[0]) for n, f in todo]), _record([(n, f[1]) for n, f in todo])) if todo else None
        return fix
    if t in ("enum", "fixed"):
        name = s["name"] if "." in s["name"] else ".".join(filter(None, [s.get("namespace", ns), s["name"]]))
        names[name] = None
        return None
    if t == "array":
        f = _fixer(s["items"], names, ns, busy)
        return None if f is None else _both(_array)(f)
    if t == "map":
        f = _fixer(s["values"], names, ns, busy)
        return None if f is None else _both(_map)(f)
    return _fixer(t, names, ns, busy) if isinstance(t, str) and t not in (
        "null", "boolean", "int", "long", "float", "double", "bytes", "string") else None

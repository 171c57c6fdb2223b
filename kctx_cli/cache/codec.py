"""Decoded storage (``kctx cache warm --store decoded``): values decoded once at warm time
and kept in a form that loads in about a microsecond.

Why not pickle: unpickling a decoded Avro record costs ~4 us (every Decimal and every
aware datetime is rebuilt through a constructor call, timezone.utc included), about as
much as fastavro itself. ``marshal`` loads plain dicts/lists/str/int/bytes several times
faster, so a value is stored as

    0x01 + schema id (4 bytes) + marshal(value with Avro logical types made plain)

and the reader restores the logical types with small functions built once per writer
schema from the schema stored in the cache (only the fields that need it are touched):

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


# -- writing (warm): decoded value -> plain marshal-safe value
def _plain(v):
    t = type(v)
    if t is dict:
        return {k: _plain(x) for k, x in v.items()}
    if t is list:
        return [_plain(x) for x in v]
    if t is Decimal or t is UUID:
        return str(v)
    if t is datetime:
        return (v - (_NAIVE_EPOCH if v.tzinfo is None else _UTC_EPOCH)) // _US
    if t is date:
        return v.toordinal()
    if t is time:
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
    return v


def encode_avro(sid_bytes: bytes, value, fixer) -> bytes:
    """``fixer``: what ``fixer_for`` returned for the writer schema (False: use pickle)."""
    if fixer is not False:
        try:
            return b"\x01" + sid_bytes + marshal.dumps(_plain(value))
        except ValueError:  # a type marshal cannot store
            pass
    return b"\x03" + pickle.dumps(value, 5)


def encode_plain(value) -> bytes:
    if isinstance(value, bytes):
        return b"\x04" + value
    try:
        return b"\x02" + marshal.dumps(value)
    except ValueError:
        return b"\x03" + pickle.dumps(value, 5)


# -- reading: plain value -> the value fastavro returns, built once per schema
def _ts(v):
    return _UTC_EPOCH + timedelta(0, 0, v)  # positional: faster than microseconds=v


def _local_ts(v):
    return _NAIVE_EPOCH + timedelta(0, 0, v)


def _time(v):
    s, us = divmod(v, 1_000_000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return time(h, m, s, us)


_LOGICAL = {"decimal": Decimal, "date": date.fromordinal, "time-millis": _time, "time-micros": _time,
            "timestamp-millis": _ts, "timestamp-micros": _ts, "timestamp-nanos": None,
            "local-timestamp-millis": _local_ts, "local-timestamp-micros": _local_ts, "uuid": UUID}


def fixer_for(schema):
    """A function that restores a plain value of this writer schema (None: nothing to
    restore), or False when the marshal form cannot be used for it."""
    try:
        return _fixer(schema, {}, "", set())
    except _Unsupported:
        return False


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
        return None if f is None else (lambda v: None if v is None else f(v))
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

        def record(d, todo=todo):
            for n, f in todo:
                d[n] = f(d[n])
            return d
        names[name] = fix = record if todo else None
        return fix
    if t in ("enum", "fixed"):
        name = s["name"] if "." in s["name"] else ".".join(filter(None, [s.get("namespace", ns), s["name"]]))
        names[name] = None
        return None
    if t == "array":
        f = _fixer(s["items"], names, ns, busy)
        return None if f is None else (lambda v: [f(x) for x in v])
    if t == "map":
        f = _fixer(s["values"], names, ns, busy)
        return None if f is None else (lambda v: {k: f(x) for k, x in v.items()})
    return _fixer(t, names, ns, busy) if isinstance(t, str) and t not in (
        "null", "boolean", "int", "long", "float", "double", "bytes", "string") else None

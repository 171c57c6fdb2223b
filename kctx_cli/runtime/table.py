"""``ctx.table(Customer)``: typed reads of a table from its local RocksDB cache (the seed's
cache layer), the cache ``kctx cache warm`` fills (same directory: ``--cache-dir``,
``KCTX_CACHE_DIR`` or ``<project>/.kctx/cache``, kctx_cli/cache/store.py for the layout).

A background thread keeps the cache current: it runs the same warm as ``kctx cache warm``
(kctx_cli.cache.warm.warm: only what is new since the stored offsets, tombstones delete,
offsets and data written in one batch) every ``refresh_interval`` seconds; the reader (a
RocksDB secondary instance) catches up after each round. When another process holds the
writer (a running ``kctx cache warm``, another service on the host), the thread only
catches up with what that process writes. A service can therefore start from a
pre-warmed cache and read while it catches up; ``wait_until_current()`` blocks until the
cache holds everything the topic had when it was called.

Keys are looked up as the cache stores them: AVRO keys as their canonical text
(kctx_cli.tail.keys.canonical_text), KAFKA and JSON keys as their bytes.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any, Callable, Iterator

from kctx_cli.errors import KctxError

MEMO_SIZE = 100_000


class TableView:
    """Read-only, typed view of one TABLE entity's cache. ``get(key)`` -> entity or None
    (``key``: the key column's value; a dict for composite keys), ``to_list()``,
    ``first(where=...)``, ``filter(where=...)``, ``len()``; ``close()`` stops the refresh
    thread. Errors: ``KctxError`` when the cache cannot be opened or warmed."""

    def __init__(self, ctx, cls, *, cache_dir=None, refresh_interval: float = 0.5, store: str = "decoded",
                 follow: bool = True):
        from kctx_cli.cache import CacheTable, store as st
        from kctx_cli.cache.warm import warm
        from kctx_cli.runtime.codec import _instance_builder

        self.ctx = ctx
        self.info = ctx.entity(cls)
        self.cls = self.info.cls
        self.topic = self.info.topic
        self.base = st.cache_dir(ctx.config, cache_dir)
        self.path = st.db_path(self.base, self.topic)
        self.refresh_interval = refresh_interval
        self._warm = warm
        self._error: str | None = None
        if not (self.path / "CURRENT").is_file():
            self._warm_once(store)  # create it (a first full warm)
        self._table = CacheTable(self.path)
        self._get_value = self._table.get
        self._build = _instance_builder(self.cls, [f for f in self.info.fields if not f.key])
        self._keys = self.info.keys
        self._key_bytes = _key_encoder(self.info)
        self._key_parse = _key_parser(self.info)
        self._new = object.__new__
        self._memo: dict = {}
        self._gen = 0
        self._offsets = self._table.offsets()
        self._prepare_fast()
        self._stop = threading.Event()
        self._thread = None
        if follow:
            self._thread = threading.Thread(target=self._follow, name=f"kctx-table-{self.topic}", daemon=True)
            self._thread.start()
        ctx._closers.append(self.close)

    # -- refreshing
    def _warm_once(self, store: str | None = None) -> bool:
        """One warm round; False when another process holds the writer."""
        try:
            self._warm(self.ctx.config, self.topic, base=self.base, store_mode=store)
            self._error = None
            return True
        except KctxError as exc:
            if "in use by another warm" in str(exc):
                return False
            self._error = str(exc)
            if not (self.path / "CURRENT").is_file():
                raise
            return False

    def _follow(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep serving the last state; error() tells
                self._error = f"{type(exc).__name__}: {exc}"

    def refresh(self) -> None:
        """Warm now (when this process may write the cache) and catch up; the memo of
        ``get`` is emptied when new records arrived."""
        self._warm_once()
        self._table.refresh()
        offsets = self._table.offsets()
        if offsets != self._offsets:
            self._offsets = offsets
            self._gen += 1
            self._memo = {}

    def wait_until_current(self, timeout: float = 30.0) -> None:
        """Block until the cache holds every record the topic had when called (its
        end offsets); ``KctxError`` after ``timeout`` seconds."""
        from confluent_kafka import TopicPartition

        from kctx_cli.backends import kafka

        c = kafka.consumer(self.ctx.config)
        try:
            md = kafka.describe_topic(c, self.topic, self.ctx.config)
            ends = {p: c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1] for p in md.partitions}
        finally:
            c.close()
        deadline = time.monotonic() + timeout
        while True:
            self.refresh()
            have = self._table.offsets()
            if all(have.get(p, 0) >= e for p, e in ends.items()):
                return
            if time.monotonic() > deadline:
                raise KctxError(f"the cache of {self.topic} did not catch up within {timeout:g} s"
                                + (f": {self._error}" if self._error else ""))
            time.sleep(0.05)

    @property
    def error(self) -> str | None:
        """The last refresh failure (None when the last round worked)."""
        return self._error

    # -- reading
    def _prepare_fast(self) -> None:
        """The hot path of ``get``: a value dict whose names are the model's (a source
        entity's own schema) becomes the instance's ``__dict__`` as it is (it is a fresh
        dict from the cache's decoder), after the few fields that need a conversion."""
        from kctx_cli.runtime.codec import _decoder

        vals = [f for f in self.info.fields if not f.key]
        # a ColumnName field is stored under its Avro name: such values take _build's way
        self._n = len(vals) if all(f.avro_name == f.name for f in vals) else -1
        self._first = vals[0].name if vals else None
        self._decs = [(f.name, d) for f in vals for d in [_decoder(f.type)] if d is not None]
        self._ign = [(f.name, None if f.default is _MISSING_DEFAULT() else f.default) for f in self.info.ignored]
        self._single = self._keys[0].name if len(self._keys) == 1 else None
        from kctx_cli.model.instance import check_value

        cls, names = self.cls, [f.name for f in self._keys]
        if self._single is not None:
            self._check_key = lambda k: check_value(cls, names[0], k)
        else:
            def check(k):
                if not isinstance(k, dict) or set(k) != set(names):
                    raise KctxError(f"{self.info.name}: a composite key is a dict of {', '.join(names)}, got {k!r}")
                return {n: check_value(cls, n, k[n]) for n in names}
            self._check_key = check

    def get(self, key, default=None):
        """The entity stored under ``key`` (a key column value; for composite keys a dict
        ``{field: value}``), else ``default``. Each call returns a new instance (callers
        may change it); rows read since the last change of the cache are served from an
        in-process memo (at most ``MEMO_SIZE`` rows, emptied whenever a refresh brings
        new records), the others from RocksDB. ``EntityValueError`` for a key the key field
        does not take, as constructing the entity would (a str or float for a DECIMAL, more
        places than its scale...); a Decimal with fewer places finds the row."""
        memo = self._memo
        try:
            hit = memo.get(key)
        except TypeError:  # an unhashable key (a composite key's dict, a Struct): not memoized
            hit = memo = None
        # 12.5 == Decimal("12.5") as dict keys: a hit only for a key of the stored key's type
        if hit is not None and type(hit[self._single]) is type(key):
            obj = self._new(self.cls)
            obj.__dict__ = hit.copy()
            return obj
        gen = self._gen
        key = self._check_key(key)  # a key the field does not take: EntityValueError, not "no row"
        obj = self._read(key)
        if obj is None:
            return default
        if memo is not None and gen == self._gen and not (type(key) is float and key == 0):
            # (0.0 and -0.0 are equal dict keys but two Kafka keys: not memoized)
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = obj.__dict__.copy()
        return obj

    def _read(self, key):
        v = self._get_value(self._key_bytes(key))
        if v is None:
            return None
        if len(v) == self._n and self._first in v:
            for name, dec in self._decs:
                x = v[name]
                if x is not None:
                    v[name] = dec(x)
            for name, dv in self._ign:
                v[name] = dv
            obj = self._new(self.cls)
            obj.__dict__ = v
        else:
            obj = self._build(v)
        if self._single is not None:
            obj.__dict__[self._single] = key
        else:
            for f in self._keys:
                obj.__dict__[f.name] = key.get(f.name)
        return obj

    __getitem__ = get

    def __contains__(self, key) -> bool:
        return self._get_value(self._key_bytes(self._check_key(key))) is not None

    def items(self) -> Iterator[tuple[Any, Any]]:
        """(key, entity) for every row (RocksDB key order)."""
        for k, v in self._table.items():
            if not isinstance(v, dict):
                continue  # a value that did not decode (kctx cache stats counts them)
            key = self._key_parse(k)
            obj = self._build(v)
            d = obj.__dict__
            if len(self._keys) == 1:
                d[self._keys[0].name] = key
            else:
                for f in self._keys:
                    d[f.name] = (key or {}).get(f.avro_name, (key or {}).get(f.column))
            yield key, obj

    def to_list(self) -> list:
        """Every row as an entity."""
        return [e for _, e in self.items()]

    def filter(self, where=None) -> Iterator[Any]:
        """Rows for which the DSL predicate ``where`` (e.g. ``Customer.tier >= 2``) is
        true, evaluated locally with SQL's three-valued logic (NULL is not true)."""
        if where is None:
            yield from (e for _, e in self.items())
            return
        from kctx_cli.runtime.evaluate import predicate

        test = predicate(where, self.cls)
        for _, e in self.items():
            if test(e):
                yield e

    def first(self, where=None, default=None):
        """The first row (key order) matching ``where``, else ``default``."""
        return next(iter(self.filter(where)), default)

    def __len__(self) -> int:
        return sum(1 for _ in self._table.items())

    def close(self) -> None:
        """Stop the refresh thread and close the reader. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._table is not None:
            self._table.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _MISSING_DEFAULT():
    from kctx_cli.model.entity import MISSING

    return MISSING


def _key_encoder(info) -> Callable[[Any], bytes]:
    keys = info.keys
    if not keys:
        raise KctxError(f"{info.name} has no key: a table needs one")
    fmt = info.key_format
    if fmt == "KAFKA":
        from kctx_cli.tail.keys import kafka_bytes

        t = keys[0].type.name
        if t == "STRING":
            return lambda k: (str(k) if isinstance(k, uuid.UUID) else k).encode()
        return lambda k: kafka_bytes(k, t)
    if fmt == "JSON":
        from kctx_cli.tail.keys import json_text

        if len(keys) == 1:
            return lambda k: json_text(str(k) if isinstance(k, uuid.UUID) else k).encode()
        return lambda k: json_text({f.column: k.get(f.name) for f in keys}).encode()
    from kctx_cli.tail.keys import canonical_text

    if len(keys) == 1:
        t = keys[0].type
        if t.name == "STRING" and t.avro != "uuid":
            return lambda k: k.encode()
        return lambda k: canonical_text(_key_datum(t, k)).encode()
    names = [(f.avro_name, f.name, f.type) for f in keys]  # the Avro key record's names
    return lambda k: canonical_text({n: _key_datum(t, k.get(a)) for n, a, t in names}).encode()


def _key_datum(t, v):
    """A key column's value, checked as the entity checks it (a Decimal already at its
    column's scale), -> the datum whose canonical text the cache stores (the decoded Avro
    key): a STRUCT instance as the record of its Avro field names, anything else as it is."""
    if v is None:
        return None
    if t.name == "STRUCT" and hasattr(type(v), "__kctx__"):
        d = v.__dict__
        return {f.avro_name: _key_datum(f.type, d.get(f.name)) for f in type(v).__kctx__.fields}
    return v


def _key_value(t) -> Callable[[Any], Any]:
    """A key column's value as the cache stores it (the JSON form of the decoded Avro key:
    tail.keys.canonical_text) -> the model's Python value: the JSON forms ksqlDB's query
    rows use too (runtime.ksql.type_converter: DECIMAL text, BYTES base64, ISO TIMESTAMP,
    DATE and TIME), then the codec's conversions (UUID, a STRUCT's instance)."""
    from kctx_cli.runtime.codec import _decoder
    from kctx_cli.runtime.ksql import type_converter

    conv, dec = type_converter(t.ksql()), _decoder(t)

    def value(v):
        if v is None:
            return None
        if conv is not None:
            v = conv(v)
        return v if dec is None else dec(v)
    return value


def _key_parser(info) -> Callable[[bytes], Any]:
    keys = info.keys
    fmt = info.key_format
    if fmt == "KAFKA":
        t = keys[0].type.name
        if t == "STRING":
            return lambda b: b.decode("utf-8", "replace")
        from kctx_cli.tail.keys import decode_kafka

        return lambda b: (decode_kafka(b, t) or (b,))[0]
    if fmt == "JSON":
        return lambda b: json.loads(b)
    if len(keys) == 1:
        t = keys[0].type
        if t.name == "STRING" and t.avro == "uuid":
            return lambda b: uuid.UUID(json.loads(b) if b[:1] == b'"' else b.decode())
        if t.name == "STRING":
            return lambda b: b.decode("utf-8", "replace")
        value = _key_value(t)
        return lambda b: value(json.loads(b))
    values = [(f.avro_name, _key_value(f.type)) for f in keys]

    def record(b):
        d = json.loads(b)
        for n, conv in values:
            if n in d:
                d[n] = conv(d[n])
        return d
    return record

"""Read-only access to a table cache filled by ``kctx cache warm``.

    from kctx_cli.cache import open_table

    with open_table("customers") as customers:      # topic or model entity name
        row = customers.get("c-42")                  # decoded value (dict) or None
        customers.refresh()                          # see what a running warm added since

Readers open a RocksDB *secondary* instance, so they work while a warm is writing and
never see half a batch. A raw cache (the default) decodes values on each ``get`` with the
writer schemas stored in the cache (no registry needed); a decoded cache (``kctx cache
warm --store decoded``) holds them decoded already (kctx_cli/cache/codec.py), so ``get``
is several times faster and returns the same value; ``get_raw`` is raw mode only.
Layout: ``kctx_cli/cache/store.py``.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from marshal import loads

from kctx_cli.cache import store
from kctx_cli.errors import KctxError

__all__ = ["open_table", "CacheTable", "Hit", "UndecodableValue"]

_OFFSETS_KEY = store.OFFSETS_KEY


class UndecodableValue(KctxError):
    """A cached value in the Confluent wire format that cannot be decoded: its writer
    schema is not in the cache (the registry could not give it during the warm), or the
    bytes do not match it. The message says which; ``raw`` holds the bytes."""

    def __init__(self, message: str, raw: bytes):
        super().__init__(message)
        self.raw = raw


def open_table(name: str, cache_dir: str | os.PathLike | None = None, config=None) -> "CacheTable":
    """Open the cache of a topic (or of a model entity, resolved with the project's
    config) read-only."""
    base = store.cache_dir(config, cache_dir) if (cache_dir or config) else None
    if base is None:
        if os.environ.get("KCTX_CACHE_DIR"):
            base = Path(os.environ["KCTX_CACHE_DIR"])
        else:
            from kctx_cli.config import load_config

            config = load_config()
            base = store.cache_dir(config)
    path = base / name if store.is_safe(name) else None
    if path is None or not (path / "CURRENT").is_file():
        topic = name
        try:
            from kctx_cli.config import load_config

            topic = store.resolve_topic(config or load_config(), name)
        except KctxError:
            pass
        path = store.db_path(base, topic)
        if not (path / "CURRENT").is_file():
            raise KctxError(f"no cache for '{name}' in {base}: run kctx cache warm {name}")
    return CacheTable(path)


class Hit(NamedTuple):
    """What ``CacheTable.lookup`` found: the stored ``key`` bytes that matched and the
    decoded ``value``. Unpacks as ``key, value``."""

    key: bytes
    value: Any


class CacheTable:
    """The read-only cache of one topic at ``path`` (a RocksDB directory, kctx_cli/cache/store.py),
    opened as a secondary instance in a temporary directory; ``store`` is ``raw`` or
    ``decoded``. Use ``open_table`` to find it by name; close it (or use ``with``) to free the
    RocksDB handle and the temporary directory. KctxError when the database cannot be opened."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._secondary = tempfile.mkdtemp(prefix="kctx-cache-reader-")
        try:
            self._db = store.open_reader(self.path, self._secondary)
        except Exception as exc:  # noqa: BLE001
            shutil.rmtree(self._secondary, ignore_errors=True)
            raise KctxError(f"cannot open the cache at {self.path}: {exc}") from None
        self._meta = self._db.get_column_family(store.META)
        self._files = self._sst_files()
        self._schemas: dict[int, Any] = {}
        self.store = store.store_of(self._meta)
        if self.store == store.DECODED:
            self._fixers: dict[bytes, Any] = {}
            self.decode = self._load  # values are stored decoded: get/items/[] just load them
            self.get = self._get_decoded

    # -- reading
    def get_raw(self, key: str | bytes) -> bytes | None:
        """The value bytes as they were in Kafka, or None (raw caches only)."""
        self._raw_only("get_raw")
        k = key.encode() if isinstance(key, str) else key
        return None if k == store.OFFSETS_KEY else self._db.get(k)

    def get(self, key: str | bytes, default: Any = None) -> Any:
        """The decoded value (Avro record -> dict, JSON -> value, else text/bytes)."""
        k = key.encode() if isinstance(key, str) else key
        raw = self._db.get(k) if k != store.OFFSETS_KEY else None
        return default if raw is None else self.decode(raw)

    def _get_decoded(self, key: str | bytes, default: Any = None) -> Any:
        # get() of a decoded cache, inlined: this is the hot path applications call
        k = key.encode() if isinstance(key, str) else key
        v = self._db.get(k) if k != _OFFSETS_KEY else None
        if v is None:
            return default
        if v[0] == 1:
            fix = self._fixers.get(v[1:5], False)
            if fix is False:
                fix = self._fixer(v[1:5])
            return loads(v[5:]) if fix is None else fix(loads(v[5:]))
        return self._load(v)

    def __getitem__(self, key):
        k = key.encode() if isinstance(key, str) else key
        raw = self._db.get(k) if k != store.OFFSETS_KEY else None
        if raw is None:
            raise KeyError(key)
        return self.decode(raw)

    def __contains__(self, key) -> bool:
        k = key.encode() if isinstance(key, str) else key
        return k != store.OFFSETS_KEY and self._db.get(k) is not None

    def items(self) -> Iterator[tuple[bytes, Any]]:
        """(key, decoded value) of every entry; a value that cannot be decoded comes as
        its raw bytes (``get`` raises UndecodableValue for it)."""
        for k, v in self._db.items():
            if k == _OFFSETS_KEY:
                continue
            try:
                yield k, self.decode(v)
            except UndecodableValue as exc:
                yield k, exc.raw

    def lookup(self, keys: list[bytes]) -> Hit | None:
        """The first of ``keys`` (candidate encodings, kctx_cli.tail.keys.cache_keys) the
        cache holds: a Hit (that key, its decoded value), else None. UndecodableValue as get."""
        for k in keys:
            raw = self._db.get(k) if k != _OFFSETS_KEY else None
            if raw is not None:
                return Hit(k, self.decode(raw))
        return None

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value bytes as in Kafka) (raw caches only)."""
        self._raw_only("raw_items")
        return ((k, v) for k, v in self._db.items() if k != _OFFSETS_KEY)

    def _raw_only(self, what: str) -> None:
        if self.store != store.RAW:
            raise KctxError(f"{what}: the cache at {self.path} stores decoded values (warmed with --store decoded); "
                            "use get/items, or re-warm with --store raw to keep the Kafka bytes")

    def _load(self, v: bytes) -> Any:
        """A stored value of a decoded cache -> the value ``get`` returns in raw mode."""
        tag = v[0]
        if tag == 1:  # Avro, marshal form: restore the logical types of this schema
            fix = self._fixers.get(v[1:5], False)
            if fix is False:
                fix = self._fixer(v[1:5])
            return loads(v[5:]) if fix is None else fix(loads(v[5:]))
        if tag == 2:
            return loads(v[1:])
        if tag == 3:
            return pickle.loads(v[1:])
        raw = v[1:]
        if raw[:1] == b"\x00" and len(raw) >= 5:  # stored raw at warm time: say why it does not decode
            return self._decode_framed(raw)
        return raw

    def _fixer(self, sid: bytes):
        from kctx_cli.cache.codec import fixer_for

        text = self._meta.get(b"schema:%d" % int.from_bytes(sid, "big"))
        if text is None:
            raise KctxError(f"the cache at {self.path} has no writer schema {int.from_bytes(sid, 'big')}: re-warm it")
        pair = fixer_for(json.loads(text))
        fix = self._fixers[sid] = pair[0] if pair else None  # False: this schema's values are pickled (tag 3)
        return fix

    def decode(self, raw: bytes) -> Any:
        """Kafka value bytes -> the decoded value (Avro/Protobuf/JSON Schema with the writer
        schema stored in the cache, else JSON, text, or the bytes). UndecodableValue for a
        framed value whose schema is missing or does not match."""
        if raw[:1] == b"\x00" and len(raw) >= 5:
            return self._decode_framed(raw)
        from kctx_cli.tail.decode import plain

        d = plain(raw)
        return raw if d.format == "hex" else d.value

    def _decode_framed(self, raw: bytes) -> Any:
        sid = int.from_bytes(raw[1:5], "big")
        schema = self._schema(sid)
        if schema is None:
            raise UndecodableValue(f"its writer schema (id {sid}) is not in the cache: the registry could not give it "
                                   f"when the cache was warmed; re-warm with the registry reachable", raw)
        if not isinstance(schema, dict) and hasattr(schema, "decode"):  # Protobuf / JSON Schema
            try:
                return schema.decode(raw)
            except Exception as exc:  # noqa: BLE001
                raise UndecodableValue(f"it does not decode as {schema.kind} with schema id {sid}: {exc}", raw) from None
        from kctx_cli.backends.wire import read_avro

        try:
            value, trailing = read_avro(raw, schema)
        except Exception as exc:  # noqa: BLE001 - corrupt bytes are data
            raise UndecodableValue(f"it does not decode as Avro with schema id {sid}: {exc or type(exc).__name__}",
                                   raw) from None
        if trailing:
            raise UndecodableValue(f"its Avro body has {trailing} trailing bytes for schema id {sid}", raw)
        return value

    def _schema(self, sid: int):
        s = self._schemas.get(sid)
        if s is None:
            text = self._meta.get(b"schema:%d" % sid)
            if text is None:
                return None
            from kctx_cli.backends.wire import from_stored

            other = from_stored(text.decode())
            if other is not None:
                s = self._schemas[sid] = other
                return s
            from fastavro import parse_schema

            s = self._schemas[sid] = parse_schema(json.loads(text))
        return s

    # -- state
    def offsets(self) -> dict[int, int]:
        """Next offset per partition: the cache holds everything before these."""
        return store.read_offsets(self._meta, self._db)

    def meta(self, key: bytes) -> bytes | None:
        """The bytes stored under ``key`` in the ``meta`` column family (``b"topic"``,
        ``b"warmed_at"`` epoch ms as decimal text, ``b"schema:<id>"``, ...; see
        kctx_cli/cache/store.py), or None."""
        return self._meta.get(key)

    def schema_ids(self) -> list[int]:
        """The ids of the writer schemas the cache holds (``schema:<id>`` meta keys)."""
        return [int(k[7:]) for k, _ in self._meta.items(from_key=b"schema:") if k.startswith(b"schema:")]

    def estimate_keys(self) -> int:
        """RocksDB's estimate of the number of cached keys (``rocksdb.estimate-num-keys``; the
        offsets entry not counted): approximate, never negative."""
        n = self._db.property_int_value("rocksdb.estimate-num-keys") or 0
        return max(0, n - 1) if self._db.get(_OFFSETS_KEY) is not None else n

    def refresh(self) -> None:
        """Catch up with what a running warm has written (whole batches only).

        When the warm has flushed memtables to new table files since the last catch-up
        (a full memtable, or its close), the secondary instance is reopened: a caught-up
        secondary keeps its old memtable, so point lookups (``get``, the offsets) could
        return the previous batch's values while iterators already show the flushed newer
        ones — the root cause of the rare "data newer than the stored offsets" failures
        of the reader-during-warm test under load (issue 11). A fresh secondary replays
        exactly what the table files do not hold."""
        self._db.try_catch_up_with_primary()
        files = self._sst_files()
        if files != self._files:
            self._reopen()

    def _sst_files(self) -> frozenset:
        return frozenset(f["name"] for f in self._db.live_files())

    def _reopen(self) -> None:
        old_db, old_meta, old_dir = self._db, self._meta, self._secondary
        self._secondary = tempfile.mkdtemp(prefix="kctx-cache-reader-")
        try:
            self._db = store.open_reader(self.path, self._secondary)
        except Exception as exc:  # noqa: BLE001
            shutil.rmtree(self._secondary, ignore_errors=True)
            self._secondary = old_dir
            raise KctxError(f"cannot reopen the cache at {self.path}: {exc}") from None
        self._meta = self._db.get_column_family(store.META)
        self._files = self._sst_files()
        del old_meta
        old_db.close()
        shutil.rmtree(old_dir, ignore_errors=True)

    def close(self) -> None:
        """Close the database and remove the secondary's temporary directory; idempotent."""
        if self._db is not None:
            self._db.close()
            self._db = None
            shutil.rmtree(self._secondary, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

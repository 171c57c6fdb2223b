"""The RocksDB layout of a table cache, shared by the writer (warm) and readers.

One database per topic, ``<cache dir>/<topic>/``, with two column families:

default   key -> the record's value bytes exactly as in Kafka (raw mode, the default).
          Avro values keep their Confluent wire-format header, so the schema id travels
          with them. Decoded mode (``--store decoded``): the value decoded at warm time,
          in the tagged marshal/pickle form of kctx_cli/cache/codec.py.
          Keys are the Kafka key bytes, except Avro (wire-format) keys, which are stored
          as the text a user types: the string, the single field of a one-field record,
          else compact JSON with sorted fields.
meta      offset:<partition> -> next offset to read (decimal), schema:<id> -> the
          writer schema's JSON (readers decode without a registry), topic, warmed_at
          (epoch ms), layout, store (``raw`` or ``decoded``; fixed when the cache is
          created, absent in caches from before decoded mode = raw).

Each consumed batch is one WriteBatch holding the puts, the deletes (tombstones) and
the new partition offsets, so the stored offsets always describe exactly the data:
a warm killed at any point resumes from a consistent state.

The offsets are written twice: in ``meta`` (``offset:<p>``, as before) and in the
**default** column family under ``OFFSETS_KEY`` (JSON ``{"<p>": next offset}``), which
readers use: rocksdict flushes column families one at a time (each at close), so offsets
kept beside the data are always flushed with it. A Kafka record whose key is exactly
``OFFSETS_KEY`` is not cached (the warm reports it).

Readers (secondary instances) reopen when the warm has flushed new table files
(``CacheTable.refresh``): a caught-up secondary keeps its old memtable, so a point lookup
could return an older batch's value (the offsets) while iterators show the flushed newer
data — the root cause of the rare reader-during-warm failures (issue 11), seen at the
warm's closing flush.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from kctx_cli.errors import KctxError

LAYOUT = b"raw-v1"
RAW, DECODED = "raw", "decoded"
STORES = (RAW, DECODED)
META = "meta"
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def cache_dir(config=None, override: str | os.PathLike | None = None) -> Path:
    """``--cache-dir``, else KCTX_CACHE_DIR, else ``.kctx/cache`` in the project."""
    if override:
        return Path(override)
    if os.environ.get("KCTX_CACHE_DIR"):
        return Path(os.environ["KCTX_CACHE_DIR"])
    root = config.root if config is not None else Path.cwd()
    return Path(root) / ".kctx" / "cache"


def is_safe(name: str) -> bool:
    """A topic name is also a safe directory name (Kafka allows [a-zA-Z0-9._-])."""
    return bool(_SAFE.fullmatch(name)) and name not in (".", "..")


def db_path(base: Path, topic: str) -> Path:
    """The cache directory of ``topic`` under ``base``. KctxError when ``topic`` is not a legal
    Kafka topic name (``is_safe``), so no name can leave ``base``."""
    if not is_safe(topic):
        raise KctxError(f"'{topic}' is not a valid topic name for a cache")
    return base / topic


def _opts(create: bool):
    from rocksdict import Options

    o = Options(raw_mode=True)
    if create:
        o.create_if_missing(True)
        o.create_missing_column_families(True)
    return o


def open_writer(path: Path):
    """The single writer (RocksDB's LOCK file makes a second warm fail clearly)."""
    from rocksdict import Options, Rdict

    path.parent.mkdir(parents=True, exist_ok=True)
    o = _opts(True)
    o.increase_parallelism(2)
    o.set_write_buffer_size(128 << 20)  # fewer memtable flushes during a warm
    try:
        return Rdict(str(path), o, column_families={META: Options(raw_mode=True)})
    except Exception as exc:  # noqa: BLE001 - rocksdict raises plain Exception
        if "lock" in str(exc).lower():
            raise KctxError(f"the cache at {path} is in use by another warm (RocksDB lock held)") from None
        raise KctxError(f"cannot open the cache at {path}: {exc}") from None


def open_reader(path: Path, secondary_dir: str):
    """A secondary instance: reads while a warm writes, sees new batches after
    ``try_catch_up_with_primary()``, never a half-written batch."""
    from rocksdict import AccessType, Options, Rdict

    o = _opts(False)
    o.set_max_open_files(-1)  # required for secondary instances
    return Rdict(str(path), o, column_families={META: Options(raw_mode=True)},
                 access_type=AccessType.secondary(secondary_dir))


def offset_key(partition: int) -> bytes:
    """The ``meta`` key holding partition ``partition``'s next offset: ``b"offset:<partition>"``."""
    return b"offset:%d" % partition


OFFSETS_KEY = b"\x00kctx\x00offsets\x00"


def encode_offsets(offsets: dict[int, int]) -> bytes:
    """``{partition: next offset}`` as stored under OFFSETS_KEY."""
    import json

    return json.dumps({str(p): o for p, o in sorted(offsets.items())}, separators=(",", ":")).encode()


def read_offsets(meta, data=None) -> dict[int, int]:
    """Next offset per partition: from OFFSETS_KEY in the data column family ``data``
    when it is there (consistent with the data, see the module docstring), else from
    ``meta`` (caches written before it existed)."""
    if data is not None:
        raw = data.get(OFFSETS_KEY)
        if raw is not None:
            import json

            return {int(p): int(o) for p, o in json.loads(raw).items()}
    out = {}
    for k, v in meta.items(from_key=b"offset:"):
        if not k.startswith(b"offset:"):
            break
        out[int(k[7:])] = int(v)
    return out


def topic_of(meta) -> str | None:
    """The topic a cache was warmed from (``meta`` key ``topic``), or None."""
    v = meta.get(b"topic")
    return v.decode() if v is not None else None


def store_of(meta) -> str:
    """The cache's store mode, ``raw`` or ``decoded`` (``meta`` key ``store``; raw when absent:
    caches from before decoded mode)."""
    v = meta.get(b"store")
    return v.decode() if v is not None else RAW


def resolve_topic(config, name: str) -> str:
    """A model entity (class, ksqlDB source or topic name) -> its topic; else a ksqlDB
    table/stream name -> its topic (DESCRIBE); else the name itself as a topic."""
    try:
        from kctx_cli.model.discovery import load_project

        info = load_project(config).find(name)
        if info is not None and info.topic:
            return info.topic
    except Exception:  # noqa: BLE001 - no (or broken) models: fall through to ksqlDB/topic
        pass
    if config is not None and config.ksqldb_url:
        topic = _ksqldb_topic(config, name)
        if topic:
            return topic
    return name


def _ksqldb_topic(config, name: str) -> str | None:
    from kctx_cli.backends.ksqldb import KsqlClient

    try:
        client = KsqlClient(config.ksqldb_url, config.ksqldb, timeout=5)
        desc = next((e["sourceDescription"] for e in client.request(f"DESCRIBE `{name.upper()}`;")
                     if e.get("@type") == "sourceDescription"), None)
        return desc.get("topic") if desc else None
    except Exception:  # noqa: BLE001 - ksqlDB down or no such source: the name may still be a topic
        return None

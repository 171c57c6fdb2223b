"""``kctx cache warm | get | stats | drop``: the writer side and the CLI helpers."""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from kctx_cli.cache import store
from kctx_cli.errors import KctxError

# records per RocksDB write batch: large, so the latest-value-per-key step removes more
# writes (~10 MB of records in memory at most)
BATCH = 50000
MAX_BAD_REPORTED = 100


@dataclass
class WarmResult:
    """What a warm did: the ``topic`` and cache ``path``; ``records`` read, of which ``puts``
    and ``deletes`` (tombstones); ``batches`` written; ``seconds`` it took (wall clock);
    ``offsets`` the next offset per partition afterwards; ``up_to_date`` (nothing to read);
    ``registry_errors`` (schemas the registry could not give: values stored raw); ``store``
    raw / decoded; ``bad`` the first undecodable records (``{"partition", "offset",
    "error"}``) and ``bad_count`` all of them."""
    topic: str
    path: Path
    records: int = 0
    puts: int = 0
    deletes: int = 0
    batches: int = 0
    seconds: float = 0.0
    offsets: dict[int, int] = field(default_factory=dict)
    up_to_date: bool = False
    registry_errors: list[str] = field(default_factory=list)
    store: str = "raw"
    # records that did not decode (decoded mode: stored raw; framed keys: stored as bytes):
    # {"partition", "offset", "error"}
    bad: list[dict] = field(default_factory=list)  # the first MAX_BAD_REPORTED
    bad_count: int = 0


def warm(config, name: str, *, base: Path | None = None, batch: int = BATCH, progress=None,
         pause: float = 0.0, store_mode: str | None = None) -> WarmResult:
    """Read the topic from the stored offsets to its current end into the cache.
    ``store_mode``: "raw" (Kafka bytes) or "decoded" for a new cache; None = the existing
    cache's mode, raw for a new one. ``pause``: seconds to sleep between batches (tests
    use it to watch a warm run)."""
    if store_mode is not None and store_mode not in store.STORES:
        raise KctxError(f"unknown --store '{store_mode}' (choose raw or decoded)")
    from confluent_kafka import KafkaException, TopicPartition
    from rocksdict import WriteBatch

    from confluent_kafka import Message

    from kctx_cli.backends import kafka
    from kctx_cli.backends.registry import SchemaCache, SchemaUnavailable, schema_fetcher
    from kctx_cli.backends.wire import read_avro

    from kctx_cli.cache import codec
    from kctx_cli.tail.core import key_text
    from kctx_cli.tail.decode import Decoder, _short, plain
    from kctx_cli.tail.reader import batches

    t0 = time.monotonic()
    consumer = kafka.consumer(config, **{"isolation.level": "read_committed", "fetch.max.bytes": 52428800})
    try:
        # an existing topic of that name is taken as is (no model import, no ksqlDB call);
        # one metadata request for it, not for the whole cluster
        topic, tmd = name, None
        try:
            tmd = kafka.describe_topic(consumer, name, config)
        except KctxError as exc:
            if "does not exist" not in str(exc):
                raise
            topic = store.resolve_topic(config, name)
        base = base or store.cache_dir(config)
        path = store.db_path(base, topic)
        if tmd is None:
            tmd = kafka.describe_topic(consumer, topic, config)
        parts = sorted(tmd.partitions)
        try:
            marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False) for p in parts}
        except KafkaException as exc:
            raise KctxError(f"cannot read the offsets of '{topic}': {exc.args[0].str()}") from None
        db = store.open_writer(path)
        try:
            meta = db.get_column_family(store.META)
            mh = db.get_column_family_handle(store.META)
            old = store.topic_of(meta)
            if old is not None and old != topic:
                raise KctxError(f"the cache at {path} holds topic '{old}', not '{topic}'")
            mode = store.store_of(meta) if old is not None else (store_mode or store.RAW)
            if store_mode is not None and store_mode != mode:
                raise KctxError(f"the cache at {path} stores {mode} values: drop it (kctx cache drop {name}) "
                                f"to warm it with --store {store_mode}")
            stored = store.read_offsets(meta, db)
            starts = {p: max(stored.get(p, lo), lo) for p, (lo, hi) in marks.items()}
            ends = {p: hi for p, (lo, hi) in marks.items()}
            res = WarmResult(topic, path, offsets=dict(starts), store=mode)
            if old is None:
                meta.put(b"topic", topic.encode())
                meta.put(b"layout", store.LAYOUT)
                meta.put(b"store", mode.encode())
            if all(starts[p] >= ends[p] for p in parts):
                res.up_to_date = True
                res.seconds = time.monotonic() - t0
                return res
            if progress is not None:
                progress.start(sum(ends[p] - starts[p] for p in parts))

            schemas = SchemaCache(schema_fetcher(config)) if config.schema_registry_url else None
            known_ids = {int(k[7:]) for k, _ in meta.items(from_key=b"schema:") if k.startswith(b"schema:")}
            key_decoder = Decoder(schemas)
            # latest record per key since the last write: the same end state as applying
            # every record, with fewer RocksDB writes (values are read from it at write time)
            latest: dict = {}
            # next offset per partition of the records gathered: max(offset) + 1, from the
            # records themselves. (The consumer's position() was used before: it is not tied
            # to the records a consume() call returned, so under load a batch could be
            # written with an older position than its data — a reader then saw data newer
            # than the stored offsets.)
            last: dict = {}  # partition -> its last record gathered
            known_heads: set[bytes] = set()
            unwritten = null_keys = deletes = 0

            decoded = mode == store.DECODED
            # decoded mode: writer schema id -> (parsed schema, codec fixer) or None (unavailable)
            codecs: dict[bytes, tuple | None] = {}

            def codec_of(head: bytes):
                if head not in codecs:
                    sid = int.from_bytes(head[1:], "big")
                    try:
                        kind, parsed = schemas.typed(sid)
                        codecs[head] = (kind, parsed, codec.fixer_for(json.loads(schemas.texts[sid]))
                                        if kind == "AVRO" else None)
                    except SchemaUnavailable:
                        codecs[head] = None  # reported by the schema step below
                return codecs[head]

            def encode(v: bytes) -> bytes:
                """Decode once now, as a raw-mode reader would on each get; raises on a
                value that does not decode (the caller counts and reports it)."""
                if len(v) >= 5 and v[0] == 0:
                    c = codec_of(v[:5]) if schemas is not None else None
                    if c is None:
                        return b"\x04" + v
                    if c[0] != "AVRO":
                        return codec.encode_plain(c[1].decode(v))
                    value, trailing = read_avro(v, c[1])
                    if trailing:
                        raise ValueError(f"{trailing} trailing bytes after the Avro body")
                    return codec.encode_avro(v[1:5], value, c[2])
                d = plain(v)
                return codec.encode_plain(v if d.format == "hex" else d.value)

            def remember_schema(head: bytes, put) -> None:
                if head in known_heads:
                    return
                known_heads.add(head)
                sid = int.from_bytes(head[1:], "big")
                if sid in known_ids:
                    return
                known_ids.add(sid)  # tried once per warm; a failure is reported
                try:
                    kind, parsed = schemas.typed(sid)
                    text = schemas.texts[sid] if kind == "AVRO" else parsed.stored()
                    put(b"schema:%d" % sid, text.encode(), mh)
                except SchemaUnavailable as exc:
                    res.registry_errors.append(str(exc))

            def write(final: bool = False) -> None:
                wb = WriteBatch(raw_mode=True)
                put, delete = wb.put, wb.delete
                framed: dict[bytes, object] = {}  # canonical text of framed keys -> latest record
                for k, m in latest.items():
                    if k[:1] == b"\x00" and len(k) >= 5:
                        # framed (Avro/Protobuf/JSON Schema) key: stored under its canonical
                        # text; two encodings of one key (schema ids) -> the later record
                        ck = framed_key(m, k)
                        prev = framed.get(ck)
                        if prev is None or (prev.partition() == m.partition() and prev.offset() < m.offset()):
                            framed[ck] = m
                        continue
                    write_one(k, m, put, delete)
                for k, m in framed.items():
                    write_one(k, m, put, delete)
                # offsets from the records written (plus, at the end, the end offsets the
                # read reached: only transaction markers / aborted records lie between)
                for p, m in last.items():
                    nxt = m.offset() + 1
                    if final:
                        nxt = max(nxt, ends[p])
                    if nxt != res.offsets.get(p):
                        put(store.offset_key(p), b"%d" % nxt, mh)
                        res.offsets[p] = nxt
                if final:
                    for p in parts:
                        if ends[p] > res.offsets.get(p, -1):
                            put(store.offset_key(p), b"%d" % ends[p], mh)
                            res.offsets[p] = ends[p]
                # beside the data, in the same column family: what readers go by
                put(store.OFFSETS_KEY, store.encode_offsets(res.offsets))
                put(b"warmed_at", b"%d" % int(time.time() * 1000), mh)
                db.write(wb)  # data + offsets atomically
                latest.clear()
                last.clear()
                res.batches += 1

            def write_one(k: bytes, m, put, delete) -> None:
                nonlocal deletes
                if k == store.OFFSETS_KEY:
                    note_bad(m, "the key is kctx's reserved offsets key; record not cached")
                    return
                v = m.value()
                if v is None:
                    delete(k)
                    deletes += 1
                    return
                if len(v) >= 5 and v[0] == 0 and schemas is not None:
                    remember_schema(v[:5], put)
                if decoded:
                    try:
                        v = encode(v)
                    except Exception as exc:  # noqa: BLE001 - one bad record never aborts a warm
                        note_bad(m, f"value does not decode: {_short(exc)}")
                        v = b"\x04" + v
                put(k, v)

            K, V, P, O = Message.key, Message.value, Message.partition, Message.offset

            def note_bad(m, error: str) -> None:
                res.bad_count += 1
                if len(res.bad) < MAX_BAD_REPORTED:
                    res.bad.append({"partition": m.partition(), "offset": m.offset(), "error": error})

            def framed_key(m, k: bytes):
                """A framed (Avro/Protobuf/JSON Schema) key -> the canonical text readers
                look it up by; an undecodable one stays bytes and is reported."""
                d = key_decoder.decode_key(k)
                if d.error or d.format in ("hex", "null"):
                    if d.error:
                        note_bad(m, f"key does not decode: {d.error}")
                    return k
                return (key_text(d) or "").encode()

            # consume in chunks of at most 10,000 (a larger consume() waits for its batch
            # to fill), write every `batch` records. Per record only C-level work: the
            # latest record per key (dict.update over zip/map) and the last record per
            # partition (its offset); values are read once per key at write time.
            for msgs in batches(consumer, topic, starts, ends, batch=min(batch, 10000)):
                latest.update(zip(map(K, msgs), msgs))
                last.update(zip(map(P, msgs), msgs))  # in partition order: the last one wins
                if None in latest:  # null keys: nothing to index (rare on a table's topic)
                    del latest[None]
                    null_keys += sum(1 for m in msgs if m.key() is None)
                res.records += len(msgs)
                unwritten += len(msgs)
                if unwritten >= batch:
                    write()
                    unwritten = 0
                    if pause:
                        time.sleep(pause)
                if progress is not None:
                    progress.advance(len(msgs))
            write(final=True)
            # deletes: tombstones written (the latest record of a key in a batch); puts: the rest
            res.puts, res.deletes = res.records - null_keys - deletes, deletes
            res.seconds = time.monotonic() - t0
            return res
        finally:
            db.close()
    finally:
        consumer.close()


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def stats(config, name: str | None, base: Path | None = None) -> list[dict]:
    """One dict per cache under ``base`` (default: the project's cache directory), or only the
    cache of ``name``: ``table``, ``path``, ``keys_estimate``, ``bytes_on_disk``, ``offsets``
    (partition -> next offset), ``warmed_at`` / ``warmed_at_ms`` when its last batch was
    written (ISO-8601 UTC / epoch ms; None when none was), ``schemas`` (writer schema ids). KctxError when the cache of
    ``name`` does not exist."""
    from kctx_cli.cache import open_table

    base = base or store.cache_dir(config)
    if name is not None:
        names = [_existing(base, config, name).name]
    else:
        names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    rows = []
    for n in names:
        with open_table(n, cache_dir=base) as t:
            warmed = t.meta(b"warmed_at")
            from kctx_cli.tail.jsonout import iso_ms

            rows.append({
                "table": n, "path": str(t.path), "keys_estimate": t.estimate_keys(),
                "bytes_on_disk": _dir_size(t.path), "offsets": t.offsets(),
                "warmed_at": iso_ms(int(warmed)) if warmed else None,
                "warmed_at_ms": int(warmed) if warmed else None,
                "schemas": t.schema_ids(),
            })
    return rows


def _existing(base: Path, config, name: str) -> Path:
    """The cache directory for a name: a cache of that topic name, else the name resolved
    through the models / ksqlDB."""
    path = store.db_path(base, name)
    if (path / "CURRENT").is_file():
        return path
    return store.db_path(base, store.resolve_topic(config, name))


def drop(config, name: str, base: Path | None = None) -> Path:
    """Delete the cache of ``name`` (a topic, or a name resolved to one) under ``base`` and
    return its path. KctxError when there is none, or while a warm holds its RocksDB lock."""
    base = base or store.cache_dir(config)
    path = _existing(base, config, name)
    if not path.is_dir():
        raise KctxError(f"no cache for '{name}' at {path}")
    # taking the writer lock proves no warm is running
    db = store.open_writer(path)
    db.close()
    shutil.rmtree(path)
    return path


class Lookup(NamedTuple):
    """What ``get`` found: the decoded ``value`` (None when not ``found``), whether the key
    is in the cache (``found``: a cached value may itself be None) and ``how`` the key was
    looked up, for messages. Unpacks as ``value, found, how``."""

    value: Any
    found: bool
    how: str


def get(config, name: str, key: str, base: Path | None = None, key_format: str | None = None) -> Lookup:
    """The cached value of ``key`` as the user typed it, as a Lookup ``(value, found, how)``.

    The key is encoded the way the table's writer encodes keys (kctx_cli.tail.keys):
    ``key_format`` (--key-format), else the model of ``name``/the topic, else ksqlDB's
    DESCRIBE, else every plausible encoding is tried. ``how`` describes the lookup for
    messages. KctxError for a key that does not fit the key columns; UndecodableValue
    (kctx_cli.cache) when the value is there but cannot be decoded."""
    from kctx_cli.cache import open_table
    from kctx_cli.tail import keys as K

    base = base or store.cache_dir(config)
    with open_table(name, cache_dir=base, config=config) as t:
        topic = store.topic_of(t._meta) or name
        spec = K.spec_from_option(key_format) if key_format else K.resolve_spec(config, topic, name=name)
        typed = K.parse_key(key, spec)
        found = t.lookup(K.cache_keys(typed, spec))
        if spec.known:
            cols = ", ".join(f"{c} {ty}" for c, ty in spec.columns) or "?"
            how = f"{spec.format} key ({cols}) from {spec.origin}"
        else:
            how = "key format unknown (no model, no ksqlDB source): text, JSON, INT/BIGINT/DOUBLE tried; " \
                  "--key-format says which"
        return Lookup(None, False, how) if found is None else Lookup(found.value, True, how)


def dumps(v) -> str:
    """``v`` as JSON text (not ASCII-escaped), with decoded Avro values (Decimal, datetime,
    UUID, bytes) written as kctx_cli.tail.jsonout.json_default writes them."""
    from kctx_cli.tail.jsonout import json_default

    return json.dumps(v, default=json_default, ensure_ascii=False)

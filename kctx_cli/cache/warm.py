"""``kctx cache warm | get | stats | drop``: the writer side and the CLI helpers."""
from __future__ import annotations

import io
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from kctx_cli.cache import store
from kctx_cli.errors import KctxError

# records per RocksDB write batch: large, so the latest-value-per-key step removes more
# writes (~10 MB of records in memory at most)
BATCH = 50000


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


@dataclass
class WarmResult:
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

    from kctx_cli.backends import kafka
    from kctx_cli.backends.registry import SchemaCache, SchemaUnavailable, schema_fetcher
    from fastavro import schemaless_reader

    from kctx_cli.cache import codec
    from kctx_cli.tail.core import key_text
    from kctx_cli.tail.decode import Decoder, plain
    from kctx_cli.tail.reader import batches

    t0 = time.monotonic()
    consumer = kafka.consumer(config, **{"isolation.level": "read_committed", "fetch.max.bytes": 52428800})
    try:
        # an existing topic of that name is taken as is (no model import, no ksqlDB call)
        known = kafka.list_topics(consumer, config).topics
        topic = name if name in known else resolve_topic(config, name)
        base = base or store.cache_dir(config)
        path = store.db_path(base, topic)
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
            stored = store.read_offsets(meta)
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
            tps = [TopicPartition(topic, p) for p in parts]
            # latest value per key (None = tombstone) since the last write: the same end
            # state as applying every record, with fewer RocksDB writes
            latest: dict = {}
            unwritten = null_keys = deletes = 0

            decoded = mode == store.DECODED
            # decoded mode: writer schema id -> (parsed schema, codec fixer) or None (unavailable)
            codecs: dict[bytes, tuple | None] = {}

            def codec_of(head: bytes):
                if head not in codecs:
                    sid = int.from_bytes(head[1:], "big")
                    try:
                        parsed = schemas.get(sid)
                        codecs[head] = (parsed, codec.fixer_for(json.loads(schemas.texts[sid])))
                    except SchemaUnavailable:
                        codecs[head] = None  # reported by the schema step below
                return codecs[head]

            def encode(v: bytes) -> bytes:
                """Decode once now, as a raw-mode reader would on each get."""
                if len(v) >= 5 and v[0] == 0:
                    c = codec_of(v[:5]) if schemas is not None else None
                    if c is None:
                        return b"\x04" + v
                    bio = io.BytesIO(v)
                    bio.seek(5)
                    return codec.encode_avro(v[1:5], schemaless_reader(bio, c[0], None), c[1])
                d = plain(v)
                return codec.encode_plain(v if d.format == "hex" else d.value)

            def write() -> None:
                wb = WriteBatch(raw_mode=True)
                put, delete = wb.put, wb.delete
                last_head = None
                for k, v in latest.items():
                    if v is None:
                        delete(k)
                        continue
                    if len(v) >= 5 and v[0] == 0 and schemas is not None:
                        head = v[:5]
                        if head != last_head:
                            last_head = head
                            sid = int.from_bytes(head[1:], "big")
                            if sid not in known_ids:
                                known_ids.add(sid)  # tried once per warm; a failure is reported
                                try:
                                    schemas.get(sid)
                                    put(b"schema:%d" % sid, schemas.texts[sid].encode(), mh)
                                except SchemaUnavailable as exc:
                                    res.registry_errors.append(str(exc))
                    put(k, encode(v) if decoded else v)
                # the position is the offset after the last record returned: exactly what
                # the records gathered so far cover
                for tp in consumer.position(tps):
                    if tp.offset >= 0 and tp.offset != res.offsets.get(tp.partition):
                        put(store.offset_key(tp.partition), b"%d" % tp.offset, mh)
                        res.offsets[tp.partition] = tp.offset
                put(b"warmed_at", b"%d" % int(time.time() * 1000), mh)
                db.write(wb)  # data + offsets atomically
                latest.clear()
                res.batches += 1

            # consume in chunks of at most 10,000 (a larger consume() waits for its batch
            # to fill), write every `batch` records
            for msgs in batches(consumer, topic, starts, ends, batch=min(batch, 10000)):
                for m in msgs:
                    k = m.key()
                    if k is None:
                        null_keys += 1
                        continue  # a compacted topic has no null keys; nothing to index
                    if k and k[0] == 0 and len(k) >= 5:
                        k = (key_text(key_decoder.decode(k)) or "").encode()
                    v = latest[k] = m.value()
                    if v is None:
                        deletes += 1
                res.records += len(msgs)
                unwritten += len(msgs)
                if unwritten >= batch:
                    write()
                    unwritten = 0
                    if pause:
                        time.sleep(pause)
                if progress is not None:
                    progress.advance(len(msgs))
            if unwritten:
                write()
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
            rows.append({
                "table": n, "path": str(t.path), "keys_estimate": t.estimate_keys(),
                "bytes_on_disk": _dir_size(t.path), "offsets": t.offsets(),
                "warmed_at": int(warmed) if warmed else None,
                "schemas": t.schema_ids(),
            })
    return rows


def _existing(base: Path, config, name: str) -> Path:
    """The cache directory for a name: a cache of that topic name, else the name resolved
    through the models / ksqlDB."""
    path = store.db_path(base, name)
    if (path / "CURRENT").is_file():
        return path
    return store.db_path(base, resolve_topic(config, name))


def drop(config, name: str, base: Path | None = None) -> Path:
    base = base or store.cache_dir(config)
    path = _existing(base, config, name)
    if not path.is_dir():
        raise KctxError(f"no cache for '{name}' at {path}")
    # taking the writer lock proves no warm is running
    db = store.open_writer(path)
    db.close()
    shutil.rmtree(path)
    return path


def get(config, name: str, key: str, base: Path | None = None):
    from kctx_cli.cache import open_table

    base = base or store.cache_dir(config)
    with open_table(name, cache_dir=base, config=config) as t:
        missing = object()
        value = t.get(key, missing)
        return (None, False) if value is missing else (value, True)


def dumps(v) -> str:
    from kctx_cli.tail.decode import json_default

    return json.dumps(v, default=json_default, ensure_ascii=False)

"""``KafkaContext``: the seed's KafkaContext for Python services (SPEC §8).

One object per service (thread-safe for ``add``): it reads the project's configuration as
the CLI does (``kctx.toml`` / ``[tool.kctx]``, ``KCTX_ENV``, ``KCTX_*``), discovers the
models package (keeping the classes the service already imported), and creates its Kafka
and registry clients on first use. Closing it (``with`` block, ``close()``) flushes what
was added and releases every client.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import socket
import threading
import uuid
from typing import Any, Iterator

from kctx_cli.errors import KctxError
from kctx_cli.runtime.errors import ProduceError, SerializationError

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MS = _dt.timedelta(milliseconds=1)
# librdkafka's defaults are minutes; a service wants to hear about an outage sooner
DEFAULT_FLUSH_TIMEOUT = 30.0


def _timestamp_ms(entity, field: str) -> int:
    """The record timestamp (epoch ms) from the ``Meta.timestamp`` field, 0 (the produce
    time) when it is None; ``SerializationError`` for a value that is no aware datetime
    (set after construction, which is not re-validated)."""
    t = entity.__dict__.get(field)
    if t is None:
        return 0
    try:
        return (t - _EPOCH) // _MS
    except TypeError:
        raise SerializationError(f"{type(entity).__name__}.{field}: {t!r} is not a timezone-aware datetime "
                                 f"(Meta.timestamp gives the record timestamp)") from None


class KafkaContext:
    """Typed produce/consume, table reads and ksqlDB queries over a kctx project.

    ``KafkaContext(env=None, project=None, *, config=None, producer_config=None,
    consumer_config=None, transactional_id=None)``

    - ``env``: the ``[env.NAME]`` of kctx.toml (default: ``KCTX_ENV``, else "default");
    - ``project``: the project directory (default: ``KCTX_PROJECT``, else the nearest
      directory at or above the working directory holding kctx.toml);
    - ``config``: a ``kctx_cli.config.Config`` instead of the two above;
    - ``producer_config`` / ``consumer_config``: librdkafka properties added to the
      project's ``[env.NAME.kafka]`` ones (e.g. ``{"linger.ms": 20}``);
    - ``transactional_id``: the producer's ``transactional.id`` for ``transaction()``
      (default: unique per context; ``process`` derives its own from the group).

    Errors are ``KctxError`` subclasses with one-line messages: ``ConfigError`` (config),
    ``ModelLoadError`` (models), ``NotReadyError`` (ensure_ready), ``SchemaMismatchError``,
    ``SerializationError``/``DeserializationError``, ``ProduceError``.
    """

    def __init__(self, env: str | None = None, project: str | os.PathLike | None = None, *, config=None,
                 producer_config: dict | None = None, consumer_config: dict | None = None,
                 transactional_id: str | None = None):
        from kctx_cli.config import load_config
        from kctx_cli.model.discovery import load_project

        self.config = config if config is not None else load_config(project, env)
        self.project = load_project(self.config, reload=False)
        self._by_cls = {e.cls: e for e in self.project.entities}
        self._producer_config = dict(producer_config or {})
        self._consumer_config = dict(consumer_config or {})
        self._transactional_id = transactional_id
        self._registry = None
        self._codecs: dict[type, Any] = {}
        self._producer = None
        self._txn_producer = None
        self._txn_ready = False
        self._local = threading.local()
        self._prepared: dict = {}  # entity class -> (encode, topic, timestamp field)
        self._senders: dict = {}  # entity class -> add's fast path (no headers, callback or transaction)
        self._open_transactions = 0  # transaction() blocks open in any thread (add checks its own)
        self._lock = threading.RLock()
        self._errors: list[str] = []
        self._failed = 0
        self._poller: threading.Thread | None = None
        self._closed = False
        self._closers: list = []  # subscriptions, tables: closed with the context

    # ------------------------------------------------------------------ models
    def entity(self, cls_or_name) -> Any:
        """The ``EntityInfo`` of an entity class (or class/source/topic name), with the
        project's defaults (partitions, replicas, compatibility, Avro namespace) applied.
        ``ModelLoadError`` for an unknown name or a class that is not an entity."""
        from kctx_cli.errors import ModelLoadError
        from kctx_cli.model.entity import is_entity_class

        if isinstance(cls_or_name, str):
            return self.project.get(cls_or_name)
        info = self._by_cls.get(cls_or_name)
        if info is not None:
            return info
        if not is_entity_class(cls_or_name):
            raise ModelLoadError(f"{getattr(cls_or_name, '__name__', cls_or_name)!s} is not an entity class "
                                 f"(a Stream/Table/Entity subclass)")
        from kctx_cli.model.discovery import apply_defaults

        info = apply_defaults(cls_or_name.__kctx__, self.config)
        self._by_cls[cls_or_name] = info
        return info

    def _prepare(self, cls) -> tuple:
        """``(encode, topic, timestamp field)`` of an entity class, for ``add``; the codec
        (``_codec``) raises for a class that cannot be produced."""
        codec = self._codecs.get(cls) or self._codec(cls)
        prep = (codec.encoder(), codec.topic, codec.info.timestamp)
        self._prepared[cls] = prep
        return prep

    def _sender(self, cls):
        """``add``'s fast path for one class — no headers, no callback, outside any
        transaction: one function with the encoder, topic and producer bound (a producing
        service's hot loop; ``add`` documents the behaviour)."""
        encode, topic, ts_field = self._prepared.get(cls) or self._prepare(cls)
        producer = self.producer
        produce, poll, delivered, fallback = producer.produce, producer.poll, self._delivered, self._produce

        def send(entity):
            key, value = encode(entity)
            t = entity.__dict__.get(ts_field) if ts_field else None
            try:
                ts = 0 if t is None else (t - _EPOCH) // _MS  # exact epoch ms (construction truncates)
            except TypeError:  # assigned after construction (not re-validated)
                ts = _timestamp_ms(entity, ts_field)
            try:
                produce(topic, value, key, timestamp=ts, on_delivery=delivered)
            except Exception:  # noqa: BLE001 - BufferError, KafkaException: handled there
                fallback(producer, topic, value, key, ts, None, delivered)
                return
            poll(0)  # delivery callbacks
        self._senders[cls] = send
        return send

    def _codec(self, cls):
        c = self._codecs.get(cls)
        if c is None:
            from kctx_cli.runtime.codec import EntityCodec

            info = self.entity(cls)
            bad = [i.message for i in info.issues]
            if bad:
                raise KctxError(f"{info.name}: the model has problems ({bad[0]}); run kctx validate")
            c = self._codecs[cls] = EntityCodec(info, self.registry, self._write_registry())
        return c

    # ------------------------------------------------------------------ clients
    @property
    def registry(self):
        """confluent-kafka's ``SchemaRegistryClient`` for the project's registry."""
        if self._registry is None:
            from kctx_cli.backends.registry import registry_client

            self._registry = registry_client(self.config, **{"max.retries": 3, "timeout": 10})
        return self._registry

    def _write_registry(self):
        if getattr(self, "_wregistry", None) is None:
            from kctx_cli.backends.registry import registry_client

            self._wregistry = registry_client(self.config, **{"max.retries": 3, "timeout": 10})
        return self._wregistry

    def _kafka_conf(self, **extra) -> dict:
        from kctx_cli.backends.kafka import _quiet

        conf: dict[str, Any] = dict(self.config.kafka_config())
        conf.setdefault("logger", _quiet)
        conf.setdefault("client.id", f"kctx-{socket.gethostname()}-{os.getpid()}")
        conf.update(extra)
        return conf

    def _producer_conf(self, **extra) -> dict:
        # murmur2_random: Java's/ksqlDB's murmur2 partitioner for keyed records (random for
        # null keys), so co-partitioned joins see the rows where ksqlDB looks for them
        # (librdkafka's default consistent_random hashes with CRC32). Idempotence: no
        # duplicates or reordering from the producer's own retries (KIP-98).
        conf = self._kafka_conf(**{"partitioner": "murmur2_random", "enable.idempotence": True, "acks": "all",
                                   "linger.ms": 5})
        conf.update(self._producer_config)
        conf.update(extra)
        return conf

    @property
    def producer(self):
        """The context's idempotent ``confluent_kafka.Producer`` (created on first use)."""
        if self._producer is None:
            with self._lock:
                if self._producer is None:
                    from confluent_kafka import Producer

                    self._producer = Producer(self._producer_conf())
        return self._producer

    # ------------------------------------------------------------------ produce
    def add(self, entity, *, headers: dict | list | None = None, on_delivery=None) -> None:
        """Produce one entity to its topic (asynchronously: ``flush()`` waits for delivery).

        Key and value are serialised as ksqlDB reads them (kctx_cli/runtime/codec.py); the
        record timestamp is the ``Meta.timestamp`` field (epoch ms), else the produce time.
        ``headers``: ``{name: bytes|str}`` or ``[(name, bytes), ...]``. Inside
        ``with ctx.transaction():`` the record is part of that transaction.
        ``on_delivery(err, msg)`` is called from ``flush``/``poll`` as confluent-kafka does.
        Errors: ``EntityValueError`` is raised at construction already; ``SchemaMismatchError``,
        ``SerializationError`` here; a record Kafka refuses is a ``ProduceError`` at
        ``flush()``/``close()`` (never silently dropped)."""
        if headers is None and on_delivery is None and not self._open_transactions:
            send = self._senders.get(type(entity)) or self._sender(type(entity))
            return send(entity)
        prep = self._prepared.get(type(entity)) or self._prepare(type(entity))
        key, value = prep[0](entity)
        ts = _timestamp_ms(entity, prep[2]) if prep[2] else 0
        txn = getattr(self._local, "txn", None) if self._open_transactions else None
        producer = txn if txn is not None else (self._producer or self.producer)
        cb = self._delivered if txn is None else self._local.txn_cb
        if on_delivery is not None:
            cb = self._chain(cb, on_delivery)
        try:  # the common case inline; a full queue or an error in _produce
            producer.produce(prep[1], value, key, timestamp=ts, headers=headers, on_delivery=cb)
        except Exception:  # noqa: BLE001 - BufferError, KafkaException: handled there
            self._produce(producer, prep[1], value, key, ts, headers, cb)
            return
        producer.poll(0)  # delivery callbacks (a user callback's exception propagates, nothing is re-sent)

    def remove(self, cls, key, *, on_delivery=None) -> None:
        """Delete a table's row: produce a tombstone — the row's key with a null value — to
        the table's topic, which is how ksqlDB reads a deletion from a table's topic
        (ksqldb-docs concepts/streams-and-tables: "a record with a null value deletes the
        row"), and what ``ctx.table(...)`` / ``kctx cache`` remove from the cache.
        ``cls``: the table's entity class; ``key``: the key column's value, or for a
        composite key a dict ``{field: value}`` of every key field. Like ``add``: queued,
        ``flush()`` waits; inside ``ctx.transaction()`` part of it. Raises ``KctxError`` for
        a stream (ksqlDB drops null-valued records of a stream), a derived entity (ksqlDB
        writes its topic) or a key that misses a key field, ``EntityValueError`` for a key
        value the field does not take (the entity's own checks), ``SerializationError`` when
        the key cannot be encoded."""
        import types

        codec = self._codecs.get(cls) or self._codec(cls)
        info = codec.info
        if info.derived:
            raise KctxError(f"{info.name} is written by ksqlDB (its Meta.query): remove rows from the sources it "
                            f"reads")
        if info.kind != "TABLE":
            raise KctxError(f"{info.name} is a stream: only a table's rows can be removed (ksqlDB skips a "
                            f"stream's records with a null value)")
        keys = [f.name for f in info.keys]
        values = key if isinstance(key, dict) else ({keys[0]: key} if len(keys) == 1 else None)
        if values is None or set(values) != set(keys):
            raise KctxError(f"{info.name}.remove: the key is {', '.join(keys)}: give "
                            f"{'its value' if len(keys) == 1 else 'a dict of every key field'}, got {key!r}")
        from kctx_cli.model.instance import check_value

        # checked as construction checks the field (a Decimal at its scale, a wrong type
        # is an EntityValueError naming it), then encoded as add encodes the key
        values = {k: check_value(info.cls, k, v) for k, v in values.items()}
        key_bytes = codec.key_encoder()(types.SimpleNamespace(**values))
        txn = getattr(self._local, "txn", None)
        producer = txn if txn is not None else (self._producer or self.producer)
        cb = self._delivered if txn is None else self._local.txn_cb
        if on_delivery is not None:
            cb = self._chain(cb, on_delivery)
        self._produce(producer, codec.topic, None, key_bytes, 0, None, cb)

    def _produce(self, producer, topic, value, key, ts, headers, cb) -> None:
        from confluent_kafka import KafkaException

        while True:
            try:
                producer.produce(topic, value, key, timestamp=ts, headers=headers, on_delivery=cb)
                break
            except BufferError:  # the local queue is full: serve deliveries, then retry
                producer.poll(0.1)
            except KafkaException as exc:
                raise ProduceError(f"cannot produce to {topic}: {exc.args[0].str()}") from None
        producer.poll(0)

    def _delivered(self, err, msg) -> None:
        if err is not None:
            with self._lock:
                self._failed += 1
                if len(self._errors) < 10:
                    self._errors.append(f"{msg.topic()}: {err.str()}")

    @staticmethod
    def _chain(own, user_cb):
        def cb(err, msg):
            own(err, msg)
            user_cb(err, msg)
        return cb

    def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> None:
        """Wait until every record added so far is acknowledged by Kafka (``acks=all``).
        ``ProduceError`` when some are still queued after ``timeout`` seconds or Kafka
        refused some (the message counts them and quotes the first errors)."""
        p = self._producer
        if p is not None:
            left = p.flush(timeout)
            if left:
                raise ProduceError(f"{left} record(s) not delivered after {timeout:g} s (Kafka unreachable?): they "
                                   f"stay queued; flush again or close the context")
        self._raise_failures()

    def _raise_failures(self) -> None:
        with self._lock:
            failed, errors = self._failed, self._errors
            self._failed, self._errors = 0, []
        if failed:
            raise ProduceError(f"{failed} record(s) were refused by Kafka: {'; '.join(dict.fromkeys(errors))}")

    async def add_async(self, entity, *, headers: dict | list | None = None):
        """``await ctx.add_async(order)``: produce and wait for Kafka's acknowledgement
        without blocking the event loop; returns the delivered ``confluent_kafka.Message``
        (topic, partition, offset). ``ProduceError`` when Kafka refuses the record."""
        import asyncio

        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def done(err, msg):
            def settle():
                if fut.done():
                    return
                if err is not None:
                    fut.set_exception(ProduceError(f"{msg.topic()}: {err.str()}"))
                else:
                    fut.set_result(msg)
            loop.call_soon_threadsafe(settle)

        def cb(err, msg):
            if err is not None:
                done(err, msg)  # reported to the awaiting caller, not again at flush
            else:
                done(None, msg)
        self._start_poller()
        self.add(entity, headers=headers, on_delivery=cb)
        return await fut

    async def flush_async(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> None:
        """``flush`` in a worker thread (the event loop keeps running)."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    def _start_poller(self) -> None:
        if self._poller is not None:
            return
        with self._lock:
            if self._poller is not None:
                return
            producer = self.producer

            def run():
                while not self._closed:
                    producer.poll(0.05)
            self._poller = threading.Thread(target=run, name="kctx-producer-poll", daemon=True)
            self._poller.start()

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> Iterator[None]:
        """``with ctx.transaction(): ctx.add(a); ctx.add(b)`` — every record added in the
        block (by this thread) is committed atomically (Kafka transactions, KIP-98):
        readers with ``isolation.level=read_committed`` (ksqlDB's default for
        exactly_once_v2, ``subscribe``) see all or none. An exception in the block aborts
        the transaction and is re-raised. ``ProduceError`` when the commit fails."""
        if getattr(self._local, "txn", None) is not None:
            raise KctxError("transaction() blocks do not nest")
        with self._lock:
            self._open_transactions += 1
        try:
            yield from self._transaction(timeout)
        finally:
            with self._lock:
                self._open_transactions -= 1

    def _transaction(self, timeout: float):
        """The body of ``transaction`` (a generator: begin, yield to the block, commit or abort)."""
        from confluent_kafka import KafkaException

        p = self._transactional_producer()
        try:
            p.begin_transaction()
        except KafkaException as exc:
            raise ProduceError(f"cannot begin a transaction: {exc.args[0].str()}") from None
        errors: list[str] = []  # delivery errors of this transaction (an abort purges its records: not errors)
        self._local.txn = p
        self._local.txn_cb = lambda err, msg: errors.append(f"{msg.topic()}: {err.str()}") if err else None
        try:
            yield
        except BaseException:
            self._local.txn = None
            with contextlib.suppress(KafkaException):
                p.abort_transaction(timeout)
            raise
        self._local.txn = None
        try:
            p.commit_transaction(timeout)
        except KafkaException as exc:
            with contextlib.suppress(KafkaException):
                p.abort_transaction(timeout)
            raise ProduceError(f"the transaction was not committed (aborted): {exc.args[0].str()}") from None
        if errors:
            raise ProduceError(f"the transaction committed without {len(errors)} record(s) Kafka refused: "
                               f"{'; '.join(dict.fromkeys(errors))}")

    def _transactional_producer(self):
        from confluent_kafka import KafkaException, Producer

        with self._lock:
            if self._txn_producer is None:
                tid = self._transactional_id or f"kctx-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                self._txn_producer = Producer(self._producer_conf(**{"transactional.id": tid}))
            if not self._txn_ready:
                try:
                    self._txn_producer.init_transactions(DEFAULT_FLUSH_TIMEOUT)
                except KafkaException as exc:
                    raise ProduceError(f"cannot initialise transactions: {exc.args[0].str()}") from None
                self._txn_ready = True
        return self._txn_producer

    # ------------------------------------------------------------------ readiness
    def ensure_ready(self, *, timeout: float = 10.0, entities=None) -> None:
        """The seed's EnsureKafkaReady: Kafka, the schema registry and (when the models
        declare ksqlDB sources) ksqlDB answer; every migration file is applied; the
        applied migrations describe what the models declare; the live topics, subjects
        and sources match them. ``entities``: check only these classes' topics/subjects.
        ``NotReadyError`` with one line that names the fix (``kctx migrate``,
        ``kctx makemigrations``, ``kctx repair``) otherwise."""
        from kctx_cli.runtime.ready import ensure_ready

        ensure_ready(self, timeout=timeout, entities=entities)

    # ------------------------------------------------------------------ consume
    def subscribe(self, cls, *, group: str, commit: str = "auto", start: str = "earliest",
                  max_messages: int | None = None, idle_timeout: float | None = None,
                  consumer_config: dict | None = None):
        """``for msg in ctx.subscribe(Order, group="billing")``: typed ``Message``s
        (kctx_cli/runtime/consume.py) of the entity's topic, as member of consumer group
        ``group``. ``commit="auto"``: a record's offset is committed only after the loop
        body that got it returned (at-least-once); ``"manual"``: ``msg.commit()`` /
        ``msg.nack()``. ``start``: where a group without committed offsets begins
        (``earliest``/``latest``). Iteration ends after ``max_messages`` records or
        ``idle_timeout`` seconds without one (None: never); when the loop ends (or is left
        by ``break`` or an exception) the subscription leaves the group. A record that does not decode
        raises ``DeserializationError`` naming topic[partition]@offset (not committed: use
        ``for_each`` to dead-letter such records); a missing topic is a ``ConsumeError``."""
        from kctx_cli.runtime.consume import Subscription

        return Subscription(self, cls, group, commit, start=start, max_messages=max_messages,
                            idle_timeout=idle_timeout, consumer_config=consumer_config)

    def for_each(self, cls, handler, *, group: str, retries: int = 3, backoff: float = 0.5, **kw):
        """Run ``handler(msg)`` for every record, retrying failures (``backoff * 2**n`` s),
        then routing them to the entity's DLQ with kctx's DLQ headers (what ``kctx dlq
        replay`` reads). Returns a ``ForEachResult``; see kctx_cli.runtime.consume.for_each
        for the keyword arguments (max_messages, idle_timeout, start, dead_letter_queue)."""
        from kctx_cli.runtime.consume import for_each

        return for_each(self, cls, handler, group=group, retries=retries, backoff=backoff, **kw)

    def process(self, cls, handler, *, group: str, **kw):
        """Exactly-once consume-transform-produce: ``handler(msg)`` returns the entities
        to produce (or None); outputs and input offsets commit in one Kafka transaction.
        Returns a ``ProcessResult``; keyword arguments in kctx_cli.runtime.consume.process
        (transactional_id, retries, backoff, max_messages, idle_timeout, batch)."""
        from kctx_cli.runtime.consume import process

        return process(self, cls, handler, group=group, **kw)

    # ------------------------------------------------------------------ tables
    def table(self, cls, *, cache_dir=None, refresh_interval: float = 0.5, follow: bool = True):
        """A typed, read-only ``TableView`` (kctx_cli/runtime/table.py) of a TABLE entity
        from its local RocksDB cache — the cache ``kctx cache warm`` fills (same
        directory) — created with a first warm when missing and kept current by a
        background thread every ``refresh_interval`` seconds (``follow=False``: no thread,
        ``refresh()`` by hand). ``.get(key)``, ``.to_list()``, ``.first(where=...)``."""
        from kctx_cli.runtime.table import TableView

        return TableView(self, cls, cache_dir=cache_dir, refresh_interval=refresh_interval, follow=follow)

    # ------------------------------------------------------------------ ksqlDB queries
    def query(self, query, *, as_=None, properties: dict | None = None, timeout: float = 30.0) -> list:
        """A pull query (``select(...).where(...)`` of the DSL, rendered by
        kctx_cli.query.compiler, or KSQL text) -> every row: dicts keyed by lower-case
        column names with Python values (kctx_cli/runtime/ksql.py), or instances of the
        entity class ``as_``. ``KsqlQueryError`` with ksqlDB's message when it refuses
        (e.g. a table that is not queryable)."""
        from kctx_cli.runtime.ksql import run_query

        with run_query(self.config, query, properties=properties, as_=as_, timeout=timeout) as res:
            return list(res)

    def stream(self, query, *, as_=None, properties: dict | None = None, from_beginning: bool = False,
               timeout: float | None = None):
        """A push query (``select(...).emit_changes()``): a ``QueryResult`` to iterate as
        rows arrive (same row shapes as ``query``); ``close()`` it (or use ``with``) to stop
        the query. ``from_beginning``: ``auto.offset.reset=earliest``. ``timeout``: seconds
        without a row before the iteration fails (None: wait forever)."""
        from kctx_cli.runtime.ksql import run_query

        props = dict(properties or {})
        if from_beginning:
            props.setdefault("auto.offset.reset", "earliest")
        res = run_query(self.config, query, properties=props, as_=as_, timeout=timeout or None)
        self._closers.append(res.close)
        return res

    # ------------------------------------------------------------------ lifecycle
    def close(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> None:
        """Flush what was added (``ProduceError`` if it cannot be delivered within
        ``timeout`` s), then close subscriptions, tables and clients. Idempotent."""
        if self._closed:
            return
        try:
            for c in reversed(self._closers):
                with contextlib.suppress(Exception):
                    c()
            self._closers.clear()
            self.flush(timeout)
        finally:
            self._closed = True
            if self._poller is not None:
                self._poller.join(1)
            self._producer = None
            self._txn_producer = None
            self._senders.clear()  # they hold the producer

    def __enter__(self) -> "KafkaContext":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            with contextlib.suppress(KctxError):
                self.close()

    def __repr__(self) -> str:
        return f"KafkaContext(env={self.config.env_name!r}, project={str(self.config.root)!r}, " \
               f"entities={len(self.project.entities)})"

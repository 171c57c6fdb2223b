"""Typed consumption: ``subscribe`` (auto/manual commit), ``for_each`` (retries, then the
entity's DLQ) and exactly-once ``process`` (consume-transform-produce in transactions).

Commit rules (the seed's lesson: an offset commit is not a DB commit):

auto    the offset of a record is *stored* only when the loop body (or handler) that got
        it has returned and the next record is asked for; librdkafka commits stored
        offsets every ``auto.commit.interval.ms`` (5 s), on a rebalance (partitions
        revoked) and on close. A crash redelivers what was not committed: at-least-once.
        The record in hand when the loop is left (``break``, an exception) is not stored.
manual  nothing is committed unless ``msg.commit()`` is called (synchronous, that record's
        partition up to and including it); ``msg.nack()`` rewinds its partition to it, so
        it (and what followed it) is delivered again.
process the outputs of a batch and its input offsets go in one Kafka transaction
        (``send_offsets_to_transaction``, KIP-98/KIP-447): read_committed readers see each
        result once, whatever crashes.

Consumers read with ``isolation.level=read_committed`` (records of aborted transactions
are never delivered).
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from kctx_cli.errors import KctxError
from kctx_cli.runtime.errors import ConsumeError, DeserializationError, ProduceError

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
COMMIT_MODES = ("auto", "manual")
BATCH = 500


class Message:
    """One consumed record: ``value`` the typed entity, ``key`` the key as decoded (one
    key column: its value; several: a dict), ``topic``, ``partition``, ``offset``,
    ``timestamp`` (aware UTC datetime, or None), ``timestamp_ms``, ``headers`` (list of
    ``(name, bytes)``), ``raw`` (the confluent_kafka.Message)."""

    __slots__ = ("value", "raw", "_sub")

    def __init__(self, value, raw, sub):
        self.value = value
        self.raw = raw
        self._sub = sub

    # read from the confluent message on demand (most handlers use few of them)
    @property
    def topic(self) -> str:
        """The record's topic."""
        return self.raw.topic()

    @property
    def partition(self) -> int:
        """The record's partition."""
        return self.raw.partition()

    @property
    def offset(self) -> int:
        """The record's offset in its partition."""
        return self.raw.offset()

    @property
    def timestamp_ms(self) -> int | None:
        """The record's timestamp in epoch milliseconds, None when the record has none."""
        ts_type, ts = self.raw.timestamp()
        return ts if ts_type else None

    @property
    def headers(self) -> list:
        """The record's headers as ``[(name, bytes or None), ...]`` ([] when it has none)."""
        return self.raw.headers() or []

    @property
    def key(self):
        """The key read from the entity's key fields: the value of a one-column key, a dict
        ``{field: value}`` for a composite key, None when the entity has no key."""
        keys = self._sub.info.keys
        if not keys:
            return None
        d = self.value.__dict__
        if len(keys) == 1:
            return d.get(keys[0].name)
        return {f.name: d.get(f.name) for f in keys}

    @property
    def timestamp(self) -> _dt.datetime | None:
        """``timestamp_ms`` as an aware UTC datetime, or None."""
        if self.timestamp_ms is None:
            return None
        return _EPOCH + _dt.timedelta(milliseconds=self.timestamp_ms)

    def header(self, name: str) -> bytes | None:
        """The last header called ``name`` (as Kafka's Headers.lastHeader), or None."""
        for k, v in reversed(self.headers):
            if k == name:
                return v
        return None

    def commit(self) -> None:
        """Commit this record's partition up to and including it (synchronously)."""
        self._sub._commit(self)

    def nack(self) -> None:
        """Negative acknowledgement (the seed's NegativeAckAsync): rewind the partition to
        this record; it is delivered again (with the records after it)."""
        self._sub._nack(self)

    def __repr__(self) -> str:
        return f"Message({self.topic}[{self.partition}]@{self.offset}, {self.value!r})"


class Subscription:
    """What ``KafkaContext.subscribe`` returns: iterate it for ``Message``s; ``close()``
    (or ``with``) leaves the group, committing what auto mode stored."""

    def __init__(self, ctx, cls, group: str, commit: str = "auto", *, start: str = "earliest",
                 max_messages: int | None = None, idle_timeout: float | None = None,
                 consumer_config: dict | None = None, raise_undecodable: bool = True):
        if commit not in COMMIT_MODES:
            raise KctxError(f"commit must be 'auto' or 'manual', got {commit!r}")
        if start not in ("earliest", "latest"):
            raise KctxError(f"start must be 'earliest' or 'latest', got {start!r}")
        if not group:
            raise KctxError("a consumer group id is required (group=...)")
        self.ctx = ctx
        self.info = ctx.entity(cls)
        self.codec = ctx._codec(self.info.cls)
        self.group = group
        self.mode = commit
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        self.raise_undecodable = raise_undecodable
        from confluent_kafka import Consumer

        conf = ctx._kafka_conf(**{
            "group.id": group,
            "enable.auto.commit": commit == "auto",
            "enable.auto.offset.store": False,
            "auto.offset.reset": start,
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
            "allow.auto.create.topics": False,
            "fetch.queue.backoff.ms": 10,
        })
        conf.update(ctx._consumer_config)
        conf.update(consumer_config or {})
        self.consumer = Consumer(conf)
        self.consumer.subscribe([self.info.topic])
        self._skip: dict[int, int] = {}  # partition -> offset rewound to by nack
        self._closed = False
        ctx._closers.append(self.close)

    # -- reading
    def _batches(self) -> Iterator[list]:
        from confluent_kafka import KafkaError

        idle_since = time.monotonic()
        while not self._closed:
            msgs = self.consumer.consume(BATCH, 0.2)
            if not msgs:
                if self.idle_timeout is not None:
                    if not self.consumer.assignment():
                        idle_since = time.monotonic()  # idle counts once partitions are assigned
                    elif time.monotonic() - idle_since > self.idle_timeout:
                        return
                continue
            idle_since = time.monotonic()
            good = []
            for m in msgs:
                err = m.error()
                if err is None:
                    good.append(m)
                elif err.code() == KafkaError._PARTITION_EOF:
                    continue
                elif err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                    raise ConsumeError(f"topic {self.info.topic} does not exist: run kctx migrate")
                elif err.fatal() or not err.retriable():
                    raise ConsumeError(f"consuming {self.info.topic}: {err.str()}")
            if good:
                yield good

    def records(self, typed: bool = False) -> Iterator[Any]:
        """(raw message, entity or DeserializationError) pairs, honouring nack rewinds and
        max_messages; auto mode stores each offset when the next pair is asked for.
        ``typed``: ``Message``s instead, an undecodable record raised (``raise_undecodable``)
        or passed over — what ``__iter__`` yields, in one generator (a consumer's hot loop)."""
        decode = self.codec.decoder()
        raise_undecodable = self.raise_undecodable
        store = self.consumer.store_offsets
        auto = self.mode == "auto"
        limit = self.max_messages
        n = 0
        for batch in self._batches():
            for m in batch:
                if self._skip:
                    p = m.partition()
                    if p in self._skip:
                        if m.offset() > self._skip[p]:
                            continue  # fetched before the rewind: delivered again after it
                        del self._skip[p]
                try:
                    value = decode(m.key(), m.value())
                except DeserializationError as exc:
                    if not typed:
                        value = exc
                    elif raise_undecodable:
                        raise DeserializationError(f"{m.topic()}[{m.partition()}]@{m.offset()}: {exc}",
                                                   exc.code) from None
                    else:
                        value = None  # passed over (its offset is stored all the same)
                if not typed:
                    yield m, value
                elif value is not None:
                    yield Message(value, m, self)
                if auto:
                    try:
                        store(message=m)
                    except Exception:  # noqa: BLE001 - partition revoked meanwhile: redelivered to its new owner
                        pass
                n += 1
                if limit is not None and n >= limit:
                    return

    def __iter__(self) -> Iterator[Message]:
        """The records as typed ``Message``s. When the loop ends — ``idle_timeout`` or
        ``max_messages`` reached, ``break``, an exception in its body — the subscription is
        closed: it leaves the group at once (auto mode commits what it stored), so the
        group's next member gets the partitions now rather than after the broker's
        ``max.poll.interval.ms`` (5 minutes) of waiting for a member that no longer polls."""
        try:
            yield from self.records(typed=True)
        finally:
            self.close()

    # -- committing
    def _commit(self, msg: Message) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self.consumer.commit(offsets=[TopicPartition(msg.topic, msg.partition, msg.offset + 1)],
                                 asynchronous=False)
        except KafkaException as exc:
            raise ConsumeError(f"cannot commit {msg.topic}[{msg.partition}]@{msg.offset}: "
                               f"{exc.args[0].str()}") from None

    def _nack(self, msg: Message) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self.consumer.seek(TopicPartition(msg.topic, msg.partition, msg.offset))
        except KafkaException as exc:
            raise ConsumeError(f"cannot rewind {msg.topic}[{msg.partition}] to {msg.offset}: "
                               f"{exc.args[0].str()}") from None
        self._skip[msg.partition] = msg.offset

    def close(self) -> None:
        """Leave the group (auto mode commits the stored offsets first). Idempotent."""
        if not self._closed:
            self._closed = True
            try:
                self.consumer.close()
            except Exception:  # noqa: BLE001 - already closed
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------- for_each

@dataclass
class ForEachResult:
    """What ``for_each`` did: records handled, retries made, records dead-lettered."""

    processed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    errors: list[str] = field(default_factory=list)  # the first few DLQ reasons


def error_code(exc: BaseException) -> str:
    """The DLQ error code: kctx's code for records that do not decode, else the
    exception's class name (what ``kctx dlq replay --error-code`` filters on)."""
    if isinstance(exc, DeserializationError):
        return exc.code
    return type(exc).__name__


def dead_letter(ctx, producer, info, m, exc: BaseException, *, flush: bool = True) -> None:
    """Publish the raw record to ``info.dlq`` with kctx's DLQ headers
    (kctx_cli/dlq/headers.py: original topic/partition/offset/timestamp, error code and
    message) after the record's own headers; ``flush``: wait until Kafka has it."""
    from kctx_cli.dlq.headers import kctx_headers

    ts_type, ts = m.timestamp()
    msg = " ".join(str(exc).split())[:2000] or type(exc).__name__
    headers = list(m.headers() or []) + kctx_headers(m.topic(), m.partition(), m.offset(), ts if ts_type else None,
                                                     error_code(exc), msg)
    errors: list = []
    producer.produce(info.dlq, m.value(), m.key(), headers=headers, timestamp=ts if ts_type else 0,
                     on_delivery=lambda err, _m: errors.append(err) if err else None)
    if flush:
        left = producer.flush(30)
        if left or errors:
            raise ProduceError(f"cannot dead-letter {m.topic()}[{m.partition()}]@{m.offset()} to {info.dlq}: "
                               f"{errors[0].str() if errors else 'not delivered in 30 s'}")


def for_each(ctx, cls, handler: Callable[[Message], Any], *, group: str, retries: int = 3,
             backoff: float = 0.5, max_backoff: float = 30.0, start: str = "earliest",
             max_messages: int | None = None, idle_timeout: float | None = None,
             dead_letter_queue: bool = True) -> ForEachResult:
    """Run ``handler(msg)`` for each record (auto commit after it returns).

    A handler exception is retried ``retries`` times, sleeping ``backoff * 2**attempt``
    seconds (at most ``max_backoff``); then the record goes to the entity's DLQ
    (``Meta.dlq``) with kctx's DLQ headers, and its offset is committed only once the
    DLQ has it. A record that does not decode goes to the DLQ at once (decoding again
    gives the same answer), except registry outages, which are retried like handler
    failures. Without a DLQ (``Meta.dlq`` unset or ``dead_letter_queue=False``) the last
    exception is raised and the record stays uncommitted (redelivered on restart).
    Stops after ``max_messages`` records or ``idle_timeout`` seconds without records once
    partitions are assigned (None: runs until closed / interrupted)."""
    info = ctx.entity(cls)
    res = ForEachResult()
    use_dlq = dead_letter_queue and bool(info.dlq)
    sub = Subscription(ctx, cls, group, "auto", start=start, max_messages=max_messages,
                       idle_timeout=idle_timeout, raise_undecodable=False)
    codec = sub.codec
    decode = codec.decoder()
    try:
        for m, value in sub.records():
            attempt = 0
            while True:
                try:
                    if isinstance(value, DeserializationError):
                        if value.code != "registry-error":
                            raise value
                        value = decode(m.key(), m.value())  # registry back?
                    handler(Message(value, m, sub))
                    res.processed += 1
                    break
                except Exception as exc:  # noqa: BLE001 - the handler's failure is data here
                    retry = attempt < retries and not (isinstance(exc, DeserializationError)
                                                       and exc.code != "registry-error")
                    if retry:
                        time.sleep(min(max_backoff, backoff * (2 ** attempt)))
                        attempt += 1
                        res.retried += 1
                        if isinstance(value, DeserializationError):
                            try:
                                value = decode(m.key(), m.value())
                            except DeserializationError as again:
                                value = again
                        continue
                    if not use_dlq:
                        raise
                    dead_letter(ctx, ctx.producer, info, m, exc)
                    res.dead_lettered += 1
                    if len(res.errors) < 10:
                        res.errors.append(f"{m.topic()}[{m.partition()}]@{m.offset()}: {error_code(exc)}: {exc}")
                    break
    finally:
        sub.close()
    return res


# --------------------------------------------------------------------------- process

@dataclass
class ProcessResult:
    """What ``process`` did: records read, outputs written, records dead-lettered,
    transactions committed."""

    processed: int = 0
    produced: int = 0
    dead_lettered: int = 0
    transactions: int = 0


def process(ctx, cls, handler: Callable[[Message], Any], *, group: str, transactional_id: str | None = None,
            retries: int = 3, backoff: float = 0.5, max_backoff: float = 30.0, start: str = "earliest",
            max_messages: int | None = None, idle_timeout: float | None = None, batch: int = BATCH,
            transaction_timeout_ms: int = 60000) -> ProcessResult:
    """Exactly-once consume-transform-produce (KIP-98 transactions, KIP-447 group
    metadata fencing). ``handler(msg)`` returns None, one entity or an iterable of entities
    to produce; per batch (at most ``batch`` records) one transaction holds the outputs,
    any DLQ records and the input offsets (``send_offsets_to_transaction``). A crash
    anywhere aborts the open transaction; the next run with the same
    ``transactional_id`` (default ``kctx-process-<group>-<topic>``: one instance per id —
    give each instance its own when running several) fences the old one and resumes
    from the committed offsets, so read_committed readers see each output exactly once.
    Handler failures are retried (``backoff * 2**attempt`` s), then dead-lettered in the
    same transaction (or raised, aborting it, when the entity has no DLQ). The handler
    itself may run more than once for a record (after a crash): its side effects outside
    Kafka are at-least-once (docs/services.md)."""
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    info = ctx.entity(cls)
    codec = ctx._codec(info.cls)
    decode = codec.decoder()
    tid = transactional_id or f"kctx-process-{group}-{info.topic}"
    producer = Producer(ctx._producer_conf(**{"transactional.id": tid,
                                              "transaction.timeout.ms": transaction_timeout_ms}))
    conf = ctx._kafka_conf(**{"group.id": group, "enable.auto.commit": False, "enable.auto.offset.store": False,
                              "auto.offset.reset": start, "isolation.level": "read_committed",
                              "allow.auto.create.topics": False, "fetch.queue.backoff.ms": 10})
    conf.update(ctx._consumer_config)
    consumer = Consumer(conf)
    res = ProcessResult()
    try:
        try:
            producer.init_transactions(30)
        except KafkaException as exc:
            raise ProduceError(f"cannot initialise transactions ({tid}): {exc.args[0].str()}") from None
        consumer.subscribe([info.topic])
        sub = _Proxy(info)
        idle_since = time.monotonic()
        while True:
            if max_messages is not None and res.processed >= max_messages:
                break
            want = batch if max_messages is None else min(batch, max_messages - res.processed)
            msgs = consumer.consume(want, 0.2)
            msgs = [m for m in msgs if _check(m, info)]
            if not msgs:
                if idle_timeout is not None:
                    if not consumer.assignment():
                        idle_since = time.monotonic()  # idle counts once partitions are assigned
                    elif time.monotonic() - idle_since > idle_timeout:
                        break
                continue
            idle_since = time.monotonic()
            producer.begin_transaction()
            try:
                positions: dict[int, int] = {}
                for m in msgs:
                    out = _run_one(ctx, producer, info, codec, decode, handler, m, sub, retries, backoff,
                                   max_backoff, res)
                    res.produced += out
                    positions[m.partition()] = m.offset() + 1
                    res.processed += 1
                producer.send_offsets_to_transaction(
                    [TopicPartition(info.topic, p, o) for p, o in positions.items()],
                    consumer.consumer_group_metadata(), 30)
                producer.commit_transaction(60)
                res.transactions += 1
            except BaseException:
                try:
                    producer.abort_transaction(30)
                except KafkaException:
                    pass
                _rewind(consumer, info.topic, msgs)
                raise
    finally:
        try:
            consumer.close()
        except Exception:  # noqa: BLE001
            pass
    return res


class _Proxy:
    """The ``sub`` of Messages handed to ``process`` handlers: commit/nack do not apply."""

    def __init__(self, info):
        self.info = info

    def _commit(self, msg):
        raise KctxError("process() commits with its transactions: msg.commit() does not apply")

    def _nack(self, msg):
        raise KctxError("process() retries failed records itself: msg.nack() does not apply")


def _check(m, info) -> bool:
    from confluent_kafka import KafkaError

    err = m.error()
    if err is None:
        return True
    if err.code() == KafkaError._PARTITION_EOF:
        return False
    if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
        raise ConsumeError(f"topic {info.topic} does not exist: run kctx migrate")
    if err.fatal() or not err.retriable():
        raise ConsumeError(f"consuming {info.topic}: {err.str()}")
    return False


def _rewind(consumer, topic: str, msgs) -> None:
    from confluent_kafka import TopicPartition

    first: dict[int, int] = {}
    for m in msgs:
        first.setdefault(m.partition(), m.offset())
    for p, o in first.items():
        try:
            consumer.seek(TopicPartition(topic, p, o))
        except Exception:  # noqa: BLE001 - revoked: its new owner starts from the committed offset
            pass


def _run_one(ctx, producer, info, codec, decode, handler, m, sub, retries, backoff, max_backoff, res) -> int:
    attempt = 0
    while True:
        try:
            value = decode(m.key(), m.value())
            out = handler(Message(value, m, sub))
            break
        except Exception as exc:  # noqa: BLE001
            fixed = isinstance(exc, DeserializationError) and exc.code != "registry-error"
            if attempt < retries and not fixed:
                time.sleep(min(max_backoff, backoff * (2 ** attempt)))
                attempt += 1
                continue
            if not info.dlq:
                raise
            dead_letter(ctx, producer, info, m, exc, flush=False)
            res.dead_lettered += 1
            return 0
    if out is None:
        return 0
    outs = [out] if hasattr(type(out), "__kctx__") else list(out)
    for e in outs:
        c = ctx._codecs.get(type(e)) or ctx._codec(type(e))
        key, value = c.encode(e)
        ts = 0
        if c.info.timestamp and e.__dict__.get(c.info.timestamp) is not None:
            ts = (e.__dict__[c.info.timestamp] - _EPOCH) // _dt.timedelta(milliseconds=1)
        while True:
            try:
                producer.produce(c.topic, value, key, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.1)
    return len(outs)

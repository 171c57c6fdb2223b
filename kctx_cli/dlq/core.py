"""``kctx dlq list | show | replay``.

Replay is a consume-transform-produce loop. Exactly-once (the default): one Kafka
transaction per batch holds the re-published records *and* the DLQ consumer offsets
(``send_offsets_to_transaction``); a crash anywhere aborts the open transaction, and the
next run (same transactional.id, fencing any zombie) resumes from the last committed
offsets. Readers of the target topic with isolation.level=read_committed see each
replayed record exactly once. ``--at-least-once`` flushes, then commits offsets: a
crash between the two re-publishes that batch.
"""
from __future__ import annotations

import hashlib
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

from kctx_cli.dlq.headers import origin, replay_headers
from kctx_cli.errors import KctxError

DLQ_PATTERN = r".+([-_.](dlq|dlt|DLT|DLQ))$"
PARKING_SUFFIX = "-parking"
BATCH = 500
TXN_TIMEOUT_MS = 60000


# --------------------------------------------------------------------------- list / show

def dlq_topics(config, client, pattern: str | None = None) -> list[str]:
    """The DLQ topics of the cluster, sorted: names matching ``pattern`` (a regular expression
    over the whole name; default ``DLQ_PATTERN``: a name ending in - _ or . then dlq, dlt,
    DLQ or DLT)
    and, without a pattern, the ``Meta.dlq`` topics the models declare. Internal (``__``) and
    parking (``-parking``) topics are left out. ``client`` is any confluent-kafka client;
    KctxError when Kafka cannot be reached."""
    from kctx_cli.backends import kafka

    md = kafka.list_topics(client, config)
    rx = re.compile(pattern or DLQ_PATTERN)
    names = {t for t in md.topics if not t.startswith("__") and rx.fullmatch(t)}
    if pattern:
        return sorted(n for n in names if not n.endswith(PARKING_SUFFIX))
    # DLQs declared in the models, whatever their names
    try:
        from kctx_cli.model.discovery import load_project

        names |= {e.dlq for e in load_project(config).entities if e.dlq and e.dlq in md.topics}
    except Exception:  # noqa: BLE001 - no models here is fine for an incident tool
        pass
    return sorted(n for n in names if not n.endswith(PARKING_SUFFIX))


def _edge_timestamps(consumer, topic: str, marks: dict[int, tuple[int, int]]):
    """Timestamps of the first and the last records (over all partitions)."""
    from kctx_cli.tail.reader import batches

    data = {p: m for p, m in marks.items() if m[1] > m[0]}
    if not data:
        return None, None
    first = [m.timestamp()[1] for b in batches(consumer, topic, {p: lo for p, (lo, hi) in data.items()},
                                               {p: lo + 1 for p, (lo, hi) in data.items()}) for m in b]
    consumer.unassign()
    last = [m.timestamp()[1] for b in batches(consumer, topic, {p: max(lo, hi - 5) for p, (lo, hi) in data.items()},
                                              {p: hi for p, (lo, hi) in data.items()}) for m in b]
    return (min(first) if first else None), (max(last) if last else None)


def list_dlqs(config, pattern: str | None = None) -> list[dict]:
    """One dict per DLQ topic (``dlq_topics``): ``topic``, ``partitions``, ``records`` (between
    the watermarks), ``oldest`` / ``newest`` record timestamps (epoch ms, None when empty)
    and ``parked`` (records in ``<topic>-parking``, None when it does not exist). KctxError
    when Kafka cannot be reached."""
    from confluent_kafka import TopicPartition

    from kctx_cli.backends import kafka

    consumer = kafka.consumer(config)
    try:
        rows = []
        md = kafka.list_topics(consumer, config)
        for t in dlq_topics(config, consumer, pattern):
            parts = sorted(md.topics[t].partitions)
            marks = {p: consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10) for p in parts}
            oldest, newest = _edge_timestamps(consumer, t, marks)
            consumer.unassign()
            parking = t + PARKING_SUFFIX
            parked = None
            if parking in md.topics:
                parked = sum(hi - lo for lo, hi in (consumer.get_watermark_offsets(TopicPartition(parking, p), timeout=10)
                                                    for p in md.topics[parking].partitions))
            rows.append({"topic": t, "partitions": len(parts), "records": sum(hi - lo for lo, hi in marks.values()),
                         "oldest": oldest, "newest": newest, "parked": parked})
        return rows
    finally:
        consumer.close()


def show_dlq(config, topic: str, start: str = "beginning", max_records: int = 20) -> list[dict]:
    """Up to ``max_records`` records of ``topic`` from ``start`` (a ``--from`` value,
    kctx_cli.tail.start), one dict each: ``partition``, ``offset``, ``timestamp`` (ISO-8601
    UTC), ``key`` / ``key_format``, ``origin`` (``Origin.as_dict``: where it came from and
    why, from the DLQ headers), ``value`` / ``value_format`` / ``value_schema_id`` /
    ``value_error``, and every header as ``[name, text]``. KctxError for ``max_records`` < 1,
    a bad ``start``, or a topic that does not exist."""
    from kctx_cli.backends import kafka
    from kctx_cli.backends.registry import SchemaCache, schema_fetcher
    from kctx_cli.tail.core import key_text
    from kctx_cli.tail.decode import Decoder, header_value
    from kctx_cli.tail.jsonout import iso_ms
    from kctx_cli.tail.reader import batches
    from kctx_cli.tail.start import parse_start, resolve

    if max_records < 1:
        raise KctxError(f"--max must be at least 1, got {max_records}")
    st = parse_start(start)
    decoder = Decoder(SchemaCache(schema_fetcher(config)) if config.schema_registry_url else None)
    consumer = kafka.consumer(config)
    out: list[dict] = []
    try:
        tmd = kafka.describe_topic(consumer, topic, config)
        starts, ends = resolve(consumer, topic, sorted(tmd.partitions), st)
        for b in batches(consumer, topic, starts, ends):
            for m in b:
                o = origin(m.headers())
                v = decoder.decode(m.value())
                k = decoder.decode_key(m.key())
                out.append({"partition": m.partition(), "offset": m.offset(), "timestamp": iso_ms(m.timestamp()[1]),
                            "key": key_text(k), "key_format": k.format, "origin": o.as_dict(),
                            "value": v.value, "value_format": v.format, "value_schema_id": v.schema_id,
                            "value_error": v.error,
                            # every header, DLQ ones included (binary values as 0x…)
                            "headers": [[hk, header_value(hv)] for hk, hv in m.headers() or ()]})
                if len(out) >= max_records:
                    return out
        return out
    finally:
        consumer.close()


# --------------------------------------------------------------------------- replay

@dataclass
class ReplayOptions:
    """What ``replay`` does (the ``kctx dlq replay`` options): the ``dlq`` topic; ``to`` a target
    topic instead of each record's original topic; filters ``error_codes`` (equal, or a
    dotted suffix: ``SerializationException`` matches ``org.apache...SerializationException``),
    ``since`` / ``until`` (ISO-8601 or epoch ms; the DLQ records' timestamps, inclusive),
    ``key`` (the key as typed); ``repartition`` (let the
    partitioner choose instead of the original partition); ``dry_run`` (count, write
    nothing); ``at_least_once`` (no transactions); ``max_replays`` (records replayed this
    often go to ``<dlq>-parking``); ``rate`` (records per second at most); ``group`` (the
    consumer group and transactional.id, default ``group_for``); ``batch`` records per
    transaction."""
    dlq: str
    to: str | None = None
    error_codes: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    key: str | None = None
    repartition: bool = False  # recompute the partition (murmur2) instead of the original one
    dry_run: bool = False
    at_least_once: bool = False
    max_replays: int = 3
    rate: float | None = None
    group: str | None = None
    batch: int = BATCH


@dataclass
class ReplayResult:
    """What ``replay`` did: the ``group`` used; ``replayed`` records, of which
    ``same_partition`` went to their original partition and ``repartitioned`` to the
    partitioner's choice; ``parked``, ``skipped`` (filtered out); ``transactions`` committed
    (batches, in at-least-once mode offset commits); ``interrupted`` by SIGTERM / SIGINT
    after the last committed batch; ``histogram`` (target topic, error code, ``replay`` /
    ``park``) -> records. A dry run counts ``replayed``, ``parked``, ``skipped`` and the
    histogram only."""
    group: str
    replayed: int = 0
    same_partition: int = 0   # written to the original partition named in the headers
    repartitioned: int = 0    # partition chosen by the producer's partitioner (asked, or none usable)
    parked: int = 0
    skipped: int = 0
    transactions: int = 0
    interrupted: bool = False
    histogram: Counter = field(default_factory=Counter)  # (target, error code, action) -> count


def group_for(opts: ReplayOptions) -> str:
    """One consumer group (and transactional.id) per DLQ and filter set: a re-run with
    the same filters resumes; other filters start from the beginning of the DLQ."""
    if opts.group:
        return opts.group
    g = f"kctx-dlq-replay-{opts.dlq}"
    filt = (sorted(opts.error_codes), opts.since, opts.until, opts.key, opts.to)
    if filt != ([], None, None, None, None):
        g += "-" + hashlib.sha1(repr(filt).encode()).hexdigest()[:8]
    return g


def _time_ms(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    from kctx_cli.tail.start import parse_start

    try:
        s = parse_start(text)
    except KctxError:
        s = None
    if s is None or s.kind != "time":
        # offsets and -N mean nothing for a time filter
        raise KctxError(f"{flag}: expected epoch milliseconds or an ISO-8601 time, got '{text}'")
    return s.value


def target_partition(o, partitions: int | None, repartition: bool) -> int | None:
    """Where a replayed record goes: the original partition named by the DLQ headers
    (kctx, Kafka Connect or Spring convention) when it exists in the target topic of
    ``partitions`` partitions, so a key's records stay in one partition and in order;
    None (the producer's murmur2 partitioner decides, as Java and ksqlDB do) when asked
    (``repartition``), when no header names one, or when the target has fewer partitions."""
    if repartition or o.partition is None or partitions is None:
        return None
    return o.partition if 0 <= o.partition < partitions else None


def _code_matches(code: str | None, wanted: list[str]) -> bool:
    if not wanted:
        return True
    if code is None:
        return False
    return any(code == w or code.endswith("." + w) for w in wanted)


class _Stop:
    """SIGTERM/SIGINT set a flag; the loop finishes the open transaction and stops."""

    def __init__(self):
        self.flag = False
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread (library use): no handler
                pass
        return self

    def _handle(self, signum, frame):
        self.flag = True

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)

    def __call__(self) -> bool:
        return self.flag


def replay(config, opts: ReplayOptions, progress=None) -> ReplayResult:
    """Replay the DLQ ``opts.dlq`` from the group's committed offsets to the current end (see
    the module: exactly-once by default), reporting records read to ``progress`` (an object
    with ``start(total)`` / ``advance(n)``) when given. Returns a ReplayResult; a signal
    stops it after the open batch is committed. KctxError for bad options (``--since``,
    ``--until``, ``--max-replays`` < 0, ``--rate`` <= 0), a missing DLQ or target topic, a
    record without an original topic and no ``to``, a cluster without transactions, or a
    Kafka failure (nothing of the failed batch committed)."""
    from confluent_kafka import KafkaException, TopicPartition

    from kctx_cli.backends import kafka
    from kctx_cli.tail.reader import batches

    since, until = _time_ms(opts.since, "--since"), _time_ms(opts.until, "--until")
    if opts.max_replays < 0:
        raise KctxError(f"--max-replays must be ≥ 0, got {opts.max_replays}")
    if opts.rate is not None and opts.rate <= 0:
        raise KctxError(f"--rate must be positive, got {opts.rate}")
    group = group_for(opts)
    res = ReplayResult(group)
    batch = opts.batch
    if opts.rate:
        batch = max(1, min(batch, int(opts.rate)))  # about one transaction per second

    consumer = kafka.consumer(config, **{"group.id": group, "isolation.level": "read_committed"})
    producer = None
    try:
        tmd = kafka.describe_topic(consumer, opts.dlq, config)
        parts = sorted(tmd.partitions)
        if not opts.dry_run:
            producer = _producer(config, opts, group)
        if opts.to:
            kafka.describe_topic(consumer, opts.to, config)
        # after init_transactions: an interrupted transaction is aborted, so these are stable
        try:
            committed = consumer.committed([TopicPartition(opts.dlq, p) for p in parts], timeout=10)
            marks = {p: consumer.get_watermark_offsets(TopicPartition(opts.dlq, p), timeout=10) for p in parts}
        except KafkaException as exc:
            raise KctxError(f"cannot read the offsets of '{opts.dlq}': {exc.args[0].str()}") from None
        starts = {tp.partition: max(tp.offset, marks[tp.partition][0]) if tp.offset >= 0 else marks[tp.partition][0]
                  for tp in committed}
        ends = {p: hi for p, (lo, hi) in marks.items()}
        total = sum(max(0, ends[p] - starts[p]) for p in parts)
        if progress is not None:
            progress.start(total)

        checked: set[str] = set()
        failed = _Failures()
        parking = opts.dlq + PARKING_SUFFIX
        key_filter = None
        if opts.key is not None:
            from kctx_cli.backends.registry import SchemaCache, schema_fetcher
            from kctx_cli.tail import keys as K
            from kctx_cli.tail.core import KeyFilter
            from kctx_cli.tail.decode import Decoder

            schemas = SchemaCache(schema_fetcher(config)) if config.schema_registry_url else None
            spec = K.resolve_spec(config, opts.to or opts.dlq)
            key_filter = KeyFilter(opts.key, spec, Decoder(schemas, spec), schemas, opts.to or opts.dlq, 1)
        target_parts: dict[str, int | None] = {}
        t0 = time.monotonic()
        sent = 0
        with _Stop() as stop:
            for msgs in batches(consumer, opts.dlq, starts, ends, batch=batch, stop=stop):
                if producer is not None and not opts.at_least_once:
                    producer.begin_transaction()
                try:
                    for m in msgs:
                        o = origin(m.headers())
                        ts = m.timestamp()[1]
                        if not _code_matches(o.error_code, opts.error_codes) or \
                                (since is not None and ts < since) or (until is not None and ts > until) or \
                                (key_filter is not None and not key_filter(m.key(), None)):
                            res.skipped += 1
                            continue
                        park = o.replay_count >= opts.max_replays
                        target = parking if park else (opts.to or o.topic)
                        if target is None:
                            raise KctxError(
                                f"{opts.dlq}[{m.partition()}]@{m.offset()} has no original-topic header (kctx, "
                                f"Kafka Connect or Spring convention); pass --to TOPIC")
                        res.histogram[(o.topic if park else target, o.error_code or "-", "park" if park else "replay")] += 1
                        if park:
                            res.parked += 1
                        else:
                            res.replayed += 1
                        if producer is None:
                            continue
                        if target not in checked:
                            target_parts[target] = _ensure_target(config, consumer, target, park, tmd)
                            checked.add(target)
                        if park:
                            producer.produce(target, key=m.key(), value=m.value(), headers=m.headers(),
                                             timestamp=ts, on_delivery=failed.record)
                        else:
                            p = target_partition(o, target_parts.get(target), opts.repartition)
                            extra = {} if p is None else {"partition": p}
                            if p is None:
                                res.repartitioned += 1
                            else:
                                res.same_partition += 1
                            producer.produce(target, key=m.key(), value=m.value(),
                                             headers=replay_headers(m.headers(), o.replay_count + 1),
                                             timestamp=o.timestamp or ts, on_delivery=failed.record, **extra)
                        sent += 1
                        if opts.rate:
                            ahead = sent / opts.rate - (time.monotonic() - t0)
                            if ahead > 0:
                                time.sleep(ahead)
                        producer.poll(0)
                    if producer is not None:
                        offsets = _next_offsets(opts.dlq, msgs)
                        if opts.at_least_once:
                            _flush(producer, failed)
                            consumer.commit(offsets=offsets, asynchronous=False)
                        else:
                            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
                            producer.commit_transaction(60)
                        res.transactions += 1
                except KafkaException as exc:
                    _abort(producer, opts)
                    raise KctxError(f"replay of '{opts.dlq}' failed, nothing of this batch was committed: "
                                    f"{exc.args[0].str()}") from None
                except BaseException:
                    _abort(producer, opts)
                    raise
                if progress is not None:
                    progress.advance(len(msgs))
            res.interrupted = stop.flag
        return res
    finally:
        consumer.close()
        if producer is not None:
            producer.flush(10)


class _Failures:
    """Delivery errors of the current batch. In a transaction librdkafka fails
    commit_transaction itself; at-least-once checks this list before committing offsets."""

    def __init__(self):
        self.errors: list = []

    def record(self, err, msg):
        if err is not None:
            self.errors.append(err)


def _flush(producer, failed: _Failures):
    left = producer.flush(60)
    if left:
        raise KctxError(f"{left} record(s) not acknowledged within 60 s; offsets not committed")
    if failed.errors:
        err = failed.errors[0]
        failed.errors.clear()
        raise KctxError(f"a replayed record was not written ({err.str()}); offsets not committed")


def _abort(producer, opts):
    if producer is None or opts.at_least_once:
        return
    try:
        producer.abort_transaction(30)
    except Exception:  # noqa: BLE001 - the next run's init_transactions aborts it anyway
        pass


def _next_offsets(topic, msgs):
    from confluent_kafka import TopicPartition

    nxt: dict[int, int] = {}
    for m in msgs:
        nxt[m.partition()] = max(nxt.get(m.partition(), 0), m.offset() + 1)
    return [TopicPartition(topic, p, o) for p, o in sorted(nxt.items())]


def _producer(config, opts: ReplayOptions, group: str):
    from confluent_kafka import KafkaException

    from kctx_cli.backends import kafka

    if opts.at_least_once:
        return kafka.producer(config, acks="all")
    p = kafka.producer(config, **{"transactional.id": group, "transaction.timeout.ms": TXN_TIMEOUT_MS})
    try:
        p.init_transactions(30)
    except KafkaException as exc:
        raise KctxError(f"cannot start a Kafka transaction ({exc.args[0].str()}); "
                        f"the cluster may not support transactions: use --at-least-once") from None
    return p


def _ensure_target(config, client, target: str, park: bool, dlq_md) -> int | None:
    """The original topic must exist (a typo'd header must not create a topic);
    the parking topic is created on first use like the DLQ. Returns the target's
    partition count (None for a parking topic just created)."""
    from kctx_cli.backends import kafka

    try:
        return len(kafka.describe_topic(client, target, config).partitions)
    except KctxError:
        if not park:
            raise KctxError(f"target topic '{target}' does not exist; create it or pass --to TOPIC") from None
    from confluent_kafka.admin import NewTopic

    parts = dlq_md.partitions
    rf = len(next(iter(parts.values())).replicas) if parts else 1
    adm = kafka.admin(config)  # keep a reference: the future dies with its client
    fut = adm.create_topics([NewTopic(target, len(parts), rf)])[target]
    try:
        fut.result(30)
    except Exception as exc:  # noqa: BLE001
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise KctxError(f"cannot create parking topic '{target}': {exc}") from None

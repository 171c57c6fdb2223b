"""Migration history and lock, kept in the cluster in one Kafka topic.

Topic ``_kctx_migrations`` (``KCTX_MIGRATIONS_TOPIC`` overrides it): one partition,
``message.timestamp.type=LogAppendTime`` (the broker's clock stamps every record, so
lease expiry never depends on the clocks of CI machines), ``retention.ms=-1`` and
``cleanup.policy=delete`` — not compacted, because the lock is decided by the order of
the records and compaction would remove the records that order depends on. It grows by
two or three small records per statement, which is nothing for Kafka.

Why a Kafka topic and not ksql-migrations' MIGRATION_EVENTS stream: the history must work
for projects that do not use ksqlDB at all, it must be read back exactly (a consumer reads
to the high watermark: read-your-writes with no ksqlDB query lag), and one totally ordered
partition gives the lock for free. ``kctx baseline`` reads MIGRATION_EVENTS to adopt a
cluster that ksql-migrations managed.

Records (JSON values; key = version label or ``lock``):

* ``{"type":"lock","owner":ID,"who":"user@host pid 123","lease_ms":30000}`` — a request
  for the lock, or its renewal by the holder;
* ``{"type":"unlock","owner":ID}``;
* ``{"type":"version","version":3,"state":"RUNNING|MIGRATED|ERROR|REVERTING|REVERTED",
  "checksum":...,"attempt":...,"direction":"up|down","started":...,"finished":...,"who":...,
  "error":...}``;
* ``{"type":"step","version":3,"attempt":...,"index":4,"state":"DONE"}`` after each step;
* ``{"type":"repair","version":3,"state":"RUNNING|REPAIRED|ERROR","attempt":...,
  "operations":[...],"started":...,"finished":...,"who":...,"error":...}`` — ``kctx repair``
  bringing drift back to the state of the applied version 3.

**Lock rule** (every reader computes the same answer from the same log): walking the
records in offset order, a ``lock`` record takes the lock when nobody holds it, when its
owner already holds it, or when the holder's last record is older than the holder's lease
(broker timestamps). Any record of the holder renews its lease; ``unlock`` frees it. A
killed process therefore holds the lock for at most one lease. The holder renews from a
background thread and checks, before each statement, that its last renewal is recent
enough; a holder that lost its lease stops.
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

from kctx_cli.errors import KctxError

DEFAULT_TOPIC = "_kctx_migrations"
DEFAULT_LEASE_MS = 30_000


def topic_name() -> str:
    """The history topic's name: ``KCTX_MIGRATIONS_TOPIC``, else ``_kctx_migrations``."""
    return os.environ.get("KCTX_MIGRATIONS_TOPIC") or DEFAULT_TOPIC


def lease_ms() -> int:
    """The lock lease in milliseconds: ``KCTX_MIGRATE_LOCK_LEASE_MS`` when it is a whole
    number, else 30 000."""
    v = os.environ.get("KCTX_MIGRATE_LOCK_LEASE_MS")
    return int(v) if v and v.isdigit() else DEFAULT_LEASE_MS


def now_iso() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z`` (the history's times)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def who() -> str:
    """``user@host pid N`` of this process, for the history's ``who`` fields (``?`` as user
    when none can be had)."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "?"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


@dataclass
class VersionState:
    """The latest ``version`` record of one migration version (see the module): ``state``
    (RUNNING, MIGRATED, ERROR, REVERTING, REVERTED), the file's ``checksum``, the
    ``attempt`` id (a hex uuid; steps are recorded per attempt), ``direction`` up / down,
    ``started`` / ``finished`` (ISO-8601 UTC, ``now_iso``), ``who``, the ``error`` that
    stopped it, the file's ``description``, and ``done_steps`` (indexes of the steps this
    attempt recorded DONE)."""
    version: int
    state: str
    checksum: str | None
    attempt: str | None
    direction: str
    started: str | None = None
    finished: str | None = None
    who: str | None = None
    error: str | None = None
    description: str | None = None
    done_steps: set[int] = field(default_factory=set)  # of this attempt


class Record(NamedTuple):
    """One record of the history topic as read: its ``offset``, the broker's ``timestamp_ms``
    (LogAppendTime) and its JSON ``value`` (see the module). Unpacks as ``offset,
    timestamp_ms, value``."""

    offset: int
    timestamp_ms: int
    value: dict


@dataclass
class Holder:
    """The lock's holder as the lock rule computed it: ``owner`` (a History's id), ``who``
    (user@host pid), ``ts`` broker time (epoch ms) of its last record and ``lease`` (ms)."""
    owner: str
    who: str
    ts: int  # broker time (ms) of the holder's last record
    lease: int


class History:
    """The history and lock in topic ``topic`` (default ``topic_name()``) of ``config``'s
    Kafka; see the module. ``owner`` is this run's id, ``records`` the records read so far
    (Record: offset, broker timestamp ms, value), ``holder`` the lock holder after them, ``lease``
    the lease in ms. Methods raise KctxError when Kafka cannot be read or written; ``close``
    it when done."""

    def __init__(self, config, topic: str | None = None):
        self.config = config
        self.topic = topic or topic_name()
        self.owner = uuid.uuid4().hex
        self.who = who()
        self.records: list[Record] = []
        self._consumer = None
        self._producer = None
        self._next = 0
        self.holder: Holder | None = None
        self._last_ack = 0.0  # monotonic time our last record was acknowledged
        self._hb: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.lease = lease_ms()

    # -- topic ------------------------------------------------------------------------
    def exists(self, cluster) -> bool:
        """Whether the history topic exists (the reader's metadata, else ``cluster.topic``)."""
        if self._listed():
            return True
        if cluster.topic(self.topic) is None:
            return False
        if self._consumer is not None:  # created since the reader looked: a new reader sees it
            self._consumer.close()
            self._consumer = None
        return True

    def ensure(self, cluster) -> None:
        """Create the history topic unless it exists: one partition, replication factor
        ``default_replicas`` capped at 3, ``retention.ms=-1``, ``cleanup.policy=delete``,
        ``message.timestamp.type=LogAppendTime`` (see the module for why)."""
        if self._listed():
            return
        if cluster.topic(self.topic) is None:
            cluster.create_topic(self.topic, 1, min(3, max(1, self.config.default_replicas)), {
                "cleanup.policy": "delete", "retention.ms": "-1", "message.timestamp.type": "LogAppendTime"})
        if self._consumer is not None:  # it saw no such topic (created since, here or by another run)
            self._consumer.close()
            self._consumer = None

    def _listed(self) -> bool:
        """Whether the history topic exists, asked through the reader this History needs
        anyway (a project of plain KSQL files then never builds an admin client: 0.1-0.2 s);
        False when that cannot tell (the caller asks the cluster)."""
        try:
            md = self._reader().list_topics(self.topic, timeout=10).topics.get(self.topic)
        except Exception:  # noqa: BLE001 - the admin client's answer decides
            return False
        return md is not None and md.error is None and bool(md.partitions)

    def _reader(self):
        from confluent_kafka import TopicPartition

        from kctx_cli.backends.kafka import consumer

        if self._consumer is None:
            # fetch.wait.max.ms: the broker otherwise holds the reader's pending fetch up to
            # 500 ms when it has nothing new, and read() right after our own write (the lock
            # request of acquire) would wait for it; 10 ms made acquire 0.5 s faster
            self._consumer = consumer(self.config, **{"enable.partition.eof": False, "fetch.wait.max.ms": 10,
                                                      "allow.auto.create.topics": False})
            self._consumer.assign([TopicPartition(self.topic, 0, 0)])
        return self._consumer

    # -- reading ----------------------------------------------------------------------
    def read(self) -> None:
        """Read every record not read yet, up to the end of the topic."""
        from confluent_kafka import TopicPartition

        self._reader()
        try:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, 0), timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise KctxError(f"cannot read the migration history topic {self.topic}: {exc}") from None
        deadline = time.monotonic() + 30
        while self._next < high:
            msg = self._consumer.poll(0.5)
            if msg is None:
                if time.monotonic() > deadline:
                    raise KctxError(f"timed out reading the migration history topic {self.topic}")
                continue
            if msg.error():
                raise KctxError(f"cannot read the migration history topic {self.topic}: {msg.error().str()}")
            self._next = msg.offset() + 1
            try:
                value = json.loads(msg.value())
            except (TypeError, ValueError):
                continue  # not ours; never fatal
            rec = Record(msg.offset(), msg.timestamp()[1], value)
            self.records.append(rec)
            self._apply_lock_rule(rec.timestamp_ms, value)

    def _apply_lock_rule(self, ts: int, rec: dict) -> None:
        h = self.holder
        t = rec.get("type")
        owner = rec.get("owner")
        if t == "lock":
            if h is None or h.owner == owner or ts > h.ts + h.lease:
                self.holder = Holder(owner, rec.get("who", "?"), ts, int(rec.get("lease_ms") or DEFAULT_LEASE_MS))
        elif t == "unlock":
            if h is not None and h.owner == owner:
                self.holder = None
        elif h is not None and owner == h.owner:
            h.ts = max(h.ts, ts)

    def versions(self) -> dict[int, VersionState]:
        """The state of every version in the records read (``read`` first): version number ->
        VersionState of its latest ``version`` record, with the DONE steps of that attempt."""
        out: dict[int, VersionState] = {}
        for _, _, r in self.records:
            if r.get("type") == "version":
                v = int(r["version"])
                prev = out.get(v)
                vs = VersionState(v, r.get("state", "?"), r.get("checksum"), r.get("attempt"),
                                  r.get("direction", "up"), r.get("started"), r.get("finished"), r.get("who"),
                                  r.get("error"), r.get("description"))
                if prev is not None and prev.attempt == vs.attempt:
                    vs.done_steps = prev.done_steps
                out[v] = vs
            elif r.get("type") == "step":
                vs = out.get(int(r["version"]))
                if vs is not None and vs.attempt == r.get("attempt") and r.get("state") == "DONE":
                    vs.done_steps.add(int(r["index"]))
        return out

    # -- writing ----------------------------------------------------------------------
    def write(self, key: str, value: dict) -> None:
        """Append one record (``value`` plus this run's ``owner``, secrets redacted) under ``key``
        and wait (up to 15 s) until Kafka acknowledges it. KctxError when it does not."""
        from kctx_cli.backends.kafka import producer

        if self._producer is None:
            # one record in flight at a time (write() flushes each), so no retry can reorder
            # records, and a duplicate from a retry is harmless (every reader takes the latest
            # record of a version; a lock record repeats its owner): idempotence would only add
            # its producer-id handshake, 0.5 s before the first record on this stack
            self._producer = producer(self.config, **{"linger.ms": 0, "acks": "all", "enable.idempotence": False,
                                                      "max.in.flight.requests.per.connection": 1})
            self._warm_up()  # the topic's metadata before the first record
        from kctx_cli.redact import redact_obj

        # nothing secret reaches the topic: a server's error quoting a URL or a password
        # would otherwise be printed by every later `kctx status` (SPEC §9)
        value = redact_obj({**value, "owner": self.owner})
        errors: list = []

        def report(err, msg):
            if err is not None:
                errors.append(err)

        with self._lock:
            self._producer.produce(self.topic, key=key.encode(), value=json.dumps(value, sort_keys=True).encode(),
                                   on_delivery=report)
            left = self._producer.flush(15)
        if left or errors:
            raise KctxError(f"cannot write to the migration history topic {self.topic}: "
                            f"{errors[0].str() if errors else 'timed out'}")
        self._last_ack = time.monotonic()

    def _warm_up(self, timeout: float = 2.0) -> None:
        """Load the topic's metadata into the new producer, waiting (up to ``timeout``) for
        its partition to have a leader (a topic just created by ``ensure`` may not yet)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                md = self._producer.list_topics(self.topic, timeout=10).topics.get(self.topic)
                if md is not None and md.error is None and all(p.leader >= 0 for p in md.partitions.values()) \
                        and md.partitions:
                    return
            except Exception:  # noqa: BLE001 - the produce reports an unreachable broker
                return
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)

    def record_version(self, vs: VersionState) -> None:
        """Write ``vs`` as the version's latest ``version`` record (key ``V000003``)."""
        self.write(f"V{vs.version:06d}", {
            "type": "version", "version": vs.version, "state": vs.state, "checksum": vs.checksum,
            "attempt": vs.attempt, "direction": vs.direction, "started": vs.started, "finished": vs.finished,
            "who": vs.who, "error": vs.error, "description": vs.description})

    def record_step(self, vs: VersionState, index: int) -> None:
        """Record step ``index`` (0-based) of ``vs``'s attempt DONE and add it to ``vs.done_steps``."""
        self.write(f"V{vs.version:06d}", {"type": "step", "version": vs.version, "attempt": vs.attempt,
                                          "index": index, "state": "DONE"})
        vs.done_steps.add(index)

    def record_repair(self, rec: dict) -> None:
        """A ``kctx repair`` run (``migrations.repair.Repairer``): ``attempt``, ``version`` (the
        applied version whose state it restores), ``state`` RUNNING / REPAIRED / ERROR,
        ``operations`` (descriptions), ``started``, ``finished``, ``who``, ``error``."""
        self.write("repair", {"type": "repair", **rec})

    def repairs(self) -> list[dict]:
        """The repair runs, oldest first, each as its latest record."""
        out: dict[str, dict] = {}
        for _, _, r in self.records:
            if r.get("type") == "repair":
                out.pop(r.get("attempt"), None)
                out[r.get("attempt")] = r
        return list(out.values())

    # -- lock -------------------------------------------------------------------------
    def acquire(self, timeout: float, on_wait=None) -> None:
        """Take the migration lock: write a lock request, read to the end, repeat until the lock
        rule gives it to us (``on_wait(holder)`` is called once while another run holds it),
        then renew it from a background thread every lease/3. KctxError naming the holder after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            self.write("lock", {"type": "lock", "who": self.who, "lease_ms": self.lease})
            self.read()
            if self.holder is not None and self.holder.owner == self.owner:
                break
            h = self.holder
            if time.monotonic() > deadline:
                since = dt.datetime.fromtimestamp(h.ts / 1000, dt.timezone.utc).strftime("%H:%M:%S UTC") if h else "?"
                raise KctxError(f"another kctx migrate holds the migration lock ({h.who if h else '?'}, last seen "
                                f"{since}); gave up after {timeout:.0f} s (a killed holder's lock expires after "
                                f"{(h.lease if h else self.lease) / 1000:.0f} s)")
            if on_wait and not waited:
                on_wait(h)
                waited = True
            time.sleep(min(1.0, max(0.2, self.lease / 10000)))
        self._stop.clear()
        self._hb = threading.Thread(target=self._heartbeat, name="kctx-lock-heartbeat", daemon=True)
        self._hb.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease / 3000):
            try:
                self.write("lock", {"type": "lock", "who": self.who, "lease_ms": self.lease})
            except KctxError:
                pass  # check_lock() sees the stale lease and stops the run

    def check_lock(self) -> None:
        """Raise unless our lease is safely alive (called before every statement)."""
        if time.monotonic() - self._last_ack > self.lease / 1000 * 0.8:
            raise KctxError("lost the migration lock (could not renew it in time); stopping before the next "
                            "statement — run kctx migrate again to finish")

    def release(self) -> None:
        """Stop renewing and write ``unlock``; a failure to write is ignored (the lease expires)."""
        self._stop.set()
        if self._hb is not None:
            self._hb.join(timeout=5)
            self._hb = None
        try:
            self.write("lock", {"type": "unlock"})
        except KctxError:
            pass  # the lease expires on its own

    def close(self) -> None:
        """Close the reader; the producer (flushed after every write) is left to be collected."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

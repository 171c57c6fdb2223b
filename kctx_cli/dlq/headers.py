"""Where a dead-lettered record came from, read from its headers.

Three conventions are understood, tried in this order:

kctx (written by kctx-based consumers; UTF-8 strings, numbers in decimal)
    kctx.dlq.original.topic, kctx.dlq.original.partition, kctx.dlq.original.offset,
    kctx.dlq.original.timestamp (epoch ms), kctx.dlq.error.code, kctx.dlq.error.message
Kafka Connect (errors.deadletterqueue.context.headers.enable=true; UTF-8 strings)
    __connect.errors.topic, __connect.errors.partition, __connect.errors.offset,
    __connect.errors.exception.class.name, __connect.errors.exception.message
Spring Kafka (DeadLetterPublishingRecoverer; numbers are big-endian binary:
partition a 4-byte int, offset and timestamp 8-byte longs)
    kafka_dlt-original-topic, kafka_dlt-original-partition, kafka_dlt-original-offset,
    kafka_dlt-original-timestamp, kafka_dlt-exception-fqcn, kafka_dlt-exception-message

The error code is kctx's code, else the exception class name.
Replays add ``kctx-replayed`` (the replay count, decimal) and drop the three
conventions' DLQ headers, so the re-published record looks like the original.
"""
from __future__ import annotations

from dataclasses import dataclass

KCTX_PREFIX = "kctx.dlq."
H_TOPIC = "kctx.dlq.original.topic"
H_PARTITION = "kctx.dlq.original.partition"
H_OFFSET = "kctx.dlq.original.offset"
H_TIMESTAMP = "kctx.dlq.original.timestamp"
H_CODE = "kctx.dlq.error.code"
H_MESSAGE = "kctx.dlq.error.message"
REPLAYED = "kctx-replayed"

CONNECT_PREFIX = "__connect.errors."
SPRING_PREFIX = "kafka_dlt-"
DLQ_PREFIXES = (KCTX_PREFIX, CONNECT_PREFIX, SPRING_PREFIX)


@dataclass
class Origin:
    """Where a dead-lettered record came from (see the module): the ``convention`` its headers
    follow (``kctx``, ``connect``, ``spring``; None without DLQ headers), the original
    ``topic``, ``partition``, ``offset`` and ``timestamp`` (epoch ms; Kafka Connect sends
    none), ``error_code`` (an error code, or the exception class name) and
    ``error_message``, and ``replay_count`` (the ``kctx-replayed`` header: times kctx
    replayed it). Any of them None when the headers do not say."""
    convention: str | None  # kctx | connect | spring | None (no DLQ headers)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    replay_count: int = 0

    def as_dict(self) -> dict:
        """JSON shape: ``timestamp`` ISO-8601 UTC (ms), ``timestamp_ms`` the epoch ms."""
        from kctx_cli.tail.jsonout import iso_ms

        d = {k: getattr(self, k) for k in (
            "convention", "topic", "partition", "offset", "timestamp", "error_code", "error_message", "replay_count")}
        d["timestamp"] = iso_ms(self.timestamp) if self.timestamp is not None else None
        d["timestamp_ms"] = self.timestamp
        return d


def _text(v: bytes | None) -> str | None:
    return None if v is None else v.decode("utf-8", errors="replace")


def _int_text(v: bytes | None) -> int | None:
    s = _text(v)
    try:
        return int(s) if s is not None else None
    except ValueError:
        return None


def _int_be(v: bytes | None) -> int | None:
    # Spring writes Java ints/longs big-endian; tolerate a decimal string as well
    if v is None:
        return None
    if len(v) in (4, 8):
        return int.from_bytes(v, "big", signed=True)
    return _int_text(v)


def origin(headers: list[tuple[str, bytes | None]] | None) -> Origin:
    """The Origin of a record from its ``headers`` (``[(name, bytes or None), ...]`` as
    confluent-kafka gives them; the last header of a name wins, as Kafka's
    ``Headers.lastHeader``). Conventions are tried kctx, Kafka Connect, Spring; a number
    that does not parse is None. Never raises."""
    h: dict[str, bytes | None] = {}
    for k, v in headers or ():
        h[k] = v  # the last one wins, as Kafka's Headers.lastHeader
    count = _int_text(h.get(REPLAYED)) or 0
    if H_TOPIC in h:
        return Origin("kctx", _text(h[H_TOPIC]), _int_text(h.get(H_PARTITION)), _int_text(h.get(H_OFFSET)),
                      _int_text(h.get(H_TIMESTAMP)), _text(h.get(H_CODE)), _text(h.get(H_MESSAGE)), count)
    if CONNECT_PREFIX + "topic" in h:
        c = CONNECT_PREFIX
        return Origin("connect", _text(h[c + "topic"]), _int_text(h.get(c + "partition")),
                      _int_text(h.get(c + "offset")), None, _text(h.get(c + "exception.class.name")),
                      _text(h.get(c + "exception.message")), count)
    if SPRING_PREFIX + "original-topic" in h:
        s = SPRING_PREFIX
        return Origin("spring", _text(h[s + "original-topic"]), _int_be(h.get(s + "original-partition")),
                      _int_be(h.get(s + "original-offset")), _int_be(h.get(s + "original-timestamp")),
                      _text(h.get(s + "exception-fqcn")), _text(h.get(s + "exception-message")), count)
    return Origin(None, replay_count=count)


def kctx_headers(topic: str, partition: int, offset: int, timestamp: int | None, error_code: str,
                 error_message: str) -> list[tuple[str, bytes]]:
    """The headers a kctx-based consumer puts on a record it dead-letters."""
    hs = [(H_TOPIC, topic), (H_PARTITION, str(partition)), (H_OFFSET, str(offset))]
    if timestamp is not None:
        hs.append((H_TIMESTAMP, str(timestamp)))
    hs += [(H_CODE, error_code), (H_MESSAGE, error_message)]
    return [(k, v.encode("utf-8")) for k, v in hs]


def replay_headers(headers: list[tuple[str, bytes | None]] | None, count: int) -> list[tuple[str, bytes | None]]:
    """The original record's headers: DLQ headers and the old replay count removed,
    the new count added."""
    kept = [(k, v) for k, v in headers or () if not k.startswith(DLQ_PREFIXES) and k != REPLAYED]
    kept.append((REPLAYED, str(count).encode()))
    return kept

"""Read assigned partitions from start offsets to the end (or forever), in batches.

Used by tail, dlq show/list and cache warm. Never commits: the caller's consumer has
auto-commit off and is only ever ``assign``-ed, so no group is joined.
"""
from __future__ import annotations

import time
from typing import Iterator

from kctx_cli.errors import KctxError

BATCH = 1000


def batches(consumer, topic: str, starts: dict[int, int], ends: dict[int, int], *, follow: bool = False,
            batch: int = BATCH, poll: float | None = None, stop=None) -> Iterator[list]:
    """Yield lists of messages (errors filtered out). Without ``follow``, a partition is
    done when it reaches the end offset seen at the start, or reports EOF at or past it
    (transaction markers can sit on the last offsets). ``stop()`` returning true ends
    the loop."""
    from confluent_kafka import KafkaError, Message, TopicPartition

    error_of = Message.error

    if poll is None:
        # short when reading to the end: consume() sits out its whole timeout when an
        # EOF event is among the first results, 0.5 s lost per run otherwise
        poll = 0.5 if follow else 0.1
    consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    pending = {p for p, o in starts.items() if o < ends[p]}
    eof = KafkaError._PARTITION_EOF
    idle_since = time.monotonic()
    while follow or pending:
        if stop is not None and stop():
            return
        msgs = consumer.consume(num_messages=batch, timeout=poll)
        if not msgs:
            # a partition whose last offsets are aborted/control records may never give
            # a message nor an EOF event before its end; EOF arrives within a few polls
            if not follow and time.monotonic() - idle_since > 30:
                raise KctxError(f"no progress reading '{topic}' for 30 s (partitions {sorted(pending)})")
            continue
        idle_since = time.monotonic()
        # errors (EOF events mostly) are rare: find them with a C-level filter
        errors = list(filter(error_of, msgs))
        good = msgs if not errors else [m for m in msgs if m.error() is None]
        if errors:
            for m in errors:
                err = m.error()
                if err.code() == eof and m.offset() >= ends.get(m.partition(), 0):
                    pending.discard(m.partition())
                elif err.fatal() or not err.retriable():
                    if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                        raise KctxError(f"topic '{topic}' does not exist")
                    if err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                        raise KctxError(f"not authorised to read topic '{topic}'")
                    raise KctxError(f"error reading '{topic}': {err.str()}")
        if not follow and pending:
            # the consumer's position is the offset after the last record it returned (and
            # past skipped transaction markers): one call, no walk over the batch
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
        if good:
            yield good

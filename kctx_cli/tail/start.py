"""``--from``: where a tail starts, per partition.

    beginning | earliest      the first retained record
    end | latest              only what arrives after the start (with --follow)
    123                       that offset in every chosen partition
    -10                       the last 10 records of each partition
    1700000000000             epoch milliseconds (an integer of 12 digits or more)
    2026-11-27T05:00:00Z      an ISO-8601 time (no zone = UTC)

Times are looked up with offsets_for_times: the first record at or after the time.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from kctx_cli.errors import KctxError

# 12 digits = year 2001 in ms; no real partition has that many records
EPOCH_MS_DIGITS = 12


@dataclass(frozen=True)
class Start:
    """Where to start, as ``parse_start`` read it: ``kind`` beginning, end, offset (``value``
    the offset), last (``value`` records per partition) or time (``value`` epoch ms)."""
    kind: str  # beginning | end | offset | last | time
    value: int = 0


def parse_start(text: str) -> Start:
    """A ``--from`` value (see the module; also ``start``) as a Start: digits are an offset,
    or epoch milliseconds from 12 digits on; an ISO-8601 time without a zone is UTC.
    KctxError for anything else."""
    t = text.strip()
    low = t.lower()
    if low in ("beginning", "earliest", "start"):
        return Start("beginning")
    if low in ("end", "latest"):
        return Start("end")
    if re.fullmatch(r"-\d+", t):
        return Start("last", int(t[1:]))
    if re.fullmatch(r"\d+", t):
        if len(t) >= EPOCH_MS_DIGITS:
            return Start("time", int(t))
        return Start("offset", int(t))
    try:
        when = _dt.datetime.fromisoformat(t)
    except ValueError:
        raise KctxError(
            f"--from: expected beginning, end, an offset, -N (last N), epoch milliseconds or an "
            f"ISO-8601 time, got '{text}'"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return Start("time", int(when.timestamp() * 1000))


def resolve(consumer, topic: str, partitions: list[int], start: Start, timeout: float = 10.0):
    """Start offsets and end offsets (high watermarks now), by partition."""
    from confluent_kafka import KafkaException, TopicPartition

    try:
        marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
                 for p in partitions}
    except KafkaException as exc:
        raise KctxError(f"cannot read the offsets of '{topic}': {exc.args[0].str()}") from None
    starts: dict[int, int] = {}
    if start.kind == "time":
        try:
            found = consumer.offsets_for_times([TopicPartition(topic, p, start.value) for p in partitions],
                                               timeout=timeout)
        except KafkaException as exc:
            raise KctxError(f"cannot look up offsets by time in '{topic}': {exc.args[0].str()}") from None
        for tp in found:
            # -1: no record at or after that time -> nothing to read there yet
            starts[tp.partition] = tp.offset if tp.offset >= 0 else marks[tp.partition][1]
    for p in partitions:
        lo, hi = marks[p]
        if start.kind == "beginning":
            starts[p] = lo
        elif start.kind == "end":
            starts[p] = hi
        elif start.kind == "offset":
            starts[p] = min(max(start.value, lo), hi)
        elif start.kind == "last":
            starts[p] = max(hi - start.value, lo)
    ends = {p: hi for p, (lo, hi) in marks.items()}
    return starts, ends

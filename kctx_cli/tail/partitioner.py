"""Where a keyed record lands: the default partitioners of the clients that write Kafka.

``murmur2``      Java client and ksqlDB (``org.apache.kafka.common.utils.Utils.murmur2``,
                 seed 0x9747b28c, ``toPositive(h) % n``), kafkajs' default, librdkafka's
                 ``murmur2_random`` (kctx's own producer).
``crc32``        librdkafka's *default* ``consistent_random``: ``crc32(key) % n`` (zlib's
                 CRC-32; rdkafka_msg.c ``rd_kafka_msg_partitioner_consistent``), i.e.
                 confluent-kafka-python/-go/-dotnet and kcat unless configured otherwise.
``fnv1a``        Sarama's (Go) default hash partitioner: 32-bit FNV-1a, taken as a signed
                 int32, ``% n``, negated when negative (sarama ``hashPartitioner``).

Every function hashes the key bytes *as they are on the wire* (an Avro key after its
Confluent framing and Avro encoding, a KAFKA INT key as its 4 big-endian bytes).
"""
from __future__ import annotations

import zlib

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF

PARTITIONERS = ("murmur2", "crc32", "fnv1a")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` as a signed 32-bit int (what Java returns)."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    nblocks = length // 4
    for i in range(nblocks):
        k = int.from_bytes(data[4 * i: 4 * i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = length & 3
    base = nblocks * 4
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def fnv1a(data: bytes) -> int:
    """32-bit FNV-1a of ``data`` (unsigned), as Go's hash/fnv New32a computes it."""
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & _MASK
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """Java's / ksqlDB's partition for ``key`` among ``partitions`` (murmur2)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def crc32_partition(key: bytes, partitions: int) -> int:
    """librdkafka's ``consistent_random`` / ``consistent`` partition for a non-empty key."""
    return zlib.crc32(key) % partitions


def fnv1a_partition(key: bytes, partitions: int) -> int:
    """Sarama's hash partitioner: ``int32(fnv1a) % n``, negated when negative."""
    h = fnv1a(key)
    if h & 0x80000000:
        h -= 1 << 32
    p = abs(h) % partitions  # Go's % truncates toward zero, then sarama negates
    return p


def candidates(key: bytes, partitions: int) -> dict[str, int]:
    """``{partitioner name: partition}`` for the key bytes, one entry per partitioner in
    ``PARTITIONERS``. ``partitions`` must be ≥ 1."""
    return {"murmur2": partition_for(key, partitions), "crc32": crc32_partition(key, partitions),
            "fnv1a": fnv1a_partition(key, partitions)}

"""Real side effects: Kafka topics, the command topic, Schema Registry subjects.

``KafkaBackend`` talks to a real broker (confluent-kafka AdminClient/Producer/Consumer)
and a real registry (confluent-kafka SchemaRegistryClient). ``MemoryBackend`` keeps the
same things in dicts; it exists for the corpus fidelity run, which replays ksqlDB's own
functional tests through the engine (ksqlDB's test framework likewise pre-creates the
topics its statements name).
"""
from __future__ import annotations

import json
import time
import uuid

COMMAND_TOPIC = "_confluent-ksql-{service}_command_topic"


class MemoryBackend:
    def __init__(self, topics: dict | None = None, auto_topics: bool = False):
        self.topics: dict[str, tuple[int, int]] = dict(topics or {})
        self.auto_topics = auto_topics  # every named topic "exists" (QTT pre-creates them)
        self.subjects: dict[str, list] = {}
        self.commands: list[dict] = []
        self.records: dict[str, list] = {}

    def describe_topic(self, name):
        if name in self.topics:
            return self.topics[name]
        return (1, 1) if self.auto_topics else None

    def list_topics(self):
        return {n: [r] * p for n, (p, r) in self.topics.items()}

    def create_topic(self, name, partitions, replicas, configs):
        self.topics[name] = (partitions, replicas)

    def delete_topic(self, name):
        self.topics.pop(name, None)

    def register_schema(self, subject, schema):
        self.subjects.setdefault(subject, []).append(schema)

    def delete_subject(self, subject):
        self.subjects.pop(subject, None)

    def produce(self, topic, key, value, timestamp):
        self.records.setdefault(topic, []).append((key, value, timestamp))

    def incompatibility(self, subject, schema):
        return None

    def latest_schema(self, subject):
        versions = self.subjects.get(subject)
        return versions[-1] if versions else None

    def append_command(self, cmd):
        self.commands.append(json.loads(json.dumps(cmd)))
        return len(self.commands) - 1

    def read_commands(self):
        return list(enumerate(self.commands))

    def reset_commands(self):
        self.commands.clear()

    def consumer_groups(self, topics):
        return {}

    def server_properties(self):
        return {}

    def cluster_id(self):
        return "memory"


class KafkaBackend:
    def __init__(self, bootstrap_servers: str, schema_registry_url: str | None, service_id: str):
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient

        self.bootstrap = bootstrap_servers
        self.service_id = service_id
        self.command_topic = COMMAND_TOPIC.format(service=service_id)
        self.admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        self.producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True,
                                  "linger.ms": 0})
        self.registry = None
        if schema_registry_url:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            self.registry = SchemaRegistryClient({"url": schema_registry_url})
        self._ensure_command_topic()

    # -- topics -------------------------------------------------------------------
    def _metadata(self, topic=None):
        return self.admin.list_topics(topic=topic, timeout=10)

    def describe_topic(self, name):
        md = self._metadata().topics.get(name)
        if md is None or md.error is not None or not md.partitions:
            return None
        first = md.partitions[min(md.partitions)]
        return (len(md.partitions), len(first.replicas))

    def list_topics(self):
        out = {}
        for name, md in self._metadata().topics.items():
            if md.error is not None or not md.partitions:
                continue
            out[name] = [len(md.partitions[p].replicas) for p in sorted(md.partitions)]
        return out

    def create_topic(self, name, partitions, replicas, configs):
        from confluent_kafka.admin import NewTopic

        fut = self.admin.create_topics([NewTopic(name, partitions, replicas, config=configs)])[name]
        fut.result(timeout=30)
        self._wait_for(name, present=True)

    def delete_topic(self, name):
        fut = self.admin.delete_topics([name])[name]
        fut.result(timeout=30)
        self._wait_for(name, present=False)

    def _wait_for(self, name, present: bool):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if (self.describe_topic(name) is not None) == present:
                return
            time.sleep(0.05)

    def consumer_groups(self, topics):
        """Per topic: (consumers, consumer groups) with committed offsets or members on it."""
        out: dict[str, list[int]] = {}
        try:
            groups = self.admin.list_consumer_groups().result(timeout=10).valid
            ids = [g.group_id for g in groups]
            if not ids:
                return {}
            descs = self.admin.describe_consumer_groups(ids)
            for gid, fut in descs.items():
                desc = fut.result(timeout=10)
                seen = set()
                for m in desc.members:
                    for tp in (m.assignment.topic_partitions if m.assignment else []):
                        if tp.topic in topics:
                            c = out.setdefault(tp.topic, [0, 0])
                            c[0] += 1
                            seen.add(tp.topic)
                for t in seen:
                    out[t][1] += 1
        except Exception:  # group listing is best effort, as ksqlDB's is
            return {}
        return {k: tuple(v) for k, v in out.items()}

    def produce(self, topic, key, value, timestamp):
        """One record, delivered before returning (INSERT VALUES answers after the write)."""
        result = {}
        kwargs = {"timestamp": timestamp} if timestamp is not None else {}
        self.producer.produce(topic, key=key, value=value,
                              on_delivery=lambda err, msg: result.update(err=err), **kwargs)
        self.producer.flush(30)
        if result.get("err") is not None or "err" not in result:
            raise RuntimeError(f"could not produce to {topic}: {result.get('err')}")

    # -- schema registry ------------------------------------------------------------------
    def register_schema(self, subject, schema):
        if self.registry is None:
            from .engine import StatementError

            raise StatementError("Cannot create topic/schema: no Schema Registry configured "
                                 "(ksql.schema.registry.url)")
        from confluent_kafka.schema_registry import Schema

        self.registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))

    def latest_schema(self, subject):
        if self.registry is None:
            return None
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            return json.loads(self.registry.get_latest_version(subject).schema.schema_str)
        except SchemaRegistryError as e:
            if e.http_status_code == 404:
                return None
            raise

    def incompatibility(self, subject, schema):
        """Why the registry would refuse ``schema`` under ``subject`` (None: it would accept it)."""
        if self.registry is None or self.latest_schema(subject) is None:
            return None
        from confluent_kafka.schema_registry import Schema

        try:
            ok = self.registry.test_compatibility(subject, Schema(json.dumps(schema), "AVRO"))
        except Exception as e:  # the registry answers errors for malformed schemas too
            return getattr(e, "error_message", None) or str(e)
        if ok:
            return None
        return (f"Schema being registered is incompatible with an earlier schema for subject "
                f"\"{subject}\"; error code: 409")

    def delete_subject(self, subject):
        if self.registry is None:
            return
        try:
            self.registry.delete_subject(subject)
        except Exception:  # ksqlDB only logs a failed subject clean-up
            pass

    # -- command topic ------------------------------------------------------------------
    def _ensure_command_topic(self):
        from confluent_kafka.admin import NewTopic

        if self.describe_topic(self.command_topic) is None:
            fut = self.admin.create_topics([NewTopic(
                self.command_topic, 1, 1,
                config={"cleanup.policy": "delete", "retention.ms": "-1", "min.insync.replicas": "1"})])
            try:
                fut[self.command_topic].result(timeout=30)
            except Exception as e:  # created concurrently by another emulator instance
                if "TOPIC_ALREADY_EXISTS" not in str(e):
                    raise
            self._wait_for(self.command_topic, present=True)

    def append_command(self, cmd) -> int:
        result = {}

        def done(err, msg):
            result["err"], result["msg"] = err, msg

        self.producer.produce(self.command_topic, key=cmd["commandId"].encode(),
                              value=json.dumps(cmd).encode(), on_delivery=done)
        self.producer.flush(30)
        if result.get("err") is not None or "msg" not in result:
            raise RuntimeError(f"could not write to the command topic: {result.get('err')}")
        return result["msg"].offset()

    def reset_commands(self):
        self.delete_topic(self.command_topic)
        self._ensure_command_topic()

    def read_commands(self):
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"kctx-emu-{uuid.uuid4()}",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            tp = TopicPartition(self.command_topic, 0)
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            if high <= low:
                return []
            consumer.assign([TopicPartition(self.command_topic, 0, low)])
            out = []
            while True:
                msg = consumer.poll(5)
                if msg is None:
                    raise RuntimeError("timed out replaying the command topic")
                if msg.error():
                    continue
                out.append((msg.offset(), json.loads(msg.value())))
                if msg.offset() >= high - 1:
                    return out
        finally:
            consumer.close()

    # -- info -------------------------------------------------------------------------------
    def cluster_id(self):
        return self._metadata().cluster_id

    def server_properties(self):
        return {"bootstrap.servers": self.bootstrap, "ksql.service.id": self.service_id,
                "ksql.persistence.default.format.key": "KAFKA",
                "ksql.schema.registry.url": "" if self.registry is None else "configured"}

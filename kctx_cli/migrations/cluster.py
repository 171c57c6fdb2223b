"""The live cluster as operations see it: Kafka (admin client), the Schema Registry
(Confluent REST API) and ksqlDB (REST).

Clients are built on first use, so a migration that only touches topics needs no
registry and no ksqlDB. Every failure is one ``KctxError`` line naming the server.
"""
from __future__ import annotations

import json
import time
from typing import Any, NamedTuple

from kctx_cli.backends.registry import quote_path
from kctx_cli.errors import KctxError

KAFKA_TIMEOUT = 15.0


class TopicInfo(NamedTuple):
    """A live topic's partition count and replication factor (of its first partition)."""

    partitions: int
    replicas: int


class Cluster:
    """The live cluster of ``config`` (a Config) as operations use it; see the module. Each
    method is one or a few requests; they raise KctxError (one line naming the server) when
    a server refuses or cannot be reached. Topic creation, growth and deletion return once
    the metadata shows the change."""

    def __init__(self, config):
        self.config = config
        self._admin = None
        self._ksql = None
        self._session = None
        self._ksql_thread = None  # prefetch_ksql()
        self._ksql_prefetched = None

    # ------------------------------------------------------------------ Kafka --
    @property
    def admin(self):
        """The Kafka AdminClient, built on first use (kctx_cli.backends.kafka.admin)."""
        if self._admin is None:
            from kctx_cli.backends.kafka import admin

            self._admin = admin(self.config)
        return self._admin

    def _wait(self, futures: dict, what: str, ok_codes: tuple = ()):
        from confluent_kafka import KafkaException

        for name, fut in futures.items():
            try:
                fut.result(timeout=KAFKA_TIMEOUT)
            except KafkaException as exc:
                err = exc.args[0]
                if hasattr(err, "code") and err.code() in ok_codes:
                    continue
                msg = err.str() if hasattr(err, "str") else str(err)
                raise KctxError(f"Kafka refused to {what} {name}: {msg}") from None
            except Exception as exc:  # noqa: BLE001 - timeouts and transport errors
                raise KctxError(f"Kafka: cannot {what} {name}: {type(exc).__name__}: {exc} "
                                f"(bootstrap servers {self.config.bootstrap_servers})") from None

    def topic(self, name: str) -> TopicInfo | None:
        """The topic's partition count and replication factor, or None when it does not exist."""
        from kctx_cli.backends.kafka import list_topics

        md = list_topics(self.admin, self.config, topic=name)
        t = md.topics.get(name)
        if t is None or t.error is not None or not t.partitions:
            return None
        first = next(iter(t.partitions.values()))
        return TopicInfo(len(t.partitions), len(first.replicas))

    def topics(self) -> dict[str, TopicInfo]:
        """Every topic the broker lists (internal ones included): name -> ``TopicInfo``."""
        from kctx_cli.backends.kafka import list_topics

        md = list_topics(self.admin, self.config)
        out = {}
        for name, t in md.topics.items():
            if t.error is None and t.partitions:
                out[name] = TopicInfo(len(t.partitions), len(next(iter(t.partitions.values())).replicas))
        return out

    def topic_configs(self, name: str) -> dict[str, str]:
        """Configs set on the topic itself (DYNAMIC_TOPIC_CONFIG); broker defaults are not drift."""
        return self.topics_configs([name]).get(name, {})

    def topics_configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        """``topic_configs`` for several topics in one request: name -> {config: value} of the
        configs set on each topic itself. KctxError when one cannot be described."""
        from confluent_kafka.admin import ConfigResource, ConfigSource

        if not names:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
        futures = self.admin.describe_configs(resources, request_timeout=KAFKA_TIMEOUT)
        out: dict[str, dict[str, str]] = {}
        for res, fut in futures.items():
            try:
                entries = fut.result(timeout=KAFKA_TIMEOUT)
            except Exception as exc:  # noqa: BLE001
                raise KctxError(f"Kafka: cannot describe the configs of topic {res.name}: {exc}") from None
            out[res.name] = {k: e.value for k, e in entries.items()
                             if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and e.value is not None}
        return out

    def create_topic(self, name: str, partitions: int, replicas: int, configs: dict[str, str]) -> None:
        """Create topic ``name`` with ``partitions``, replication factor ``replicas`` and topic
        ``configs`` (Kafka config names -> values), then wait (up to KAFKA_TIMEOUT seconds) until
        the metadata lists it. A topic that already exists is not an error (whatever its shape)."""
        from confluent_kafka import KafkaError
        from confluent_kafka.admin import NewTopic

        fut = self.admin.create_topics([NewTopic(name, partitions, replicas, config=dict(configs))],
                                       request_timeout=KAFKA_TIMEOUT)
        self._wait(fut, "create topic", (KafkaError.TOPIC_ALREADY_EXISTS,))
        self._until(lambda: self.topic(name) is not None, f"topic {name} to appear")

    def create_partitions(self, name: str, total: int) -> None:
        """Grow topic ``name`` to ``total`` partitions (Kafka can only add partitions) and wait until
        the metadata shows them. KctxError when Kafka refuses (fewer than now, no such topic)."""
        from confluent_kafka.admin import NewPartitions

        self._wait(self.admin.create_partitions([NewPartitions(name, total)], request_timeout=KAFKA_TIMEOUT),
                   "add partitions to")
        self._until(lambda: getattr(self.topic(name), 'partitions', 0) >= total, f"topic {name} to have {total} partitions")

    def alter_topic_configs(self, name: str, set_: dict[str, str], unset: list[str]) -> None:
        """Set the topic configs ``set_`` (name -> value) and remove those in ``unset`` (back to the
        broker default), in one incremental alter (KIP-339)."""
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in set_.items()]
        entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in unset]
        res = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        self._wait(self.admin.incremental_alter_configs([res], request_timeout=KAFKA_TIMEOUT), "change the configs of")

    def delete_topic(self, name: str) -> None:
        """Delete topic ``name`` and wait until the metadata no longer lists it; a topic that does
        not exist is not an error."""
        from confluent_kafka import KafkaError

        self._wait(self.admin.delete_topics([name], request_timeout=KAFKA_TIMEOUT), "delete topic",
                   (KafkaError.UNKNOWN_TOPIC_OR_PART,))
        self._until(lambda: self.topic(name) is None, f"topic {name} to disappear")

    @staticmethod
    def _until(cond, what: str, timeout: float = KAFKA_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while not cond():
            if time.monotonic() > deadline:
                raise KctxError(f"Kafka: timed out waiting for {what}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # --------------------------------------------------------- Schema Registry --
    def _registry(self, method: str, path: str, body: Any = None):
        """``(status, JSON)`` of one registry request, through the one registry client
        (confluent-kafka's SchemaRegistryClient: its basic/bearer auth, TLS and client
        certificates; kctx_cli.backends.registry.call). Refused connections, refused
        credentials and non-JSON answers are KctxError lines."""
        from kctx_cli.backends.registry import call, registry_client

        if self._session is None:
            self._session = registry_client(self.config, timeout=15)
        return call(self._session, method, path, body)

    def _registry_error(self, what: str, status: int, data) -> KctxError:
        msg = data.get("message") if isinstance(data, dict) else data
        return KctxError(f"schema registry: {what}: {msg} (HTTP {status})")

    def subject_exists(self, subject: str) -> bool:
        """Whether ``subject`` has at least one (not soft-deleted) version in the Schema Registry."""
        status, data = self._registry("GET", f"/subjects/{quote_path(subject)}/versions")
        if status == 404:
            return False
        if status != 200:
            raise self._registry_error(f"cannot list the versions of {subject}", status, data)
        return bool(data)

    def schemas(self, subject: str) -> list[Any]:
        """Every schema of a subject, oldest first (parsed JSON)."""
        s = quote_path(subject)
        status, data = self._registry("GET", f"/subjects/{s}/versions")
        if status == 404:
            return []
        if status != 200:
            raise self._registry_error(f"cannot list the versions of {subject}", status, data)
        out = []
        for v in sorted(data):
            st, d = self._registry("GET", f"/subjects/{s}/versions/{v}")
            if st != 200:
                raise self._registry_error(f"cannot read version {v} of {subject}", st, d)
            out.append(json.loads(d["schema"]) if isinstance(d.get("schema"), str) else d.get("schema"))
        return out

    def schema_version(self, subject: str, schema: Any) -> int | None:
        """The version of ``subject`` holding ``schema``, or None."""
        status, data = self._registry("POST", f"/subjects/{quote_path(subject)}",
                                      {"schema": json.dumps(schema), "schemaType": "AVRO"})
        if status == 200 and isinstance(data, dict):
            return data.get("version")
        if status == 404:
            return None
        raise self._registry_error(f"cannot look {subject} up", status, data)

    def register_schema(self, subject: str, schema: Any) -> int:
        """Test compatibility with the registry first, then register; a refusal is one
        clear line with the registry's reasons."""
        s = quote_path(subject)
        body = {"schema": json.dumps(schema), "schemaType": "AVRO"}
        status, data = self._registry("POST", f"/compatibility/subjects/{s}/versions/latest?verbose=true", body)
        if status == 200 and isinstance(data, dict) and data.get("is_compatible") is False:
            level = self.compatibility(subject) or "the registry's"
            reasons = "; ".join(data.get("messages") or []) or "no details given"
            raise KctxError(f"schema registry refuses the new schema of {subject}: not compatible with the "
                            f"latest version ({level}): {reasons}")
        if status not in (200, 404):
            raise self._registry_error(f"cannot test the compatibility of {subject}", status, data)
        status, data = self._registry("POST", f"/subjects/{s}/versions", body)
        if status == 409:
            msg = data.get("message") if isinstance(data, dict) else data
            raise KctxError(f"schema registry refuses the new schema of {subject}: incompatible: {msg}")
        if status != 200:
            raise self._registry_error(f"cannot register a schema for {subject}", status, data)
        return data.get("id")

    def delete_schema(self, subject: str, schema: Any) -> None:
        """Delete the version of ``subject`` holding ``schema`` (a parsed Avro schema), soft then
        permanently (the registry allows ``?permanent=true`` only after a soft delete); nothing
        when no version holds it. KctxError when the soft delete is refused."""
        v = self.schema_version(subject, schema)
        if v is None:
            return
        s = quote_path(subject)
        status, data = self._registry("DELETE", f"/subjects/{s}/versions/{v}")
        if status not in (200, 404):
            raise self._registry_error(f"cannot delete version {v} of {subject}", status, data)
        self._registry("DELETE", f"/subjects/{s}/versions/{v}?permanent=true")

    def delete_subject(self, subject: str) -> None:
        """Delete every version of ``subject``, soft then permanently (see ``delete_schema``); a
        subject that does not exist is not an error."""
        s = quote_path(subject)
        status, data = self._registry("DELETE", f"/subjects/{s}")
        if status not in (200, 404):
            raise self._registry_error(f"cannot delete subject {subject}", status, data)
        self._registry("DELETE", f"/subjects/{s}?permanent=true")

    def compatibility(self, subject: str) -> str | None:
        """The compatibility level set on ``subject`` itself (GET /config/<subject>), or None when
        it has none (the global level applies)."""
        status, data = self._registry("GET", f"/config/{quote_path(subject)}")
        if status == 404:
            return None
        if status != 200:
            raise self._registry_error(f"cannot read the compatibility of {subject}", status, data)
        return data.get("compatibilityLevel") or data.get("compatibility")

    def set_compatibility(self, subject: str, level: str | None) -> None:
        """Set the compatibility ``level`` of ``subject`` (PUT /config/<subject>; a level of
        kctx_cli.avro.compat.LEVELS), or with None remove the subject's own level (DELETE,
        back to the global level)."""
        s = quote_path(subject)
        if level is None:
            status, data = self._registry("DELETE", f"/config/{s}")
            if status not in (200, 404):
                raise self._registry_error(f"cannot reset the compatibility of {subject}", status, data)
            return
        status, data = self._registry("PUT", f"/config/{s}", {"compatibility": level})
        if status != 200:
            raise self._registry_error(f"cannot set the compatibility of {subject} to {level}", status, data)

    def subjects(self) -> list[str]:
        """Every subject of the Schema Registry (GET /subjects: soft-deleted ones left out)."""
        status, data = self._registry("GET", "/subjects")
        if status != 200:
            raise self._registry_error("cannot list subjects", status, data)
        return list(data)

    # ------------------------------------------------------------------ ksqlDB --
    def prefetch_ksql(self) -> None:
        """Build the ksqlDB client in a background thread (its HTTP stack's imports and TLS
        settings take 0.2-0.6 s of a `kctx migrate`), while the caller sets up the history
        and the lock, which mostly waits on Kafka; ``ksql_client`` waits for it. A failure
        there is dropped: ``ksql_client`` then builds the client itself and reports it."""
        if self._ksql is not None or self._ksql_thread is not None or not self.config.ksqldb_url:
            return
        import threading

        def build():
            try:
                from kctx_cli.backends.ksqldb import KsqlClient

                self._ksql_prefetched = KsqlClient.from_config(self.config)
            except BaseException:  # noqa: BLE001 - reported by ksql_client in the caller's thread
                self._ksql_prefetched = None

        self._ksql_thread = threading.Thread(target=build, name="kctx-ksql-prefetch", daemon=True)
        self._ksql_thread.start()

    @property
    def ksql_client(self):
        """The ksqlDB client (kctx_cli.backends.ksqldb.KsqlClient), built on first use or taken
        from ``prefetch_ksql``. KctxError when no ksqlDB URL is configured."""
        if self._ksql is None:
            if self._ksql_thread is not None:
                self._ksql_thread.join()
                self._ksql_thread, self._ksql, self._ksql_prefetched = None, self._ksql_prefetched, None
        if self._ksql is None:
            from kctx_cli.backends.ksqldb import KsqlClient

            self._ksql = KsqlClient.from_config(self.config)
        return self._ksql

    def ksql(self, statement: str, properties: dict[str, str] | None = None) -> None:
        """Run one statement; ``properties``: its streamsProperties (a file's SETs)."""
        self.ksql_client.execute(statement, properties)

    def ksql_source(self, name: str) -> dict | None:
        """ksqlDB's ``sourceDescription`` of stream/table ``name`` (DESCRIBE: ``fields``, ``topic``,
        ``writeQueries``, ...; ksqldb-docs/ksql-endpoint.md), or None when it does not exist."""
        return self.ksql_client.describe(name)

    def ksql_columns(self, name: str) -> set[str] | None:
        """Column names of a stream or table (DESCRIBE), or None when it does not exist."""
        d = self.ksql_source(name)
        return None if d is None else {f.get("name") for f in d.get("fields") or []}

    def ksql_query_ids(self) -> set[str]:
        """The ids of the queries ksqlDB runs (SHOW QUERIES)."""
        return {q.get("id") for q in self.ksql_client.queries()}

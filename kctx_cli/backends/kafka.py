"""Thin factories for confluent-kafka clients built from a ``Config``.

Every client gets the project's librdkafka settings (SASL/SSL pass through), a quiet
logger (librdkafka otherwise prints every failed connection attempt on stderr) and
short timeouts, so an unreachable broker becomes one clear ``KctxError`` quickly.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from kctx_cli.errors import KctxError

# how long a metadata request may take before we call the broker unreachable
METADATA_TIMEOUT = 5.0

_quiet = logging.getLogger("kctx.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


# the last SASL / TLS failure librdkafka reported (error_cb), so "cannot reach Kafka" can say
# that the broker refused the credentials or the certificate instead of "transport failure"
_last_security_error: dict[str, str] = {}


def _on_error(err) -> None:
    from confluent_kafka import KafkaError

    codes = {KafkaError._AUTHENTICATION, getattr(KafkaError, "SASL_AUTHENTICATION_FAILED", None),
             KafkaError._SSL}
    if err.code() in codes:
        _last_security_error["message"] = err.str()


def security_error() -> str | None:
    """The last authentication or TLS failure of any kctx Kafka client, or None."""
    return _last_security_error.get("message")


def _base(config, overrides: dict[str, Any]) -> dict[str, Any]:
    conf: dict[str, Any] = dict(config.kafka_config())
    conf.setdefault("logger", _quiet)
    conf.setdefault("error_cb", _on_error)
    # fail fast instead of retrying forever against a dead address
    conf.setdefault("socket.connection.setup.timeout.ms", 5000)
    conf.update(overrides)
    return conf


def _build(cls, conf: dict[str, Any], env_name: str | None = None):
    """``cls(conf)`` with a setting librdkafka refuses (an unknown property, a bad value)
    as one ``KctxError`` line naming where client settings come from."""
    from confluent_kafka import KafkaException

    try:
        return cls(conf)
    except (KafkaException, ValueError, TypeError) as exc:
        err = exc.args[0] if exc.args else exc
        msg = err.str() if hasattr(err, "str") else str(err)
        raise KctxError(f"Kafka client settings: {msg} (from [env.{env_name or 'NAME'}.kafka] in kctx.toml "
                        f"or a KCTX_KAFKA_* variable)") from None


def consumer(config, **overrides):
    """A consumer that never joins a group and never commits unless the caller asks:
    a throwaway group id (librdkafka needs one for some calls), auto-commit off."""
    from confluent_kafka import Consumer

    conf = _base(config, {
        "group.id": f"kctx-tail-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "allow.auto.create.topics": False,
        "auto.offset.reset": "earliest",
        # librdkafka waits this long before fetching again once its queue passed
        # queued.min.messages (default 1 s): with small records a reader drains the
        # queue well before that and sits idle; 10 ms made a 1M-record read 7x faster
        "fetch.queue.backoff.ms": 10,
    })
    conf.update(overrides)
    return _build(Consumer, conf, getattr(config, "env_name", None))


def producer(config, **overrides):
    """A producer partitioning like the Java client (murmur2), so a replayed or
    test-produced key lands where a Java/ksqlDB producer would have put it."""
    from confluent_kafka import Producer

    conf = _base(config, {"partitioner": "murmur2_random", "enable.idempotence": True})
    conf.update(overrides)
    return _build(Producer, conf, getattr(config, "env_name", None))


def admin(config, **overrides):
    """A confluent-kafka ``AdminClient`` with the project's settings (``_base``) and
    ``overrides`` (librdkafka property names). KctxError when librdkafka refuses a setting."""
    from confluent_kafka.admin import AdminClient

    conf = _base(config, overrides)
    return _build(AdminClient, conf, getattr(config, "env_name", None))


def describe_topic(client, topic: str, config=None, timeout: float = METADATA_TIMEOUT):
    """Metadata of one topic (its ``partitions`` dict), or a KctxError that says
    whether the broker is unreachable or the topic does not exist. ``client`` is any
    confluent-kafka client (Consumer, Producer or AdminClient)."""
    md = list_topics(client, config, topic=topic, timeout=timeout)
    tmd = md.topics.get(topic)
    if tmd is None or tmd.error is not None:
        if tmd is not None and tmd.error.code() not in _UNKNOWN_TOPIC_CODES():
            raise KctxError(f"topic '{topic}': {tmd.error.str()}")
        raise KctxError(f"topic '{topic}' does not exist")
    return tmd


def list_topics(client, config=None, topic: str | None = None, timeout: float = METADATA_TIMEOUT):
    """``client.list_topics(topic, timeout=timeout)`` (ClusterMetadata; ``timeout`` in seconds,
    ``topic`` None = all topics), with a failure as one KctxError line: the broker refused the
    credentials or the TLS handshake (the last ``security_error``), or cannot be reached at
    ``config.bootstrap_servers``. ``client`` is any confluent-kafka client."""
    from confluent_kafka import KafkaException

    try:
        return client.list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        where = config.bootstrap_servers if config is not None else "the configured bootstrap servers"
        err = exc.args[0]
        try:  # serve the client's queued error callbacks (SASL / TLS failures)
            if not hasattr(client, "assignment") or not client.assignment():
                client.poll(0)
        except Exception:  # noqa: BLE001 - best effort, the original failure is reported anyway
            pass
        sec = security_error()
        if sec:
            raise KctxError(f"Kafka at {where} refused the connection: {sec} (check sasl.username / sasl.password, "
                            f"sasl.mechanism and the ssl.* settings)") from None
        raise KctxError(f"cannot reach Kafka at {where}: {err.str() if hasattr(err, 'str') else err}") from None


def _UNKNOWN_TOPIC_CODES():
    from confluent_kafka import KafkaError

    return (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)

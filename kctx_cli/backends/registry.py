"""Schema Registry access for readers: a client from ``Config`` and a cache of parsed
Avro schemas by id, so a tail decodes each record with one dict lookup.

An unknown id is remembered (the registry will not grow it back); an outage is
remembered for a few seconds so a tail over a dead registry does not stall on every
record, then retried.
"""
from __future__ import annotations

import time
from typing import Any

# short: a tail must keep going while the registry is down
REGISTRY_TIMEOUT = 5


def registry_client(config, **overrides):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf: dict[str, Any] = dict(config.registry_config())
    conf.setdefault("timeout", REGISTRY_TIMEOUT)
    conf.setdefault("max.retries", 0)
    conf.update(overrides)
    return SchemaRegistryClient(conf)


class SchemaUnavailable(Exception):
    """The schema of an id could not be had; ``outage`` tells a dead registry from an
    unknown id."""

    def __init__(self, message: str, outage: bool):
        super().__init__(message)
        self.outage = outage


class SchemaCache:
    """Parsed (fastavro) writer schemas by id, fetched once from the registry."""

    RETRY_AFTER = 5.0

    def __init__(self, client_factory, *, retry_after: float | None = None):
        # the client is built on first use: a topic without Avro never needs a registry
        self._factory = client_factory
        self._client = None
        self.parsed: dict[int, Any] = {}
        self.texts: dict[int, str] = {}
        self._missing: dict[int, SchemaUnavailable] = {}
        self._down_until = 0.0
        self._down_error: SchemaUnavailable | None = None
        self.retry_after = self.RETRY_AFTER if retry_after is None else retry_after
        self.outages = 0

    def get(self, schema_id: int):
        s = self.parsed.get(schema_id)
        if s is not None:
            return s
        return self._fetch(schema_id)

    def _fetch(self, schema_id: int):
        if schema_id in self._missing:
            raise self._missing[schema_id]
        if self._down_error is not None and time.monotonic() < self._down_until:
            raise self._down_error
        import json

        from fastavro import parse_schema

        try:
            if self._client is None:
                self._client = self._factory()
            schema = self._client.get_schema(schema_id)
        except Exception as exc:  # noqa: BLE001 - classify every failure below
            from confluent_kafka.schema_registry.error import SchemaRegistryError

            if isinstance(exc, SchemaRegistryError) and exc.http_status_code == 404:
                err = SchemaUnavailable(f"schema id {schema_id} not found in the registry", outage=False)
                self._missing[schema_id] = err
                raise err from None
            if isinstance(exc, SchemaRegistryError):
                msg = f"schema registry error for id {schema_id}: {exc.error_message} (HTTP {exc.http_status_code})"
            else:
                msg = f"schema registry unreachable: {type(exc).__name__}: {exc}"
            self.outages += 1
            self._down_error = SchemaUnavailable(msg, outage=True)
            self._down_until = time.monotonic() + self.retry_after
            raise self._down_error from None
        self._down_error = None
        if schema.schema_type not in (None, "AVRO"):
            err = SchemaUnavailable(f"schema id {schema_id} is {schema.schema_type}, not Avro", outage=False)
            self._missing[schema_id] = err
            raise err
        self.texts[schema_id] = schema.schema_str
        parsed = parse_schema(json.loads(schema.schema_str))
        self.parsed[schema_id] = parsed
        return parsed

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


def schema_fetcher(config):
    """``fetch(id) -> (schema_type, schema_text)`` for readers: one GET
    /schemas/ids/{id} with the standard library. Building confluent's client costs
    ~0.2 s (an httpx client with a TLS context, even for http://), paid by every tail
    and warm; readers only ever need this one call. Basic auth and TLS settings are
    taken from the same registry_config() keys the confluent client uses."""
    import base64
    import json
    import ssl
    import urllib.error
    import urllib.request

    conf = config.registry_config()
    url = conf["url"].rstrip("/")
    headers = {"Accept": "application/vnd.schemaregistry.v1+json"}
    if conf.get("basic.auth.user.info"):
        headers["Authorization"] = "Basic " + base64.b64encode(conf["basic.auth.user.info"].encode()).decode()
    ctx = None
    if url.startswith("https:"):
        ctx = ssl.create_default_context(cafile=conf.get("ssl.ca.location"))
        if conf.get("ssl.certificate.location"):
            ctx.load_cert_chain(conf["ssl.certificate.location"], conf.get("ssl.key.location"))
    timeout = float(conf.get("timeout", REGISTRY_TIMEOUT))

    def get_json(path: str, what: str):
        """GET ``path`` (below the registry URL) -> the decoded JSON body;
        SchemaUnavailable (outage=False for a 404) otherwise."""
        req = urllib.request.Request(f"{url}{path}", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise SchemaUnavailable(f"{what} not found in the registry", outage=False) from None
            raise SchemaUnavailable(f"schema registry error for {what}: HTTP {exc.code}", outage=True) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SchemaUnavailable(f"schema registry unreachable: {reason}", outage=True) from None

    def fetch(schema_id: int) -> tuple[str, str]:
        body = get_json(f"/schemas/ids/{schema_id}", f"schema id {schema_id}")
        return body.get("schemaType") or "AVRO", body["schema"]

    fetch.get_json = get_json  # for Protobuf descriptors and key subjects (SchemaCache)
    return fetch


class SchemaCache:
    """Parsed (fastavro) writer schemas by id, fetched once from the registry."""

    RETRY_AFTER = 5.0

    def __init__(self, fetch, *, retry_after: float | None = None):
        self._fetch_text = fetch  # schema_fetcher(config), or any id -> (type, text)
        self.parsed: dict[int, Any] = {}
        self.texts: dict[int, str] = {}
        self._missing: dict[int, SchemaUnavailable] = {}
        self._down_until = 0.0
        self._down_error: SchemaUnavailable | None = None
        self.retry_after = self.RETRY_AFTER if retry_after is None else retry_after
        self.other: dict[int, Any] = {}  # Protobuf / JSON Schema ids -> kctx_cli.tail.wire schema
        self.types: dict[int, str] = {}

    def typed(self, schema_id: int) -> tuple[str, Any]:
        """``(schemaType, schema)`` of any id: AVRO with the parsed fastavro schema,
        PROTOBUF / JSON with a kctx_cli.tail.wire schema. SchemaUnavailable as ``get``."""
        s = self.parsed.get(schema_id)
        if s is not None:
            return "AVRO", s
        o = self.other.get(schema_id)
        if o is not None:
            return o.kind, o
        try:
            return "AVRO", self._fetch(schema_id)
        except SchemaUnavailable:
            if schema_id not in self.types:
                raise
        o = self.other.get(schema_id)
        if o is None:
            raise self._missing[schema_id]
        return o.kind, o

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
            schema_type, text = self._fetch_text(schema_id)
        except SchemaUnavailable as exc:
            if not exc.outage:
                self._missing[schema_id] = exc
                raise
            self._down_error = exc
            self._down_until = time.monotonic() + self.retry_after
            raise
        self._down_error = None
        self.types[schema_id] = schema_type
        if schema_type != "AVRO":
            err = SchemaUnavailable(f"schema id {schema_id} is {schema_type}, not Avro", outage=False)
            self._missing[schema_id] = err
            self._other(schema_id, schema_type, text)
            raise err
        try:
            parsed = parse_schema(json.loads(text))
        except Exception as exc:  # noqa: BLE001 - a schema fastavro cannot use is data
            err = SchemaUnavailable(f"schema id {schema_id} cannot be parsed: {exc}", outage=False)
            self._missing[schema_id] = err
            raise err from None
        self.texts[schema_id] = text
        self.parsed[schema_id] = parsed
        return parsed

    def _other(self, schema_id: int, schema_type: str, text: str) -> None:
        """Build the Protobuf / JSON Schema decoder of an id (kept in ``other``); a failure
        is kept as the id's error."""
        from kctx_cli.tail import wire

        try:
            if schema_type == "JSON":
                self.other[schema_id] = wire.JsonSchema(text)
            elif schema_type == "PROTOBUF":
                get_json = getattr(self._fetch_text, "get_json", None)
                if get_json is None:
                    raise SchemaUnavailable(f"schema id {schema_id} is PROTOBUF: no registry access", outage=False)
                self.other[schema_id] = wire.fetch_protobuf(get_json, schema_id)
        except SchemaUnavailable as exc:
            self._missing[schema_id] = exc
        except ImportError:
            self._missing[schema_id] = SchemaUnavailable(
                f"schema id {schema_id} is PROTOBUF: install the protobuf package to decode it", outage=False)
        except Exception as exc:  # noqa: BLE001 - a descriptor we cannot build is data
            self._missing[schema_id] = SchemaUnavailable(f"schema id {schema_id} (PROTOBUF) cannot be used: {exc}",
                                                         outage=False)

    def key_schemas(self, subject: str) -> list[tuple[int, Any]]:
        """``(id, parsed Avro schema)`` of every version of ``subject`` (a topic's key
        subject), newest first; [] when the subject does not exist, is not Avro, or the
        registry cannot be reached."""
        get_json = getattr(self._fetch_text, "get_json", None)
        if get_json is None:
            return []
        from urllib.parse import quote

        try:
            versions = get_json(f"/subjects/{quote(subject, safe='')}/versions", f"subject {subject}")
            out = []
            for v in sorted(versions, reverse=True)[:10]:
                body = get_json(f"/subjects/{quote(subject, safe='')}/versions/{v}", f"subject {subject}")
                if (body.get("schemaType") or "AVRO") == "AVRO":
                    out.append((body["id"], self.get(body["id"])))
            return out
        except SchemaUnavailable:
            return []

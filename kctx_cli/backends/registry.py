"""Schema Registry access: the one client (confluent-kafka's SchemaRegistryClient, built
from ``Config`` by ``registry_client``) used by migrations, plan, doctor and the readers,
and for readers a cache of parsed Avro schemas by id on top of it, so a tail decodes each
record with one dict lookup.

An unknown id is remembered (the registry will not grow it back); an outage is
remembered for a few seconds so a tail over a dead registry does not stall on every
record, then retried.
"""
from __future__ import annotations

import time
from typing import Any

# short: a tail must keep going while the registry is down
REGISTRY_TIMEOUT = 5


# settings confluent's SchemaRegistryClient wants as numbers; kctx.toml tables and KCTX_*
# variables give strings
_NUMERIC = {"timeout": float, "max.retries": int, "retries.wait.ms": int, "retries.max.wait.ms": int,
            "cache.capacity": int, "cache.latest.ttl.sec": float}


def registry_settings(config, **overrides) -> dict[str, Any]:
    """The SchemaRegistryClient configuration of ``config`` (``url`` plus
    ``[env.X.schema_registry]`` / ``KCTX_SCHEMA_REGISTRY_<PROP>``: basic auth, bearer/OAuth,
    ``ssl.ca.location``, ``ssl.certificate.location`` / ``ssl.key.location`` for mTLS …),
    numbers converted, a short timeout and no retries unless configured; ``overrides``
    replace defaults but not what the user set. ConfigError for a number that is not one."""
    from kctx_cli.errors import ConfigError

    conf: dict[str, Any] = dict(config.registry_config())
    for key, default in {"timeout": REGISTRY_TIMEOUT, "max.retries": 0, **overrides}.items():
        conf.setdefault(key, default)
    for key, typ in _NUMERIC.items():
        if isinstance(conf.get(key), str):
            try:
                conf[key] = typ(conf[key])
            except ValueError:
                raise ConfigError(f"schema registry setting {key} must be a number, got {conf[key]!r}") from None
    return conf


def registry_client(config, **overrides):
    """confluent-kafka's SchemaRegistryClient for ``config``: the one registry client of
    kctx (migrations, plan, doctor, readers). A setting the client refuses (an unknown key,
    basic auth given twice) is one KctxError line."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from kctx_cli.errors import KctxError

    conf = registry_settings(config, **overrides)
    try:
        return SchemaRegistryClient(conf)
    except (ValueError, TypeError) as exc:
        raise KctxError(f"Schema Registry client settings: {exc} (from [env.{config.env_name}.schema_registry] "
                        f"in kctx.toml or a KCTX_SCHEMA_REGISTRY_* variable)") from None


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote_path(text: str) -> str:
    """``text`` as one URL path segment (RFC 3986 percent-encoding of its UTF-8 bytes, every
    byte but unreserved ones): subject names may hold '/', ':' or spaces."""
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in text.encode("utf-8"))


def _url(client) -> str:
    from kctx_cli.redact import redact_url

    return redact_url(",".join(client._rest_client.base_urls))


def transport_error(exc: BaseException, url: str):
    """A KctxError line for a failure below HTTP (refused, timeout, TLS) of the registry at
    ``url`` (its ``reason`` attribute: the failure alone); None when ``exc`` is not one."""
    # the HTTP library confluent's client runs on (httpx2 or httpx)
    from confluent_kafka.schema_registry.common._httpx_compat import httpx

    from kctx_cli.errors import KctxError

    if isinstance(exc, httpx.TimeoutException):
        reason = "timed out"
    elif isinstance(exc, httpx.TransportError):
        text = str(exc)
        if "refused" in text.lower():
            reason = "connection refused"
        elif "certificate" in text.lower() or "ssl" in text.lower() or "tls" in text.lower():
            reason = "TLS handshake failed: " + " ".join(text.split())[:200]
        else:
            reason = f"{type(exc).__name__}: {' '.join(text.split())[:200]}" if text else type(exc).__name__
    else:
        return None
    err = KctxError(f"cannot reach the schema registry at {url}: {reason}")
    err.reason = reason
    return err


def call(client, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request through the SchemaRegistryClient's own HTTP layer (its auth, TLS, mTLS,
    OAuth and retry settings), for the few answers its public methods do not return whole
    (verbose compatibility messages, a subject's config, serialized Protobuf schemas):
    ``(status, decoded JSON)``; an error status gives ``(status, {"message": one line})``.
    KctxError for a refused, timed-out or TLS-failed connection, refused credentials (401,
    403) and a 2xx answer that is not JSON (e.g. a proxy's page)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from kctx_cli.errors import KctxError
    from kctx_cli.redact import http_body

    url = _url(client)
    try:
        return 200, client._rest_client.send_request(path.lstrip("/"), method, body)
    except SchemaRegistryError as exc:
        status = exc.http_status_code
        msg = http_body(str(exc.error_message or ""), status if status and status >= 0 else None)
        if status in (401, 403):
            raise KctxError(f"the schema registry at {url} refused the credentials (HTTP {status}): {msg}; check "
                            f"basic.auth.user.info / the URL's user:password or the bearer.auth.* settings") from None
        return status, {"error_code": exc.error_code, "message": msg}
    except ValueError:
        raise KctxError(f"the schema registry at {url} answered {method} {path.split('?')[0]} with a body that is "
                        f"not JSON (is the URL a Schema Registry?)") from None
    except Exception as exc:  # noqa: BLE001 - httpx transport errors
        err = transport_error(exc, url)
        if err is None:
            raise
        raise err from None


class SchemaUnavailable(Exception):
    """The schema of an id could not be had; ``outage`` tells a dead registry from an
    unknown id."""

    def __init__(self, message: str, outage: bool):
        super().__init__(message)
        self.outage = outage


def schema_fetcher(config):
    """``fetch(id) -> (schema_type, schema_text)`` for readers (tail, dlq, cache), on the
    one SchemaRegistryClient (``registry_client``), built on the first id asked for so a
    topic without registry framing never pays its start-up. ``fetch.get_json(path, what)``
    reads other registry paths (Protobuf descriptors, key subjects). SchemaUnavailable:
    ``outage=False`` for a 404 (unknown id), True for anything else."""
    from kctx_cli.errors import KctxError

    holder: list = []

    def client():
        if not holder:
            holder.append(registry_client(config))
        return holder[0]

    def get_json(path: str, what: str):
        """GET ``path`` (below the registry URL) -> the decoded JSON body."""
        try:
            status, data = call(client(), "GET", path)
        except KctxError as exc:
            raise _outage(exc) from None
        if status == 404:
            raise SchemaUnavailable(f"{what} not found in the registry", outage=False)
        if status != 200:
            raise SchemaUnavailable(f"schema registry error for {what}: HTTP {status}", outage=True)
        return data

    def _outage(exc) -> SchemaUnavailable:
        reason = getattr(exc, "reason", None)
        if reason:
            return SchemaUnavailable(f"schema registry unreachable: {reason}", outage=True)
        return SchemaUnavailable(f"schema registry: {exc.message}", outage=True)

    def fetch(schema_id: int) -> tuple[str, str]:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = client().get_schema(schema_id)
        except SchemaRegistryError as exc:
            from kctx_cli.redact import http_body

            status = exc.http_status_code
            if status == 404:
                raise SchemaUnavailable(f"schema id {schema_id} not found in the registry", outage=False) from None
            msg = http_body(str(exc.error_message or ""), status)
            raise SchemaUnavailable(f"schema registry error for schema id {schema_id}: HTTP {status}: {msg}",
                                    outage=True) from None
        except KctxError as exc:
            raise _outage(exc) from None
        except ValueError:
            raise SchemaUnavailable(f"schema registry: the answer for schema id {schema_id} is not JSON",
                                    outage=True) from None
        except Exception as exc:  # noqa: BLE001 - httpx transport errors
            err = transport_error(exc, _url(client()))
            if err is None:
                raise
            raise _outage(err) from None
        return schema.schema_type or "AVRO", schema.schema_str

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
        self.other: dict[int, Any] = {}  # Protobuf / JSON Schema ids -> kctx_cli.backends.wire schema
        self.types: dict[int, str] = {}

    def typed(self, schema_id: int) -> tuple[str, Any]:
        """``(schemaType, schema)`` of any id: AVRO with the parsed fastavro schema,
        PROTOBUF / JSON with a kctx_cli.backends.wire schema. SchemaUnavailable as ``get``."""
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
        """The parsed (fastavro ``parse_schema``) Avro writer schema of ``schema_id``, fetched once.
        SchemaUnavailable when the id is unknown, not Avro (a Protobuf / JSON id: see ``typed``)
        or cannot be parsed — remembered, not asked again — or the registry is down (``outage``;
        remembered for ``retry_after`` seconds, then asked again)."""
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
        from kctx_cli.backends import wire

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
        quote = quote_path
        try:
            versions = get_json(f"/subjects/{quote(subject)}/versions", f"subject {subject}")
            out = []
            for v in sorted(versions, reverse=True)[:10]:
                body = get_json(f"/subjects/{quote(subject)}/versions/{v}", f"subject {subject}")
                if (body.get("schemaType") or "AVRO") == "AVRO":
                    out.append((body["id"], self.get(body["id"])))
            return out
        except SchemaUnavailable:
            return []

"""`kctx doctor`: can kctx reach what the configuration points at? (the seed's
EnsureKafkaReadyAsync). One row per service; exit 1 when a configured one fails."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from kctx_cli.config import Config
from kctx_cli.errors import EXIT_ERROR, EXIT_OK, KctxError


@dataclass
class Check:
    """One row of the doctor's report: ``service`` (kafka, schema-registry, ksqldb), its
    ``address`` (secrets redacted; None when not configured), ``status`` (ok, failed, not
    configured), ``detail`` (what the server said, one line) and ``millis`` the probe took."""
    service: str
    address: str | None
    status: str  # ok, failed, not configured
    detail: str
    millis: int = 0


def _timed(service: str, address: str | None, probe) -> Check:
    if not address:
        return Check(service, None, "not configured", "")
    start = time.perf_counter()
    try:
        detail = probe()
        status = "ok"
    except KctxError as exc:
        detail, status = exc.message, "failed"
    except Exception as exc:  # noqa: BLE001 - a client library's own error is the finding
        detail, status = f"{type(exc).__name__}: {exc}", "failed"
    from kctx_cli.redact import http_body, redact_url

    # one line, secrets and HTML pages reduced (kctx_cli.redact)
    return Check(service, redact_url(address), status, http_body(detail, limit=400),
                 int((time.perf_counter() - start) * 1000))


def _kafka(config: Config) -> str:
    from kctx_cli.backends.kafka import admin, list_topics

    md = list_topics(admin(config), config)
    user = sum(1 for t in md.topics if not t.startswith("_"))
    return f"{len(md.brokers)} broker(s), controller {md.controller_id}, {user} topic(s)"


def _registry(config: Config) -> str:
    from kctx_cli.backends.registry import call, registry_client

    # the client migrate, plan and the readers use, with the same settings (auth, TLS, mTLS)
    client = registry_client(config)
    answers = []
    for path in ("/subjects", "/config"):
        status, data = call(client, "GET", path)
        if status != 200:
            msg = data.get("message") if isinstance(data, dict) else data
            raise KctxError(f"the schema registry answered GET {path} with HTTP {status}: {msg}")
        answers.append(data)
    subjects, conf = answers
    if not isinstance(subjects, list) or not isinstance(conf, dict):
        raise KctxError("the schema registry's answers are not a Schema Registry's (is the URL right?)")
    level = conf.get("compatibilityLevel") or conf.get("compatibility")
    return f"{len(subjects)} subject(s), global compatibility {level}"


def _ksqldb(config: Config) -> str:
    from kctx_cli.backends.ksqldb import KsqlClient

    info = KsqlClient.from_config(config).info()
    return f"version {info.get('version', '?')}, service {info.get('ksqlServiceId', '?')}, " \
           f"{info.get('serverStatus', '?')}"


def doctor(config: Config, *, output: str = "text") -> int:
    """`kctx doctor`: probe Kafka (metadata), the Schema Registry (GET /subjects and /config) and
    ksqlDB (GET /info) as ``config`` points at them and print one row each (``output`` text
    or json). Returns EXIT_ERROR (1) when a configured service failed, else EXIT_OK (0); a
    failure is a row, not an exception."""
    checks = [
        _timed("kafka", config.bootstrap_servers, lambda: _kafka(config)),
        _timed("schema-registry", config.schema_registry_url, lambda: _registry(config)),
        _timed("ksqldb", config.ksqldb_url, lambda: _ksqldb(config)),
    ]
    failed = any(c.status == "failed" for c in checks)
    if output == "json":
        print(json.dumps({"ok": not failed, "env": config.env_name, "checks": [asdict(c) for c in checks]}, indent=2))
        return EXIT_ERROR if failed else EXIT_OK

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"kctx doctor (env: {config.env_name})")
    for col in ("service", "address", "status", "detail", "ms"):
        table.add_column(col)
    style = {"ok": "green", "failed": "bold red", "not configured": "dim"}
    for c in checks:
        table.add_row(c.service, c.address or "", f"[{style[c.status]}]{c.status}[/]", c.detail,
                      str(c.millis) if c.address else "")
    Console(soft_wrap=True).print(table)
    return EXIT_ERROR if failed else EXIT_OK

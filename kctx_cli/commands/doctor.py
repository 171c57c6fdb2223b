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
    from kctx_cli.backends.registry import registry_client

    client = registry_client(config)
    try:
        subjects = client.get_subjects()
        level = client.get_compatibility()
    except Exception as exc:  # noqa: BLE001 - SchemaRegistryError or a transport error
        raise KctxError(f"cannot use the Schema Registry at {config.schema_registry_url}: {exc}") from None
    return f"{len(subjects)} subject(s), global compatibility {level}"


def _ksqldb(config: Config) -> str:
    from kctx_cli.backends.ksqldb import KsqlClient

    info = KsqlClient.from_config(config).info()
    return f"version {info.get('version', '?')}, service {info.get('ksqlServiceId', '?')}, " \
           f"{info.get('serverStatus', '?')}"


def doctor(config: Config, *, output: str = "text") -> int:
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

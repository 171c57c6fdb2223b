"""`kctx init` and `kctx config show`."""
from __future__ import annotations

import json
from pathlib import Path

from kctx_cli.config import CONFIG_FILE, Config
from kctx_cli.errors import KctxError

KCTX_TOML = '''\
# kctx project configuration; every key can be overridden with KCTX_<KEY>
[project]
models = "models"
migrations = "migrations"
default_partitions = 1
default_replicas = 1
default_compatibility = "BACKWARD"

# the environment used when neither --env nor KCTX_ENV is given
[env.default]
# the addresses of the repository's docker-compose.yml and of its test stack
bootstrap_servers = "127.0.0.1:19092"
schema_registry_url = "http://127.0.0.1:18081"
ksqldb_url = "http://127.0.0.1:18088"

# [env.prod]
# bootstrap_servers = "broker-1:9092"
# schema_registry_url = "https://registry.example.com"
# ksqldb_url = "https://ksqldb.example.com"
# [env.prod.kafka]
# "security.protocol" = "SASL_SSL"
# "sasl.mechanism" = "PLAIN"
# "sasl.username" = "${KAFKA_USER}"
# "sasl.password" = "${KAFKA_PASSWORD}"
'''

MODELS_INIT = '''\
"""The entities of this project: kctx imports every module of this package.

Declare each topic as a class in a module here (models/orders.py, ...); models/example.py
shows one. Then `kctx validate` checks them and `kctx makemigrations` writes the first
migration, migrations/V000001__initial.sql, from them.
"""
'''

# a comment, not a class: the first makemigrations must write the user's entities only
MODELS_EXAMPLE = '''\
"""An example entity, commented out: copy it into a module of your own and adapt it
(or uncomment it here). Nothing in this file is part of the project until then."""
# from datetime import datetime
# from decimal import Decimal
# from typing import Annotated, Optional
#
# from kctx_cli.model import Key, Precision, Stream
#
#
# class Event(Stream):
#     """Something that happened."""
#
#     event_id: Annotated[str, Key]
#     kind: str
#     amount: Annotated[Decimal, Precision(18, 4)]
#     occurred_at: datetime
#     note: Optional[str] = None
#
#     class Meta:
#         name = "EVENTS"
#         topic = "events"
#         partitions = 1
'''


def init(directory: Path) -> None:
    """Scaffold a project in ``directory`` (created if missing): kctx.toml, a models
    package with a commented example, an empty migrations/. No migration is written: the
    first ``kctx makemigrations`` writes V000001 from the user's own entities (a sample
    migration would have to be dropped by the next one).

    Raises ``KctxError`` when ``directory`` already has a kctx.toml or a non-empty models/,
    or cannot be written."""
    directory = Path(directory)
    if (directory / CONFIG_FILE).exists():
        raise KctxError(f"{directory / CONFIG_FILE} already exists: not overwriting an existing project")
    if (directory / "models").exists() and any((directory / "models").iterdir()):
        raise KctxError(f"{directory / 'models'} already exists and is not empty: not overwriting it")
    if (directory / "migrations").exists() and any((directory / "migrations").iterdir()):
        raise KctxError(f"{directory / 'migrations'} already exists and is not empty: not overwriting it")
    try:
        (directory / "models").mkdir(parents=True, exist_ok=True)
        (directory / "migrations").mkdir(exist_ok=True)
        (directory / CONFIG_FILE).write_text(KCTX_TOML, encoding="utf-8")
        (directory / "models" / "__init__.py").write_text(MODELS_INIT, encoding="utf-8")
        (directory / "models" / "example.py").write_text(MODELS_EXAMPLE, encoding="utf-8")
    except OSError as exc:
        raise KctxError(f"cannot create the project in {directory}: {exc.strerror}") from None
    from kctx_cli.commands.console import stdout

    out = stdout()
    out.print(f"created {directory / CONFIG_FILE}, {directory / 'models'}/ and {directory / 'migrations'}/")
    out.print(f"next: cd {directory}, declare your entities in models/ (models/example.py shows one), then "
              "kctx validate && kctx makemigrations")


def config_show(config: Config, *, output: str = "text") -> None:
    """`kctx config show`: the resolved configuration with secrets redacted
    (``Config.redacted``), as a key/value table or (``output`` json) the nested dict."""
    data = config.redacted()
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"kctx configuration (env: {config.env_name})", show_header=True)
    table.add_column("key")
    table.add_column("value")
    for key, value in _flatten(data):
        table.add_row(key, "" if value is None else str(value))
    Console().print(table)


def _flatten(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value

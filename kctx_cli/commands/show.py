"""`kctx show ...`: render what the models produce, without touching a cluster."""
from __future__ import annotations

from kctx_cli.config import Config
from kctx_cli.errors import KctxError


def show_avro(config: Config, name: str | None, key: bool = False) -> int:
    """Print the Avro value (or ``--key``) schema of one entity, or of all of them,
    each under a ``// <subject>`` line, as pretty, deterministic JSON."""
    from kctx_cli.avro.schema import key_schema, schema_json, value_schema
    from kctx_cli.model.discovery import load_project

    project = load_project(config)
    entities = [project.get(name)] if name else project.entities
    if not entities:
        print("// no entities")
        return 0
    blocks = []
    for info in entities:
        if key:
            schema = key_schema(info)
            if schema is None:
                reason = "it has no key" if not info.keys else f"its KEY_FORMAT is {info.key_format}"
                if name:
                    raise KctxError(f"{info.name} has no Avro key schema: {reason}")
                blocks.append(f"// {info.key_subject}: none ({reason})")
                continue
            subject = info.key_subject
        else:
            if info.value_format != "AVRO":
                msg = f"{info.name} has no Avro value schema: its VALUE_FORMAT is {info.value_format}"
                if name:
                    raise KctxError(msg)
                blocks.append(f"// {info.value_subject}: none (VALUE_FORMAT is {info.value_format})")
                continue
            schema, subject = value_schema(info), info.value_subject
        blocks.append(f"// {subject}\n{schema_json(schema, indent=2)}")
    print("\n\n".join(blocks))
    return 0


def show_ddl(config: Config, name: str | None = None) -> int:
    """Print the CREATE STREAM/TABLE statements of all entities in dependency order
    (sources before the derived entities that read them), or of one entity."""
    from kctx_cli.derive.ddl import entity_ddl, ordered
    from kctx_cli.model.discovery import load_project
    from kctx_cli.derive.schema import Resolver

    project = load_project(config)
    resolver = Resolver(project.entities)
    entities = [project.get(name)] if name else ordered(project, resolver)
    if not entities:
        print("-- no entities")
        return 0
    print("\n\n".join(entity_ddl(info, resolver) for info in entities))
    return 0


def show_plan(config: Config) -> int:
    """Print the migration `kctx makemigrations` would write now (the models against the
    state replayed from migrations/), without writing it; offline."""
    from kctx_cli.migrations.api import next_migration_text

    text, refused, latest = next_migration_text(config)
    for e in refused:
        print(f"-- refused: {e}")
    if not text:
        print(f"-- no changes: the models match the migrations ({latest})")
        return 0
    print(text, end="")
    return 0

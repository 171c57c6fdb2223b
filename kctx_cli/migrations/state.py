"""The state of a cluster as kctx models it: topics, subjects, ksqlDB sources.

Three producers of a ``State``, compared by the same comparators (``autogen``):

* ``replay(migrations)``: rebuilt offline from the migration files (Django's approach),
  what ``makemigrations`` diffs the models against — no cluster needed;
* ``desired(project)``: what the models declare;
* ``kctx_cli.migrations.live.read_live``: the live cluster (``kctx plan``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kctx_cli.errors import KctxError


@dataclass
class Topic:
    """A topic in a State: ``partitions`` and ``replicas`` (None: ksqlDB chose, for a CSAS/CTAS
    sink without PARTITIONS / REPLICAS), the ``configs`` set on the topic itself (Kafka config
    names -> values; broker defaults are not state), the ``owner`` that creates it (``kctx``
    with a create-topic, ``ksqldb`` by a statement), and in the desired state only the
    entity it belongs to (``entity``) and, for a dead-letter queue, whose it is (``dlq_of``)."""
    partitions: int | None  # None: ksqlDB chose (a CSAS without PARTITIONS)
    replicas: int | None
    configs: dict[str, str] = field(default_factory=dict)  # set on the topic itself only
    owner: str = "kctx"  # "kctx" (create-topic) or "ksqldb" (created by a statement)
    dlq_of: str | None = None  # the entity whose dead-letter queue this is (desired state only)
    entity: str | None = None  # the entity it belongs to (desired state only, for messages)


@dataclass
class Subject:
    """A Schema Registry subject in a State: its ``schemas`` (parsed Avro, oldest first), the
    ``compatibility`` level set on it (None: the registry's global level) and ``derived``
    (ksqlDB registers it for a CSAS/CTAS output, kctx does not)."""
    schemas: list[Any] = field(default_factory=list)  # oldest first
    compatibility: str | None = None
    derived: bool = False  # ksqlDB registers it (CSAS/CTAS output)


@dataclass
class Source:
    """A ksqlDB stream or table in a State: ``kind`` STREAM / TABLE, its canonical CREATE
    ``statement`` (kctx_cli.ops.canonical), the ``topic`` it reads or writes, ``derived``
    (a CREATE ... AS SELECT), the model ``entity`` (desired state) and, in the live state,
    the column names DESCRIBE reports (``live_columns``)."""
    kind: str  # STREAM / TABLE
    statement: str  # canonical CREATE text (see kctx_cli.ops.canonical)
    topic: str
    derived: bool
    entity: str | None = None
    live_columns: tuple[str, ...] = ()  # column names DESCRIBE reports (live state)


@dataclass
class State:
    """Topics, subjects and ksqlDB sources by name (see the module for where a State comes from)."""
    topics: dict[str, Topic] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)

    Topic = Topic
    Source = Source

    def subject(self, name: str) -> Subject:
        """The subject ``name``, added empty when the state does not have it yet."""
        s = self.subjects.get(name)
        if s is None:
            s = self.subjects[name] = Subject()
        return s


class ReplayError(KctxError):
    """A migration's up part does not apply to the state rebuilt from the files before it
    (``replay``): ``file:line: why`` (e.g. it creates a topic that already exists there)."""
    pass


def replay(migrations, upto: int | None = None) -> State:
    """Apply every migration's up part (up to version ``upto``) to an empty state."""
    from kctx_cli.ops import OpError

    state = State()
    for m in migrations:
        if upto is not None and m.version > upto:
            break
        for step in m.up:
            try:
                step.op.replay(state)
            except OpError as exc:
                raise ReplayError(f"{m.filename}:{step.line}: {exc}") from None
    return state


def source_ddl(info, resolver) -> str:
    """The CREATE statement a migration uses for an entity. Source entities: no
    PARTITIONS/REPLICAS (kctx creates their topic with its configs first, and a later
    add-partitions must not make the stored statement wrong)."""
    from kctx_cli.ksql import nodes as k
    from kctx_cli.derive.ddl import entity_tree
    from kctx_cli.ops import canonical

    tree = entity_tree(info, resolver)
    if not info.derived:
        props = [p for p in tree.args.get("properties") or [] if p.this.this not in ("PARTITIONS", "REPLICAS")]
        tree.set("properties", props)
    assert isinstance(tree, k.CreateSource)
    return canonical(tree)


def desired(project) -> State:
    """What the models declare."""
    from kctx_cli.avro.schema import key_schema, value_schema
    from kctx_cli.derive.ddl import ordered
    from kctx_cli.derive.schema import Resolver, entity_kind, topic_configs

    resolver = Resolver()
    st = State()
    for info in ordered(project, resolver):
        kind = entity_kind(info, resolver)
        configs = topic_configs(info, resolver)
        if info.derived:
            # ksqlDB sets its sink topic's cleanup policy itself; only declared configs are kctx's
            st.topics[info.topic] = Topic(info.partitions, info.replicas, dict(info.configs), owner="ksqldb",
                                          entity=info.name)
        else:
            st.topics[info.topic] = Topic(info.partitions, info.replicas, configs, owner="kctx", entity=info.name)
        if info.dlq:
            parts = info.partitions or project.config.default_partitions
            st.topics[info.dlq] = Topic(parts, info.replicas, {}, owner="kctx", dlq_of=info.name, entity=info.name)
        subjects = []
        if info.value_format == "AVRO":
            subjects.append((info.value_subject, value_schema(info)))
        ks = key_schema(info)
        if ks is not None:
            subjects.append((info.key_subject, ks))
        for name, schema in subjects:
            st.subjects[name] = Subject([schema], info.compatibility, derived=info.derived)
        st.sources[info.source_name] = Source(kind, source_ddl(info, resolver), info.topic, info.derived,
                                              entity=info.name)
    return st

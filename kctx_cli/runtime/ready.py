"""``KafkaContext.ensure_ready()``: the seed's EnsureKafkaReadyAsync, kctx style.

In order, stopping at the first problem (one ``NotReadyError`` line naming the fix):

1. Kafka answers a metadata request; the schema registry answers ``GET /subjects``;
   ksqlDB answers ``GET /info`` when a ksqlDB URL is configured.
2. The migration history exists and every migration file is applied, none left ERROR or
   RUNNING, none edited after it was applied -> ``kctx migrate``.
3. The applied migrations describe what the models declare (the offline diff
   ``makemigrations`` would write is empty) -> ``kctx makemigrations`` then ``kctx migrate``.
4. The live topics, subjects and ksqlDB sources are what the applied migrations describe
   (the drift ``kctx plan`` lists under repair) -> ``kctx repair``.
"""
from __future__ import annotations

from kctx_cli.errors import KctxError
from kctx_cli.runtime.errors import NotReadyError


def _servers(ctx, timeout: float) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    cfg = ctx.config
    try:
        AdminClient(ctx._kafka_conf(**{"socket.connection.setup.timeout.ms": int(timeout * 1000)})) \
            .list_topics(timeout=timeout)
    except KafkaException as exc:
        raise NotReadyError(f"Kafka at {cfg.bootstrap_servers} does not answer within {timeout:g} s: "
                            f"{exc.args[0].str()}") from None
    try:
        ctx.registry.get_subjects()
    except Exception as exc:  # noqa: BLE001 - SchemaRegistryError, httpx errors
        from kctx_cli.redact import redact, redact_url

        raise NotReadyError(f"the schema registry at {redact_url(cfg.schema_registry_url or '')} does not answer: "
                            f"{redact(str(exc))}") from None
    if cfg.ksqldb_url:
        from kctx_cli.backends.ksqldb import KsqlClient

        try:
            KsqlClient(cfg.ksqldb_url, cfg.ksqldb, timeout=timeout).info()
        except KctxError as exc:
            raise NotReadyError(f"ksqlDB does not answer: {exc}") from None


def ensure_ready(ctx, *, timeout: float = 10.0, entities=None) -> None:
    """The checks of the module, in order, for context ``ctx`` (a KafkaContext); ``timeout``
    seconds for each server to answer. Returns None when everything is ready; NotReadyError
    (one line naming the fix) at the first problem. ``entities``: entity classes (or names)
    whose topics, subjects and sources alone are compared with the migrations and the
    live cluster (a service checks what it uses); None: all of them. The files and the
    history are checked in full either way."""
    from kctx_cli.migrations import apply, autogen, files, repair, state
    from kctx_cli.migrations.cluster import Cluster
    from kctx_cli.migrations.history import History

    _servers(ctx, timeout)
    cfg = ctx.config
    try:
        migrations = files.load_all(cfg.migrations_dir, cfg.defines)
    except KctxError as exc:
        raise NotReadyError(f"the migration files do not load: {exc}") from None
    cluster = Cluster(cfg)
    history = History(cfg)
    if not history.exists(cluster):
        raise NotReadyError(f"no migration was ever applied to this cluster (no {history.topic} topic): "
                            f"run kctx migrate")
    try:
        history.read()
        versions = history.versions()
    finally:
        history.close()
    by_v = {m.version: m for m in migrations}
    for v, vs in sorted(versions.items()):
        if vs.state in ("MIGRATED", "REVERTING") and v in by_v and vs.checksum and vs.checksum != by_v[v].checksum:
            raise NotReadyError(f"{by_v[v].filename} was edited after it was applied (checksum differs): restore it "
                                f"(kctx status lists the applied versions)")
    current = apply.current_version(versions)
    pending = [m for m in migrations if m.version > current or versions.get(m.version) is None
               or versions[m.version].state not in ("MIGRATED", "REVERTING")]
    try:
        target = repair.applied_state(migrations, versions)
    except KctxError as exc:
        raise NotReadyError(str(exc)) from None
    if pending:
        more = f" and {len(pending) - 1} more" if len(pending) > 1 else ""
        raise NotReadyError(f"{pending[0].filename}{more} not applied to this cluster: run kctx migrate")

    project = ctx.project
    bad = [i.message for e in project.entities for i in e.issues]
    if bad:
        raise NotReadyError(f"the models have problems ({bad[0]}): run kctx validate")
    desired = state.desired(project)
    if entities is not None:
        target, desired = (_only(st, [ctx.entity(e) for e in entities]) for st in (target, desired))
    d = autogen.diff(target, desired, allow_destructive=True, order=autogen.entity_order(project))
    todo = [op for op in d.up if op.name != "derived-schema"]
    if todo or d.errors:
        first = todo[0].describe() if todo else d.errors[0]
        more = len(todo) + len(d.errors) - 1
        raise NotReadyError(f"the models differ from the applied migrations ({first}"
                            f"{f'; {more} more' if more else ''}): run kctx makemigrations, then kctx migrate")

    live = repair.read(cluster, target)
    fix = repair.drift(live, target)
    if fix.up or fix.errors:
        first = fix.up[0].describe() if fix.up else fix.errors[0]
        more = len(fix.up) + len(fix.errors) - 1
        raise NotReadyError(f"the cluster differs from the applied migrations (to bring it back: {first}"
                            f"{f'; {more} more' if more else ''}): run kctx repair (kctx plan lists the drift)")


def _only(st, infos):
    """A copy of the ``migrations.state.State`` ``st`` holding only the objects of ``infos``
    (``EntityInfo``): their topics and dead-letter topics, key/value subjects, sources."""
    from kctx_cli.migrations.state import State

    topics = {i.topic for i in infos} | {i.dlq for i in infos if i.dlq}
    subjects = {s for i in infos for s in (i.key_subject, i.value_subject)}
    sources = {i.source_name for i in infos}
    return State(topics={k: v for k, v in st.topics.items() if k in topics},
                 subjects={k: v for k, v in st.subjects.items() if k in subjects},
                 sources={k: v for k, v in st.sources.items() if k in sources})

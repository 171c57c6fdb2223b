"""Read the live cluster into a ``State`` (for ``kctx plan``, ``validate --live`` and
``baseline``).

Only objects that matter are read: the topics, subjects and sources named by the models
or by the migrations (``names``), or — for ``baseline`` — everything that is not
internal. Topic configs are those set on the topic itself (DYNAMIC_TOPIC_CONFIG), so broker
defaults are never reported as drift.
"""
from __future__ import annotations

from kctx_cli.migrations.state import Source, State, Subject, Topic

# never part of a project: Kafka's, ksqlDB's, the registry's and kctx's own topics
INTERNAL_PREFIXES = ("_", "__", "default_ksql_", "_confluent-ksql", "ksql_", "_kctx")
INTERNAL_SOURCES = ("MIGRATION_EVENTS", "MIGRATION_SCHEMA_VERSIONS", "KSQL_PROCESSING_LOG")


def read_live(cluster, *, topics: set[str] | None = None, subjects: set[str] | None = None,
              sources: set[str] | None = None, need_ksql: bool = True, include=None) -> State:
    """``None`` for a set: everything that is not internal (baseline); then ``include`` (a
    compiled regex) keeps the subjects it finds in their name, and subjects whose schema is
    not JSON (Protobuf) are left out."""
    from kctx_cli.ksql.compare import as_created
    from kctx_cli.ops import canonical

    st = State()
    live_topics = cluster.topics()
    names = [t for t in live_topics if (t in topics if topics is not None else not t.startswith(INTERNAL_PREFIXES))]
    configs = cluster.topics_configs(sorted(names))
    for t in sorted(names):
        parts, reps = live_topics[t]
        st.topics[t] = Topic(parts, reps, configs.get(t, {}), owner="kctx")
    wanted = subjects if subjects is not None else {s for s in cluster.subjects() if not s.startswith("_")}
    if include is not None:
        wanted = {s for s in wanted if include.search(s)}
    for s in sorted(wanted):
        try:
            schemas = cluster.schemas(s)
        except ValueError:  # not JSON: a Protobuf schema, never one kctx registers
            if subjects is not None:
                raise
            continue
        if not schemas:
            continue
        st.subjects[s] = Subject(schemas, cluster.compatibility(s))
    if need_ksql:
        for d in cluster.ksql_client.sources(sources):
            name = d.get("name")
            if sources is not None and name not in sources or name in INTERNAL_SOURCES:
                continue
            text = d.get("statement") or ""
            try:
                tree = as_created(text)
                statement = canonical(tree)
                derived = tree.args.get("expression") is not None
            except Exception:  # noqa: BLE001 - a statement our dialect cannot read: keep it as text
                statement, derived = text.strip(), bool(d.get("writeQueries"))
            kind = d.get("type", "STREAM").upper()
            st.sources[name] = Source(kind, statement, d.get("topic", ""), derived,
                                      live_columns=tuple(f.get("name") for f in d.get("fields") or []))
            if derived and d.get("topic") in st.topics:
                st.topics[d["topic"]].owner = "ksqldb"
                if topics is None:  # baseline: what the statement itself sets is no operation of its own
                    _drop_configs_of_statement(st.topics[d["topic"]], text)
                for suffix in ("-key", "-value"):
                    if d["topic"] + suffix in st.subjects:
                        st.subjects[d["topic"] + suffix].derived = True
    return st


def interesting(desired: State, replayed: State) -> tuple[set[str], set[str], set[str]]:
    """Topic, subject and source names the models or the migrations know."""
    return (set(desired.topics) | set(replayed.topics), set(desired.subjects) | set(replayed.subjects),
            set(desired.sources) | set(replayed.sources))


def align(live: State, desired: State) -> None:
    """Give live objects the bookkeeping only the models know (who creates a topic, which
    topic is a DLQ), so the comparators treat both sides alike."""
    for name, t in live.topics.items():
        d = desired.topics.get(name)
        if d is not None:
            t.owner, t.dlq_of, t.entity = d.owner, d.dlq_of, d.entity
            if d.partitions is None:
                t.partitions = None  # ksqlDB chose it; nothing to compare
    from kctx_cli.ksql.compare import same_source

    columns = {name: set(s.live_columns) for name, s in live.sources.items()}
    for name, s in live.sources.items():
        d = desired.sources.get(name)
        if d is None or s.statement == d.statement:
            continue
        # ksqlDB stores its own rendering of a statement (qualified columns, the properties
        # it chose, ...): the same source in other words is no difference
        if same_source(s.statement, d.statement, columns.get):
            s.statement = d.statement
    for name, s in live.subjects.items():
        d = desired.subjects.get(name)
        if d is not None:
            s.derived = d.derived



# WITH properties of a CREATE … AS SELECT that ksqlDB turns into sink-topic configs
_SINK_CONFIGS = {"RETENTION_MS": "retention.ms", "CLEANUP_POLICY": "cleanup.policy"}


def _drop_configs_of_statement(topic: Topic, statement: str) -> None:
    """Remove from a ksqlDB sink topic's configs those its own statement sets (ksqlDB 8.1.5
    creates a sink topic with ``retention.ms`` and ``cleanup.policy`` from the query's WITH
    clause, which its stored text spells out): re-running the statement sets them again."""
    from kctx_cli.ksql.compare import as_created
    from kctx_cli.ops import properties

    try:
        props = properties(as_created(statement))
    except Exception:  # noqa: BLE001 - unreadable text: keep every config
        return
    for prop, config in _SINK_CONFIGS.items():
        if prop in props and topic.configs.get(config) == str(props[prop]):
            topic.configs = {k: v for k, v in topic.configs.items() if k != config}

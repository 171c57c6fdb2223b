"""Offline checks of the models themselves: names, types, keys, options and the rules
that span entities (one topic per entity, DLQ names). Queries are checked in
``kctx_cli.derive.checks``, schemas in ``kctx_cli.avro.schema``.

Every check appends to one list, so `kctx validate` reports all problems at once.
"""
from __future__ import annotations

import re

from kctx_cli.config import COMPAT_LEVELS
from kctx_cli.errors import Problem
from kctx_cli.ksql.keywords import PSEUDO_COLUMNS, RESERVED, window_size_problem
from kctx_cli.model.discovery import Project, location
from kctx_cli.model.entity import EntityInfo

# Kafka's own limit on topic names (kafka.common.internals.Topic)
TOPIC_MAX = 249
TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# longest ksqlDB source / column name kctx accepts: long names end up in query ids,
# internal topic names and state-store directories, which have their own limits
NAME_MAX = 100

KEY_FORMATS = ("AVRO", "KAFKA", "JSON")
VALUE_FORMATS = ("AVRO",)

# Topic-level configs Kafka accepts (TopicConfig); a typo here would otherwise only
# surface as a broker error at migrate time.
TOPIC_CONFIGS = {
    "cleanup.policy", "compression.type", "compression.gzip.level", "compression.lz4.level",
    "compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
    "flush.ms", "follower.replication.throttled.replicas", "index.interval.bytes",
    "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
    "max.compaction.lag.ms", "max.message.bytes", "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms", "message.timestamp.type",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "remote.storage.enable", "remote.log.copy.disable", "remote.log.delete.on.disable",
    "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms",
    "segment.ms", "unclean.leader.election.enable", "message.downconversion.enable",
}


class _Collector:
    def __init__(self, project: Project):
        self.project = project
        self.root = project.config.root
        self.problems: list[Problem] = []

    def add(self, info: EntityInfo, attr: str | None, code: str, message: str) -> None:
        file, line = location(info, attr, self.root)
        self.problems.append(Problem(file, line, code, message))


def check(project: Project) -> list[Problem]:
    """The model problems of ``project`` (see the module): its load problems, each entity's own
    issues, names (topics, sources, columns; Kafka's and ksqlDB's limits), formats, keys,
    options and topic configs, then the rules across entities. Problems are returned, not
    raised."""
    c = _Collector(project)
    c.problems.extend(project.load_problems)
    for info in project.entities:
        for issue in info.issues:
            c.add(info, issue.attr, issue.code, issue.message if issue.message.startswith(info.name)
                  else f"{info.name}: {issue.message}")
        _check_entity(c, info)
    for struct in project.structs:
        sinfo = struct.__kctx__
        for issue in sinfo.issues:
            c.add(sinfo, issue.attr, issue.code, issue.message)
        for f in sinfo.fields:
            _check_column_name(c, sinfo, f, f"{sinfo.name}.{f.name}")
    _check_cross(c, project)
    return c.problems


def _check_entity(c: _Collector, e: EntityInfo) -> None:
    _check_topic_name(c, e, e.topic, "Meta.topic", "topic")
    if e.dlq:
        _check_topic_name(c, e, e.dlq, "Meta.dlq", "DLQ topic")

    if not IDENT_RE.match(e.source_name):
        c.add(e, "Meta.name", "bad-name",
              f"{e.name}: ksqlDB name '{e.source_name}' is not a valid identifier (letters, digits, _; not starting with a digit)")
    elif e.source_name.upper() in RESERVED:
        c.add(e, "Meta.name" if "name" in e.meta else None, "reserved-word",
              f"{e.name}: ksqlDB name '{e.source_name}' is a reserved word in ksqlDB; set Meta.name to another name")
    elif len(e.source_name) > NAME_MAX:
        c.add(e, "Meta.name", "bad-name", f"{e.name}: ksqlDB name is longer than {NAME_MAX} characters")

    seen: dict[str, str] = {}
    for f in e.fields:
        where = f"{e.name}.{f.name}"
        _check_column_name(c, e, f, where)
        if f.column in seen:
            c.add(e, f.name, "duplicate-column",
                  f"{where}: column name {f.column} clashes with field '{seen[f.column]}' (ksqlDB names are case-insensitive)")
        seen[f.column] = f.name

    if not e.fields and not any(i.code == "bad-annotation" for i in e.issues):
        c.add(e, None, "no-fields", f"{e.name}: declares no fields")

    if e.kind is None and not e.derived:
        c.add(e, None, "no-kind",
              f"{e.name}: kind is not declared: subclass Stream or Table (or set Meta.kind); only derived entities infer it")

    keys = e.keys
    if e.kind == "TABLE" and not e.derived and not keys:
        c.add(e, None, "table-without-key",
              f"{e.name}: a table needs a PRIMARY KEY: mark at least one field Annotated[T, Key]")
    for k in keys:
        if k.type is None:
            continue
        if k.type.name in ("MAP", "ARRAY", "STRUCT") and e.key_format != "AVRO" or k.type.name == "MAP":
            c.add(e, k.name, "bad-key-type",
                  f"{e.name}.{k.name}: a {k.type.name} key column is not supported with KEY_FORMAT {e.key_format}")
        if e.kind == "TABLE" and k.nullable:
            c.add(e, k.name, "nullable-key",
                  f"{e.name}.{k.name}: a table's PRIMARY KEY column cannot be Optional (ksqlDB ignores records with a null key)")
    if len(keys) > 1 and e.key_format == "KAFKA":
        c.add(e, "Meta.key_format", "bad-option",
              f"{e.name}: KEY_FORMAT KAFKA supports one key column, this entity has {len(keys)}: use AVRO or JSON")
    orders = [k.key_order for k in keys if k.key_order is not None]
    if len(orders) != len(set(orders)):
        c.add(e, keys[0].name, "bad-key-order", f"{e.name}: two key columns have the same Key(order=…)")

    header_keys: set[str | None] = set()
    for f in e.fields:
        if f.header is None or f.type is None:
            continue
        # ksqlDB: one HEADERS column, or HEADER('k') columns with distinct keys
        if f.header.key in header_keys or (f.header.key is None and header_keys) or None in header_keys:
            what = "HEADERS" if f.header.key is None or None in header_keys else f"HEADER('{f.header.key}')"
            c.add(e, f.name, "bad-header-type",
                  f"{e.name}.{f.name}: the entity already has a {what} column (one HEADERS column, "
                  f"or HEADER('k') columns with distinct keys)")
        header_keys.add(f.header.key)
        want = "BYTES" if f.header.key else "ARRAY<STRUCT<KEY STRING, VALUE BYTES>>"
        if f.type.ksql() != want:
            c.add(e, f.name, "bad-header-type", f"{e.name}.{f.name}: a header column must be {want}")
        if f.key:
            c.add(e, f.name, "bad-header-type", f"{e.name}.{f.name}: a header column cannot be a key")

    if e.key_format not in KEY_FORMATS:
        c.add(e, "Meta.key_format", "bad-option",
              f"{e.name}: key_format '{e.key_format}' is not one of {', '.join(KEY_FORMATS)}")
    if e.value_format not in VALUE_FORMATS:
        c.add(e, "Meta.value_format", "bad-option",
              f"{e.name}: value_format '{e.value_format}' is not supported: kctx manages Avro values (AVRO)")

    for opt, low, high in (("partitions", 1, 10000), ("replicas", 1, 32767)):
        v = getattr(e, opt)
        if v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            c.add(e, f"Meta.{opt}", "bad-option", f"{e.name}: {opt} must be an integer from {low} to {high}, got {v!r}")

    for key, value in e.configs.items():
        if key not in TOPIC_CONFIGS:
            import difflib

            close = difflib.get_close_matches(key, sorted(TOPIC_CONFIGS), n=1, cutoff=0.7)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            c.add(e, "Meta.configs", "unknown-config", f"{e.name}: unknown topic config '{key}'{hint}")
    policy = e.configs.get("cleanup.policy")
    if e.kind == "TABLE" and policy is not None and "compact" not in policy:
        c.add(e, "Meta.configs", "bad-config",
              f"{e.name}: a table's topic must be compacted, but cleanup.policy is '{policy}'")

    if e.compatibility and e.compatibility not in COMPAT_LEVELS:
        c.add(e, "Meta.compatibility", "bad-option",
              f"{e.name}: compatibility '{e.compatibility}' is not one of {', '.join(COMPAT_LEVELS)}")

    if e.timestamp is not None:
        f = e.field(e.timestamp) if isinstance(e.timestamp, str) else None
        if f is None:
            c.add(e, "Meta.timestamp", "bad-option", f"{e.name}: Meta.timestamp names no field: {e.timestamp!r}")
        elif f.type is not None and f.type.name not in ("TIMESTAMP", "BIGINT", "STRING"):
            c.add(e, "Meta.timestamp", "bad-option",
                  f"{e.name}: timestamp field '{f.name}' must be datetime, int (epoch millis) or str, not {f.type.ksql()}")
        elif f.type is not None and f.type.name == "STRING" and not e.timestamp_format:
            c.add(e, "Meta.timestamp", "bad-option",
                  f"{e.name}: timestamp field '{f.name}' is a string: set Meta.timestamp_format")

    _check_window(c, e)


WINDOW_TYPES = ("TUMBLING", "HOPPING", "SESSION")


def _check_window(c: _Collector, e: EntityInfo) -> None:
    """Meta.window_type / window_size: a source over a topic whose keys are windowed (a
    windowed table another application writes). ksqlDB's WINDOW_TYPE and WINDOW_SIZE, as
    the real 8.1.5 answers: "TUMBLING windows require 'WINDOW_SIZE'", "'WINDOW_SIZE' should
    not be set for SESSION windows"; a derived entity's windowing comes from its query."""
    wtype, size = e.meta.get("window_type"), e.meta.get("window_size")
    if wtype is None:
        if size is not None:
            c.add(e, "Meta.window_size", "bad-option", f"{e.name}: window_size needs a window_type")
        return
    if e.derived:
        c.add(e, "Meta.window_type", "bad-option",
              f"{e.name}: a derived entity is windowed by its query (.window(...)), not by Meta.window_type")
        return
    if not isinstance(wtype, str) or wtype.upper() not in WINDOW_TYPES:
        c.add(e, "Meta.window_type", "bad-option",
              f"{e.name}: window_type must be one of {', '.join(WINDOW_TYPES)}, got {wtype!r}")
        return
    if wtype.upper() == "SESSION":
        if size is not None:
            c.add(e, "Meta.window_size", "bad-option", f"{e.name}: a SESSION window_type takes no window_size")
    elif size is None:
        c.add(e, "Meta.window_size", "bad-option",
              f"{e.name}: a {wtype.upper()} window_type needs a window_size, e.g. '1 HOUR'")
    elif not isinstance(size, str) or window_size_problem(size):
        problem = window_size_problem(size) if isinstance(size, str) else "expected a string such as '1 HOUR'"
        c.add(e, "Meta.window_size", "bad-option", f"{e.name}: invalid window_size {size!r}: {problem}")


def _check_topic_name(c: _Collector, e: EntityInfo, topic, attr: str, what: str) -> None:
    if not isinstance(topic, str) or not topic:
        c.add(e, attr, "bad-topic", f"{e.name}: {what} name must be a non-empty string")
        return
    if len(topic) > TOPIC_MAX:
        c.add(e, attr, "bad-topic", f"{e.name}: {what} name '{topic[:20]}…' is {len(topic)} characters; Kafka allows at most {TOPIC_MAX}")
    elif topic != topic.lower():
        c.add(e, attr, "bad-topic", f"{e.name}: {what} name '{topic}' must be lowercase")
    elif topic in (".", "..") or not TOPIC_RE.match(topic):
        c.add(e, attr, "bad-topic",
              f"{e.name}: {what} name '{topic}' may only contain a-z, 0-9, '.', '_' and '-' and must start with a letter or digit")
    elif "." in topic and "_" in topic:
        # Kafka warns: '.' and '_' collide in metric names
        c.add(e, attr, "bad-topic", f"{e.name}: {what} name '{topic}' mixes '.' and '_', which collide in Kafka's metric names")


def _check_column_name(c: _Collector, e: EntityInfo, f, where: str) -> None:
    """The name of field ``f`` outside Python (its ``ColumnName``, else the attribute name):
    an identifier (it is also an Avro field name), not a system column's name, at most
    NAME_MAX characters. A word ksqlDB's grammar reserves (``FROM``, ``SELECT``) is accepted:
    kctx back-quotes it wherever it writes KSQL, and ksqlDB 8.1.5 takes it quoted; a system
    column's name it refuses even quoted ("'ROWTIME' is a reserved column name. You cannot
    use it as a name for a column.")."""
    name = f.avro_name
    if not IDENT_RE.match(name):
        what = f"ColumnName '{name}'" if f.column_name is not None else f"'{name}'"
        c.add(e, f.name, "bad-name", f"{where}: {what} is not a valid column name")
    elif f.column in PSEUDO_COLUMNS:
        c.add(e, f.name, "reserved-word", f"{where}: '{f.column}' is a reserved column name (a system column): "
                                          f"ksqlDB refuses it even quoted; rename the field")
    elif len(name) > NAME_MAX:
        c.add(e, f.name, "bad-name", f"{where}: column name is longer than {NAME_MAX} characters")


def _check_cross(c: _Collector, project: Project) -> None:
    topics: dict[str, EntityInfo] = {}
    names: dict[str, EntityInfo] = {}
    for e in project.entities:
        other = topics.get(e.topic)
        if other is not None:
            c.add(e, "Meta.topic", "duplicate-topic",
                  f"{e.name}: topic '{e.topic}' is already used by {other.name}: one entity per topic")
        else:
            topics[e.topic] = e
        other = names.get(e.source_name)
        if other is not None:
            c.add(e, "Meta.name", "duplicate-name",
                  f"{e.name}: ksqlDB name {e.source_name} is already used by {other.name}")
        else:
            names[e.source_name] = e
    dlqs: dict[str, EntityInfo] = {}
    for e in project.entities:
        if not e.dlq:
            continue
        if e.dlq in topics:
            c.add(e, "Meta.dlq", "dlq-clash",
                  f"{e.name}: DLQ topic '{e.dlq}' is the topic of entity {topics[e.dlq].name}")
        elif e.dlq in dlqs:
            c.add(e, "Meta.dlq", "dlq-clash",
                  f"{e.name}: DLQ topic '{e.dlq}' is also the DLQ of {dlqs[e.dlq].name}")
        else:
            dlqs[e.dlq] = e

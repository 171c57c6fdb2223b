"""Autogenerate: diff two ``State``s into operations, one comparator per object kind
(Alembic's comparator dispatch): topics, DLQ topics, subject compatibility, schemas,
ksqlDB sources (streams/tables over a topic), ksqlDB queries (derived entities).

``diff(old, new)`` returns a ``Diff``: the up operations in a safe order, the down
operations (each change's reverse, ``op.reverse(old)``, in reverse order; ``None`` if some
change cannot be undone), notes for the file, and ``errors`` — changes kctx refuses to
write (a partition decrease, a replication change, or a destructive change without
``allow_destructive``). The comparators write up operations only: every down operation
comes from ``Op.reverse`` (``Diff.add``).

Order of the up part: drops of derived sources (dependents first), drops of sources,
topics, compatibility, schemas, CREATE of sources, CREATE [OR REPLACE] ... AS SELECT in
dependency order, what follows a query (its topic configs, its subjects), deletes of
subjects, deletes of topics.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kctx_cli.migrations.state import State
from kctx_cli.ops import (AddPartitions, CreateTopic, DeleteSchema, DeleteSubject, DeleteTopic, DerivedSchema,
                          IrreversibleError, Ksql, Op, RegisterSchema, SetCompatibility, SetTopicConfig)

DROP_DERIVED, DROP_SOURCE, TOPICS, DLQ, COMPAT, SCHEMAS, CREATE_SOURCE, CREATE_DERIVED, AFTER_DERIVED, \
    DELETE_SUBJECTS, DELETE_TOPICS = range(11)


@dataclass
class Change:
    """One change of a Diff: its ``op``, the ``phase`` of the up part it runs in (the module's
    order, DROP_DERIVED ... DELETE_TOPICS) and its ``order`` within the phase (a sort key,
    see ``Context.pos``), the operations undoing it (``undo``, from ``op.reverse``; None when
    it cannot be undone) and then ``why_irreversible``."""
    phase: int
    order: tuple
    op: Op
    undo: list[Op] | None  # None: cannot be undone
    why_irreversible: str | None = None


@dataclass
class Diff:
    """What ``diff`` found: the ``changes`` (sorted by phase and order once every comparator
    ran), ``notes`` for the file's header (e.g. a drop and a create that may be a rename)
    and ``errors``, the changes kctx refuses to write."""
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def up(self) -> list[Op]:
        """The up operations, in order."""
        return [c.op for c in self.changes]

    @property
    def down(self) -> list[Op] | None:
        """The down operations: each change's undo, last change first; None when a change cannot
        be undone (see ``irreversible``)."""
        out: list[Op] = []
        for c in reversed(self.changes):
            if c.undo is None:
                return None
            out.extend(c.undo)
        return out

    @property
    def irreversible(self) -> list[str]:
        """Why each change that cannot be undone cannot (its reason, else its description)."""
        return [c.why_irreversible or c.op.describe() for c in self.changes if c.undo is None]

    @property
    def destructive(self) -> list[Op]:
        """The up operations that are destructive (they need ``--allow-destructive``)."""
        return [c.op for c in self.changes if c.op.destructive]

    def add(self, phase: int, order: tuple, op: Op, before: State, what: str | None = None) -> None:
        """Record ``op`` at ``phase`` (sorted by ``order`` within it) with its undo,
        ``op.reverse(before)`` (``before``: the state the diff starts from). An
        ``IrreversibleError`` makes the change irreversible with its reason; ``what`` names
        the object in that reason when the diff knows it better than the operation (a
        dead-letter queue)."""
        try:
            undo, why = op.reverse(before), None
        except IrreversibleError as exc:
            undo, why = None, exc.reason(what)
        self.changes.append(Change(phase, order, op, undo, why))


@dataclass
class Context:
    """What the comparators share: the ``old`` and ``new`` states, whether destructive changes
    may be written (``allow_destructive``), the ``diff`` they add to, ``order`` (source /
    entity / topic name -> position in dependency order), the derived sources dropped and
    re-created (``rebuild``) and the topics a DROP ... DELETE TOPIC of this diff removes
    (``dropped_topics``)."""
    old: State
    new: State
    allow_destructive: bool
    diff: Diff
    order: dict[str, int]  # source / entity / topic name -> position in dependency order
    rebuild: set[str] = field(default_factory=set)  # derived sources dropped and re-created
    # topics a DROP ... DELETE TOPIC of this diff removes, with their subjects (ksqlDB deletes
    # both, and the registry forgets a hard-deleted subject's compatibility with it)
    dropped_topics: set[str] = field(default_factory=set)

    def old_subject(self, name: str):
        """The subject as it is when the up part reaches the subject comparators: None when
        it does not exist or a drop earlier in the same migration deletes it."""
        if name.rsplit("-", 1)[0] in self.dropped_topics:
            return None
        return self.old.subjects.get(name)

    def add(self, phase: int, order: tuple, op: Op, what: str | None = None) -> None:
        """``diff.add`` with the state the diff starts from: the undo is ``op.reverse(old)``."""
        self.diff.add(phase, order, op, self.old, what)

    def pos(self, *names) -> tuple:
        """The sort key of a change about the first of ``names`` that ``order`` knows:
        ``(position, name)``; ``(len(order), names[0])`` (after all of them) when none is known."""
        for n in names:
            if n in self.order:
                return (self.order[n], n)
        return (len(self.order), names[0] if names else "")

    def destructive(self, what: str) -> bool:
        """True when allowed; else records the refusal."""
        if self.allow_destructive:
            return True
        self.diff.errors.append(f"{what}: destructive, re-run with --allow-destructive to write it")
        return False


# ---------------------------------------------------------------------------
# comparators
# ---------------------------------------------------------------------------


def _config_change(name: str, old: dict, new: dict, ignore: tuple = ()) -> SetTopicConfig | None:
    set_ = {k: v for k, v in sorted(new.items()) if old.get(k) != v}
    unset = sorted(k for k in old if k not in new and k not in ignore)
    if not set_ and not unset:
        return None
    was = {k: old.get(k) for k in list(set_) + unset}
    return SetTopicConfig(name, set=set_, unset=unset, was=was)


def compare_topics(ctx: Context, dlq: bool, derived: bool = False) -> None:
    """Topics kctx creates (entity topics, or DLQ topics when ``dlq``), and with
    ``derived`` the sink topics of derived entities, which their query creates (compared
    after the queries: a sink topic a DROP ... DELETE TOPIC of this diff removes is new
    again, and the configs its model declares are set after its CREATE)."""
    d = ctx.diff
    phase = DLQ if dlq else TOPICS
    for name, nt in ctx.new.topics.items():
        if (nt.dlq_of is not None) != dlq or (nt.owner == "ksqldb" and not dlq) != derived:
            continue
        ot = None if name in ctx.dropped_topics else ctx.old.topics.get(name)
        pos = ctx.pos(nt.entity or name, name)
        label = f"topic {name}" + (f" (dead-letter queue of {nt.dlq_of})" if dlq else "")
        if ot is None:
            if nt.owner == "kctx":
                op = CreateTopic(name, int(nt.partitions or 1), int(nt.replicas or 1), dict(nt.configs))
                if dlq:
                    op.note = f"dead-letter queue of {nt.dlq_of}"
                ctx.add(phase, pos, op)
            else:  # created by its CREATE ... AS SELECT; then the configs the model declares
                change = _config_change(name, {}, nt.configs)
                if change is not None:
                    ctx.add(AFTER_DERIVED, pos, change)
            continue
        if nt.partitions is not None and ot.partitions is not None and nt.partitions != ot.partitions:
            if nt.partitions < ot.partitions:
                d.errors.append(f"{label}: partitions can only grow (the migrations give it {ot.partitions}, "
                                f"the model says {nt.partitions}); to shrink, create a new topic and migrate the data")
            else:
                ctx.add(phase, pos, AddPartitions(name, nt.partitions, was=ot.partitions), what=label)
        if nt.replicas is not None and ot.replicas is not None and nt.replicas != ot.replicas and nt.owner == "kctx":
            d.errors.append(f"{label}: replication factor change {ot.replicas} -> {nt.replicas} is not done by "
                            "migrations: reassign partitions with kafka-reassign-partitions, then update the model "
                            "or write the migration by hand")
        # on a ksqlDB sink topic only the declared configs are kctx's (ksqlDB sets others itself)
        old_configs = ot.configs if nt.owner == "kctx" else {k: v for k, v in ot.configs.items() if k in nt.configs}
        change = _config_change(name, old_configs, nt.configs)
        if change is not None:
            ctx.add(phase, pos, change)
    if not dlq:
        return
    # topics the migrations created that the models no longer have (DLQs and entity topics alike)
    for name, ot in ctx.old.topics.items():
        if name in ctx.new.topics or ot.owner != "kctx":
            continue
        if ctx.destructive(f"delete topic {name}"):
            was = {"partitions": ot.partitions, "replicas": ot.replicas, "configs": ot.configs}
            ctx.add(DELETE_TOPICS, (0, name), DeleteTopic(name, was=was))


def compare_compatibility(ctx: Context) -> None:
    """Subject compatibility levels: a ``set-compatibility`` for each subject of ``new`` whose
    level differs from the old subject's (a subject a DROP ... DELETE TOPIC of this diff
    removes has none), run after the query that registers it for a derived subject. A level
    the new state removes (None) goes back to the registry's global level."""
    for name, ns in ctx.new.subjects.items():
        os_ = ctx.old_subject(name)
        old_level = os_.compatibility if os_ else None
        if ns.compatibility == old_level:
            continue
        op = SetCompatibility(name, ns.compatibility, was=old_level, had_was=True)
        topic = name.rsplit("-", 1)[0]
        d_phase = AFTER_DERIVED if ns.derived else COMPAT
        ctx.add(d_phase, ctx.pos(_entity_of_topic(ctx, topic), topic) + (name,), op)


def compare_schemas(ctx: Context) -> None:
    """Schemas kctx registers (source entities); checked offline for compatibility with
    the subject's previous schemas at the entity's level."""
    from kctx_cli.avro.compat import check_compatibility

    for name, ns in ctx.new.subjects.items():
        if ns.derived:
            continue
        schema = ns.schemas[-1]
        os_ = ctx.old.subjects.get(name)
        topic = name.rsplit("-", 1)[0]
        pos = ctx.pos(_entity_of_topic(ctx, topic), topic) + (name,)
        if os_ is None or not os_.schemas:
            ctx.add(SCHEMAS, pos, RegisterSchema(name, schema, first=True))
            continue
        if schema in os_.schemas:
            # registered already (a reverted change: an older version): the registry would
            # answer with that version and keep the latest, so there is nothing to register;
            # services produce with it (runtime/codec.py looks the model's schema up)
            continue
        op = RegisterSchema(name, schema)
        level = ns.compatibility or "BACKWARD"
        result = check_compatibility(schema, os_.schemas, level,
                                     [f"version {i + 1}" for i in range(len(os_.schemas))])
        if not result.compatible:
            reasons = "; ".join(result.messages)
            if not ctx.destructive(f"{name}: the new schema is not {level}-compatible: {reasons}"):
                continue
            op.marked_destructive = True
            op.note = f"INCOMPATIBLE ({level}): {reasons}"
        ctx.add(SCHEMAS, pos, op)
    for name, os_ in ctx.old.subjects.items():
        if name in ctx.new.subjects or os_.derived:
            continue
        topic = name.rsplit("-", 1)[0]
        if topic in ctx.old.topics and ctx.old.topics[topic].owner == "ksqldb":
            continue  # dropped with its query's topic
        if ctx.destructive(f"delete subject {name}"):
            ctx.add(DELETE_SUBJECTS, (0, name), DeleteSubject(name))


def _columns(statement: str):
    from kctx_cli.ksql.dialect import parse_one, render

    tree = parse_one(statement)
    cols = [render(c) for c in tree.args.get("columns") or []]
    rest = tree.copy()
    rest.set("columns", None)
    return tree, cols, render(rest)


def compare_sources(ctx: Context) -> None:
    """Streams and tables declared over a topic (not derived)."""
    for name, ns in ctx.new.sources.items():
        if ns.derived:
            continue
        os_ = ctx.old.sources.get(name)
        pos = ctx.pos(name)
        if os_ is None:
            ctx.add(CREATE_SOURCE, pos, Ksql(ns.statement))
            continue
        if os_.statement == ns.statement:
            continue
        old_tree, old_cols, old_rest = _columns(os_.statement)
        new_tree, new_cols, new_rest = _columns(ns.statement)
        added = new_cols[len(old_cols):]
        extra = (new_tree.args.get("columns") or [])[len(old_cols):]
        if (os_.kind == ns.kind and old_rest == new_rest and new_cols[:len(old_cols)] == old_cols
                and not any(c.args.get("constraint") for c in extra)):
            alter = f"ALTER {ns.kind} {_q(name)} " + ", ".join(f"ADD COLUMN {c}" for c in added) + ";"
            ctx.add(CREATE_SOURCE, pos, Ksql(alter))
            continue
        if not ctx.destructive(f"{name}: the change cannot be made with ALTER ... ADD COLUMN; it needs DROP "
                               f"{os_.kind} {name} and CREATE again"):
            continue
        ctx.rebuild.update(_dependents(ctx.old, name))
        ctx.add(DROP_SOURCE, pos, Ksql(f"DROP {os_.kind} {_q(name)};"))
        ctx.add(CREATE_SOURCE, pos, Ksql(ns.statement))
    for name, os_ in ctx.old.sources.items():
        if name in ctx.new.sources or os_.derived:
            continue
        if not ctx.destructive(f"drop {os_.kind.lower()} {name}"):
            continue
        ctx.rebuild.update(_dependents(ctx.old, name))
        ctx.add(DROP_SOURCE, ctx.pos(name), Ksql(f"DROP {os_.kind} {_q(name)};"))


def compare_queries(ctx: Context) -> None:
    """Derived entities: CREATE ... AS SELECT; a changed query becomes CREATE OR REPLACE
    when ksqlDB can upgrade it in place, else DROP + CREATE (destructive: its topic is
    re-created from the query)."""
    new_derived = [(n, s) for n, s in ctx.new.sources.items() if s.derived]
    old_order = list(ctx.old.sources)
    written = []  # derived sources this diff creates or replaces
    for name, ns in new_derived:
        os_ = ctx.old.sources.get(name)
        pos = ctx.pos(name)
        if os_ is not None and os_.derived and os_.statement == ns.statement and name not in ctx.rebuild:
            continue
        if os_ is None:
            ctx.add(CREATE_DERIVED, pos, Ksql(ns.statement))
        elif name not in ctx.rebuild and (why := _not_replaceable(ctx, name, os_, ns)) is None:
            ctx.add(CREATE_DERIVED, pos, Ksql("CREATE OR REPLACE " + ns.statement[len("CREATE "):]))
        else:
            why = "a source it reads is re-created" if name in ctx.rebuild else why
            if not ctx.destructive(f"{name}: its query cannot be replaced in place ({why}); it must be dropped "
                                   "and re-created with its topic"):
                continue
            drop = Ksql(f"DROP {os_.kind} {_q(name)} DELETE TOPIC;")
            drop.note = f"{name} is re-created: {why}"
            ctx.add(DROP_DERIVED, (-old_order.index(name), name), drop)
            ctx.dropped_topics.add(os_.topic)
            ctx.add(CREATE_DERIVED, pos, Ksql(ns.statement))
        written.append(ns)
    for name, os_ in ctx.old.sources.items():
        if name in ctx.new.sources or not os_.derived:
            continue
        if not ctx.destructive(f"drop {os_.kind.lower()} {name} and its topic {os_.topic}"):
            continue
        ctx.add(DROP_DERIVED, (-old_order.index(name), name), Ksql(f"DROP {os_.kind} {_q(name)} DELETE TOPIC;"))
        ctx.dropped_topics.add(os_.topic)  # with its subjects: see Context.old_subject
    for ns in written:  # after every drop is known: a dropped topic's subjects are gone
        _derived_schemas(ctx, ns)


def _derived_schemas(ctx: Context, ns) -> None:
    for suffix in ("-key", "-value"):
        subject = ns.topic + suffix
        s = ctx.new.subjects.get(subject)
        old = ctx.old_subject(subject)
        if s is not None and not (old and old.schemas and old.schemas[-1] == s.schemas[-1]):
            ctx.add(AFTER_DERIVED, ctx.pos(ns.entity or "") + (subject, 0), DerivedSchema(subject, s.schemas[-1]))


def _not_replaceable(ctx: Context, name: str, os_, ns) -> str | None:
    """Why ksqlDB's CREATE OR REPLACE would refuse the change (None: it accepts it).
    ksqlDB upgrades a query in place when the kind and the shape (sources, joins,
    grouping, windowing, partitioning) stay and existing columns keep their types."""
    from kctx_cli.avro.compat import check_compatibility
    from kctx_cli.ksql.dialect import parse_one, render

    if os_.kind != ns.kind:
        return f"it changes from a {os_.kind} to a {ns.kind}"
    old_q, new_q = parse_one(os_.statement).expression, parse_one(ns.statement).expression
    for part in ("from_", "joins", "group", "window", "partition_by"):
        a, b = old_q.args.get(part), new_q.args.get(part)
        ra = render(a) if hasattr(a, "sql") else [render(x) for x in a or []]
        rb = render(b) if hasattr(b, "sql") else [render(x) for x in b or []]
        if ra != rb:
            return {"from_": "its FROM changes", "joins": "its joins change", "group": "its GROUP BY changes",
                    "window": "its window changes", "partition_by": "its PARTITION BY changes"}[part]
    for suffix in ("-value", "-key"):
        subject = ns.topic + suffix
        old_s, new_s = ctx.old.subjects.get(subject), ctx.new.subjects.get(subject)
        if old_s and old_s.schemas and new_s and new_s.schemas:
            result = check_compatibility(new_s.schemas[-1], old_s.schemas, "BACKWARD")
            if not result.compatible:
                return f"its output schema is not backward compatible: {result.messages[0]}"
            old_fields = _field_types(old_s.schemas[-1])
            new_fields = _field_types(new_s.schemas[-1])
            for f, t in old_fields.items():
                if new_fields.get(f) != t:
                    return f"column {f} is removed or changes type"
    return None


def _field_types(schema) -> dict:
    if isinstance(schema, dict) and schema.get("type") == "record":
        return {f["name"]: f["type"] for f in schema["fields"]}
    return {"": schema}


def _dependents(state: State, name: str) -> set[str]:
    """Derived sources reading ``name`` directly or through others (from their statements)."""
    from kctx_cli.derive.order import dependents

    return dependents({n: s.statement for n, s in state.sources.items() if s.derived}, name)


def _entity_of_topic(ctx: Context, topic: str) -> str:
    t = ctx.new.topics.get(topic)
    return (t.entity if t and t.entity else topic)


def _q(name: str) -> str:
    from kctx_cli.ksql.dialect import quote_name  # sqlglot only when a statement is written

    return quote_name(name)


COMPARATORS = (
    ("topics", lambda ctx: compare_topics(ctx, dlq=False)),
    ("sources", compare_sources),  # before queries: it decides which queries are rebuilt
    ("queries", compare_queries),
    ("derived topics", lambda ctx: compare_topics(ctx, dlq=False, derived=True)),  # after queries: see there
    ("dlq", lambda ctx: compare_topics(ctx, dlq=True)),
    ("compatibility", compare_compatibility),
    ("schemas", compare_schemas),
)


def compare_schema_versions(ctx: Context) -> None:
    """Drift of the subjects kctx registers (``kctx repair``, ``kctx plan``): every version
    ``new`` holds (oldest first) must be registered and no other; a version registered by
    hand is deleted (destructive), a missing one registered again. Subjects ksqlDB registers
    (``derived``) are its own. The model diff (``compare_schemas``) looks at the latest
    version only and checks compatibility instead."""
    for name, ns in ctx.new.subjects.items():
        if ns.derived or not ns.schemas:
            continue
        os_ = ctx.old_subject(name)
        live = list(os_.schemas) if os_ else []
        topic = name.rsplit("-", 1)[0]
        pos = ctx.pos(_entity_of_topic(ctx, topic), topic) + (name,)
        for schema in live:
            if schema not in ns.schemas and ctx.destructive(f"{name}: a schema version no migration registered"):
                op = DeleteSchema(name, schema)
                op.note = "registered outside the migrations"
                ctx.add(SCHEMAS, pos + (0,), op)
        for schema in ns.schemas:
            if schema not in live:
                op = RegisterSchema(name, schema, first=not live)
                ctx.add(SCHEMAS, pos + (1,), op)
                live.append(schema)


COMPARATORS_DRIFT = tuple(c if c[0] != "schemas" else ("schema versions", compare_schema_versions)
                          for c in COMPARATORS)


def diff(old: State, new: State, *, allow_destructive: bool = False, order: list[str] | None = None,
         comparators=COMPARATORS) -> Diff:
    """The operations taking ``old`` to ``new`` (see the module docstring). ``order``: names
    in dependency order (``entity_order``); ``comparators``: ``COMPARATORS`` (models vs the
    migrations) or ``COMPARATORS_DRIFT`` (the live cluster vs the applied migrations)."""
    d = Diff()
    names = order or list(new.sources)
    ctx = Context(old, new, allow_destructive, d, {n: i for i, n in enumerate(names)})
    for _, compare in comparators:
        compare(ctx)
    d.changes.sort(key=lambda c: (c.phase, c.order))
    removed = [n for n in old.sources if n not in new.sources]
    added = [n for n in new.sources if n not in old.sources]
    if removed and added:
        d.notes.append(f"removed {', '.join(removed)} and added {', '.join(added)}: kctx never guesses renames, "
                       "this migration drops and creates; if it is a rename, edit it by hand")
    return d


def entity_order(project) -> list[str]:
    """Names (entity, source and topic) in the models' dependency order, for sorting."""
    from kctx_cli.derive.ddl import ordered

    out = []
    for info in ordered(project):
        out.extend([info.source_name, info.name, info.topic])
    return out

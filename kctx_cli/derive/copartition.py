"""Co-partitioning of joins: ksqlDB refuses a join whose two sides have different
partition counts; ``kctx validate`` reports it offline, with ksqlDB's own message.

Rules (ksqlDB reference "Partition Data to Enable Joins", section "Records Have the Same
Number of Partitions" — ``/work/shared/ksqldb-docs/reference/partition-data.md`` — and
"Join Streams and Tables", section "Co-partitioned data"; the details below were checked
against ksqlDB 8.1.5's ``JoinNode``/``LogicalPlanner`` source and its running server):

* stream-stream, stream-table and table-table primary-key joins need the same partition
  count on both sides; foreign-key table-table joins do not;
* a side joined on something other than its key is repartitioned by ksqlDB, and the
  repartition keeps the partition count of the source repartitioned (``PreJoinRepartitionNode``
  reports its source's count): the comparison is still between the sources' counts;
* a multi-way join is a left-deep tree, ``((A JOIN B) JOIN C)``; each step is checked, the
  outermost (last) join first; the partition count ksqlDB gives an intermediate result is
  that of its **right** input (``JoinNode.getPartitions``; observed on the 8.1.5 server:
  ``T6 JOIN T3 ON T6.FK = T3.ID JOIN T3B ON T6.ID = T3B.ID`` with 6/3/3 partitions is
  accepted, with a 6-partition T3B refused with "`T6` partitions = 3"); after a
  primary-key join both inputs have the same count, so this only shows after a foreign-key
  join; the message names the left-most source (its alias) for the left side;
* a derived source (CSAS/CTAS) has its own ``PARTITIONS`` (``Meta.partitions``) when given,
  else the partition count of the topic of its FROM source (ksqlDB's ``TopicCreateInjector``);
* a partition count kctx cannot know (a topic created outside kctx, a source missing from
  the models or the migrations) is never guessed: nothing is reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

CODE = "join-partitions"


@dataclass(frozen=True)
class JoinStep:
    """One join of a left-deep join tree, as the co-partitioning check sees it.

    ``right``: the joined source as ksqlDB names it in messages (its alias, else its name);
    ``partitions``: its partition count, None when unknown;
    ``foreign_key``: True for a foreign-key table-table join (never checked), False for a
    join that must be co-partitioned, None when kctx cannot tell (not checked either).
    """

    right: str
    partitions: int | None
    foreign_key: bool | None


def message(left: str, left_partitions: int, right: str, right_partitions: int) -> str:
    """ksqlDB 8.1.5's text for a refused join (``JoinNode.ensureMatchingPartitionCounts``).

    ``left``/``right``: source names or aliases as ksqlDB shows them (upper-cased unless
    quoted), without backticks; the counts are the two sides' partition counts.
    """
    lq, rq = f"`{left}`", f"`{right}`"
    return (f"Can't join {lq} with {rq} since the number of partitions don't match. "
            f"{lq} partitions = {left_partitions}; {rq} partitions = {right_partitions}. "
            "Please repartition either one so that the number of partitions match.")


def first_mismatch(left: str, left_partitions: int | None, steps: Sequence[JoinStep]) -> str | None:
    """The message of the join ksqlDB would refuse first in ``FROM left JOIN steps...``,
    or None when every checked step is co-partitioned (or its counts are unknown).

    ``left``: the FROM source's name or alias; ``left_partitions``: its count (None:
    unknown); ``steps``: the joins in statement order. The outermost join is checked first
    and an intermediate result has the partition count of its right input (module
    docstring). Raises nothing.
    """
    inputs = [left_partitions] + [s.partitions for s in steps]  # inputs[i]: left input of step i
    for i in reversed(range(len(steps))):
        step = steps[i]
        if step.foreign_key is not False:
            continue
        lp, rp = inputs[i], step.partitions
        if lp is None or rp is None or lp == rp:
            continue
        return message(left, lp, step.right, rp)
    return None


# ---------------------------------------------------------------------------
# models: derived entities' Meta.query
# ---------------------------------------------------------------------------


def entity_partitions(info, resolver, by_cls: dict) -> int | None:
    """The partition count of an entity's topic as the models declare it.

    ``info``: an ``EntityInfo``; ``resolver``: a ``kctx_cli.derive.schema.Resolver`` (builds
    queries once); ``by_cls``: {entity class: EntityInfo} of the project. Source entities
    have ``Meta.partitions`` (the project's default_partitions when not set); a derived
    entity has its own ``Meta.partitions`` (rendered as PARTITIONS) when set, else the count
    of its FROM entity, recursively. None when unknown (a broken query, a cycle, a source
    outside the project). Raises nothing.
    """
    seen: set = set()
    while info is not None and info.cls not in seen:
        if info.partitions is not None:
            return int(info.partitions)
        if not info.derived:
            return None
        seen.add(info.cls)
        try:
            q = resolver.query_of(info)
        except Exception:  # noqa: BLE001 - a broken query is reported by the other checks
            return None
        info = by_cls.get(getattr(q, "source", None))
    return None


def query_mismatch(info, resolver, by_cls: dict) -> str | None:
    """ksqlDB's message for the first join of a derived entity's ``Meta.query`` that it
    would refuse because the sides' partition counts differ, else None.

    ``info``: a derived ``EntityInfo``; ``resolver``/``by_cls`` as for ``entity_partitions``.
    Joins kctx cannot classify (no equality, a table joined on a non-key, a table joined
    with a stream, an unknown kind) are left to the query checks and not compared here.
    Raises nothing.
    """
    try:
        return _query_mismatch(info, resolver, by_cls)
    except Exception:  # noqa: BLE001 - a broken query is reported by the other checks
        return None


def _query_mismatch(info, resolver, by_cls: dict) -> str | None:
    from kctx_cli.query import expr as E

    q = resolver.query_of(info)
    if not getattr(q, "joins", None) or q.source not in by_cls:
        return None

    def kind(cls):
        i = by_cls.get(cls)
        return resolver.kind(i) if i is not None else None

    # a source is an entity class or an aliased entity (Select.sources): columns belong to it
    def entity(src):
        return src._entity if isinstance(src, E.Aliased) else src

    def is_key(e, src) -> bool:
        keys = entity(src).__kctx__.keys
        return isinstance(e, E.Column) and E.source_of(e) == src and len(keys) == 1 and keys[0].name == e.name

    def owners(e) -> set:
        return {E.source_of(n) for n in E.walk(e) if isinstance(n, E.Column)}

    scope = [q.sources[0]]
    steps: list[JoinStep] = []
    for j in q.joins:
        right = j.source
        right_info = by_cls.get(j.entity)
        fk: bool | None = None
        kinds = [kind(entity(c)) for c in scope]
        rkind = kind(j.entity)
        on = j.on
        if right_info is not None and None not in kinds and rkind is not None \
                and isinstance(on, E.BinaryOp) and on.op == "=":
            lkind = "STREAM" if "STREAM" in kinds else "TABLE"
            sides = (on.left, on.right)
            own = [owners(s) for s in sides]
            if own[0] == {right} and right not in own[1]:
                right_expr, left_expr = sides
            elif own[1] == {right} and right not in own[0]:
                left_expr, right_expr = sides
            else:
                right_expr = left_expr = None
            if right_expr is not None:
                if lkind == "STREAM":
                    fk = False if rkind == "STREAM" or is_key(right_expr, right) else None
                elif rkind == "TABLE" and is_key(right_expr, right):
                    owner = next(iter(owners(left_expr)), None)
                    fk = not (owner is not None and is_key(left_expr, owner))
        parts = entity_partitions(right_info, resolver, by_cls) if right_info is not None else None
        # ksqlDB names a source by its alias in the message
        name = j.alias._name if j.alias is not None else right_info.source_name if right_info else j.entity.__name__
        steps.append(JoinStep(name, parts, fk))
        scope.append(right)
    left_info = by_cls[q.source]
    left = q.source_alias._name if q.source_alias is not None else left_info.source_name
    return first_mismatch(left, entity_partitions(left_info, resolver, by_cls), steps)


# ---------------------------------------------------------------------------
# migration files: CREATE ... AS SELECT / INSERT INTO ... SELECT with joins
# ---------------------------------------------------------------------------


@dataclass
class _Known:
    """What the replayed migrations say about one source (for the statement check)."""

    kind: str
    partitions: int | None
    keys: tuple[str, ...] | None  # key column names; None: unknown
    columns: tuple[str, ...] | None  # every column name; None: unknown


class MigrationPartitions:
    """Follows the migration steps over a replayed ``State`` and knows every source's
    partition count (create-topic / add-partitions operations, PARTITIONS in WITH, a
    CSAS/CTAS without PARTITIONS: its FROM source's count).

    Use: for each step in order, ``check(tree)`` before replaying it, ``after(tree,
    topics_before)`` after ``op.replay(state)``. ``state``: a ``kctx_cli.migrations.state.State``.
    """

    def __init__(self, state):
        self.state = state
        self.derived: dict[str, int] = {}  # topic -> count ksqlDB gave a CSAS/CTAS sink

    # -- what a source is ---------------------------------------------------------
    def partitions(self, source_name: str) -> int | None:
        """The partition count of a source's topic, None when unknown."""
        src = self.state.sources.get(source_name)
        if src is None:
            return None
        t = self.state.topics.get(src.topic)
        if t is not None and t.partitions is not None:
            return int(t.partitions)
        return self.derived.get(src.topic)

    def known(self, source_name: str, _depth: int = 0) -> _Known | None:
        """Kind, partitions, key and column names of a source of the replayed state."""
        from kctx_cli.ksql import nodes as k
        from kctx_cli.ksql.dialect import parse_one

        src = self.state.sources.get(source_name)
        if src is None or _depth > 20:
            return None
        try:
            tree = parse_one(src.statement)
        except Exception:  # noqa: BLE001 - an odd stored statement: nothing is known
            return None
        keys: tuple[str, ...] | None = None
        columns: tuple[str, ...] | None = None
        query = tree.args.get("expression")
        if isinstance(query, k.Query):
            keys, columns = self._derived_columns(query, _depth)
        elif tree.args.get("columns"):
            defs = tree.args["columns"]
            columns = tuple(c.this.this for c in defs)
            keys = tuple(c.this.this for c in defs if c.args.get("constraint") in ("KEY", "PRIMARY KEY"))
        return _Known(src.kind, self.partitions(source_name), keys, columns)

    def _derived_columns(self, query, depth: int) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """(key names, column names) of a CSAS/CTAS result when they are plain to see:
        GROUP BY / PARTITION BY columns, or a single source's key carried through the
        projection or ``SELECT *`` (ksqlDB "Keys" in partition-data.md); None for what
        is not (joins, generated column names)."""
        from sqlglot import exp

        from kctx_cli.ksql import nodes as k

        items = list(query.expressions)
        plain = not (query.args.get("joins") or query.args.get("group") or query.args.get("partition_by"))
        frm = query.args.get("from_") or query.args.get("from")
        table = frm.this if frm is not None else None
        from_name = table.this.this if isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier) \
            else None
        if len(items) == 1 and isinstance(items[0], exp.Star) and plain and from_name is not None:
            src = self.known(from_name, depth + 1)  # SELECT * FROM one source: its key and columns
            return (src.keys, src.columns) if src is not None else (None, None)
        if any(isinstance(i, exp.Star) or (isinstance(i, exp.Column) and isinstance(i.this, exp.Star))
               for i in items):
            return None, None
        names: list[str] = []
        selected: dict[str, str] = {}  # source column name -> output name, for plain columns
        for i in items:
            inner = i.this if isinstance(i, exp.Alias) else i
            if isinstance(i, exp.Alias):
                name = i.alias
            elif isinstance(inner, exp.Column) and isinstance(inner.this, exp.Identifier):
                name = inner.this.this
            else:
                return None, None  # a generated KSQL_COL_n name: not worth guessing
            names.append(name)
            if isinstance(inner, exp.Column) and isinstance(inner.this, exp.Identifier):
                selected.setdefault(inner.this.this, name)
        group = query.args.get("group")
        pby = query.args.get("partition_by")
        by = (group.expressions if group is not None else pby.expressions if isinstance(pby, k.PartitionBy)
              else None)
        if by is not None:
            if not all(isinstance(e, exp.Column) and isinstance(e.this, exp.Identifier) for e in by):
                return None, tuple(names)
            keys = tuple(selected.get(e.this.this, e.this.this) for e in by)
            return keys, tuple(names)
        if query.args.get("joins") or from_name is None:
            return None, tuple(names)
        src = self.known(from_name, depth + 1)
        if src is None or src.keys is None:
            return None, tuple(names)
        if not all(key in selected for key in src.keys):
            return None, tuple(names)
        return tuple(selected[key] for key in src.keys), tuple(names)

    # -- the check ------------------------------------------------------------------
    def check(self, tree) -> str | None:
        """ksqlDB's message when the statement's query joins sources with different
        partition counts (in the state as replayed so far), else None.

        ``tree``: a parsed statement (``kctx_cli.ksql.nodes``); only CREATE ... AS SELECT
        and INSERT INTO ... SELECT with joins are looked at. Raises nothing.
        """
        try:
            return self._check(tree)
        except Exception:  # noqa: BLE001 - an unusual tree: nothing is known, nothing is said
            return None

    def _check(self, tree) -> str | None:
        from sqlglot import exp

        from kctx_cli.ksql import nodes as k

        if not isinstance(tree, (k.CreateSource, k.InsertInto)):
            return None
        if isinstance(tree, k.CreateSource) and tree.args.get("exists") and tree.this is not None \
                and tree.this.this in self.state.sources:
            return None  # CREATE ... IF NOT EXISTS of an existing source: ksqlDB runs nothing
        query = tree.args.get("expression")
        if not isinstance(query, k.Query) or not query.args.get("joins"):
            return None
        frm = query.args.get("from_") or query.args.get("from")
        relations = [frm.this if frm is not None else None] + [j.this for j in query.args["joins"]]
        scope: list[tuple[str, _Known | None]] = []  # (alias, what is known)
        for rel in relations:
            if not isinstance(rel, exp.Table) or not isinstance(rel.this, exp.Identifier):
                return None
            name = rel.this.this
            alias = rel.alias or name
            scope.append((alias, self.known(name)))
        left_alias, left = scope[0]
        steps: list[JoinStep] = []
        for n, j in enumerate(query.args["joins"], start=1):
            right_alias, right = scope[n]
            fk = self._classify(j, scope[:n], (right_alias, right))
            steps.append(JoinStep(right_alias, right.partitions if right else None, fk))
        return first_mismatch(left_alias, left.partitions if left else None, steps)

    def _classify(self, join, before, right) -> bool | None:
        """False: a join that must be co-partitioned; True: a foreign-key join; None:
        unknown (or a join ksqlDB refuses for another reason)."""
        from sqlglot import exp

        right_alias, rk = right
        if rk is None or any(kn is None for _, kn in before):
            return None
        on = join.args.get("on")
        if not isinstance(on, exp.EQ):
            return None
        every = before + [right]

        def owner(e) -> tuple[str, _Known] | None:
            if not (isinstance(e, exp.Column) and isinstance(e.this, exp.Identifier)):
                return None
            col = e.this.this
            if e.table:
                return next(((a, kn) for a, kn in every if a == e.table), None)
            found = [(a, kn) for a, kn in every if kn.columns is not None and col in kn.columns]
            if len(found) == 1 and all(kn.columns is not None for _, kn in every):
                return found[0]
            return None

        def side_of(e) -> str | None:
            """'right' / 'left' when every column of e belongs to that side."""
            cols = [c for c in e.find_all(exp.Column)]
            if not cols:
                return None
            owned = [owner(c) for c in cols]
            if any(o is None for o in owned):
                return None
            if all(a == right_alias for a, _ in owned):
                return "right"
            if all(a != right_alias for a, _ in owned):
                return "left"
            return None

        a, b = on.this, on.expression
        sa, sb = side_of(a), side_of(b)
        if (sa, sb) == ("right", "left"):
            right_expr, left_expr = a, b
        elif (sa, sb) == ("left", "right"):
            left_expr, right_expr = a, b
        else:
            return None

        def is_key(e) -> bool | None:
            o = owner(e)
            if o is None:
                return False if not isinstance(e, exp.Column) else None
            keys = o[1].keys
            if keys is None:
                return None
            return len(keys) == 1 and keys[0] == e.this.this

        lkind = "STREAM" if any(kn.kind == "STREAM" for _, kn in before) else "TABLE"
        if lkind == "STREAM":
            if rk.kind == "STREAM":
                return False
            return False if is_key(right_expr) is not False else None
        if rk.kind != "TABLE" or is_key(right_expr) is not True:
            return None
        left_key = is_key(left_expr)
        return None if left_key is None else not left_key

    def after(self, tree, topics_before) -> None:
        """Record what a replayed statement did to partition counts: a CSAS/CTAS whose
        sink topic it created without PARTITIONS gives it its FROM source's count; a topic
        that existed before keeps its count (ksqlDB only creates missing topics); deleted
        topics are forgotten. ``tree``: the statement just replayed; ``topics_before``: the
        state's topic names before it. Raises nothing."""
        try:
            self._after(tree, topics_before)
        except Exception:  # noqa: BLE001 - unknown counts stay unknown
            pass

    def _after(self, tree, topics_before) -> None:
        from sqlglot import exp

        from kctx_cli.ksql import nodes as k

        if isinstance(tree, k.CreateSource):
            src = self.state.sources.get(tree.this.this if tree.this is not None else None)
            query = tree.args.get("expression")
            if src is not None and src.topic not in topics_before:
                self.derived.pop(src.topic, None)
                t = self.state.topics.get(src.topic)
                if isinstance(query, k.Query) and t is not None and t.partitions is None:
                    frm = query.args.get("from_") or query.args.get("from")
                    table = frm.this if frm is not None else None
                    if isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier):
                        parts = self.partitions(table.this.this)
                        if parts is not None:
                            self.derived[src.topic] = parts
        for topic in [t for t in self.derived if t not in self.state.topics]:
            del self.derived[topic]

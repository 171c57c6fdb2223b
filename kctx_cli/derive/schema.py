"""What a query produces: its kind (STREAM/TABLE), its output columns with types and
key flags, and the problems ksqlDB would reject it for.

Rules follow ksqlDB's reference (create-stream-as-select, create-table-as-select,
join-streams-and-tables, data-types):

* kind: GROUP BY, an aggregate or a WINDOW make a TABLE; a join of two tables or a
  plain projection of a table is a TABLE; everything else is a STREAM.
* key: GROUP BY expressions, else PARTITION BY expressions, else the join key
  (a foreign-key join keeps the left table's key; otherwise one of the columns the
  last join's key equals, see ``viable_join_keys``; FULL joins and joins on
  expressions have the synthetic ROWKEY), else the FROM source's key. Key columns
  must be in the projection; they come first, in GROUP BY / PARTITION BY / source
  key order.
* names: the alias, else the column (or struct field) name, else KSQL_COL_<n> (n
  counts generated names; see ``_AliasGenerator``). In a join, a column whose name
  more than one source has is <SOURCE>_<COLUMN> (ksqlDB's functional tests: fk-join
  "... - with aliases", multi-joins; ksqlDB's AstSanitizer: only clashing names are
  prefixed).
* windowed results also carry WINDOWSTART and WINDOWEND (BIGINT).
* arithmetic promotion INT < BIGINT < DECIMAL < DOUBLE; DECIMAL results use ksqlDB's
  precision/scale rules; comparisons need compatible types and give BOOLEAN.
* nothing converts between CASE branches or between join columns: they need one type;
  functions resolve as ksqlDB's UdfIndex does (kctx_cli.query.functions).
* every rule here is checked against the real ksqlDB 8.1.5 by tests/test_query_vs_ksqldb.py.
"""
from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field

from kctx_cli import sqltypes as T
from kctx_cli.model.entity import EntityInfo
from kctx_cli.sqltypes import SqlType, decimal_literal_type
from kctx_cli.query import expr as E
from kctx_cli.query.functions import INT_RANGE, FunctionTypeError, decimal_of, result_type
from kctx_cli.query.select import Select


@dataclass
class OutColumn:
    """One output column of a query: ``name`` as ksqlDB names it (see the module), ``type``
    (None when unknown), ``key`` (a key column), ``expr`` the DSL expression it comes from
    (kctx_cli.query.expr, the alias unwrapped; None for WINDOWSTART / WINDOWEND) and
    ``system`` for those two."""
    name: str
    type: SqlType | None  # None: unknown (an unlisted function, a NULL literal)
    key: bool = False
    expr: object = None
    system: bool = False  # WINDOWSTART / WINDOWEND of a windowed result


@dataclass
class Analysis:
    """What ``analyze`` found for one query: ``kind`` STREAM / TABLE (None when a source's kind
    is unknown), ``columns`` in ksqlDB's order (keys first), ``windowed`` (rows carry
    WINDOWSTART / WINDOWEND), ``problems`` as ``(code, message)`` pairs, ``sources`` the
    entity classes read (FROM, then joins) and ``fk_join`` (a join of the query is a
    foreign-key table-table join)."""
    kind: str | None
    columns: list[OutColumn]
    windowed: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    sources: list[type] = field(default_factory=list)
    fk_join: bool = False

    @property
    def keys(self) -> list[OutColumn]:
        """The key columns, in order."""
        return [c for c in self.columns if c.key]

    def column(self, name: str) -> OutColumn | None:
        """The output column named ``name`` (exact, upper-case as ksqlDB names it), or None."""
        return next((c for c in self.columns if c.name == name), None)


class QueryProblem(Exception):
    """A query ksqlDB would refuse, found before the analysis could go on: ``code`` is the
    stable code of the Problem it becomes (``bad-query``, ``bad-literal``, ...), the message
    says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


ARITH = {"+", "-", "*", "/", "%"}
RESERVED_ALIASES = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")
COMPARE = {"=", "<>", "<", "<=", ">", ">="}


def _entity(src) -> type:
    """The entity class of a query source (an ``Aliased`` or the class itself)."""
    return src._entity if isinstance(src, E.Aliased) else src


def _label(src) -> str:
    """A query source in messages: its alias, else its class name."""
    return src._name if isinstance(src, E.Aliased) else src.__name__


def _prefix(src) -> str:
    """The name ksqlDB gives a source in a join's column names and messages: its alias,
    else its ksqlDB name (``O_ID``, ``ORDERS_ID``)."""
    return src._name if isinstance(src, E.Aliased) else src.__kctx__.source_name


def describe(e) -> str:
    """Short text of an expression for messages, in the DSL's own terms."""
    if isinstance(e, E.Column):
        return repr(e)
    if isinstance(e, E.Deref):
        return f"{describe(e.base)}.{e.member}"
    if isinstance(e, E.Literal):
        return repr(e.value) if not isinstance(e.value, decimal.Decimal) else str(e.value)
    if isinstance(e, E.BinaryOp):
        return f"{describe(e.left)} {e.op} {describe(e.right)}"
    if isinstance(e, E.UnaryOp):
        return f"{e.op} {describe(e.operand)}" if e.op == "NOT" else f"-{describe(e.operand)}"
    if isinstance(e, E.Func):
        return f"{e.name}({', '.join(describe(a) for a in e.args)})"
    if isinstance(e, E.Star):
        return "*"
    if isinstance(e, E.Alias):
        return describe(e.expr)
    if isinstance(e, E.Pseudo):
        return e.name
    if isinstance(e, E.Cast):
        return f"CAST({describe(e.operand)} AS {e.to.ksql()})"
    if isinstance(e, E.Case):
        return "CASE ..."
    return type(e).__name__


def _tn(t: SqlType | None) -> str:
    return t.ksql() if t is not None else "unknown"


def literal_type(v) -> SqlType | None:
    """The ksqlDB type of a Python literal: None -> None (untyped NULL), bool BOOLEAN, int INT
    within INT's range else BIGINT, float DOUBLE, Decimal the DECIMAL(precision, scale) it is
    rendered as (``decimal_literal_type``), str STRING. QueryProblem (``bad-literal``) for a
    non-finite Decimal or any other type."""
    if v is None:
        return None
    if isinstance(v, bool):
        return T.BOOLEAN
    if isinstance(v, int):
        return T.INT if INT_RANGE[0] <= v <= INT_RANGE[1] else T.BIGINT
    if isinstance(v, float):
        return T.DOUBLE
    if isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise QueryProblem("bad-literal", f"unsupported literal {v!r}: a DECIMAL must be finite")
        return decimal_literal_type(v)
    if isinstance(v, str):
        return T.STRING
    raise QueryProblem("bad-literal", f"unsupported literal {v!r} ({type(v).__name__}): use str, int, float, Decimal, bool or None")


def promote(op: str, a: SqlType, b: SqlType) -> SqlType:
    """Result type of ``a op b`` for numeric a, b (ksqlDB's arithmetic rules)."""
    if "DOUBLE" in (a.name, b.name):
        return T.DOUBLE
    if a.name == "DECIMAL" or b.name == "DECIMAL":
        a, b = decimal_of(a), decimal_of(b)
        p1, s1, p2, s2 = a.precision, a.scale, b.precision, b.scale
        if op in ("+", "-"):
            s = max(s1, s2)
            return T.decimal_type(s + max(p1 - s1, p2 - s2) + 1, s)
        if op == "*":
            return T.decimal_type(p1 + p2 + 1, s1 + s2)
        if op == "/":
            s = max(6, s1 + p2 + 1)
            return T.decimal_type(p1 - s1 + s2 + s, s)
        s = max(s1, s2)  # %
        return T.decimal_type(min(p1 - s1, p2 - s2) + s, s)
    if "BIGINT" in (a.name, b.name):
        return T.BIGINT
    return T.INT


_TEMPORAL = ("TIMESTAMP", "DATE", "TIME")


_COMPLEX = ("ARRAY", "MAP", "STRUCT")


def comparable(a: SqlType | None, b: SqlType | None, op: str = "<") -> bool:
    """Whether ksqlDB compares ``a op b`` (its ComparisonUtil, as the real 8.1.5 answers):
    numbers with numbers, a date/time/timestamp with a string, TIMESTAMP with DATE, and
    otherwise equal base types; BOOLEAN, ARRAY, MAP and STRUCT only with = and <> (ARRAY =
    ARRAY compares whatever the element types)."""
    if a is None or b is None:
        return True
    if a.is_numeric and b.is_numeric:
        return True
    if a.name in _TEMPORAL and b.name == "STRING" or b.name in _TEMPORAL and a.name == "STRING":
        return True  # ksqlDB compares a timestamp with a string literal
    if a.name == "TIMESTAMP" and b.name == "DATE" or a.name == "DATE" and b.name == "TIMESTAMP":
        return True
    if a.name != b.name:
        return False
    return op in ("=", "<>") or a.name not in _COMPLEX + ("BOOLEAN",)


def _magic_time(a, b) -> bool:
    """ROWTIME, WINDOWSTART or WINDOWEND compared with a string literal: ksqlDB reads the
    string as a timestamp (corpus magic-timestamp-conversion.json)."""
    for x, y in ((a, b), (b, a)):
        if isinstance(x, E.Pseudo) and x.name in ("ROWTIME", "WINDOWSTART", "WINDOWEND") \
                and isinstance(y, E.Literal) and isinstance(y.value, str):
            return True
    return False


_BOOLEAN_WORDS = {"true", "false", "t", "f", "yes", "no", "y", "n"}


def in_list_compatible(t: SqlType | None, value, vt: SqlType | None) -> bool:
    """Whether ksqlDB takes ``value`` (of type ``vt``) in ``x IN (...)`` for an ``x`` of type
    ``t`` (its CoercionUtil.coerceUserList, as the real 8.1.5 answers): same types, numbers,
    a string literal that parses as the number / boolean / date, a number or boolean
    literal for a STRING, STRING with TIMESTAMP; not DATE with TIMESTAMP, not a string
    literal for a TIMESTAMP, TIME or BYTES."""
    if t is None or vt is None:
        return True
    if t.name == vt.name:
        return True
    if t.is_numeric and vt.is_numeric:
        return True
    literal = value.value if isinstance(value, E.Literal) else None
    if isinstance(literal, str):
        if t.is_numeric:
            try:
                return decimal.Decimal(literal.strip()).is_finite()
            except decimal.InvalidOperation:
                return False
        if t.name == "BOOLEAN":
            return literal.strip().lower() in _BOOLEAN_WORDS
        return t.name in ("STRING", "DATE")
    if isinstance(value, E.Literal) and t.name == "STRING" and vt.name in ("INT", "BIGINT", "DOUBLE", "DECIMAL", "BOOLEAN"):
        return True
    return {t.name, vt.name} == {"STRING", "TIMESTAMP"}


class Resolver:
    """Analyses derived entities once each, following references between them."""

    def __init__(self, entities: list[EntityInfo] | None = None):
        self._cache: dict[type, Analysis] = {}
        self._queries: dict[type, object] = {}
        self._active: list[type] = []
        self.entities = entities

    def query_of(self, info: EntityInfo):
        """The entity's query (``info.query()``: the Select its ``Meta.query`` builds), built once;
        whatever the user's query function raises propagates."""
        if info.cls not in self._queries:
            self._queries[info.cls] = info.query()
        return self._queries[info.cls]

    def kind(self, info: EntityInfo) -> str | None:
        """The entity's kind: declared, else inferred from its query."""
        if info.kind:
            return info.kind
        if not info.derived or info.cls in self._active:
            return None
        self._active.append(info.cls)
        try:
            return query_kind(self.query_of(info), self)
        except Exception:  # noqa: BLE001 - a broken query is reported by the checks
            return None
        finally:
            self._active.pop()

    def analysis(self, info: EntityInfo) -> Analysis:
        """The ``Analysis`` of derived entity ``info``, computed once (references to other derived
        entities analyse those first). QueryProblem when the query is not a ``select(...)`` or
        has an unsupported literal; the user's query function's own exceptions propagate."""
        if info.cls in self._cache:
            return self._cache[info.cls]
        self._active.append(info.cls)
        try:
            q = self.query_of(info)
            result = analyze(q, self)
        finally:
            self._active.pop()
        self._cache[info.cls] = result
        return result


def query_kind(q, resolver: Resolver) -> str | None:
    """STREAM or TABLE without a full analysis: aggregation, grouping or a window make a
    TABLE; a join is a TABLE when every source is one; else the FROM source's kind."""
    if q.group_by_ or q.window_ is not None:
        return "TABLE"
    if any(isinstance(n, E.Func) and n.aggregate for i in q.items for n in E.walk(i)):
        return "TABLE"
    kinds = [resolver.kind(c.__kctx__) for c in q.entities]
    if q.joins:
        return "TABLE" if all(k == "TABLE" for k in kinds) else "STREAM"
    return kinds[0] if kinds else None


def analyze(q, resolver: Resolver | None = None) -> Analysis:
    """Kind, output columns and problems of one query."""
    return _Analyzer(q, resolver or Resolver()).run()


class _Analyzer:
    def __init__(self, q, resolver: Resolver):
        if not isinstance(q, Select):
            raise QueryProblem("bad-query", f"the query function must return select(...), got {type(q).__name__}")
        self.q = q
        self.r = resolver
        self.problems: list[tuple[str, str]] = []
        self.scope: list = []  # the sources read so far: entity classes or Aliased (Select.sources)
        # a windowed aggregation, or a source that is windowed (a windowed table, a source
        # declared with WINDOW_TYPE: meta["windowed"]): its rows carry WINDOWSTART/WINDOWEND
        self.windowed = q.window_ is not None or any(self._windowed_source(c) for c in q.entities)
        self.in_aggregate = False
        self.rowkey_type: SqlType | None = None  # the synthetic join key's type

    def _windowed_source(self, cls) -> bool:
        """Whether a source's rows are windowed: meta["windowed"] (the analyzer's sources
        declared with WINDOW_TYPE), a model with ``Meta.window_type``, or a derived entity whose query is a windowed
        aggregation (its consumers may select WINDOWSTART / WINDOWEND)."""
        info = getattr(cls, "__kctx__", None)
        if info is None:
            return False
        meta = getattr(info, "meta", None) or {}
        if meta.get("windowed") or (meta.get("window_type") and not info.derived):  # model: Meta.window_type
            return True
        if info.derived and info.cls not in self.r._active:
            try:
                return self.r.analysis(info).windowed
            except Exception:  # noqa: BLE001 - a broken query is reported by its own checks
                return False
        return False

    def problem(self, code: str, message: str) -> None:
        if (code, message) not in self.problems:
            self.problems.append((code, message))

    # -- sources --------------------------------------------------------------
    def source_kind(self, cls) -> str | None:
        info = cls.__kctx__
        return self.r.kind(info)

    def run(self) -> Analysis:
        q = self.q
        if q.source is None:
            raise QueryProblem("bad-query", "the query has no FROM: call .from_(Entity)")
        for cls in q.entities:
            if not hasattr(cls, "__kctx__"):
                raise QueryProblem("bad-query", f"{cls!r} is not an entity class (from_/join take entity classes)")
        if not q.items:
            raise QueryProblem("bad-query", "select() needs at least one column")
        self.scope = [q.sources[0]]
        from_kind = self.source_kind(q.source)

        join_info = self.check_joins()
        if q.where_ is not None:
            self.require_boolean(q.where_, "WHERE")
            self.no_aggregates(q.where_, "WHERE")
        for g in q.group_by_:
            self.type_of(g)
            self.no_aggregates(g, "GROUP BY")
        for p in q.partition_by_:
            self.type_of(p)
            self.no_aggregates(p, "PARTITION BY")

        item_types = [self.type_of(i) for i in q.items]
        aggregates = [f for i in q.items for f in E.walk(i) if isinstance(f, E.Func) and f.aggregate]
        if q.having_ is not None:
            self.require_boolean(q.having_, "HAVING")
            aggregates += [f for f in E.walk(q.having_) if isinstance(f, E.Func) and f.aggregate]
        aggregating = bool(q.group_by_ or aggregates)

        # clause rules
        if q.window_ is not None and not q.group_by_:
            self.problem("window-without-aggregation",
                         "WINDOW needs a GROUP BY: windows only apply to aggregations")
        if from_kind == "TABLE" and not q.joins:
            # ksqlDB: "The aggregation functions LATEST_BY_OFFSET, MIN and MAX cannot be applied
            # to a table source, only to a stream source." (corpus group-by.json "non-table udaf
            # on table")
            stream_only = sorted({f.name.upper() for f in aggregates
                                  if f.name.upper() in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "MIN", "MAX")})
            if stream_only:
                self.problem("stream-only-aggregate",
                             f"the aggregation functions {', '.join(stream_only)} cannot be applied to a table "
                             f"source ({q.source.__name__}), only to a stream source")
        if q.window_ is not None and q.joins and any(
                isinstance(n, E.Pseudo) and n.name in ("WINDOWSTART", "WINDOWEND") for i in q.items for n in E.walk(i)):
            # corpus group-by.json "windowed join with window bounds": "SELECT column
            # 'WINDOWSTART' cannot be resolved."
            self.problem("no-window", "WINDOWSTART / WINDOWEND cannot be selected in a windowed aggregation of a join")
        if q.window_ is not None and from_kind == "TABLE":
            self.problem("window-on-table", f"WINDOW needs a stream source; {q.source.__name__} is a table")
        if aggregates and not q.group_by_:
            self.problem("aggregate-without-group-by",
                         f"aggregate {aggregates[0].name} needs a GROUP BY (use group_by(...))")
        if q.having_ is not None and not q.group_by_:
            self.problem("having-without-group-by", "HAVING needs a GROUP BY")
        if q.group_by_:
            for i, item in enumerate(q.items):
                inner = item.expr if isinstance(item, E.Alias) else item
                bad = self.uncovered(inner, q.group_by_)
                if bad is not None:
                    self.problem("not-grouped",
                                 f"SELECT {describe(inner)} is neither in GROUP BY nor inside an aggregate "
                                 f"({describe(bad)} is not grouped)")
            if q.having_ is not None:
                bad = self.uncovered(q.having_, q.group_by_)
                if bad is not None:
                    self.problem("not-grouped", f"HAVING uses {describe(bad)}, which is neither in GROUP BY "
                                                "nor inside an aggregate")
        if q.partition_by_ and aggregating:
            self.problem("partition-by-with-group-by", "PARTITION BY cannot be combined with GROUP BY or aggregates")
        if q.partition_by_ and from_kind == "TABLE" and not q.joins:
            self.problem("partition-by-table", f"PARTITION BY needs a stream source; {q.source.__name__} is a table")
        if q.emit == "FINAL" and q.window_ is None:
            self.problem("emit-final", "EMIT FINAL needs a windowed aggregation")
        if q.limit_ is not None:
            self.problem("limit", "LIMIT is not allowed in a derived entity's query (persistent queries do not end)")
        for cls in dict.fromkeys(q.entities):
            # the real ksqlDB 8.1.5, for a CTAS over a windowed source table or over a windowed
            # aggregation's table: "KSQL does not support persistent queries on windowed tables"
            # (windowed streams are fine); transient push/pull queries may read them
            if self.source_kind(cls) == "TABLE" and self._windowed_source(cls):
                self.problem("windowed-table-query", f"KSQL does not support persistent queries on windowed tables: "
                                                     f"{cls.__kctx__.source_name} is a windowed table")

        kind = "TABLE" if aggregating else query_kind(q, self.r)

        columns = self.output_columns(item_types, join_info)
        return Analysis(kind=kind, columns=columns, windowed=self.windowed, problems=self.problems,
                        sources=list(q.entities), fk_join=bool(join_info and join_info.get("fk")))

    # -- joins ----------------------------------------------------------------
    def check_joins(self) -> dict | None:
        q = self.q
        info = None
        for j in q.joins:
            right = j.source  # the entity class, or the Aliased it is joined as
            rkind = self.source_kind(j.entity)
            left_kinds = {self.source_kind(_entity(c)) for c in self.scope}
            lkind = "STREAM" if "STREAM" in left_kinds else "TABLE"
            rname = _label(right)
            if j.entity in [_entity(c) for c in self.scope]:
                # the real ksqlDB 8.1.5, with or without aliases: "Can not join 'ORDERS' to
                # 'ORDERS': self joins are not yet supported."
                name = j.entity.__kctx__.source_name
                self.problem("self-join", f"Can not join '{name}' to '{name}': self joins are not yet supported")
            elif _prefix(right) in [_prefix(c) for c in self.scope]:
                # ksqlDB 8.1.5: "Duplicate key `X` (attempted merging values ...)"
                self.problem("duplicate-alias", f"Duplicate key `{_prefix(right)}`: two sources of the join are "
                                                f"named {_prefix(right)}; give them distinct aliases")
            self.scope.append(right)
            on = j.on
            if not (isinstance(on, E.BinaryOp) and on.op == "="):
                self.problem("bad-join", f"the join with {rname} needs an equality condition (a == b), got {describe(on)}")
                continue
            lt, rt = self.type_of(on.left), self.type_of(on.right)
            # orient: which side belongs to the joined entity
            sides = (on.left, on.right)
            owners = [self.owners(s) for s in sides]
            if owners[0] == {right} and right not in owners[1]:
                right_expr, left_expr = sides
                rt, lt = lt, rt
            elif owners[1] == {right} and right not in owners[0]:
                left_expr, right_expr = sides
            else:
                self.problem("bad-join", f"the join condition {describe(on)} must compare a column of {rname} "
                                         f"with a column of an earlier source")
                continue
            # ksqlDB needs the same type on both sides (it refuses BIGINT = INT: "Invalid join.
            # Key types differ: BIGINT vs INTEGER"); cast one side to join different types
            if lt is not None and rt is not None and lt.ksql() != rt.ksql():
                self.problem("join-type-mismatch",
                             f"join columns have different types: {describe(left_expr)} ({_tn(lt)}) "
                             f"vs {describe(right_expr)} ({_tn(rt)})")
            fk = False
            if lkind == "STREAM" and rkind == "STREAM":
                if j.within is None:
                    self.problem("join-needs-within",
                                 f"a stream-stream join needs a window: join({rname}, ..., within=hours(1))")
            else:
                if j.within is not None:
                    self.problem("join-within", f"within= applies to stream-stream joins only ({rname} is a table "
                                                "or the left side is a table)")
                if lkind == "TABLE" and rkind == "STREAM":
                    self.problem("bad-join", f"a table cannot be joined with stream {rname}: put the stream first "
                                             "(stream-table joins only)")
                    continue
                if not self.is_key(right_expr, right):
                    self.problem("join-non-key",
                                 f"join on a non-key column: {describe(right_expr)} is not the PRIMARY KEY of "
                                 f"table {rname} (joins to a table must use its key)")
                    continue
                if lkind == "STREAM":
                    if j.how not in ("INNER", "LEFT"):
                        self.problem("bad-join-type", f"a stream-table join supports INNER and LEFT only, not {j.how}")
                else:
                    left_owner = next(iter(self.owners(left_expr)), None)
                    if left_owner is None or not self.is_key(left_expr, left_owner):
                        fk = True  # any left column against the right table's key: a foreign-key join
                        if info is not None:
                            # the real ksqlDB 8.1.5: "Invalid join condition: foreign-key table-table
                            # joins are not supported as part of n-way joins" for an FK join after
                            # the first step (an FK first step followed by a key join is accepted)
                            self.problem("bad-join", f"a foreign-key join ({describe(left_expr)} = "
                                                     f"{describe(right_expr)}) must be the first join of a "
                                                     "multi-way join: ksqlDB does not support it later")
                        if j.how not in ("INNER", "LEFT"):
                            self.problem("bad-join-type",
                                         f"a foreign-key table-table join supports INNER and LEFT only, not {j.how}")
            steps = (info or {}).get("steps", []) + [(left_expr, right_expr, j.how)]
            info = {"left": left_expr, "right": right_expr, "how": j.how, "fk": fk or bool(info and info.get("fk")),
                    "steps": steps}
            self.rowkey_type = lt if lt is not None else rt
        return info

    def owners(self, e) -> set:
        """The sources (entity classes or Aliased) whose columns ``e`` reads."""
        return {E.source_of(n) for n in E.walk(e) if isinstance(n, E.Column)}

    def is_key(self, e, src) -> bool:
        """Whether ``e`` is the one key column of source ``src`` (a class or an Aliased)."""
        keys = _entity(src).__kctx__.keys
        return isinstance(e, E.Column) and E.source_of(e) == src and len(keys) == 1 and keys[0].name == e.name

    # -- output schema ----------------------------------------------------------
    def clashing(self) -> set[str]:
        """Column names that more than one source of a join has (ksqlDB's "clashing" names)."""
        if not self.q.joins:
            return set()
        seen: set[str] = set()
        out: set[str] = set()
        for src in dict.fromkeys(self.q.sources):
            names = {f.column for f in _entity(src).__kctx__.fields}
            out |= seen & names
            seen |= names
        return out

    def output_columns(self, item_types, join_info) -> list[OutColumn]:
        q = self.q
        named: list[OutColumn] = []
        clashing = self.clashing()
        aliases = _AliasGenerator(f.column for cls in q.entities for f in cls.__kctx__.fields)
        for item, t in zip(q.items, item_types):
            inner = item.expr if isinstance(item, E.Alias) else item
            if isinstance(item, E.Alias):
                name = item.name.upper()
            elif isinstance(inner, E.Column):
                info = inner.entity.__kctx__
                f = info.field(inner.name)
                name = f.column if f else inner.name.upper()
                if name in clashing:
                    # ksqlDB: a join column whose name several sources have is <SOURCE>_<COLUMN>,
                    # <ALIAS>_<COLUMN> for an aliased source (the real 8.1.5: O_ID)
                    name = f"{_prefix(E.source_of(inner))}_{name}"
            elif isinstance(inner, E.Deref):
                name = aliases.field(E.member_name(inner))
            elif isinstance(inner, E.Pseudo):
                name = inner.name
            else:
                name = aliases.next_ksql_col()
            if isinstance(item, E.Alias) and name in RESERVED_ALIASES:
                # create-stream.md: system columns' names are reserved
                self.problem("reserved-name", f"{name} is a reserved column name (a system column): "
                                              f"label the column with another name")
            elif isinstance(inner, E.Pseudo) and name in ("ROWTIME", "ROWPARTITION", "ROWOFFSET") and not any(
                    E.same(inner, p) for p in q.partition_by_):
                # the real ksqlDB 8.1.5: "Reserved column name in select: `ROWTIME`. Please remove
                # or alias the column."
                self.problem("reserved-name", f"Reserved column name in select: {name}; alias it "
                                              f"({name.lower()}.label('...'))")
            named.append(OutColumn(name, t, expr=inner))
            if isinstance(inner, E.Literal) and inner.value is None:
                self.problem("null-type", f"SELECT NULL ({name}): ksqlDB cannot infer the type of a bare NULL "
                                          f"(cast it: cast(None, 'STRING'))")
        seen: set[str] = set()
        for c in named:
            if c.name in seen:
                self.problem("duplicate-column", f"two SELECT items are named {c.name}: give one a .label('...')")
            seen.add(c.name)

        key_exprs: list[list] = []  # per key column: the expressions that may stand for it
        what = ""
        if q.group_by_:
            key_exprs = [[g] for g in q.group_by_]
            what = "GROUP BY"
        elif q.partition_by_:
            if not (len(q.partition_by_) == 1 and isinstance(q.partition_by_[0], E.Literal)
                    and q.partition_by_[0].value is None):
                key_exprs = [[p] for p in q.partition_by_]
            what = "PARTITION BY"
        elif join_info is not None:
            if join_info["fk"]:
                key_exprs = [[E.Column(q.source, k.name, q.source_alias)] for k in q.source.__kctx__.keys]
                what = "the foreign-key join (the left table's key)"
            else:
                viable = viable_join_keys(join_info["steps"])
                if viable:
                    key_exprs = [viable]
                    what = "the join"
                else:
                    # FULL joins and joins on expressions only have a synthetic key (ksqlDB
                    # "synthetic key columns"): select it with rowkey.label("...")
                    key_exprs = [[E.rowkey]]
                    what = "the synthetic key of a FULL join or a join on expressions; use rowkey.label('...')"
        else:
            src = q.source.__kctx__
            key_exprs = [[E.Column(q.source, k.name, q.source_alias)] for k in src.keys]
            what = f"the key of {q.source.__name__}"

        keys: list[OutColumn] = []  # in key order: GROUP BY / PARTITION BY / source key order
        for options in key_exprs:
            # the first option (in ksqlDB's order) that the projection has is the key
            match = next((c for o in options for c in named if not c.key and E.same(c.expr, o)), None)
            twice = [c.name for o in options for c in named if E.same(c.expr, o)]
            if len(twice) > 1 and what in ("GROUP BY", "PARTITION BY") or (
                    len(twice) > 1 and join_info is not None and join_info.get("fk")):
                # corpus group-by.json / partition-by.json "key in projection more than once",
                # fk-join.json "Should fail with duplicate left source key in projection"
                self.problem("duplicate-key", f"The projection contains a key column more than once: "
                                              f"{' and '.join(twice)}")
            if match is None:
                texts = " or ".join(describe(o) for o in options)
                self.problem("key-not-selected",
                             f"the key {texts} (from {what}) must be in the SELECT list (ksqlDB keeps key columns in the projection)")
                continue
            match.key = True
            keys.append(match)
        values = [c for c in named if not c.key]
        if named and not values:
            # ksqlDB: "The projection contains no value columns."
            self.problem("no-value-columns", "the query selects key columns only: ksqlDB needs at least one "
                                             "value column in the SELECT list")
        out = keys + values
        if self.windowed:
            for pseudo in ("WINDOWSTART", "WINDOWEND"):
                if not any(c.name == pseudo for c in out):
                    out.append(OutColumn(pseudo, T.BIGINT, system=True))
        return out

    # -- expressions --------------------------------------------------------------
    def uncovered(self, e, groups):
        """The first column of ``e`` that is neither grouped nor aggregated, or None."""
        if any(E.same(e, g) for g in groups):
            return None
        if isinstance(e, E.Func) and e.aggregate:
            return None
        if isinstance(e, (E.Column, E.Deref)):
            return e
        for c in E.children(e):
            bad = self.uncovered(c, groups)
            if bad is not None:
                return bad
        return None

    def no_aggregates(self, e, clause: str) -> None:
        for n in E.walk(e):
            if isinstance(n, E.Func) and n.aggregate:
                hint = " (use having())" if clause == "WHERE" else ""
                self.problem("aggregate-in-" + clause.lower().replace(" ", "-"),
                             f"aggregate {n.name} is not allowed in {clause}{hint}")
                return

    def require_boolean(self, e, clause: str) -> None:
        t = self.type_of(e)
        if t is not None and t.name != "BOOLEAN":
            self.problem("not-boolean", f"{clause} condition must be BOOLEAN, got {describe(e)} ({_tn(t)})")

    def _common(self, items: list, what: str) -> SqlType | None:
        """The one type of constructor elements, None when unknown or when ksqlDB would
        coerce them (mixed numbers: not modelled). A string literal among numbers or
        BOOLEANs must read as one (corpus create_array.json "construct a list from
        incompatible mismatching elements": invalid input syntax for type INTEGER)."""
        types = [(i, self._type(i)) for i in items]
        known = [t for i, t in types if t is not None and not (isinstance(i, E.Literal) and isinstance(i.value, str))]
        strings = [i.value for i, _ in types if isinstance(i, E.Literal) and isinstance(i.value, str)]
        if known and strings:
            target = known[0]
            for text in strings:
                ok = True
                if target.is_numeric:
                    try:
                        ok = decimal.Decimal(text.strip()).is_finite()
                    except decimal.InvalidOperation:
                        ok = False
                elif target.name == "BOOLEAN":
                    ok = text.strip().lower() in _BOOLEAN_WORDS
                if not ok:
                    raise QueryProblem("type-mismatch", f'invalid input syntax for type {_tn(target)}: "{text}" '
                                                        f"(a {what} of {_tn(target)})")
        all_types = [t for _, t in types if t is not None]
        if not all_types or any(t is None for i, t in types if not (isinstance(i, E.Literal) and i.value is None)):
            return None
        if len({t.ksql() for t in all_types}) == 1:
            return all_types[0]
        return _numeric_common(types)

    def type_of(self, e) -> SqlType | None:
        try:
            return self._type(e)
        except QueryProblem as p:
            self.problem(p.code, str(p))
            return None

    def _type(self, e) -> SqlType | None:  # noqa: C901 - one case per node kind
        if isinstance(e, E.Alias):
            return self._type(e.expr)
        if isinstance(e, E.Column):
            info = e.entity.__kctx__
            f = info.field(e.name)
            if f is None:
                raise QueryProblem("unknown-column", f"unknown column {e.entity.__name__}.{e.name}: "
                                                     f"it is not a column of {e.entity.__name__} (marked Ignore?)")
            if E.source_of(e) not in self.scope:
                srcs = ", ".join(_label(c) for c in self.scope)
                aliases = [c for c in self.scope if isinstance(c, E.Aliased) and c._entity is e.entity]
                if aliases:
                    raise QueryProblem("column-not-in-scope",
                                       f"column {describe(e)} is not from a source of the query ({srcs}): "
                                       f"{e.entity.__name__} is read as {aliases[0]._name}, use "
                                       f"{aliases[0]._name}.{e.name} (the aliased entity's column)")
                raise QueryProblem("column-not-in-scope",
                                   f"column {describe(e)} is not from a source of the query ({srcs})")
            return f.type
        if isinstance(e, E.Deref):
            base = self._type(e.base)
            if base is None:
                return None
            if base.name != "STRUCT":
                raise QueryProblem("bad-deref", f"{describe(e.base)} is {_tn(base)}, not a STRUCT: cannot read .{e.member}")
            for name, t in base.fields:
                if name == E.member_name(e):
                    return t
            known = ", ".join(n for n, _ in base.fields)
            raise QueryProblem("unknown-column", f"unknown field {e.member} in STRUCT {describe(e.base)} (fields: {known})")
        if isinstance(e, E.Literal):
            return literal_type(e.value)
        if isinstance(e, E.BinaryOp):
            lt, rt = self._type(e.left), self._type(e.right)
            if e.op in ARITH:
                if lt is None or rt is None:
                    return lt if rt is None else rt if lt is None else None
                if lt.is_numeric and rt.is_numeric:
                    return promote(e.op, lt, rt)
                if e.op == "+" and lt.name == rt.name == "STRING":
                    return T.STRING
                raise QueryProblem("type-mismatch", f"cannot apply {e.op} to {describe(e.left)} ({_tn(lt)}) "
                                                    f"and {describe(e.right)} ({_tn(rt)})")
            if e.op in COMPARE and all(isinstance(x, E.Literal) and x.value is None for x in (e.left, e.right)):
                # corpus null.json "comparison with null"
                raise QueryProblem("null-comparison", f"Comparison with NULL not supported: NULL {e.op} NULL")
            if e.op in COMPARE or e.op == "LIKE":
                if e.op == "LIKE" and lt is not None and lt.name != "STRING":
                    raise QueryProblem("type-mismatch", f"LIKE needs a STRING, got {describe(e.left)} ({_tn(lt)})")
                if not comparable(lt, rt, e.op) and not _magic_time(e.left, e.right):
                    raise QueryProblem("type-mismatch",
                                       f"type mismatch in comparison: {describe(e.left)} ({_tn(lt)}) {e.op} "
                                       f"{describe(e.right)} ({_tn(rt)})")
                return T.BOOLEAN
            if e.op in ("IS DISTINCT FROM", "IS NOT DISTINCT FROM"):
                if not comparable(lt, rt, "="):
                    raise QueryProblem("type-mismatch", f"type mismatch in comparison: {describe(e.left)} ({_tn(lt)}) "
                                                        f"{e.op} {describe(e.right)} ({_tn(rt)})")
                return T.BOOLEAN
            if e.op in ("AND", "OR"):
                for side, t in ((e.left, lt), (e.right, rt)):
                    if t is not None and t.name != "BOOLEAN":
                        raise QueryProblem("type-mismatch", f"{e.op} needs BOOLEAN operands, got {describe(side)} ({_tn(t)})")
                return T.BOOLEAN
            raise QueryProblem("bad-query", f"unknown operator {e.op}")
        if isinstance(e, E.UnaryOp):
            t = self._type(e.operand)
            if e.op == "NOT":
                if t is not None and t.name != "BOOLEAN":
                    raise QueryProblem("type-mismatch", f"NOT needs a BOOLEAN, got {describe(e.operand)} ({_tn(t)})")
                return T.BOOLEAN
            if t is not None and not t.is_numeric:
                raise QueryProblem("type-mismatch", f"cannot negate {describe(e.operand)} ({_tn(t)})")
            return t
        if isinstance(e, E.Like):
            for side in (e.operand, e.pattern):
                t = self._type(side)
                if t is not None and t.name != "STRING":
                    raise QueryProblem("type-mismatch", f"LIKE needs a STRING, got {describe(side)} ({_tn(t)})")
            return T.BOOLEAN
        if isinstance(e, E.Subscript):
            bt, it = self._type(e.base), self._type(e.index)
            if bt is None:
                return None
            if bt.name == "ARRAY":
                if it is not None and it.name not in ("INT", "BIGINT"):
                    raise QueryProblem("type-mismatch", f"an ARRAY index is an INT, got {describe(e.index)} ({_tn(it)})")
                return bt.item
            if bt.name == "MAP":
                if it is not None and it.name != "STRING":
                    raise QueryProblem("type-mismatch", f"a MAP key is a STRING, got {describe(e.index)} ({_tn(it)})")
                return bt.item
            raise QueryProblem("type-mismatch", f"{describe(e.base)} is {_tn(bt)}: only an ARRAY or a MAP takes [...]")
        if isinstance(e, E.ArrayCtor):
            if not e.items:
                raise QueryProblem("bad-constructor", "Array constructor cannot be empty: give at least one element")
            if all(isinstance(i, E.Literal) and i.value is None for i in e.items):
                raise QueryProblem("bad-constructor", "Cannot construct an array with all NULL elements: cast a NULL "
                                                      "to the element type")
            item = self._common(list(e.items), "ARRAY element")
            return T.SqlType("ARRAY", item=item) if item is not None else None
        if isinstance(e, E.MapCtor):
            if not e.pairs:
                raise QueryProblem("bad-constructor", "Map constructor cannot be empty: give at least one key := value")
            keys = [a for a, _ in e.pairs]
            values = [b for _, b in e.pairs]
            if all(isinstance(x, E.Literal) and x.value is None for x in keys):
                raise QueryProblem("bad-constructor", "Cannot construct a map with all NULL keys")
            if all(isinstance(x, E.Literal) and x.value is None for x in values):
                raise QueryProblem("bad-constructor", "Cannot construct a map with all NULL values")
            key_types = [self._type(x) for x in keys]
            typed = [t for x, t in zip(keys, key_types) if t is not None and not isinstance(x, E.Literal)]
            if typed and all(t.name != "STRING" for t in typed) and not any(
                    t is not None and t.name == "STRING" for t in key_types):
                # every format needs STRING map keys (corpus json.json "map with non-string keys - C*AS")
                raise QueryProblem("bad-constructor", f"only MAP types with STRING keys are supported: the keys of "
                                                      f"MAP(...) are {_tn(typed[0])}")
            value = self._common(values, "MAP value")
            return T.SqlType("MAP", item=value) if value is not None else None
        if isinstance(e, E.StructCtor):
            fields = []
            for name, v in e.fields:
                fields.append((name.upper(), self._type(v)))
            if any(t is None for _, t in fields):
                return None
            return T.SqlType("STRUCT", fields=tuple(fields))
        if isinstance(e, E.InList):
            t = self._type(e.operand)
            for v in e.values:
                vt = self._type(v)
                if not in_list_compatible(t, v, vt):
                    raise QueryProblem("type-mismatch", f"type mismatch in IN: {describe(e.operand)} ({_tn(t)}) "
                                                        f"vs {describe(v)} ({_tn(vt)})")
            return T.BOOLEAN
        if isinstance(e, E.IsNull):
            self._type(e.operand)
            return T.BOOLEAN
        if isinstance(e, E.Between):
            t = self._type(e.operand)
            for v in (e.low, e.high):
                vt = self._type(v)
                # a number literal reads as a string against a STRING (ksqlDB accepts
                # s BETWEEN 1 AND 2, refuses i BETWEEN '1' AND '2')
                number_for_string = (t is not None and t.name == "STRING" and isinstance(v, E.Literal)
                                     and isinstance(v.value, (int, float, decimal.Decimal))
                                     and not isinstance(v.value, bool))
                if not (comparable(t, vt) or number_for_string or _magic_time(e.operand, v)):
                    raise QueryProblem("type-mismatch", f"type mismatch in BETWEEN: {describe(e.operand)} ({_tn(t)}) "
                                                        f"vs {describe(v)} ({_tn(vt)})")
            return T.BOOLEAN
        if isinstance(e, E.Star):
            return None
        if isinstance(e, E.Func):
            if e.aggregate:
                if self.in_aggregate:
                    raise QueryProblem("nested-aggregate", f"aggregate {e.name} cannot be nested in another aggregate")
                self.in_aggregate = True
                try:
                    args = [self._type(a) for a in e.args]
                finally:
                    self.in_aggregate = False
            else:
                args = [self._type(a) for a in e.args]
            if e.args and all(isinstance(a, E.Literal) and a.value is None for a in e.args) \
                    and e.name.upper() in ("GREATEST", "LEAST"):
                # corpus greatest.json / least.json "test all null input"
                raise QueryProblem("bad-function-call", f"Function '{e.name.lower()}' cannot be resolved due to "
                                                        f"ambiguous method parameters (all NULL)")
            if e.name.upper() in ("GREATEST", "LEAST") and any(
                    not (isinstance(a, E.Literal) and a.value is None) for a in e.args):
                # a NULL argument takes the others' type (corpus greatest.json "test greatest with
                # decimal": GREATEST(DECIMAL(9, 3), ..., null) is DECIMAL(9, 3))
                kept = [(a, t) for a, t in zip(e.args, args) if not (isinstance(a, E.Literal) and a.value is None)]
            else:
                kept = list(zip(e.args, args))
            call_args = [a for a, _ in kept]
            args = [t for _, t in kept]
            try:
                return result_type(e.name, args)
            except FunctionTypeError as exc:
                # a string literal converts to the DATE / TIME / TIMESTAMP the other
                # arguments have (corpus greatest.json "test greatest with dates")
                if any(t is not None and t.name in _TEMPORAL for t in args) and any(
                        isinstance(a, E.Literal) and isinstance(a.value, str) for a in call_args):
                    loose = [None if isinstance(a, E.Literal) and isinstance(a.value, str) else t
                             for a, t in zip(call_args, args)]
                    try:
                        return result_type(e.name, loose)
                    except FunctionTypeError:
                        pass
                raise QueryProblem("bad-function-call", str(exc)) from None
        if isinstance(e, E.Case):
            result = None
            for cond, value in e.whens:
                ct = self._type(cond)
                if ct is not None and ct.name != "BOOLEAN":
                    raise QueryProblem("type-mismatch", f"CASE condition must be BOOLEAN, got {describe(cond)} ({_tn(ct)})")
            # ksqlDB converts nothing between the branches: INT and BIGINT, or DECIMAL(5, 2)
            # and DECIMAL(7, 3), are refused ("Invalid Case expression. Type for all 'THEN'
            # clauses should be the same"); NULL goes with anything, but not alone
            values = [v for _, v in e.whens] + ([e.else_] if e.else_ is not None else [])
            for v in values:
                vt = self._type(v)
                if vt is None:
                    continue
                if result is None:
                    result = vt
                elif result.ksql() != vt.ksql():
                    raise QueryProblem("type-mismatch", f"CASE results have different types: {_tn(result)} and "
                                                        f"{describe(v)} ({_tn(vt)}); ksqlDB needs one type (cast "
                                                        f"the others)")
            if all(isinstance(v, E.Literal) and v.value is None for v in values):
                raise QueryProblem("null-type", "every CASE result is NULL: ksqlDB cannot type it "
                                                "(cast one to a type: cast(None, 'STRING'))")
            return result
        if isinstance(e, E.Cast):
            ft = self._type(e.operand)
            # a cast to ARRAY, MAP or STRUCT only from its own kind (corpus cast.json "non-array
            # to array": "Cast of STRING to ARRAY<INTEGER> is not supported"; any type casts
            # to STRING: "array to string")
            if ft is not None and e.to is not None and e.to.name in _COMPLEX and ft.name != e.to.name:
                raise QueryProblem("bad-cast", f"Cast of {_tn(ft)} to {_tn(e.to)} is not supported")
            return e.to
        if isinstance(e, E.Pseudo):
            if e.name in ("WINDOWSTART", "WINDOWEND") and not self.windowed:
                raise QueryProblem("no-window", f"{e.name} needs a windowed aggregation (window(...))")
            if e.name == "ROWKEY":
                return self.rowkey_type
            if e.name in ("ROWTIME", "ROWPARTITION", "ROWOFFSET") and len(self.scope) > 1:
                # every source has them; ksqlDB rejects an unqualified one in a join
                raise QueryProblem("ambiguous-column", f"{e.name} is ambiguous in a join: every joined source has "
                                                       f"one, and ksqlDB rejects it unqualified")
            return T.BIGINT if e.name in ("WINDOWSTART", "WINDOWEND", "ROWTIME", "ROWOFFSET") else T.INT
        if isinstance(e, E.Lambda):
            columns = {f.column for src in self.scope for f in _entity(src).__kctx__.fields}
            for p in e.params:
                if p.name in columns:  # ksqlDB: "Lambda function argument can't be a column name"
                    raise QueryProblem("bad-lambda", f"lambda parameter {p.name.lower()} has the name of a column "
                                                     f"({p.name}); ksqlDB refuses that: rename the parameter")
            self._type(e.body)
            return None
        if isinstance(e, E.LambdaVar):
            return None
        raise QueryProblem("bad-query", f"cannot use {e!r} in a query")


_NUMBERED = re.compile(r"(?P<name>.*?)(?:_(?P<number>\d+))?")


class _AliasGenerator:
    """ksqlDB's names for unnamed SELECT items (its ColumnNames): KSQL_COL_0, KSQL_COL_1, ...
    counted over the generated names only, and a struct field's name (CITY, then CITY_1,
    ...); numbers a source column already uses (a column CITY is CITY_0) are skipped."""

    def __init__(self, source_columns):
        self.used: dict[str, set[int]] = {}
        for column in source_columns:
            m = _NUMBERED.fullmatch(column)
            self.used.setdefault(m["name"], set()).add(int(m["number"] or 0))
        self.counters: dict[str, int] = {}

    def _next(self, prefix: str) -> int:
        n = self.counters.get(prefix, 0)
        while n in self.used.get(prefix, ()):
            n += 1
        self.counters[prefix] = n + 1
        return n

    def next_ksql_col(self) -> str:
        return f"KSQL_COL_{self._next('KSQL_COL')}"

    def field(self, member: str) -> str:
        base = _NUMBERED.fullmatch(member)["name"]
        n = self._next(base)
        return base if n == 0 else f"{base}_{n}"


def _contains(exprs: list, e) -> bool:
    return any(E.same(x, e) for x in exprs)


def viable_join_keys(steps: list[tuple]) -> list:
    """The source columns that hold a join's result key, in ksqlDB's order (its JoinTree).

    Joins nest left-deep: ``A JOIN B ON a = b JOIN C ON x = c`` is ``(A JOIN B) JOIN C``.
    Each join's key equals both sides of its condition, and also everything its left
    input's key equals when one side of the condition is among those (A.id = B.id, then
    B.id = C.id: A.id, B.id and C.id are all the key). A FULL join's key equals none of
    them (either side may be null): it gets a synthetic key. Only plain columns can be
    selected as the key; none => synthetic key.
    """
    equiv: list = []
    viable: list = []
    for left, right, how in steps:
        if how == "FULL":
            equiv, viable = [], []
            continue
        keys = [left, right]
        carried = equiv if any(_contains(equiv, k) for k in keys) else []
        equiv = keys + [e for e in carried if not _contains(keys, e)]
        ordered: list = []
        for e in viable + keys:
            if isinstance(e, E.Column) and _contains(equiv, e) and not _contains(ordered, e):
                ordered.append(e)
        viable = ordered
    return viable


def compare_declared(info: EntityInfo, a: Analysis) -> list[tuple[str, str, str | None]]:
    """Differences between the declared fields of a derived entity and what its query
    produces: (code, message, field name for locating the line)."""
    out: list[tuple[str, str, str | None]] = []
    declared = {f.column: f for f in info.fields}
    produced = {c.name: c for c in a.columns}
    for c in a.columns:
        f = declared.get(c.name)
        if f is None:
            if c.system:
                continue
            hint = " (name the expression with .label('...'))" if c.name.startswith("KSQL_COL_") else ""
            src = c.expr.entity.__kctx__.field(c.expr.name) if isinstance(c.expr, E.Column) else None
            if src is not None and c.name != src.column:
                hint = (f" (ksqlDB prefixes a join column that several sources have with its source's "
                        f"name: .label('{c.expr.name}') keeps the plain name)")
            out.append(("schema-mismatch", f"{info.name}: the query produces column {c.name} ({_tn(c.type)}) "
                                           f"that the entity does not declare{hint}", None))
            continue
        if c.type is not None and f.type is not None and c.type.ksql() != f.type.ksql():
            out.append(("schema-mismatch", f"{info.name}.{f.name} is declared {f.type.ksql()} but the query "
                                           f"produces {c.type.ksql()}", f.name))
        if not c.system and c.key != f.key:
            if c.key:
                msg = f"{info.name}.{f.name} is a key column of the query's result: declare it Annotated[..., Key]"
            else:
                msg = f"{info.name}.{f.name} is declared as a key but the query's key is " + (
                    ", ".join(k.name for k in a.keys) or "empty")
            out.append(("key-mismatch", msg, f.name))
    for f in info.fields:
        if f.column not in produced:
            out.append(("schema-mismatch", f"{info.name}.{f.name} is declared but the query produces no column "
                                           f"{f.column}", f.name))
    return out


def entity_kind(info: EntityInfo, resolver: Resolver | None = None) -> str | None:
    """STREAM or TABLE: declared (base class / Meta.kind), else inferred from the query."""
    return (resolver or Resolver()).kind(info)


def topic_configs(info: EntityInfo, resolver: Resolver | None = None) -> dict[str, str]:
    """The entity's topic configs; a TABLE's topic is compacted (latest value per key)."""
    configs = dict(info.configs)
    if entity_kind(info, resolver) == "TABLE":
        configs.setdefault("cleanup.policy", "compact")
    return configs


def output_columns(info: EntityInfo, resolver: Resolver | None = None) -> list[OutColumn]:
    """What a derived entity's query produces (names, types, key flags; WINDOWSTART and
    WINDOWEND of windowed results are marked ``system``)."""
    return (resolver or Resolver()).analysis(info).columns


def _numeric_common(types) -> SqlType | None:
    """The type ksqlDB coerces mixed numeric constructor elements to (``types``:
    ``[(element, type)]``; None when not all numbers): DOUBLE if one is, else a DECIMAL
    wide enough for every element (INT as DECIMAL(10, 0), BIGINT as DECIMAL(19, 0)), else
    BIGINT if one is, else INT; a string literal reads as the number it spells (INT,
    BIGINT, or DECIMAL with '.' or an exponent) -- the real ksqlDB 8.1.5: ARRAY[a, '2.5'] is
    ARRAY<DECIMAL(11, 1)> for an INT a, ARRAY[null, 10, '2e1', a, b] ARRAY<DECIMAL(19, 0)>
    (corpus create_array.json "construct a list from compatible mismatching elements")."""
    nums: list[SqlType] = []
    for i, t in types:
        if isinstance(i, E.Literal) and i.value is None:
            continue
        if isinstance(i, E.Literal) and isinstance(i.value, str):
            try:
                d = decimal.Decimal(i.value.strip())
            except decimal.InvalidOperation:
                return None
            if not d.is_finite():
                return None
            text = i.value.strip().lstrip("+-")
            if text.isdigit():
                n = abs(int(d))
                t = T.INT if n < 2 ** 31 else T.BIGINT if n < 2 ** 63 else T.decimal_type(len(str(n)), 0)
            else:
                t = T.decimal_literal_type(d)
        if t is None or not t.is_numeric:
            return None
        nums.append(t)
    if not nums:
        return None
    if any(t.name == "DOUBLE" for t in nums):
        return T.DOUBLE
    if any(t.name == "DECIMAL" for t in nums):
        as_dec = [(10, 0) if t.name == "INT" else (19, 0) if t.name == "BIGINT" else (t.precision, t.scale)
                  for t in nums]
        scale = max(s for _, s in as_dec)
        digits = max(p - s for p, s in as_dec)
        if digits + scale > 38:
            return None
        return T.decimal_type(digits + scale, scale)
    return T.BIGINT if any(t.name == "BIGINT" for t in nums) else T.INT

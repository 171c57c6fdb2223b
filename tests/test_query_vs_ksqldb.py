"""kctx's output-schema inference (kctx_cli.derive.schema) against the real ksqlDB: the
columns, types and key flags DESCRIBE lists for a CREATE … AS SELECT must be exactly what
kctx infers for the same statement (kctx's own rendering of its DSL query).

* multi-joins: the multi-way join cases of ksqlDB's functional tests (multi-joins.json;
  the shared corpus has no such file, so their statements and expected schemas are written
  out here), run on the server once per module (``multi_joins``) and checked per case:
  DESCRIBE == the schema ksqlDB's test expects == what kctx infers; an expected error must
  be the server's answer, and kctx must report it too where it has a check for it.
* expressions (``on_ksqldb``): a source with a column of every type; hundreds of scalar
  expressions (arithmetic of every numeric pair, literals, comparisons, IN / BETWEEN, CASE,
  CAST, every function kctx types) in one CREATE STREAM … AS SELECT, the aggregates in one
  CREATE TABLE; query shapes (GROUP BY / PARTITION BY expressions, windows, table
  projections, foreign-key, expression and outer joins) one statement each; and statements
  the server refuses, which kctx must report with the matching problem code.
* example project: the repo's models/ with prefixed names, every entity created from
  kctx's rendered DDL; DESCRIBE of each derived entity must list exactly what kctx infers.

Sources and sinks carry a unique prefix; each persistent query is terminated as soon as
DESCRIBE has been read, and everything is dropped at the end (tests/ksqldb_helpers.py).
"""
from __future__ import annotations

import operator
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Callable, Optional

import pytest

from kctx_cli.backends.ksqldb import KsqlStatementError
from kctx_cli.derive.ddl import entity_ddl
from kctx_cli.model import Int32, Key, Precision, Stream, Struct, Table
from kctx_cli.query import (
    Hopping, Session, avg, case, collect_list, collect_set, count, earliest_by_offset, func, hours,
    latest_by_offset, lit, max_, min_, minutes, rowkey, rowtime, seconds, select, sum_, window_end, window_start,
)
from kctx_cli.derive.schema import Analysis, Resolver, analyze
from tests.helpers import REPO
from tests.ksqldb_helpers import KsqlSources, described_columns

# -- multi-joins: ksqlDB's multi-joins.json on the real server ----------------------------

# The sources of multi-joins.json, as kctx entities (JSON values, KAFKA keys, 1 partition):
#   S1/S2:    (ID INT KEY, K INT, V0 bigint)
#   T1/T2/T3: (ID INT PRIMARY KEY, V0 bigint)
# Cases use one of these sets; a set's sources are named <prefix>_<SET>_<S1|S2|T1|T2|T3>.
_ID = ("id", Annotated[Int32, Key])


def _s(v0=int, k=True):
    return Stream, [_ID, *([("k", Int32)] if k else []), ("v0", v0)]


def _t(value="v0", v0=int):
    return Table, [_ID, (value, v0)]


SOURCE_SETS = {
    "A": {"S1": _s(), "S2": _s(), "T1": _t(), "T2": _t(), "T3": _t()},
    "NOK": {"S1": _s(k=False), "T2": _t(), "T3": _t()},          # S1 without K
    "INT": {"S1": _s(Int32), "T2": _t(v0=Int32), "T3": _t(v0=Int32)},  # V0 int
    "DIFF": {"S1": _s(), "T2": _t(), "T3": _t("diff")},           # T3 (ID INT PRIMARY KEY, DIFF bigint)
}


@dataclass(frozen=True)
class Case:
    sources: str                       # a key of SOURCE_SETS
    sql: str                           # the test's statement (OUTPUT, S1 ... as in multi-joins.json)
    query: Callable | None             # the same query in kctx's DSL (None: not expressible)
    want: str | None = None            # expected OUTPUT schema
    error: str | None = None           # or: a part of the expected error message
    kctx_error: str | None = None      # and the problem code kctx reports for it


def _stt(s):  # FROM S1 JOIN T2 ON S1.ID = T2.ID JOIN T3 ON S1.ID = T3.ID
    return lambda q: q.from_(s.S1).join(s.T2, on=s.S1.id == s.T2.id).join(s.T3, on=s.S1.id == s.T3.id)


_STT = "FROM S1 JOIN T2 ON S1.ID = T2.ID JOIN T3 ON S1.ID = T3.ID"
_MISSING_KEY = "key-not-selected"

MULTI_JOINS = {  # ksqlDB test name: Case
    "first join column in projection": Case(
        "A", f"CREATE STREAM OUTPUT as SELECT S1.ID, s1.V0, t2.V0, t3.V0 {_STT};",
        lambda s: _stt(s)(select(s.S1.id, s.S1.v0, s.T2.v0, s.T3.v0)),
        "S1_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "second join column in projection": Case(
        "A", f"CREATE STREAM OUTPUT as SELECT T2.ID, s1.V0, t2.V0, t3.V0 {_STT};",
        lambda s: _stt(s)(select(s.T2.id, s.S1.v0, s.T2.v0, s.T3.v0)),
        "T2_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "third join column in projection": Case(
        "A", f"CREATE STREAM OUTPUT as SELECT T3.ID, s1.V0, t2.V0, t3.V0 {_STT};",
        lambda s: _stt(s)(select(s.T3.id, s.S1.v0, s.T2.v0, s.T3.v0)),
        "T3_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "inner-inner - missing join columns in projection": Case(
        "A", f"CREATE STREAM OUTPUT as SELECT s1.V0, t2.V0, t3.V0 {_STT};",
        lambda s: _stt(s)(select(s.S1.v0, s.T2.v0, s.T3.v0)),
        error="The query used to build `OUTPUT` must include the join expressions S1.ID, T2.ID or T3.ID "
              "in its projection", kctx_error=_MISSING_KEY),
    "inner-inner with expression in first - missing join columns in projection": Case(
        "A", "CREATE STREAM OUTPUT as SELECT s1.V0, t2.V0, t3.V0 FROM S1 INNER JOIN T2 ON S1.ID + 1 = T2.ID "
             "INNER JOIN T3 ON S1.ID = T3.ID;",
        lambda s: select(s.S1.v0, s.T2.v0, s.T3.v0).from_(s.S1).join(s.T2, on=s.S1.id + 1 == s.T2.id)
        .join(s.T3, on=s.S1.id == s.T3.id),
        error="The query used to build `OUTPUT` must include the join expressions S1.ID or T3.ID in its "
              "projection", kctx_error=_MISSING_KEY),
    "inner-inner with expression in second - missing join columns in projection": Case(
        "A", "CREATE STREAM OUTPUT as SELECT s1.V0, t2.V0, t3.V0 FROM S1 INNER JOIN T2 ON S1.ID = T2.ID "
             "INNER JOIN T3 ON S1.ID + 1 = T3.ID;",
        lambda s: select(s.S1.v0, s.T2.v0, s.T3.v0).from_(s.S1).join(s.T2, on=s.S1.id == s.T2.id)
        .join(s.T3, on=s.S1.id + 1 == s.T3.id),
        error="The query used to build `OUTPUT` must include the join expression T3.ID in its projection",
        kctx_error=_MISSING_KEY),
    "stream-table-table - inner-inner - rekey": Case(
        "A", "CREATE STREAM OUTPUT as SELECT S1.K, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 ON S1.K = T2.ID "
             "JOIN T3 ON S1.K = T3.ID;",
        lambda s: select(s.S1.k, s.S1.v0, s.T2.v0, s.T3.v0).from_(s.S1).join(s.T2, on=s.S1.k == s.T2.id)
        .join(s.T3, on=s.S1.k == s.T3.id),
        "K INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - rekey with different expression": Case(
        "A", "CREATE STREAM OUTPUT as SELECT T3.ID, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 ON S1.K - 1 = T2.ID "
             "JOIN T3 ON S1.K + 1 = T3.ID;",
        lambda s: select(s.T3.id, s.S1.v0, s.T2.v0, s.T3.v0).from_(s.S1).join(s.T2, on=s.S1.k - 1 == s.T2.id)
        .join(s.T3, on=s.S1.k + 1 == s.T3.id),
        "T3_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - rekey on different expression": Case(
        "INT", "CREATE STREAM OUTPUT as SELECT S1.K, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 ON S1.V0 = T2.ID "
               "JOIN T3 ON S1.K = T3.ID;",
        lambda s: select(s.S1.k, s.S1.v0, s.T2.v0, s.T3.v0).from_(s.S1).join(s.T2, on=s.S1.v0 == s.T2.id)
        .join(s.T3, on=s.S1.k == s.T3.id),
        "K INT KEY, S1_V0 INT, T2_V0 INT, T3_V0 INT"),
    "stream-table-table - explicit ROWTIME": Case(
        # S1.ROWTIME (a qualified pseudo column) has no DSL spelling: the server part only
        "NOK", f"CREATE STREAM OUTPUT as SELECT *, S1.ROWTIME, T2.ROWTIME, T3.ROWTIME {_STT};", None,
        "S1_ID INT KEY, S1_V0 BIGINT, T2_ID INT, T2_V0 BIGINT, T3_ID INT, T3_V0 BIGINT, S1_ROWTIME BIGINT, "
        "T2_ROWTIME BIGINT, T3_ROWTIME BIGINT"),
    "stream-table-table - inner-inner - select * ": Case(
        "NOK", f"CREATE STREAM OUTPUT as SELECT * {_STT};",
        lambda s: _stt(s)(select(s.S1, s.T2, s.T3)),  # kctx spells * out: select(Entity, ...)
        "S1_ID INT KEY, S1_V0 BIGINT, T2_ID INT, T2_V0 BIGINT, T3_ID INT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - flip join expression": Case(
        "A", "CREATE STREAM OUTPUT as SELECT T2.ID, s1.V0, t2.V0, t3.V0 FROM S1 JOIN T2 ON T2.ID = S1.ID "
             "JOIN T3 ON T3.ID = S1.ID;",
        lambda s: select(s.T2.id, s.S1.v0, s.T2.v0, s.T3.v0).from_(s.S1).join(s.T2, on=s.T2.id == s.S1.id)
        .join(s.T3, on=s.T3.id == s.S1.id),
        "T2_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-table-table - inner-inner - aliasing": Case(
        # source aliases (FROM S1 s) have no DSL spelling: the server part only
        "A", "CREATE STREAM OUTPUT as SELECT S.ID, s.V0, t.V0, tt.V0 FROM S1 s JOIN T2 t ON S.ID = T.ID "
             "JOIN T3 tt ON S.ID = TT.ID;", None,
        "S_ID INT KEY, S_V0 BIGINT, T_V0 BIGINT, TT_V0 BIGINT"),
    "stream-stream-table - inner-inner - cascading join criteria": Case(
        "A", "CREATE STREAM OUTPUT as SELECT s1.k, s1.V0, s2.V0, t3.V0 FROM S1 JOIN S2 WITHIN 10 seconds "
             "ON S1.K = S2.K JOIN T3 ON S2.K = T3.ID;",
        lambda s: select(s.S1.k, s.S1.v0, s.S2.v0, s.T3.v0).from_(s.S1)
        .join(s.S2, on=s.S1.k == s.S2.k, within=seconds(10)).join(s.T3, on=s.S2.k == s.T3.id),
        "S1_K INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-stream-table - inner-inner - rekey left and right": Case(
        "A", "CREATE STREAM OUTPUT as SELECT T3.ID, s1.V0, s2.V0, t3.V0 FROM S1 JOIN S2 WITHIN 10 seconds "
             "ON S1.K = S2.K JOIN T3 ON S1.K = T3.ID;",
        lambda s: select(s.T3.id, s.S1.v0, s.S2.v0, s.T3.v0).from_(s.S1)
        .join(s.S2, on=s.S1.k == s.S2.k, within=seconds(10)).join(s.T3, on=s.S1.k == s.T3.id),
        "T3_ID INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"),
    "stream-stream-table - full-inner": Case(
        "A", "CREATE STREAM OUTPUT as SELECT S1.ID, s1.V0, s2.V0, t3.V0 FROM S1 FULL JOIN S2 WITHIN 10 seconds "
             "ON S1.ID = S2.ID JOIN T3 ON S1.ID = T3.ID;",
        lambda s: select(s.S1.id, s.S1.v0, s.S2.v0, s.T3.v0).from_(s.S1)
        .full_join(s.S2, on=s.S1.id == s.S2.id, within=seconds(10)).join(s.T3, on=s.S1.id == s.T3.id),
        "S1_ID INT KEY, S1_V0 BIGINT, S2_V0 BIGINT, T3_V0 BIGINT"),
    "table-table-table - inner-full": Case(
        "A", "CREATE TABLE OUTPUT as SELECT ROWKEY AS ID, T1.V0, T2.V0, T3.V0 FROM T1 JOIN T2 ON T1.ID = T2.ID "
             "FULL JOIN T3 ON T1.ID = T3.ID;",
        lambda s: select(rowkey.label("id"), s.T1.v0, s.T2.v0, s.T3.v0).from_(s.T1)
        .join(s.T2, on=s.T1.id == s.T2.id).full_join(s.T3, on=s.T1.id == s.T3.id),
        "ID INT PRIMARY KEY, T1_V0 BIGINT, T2_V0 BIGINT, T3_V0 BIGINT"),
    "should generate correct aliases when sources have some matching and some different columns": Case(
        "DIFF", f"CREATE STREAM OUTPUT as SELECT S1.ID, s1.V0, t2.V0, t3.DIFF {_STT};",
        lambda s: _stt(s)(select(s.S1.id, s.S1.v0, s.T2.v0, s.T3.diff)),
        "S1_ID INT KEY, S1_V0 BIGINT, T2_V0 BIGINT, DIFF BIGINT"),
    # not from multi-joins.json: join columns of different types (BIGINT V0 = INT ID); the
    # test's "rekey on different expression" uses sources with V0 int for this reason
    "join columns of different types are refused": Case(
        "A", "CREATE STREAM OUTPUT AS SELECT T2.ID, S1.K, T2.V0 FROM S1 JOIN T2 ON S1.V0 = T2.ID;",
        lambda s: select(s.T2.id, s.S1.k, s.T2.v0).from_(s.S1).join(s.T2, on=s.S1.v0 == s.T2.id),
        error="Invalid join. Key types differ: BIGINT vs INTEGER", kctx_error="join-type-mismatch"),
    # not from multi-joins.json: an unqualified pseudo column in a join (kctx:
    # test_query_schema.test_rowtime_is_ambiguous_in_a_join)
    "unqualified ROWTIME in a join is ambiguous": Case(
        "A", "CREATE STREAM OUTPUT AS SELECT S1.ID, ROWTIME AS TS FROM S1 JOIN T2 ON S1.ID = T2.ID;",
        lambda s: select(s.S1.id, rowtime.label("ts")).from_(s.S1).join(s.T2, on=s.S1.id == s.T2.id),
        error="Column 'ROWTIME' is ambiguous. Could be S1.ROWTIME or T2.ROWTIME.", kctx_error="ambiguous-column"),
}

# a source name in the text, alone or as a column's prefix (S1.ID, S1_ID)
_SOURCE_NAME = re.compile(r"(?<![A-Z0-9_])(S1|S2|T1|T2|T3)(?![A-Z0-9])", re.IGNORECASE)


def _entity(base, name: str, topic: str, columns, query=None, key_format="KAFKA"):
    meta = {"name": name, "topic": topic, "partitions": 1, "key_format": key_format, "value_format": "JSON"}
    if query is not None:
        meta["query"] = query
    return type(name.title().replace("_", ""), (base,),
                {"__annotations__": dict(columns), "Meta": type("Meta", (), meta), "__module__": __name__})


def _schema(text: str) -> list[tuple[str, str, bool]]:
    """"A INT KEY, B BIGINT" -> [(A, INT, True), (B, BIGINT, False)] (no nested types here)."""
    out = []
    for part in text.split(", "):
        name, rest = part.split(" ", 1)
        key = rest.endswith(" KEY")
        out.append((name, rest.removesuffix(" PRIMARY KEY").removesuffix(" KEY"), key))
    return out


@dataclass
class Outcome:
    statement: str
    names: Callable[[str], str]        # the case's text with this run's names
    columns: list | None = None        # DESCRIBE's (name, type, key) of OUTPUT
    kind: str | None = None            # DESCRIBE's type
    error: str | None = None           # the server's error message
    analysis: Analysis | None = None   # kctx's inference (None: no DSL spelling)


@pytest.fixture(scope="module")
def multi_joins(ksqldb_url) -> dict[str, Outcome]:
    """Every case run on the server: the sources of each set once, then per case create
    OUTPUT, DESCRIBE it and TERMINATE its query at once; everything dropped at the end."""
    prefix = f"T_MULTI_JOINS_{secrets.token_hex(3).upper()}"
    outcomes: dict[str, Outcome] = {}
    with KsqlSources(ksqldb_url) as ks:
        sets: dict[str, SimpleNamespace] = {}
        for i, (test, case) in enumerate(MULTI_JOINS.items()):
            sp = f"{prefix}_{case.sources}"
            if case.sources not in sets:
                ns = SimpleNamespace()
                for name, (base, columns) in SOURCE_SETS[case.sources].items():
                    cls = _entity(base, f"{sp}_{name}", f"{sp}_{name}".lower(), columns)
                    ks.execute(entity_ddl(cls.__kctx__))
                    setattr(ns, name, cls)
                sets[case.sources] = ns
            sink = f"{prefix}_OUTPUT_{i}"

            def names(text, sp=sp, sink=sink):
                text = _SOURCE_NAME.sub(lambda m: f"{sp}_{m[1].upper()}", text)
                return re.sub(r"\bOUTPUT\b", sink, text)

            kind = "TABLE" if case.sql.upper().startswith("CREATE TABLE") else "STREAM"
            outcome = Outcome(statement="", names=names)
            if case.query is None:
                outcome.statement = names(case.sql)
            else:
                ns = sets[case.sources]
                cls = _entity(Table if kind == "TABLE" else Stream, sink, sink.lower(), [],
                              query=lambda q=case.query, ns=ns: q(ns))
                outcome.statement = entity_ddl(cls.__kctx__)
                outcome.analysis = Resolver().analysis(cls.__kctx__)
            try:
                ks.execute(outcome.statement)
            except KsqlStatementError as exc:
                outcome.error = exc.reason
            else:
                d = ks.describe(sink)
                outcome.columns, outcome.kind = described_columns(d), d["type"]
                ks.terminate_writers(sink)
            outcomes[test] = outcome
    return outcomes


@pytest.mark.parametrize("test", MULTI_JOINS)
def test_multi_joins_on_ksqldb(multi_joins, test):
    case, got = MULTI_JOINS[test], multi_joins[test]
    if case.error:
        assert got.error is not None, f"ksqlDB accepted {got.statement}"
        assert got.names(case.error) in got.error, got.error
        if got.analysis is not None and case.kctx_error:
            assert case.kctx_error in [code for code, _ in got.analysis.problems], got.analysis.problems
        return
    assert got.error is None, f"{got.error}\n{got.statement}"
    want = [(got.names(n), t, k) for n, t, k in _schema(case.want)]
    # ksqlDB prefixes clashing join columns with the source's name (here the run's name)
    assert got.columns == want, got.statement
    assert got.kind == ("TABLE" if case.sql.upper().startswith("CREATE TABLE") else "STREAM")
    a = got.analysis
    if a is not None:
        assert a.problems == []
        assert [(c.name, c.type.ksql(), c.key) for c in a.columns if not c.system] == got.columns
        assert a.kind == got.kind


# -- expression types, query shapes and refusals on the real ksqlDB ----------------------

class Addr(Struct):
    street: str
    city: str


# one column of every type (JSON key and value); X in the cases below
EVERYTHING = [
    ("id", Annotated[str, Key]), ("i", Int32), ("b", int), ("db", float),
    ("d", Annotated[Decimal, Precision(5, 2)]), ("d2", Annotated[Decimal, Precision(7, 3)]),
    ("d18", Annotated[Decimal, Precision(18, 4)]), ("s", str), ("ts", datetime), ("dt", date), ("tm", time),
    ("bs", bytes), ("arr", list[str]), ("ai", list[Int32]), ("m", dict[str, int]), ("st", Optional[Addr]),
    ("flag", bool), ("ksql_col_0", int), ("city", str),
]
CUSTOMERS = [("customer_id", Annotated[str, Key]), ("name", str), ("tier", Int32), ("region_id", str),
             ("address", Optional[Addr])]
REGIONS = [("region_id", Annotated[str, Key]), ("label", str)]
PAYMENTS = [("payment_id", Annotated[str, Key]), ("order_id", str), ("paid", Annotated[Decimal, Precision(10, 2)])]

_f = func
# scalar expressions over X that ksqlDB 8.1.5 accepts; kctx must infer the type DESCRIBE lists
_NUM = ("i", "b", "db", "d", "d2", "d18")
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod}
SCALARS: dict[str, Callable] = {
    **{f"{a} {op} {b}": (lambda x, a=a, op=op, b=b: _ARITH[op](getattr(x, a), getattr(x, b)))
       for op in _ARITH for a in _NUM for b in _NUM},
    "i + 1": lambda x: x.i + 1, "i + 10000000000": lambda x: x.i + 10_000_000_000,
    "d * 1.25": lambda x: x.d * Decimal("1.25"), "i * 0.5": lambda x: x.i * Decimal("0.5"),
    "d18 * 1.5 (float)": lambda x: x.d18 * 1.5, "d + Decimal(100)": lambda x: x.d + Decimal("100"),
    "i + Decimal(1E+2)": lambda x: x.i + Decimal("1E+2"), "d + -0.05": lambda x: x.d + Decimal("-0.05"),
    "-d": lambda x: -x.d, "-i": lambda x: -x.i, "s + '!'": lambda x: x.s + "!",
    # comparisons and predicates
    "i = b": lambda x: x.i == x.b, "d = d2": lambda x: x.d == x.d2, "ts > '2020-01-01'": lambda x: x.ts > "2020-01-01",
    "dt = ts": lambda x: x.dt == x.ts, "tm = s": lambda x: x.tm == x.s, "bs > bs": lambda x: x.bs > x.bs,
    "arr = arr": lambda x: x.arr == x.arr, "arr <> ai": lambda x: x.arr != x.ai, "st = st": lambda x: x.st == x.st,
    "m = m": lambda x: x.m == x.m, "flag = true": lambda x: x.flag == True,  # noqa: E712
    "i in (1, 2.5)": lambda x: x.i.in_(1, Decimal("2.5")), "i in (1, b)": lambda x: x.i.in_(1, x.b),
    "i in ('1')": lambda x: x.i.in_("1"), "s in ('a', 1)": lambda x: x.s.in_("a", 1),
    "s in (ts)": lambda x: x.s.in_(x.ts), "flag in ('true')": lambda x: x.flag.in_("true"),
    "dt in ('2020-01-01')": lambda x: x.dt.in_("2020-01-01"), "arr in (arr)": lambda x: x.arr.in_(x.arr),
    "i between 1 and 2.5": lambda x: x.i.between(1, Decimal("2.5")), "s between 1 and 2": lambda x: x.s.between(1, 2),
    "dt between ts and ts": lambda x: x.dt.between(x.ts, x.ts), "s like 'a%'": lambda x: x.s.like("a%"),
    "i is null": lambda x: x.i.is_null(),
    # CASE (one type only), CAST
    "case int/0": lambda x: case((x.flag, x.i), else_=0), "case null/d": lambda x: case((x.flag, None), else_=x.d),
    "cast i as decimal(6, 1)": lambda x: x.i.cast("DECIMAL(6, 1)"),
    # functions (every one kctx types), with arguments that need no cast and some that do
    "ucase": lambda x: _f.UCASE(x.s), "lcase": lambda x: _f.LCASE(x.s), "trim": lambda x: _f.TRIM(x.s),
    "initcap": lambda x: _f.INITCAP(x.s), "concat": lambda x: _f.CONCAT(x.s, "a"),
    "concat bytes": lambda x: _f.CONCAT(x.bs, x.bs), "concat_ws": lambda x: _f.CONCAT_WS(",", x.s, x.s),
    "substring": lambda x: _f.SUBSTRING(x.s, 1, 2), "substring bytes": lambda x: _f.SUBSTRING(x.bs, 1),
    "replace": lambda x: _f.REPLACE(x.s, "a", "b"), "lpad": lambda x: _f.LPAD(x.s, 5, "x"),
    "rpad": lambda x: _f.RPAD(x.s, 5, "x"), "len": lambda x: _f.LEN(x.s), "len bytes": lambda x: _f.LEN(x.bs),
    "instr": lambda x: _f.INSTR(x.s, "a"), "split": lambda x: _f.SPLIT(x.s, ","),
    "split bytes": lambda x: _f.SPLIT(x.bs, x.bs), "regexp_extract": lambda x: _f.REGEXP_EXTRACT("a", x.s),
    "regexp_replace": lambda x: _f.REGEXP_REPLACE(x.s, "a", "b"), "mask": lambda x: _f.MASK(x.s),
    "extractjsonfield": lambda x: _f.EXTRACTJSONFIELD(x.s, "$.a"), "uuid": lambda x: _f.UUID(),
    "chr": lambda x: _f.CHR(65), "encode": lambda x: _f.ENCODE(x.s, "ascii", "hex"),
    "to_bytes": lambda x: _f.TO_BYTES(x.s, "hex"), "from_bytes": lambda x: _f.FROM_BYTES(x.bs, "hex"),
    **{f"abs {c}": (lambda x, c=c: _f.ABS(getattr(x, c))) for c in ("i", "b", "db", "d")},
    **{f"round {c}": (lambda x, c=c: _f.ROUND(getattr(x, c))) for c in ("i", "b", "db", "d", "d18")},
    "round db, 2": lambda x: _f.ROUND(x.db, 2), "round d, 1": lambda x: _f.ROUND(x.d, 1),
    **{f"{fn.lower()} {c}": (lambda x, c=c, fn=fn: getattr(_f, fn)(getattr(x, c)))
       for fn in ("CEIL", "FLOOR", "TRUNC", "SIGN") for c in ("i", "b", "db", "d")},
    "trunc d, 1": lambda x: _f.TRUNC(x.d, 1), "sqrt i": lambda x: _f.SQRT(x.i), "sqrt d": lambda x: _f.SQRT(x.d),
    "exp": lambda x: _f.EXP(x.i), "ln": lambda x: _f.LN(x.db), "log": lambda x: _f.LOG(x.db),
    "log db, db": lambda x: _f.LOG(x.db, x.db), "power": lambda x: _f.POWER(x.i, 2), "random": lambda x: _f.RANDOM(),
    "greatest i, 5": lambda x: _f.GREATEST(x.i, 5), "greatest d, d2": lambda x: _f.GREATEST(x.d, x.d2),
    "least db, i": lambda x: _f.LEAST(x.db, x.i), "least i, db": lambda x: _f.LEAST(x.i, x.db),
    "greatest s": lambda x: _f.GREATEST(x.s, "a"),
    "least decimals": lambda x: _f.LEAST(x.i.cast("DECIMAL(6, 1)"), x.i.cast("DECIMAL(4, 3)"), x.d),
    "coalesce": lambda x: _f.COALESCE(x.s, "x"), "coalesce int": lambda x: _f.COALESCE(x.i, 5),
    "ifnull": lambda x: _f.IFNULL(x.i, 5), "nullif": lambda x: _f.NULLIF(x.i, 5),
    "timestamptostring": lambda x: _f.TIMESTAMPTOSTRING(x.b, "yyyy"),
    "timestamptostring int": lambda x: _f.TIMESTAMPTOSTRING(x.i, "yyyy"),
    "stringtotimestamp": lambda x: _f.STRINGTOTIMESTAMP(x.s, "yyyy"), "unix_timestamp": lambda x: _f.UNIX_TIMESTAMP(),
    "unix_timestamp ts": lambda x: _f.UNIX_TIMESTAMP(x.ts), "unix_date": lambda x: _f.UNIX_DATE(x.dt),
    "format_timestamp": lambda x: _f.FORMAT_TIMESTAMP(x.ts, "yyyy"),
    "parse_timestamp": lambda x: _f.PARSE_TIMESTAMP(x.s, "yyyy"), "from_unixtime": lambda x: _f.FROM_UNIXTIME(x.b),
    "format_date": lambda x: _f.FORMAT_DATE(x.dt, "yyyy"), "parse_date": lambda x: _f.PARSE_DATE(x.s, "yyyy"),
    "format_time": lambda x: _f.FORMAT_TIME(x.tm, "HH"), "parse_time": lambda x: _f.PARSE_TIME(x.s, "HH"),
    "datetostring": lambda x: _f.DATETOSTRING(x.i, "yyyy"), "stringtodate": lambda x: _f.STRINGTODATE(x.s, "yyyy"),
    "from_days": lambda x: _f.FROM_DAYS(x.i), "convert_tz": lambda x: _f.CONVERT_TZ(x.ts, "UTC", "UTC"),
    "array_length": lambda x: _f.ARRAY_LENGTH(x.arr), "array_contains": lambda x: _f.ARRAY_CONTAINS(x.arr, "a"),
    "array_distinct": lambda x: _f.ARRAY_DISTINCT(x.arr), "array_sort": lambda x: _f.ARRAY_SORT(x.ai, "DESC"),
    "array_max": lambda x: _f.ARRAY_MAX(x.ai), "array_min": lambda x: _f.ARRAY_MIN(x.arr),
    "array_join": lambda x: _f.ARRAY_JOIN(x.ai, ","), "array_remove": lambda x: _f.ARRAY_REMOVE(x.ai, 1),
    "map_keys": lambda x: _f.MAP_KEYS(x.m), "map_values": lambda x: _f.MAP_VALUES(x.m),
    "filter": lambda x: _f.FILTER(x.ai, lambda v: v > 1), "reduce": lambda x: _f.REDUCE(x.ai, 0, lambda a, v: a + v),
    # names: KSQL_COL_n skips a source column's number, struct fields after a CITY column
    "unnamed": lambda x: x.ksql_col_0 + 1, "unnamed 2": lambda x: x.i * 2,
    "struct field": lambda x: x.st.city, "struct field 2": lambda x: x.st.street,
}
_UNNAMED = ("unnamed", "unnamed 2", "struct field", "struct field 2")  # selected without a label

# aggregates (GROUP BY X.id); ksqlDB converts no argument of an aggregate
AGGREGATES: dict[str, Callable] = {
    "count": lambda x: count(), "count s": lambda x: count(x.s), "count distinct": lambda x: count(x.s, distinct=True),
    **{f"sum {c}": (lambda x, c=c: sum_(getattr(x, c))) for c in ("i", "b", "db", "d", "d18")},
    **{f"avg {c}": (lambda x, c=c: avg(getattr(x, c))) for c in ("i", "b", "db")},
    **{f"min {c}": (lambda x, c=c: min_(getattr(x, c))) for c in ("i", "d", "s", "dt", "tm", "bs")},
    **{f"max {c}": (lambda x, c=c: max_(getattr(x, c))) for c in ("b", "db", "d2", "ts")},
    "latest": lambda x: latest_by_offset(x.s), "latest 3": lambda x: latest_by_offset(x.d, 3),
    "latest ignore nulls": lambda x: _f.LATEST_BY_OFFSET(x.s, False),
    "latest 2 ignore nulls": lambda x: _f.LATEST_BY_OFFSET(x.s, 2, False),
    "earliest struct": lambda x: earliest_by_offset(x.st), "earliest 2": lambda x: earliest_by_offset(x.i, 2),
    "collect_list struct": lambda x: collect_list(x.st), "collect_list array": lambda x: collect_list(x.arr),
    "collect_set": lambda x: collect_set(x.s), "topk": lambda x: _f.TOPK(x.i, 3), "topk s": lambda x: _f.TOPK(x.s, 2),
    "topkdistinct d": lambda x: _f.TOPKDISTINCT(x.d, 2), "histogram": lambda x: _f.HISTOGRAM(x.s),
    "stddev_samp": lambda x: _f.STDDEV_SAMP(x.i), "stddev_sample": lambda x: _f.STDDEV_SAMPLE(x.db),
    "correlation": lambda x: _f.CORRELATION(x.b, x.b), "attr": lambda x: _f.ATTR(x.d),
    "sum + 1": lambda x: sum_(x.i) + 1, "max d + max d2": lambda x: max_(x.d) + max_(x.d2),
}

# whole queries over X, C (customers), R (regions), P (payments): keys, names, kinds
SHAPES: dict[str, Callable] = {
    "group by an expression": lambda n: select(_f.UCASE(n.X.s), count().label("n")).from_(n.X)
    .group_by(_f.UCASE(n.X.s)),
    "group by two columns, selected in another order": lambda n: select(n.X.s, n.X.i, count().label("n"))
    .from_(n.X).group_by(n.X.i, n.X.s),
    "partition by an expression": lambda n: select(n.X.id, _f.UCASE(n.X.s).label("u")).from_(n.X)
    .partition_by(_f.UCASE(n.X.s)),
    "partition by a struct": lambda n: select(n.X.st, n.X.id).from_(n.X).partition_by(n.X.st),
    "hopping window with bounds": lambda n: select(n.X.s, window_start.label("ws"), window_end.label("we"),
                                                   count().label("n")).from_(n.X)
    .window(Hopping(hours=1, advance_by=minutes(10))).group_by(n.X.s),
    "session window, emit final": lambda n: select(n.X.s, count().label("n")).from_(n.X)
    .window(Session(minutes=5)).group_by(n.X.s).emit_final(),
    "table projection": lambda n: select(n.C.customer_id, n.C.address.city, n.C.name).from_(n.C)
    .where(n.C.tier > 1),
    "foreign-key join": lambda n: select(n.C.customer_id, n.R.label, n.C.name).from_(n.C)
    .left_join(n.R, on=n.C.region_id == n.R.region_id),
    "stream-table join on an expression": lambda n: select(n.R.region_id, n.X.i).from_(n.X)
    .join(n.R, on=_f.UCASE(n.X.s) == n.R.region_id),
    "stream-stream right join": lambda n: select(n.P.order_id, n.X.i, n.P.paid).from_(n.X)
    .right_join(n.P, on=n.X.id == n.P.order_id, within=(minutes(5), hours(1)), grace=minutes(1)),
    "stream-stream full join": lambda n: select(rowkey.label("k"), n.X.i, n.P.paid).from_(n.X)
    .full_join(n.P, on=n.X.id == n.P.order_id, within=hours(1)),
}

# (query, part of the server's message, kctx's problem code): ksqlDB refuses, kctx says so
REFUSED: dict[str, tuple[Callable, str, str]] = {
    "CASE of INT and BIGINT": (lambda n: select(n.X.id, case((n.X.flag, n.X.i), else_=n.X.b).label("v")).from_(n.X),
                               "Invalid Case expression", "type-mismatch"),
    "CASE of two DECIMALs": (lambda n: select(n.X.id, case((n.X.flag, n.X.d), else_=n.X.d2).label("v")).from_(n.X),
                             "Invalid Case expression", "type-mismatch"),
    "CASE of NULLs only": (lambda n: select(n.X.id, case((n.X.flag, None)).label("v")).from_(n.X),
                           "All case branches have NULL type", "null-type"),
    "SELECT NULL": (lambda n: select(n.X.id, lit(None).label("v")).from_(n.X), "Can't infer a type of null", "null-type"),
    "COALESCE of two DECIMALs": (lambda n: select(n.X.id, _f.COALESCE(n.X.d, n.X.d2).label("v")).from_(n.X),
                                 "does not accept parameters", "bad-function-call"),
    "IFNULL(BIGINT, INT)": (lambda n: select(n.X.id, _f.IFNULL(n.X.b, 5).label("v")).from_(n.X),
                            "does not accept parameters", "bad-function-call"),
    "ROUND(INT, INT)": (lambda n: select(n.X.id, _f.ROUND(n.X.i, 1).label("v")).from_(n.X),
                        "ambiguous method parameters", "bad-function-call"),
    "GREATEST(INT, BIGINT)": (lambda n: select(n.X.id, _f.GREATEST(n.X.i, n.X.b).label("v")).from_(n.X),
                              "ambiguous method parameters", "bad-function-call"),
    "ROUND of a DECIMAL without integer digits": (
        lambda n: select(n.X.id, _f.ROUND(n.X.i.cast("DECIMAL(2, 2)")).label("v")).from_(n.X),
        "Cannot invoke the schema provider method", "bad-function-call"),
    "LEN(INT)": (lambda n: select(n.X.id, _f.LEN(n.X.i).label("v")).from_(n.X),
                 "does not accept parameters", "bad-function-call"),
    "AVG(DECIMAL)": (lambda n: select(n.X.id, avg(n.X.d).label("v")).from_(n.X).group_by(n.X.id),
                     "does not accept parameters", "bad-function-call"),
    "MIN(BOOLEAN)": (lambda n: select(n.X.id, min_(n.X.flag).label("v")).from_(n.X).group_by(n.X.id),
                     "does not accept parameters", "bad-function-call"),
    "CORRELATION(INT, DOUBLE)": (lambda n: select(n.X.id, _f.CORRELATION(n.X.i, n.X.db).label("v")).from_(n.X)
                                 .group_by(n.X.id), "does not accept parameters", "bad-function-call"),
    "BOOLEAN > BOOLEAN": (lambda n: select(n.X.id, (n.X.flag > False).label("v")).from_(n.X),
                          "Cannot compare FLAG (BOOLEAN) to false (BOOLEAN) with GREATER_THAN", "type-mismatch"),
    "ARRAY < ARRAY": (lambda n: select(n.X.id, (n.X.arr < n.X.arr).label("v")).from_(n.X),
                      "Cannot compare ARR (ARRAY<STRING>) to ARR (ARRAY<STRING>) with LESS_THAN", "type-mismatch"),
    "STRING = INT": (lambda n: select(n.X.id, (n.X.s == n.X.i).label("v")).from_(n.X),
                     "Cannot compare S (STRING) to I (INTEGER) with EQUAL", "type-mismatch"),
    "INT IN ('a')": (lambda n: select(n.X.id, n.X.i.in_("a").label("v")).from_(n.X),
                     "invalid input syntax for type INTEGER", "type-mismatch"),
    "lambda parameter named as a column": (
        lambda n: select(n.X.id, _f.FILTER(n.X.arr, lambda s: s == "a").label("v")).from_(n.X),
        "Lambda function argument can't be a column name", "bad-lambda"),
    "key columns only": (lambda n: select(n.X.id).from_(n.X), "The projection contains no value columns",
                         "no-value-columns"),
}


@dataclass
class Run:
    statement: str
    analysis: Analysis                 # kctx's inference for the whole query
    columns: list | None = None        # DESCRIBE's (name, type, key)
    kind: str | None = None            # DESCRIBE's type
    error: str | None = None           # the server's refusal
    column: object = None              # for one expression: kctx's OutColumn of it


@pytest.fixture(scope="module")
def on_ksqldb(ksqldb_url) -> dict[str, Run]:
    """Every SCALARS / AGGREGATES expression, SHAPES query and REFUSED query run on the
    server: the scalars in one CREATE STREAM … AS SELECT, the aggregates in one CREATE
    TABLE, each shape in its own, each query terminated once DESCRIBE is read; the refused
    statements create nothing. Keys of the result: "scalar:<id>", "aggregate:<id>",
    "shape:<id>", "refused:<id>"."""
    p = f"T_EXPR_{secrets.token_hex(3).upper()}"
    runs: dict[str, Run] = {}
    with KsqlSources(ksqldb_url) as ks:
        n = SimpleNamespace()
        for attr, base, columns in (("X", Stream, EVERYTHING), ("C", Table, CUSTOMERS), ("R", Table, REGIONS),
                                    ("P", Stream, PAYMENTS)):
            cls = _entity(base, f"{p}_{attr}", f"{p}_{attr}".lower(), columns, key_format="JSON")
            ks.execute(entity_ddl(cls.__kctx__))
            setattr(n, attr, cls)

        def run(name: str, q) -> Run:
            a = analyze(q)
            base = Table if a.kind == "TABLE" else Stream
            cls = _entity(base, name, name.lower(), [], query=lambda: q, key_format="JSON")
            r = Run(entity_ddl(cls.__kctx__), a)
            try:
                ks.execute(r.statement)
            except KsqlStatementError as exc:
                r.error = exc.reason
                return r
            d = ks.describe(name)
            r.columns, r.kind = described_columns(d), d["type"]
            ks.terminate_writers(name)
            return r

        def per_expression(what: str, exprs: dict, r: Run) -> None:
            # column 0 is X.ID (the key); expression i is column i + 1 of both
            for i, k in enumerate(exprs, start=1):
                runs[f"{what}:{k}"] = Run(r.statement, r.analysis, r.columns and [r.columns[i]], r.kind, r.error,
                                          r.analysis.columns[i])

        x = n.X
        items = [e(x) if k in _UNNAMED else e(x).label(f"e{i}") for i, (k, e) in enumerate(SCALARS.items())]
        per_expression("scalar", SCALARS, run(f"{p}_SCALARS", select(x.id, *items).from_(x)))
        items = [e(x).label(f"a{i}") for i, e in enumerate(AGGREGATES.values())]
        per_expression("aggregate", AGGREGATES, run(f"{p}_AGGREGATES", select(x.id, *items).from_(x).group_by(x.id)))
        for i, (k, build) in enumerate(SHAPES.items()):
            runs[f"shape:{k}"] = run(f"{p}_SHAPE_{i}", build(n))
        for i, (k, (build, _, _)) in enumerate(REFUSED.items()):
            runs[f"refused:{k}"] = run(f"{p}_REFUSED_{i}", build(n))
    return runs


@pytest.mark.parametrize("kind,key", [("scalar", k) for k in SCALARS] + [("aggregate", k) for k in AGGREGATES])
def test_expression_types_on_ksqldb(on_ksqldb, kind, key):
    r = on_ksqldb[f"{kind}:{key}"]
    assert r.error is None, f"{r.error}\n{r.statement}"
    assert r.analysis.problems == []
    c = r.column  # kctx's OutColumn of the expression
    assert c.type is not None, key
    assert (c.name, c.type.ksql(), c.key) == r.columns[0], r.statement


@pytest.mark.parametrize("key", SHAPES)
def test_query_shapes_on_ksqldb(on_ksqldb, key):
    r = on_ksqldb[f"shape:{key}"]
    assert r.analysis.problems == []
    assert r.error is None, f"{r.error}\n{r.statement}"
    assert [(c.name, c.type.ksql(), c.key) for c in r.analysis.columns if not c.system] == r.columns
    assert r.analysis.kind == r.kind


@pytest.mark.parametrize("key", REFUSED)
def test_refused_by_ksqldb_and_by_kctx(on_ksqldb, key):
    r, (_, message, code) = on_ksqldb[f"refused:{key}"], REFUSED[key]
    assert r.error is not None, f"ksqlDB accepted {r.statement}"
    assert message in r.error, r.error
    assert code in [c for c, _ in r.analysis.problems], r.analysis.problems


# -- the example project on the real ksqlDB -----------------------------------------------

def _prefixed_shop(tmp_path: Path, prefix: str) -> Path:
    """A copy of the example project whose topics and ksqlDB names carry ``prefix``
    (as tests/test_migrations_e2e.py makes it)."""
    root = tmp_path / "shop"
    shutil.copytree(REPO / "models", root / "models", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "kctx.toml", root / "kctx.toml")
    for f in (root / "models").glob("*.py"):
        text = re.sub(r'(\n\s+topic = ")', rf"\g<1>{prefix}_", f.read_text())
        f.write_text(re.sub(r'(\n        name = ")', rf"\g<1>{prefix.upper()}_", text))
    return root


def test_ksqldb_describes_what_kctx_infers_for_the_example_project(stack, tmp_path, unique_name):
    from kctx_cli.config import load_config
    from kctx_cli.derive import ddl
    from kctx_cli.model.discovery import load_project

    root = _prefixed_shop(tmp_path, unique_name)
    project = load_project(load_config(root))
    resolver = Resolver(project.entities)
    derived = [e for e in project.entities if e.derived]
    assert len(derived) >= 6
    described: dict[str, dict] = {}
    with KsqlSources(stack.ksqldb_url) as ks:
        for info in ddl.ordered(project, resolver):
            ks.execute(ddl.entity_ddl(info, resolver))
            if info.derived:
                described[info.name] = ks.describe(info.source_name)
                ks.terminate_writers(info.source_name)  # one query running at a time
    for info in derived:
        d = described[info.name]
        a = resolver.analysis(info)
        assert a.problems == [], info.name
        # DESCRIBE lists no window bounds (kctx marks them `system`)
        want = [(c.name, c.type.ksql(), c.key) for c in a.columns if not c.system]
        assert described_columns(d) == want, info.name
        assert d["type"] == a.kind, info.name


# -- source aliases and keyword-named columns (issue 15, 3) through kctx migrate ------------

ALIAS_MODELS = '''
from typing import Annotated, Optional
from kctx_cli.model import ColumnName, Key, Stream, Struct, Table
from kctx_cli.query import aliased, count, latest_by_offset, select


class Route(Struct):
    from_: Annotated[str, ColumnName("from")]
    to: str


class Order(Stream):
    order_id: Annotated[str, Key]
    customer_id: str
    from_: Annotated[str, ColumnName("from")]
    class_: Annotated[Optional[str], ColumnName("class")] = None
    route: Optional[Route] = None

    class Meta:
        topic = "{p}_orders"
        name = "{P}_ORDERS"
        partitions = 1


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str

    class Meta:
        topic = "{p}_customers"
        name = "{P}_CUSTOMERS"
        partitions = 1


class Enriched(Stream):
    """Aliases in a stream-table join: clashing columns are O_... and C_..."""
    o_customer_id: Annotated[str, Key]
    order_id: str
    from_: Annotated[str, ColumnName("from")]
    from_1: Optional[str]
    c_customer_id: str
    name: str

    class Meta:
        topic = "{p}_enriched"
        name = "{P}_ENRICHED"

        def query():
            o, c = aliased(Order, "O"), aliased(Customer, "C")
            return (select(o.customer_id, o.order_id, o.from_, o.route.from_, c.customer_id, c.name).from_(o)
                    .join(c, on=o.customer_id == c.customer_id).where(o.class_ != "spam"))


class Senders(Table):
    """An alias that is a reserved word, keyword columns as key, label and aggregate."""
    from_: Annotated[str, Key, ColumnName("from")]
    n: int
    in_: Annotated[Optional[str], ColumnName("in")]

    class Meta:
        topic = "{p}_senders"
        name = "{P}_SENDERS"

        def query():
            s = aliased(Order, "select")
            return (select(s.from_, count().label("n"), latest_by_offset(s.class_).label("in")).from_(s)
                    .group_by(s.from_))
'''


def test_aliases_and_keyword_columns_on_ksqldb(stack, tmp_path, unique_name, monkeypatch):
    """kctx migrate creates sources with keyword-named columns (`FROM`, CLASS, a STRUCT
    member `FROM`) and derived entities over aliases (FROM ... O JOIN ... C, an alias
    `SELECT`) with no drift; DESCRIBE of each is what kctx declares and infers; ksqlDB reads the Avro
    field ``from`` that kctx registered and a service wrote into the column FROM; a self-join
    is refused by the server with the message kctx reports."""
    import json
    import sys
    import textwrap

    import requests

    from kctx_cli import KafkaContext
    from kctx_cli.config import load_config
    from kctx_cli.derive import ddl
    from kctx_cli.model.discovery import load_project
    from kctx_cli.query import aliased, hours
    from tests.helpers import make_project, run_kctx

    p = unique_name
    root = make_project(tmp_path / "proj", {"shop.py": ALIAS_MODELS.replace("{p}", p).replace("{P}", p.upper())},
                        toml=textwrap.dedent("""\
        [project]
        models = "models"
        migrations = "migrations"
        """))
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    monkeypatch.setenv("KCTX_MIGRATIONS_TOPIC", f"_kctx_{p}")
    for cmd in (("makemigrations",), ("validate",), ("migrate",)):
        r = run_kctx(*cmd, cwd=root, env=env, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr

    for name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[name]
    project = load_project(load_config(root))
    resolver = Resolver(project.entities)
    by_name = {e.name: e for e in project.entities}
    with KsqlSources(stack.ksqldb_url) as ks:
        # dropped on exit, readers first (unique_name's prefix cleanup cannot order sources
        # whose queries are terminated: ksqlDB still refuses to drop what they read)
        ks.adopt(*[info.source_name for info in ddl.ordered(project, resolver)])
        with KafkaContext(project=root) as ctx:
            ctx.ensure_ready()  # no drift: the cluster's statements are the migrations' (aliases, `FROM`)
        described = {info.name: ks.describe(info.source_name) for info in project.entities}
        for info in project.entities:
            if info.derived:
                ks.terminate_writers(info.source_name)  # DESCRIBE is read: no query needs to run on
        # sources: the declared columns, `FROM` and a STRUCT member `FROM` included
        for name in ("Order", "Customer"):
            want = [(f.column, f.type.ksql(), f.key) for f in by_name[name].fields]
            assert described_columns(described[name]) == want, name
        assert ("ROUTE", "STRUCT<FROM STRING, TO STRING>", False) in described_columns(described["Order"])
        # derived entities: what kctx infers (aliases followed, O_/C_ prefixes, FROM_1)
        for name in ("Enriched", "Senders"):
            a = resolver.analysis(by_name[name])
            assert a.problems == [], name
            want = [(c.name, c.type.ksql(), c.key) for c in a.columns if not c.system]
            assert described_columns(described[name]) == want, name
            assert described[name]["type"] == a.kind, name
        assert "FROM " in ddl.entity_ddl(by_name["Senders"], resolver) and " `SELECT`" in ddl.entity_ddl(
            by_name["Senders"], resolver)

        # the Avro field of a source entity is the ColumnName as written (kctx registered it)
        subject = requests.get(f"{stack.schema_registry_url}/subjects/{p}_orders-value/versions/latest", timeout=10)
        fields = {f["name"]: f for f in json.loads(subject.json()["schema"])["fields"]}
        assert list(fields) == ["customer_id", "from", "class", "route"]

        # a self-join: kctx renders it, ksqlDB refuses it, kctx says what ksqlDB says
        Order = by_name["Order"].cls
        a_, b_ = aliased(Order, "A"), aliased(Order, "B")
        q = (select(a_.order_id, b_.customer_id.label("other")).from_(a_)
             .join(b_, on=a_.order_id == b_.customer_id, within=hours(1)))
        sink = f"{p.upper()}_SELF"
        cls = _entity(Stream, sink, sink.lower(), [], query=lambda: q)
        with pytest.raises(KsqlStatementError) as ei:
            ks.execute(entity_ddl(cls.__kctx__))
        message = f"Can not join '{p.upper()}_ORDERS' to '{p.upper()}_ORDERS': self joins are not yet supported"
        assert message in ei.value.reason
        assert ("self-join", message) in analyze(q).problems

        # a service writes an Order (Avro field `from`); ksqlDB reads it into the column FROM
        with KafkaContext(project=root) as ctx:  # (the derived queries are terminated by now)
            Route = next(s for s in ctx.project.structs if s.__name__ == "Route")
            Order = next(e.cls for e in ctx.project.entities if e.name == "Order")
            ctx.add(Order(order_id="o1", customer_id="c1", from_="ada", class_="x", route=Route(from_="a", to="b")))
            ctx.flush()
            o = aliased(Order, "O")
            q = select(o.order_id, o.from_, o.class_, o.route).from_(o).emit_changes().limit(1)
            with ctx.stream(q, from_beginning=True, timeout=60) as rows:
                got = list(rows)
            assert got == [{"order_id": "o1", "from": "ada", "class": "x", "route": {"FROM": "a", "TO": "b"}}]

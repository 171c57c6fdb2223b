"""Do two CREATE statements declare the same stream or table?

ksqlDB does not keep a statement as it was sent. ``DESCRIBE``/``SHOW … EXTENDED`` return
the text ksqlDB rebuilt from its parsed form (checked against ksqlDB 8.1.5):

* WITH gains the properties ksqlDB chose: ``CLEANUP_POLICY``, ``PARTITIONS``, ``REPLICAS``,
  ``RETENTION_MS`` (and ``KEY_FORMAT`` when the server default applied);
* types are spelled as ksqlDB's SqlTypes (``INTEGER`` for ``INT``);
* every source gets an alias (``FROM ORDERS ORDERS``), every column reference is qualified
  (``ORDERS.AMOUNT``), every select item gets its implicit name as an alias
  (``ORDERS.AMOUNT AMOUNT``, ``COUNT(*) KSQL_COL_0``, ``O.ID O_ID`` for a clashing join
  column, ``O.ROUTE->`FROM` FROM_1`` for a struct field named like a column — ksqlDB's
  ColumnNames rules);
* expressions are fully parenthesised, ``JOIN`` becomes ``INNER JOIN``, duration units are
  plural (``1 HOURS``), and persistent queries end in ``EMIT CHANGES``.

``same_source`` compares two statements after undoing those rewrites on both sides, on
the dialect's trees (not text, so parentheses that change meaning still count). Properties
are compared only where the expected statement sets them: what ksqlDB filled in is not a
difference.
"""
from __future__ import annotations

import re
from typing import Callable, Optional

from sqlglot import exp

from kctx_cli.ksql import nodes as k

ColumnsOf = Callable[[str], Optional[set]]
"""Source name (upper-case, as ksqlDB stores it) -> its column names, or None if unknown."""

# WITH properties whose text ksqlDB upper-cases (format names); others keep their case
_UPPER_VALUES = {"KEY_FORMAT", "VALUE_FORMAT", "FORMAT", "WINDOW_TYPE", "CLEANUP_POLICY"}
_GENERATED = re.compile(r"KSQL_COL_\d+")


def as_created(text: str) -> k.CreateSource:
    """The CREATE that a source's stored text amounts to. ksqlDB 8.1.5 stores the original
    CREATE followed by each later ``ALTER … ADD COLUMN`` (one text, several statements);
    the added columns are folded into the CREATE. Raises KsqlSyntaxError on unreadable text."""
    from kctx_cli.ksql.dialect import parse

    trees = parse(text)
    create = trees[0].copy()
    for alter in trees[1:]:
        if isinstance(alter, k.AlterSource):
            create.set("columns", list(create.args.get("columns") or []) + [c.copy() for c in alter.expressions])
    return create


def same_source(actual: str, expected: str, columns_of: ColumnsOf | None = None) -> bool:
    """True when ``actual`` (typically ksqlDB's stored text of a source) declares the same
    source as ``expected`` (the statement kctx would send).

    ``actual`` may carry ksqlDB's appended ALTER statements (see ``as_created``).
    ``columns_of`` lets unqualified column references in a join be matched with ksqlDB's
    qualified ones; without it they compare as written. A statement either side cannot
    parse is "not the same". Raises nothing.
    """
    from kctx_cli.ksql.dialect import parse_one

    try:
        a, e = as_created(actual), parse_one(expected)
    except Exception:  # noqa: BLE001 - unreadable text is simply "different"
        return False
    if not (isinstance(a, k.CreateSource) and isinstance(e, k.CreateSource)):
        return False
    a, e = comparable(a, columns_of), comparable(e, columns_of)
    wanted = {_prop_name(p) for p in e.args.get("properties") or []}
    a.set("properties", [p for p in a.args.get("properties") or [] if _prop_name(p) in wanted])
    return a == e


def comparable(tree: k.CreateSource, columns_of: ColumnsOf | None = None) -> k.CreateSource:
    """A copy of a CREATE with ksqlDB's rewrites undone (see the module doc): no OR REPLACE
    / IF NOT EXISTS, properties sorted with format values upper-cased, and for a query:
    sources unaliased where the alias is the name, columns qualified only in joins,
    implicit select aliases dropped, no parentheses, INNER for plain joins, singular
    duration units, no EMIT CHANGES."""
    t = tree.copy()
    t.set("replace", None)
    t.set("exists", None)
    props = []
    for p in t.args.get("properties") or []:
        name = _prop_name(p)
        value = p.args["value"]
        if name in _UPPER_VALUES and isinstance(value, exp.Literal) and value.is_string:
            value = exp.Literal.string(value.this.upper())
        props.append(k.Property(this=exp.to_identifier(name), value=value))
    t.set("properties", sorted(props, key=_prop_name) or None)
    query = t.args.get("expression")
    if isinstance(query, exp.Select):
        t.set("expression", _query(query, columns_of))
    return t


def _prop_name(p) -> str:
    key = p.this.this if hasattr(p.this, "this") else str(p.this)
    return str(key).upper()


def _query(q: exp.Select, columns_of: ColumnsOf | None) -> exp.Select:
    q = q.copy()
    tables = [t for t in [q.args.get("from_") and q.args["from_"].this] + [j.this for j in q.args.get("joins") or []]
              if isinstance(t, exp.Table)]
    aliases: dict[str, str] = {}  # the name a column's qualifier uses -> the source
    for t in tables:
        name = t.name.upper()
        alias = t.alias.upper() if t.alias else name
        if alias == name:
            t.set("alias", None)
        aliases[alias] = name
    joined = len(tables) > 1
    for col in list(q.find_all(exp.Column)):
        qualifier = col.table.upper() if col.table else ""
        if not joined:
            if qualifier in aliases:
                col.set("table", None)
        elif not qualifier and columns_of is not None:
            owners = [a for a, src in aliases.items() if col.name.upper() in (columns_of(src) or ())]
            if len(owners) == 1:
                col.set("table", exp.to_identifier(owners[0]))
    items = []
    for item in q.expressions:
        if isinstance(item, exp.Alias) and _implicit(item, joined):
            item = item.this
        items.append(item)
    q.set("expressions", items)
    for paren in list(q.find_all(exp.Paren)):
        paren.replace(paren.this)
    for join in q.args.get("joins") or []:
        # JOIN = INNER JOIN; LEFT/RIGHT/FULL [OUTER] JOIN: the side says it all
        join.set("kind", None if join.side else "INNER")
    for d in q.find_all(k.Duration):
        unit = str(d.args["unit"]).upper()
        d.set("unit", unit[:-1] if unit.endswith("S") else unit)
    emit = q.args.get("emit")
    if emit is not None and str(emit.this).upper() == "CHANGES":
        q.set("emit", None)
    return q


def _implicit(item: exp.Alias, joined: bool) -> bool:
    """Is the alias the name ksqlDB would give the item anyway? A column's own name (or
    ``<SOURCE>_<COLUMN>`` in a join), ``KSQL_COL_n`` for anything else."""
    alias = item.alias.upper()
    inner = item.this
    if isinstance(inner, exp.Column):
        if alias == inner.name.upper():
            return True
        return joined and bool(inner.table) and alias == f"{inner.table}_{inner.name}".upper()
    if isinstance(inner, k.StructDeref):
        # a struct field's name, numbered when a column or an earlier item has it (ksqlDB's
        # ColumnNames: ROUTE->`FROM` is FROM_1 beside a column FROM), as KSQL_COL_n below
        member = str(inner.expression.name if hasattr(inner.expression, "name") else inner.expression).upper()
        return alias == member or re.fullmatch(re.escape(member) + r"_\d+", alias) is not None
    return bool(_GENERATED.fullmatch(alias))

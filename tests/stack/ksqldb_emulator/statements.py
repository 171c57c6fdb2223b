"""What a statement means, for the emulator, read from kctx's ksqlDB dialect.

kctx's dialect (``kctx_cli.ksql.dialect``, sqlglot-based) parses the text; this module
turns its trees into the small dataclasses ``engine.py`` and ``analyzer.py`` work with
(``Statement``, ``Query``, ``Column``, ``Expr`` with a resolved ``sqltypes.SqlType``
wherever the text fixes one), and words errors as ksqlDB does:

- ``ParseError`` — a statement ksqlDB rejects before it runs (syntax errors as
  ``line L:C: Syntax Error ...``, plus the few checks ksqlDB makes while building the
  statement: unknown custom types, HEADERS column types, duplicate GROUP BY expressions).
- ``split(text)`` — a request's statements with their positions; ``parse(text, types)``
  — one statement; ``parse_type``/``parse_schema`` — types and column lists as text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.tokens import TokenType

from kctx_cli.ksql import dialect
from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.errors import KsqlSyntaxError

from . import sqltypes as T


class ParseError(Exception):
    """A statement ksqlDB rejects while parsing; ``str()`` is ksqlDB's message.

    ``{pos}`` in the message stands for the position, so it can be shifted from the
    statement to the whole request text (ksqlDB parses the request as one text)."""

    def __init__(self, message: str, line: int = 1, col: int = 1):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col

    def __str__(self) -> str:
        return self.message.replace("{pos}", f"{self.line}:{self.col}")

    def shifted(self, line0: int, col0: int) -> "ParseError":
        """The same error for a statement that starts at ``line0``:``col0`` of the request."""
        col = self.col + col0 - 1 if self.line == 1 else self.col
        return ParseError(self.message, self.line + line0 - 1, col)


# ---------------------------------------------------------------------------
# The emulator's statement model
# ---------------------------------------------------------------------------


@dataclass
class Expr:
    kind: str  # lit col deref func binop neg not and or cmp isnull between in like case cast sub array map struct lambda star structall
    args: list = field(default_factory=list)
    value: object = None  # literal value / operator / name
    type: T.SqlType | None = None  # literal type / cast target
    qualifier: str | None = None  # col: source alias; func: the name as written
    text: str = ""  # ksqlDB-style rendering for messages and key names


@dataclass
class Column:
    name: str
    type: T.SqlType
    kind: str | None = None  # None (value), "KEY", "PRIMARY_KEY", "HEADERS"
    header: str | None = None  # the key of a HEADER('<key>') column


# ksqlDB's type for a HEADERS column.
HEADERS_TYPE = T.array(T.struct([("KEY", T.STRING), ("VALUE", T.BYTES)]))


@dataclass
class SelectItem:
    expr: Expr
    alias: str | None


@dataclass
class Relation:
    name: str
    alias: str
    line: int = 1  # where the name is in the statement (ksqlDB's "Line: L, Col: C" messages)
    col: int = 1


@dataclass
class Join:
    kind: str  # INNER LEFT RIGHT FULL
    right: Relation
    on: Expr
    within: bool


@dataclass
class Query:
    items: list[SelectItem]
    source: Relation
    joins: list[Join]
    window: str | None  # TUMBLING / HOPPING / SESSION
    where: Expr | None
    group_by: list[Expr]
    partition_by: list[Expr]
    having: Expr | None
    emit: str | None
    limit: int | None


@dataclass
class Statement:
    kind: str  # CREATE_STREAM CSAS DROP SHOW_TOPICS ... (see _statement)
    name: str | None = None
    source_type: str | None = None  # STREAM / TABLE
    or_replace: bool = False
    if_not_exists: bool = False
    if_exists: bool = False
    is_source: bool = False
    columns: list | None = None  # [Column]; INSERT VALUES: [column name]
    props: dict = field(default_factory=dict)
    query: Query | None = None
    delete_topic: bool = False
    extended: bool = False
    all: bool = False
    value: object = None
    type: T.SqlType | None = None


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

STATEMENT_WORDS = [
    "SELECT", "CREATE", "INSERT", "DESCRIBE", "PRINT", "EXPLAIN", "SHOW", "LIST", "TERMINATE",
    "PAUSE", "RESUME", "DROP", "SET", "DEFINE", "UNDEFINE", "UNSET", "ASSERT", "ALTER",
]


def split(text: str) -> list[tuple[str, int, int]]:
    """A request's statements as (text ending with its ';' if it had one, line, column
    where it starts in ``text``).  Syntax errors are left for ``parse`` to report."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = []
    for s in dialect.parse_statements(text):
        if s.tree is None and s.error is not None and s.text == text:
            # a lexical error: the text could not be split; report it as one statement
            return [(text.strip(), 1, 1)]
        start = starts[s.line - 1] + s.column - 1
        end = start + len(s.text)
        gap = len(text[end:]) - len(text[end:].lstrip())
        if text.startswith(";", end + gap):  # ksqlDB's statement text runs to its ';'
            end += gap + 1
        out.append((text[start:end], s.line, s.column))
    return out


def substitute(text: str, variables: dict[str, str]) -> str:
    """ksqlDB's variable substitution (``${name}``, also inside quotes, as ksqlDB does)."""
    try:
        return dialect.substitute(text, {str(n): str(v) for n, v in variables.items()})
    except KsqlSyntaxError as e:
        raise _syntax_error(e) from None


def parse(text: str, types: dict[str, T.SqlType] | None = None) -> Statement:
    """One statement (with or without its ';'); ``types``: the custom types (CREATE TYPE)."""
    try:
        tree = dialect.parse_one(text)
    except KsqlSyntaxError as e:
        raise _syntax_error(e) from None
    return _Reader(text, types or {}).statement(tree)


def parse_type(text: str, types: dict[str, T.SqlType] | None = None) -> T.SqlType:
    """A type as ksqlDB renders it, e.g. ``STRUCT<`A` INTEGER>`` (catalog JSON)."""
    try:
        return _Reader(text, types or {}).type(dialect.parse_type(text))
    except KsqlSyntaxError as e:
        raise _syntax_error(e) from None


def parse_schema(text: str) -> list[Column]:
    """A column list like ``ID BIGINT KEY, NAME STRING`` (the corpus' post_sources)."""
    stmt = parse(f"CREATE STREAM S ({text})")
    return stmt.columns


def _syntax_error(e: KsqlSyntaxError) -> ParseError:
    """The dialect's error in ksqlDB's words: ``line L:C: Syntax Error`` and, where the
    dialect names the offending token, ksqlDB's "Syntax error at or near ..." line."""
    line, col = e.line or 1, e.column or 1
    reason = e.reason
    m = re.match(r"invalid numeric literal (\S+): out of the BIGINT range$", reason)
    if m:
        return ParseError(f"Failed to prepare statement: line {{pos}}: Invalid numeric literal: {m[1]}", line, col)
    m = re.match(r"number overflows DOUBLE: (\S+)$", reason)
    if m:
        return ParseError(f"Failed to prepare statement: line {{pos}}: Number overflows DOUBLE: {m[1]}", line, col)
    found = re.search(r", found (?:reserved word )?('.*?'|`.*?`)(?: \(quote it.*\))?$", reason)
    if reason.startswith("expected a statement (") and found and found[1].startswith("'"):
        word = found[1][1:-1]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word):
            best = min(STATEMENT_WORDS, key=lambda w: _levenshtein(word.upper(), w))
            return ParseError(f"line {{pos}}: Syntax Error\nUnknown statement '{word}'\nDid you mean '{best}'?",
                              line, col)
    if found:
        near = found[1] if found[1].startswith("'") else f"'{found[1]}'"
        detail = f"Syntax error at or near {near} at line {{pos}}"
    elif reason.endswith(", but the statement ended"):
        detail = "Syntax error at or near '<EOF>' at line {pos}"
    else:
        detail = reason
    return ParseError("line {pos}: Syntax Error\n" + detail, line, col)


def _levenshtein(a: str, b: str) -> int:
    # ksqlDB suggests the statement word at the smallest edit distance
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# ---------------------------------------------------------------------------
# Dialect tree -> emulator statement
# ---------------------------------------------------------------------------

_TYPES = {
    exp.DType.BOOLEAN: T.BOOLEAN, exp.DType.INT: T.INTEGER, exp.DType.BIGINT: T.BIGINT,
    exp.DType.DOUBLE: T.DOUBLE, exp.DType.VARCHAR: T.STRING, exp.DType.VARBINARY: T.BYTES,
    exp.DType.DATE: T.DATE, exp.DType.TIME: T.TIME, exp.DType.TIMESTAMP: T.TIMESTAMP,
}
_CONSTRAINTS = {None: None, "KEY": "KEY", "PRIMARY KEY": "PRIMARY_KEY", "HEADERS": "HEADERS"}
_BINOPS = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.DPipe: "||"}
_CMPS = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
         exp.NullSafeNEQ: "IS DISTINCT FROM", exp.NullSafeEQ: "IS NOT DISTINCT FROM"}


class _Reader:
    """Builds the emulator's dataclasses from one statement's dialect tree."""

    def __init__(self, text: str, types: dict[str, T.SqlType]):
        self.text = text
        self.types = types
        self._tokens = None
        self._spelled: dict[str, list[str]] | None = None

    # -- what the dialect's tree does not keep (identifier positions, function names as
    # written), read from the statement's tokens for ksqlDB's messages ----------------------
    def _toks(self):
        if self._tokens is None:
            self._tokens = dialect.KSQL().tokenize(self.text)
        return self._tokens

    def _relation_positions(self) -> list[tuple[int, int]]:
        """(line, col) of each name after FROM / JOIN, in order."""
        toks = self._toks()
        out = []
        for i, t in enumerate(toks[:-1]):
            word = t.text.upper() if t.token_type == TokenType.VAR else None
            if word == "JOIN" or (word == "FROM" and not (i and toks[i - 1].text.upper() == "DISTINCT")):
                out.append((toks[i + 1].line, toks[i + 1].col))
        return out

    def _spellings(self) -> dict[str, list[str]]:
        """Function names as written (ksqlDB's messages quote them so), in text order."""
        if self._spelled is None:
            toks = self._toks()
            self._spelled = {}
            for t, nxt in zip(toks, toks[1:]):
                if t.token_type == TokenType.VAR and nxt.token_type == TokenType.L_PAREN:
                    self._spelled.setdefault(t.text.upper(), []).append(t.text)
        return self._spelled

    # -- statements ----------------------------------------------------------------------
    def statement(self, tree: exp.Expression) -> Statement:
        if isinstance(tree, k.Query):
            return Statement("SELECT", query=self.query(tree))
        if isinstance(tree, k.CreateSource):
            return self.create(tree)
        if isinstance(tree, k.CreateType):
            return Statement("CREATE_TYPE", name=_name(tree.this), type=self.type(tree.args["kind"]),
                             if_not_exists=bool(tree.args.get("exists")))
        if isinstance(tree, k.Drop):
            kind = tree.args["kind"]
            stmt = Statement("DROP" if kind in ("STREAM", "TABLE") else "DROP_" + kind, name=_name(tree.this),
                             if_exists=bool(tree.args.get("exists")),
                             delete_topic=bool(tree.args.get("delete_topic")))
            if kind in ("STREAM", "TABLE"):
                stmt.source_type = kind
            return stmt
        if isinstance(tree, k.InsertInto):
            return Statement("INSERT_INTO", name=_name(tree.this), props=self.props(tree),
                             query=self.query(tree.expression))
        if isinstance(tree, k.InsertValues):
            cols = tree.args.get("columns")
            return Statement("INSERT_VALUES", name=_name(tree.this),
                             columns=[_name(c) for c in cols] if cols else None,
                             value=[self.expr(v) for v in tree.expressions])
        if isinstance(tree, k.AlterSource):
            return Statement("ALTER", name=_name(tree.this), source_type=tree.args["kind"],
                             columns=[Column(_name(c.this), self.type(c.args["kind"])) for c in tree.expressions])
        if isinstance(tree, k.AlterSystem):
            return Statement("ALTER_SYSTEM", name=tree.this.this, value=tree.args["value"].this)
        if isinstance(tree, (k.Terminate, k.Pause, k.Resume)):
            return Statement(type(tree).__name__.upper(), all=bool(tree.args.get("all")),
                             name=_name(tree.this) if tree.this is not None else None)
        if isinstance(tree, k.Define):
            return Statement("DEFINE", name=tree.this.this, value=tree.args["value"].this)
        if isinstance(tree, k.Undefine):
            return Statement("UNDEFINE", name=tree.this.this)
        if isinstance(tree, k.SetProperty):
            return Statement("SET", name=tree.this.this, value=tree.args["value"].this)
        if isinstance(tree, k.UnsetProperty):
            return Statement("UNSET", name=tree.this.this)
        if isinstance(tree, k.Show):
            what = tree.this.replace(" ", "_")
            prefix = tree.args.get("prefix")
            return Statement("SHOW_" + (f"{prefix}_{what}" if prefix else what),
                             extended=bool(tree.args.get("extended")), all=bool(tree.args.get("all")))
        if isinstance(tree, k.Describe):
            kind = tree.args.get("kind")
            return Statement("DESCRIBE" + (f"_{kind}" if kind else ""),
                             name=_name(tree.this) if tree.this is not None else None,
                             extended=bool(tree.args.get("extended")))
        if isinstance(tree, k.Explain):
            if isinstance(tree.this, exp.Identifier):
                return Statement("EXPLAIN", name=_name(tree.this))
            return Statement("EXPLAIN_STATEMENT")
        if isinstance(tree, k.Print):
            return Statement("PRINT")
        if isinstance(tree, (k.AssertTopic, k.AssertSchema)):
            return Statement("ASSERT")
        if isinstance(tree, k.CreateConnector):
            return Statement("CREATE_CONNECTOR", name=_name(tree.this))
        return Statement(type(tree).__name__.upper())

    def create(self, tree: k.CreateSource) -> Statement:
        source_type = tree.args["kind"]
        query = tree.expression
        kind = ("CSAS" if source_type == "STREAM" else "CTAS") if query else "CREATE_" + source_type
        cols = tree.args.get("columns")
        return Statement(kind, name=_name(tree.this), source_type=source_type,
                         or_replace=bool(tree.args.get("replace")), if_not_exists=bool(tree.args.get("exists")),
                         is_source=bool(tree.args.get("source")),
                         columns=[self.column(c) for c in cols] if cols else None,
                         props=self.props(tree), query=self.query(query) if query else None)

    def column(self, c: k.ColumnDef) -> Column:
        typ = self.type(c.args["kind"])
        kind = _CONSTRAINTS[c.args.get("constraint")]
        header = c.args.get("header")
        if header is not None:
            kind, header = "HEADERS", header.this
            if typ != T.BYTES:
                raise ParseError(f"Failed to prepare statement: Invalid type for HEADER('{header}') column: "
                                 f"expected BYTES, got {typ.render()}")
        elif kind == "HEADERS" and typ != HEADERS_TYPE:
            raise ParseError(f"Failed to prepare statement: Invalid type for HEADERS column: expected "
                             f"{HEADERS_TYPE.render()}, got {typ.render()}")
        return Column(_name(c.this), typ, kind, header)

    def props(self, tree: exp.Expression) -> dict:
        """WITH (...) as NAME -> str | int | float | bool | None."""
        out = {}
        for p in tree.args.get("properties") or []:
            v = p.args["value"]
            if isinstance(v, exp.Literal) and not v.is_string:
                value = int(v.this) if re.fullmatch(r"-?\d+", v.this) else float(v.this)
            elif isinstance(v, exp.Boolean):
                value = v.this
            elif isinstance(v, exp.Null):
                value = None
            else:
                value = v.this
            out[p.this.this.upper()] = value
        return out

    def type(self, dt: exp.DataType) -> T.SqlType:
        this = dt.this
        if this in _TYPES:
            return _TYPES[this]
        if this == exp.DType.DECIMAL:
            p, s = (int(x.this.this) for x in dt.expressions)
            return T.decimal(p, s)
        if this == exp.DType.ARRAY:
            return T.array(self.type(dt.expressions[0]))
        if this == exp.DType.MAP:
            return T.map_of(self.type(dt.expressions[0]), self.type(dt.expressions[1]))
        if this == exp.DType.STRUCT:
            return T.struct([(_name(f.this), self.type(f.args["kind"])) for f in dt.expressions])
        name = dt.args.get("kind")  # USERDEFINED: a type from CREATE TYPE
        if name in self.types:
            return self.types[name]
        raise ParseError(f"Failed to prepare statement: Cannot resolve unknown type: {name}")

    # -- queries ---------------------------------------------------------------------
    def query(self, q: k.Query) -> Query:
        positions = iter(self._relation_positions())

        def relation(table: exp.Table) -> Relation:
            name = _name(table.this)
            alias = table.args.get("alias")
            line, col = next(positions, (1, 1))
            return Relation(name, _name(alias.this) if alias else name, line, col)

        items = [self.select_item(i) for i in q.expressions]
        source = relation(q.args["from_"].this)
        joins = []
        for j in q.args.get("joins") or []:
            right = relation(j.this)
            joins.append(Join(j.args.get("side") or "INNER", right, self.expr(j.args["on"]),
                              j.args.get("within") is not None))
        window = q.args.get("window")
        where = q.args.get("where")
        group = q.args.get("group")
        group_by = [self.expr(g) for g in group.expressions] if group else []
        if group is not None and not group_by:
            raise ParseError("GROUP BY requires at least one expression")
        seen = set()
        for g in group_by:
            if g.text.upper() in seen:
                raise ParseError(f"Duplicate GROUP BY expression: {g.text}")
            seen.add(g.text.upper())
        partition = q.args.get("partition_by")
        partition_by = [self.expr(p) for p in partition.expressions] if partition else []
        if partition is not None and not partition_by:
            raise ParseError("PARTITION BY requires at least one expression")
        having = q.args.get("having")
        emit = q.args.get("emit")
        limit = q.args.get("limit")
        return Query(items, source, joins, window.args["kind"] if window else None,
                     self.expr(where.this) if where else None, group_by, partition_by,
                     self.expr(having.this) if having else None, emit.this if emit else None,
                     int(limit.expression.this) if limit else None)

    def select_item(self, item: exp.Expression) -> SelectItem:
        if isinstance(item, exp.Star):
            return SelectItem(Expr("star", text="*"), None)
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            q = _name(item.args["table"])
            return SelectItem(Expr("star", qualifier=q, text=f"{q}.*"), None)
        if isinstance(item, exp.Alias):
            return SelectItem(self.expr(item.this), _name(item.args["alias"]))
        return SelectItem(self.expr(item), None)

    # -- expressions -------------------------------------------------------------------
    def expr(self, e: exp.Expression) -> Expr:
        x = self.expr
        if isinstance(e, exp.Paren):
            return x(e.this)
        if isinstance(e, exp.Literal):
            return _string(e.this) if e.is_string else _number(e.this)
        if isinstance(e, exp.Null):
            return Expr("lit", value=None, type=None, text="null")
        if isinstance(e, exp.Boolean):
            return Expr("lit", value=e.this, type=T.BOOLEAN, text=str(e.this).lower())
        if isinstance(e, exp.Column):
            name = _name(e.this)
            table = e.args.get("table")
            if table is None:
                return Expr("col", value=name, text=name)
            q = _name(table)
            return Expr("col", value=name, qualifier=q, text=f"{q}.{name}")
        if isinstance(e, k.TimeUnit):  # DATEADD(DAYS, ...): a bare word, as ksqlDB reads it
            return Expr("col", value=e.this, text=e.this)
        if isinstance(e, (exp.And, exp.Or)):
            op = "AND" if isinstance(e, exp.And) else "OR"
            a, b = x(e.this), x(e.expression)
            return Expr(op.lower(), [a, b], text=f"({a.text} {op} {b.text})")
        if isinstance(e, exp.Not):
            inner = e.this
            if isinstance(inner, exp.Is):
                return self._predicate(inner, negated=True)
            if isinstance(inner, (exp.Between, exp.In, exp.Like, exp.Escape)):
                return self._predicate(inner, negated=True)
            a = x(inner)
            return Expr("not", [a], text=f"(NOT {a.text})")
        if isinstance(e, (exp.Is, exp.Between, exp.In, exp.Like, exp.Escape)):
            return self._predicate(e, negated=False)
        if type(e) in _CMPS:
            op = _CMPS[type(e)]
            a, b = x(e.this), x(e.expression)
            return Expr("cmp", [a, b], value=op, text=f"({a.text} {op} {b.text})")
        if type(e) in _BINOPS:
            op = _BINOPS[type(e)]
            a, b = x(e.this), x(e.expression)
            return Expr("binop", [a, b], value=op, text=f"({a.text} {op} {b.text})")
        if isinstance(e, exp.Neg):
            a = x(e.this)
            if a.kind == "lit" and a.type is not None and a.type.is_numeric:
                value = ("-" + a.value) if isinstance(a.value, str) else -a.value
                return Expr("lit", value=value, type=a.type, text="-" + a.text)
            return Expr("neg", [a], text=f"-{a.text}")
        if isinstance(e, k.StructDeref):
            base = x(e.this)
            if isinstance(e.expression, exp.Star):
                return Expr("structall", [base], text=f"{base.text}->*")
            f = _name(e.expression)
            return Expr("deref", [base], value=f, text=f"{base.text}->{f}")
        if isinstance(e, exp.Bracket):
            base, idx = x(e.this), x(e.expressions[0])
            return Expr("sub", [base, idx], text=f"{base.text}[{idx.text}]")
        if isinstance(e, exp.Anonymous):
            return self._call(e)
        if isinstance(e, exp.Lambda):
            params = [_name(p) for p in e.expressions]
            body = x(e.this)
            shown = params[0] if len(params) == 1 else f"({', '.join(params)})"
            return Expr("lambda", [body], value=params, text=f"{shown} => {body.text}")
        if isinstance(e, exp.Case):
            operand = x(e.this) if e.this is not None else None
            branches = []
            for i in e.args.get("ifs") or []:
                branches += [x(i.this), x(i.args["true"])]
            default = e.args.get("default")
            return Expr("case", branches, value=(operand, x(default) if default is not None else None),
                        text="CASE")
        if isinstance(e, exp.Cast):
            a = x(e.this)
            typ = self.type(e.args["to"])
            return Expr("cast", [a], type=typ, text=f"CAST({a.text} AS {typ.render()})")
        if isinstance(e, exp.Array):
            items = [x(i) for i in e.expressions]
            return Expr("array", items, text="ARRAY[" + ", ".join(i.text for i in items) + "]")
        if isinstance(e, k.MapConstructor):
            items = []
            for pe in e.expressions:
                items += [x(pe.this), x(pe.expression)]
            return Expr("map", items, text="MAP(...)")
        if isinstance(e, k.StructConstructor):
            names = [_name(pe.this) for pe in e.expressions]
            vals = [x(pe.expression) for pe in e.expressions]
            return Expr("struct", vals, value=names,
                        text="STRUCT(" + ", ".join(f"{n}:={v.text}" for n, v in zip(names, vals)) + ")")
        if isinstance(e, k.TypedLiteral):  # DATE '2020-01-01', TIMESTAMP '...'
            word = e.this.this.upper()
            typ = T.SqlType(word) if word in T.PRIMITIVES else T.STRING
            return Expr("lit", value=e.expression.this, type=typ, text=word)
        if isinstance(e, exp.AtTimeZone):
            return x(e.this)
        if isinstance(e, k.Variable):
            raise ParseError(f"line {{pos}}: Syntax Error\nvariable '{e.this}' is not defined")
        raise ParseError(f"The kctx ksqlDB emulator cannot read the expression {dialect.render(e)}")

    def _predicate(self, e: exp.Expression, negated: bool) -> Expr:
        x = self.expr
        if isinstance(e, exp.Is):
            a = x(e.this)
            return Expr("isnull", [a], value=negated, text=f"({a.text} IS {'NOT ' if negated else ''}NULL)")
        if isinstance(e, exp.Between):
            a, lo, hi = x(e.this), x(e.args["low"]), x(e.args["high"])
            return Expr("between", [a, lo, hi], value=negated, text=f"({a.text} BETWEEN {lo.text} AND {hi.text})")
        if isinstance(e, exp.In):
            a, items = x(e.this), [x(i) for i in e.expressions]
            return Expr("in", [a] + items, value=negated,
                        text=f"({a.text} IN ({', '.join(i.text for i in items)}))")
        like = e.this if isinstance(e, exp.Escape) else e  # the escape character does not change the type
        a, p = x(like.this), x(like.expression)
        return Expr("like", [a, p], value=negated, text=f"({a.text} LIKE {p.text})")

    def _call(self, e: exp.Anonymous) -> Expr:
        name = e.this.upper()
        spelled = self._spellings().get(name)
        written = spelled.pop(0) if spelled else name
        if len(e.expressions) == 1 and isinstance(e.expressions[0], exp.Star):
            return Expr("func", [], value=name, qualifier=written, text=f"{name}(*)")
        args = [self.expr(a) for a in e.expressions]
        return Expr("func", args, value=name, qualifier=written,
                    text=f"{name}({', '.join(a.text for a in args)})")


def _name(node: exp.Expression) -> str:
    """The ksqlDB name of an identifier (unquoted names are already upper-case)."""
    if isinstance(node, k.Variable):
        raise ParseError(f"line {{pos}}: Syntax Error\nvariable '{node.this}' is not defined")
    return node.this


def _string(value: str) -> Expr:
    return Expr("lit", value=value, type=T.STRING, text=f"'{value}'")


def _number(s: str) -> Expr:
    """A numeric literal typed as ksqlDB types it: INTEGER, BIGINT, DECIMAL(p, s), DOUBLE."""
    if re.fullmatch(r"-?\d+", s):
        v = int(s)
        return Expr("lit", value=v, type=T.INTEGER if -2**31 <= v < 2**31 else T.BIGINT, text=s)
    if "e" in s.lower():
        return Expr("lit", value=float(s), type=T.DOUBLE, text=s)
    whole, _, frac = s.lstrip("-").partition(".")
    precision = max(len(whole.lstrip("0")) + len(frac), 1)
    return Expr("lit", value=s, type=T.decimal(max(precision, len(frac)), len(frac)), text=s)

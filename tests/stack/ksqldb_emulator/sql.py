"""A small ksqlDB statement parser for the emulator.

The kctx dialect (``kctx_cli.ksql``) renders and checks statements for kctx itself; the
emulator needs a different thing — the *meaning* of each statement (names, columns, WITH
properties, the projection of a CREATE ... AS SELECT) — so it has this recursive-descent
parser over ksqlDB's grammar (``../shared/ksqldb-docs/SqlBase.g4``). Errors are raised as
``ParseError`` carrying ksqlDB's message text ("line L:C: Syntax Error ...").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import sqltypes as T


class ParseError(Exception):
    """A syntax error; ``str()`` is ksqlDB's ``line L:C: ...`` message.

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
# Lexer
# ---------------------------------------------------------------------------


@dataclass
class Tok:
    kind: str  # IDENT QIDENT STRING NUMBER SYM EOF
    text: str  # raw text (identifier text without quotes, string value)
    line: int
    col: int  # 1-based

    @property
    def up(self) -> str:
        return self.text.upper() if self.kind == "IDENT" else self.text


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<bq>`(?:[^`]|``)*`)
  | (?P<dq>"(?:[^"]|"")*")
  | (?P<expnum>(?:\d+\.\d*|\.\d+|\d+)[eE][+-]?\d+(?![A-Za-z_@]))
  | (?P<digitident>\d+[A-Za-z_@][A-Za-z0-9_@:]*)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+))
  | (?P<ident>[A-Za-z_$@][A-Za-z0-9_$@]*)
  | (?P<sym><>|!=|<=|>=|\|\||->|=>|:=|[(),.;<>=+\-*/%\[\]:?{}])
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ParseError(
                f"line {{pos}}: Syntax Error\nSyntax error at or near '{text[pos]}' at line {{pos}}",
                line, pos - line_start + 1)
        kind = m.lastgroup
        raw = m.group()
        col = pos - line_start + 1
        if kind == "string":
            toks.append(Tok("STRING", raw[1:-1].replace("''", "'"), line, col))
        elif kind == "bq":
            toks.append(Tok("QIDENT", raw[1:-1].replace("``", "`"), line, col))
        elif kind == "dq":
            toks.append(Tok("QIDENT", raw[1:-1].replace('""', '"'), line, col))
        elif kind in ("number", "expnum"):
            toks.append(Tok("NUMBER", raw, line, col))
        elif kind == "digitident":
            toks.append(Tok("IDENT", raw, line, col))
        elif kind == "ident":
            toks.append(Tok("IDENT", raw, line, col))
        elif kind == "sym":
            toks.append(Tok("SYM", raw, line, col))
        nl = raw.count("\n")
        if nl:
            line += nl
            line_start = pos + raw.rfind("\n") + 1
        pos = m.end()
    toks.append(Tok("EOF", "<EOF>", line, pos - line_start + 1))
    return toks


def split_with_positions(text: str) -> list[tuple[str, int, int]]:
    """Split a request's ``ksql`` text into statements (each ending with ';'), with the
    line and column (1-based) where each starts in ``text``."""

    def where(i: int) -> tuple[int, int]:
        return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1

    out, start, pos = [], 0, 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            pos += 1
            continue
        if m.lastgroup == "sym" and m.group() == ";":
            raw = text[start:m.end()]
            stmt = raw.strip()
            if stmt != ";":
                out.append((stmt, *where(start + len(raw) - len(raw.lstrip()))))
            start = m.end()
        pos = m.end()
    raw = text[start:]
    rest = raw.strip()
    if rest and all(t.kind == "EOF" for t in _safe_tokens(rest)):
        rest = ""  # only comments
    if rest:
        out.append((rest, *where(start + len(raw) - len(raw.lstrip()))))
    return out


def _safe_tokens(text: str) -> list[Tok]:
    try:
        return tokenize(text)
    except ParseError:
        return [Tok("IDENT", "?", 1, 1)]


_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(text: str, variables: dict[str, str]) -> str:
    """ksqlDB variable substitution: ${name} outside string literals is replaced.

    ksqlDB replaces inside quoted strings too (values are quoted by the user), so a
    plain textual substitution matches its behaviour for defined variables."""

    def repl(m):
        name = m.group(1).upper()
        for k, v in variables.items():
            if k.upper() == name:
                return str(v)
        return m.group(0)

    return _VAR_RE.sub(repl, text)


# ---------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------


@dataclass
class Expr:
    kind: str  # lit col deref func binop neg not and or cmp isnull between in like case cast sub array map struct lambda star
    args: list = field(default_factory=list)
    value: object = None  # literal value / operator / name
    type: T.SqlType | None = None  # literal type / cast target
    qualifier: str | None = None  # col source alias
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
    line: int = 1
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
    kind: str
    text: str
    name: str | None = None
    source_type: str | None = None  # STREAM / TABLE
    or_replace: bool = False
    if_not_exists: bool = False
    if_exists: bool = False
    is_source: bool = False
    columns: list[Column] | None = None
    props: dict = field(default_factory=dict)
    query: Query | None = None
    delete_topic: bool = False
    extended: bool = False
    all: bool = False
    value: object = None
    type: T.SqlType | None = None


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------

STATEMENT_WORDS = [
    "SELECT", "CREATE", "INSERT", "DESCRIBE", "PRINT", "EXPLAIN", "SHOW", "LIST", "TERMINATE",
    "PAUSE", "RESUME", "DROP", "SET", "DEFINE", "UNDEFINE", "UNSET", "ASSERT", "ALTER",
]

_COMPARISONS = {"=", "<>", "!=", "<", ">", "<=", ">="}
_CMP_TEXT = {"!=": "<>"}


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


class Parser:
    def __init__(self, text: str, types: dict[str, T.SqlType] | None = None):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.custom_types = types or {}

    # -- token helpers ---------------------------------------------------
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, n=1) -> Tok:
        return self.toks[min(self.i + n, len(self.toks) - 1)]

    def at(self, *words) -> bool:
        t = self.tok
        return (t.kind == "IDENT" and t.up in words) or (t.kind == "SYM" and t.text in words)

    def accept(self, *words) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def error(self, detail: str | None = None, tok: Tok | None = None):
        t = tok or self.tok
        shown = "<EOF>" if t.kind == "EOF" else (t.text if t.kind != "STRING" else f"'{t.text}'")
        msg = detail or f"Syntax error at or near '{shown}' at line {t.line}:{t.col}"
        raise ParseError("line {pos}: Syntax Error\n" + msg.replace(f"line {t.line}:{t.col}", "line {pos}"),
                         t.line, t.col)

    def expect(self, *words):
        if not self.accept(*words):
            self.error()

    def ident(self) -> str:
        t = self.tok
        if t.kind == "IDENT":
            self.i += 1
            return t.text.upper()
        if t.kind == "QIDENT":
            self.i += 1
            return t.text
        self.error()

    def is_ident(self) -> bool:
        return self.tok.kind in ("IDENT", "QIDENT")

    # -- statements --------------------------------------------------------
    def statement(self) -> Statement:
        t = self.tok
        if t.kind != "IDENT" or t.up not in STATEMENT_WORDS:
            if t.kind == "IDENT":
                best = min(STATEMENT_WORDS, key=lambda w: _levenshtein(t.up, w))
                self.error(f"Unknown statement '{t.text}'\nDid you mean '{best}'?")
            self.error()
        word = t.up
        self.i += 1
        stmt = getattr(self, "_" + word.lower())()
        self.accept(";")
        if self.tok.kind != "EOF":
            self.error()
        stmt.text = self.text
        return stmt

    def _create(self) -> Statement:
        or_replace = False
        if self.accept("OR"):
            self.expect("REPLACE")
            or_replace = True
        is_source = self.accept("SOURCE")
        if self.accept("TYPE"):
            if_not_exists = self._if_not_exists()
            name = self.ident()
            self.expect("AS")
            return Statement("CREATE_TYPE", "", name=name, type=self.type_(), if_not_exists=if_not_exists)
        if self.at("STREAM", "TABLE"):
            st = self.tok.up
            self.i += 1
        else:
            self.error()
        if_not_exists = self._if_not_exists()
        name = self.ident()
        columns = None
        if self.accept("("):
            columns = [self.column(st)]
            while self.accept(","):
                columns.append(self.column(st))
            self.expect(")")
        props = self.with_props() if self.at("WITH") else {}
        query = None
        if self.accept("AS"):
            if columns is not None:
                self.error()
            query = self.query()
        kind = ("CSAS" if st == "STREAM" else "CTAS") if query else ("CREATE_" + st)
        return Statement(kind, "", name=name, source_type=st, or_replace=or_replace,
                         if_not_exists=if_not_exists, is_source=is_source, columns=columns,
                         props=props, query=query)

    def _if_not_exists(self) -> bool:
        if self.accept("IF"):
            self.expect("NOT")
            self.expect("EXISTS")
            return True
        return False

    def column(self, source_type: str) -> Column:
        name = self.ident()
        typ = self.type_()
        kind = None
        if self.accept("KEY"):
            kind = "KEY"
        elif self.accept("PRIMARY"):
            self.expect("KEY")
            kind = "PRIMARY_KEY"
        header = None
        if self.accept("KEY"):
            kind = "KEY"
        elif self.accept("PRIMARY"):
            self.expect("KEY")
            kind = "PRIMARY_KEY"
        elif self.accept("HEADERS"):
            kind = "HEADERS"
            if typ != HEADERS_TYPE:
                raise ParseError(f"Failed to prepare statement: Invalid type for HEADERS column: expected "
                                 f"{HEADERS_TYPE.render()}, got {typ.render()}")
        elif self.accept("HEADER"):
            self.expect("(")
            if self.tok.kind != "STRING":
                self.error()
            header = self.tok.text
            self.i += 1
            self.expect(")")
            kind = "HEADERS"
            if typ != T.BYTES:
                raise ParseError(f"Failed to prepare statement: Invalid type for HEADER('{header}') column: "
                                 f"expected BYTES, got {typ.render()}")
        return Column(name, typ, kind, header)

    def with_props(self) -> dict:
        self.expect("WITH")
        self.expect("(")
        props = {}
        while True:
            key = self.ident().upper()
            self.expect("=")
            t = self.tok
            if t.kind == "STRING":
                val = t.text
            elif t.kind == "NUMBER":
                val = int(t.text) if re.fullmatch(r"\d+", t.text) else float(t.text)
            elif t.kind == "IDENT" and t.up in ("TRUE", "FALSE"):
                val = t.up == "TRUE"
            elif t.kind == "SYM" and t.text == "-" and self.peek().kind == "NUMBER":
                self.i += 1
                val = -int(self.tok.text)
            else:
                self.error()
            self.i += 1
            props[key] = val
            if not self.accept(","):
                break
        self.expect(")")
        return props

    def type_(self) -> T.SqlType:
        t = self.tok
        if t.kind == "QIDENT":
            self.i += 1
            return self._custom(t)
        if t.kind != "IDENT":
            self.error()
        word = t.up
        self.i += 1
        word = T.ALIASES.get(word, word)
        if word in T.PRIMITIVES:
            if self.at("(") and self.peek().kind == "IDENT" and self.peek(2).text == ")" and \
                    T.ALIASES.get(self.peek().up, self.peek().up) in T.PRIMITIVES:
                self.i += 3  # ksqlDB's own rendering, e.g. VARCHAR(STRING)
            return T.SqlType(word)
        if word == "DECIMAL":
            self.expect("(")
            p = self._int()
            self.expect(",")
            s = self._int()
            self.expect(")")
            return T.decimal(p, s)
        if word == "ARRAY":
            self.expect("<")
            item = self.type_()
            self._close_angle()
            return T.array(item)
        if word == "MAP":
            self.expect("<")
            k = self.type_()
            self.expect(",")
            v = self.type_()
            self._close_angle()
            return T.map_of(k, v)
        if word == "STRUCT":
            self.expect("<")
            fields = []
            if not self.at(">"):
                while True:
                    fname = self.ident()
                    fields.append((fname, self.type_()))
                    if not self.accept(","):
                        break
            self._close_angle()
            return T.struct(fields)
        return self._custom(t)

    def _custom(self, t: Tok) -> T.SqlType:
        name = t.text if t.kind == "QIDENT" else t.up
        if t.kind == "IDENT" and name in ("NULL", "TRUE", "FALSE"):
            self.error(tok=t)
        if name in self.custom_types:
            return self.custom_types[name]
        raise ParseError(f"Failed to prepare statement: Cannot resolve unknown type: {name}", t.line, t.col)

    def _close_angle(self):
        # '>>' is lexed as two '>' tokens already
        self.expect(">")

    def _int(self) -> int:
        t = self.tok
        if t.kind != "NUMBER" or not t.text.isdigit():
            self.error()
        self.i += 1
        return int(t.text)

    def _drop(self) -> Statement:
        if self.accept("TYPE"):
            if_exists = self._if_exists()
            return Statement("DROP_TYPE", "", name=self.ident(), if_exists=if_exists)
        if self.at("STREAM", "TABLE"):
            st = self.tok.up
            self.i += 1
        else:
            self.error()
        if_exists = self._if_exists()
        name = self.ident()
        delete = False
        if self.accept("DELETE"):
            self.expect("TOPIC")
            delete = True
        return Statement("DROP", "", name=name, source_type=st, if_exists=if_exists, delete_topic=delete)

    def _if_exists(self) -> bool:
        if self.accept("IF"):
            self.expect("EXISTS")
            return True
        return False

    def _list(self) -> Statement:
        return self._show()

    def _show(self) -> Statement:
        all_ = self.accept("ALL")
        if not self.at("STREAMS", "TABLES", "QUERIES", "TOPICS", "PROPERTIES", "VARIABLES", "TYPES",
                       "FUNCTIONS", "CONNECTORS"):
            self.error()
        what = self.tok.up
        self.i += 1
        if all_ and what != "TOPICS":
            self.error(tok=self.toks[self.i - 1])
        extended = self.accept("EXTENDED")
        return Statement("SHOW_" + what, "", extended=extended, all=all_)

    def _describe(self) -> Statement:
        if self.at("STREAMS", "TABLES") and self.peek().kind in ("EOF",) or (
            self.at("STREAMS", "TABLES") and self.peek().text in (";", "EXTENDED", "extended")
        ):
            what = self.tok.up
            self.i += 1
            return Statement("DESCRIBE_" + what, "", extended=self.accept("EXTENDED"))
        if self.accept("FUNCTION"):
            return Statement("DESCRIBE_FUNCTION", "", name=self.ident())
        if self.accept("CONNECTOR"):
            return Statement("DESCRIBE_CONNECTOR", "", name=self.ident())
        name = self.ident()
        return Statement("DESCRIBE", "", name=name, extended=self.accept("EXTENDED"))

    def _terminate(self) -> Statement:
        if self.accept("ALL"):
            return Statement("TERMINATE", "", all=True)
        if self.accept("CLUSTER"):
            return Statement("TERMINATE_CLUSTER", "")
        return Statement("TERMINATE", "", name=self.ident())

    def _alter(self) -> Statement:
        if self.accept("SYSTEM"):
            key = self._string()
            self.expect("=")
            return Statement("ALTER_SYSTEM", "", name=key, value=self._string())
        if self.at("STREAM", "TABLE"):
            st = self.tok.up
            self.i += 1
        else:
            self.error()
        name = self.ident()
        cols = []
        while True:
            self.expect("ADD")
            self.accept("COLUMN")
            cname = self.ident()
            cols.append(Column(cname, self.type_()))
            if not self.accept(","):
                break
        return Statement("ALTER", "", name=name, source_type=st, columns=cols)

    def _string(self) -> str:
        t = self.tok
        if t.kind != "STRING":
            self.error()
        self.i += 1
        return t.text

    def _set(self) -> Statement:
        key = self._string()
        self.expect("=")
        return Statement("SET", "", name=key, value=self._string())

    def _unset(self) -> Statement:
        return Statement("UNSET", "", name=self._string())

    def _define(self) -> Statement:
        t = self.tok
        if t.kind != "IDENT":
            self.error()
        self.i += 1
        self.expect("=")
        return Statement("DEFINE", "", name=t.text, value=self._string())

    def _undefine(self) -> Statement:
        t = self.tok
        if t.kind != "IDENT":
            self.error()
        self.i += 1
        return Statement("UNDEFINE", "", name=t.text)

    def _insert(self) -> Statement:
        self.expect("INTO")
        name = self.ident()
        if self.at("WITH") or self.at("SELECT"):
            props = self.with_props() if self.at("WITH") else {}
            return Statement("INSERT_INTO", "", name=name, props=props, query=self.query())
        cols = None
        if self.at("(") and self.peek().kind in ("IDENT", "QIDENT"):
            self.expect("(")
            cols = [self.ident()]
            while self.accept(","):
                cols.append(self.ident())
            self.expect(")")
        self.expect("VALUES")
        self.expect("(")
        vals = [self.expr()]
        while self.accept(","):
            vals.append(self.expr())
        self.expect(")")
        return Statement("INSERT_VALUES", "", name=name, columns=cols, value=vals)

    def _select(self) -> Statement:
        self.i -= 1
        return Statement("SELECT", "", query=self.query())

    def _print(self) -> Statement:
        while self.tok.kind != "EOF":
            self.i += 1
        return Statement("PRINT", "")

    def _explain(self) -> Statement:
        if self.is_ident() and self.peek().kind == "EOF" or (self.is_ident() and self.peek().text == ";"):
            return Statement("EXPLAIN", "", name=self.ident())
        while self.tok.kind != "EOF":
            self.i += 1
        return Statement("EXPLAIN_STATEMENT", "")

    def _pause(self) -> Statement:
        return Statement("PAUSE", "", all=self.accept("ALL"), name=None if self.at(";") else (self.ident() if self.is_ident() else None))

    def _resume(self) -> Statement:
        return Statement("RESUME", "", all=self.accept("ALL"), name=None if self.at(";") else (self.ident() if self.is_ident() else None))

    def _assert(self) -> Statement:
        while self.tok.kind != "EOF":
            self.i += 1
        return Statement("ASSERT", "")

    # -- queries -----------------------------------------------------------
    def query(self) -> Query:
        self.expect("SELECT")
        items = [self.select_item()]
        while self.accept(","):
            items.append(self.select_item())
        self.expect("FROM")
        source = self.relation()
        joins = []
        while self.at("JOIN", "INNER", "LEFT", "RIGHT", "FULL"):
            kind = "INNER"
            if self.accept("LEFT"):
                kind = "LEFT"
            elif self.accept("RIGHT"):
                kind = "RIGHT"
            elif self.accept("FULL"):
                kind = "FULL"
            else:
                self.accept("INNER")
            self.accept("OUTER")
            self.expect("JOIN")
            right = self.relation()
            within = False
            if self.accept("WITHIN"):
                within = True
                self._skip_within()
            self.expect("ON")
            joins.append(Join(kind, right, self.expr(), within))
        window = None
        if self.accept("WINDOW"):
            window = self._window()
        where = self.expr() if self.accept("WHERE") else None
        group_by: list[Expr] = []
        partition_by: list[Expr] = []
        if self.accept("GROUP"):
            self.expect("BY")
            group_by = self._expr_list()
            if not group_by:
                raise ParseError("GROUP BY requires at least one expression")
            _no_duplicates(group_by)
        if self.accept("PARTITION"):
            self.expect("BY")
            partition_by = self._expr_list()
            if not partition_by:
                raise ParseError("PARTITION BY requires at least one expression")
        having = self.expr() if self.accept("HAVING") else None
        emit = None
        if self.accept("EMIT"):
            if self.accept("CHANGES"):
                emit = "CHANGES"
            else:
                self.expect("FINAL")
                emit = "FINAL"
        limit = None
        if self.accept("LIMIT"):
            limit = self._int()
        return Query(items, source, joins, window, where, group_by, partition_by, having, emit, limit)

    def _expr_list(self) -> list[Expr]:
        if self.at("(") and self.peek().text == ")":
            self.i += 2
            return []
        paren = self.at("(") and self._paren_list_ahead()
        if paren:
            self.expect("(")
            if self.accept(")"):
                return []
        out = [self.expr()]
        while self.accept(","):
            out.append(self.expr())
        if paren:
            self.expect(")")
        return out

    def _paren_list_ahead(self) -> bool:
        # "GROUP BY (a, b)" vs "GROUP BY (a + b)": a top-level comma inside the parens.
        depth = 0
        for t in self.toks[self.i:]:
            if t.kind == "SYM" and t.text in "([":
                depth += 1
            elif t.kind == "SYM" and t.text in ")]":
                depth -= 1
                if depth == 0:
                    return False
            elif t.kind == "SYM" and t.text == "," and depth == 1:
                return True
            elif t.kind == "EOF":
                return False
        return False

    def _skip_within(self):
        if self.accept("("):
            depth = 1
            while depth and self.tok.kind != "EOF":
                if self.at("("):
                    depth += 1
                elif self.at(")"):
                    depth -= 1
                self.i += 1
            return
        self._int()
        self.ident()
        while self.at("GRACE"):
            self.i += 1
            self.expect("PERIOD")
            self._int()
            self.ident()

    def _window(self) -> str:
        kind = self.ident().upper()
        if kind not in ("TUMBLING", "HOPPING", "SESSION"):
            self.error(tok=self.toks[self.i - 1])
        self.expect("(")
        depth = 1
        while depth and self.tok.kind != "EOF":
            if self.at("("):
                depth += 1
            elif self.at(")"):
                depth -= 1
            self.i += 1
        return kind

    def relation(self) -> Relation:
        start = self.tok
        name = self.ident()
        alias = name
        if self.accept("AS"):
            alias = self.ident()
        elif self.is_ident() and not self.at(
            "WHERE", "GROUP", "PARTITION", "HAVING", "EMIT", "LIMIT", "JOIN", "INNER", "LEFT",
            "RIGHT", "FULL", "WINDOW", "ON", "WITHIN", "OUTER"
        ):
            alias = self.ident()
        return Relation(name, alias, start.line, start.col)

    def select_item(self) -> SelectItem:
        if self.accept("*"):
            return SelectItem(Expr("star", text="*"), None)
        if self.is_ident() and self.peek().text == "." and self.peek(2).text == "*":
            q = self.ident()
            self.i += 2
            return SelectItem(Expr("star", qualifier=q, text=f"{q}.*"), None)
        e = self.expr()
        alias = None
        if self.accept("AS"):
            alias = self.ident()
        elif self.is_ident() and not self.at("FROM"):
            alias = self.ident()
        return SelectItem(e, alias)

    # -- expressions ---------------------------------------------------------
    def expr(self) -> Expr:
        return self._or()

    def _or(self) -> Expr:
        e = self._and()
        while self.accept("OR"):
            r = self._and()
            e = Expr("or", [e, r], text=f"({e.text} OR {r.text})")
        return e

    def _and(self) -> Expr:
        e = self._not()
        while self.accept("AND"):
            r = self._not()
            e = Expr("and", [e, r], text=f"({e.text} AND {r.text})")
        return e

    def _not(self) -> Expr:
        if self.accept("NOT"):
            e = self._not()
            return Expr("not", [e], text=f"(NOT {e.text})")
        return self._predicate()

    def _predicate(self) -> Expr:
        e = self._additive()
        while True:
            if self.tok.kind == "SYM" and self.tok.text in _COMPARISONS:
                op = _CMP_TEXT.get(self.tok.text, self.tok.text)
                self.i += 1
                r = self._additive()
                e = Expr("cmp", [e, r], value=op, text=f"({e.text} {op} {r.text})")
                continue
            if self.at("IS"):
                self.i += 1
                neg = self.accept("NOT")
                if self.accept("DISTINCT"):
                    self.expect("FROM")
                    r = self._additive()
                    e = Expr("cmp", [e, r], value="IS DISTINCT FROM", text=f"({e.text} IS DISTINCT FROM {r.text})")
                    continue
                self.expect("NULL")
                e = Expr("isnull", [e], value=neg, text=f"({e.text} IS {'NOT ' if neg else ''}NULL)")
                continue
            neg = False
            save = self.i
            if self.accept("NOT"):
                neg = True
            if self.accept("BETWEEN"):
                lo = self._additive()
                self.expect("AND")
                hi = self._additive()
                e = Expr("between", [e, lo, hi], value=neg, text=f"({e.text} BETWEEN {lo.text} AND {hi.text})")
                continue
            if self.accept("IN"):
                self.expect("(")
                items = [self.expr()]
                while self.accept(","):
                    items.append(self.expr())
                self.expect(")")
                e = Expr("in", [e] + items, value=neg, text=f"({e.text} IN ({', '.join(i.text for i in items)}))")
                continue
            if self.accept("LIKE"):
                p = self._additive()
                if self.accept("ESCAPE"):
                    self._additive()
                e = Expr("like", [e, p], value=neg, text=f"({e.text} LIKE {p.text})")
                continue
            self.i = save
            return e

    def _additive(self) -> Expr:
        e = self._multiplicative()
        while self.at("+", "-", "||"):
            op = self.tok.text
            self.i += 1
            r = self._multiplicative()
            e = Expr("binop", [e, r], value=op, text=f"({e.text} {op} {r.text})")
        return e

    def _multiplicative(self) -> Expr:
        e = self._unary()
        while self.at("*", "/", "%"):
            op = self.tok.text
            self.i += 1
            r = self._unary()
            e = Expr("binop", [e, r], value=op, text=f"({e.text} {op} {r.text})")
        return e

    def _unary(self) -> Expr:
        if self.at("-") and self.peek().kind == "NUMBER":
            self.i += 1
            t = self.tok
            self.i += 1
            return self._postfix(self._number(t, negative=True))
        if self.accept("-"):
            e = self._unary()
            if e.kind == "lit" and e.type is not None and e.type.is_numeric:
                value = ("-" + e.value) if isinstance(e.value, str) else -e.value
                return Expr("lit", value=value, type=e.type, text="-" + e.text)
            return Expr("neg", [e], text=f"-{e.text}")
        if self.accept("+"):
            return self._unary()
        return self._postfix(self._primary())

    def _postfix(self, e: Expr) -> Expr:
        while True:
            if self.accept("->"):
                if self.accept("*"):
                    e = Expr("structall", [e], text=f"{e.text}->*")
                    continue
                f = self.ident()
                e = Expr("deref", [e], value=f, text=f"{e.text}->{f}")
            elif self.accept("["):
                idx = self.expr()
                self.expect("]")
                e = Expr("sub", [e, idx], text=f"{e.text}[{idx.text}]")
            else:
                return e

    def _primary(self) -> Expr:
        t = self.tok
        if t.kind == "NUMBER":
            self.i += 1
            return self._number(t)
        if t.kind == "STRING":
            self.i += 1
            return Expr("lit", value=t.text, type=T.STRING, text=f"'{t.text}'")
        if self.accept("("):
            # lambda (a, b) => ...
            if self.is_ident() and self.peek().text in (",", ")"):
                save = self.i
                params = [self.ident()]
                while self.accept(","):
                    if not self.is_ident():
                        break
                    params.append(self.ident())
                if self.accept(")") and self.accept("=>"):
                    body = self.expr()
                    return Expr("lambda", [body], value=params, text=f"({', '.join(params)}) => {body.text}")
                self.i = save
            e = self.expr()
            self.expect(")")
            return e
        if t.kind == "IDENT":
            up = t.up
            if up in ("TRUE", "FALSE"):
                self.i += 1
                return Expr("lit", value=up == "TRUE", type=T.BOOLEAN, text=up.lower())
            if up == "NULL":
                self.i += 1
                return Expr("lit", value=None, type=None, text="null")
            if up == "CASE":
                return self._case()
            if up in ("CAST", "TRY_CAST") and self.peek().text == "(":
                self.i += 2
                e = self.expr()
                self.expect("AS")
                typ = self.type_()
                self.expect(")")
                return Expr("cast", [e], type=typ, text=f"CAST({e.text} AS {typ.render()})")
            if up == "ARRAY" and self.peek().text == "[":
                self.i += 2
                items = []
                if not self.at("]"):
                    items.append(self.expr())
                    while self.accept(","):
                        items.append(self.expr())
                self.expect("]")
                return Expr("array", items, text="ARRAY[" + ", ".join(i.text for i in items) + "]")
            if up == "MAP" and self.peek().text == "(":
                self.i += 2
                items = []
                if not self.at(")"):
                    while True:
                        k = self.expr()
                        self.expect(":=")
                        v = self.expr()
                        items += [k, v]
                        if not self.accept(","):
                            break
                self.expect(")")
                return Expr("map", items, text="MAP(...)")
            if up == "STRUCT" and self.peek().text == "(":
                self.i += 2
                names, vals = [], []
                if not self.at(")"):
                    while True:
                        names.append(self.ident())
                        self.expect(":=")
                        vals.append(self.expr())
                        if not self.accept(","):
                            break
                self.expect(")")
                return Expr("struct", vals, value=names, text="STRUCT(" + ", ".join(
                    f"{n}:={v.text}" for n, v in zip(names, vals)) + ")")
            if up in ("DATE", "TIME", "TIMESTAMP") and self.peek().kind == "STRING":
                self.i += 2
                return Expr("lit", value=self.toks[self.i - 1].text, type=T.SqlType(up), text=up)
            if up == "INTERVAL":
                self.i += 1
                self._int()
                self.ident()
                return Expr("lit", value=0, type=T.BIGINT, text="INTERVAL")
        if t.kind in ("IDENT", "QIDENT"):
            name = self.ident()
            if self.at("("):
                return self._call(t.text)
            if self.at("=>"):
                self.i += 1
                body = self.expr()
                return Expr("lambda", [body], value=[name], text=f"{name} => {body.text}")
            if self.at(".") and self.peek().kind in ("IDENT", "QIDENT"):
                self.i += 1
                col = self.ident()
                return Expr("col", value=col, qualifier=name, text=f"{name}.{col}")
            return Expr("col", value=name, text=name)
        self.error()

    def _number(self, t: Tok, negative: bool = False) -> Expr:
        s = ("-" if negative else "") + t.text
        if re.fullmatch(r"-?\d+", s):
            v = int(s)
            if -2**31 <= v <= 2**31 - 1:
                return Expr("lit", value=v, type=T.INTEGER, text=s)
            if -2**63 <= v <= 2**63 - 1:
                return Expr("lit", value=v, type=T.BIGINT, text=s)
            raise ParseError(f"Failed to prepare statement: line {{pos}}: Invalid numeric literal: {s}", t.line, t.col)
        if "e" in s.lower():
            if float(s) == float("inf"):
                raise ParseError(f"Failed to prepare statement: line {{pos}}: Number overflows DOUBLE: {s}",
                                 t.line, t.col)
            return Expr("lit", value=float(s), type=T.DOUBLE, text=s)
        whole, _, frac = s.lstrip("-").partition(".")
        digits = (whole.lstrip("0") + frac) or "0"
        precision = max(len(whole.lstrip("0")) + len(frac), 1)
        return Expr("lit", value=s, type=T.decimal(max(precision, len(frac)), len(frac)), text=s)

    def _call(self, name: str) -> Expr:
        self.expect("(")
        args: list[Expr] = []
        distinct = False
        if self.accept("*"):
            self.expect(")")
            return Expr("func", [], value=name.upper(), qualifier=name, text=f"{name.upper()}(*)")
        if not self.at(")"):
            distinct = self.accept("DISTINCT")
            args.append(self.expr())
            while self.accept(","):
                args.append(self.expr())
        self.expect(")")
        return Expr("func", args, value=name.upper(), qualifier=name,
                    text=f"{name.upper()}({'DISTINCT ' if distinct else ''}{', '.join(a.text for a in args)})")

    def _case(self) -> Expr:
        self.expect("CASE")
        operand = None
        if not self.at("WHEN"):
            operand = self.expr()
        branches = []
        while self.accept("WHEN"):
            w = self.expr()
            self.expect("THEN")
            branches += [w, self.expr()]
        if not branches:
            self.error()
        default = self.expr() if self.accept("ELSE") else None
        self.expect("END")
        return Expr("case", branches, value=(operand, default), text="CASE")


def _no_duplicates(exprs: list[Expr]) -> None:
    seen = set()
    for e in exprs:
        key = e.text.upper()
        if key in seen:
            shown = e.text if e.kind != "col" or e.qualifier else e.text
            raise ParseError(f"Duplicate GROUP BY expression: {shown}")
        seen.add(key)


def parse(text: str, types: dict[str, T.SqlType] | None = None) -> Statement:
    """Parse one statement (with or without its trailing ';')."""
    return Parser(text, types).statement()


def parse_schema(text: str) -> list[Column]:
    """Parse a column list like ``ID BIGINT KEY, NAME STRING`` (corpus post_sources)."""
    p = Parser("(" + text + ")")
    p.expect("(")
    cols = [p.column("STREAM")]
    while p.accept(","):
        cols.append(p.column("STREAM"))
    p.expect(")")
    return cols

"""The KSQL parser: ``KsqlParser``, a recursive descent over ksqlDB's grammar
(``SqlBase.g4``) that builds sqlglot trees (``sqlglot.exp`` nodes plus the ksqlDB-only
classes of ``kctx_cli.ksql.nodes``).

Why kctx has its own parser rather than a stock sqlglot dialect's:

- sqlglot has no ksqlDB dialect, and its generic parser cannot read ksqlDB's statements
  (CREATE STREAM/TABLE ... WITH (...), EMIT CHANGES, WINDOW TUMBLING/HOPPING/SESSION, joins
  WITHIN, ``->`` struct dereference, lambdas, ``${name}`` variables, PRINT, SHOW/LIST,
  TERMINATE, DEFINE, ASSERT ...): it falls back to opaque ``Command`` nodes
  (docs/benchmarks.md), which could not be checked, compared or rendered canonically;
- errors must read as ``file:line:col: message`` (``KsqlSyntaxError`` with 1-based line and
  column) and say what was expected and what was found, and a file's other statements must
  still be checked after an error (``kctx ksql check``, migration files);
- what is accepted must be exactly ksqlDB's grammar: its reserved words
  (``keywords.GRAMMAR_RESERVED``; a reserved word is refused as a name), a ``;`` after every
  statement of a file (as ksql-migrations requires), and the checks ksqlDB's AST builder
  makes while it parses (BIGINT/DOUBLE literal overflow, the WINDOW_SIZE property);
- speed: with the regular-expression lexer of ``kctx_cli.ksql.tokenizer``, parsing the
  whole ksqlDB corpus costs less than sqlglot's stock tokenizer alone (docs/benchmarks.md).

It still subclasses sqlglot's ``Parser`` and uses its token cursor (``_curr``,
``_advance``, ``_retreat``), so the ``KSQL`` dialect also works through
``sqlglot.parse(text, read=KSQL)``.  ``kctx_cli.ksql.dialect`` has the functions to call.
"""
from __future__ import annotations

from typing import Callable

from sqlglot import exp
from sqlglot.parser import Parser as _Parser
from sqlglot.tokens import Token, TokenType

from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.errors import KsqlSyntaxError
from kctx_cli.ksql.keywords import GRAMMAR_RESERVED, needs_quotes, window_size_problem
from kctx_cli.ksql.tokenizer import line_column, newline_offsets, split_statements

T = TokenType
WINDOW_UNITS = frozenset(
    "DAY HOUR MINUTE SECOND MILLISECOND DAYS HOURS MINUTES SECONDS MILLISECONDS".split()
)
_CLAUSES = frozenset("JOIN LEFT RIGHT FULL INNER WINDOW WHERE GROUP PARTITION HAVING EMIT LIMIT".split())

# canonical spelling of ksqlDB's built-in type names (aliases on the left)
_TYPE_NAMES = {
    "BOOLEAN": exp.DType.BOOLEAN,
    "INT": exp.DType.INT,
    "INTEGER": exp.DType.INT,
    "BIGINT": exp.DType.BIGINT,
    "DOUBLE": exp.DType.DOUBLE,
    "STRING": exp.DType.VARCHAR,
    "VARCHAR": exp.DType.VARCHAR,
    "BYTES": exp.DType.VARBINARY,
    "DATE": exp.DType.DATE,
    "TIME": exp.DType.TIME,
    "TIMESTAMP": exp.DType.TIMESTAMP,
}

_COMPARISONS = {
    T.EQ: exp.EQ,
    T.NEQ: exp.NEQ,
    T.LT: exp.LT,
    T.LTE: exp.LTE,
    T.GT: exp.GT,
    T.GTE: exp.GTE,
}


def _number(text: str) -> exp.Literal:
    # not exp.Literal.number, which turns "-1" into Neg(1)
    return exp.Literal(this=text, is_string=False)


class KsqlParser(_Parser):
    """Recursive descent over ksqlDB's grammar (SqlBase.g4), building sqlglot trees.

    Uses sqlglot's token cursor (``_curr``, ``_advance``, ``_retreat``); every rule is a
    ``_p_*`` method named after the grammar rule it implements.
    """

    text: str = ""
    _newlines: list[int] = []

    # -- cursor helpers -------------------------------------------------------

    def _start(self, toks: list[Token]) -> None:
        self._tokens = toks
        self._tokens_size = len(toks)
        # upper-case text of each bare word (None for other tokens), with one spare slot
        # so that look-ahead past the end needs no bounds check
        self._words = [t.text.upper() if t.token_type == T.VAR else None for t in toks]
        self._words.append(None)
        self._index = -1
        self._advance()

    def _at_end(self) -> bool:
        return self._curr.token_type == T.SENTINEL

    def _word(self) -> str | None:
        """Upper-case text of the current token if it is a bare word."""
        return self._words[self._index]

    def _is(self, word: str, *more: str) -> bool:
        """Whether the next tokens are these bare words (no advance)."""
        i = self._index
        if self._words[i] != word:
            return False
        for n, w in enumerate(more, 1):
            if i + n >= self._tokens_size or self._words[i + n] != w:
                return False
        return True

    def _kw(self, word: str, *more: str) -> bool:
        if self._is(word, *more):
            self._advance(1 + len(more))
            return True
        return False

    def _expect_kw(self, *words: str) -> None:
        for word in words:
            if not self._kw(word):
                self._fail(f"expected {word}")

    def _tok(self, token_type: TokenType) -> bool:
        if self._curr.token_type == token_type:
            self._advance()
            return True
        return False

    def _expect(self, token_type: TokenType, what: str) -> Token:
        tok = self._curr
        if tok.token_type != token_type:
            self._fail(f"expected {what}")
        self._advance()
        return tok

    def _describe(self, tok: Token) -> str:
        if tok.token_type == T.STRING:
            return "'" + tok.text.replace("'", "''") + "'"
        if tok.token_type == T.IDENTIFIER:
            return "`" + tok.text.replace("`", "``") + "`"
        return "'" + tok.text + "'"

    def position(self, offset: int) -> tuple[int, int]:
        """Character ``offset`` of the text given to ``set_text`` as 1-based (line, column)."""
        return line_column(self._newlines, offset)

    def _fail(self, message: str, tok: Token | None = None, found: bool = True) -> None:
        tok = tok or self._curr
        if tok.token_type == T.SENTINEL:
            last = self._tokens[-1] if self._tokens else None
            offset = last.end + 1 if last else 0
            line, col = self.position(offset)
            raise KsqlSyntaxError(f"{message}, but the statement ended", line, col)
        line, col = self.position(tok.start)
        raise KsqlSyntaxError(f"{message}, found {self._describe(tok)}" if found else message, line, col)

    # -- statements -----------------------------------------------------------

    def parse_statement_tokens(self, toks: list[Token]) -> exp.Expression:
        """One statement from its tokens (without the ``;``: see ``split_statements``);
        raises KsqlSyntaxError at the line:column of the first error."""
        self._start(toks)
        tree = self._p_statement()
        if not self._at_end():
            word = self._word()
            if word in self.STATEMENTS:
                self._fail("missing ';' at the end of the previous statement")
            if self._is("ORDER", "BY"):
                self._fail("ksqlDB queries have no ORDER BY", found=False)
            if word in _CLAUSES and isinstance(tree, (k.Query, k.CreateSource, k.InsertInto)):
                self._fail(
                    f"'{self._curr.text}' is out of place: a query's clauses go FROM, JOIN, "
                    "WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT",
                    found=False,
                )
            self._fail("expected ';' or the end of the statement")
        return tree

    def parse_expression_tokens(self, toks: list[Token]) -> exp.Expression:
        """One expression made of all of ``toks``; raises KsqlSyntaxError."""
        return self._parse_whole(toks, self._p_expression)

    def parse_type_tokens(self, toks: list[Token]) -> exp.DataType:
        """One type made of all of ``toks``; raises KsqlSyntaxError."""
        return self._parse_whole(toks, self._p_type)

    def _parse_whole(self, toks: list[Token], rule: Callable[[], exp.Expression]) -> exp.Expression:
        self._start(toks)
        tree = rule()
        if not self._at_end():
            self._fail("expected the end of the text")
        return tree

    def _p_statement(self) -> exp.Expression:
        word = self._word()
        handler = self.STATEMENTS.get(word or "")
        if handler is None:
            self._fail(
                "expected a statement (SELECT, CREATE, INSERT, DROP, ALTER, SHOW, LIST, "
                "DESCRIBE, EXPLAIN, PRINT, TERMINATE, PAUSE, RESUME, SET, UNSET, DEFINE, "
                "UNDEFINE, ASSERT)"
            )
        return handler(self)

    def _p_show(self) -> k.Show:
        self._advance()  # SHOW | LIST
        if self._kw("PROPERTIES"):
            return k.Show(this="PROPERTIES")
        if self._kw("ALL"):
            self._expect_kw("TOPICS")
            return k.Show(this="TOPICS", all=True, extended=self._kw("EXTENDED"))
        for what in ("TOPICS", "STREAMS", "TABLES", "QUERIES"):
            if self._kw(what):
                return k.Show(this=what, extended=self._kw("EXTENDED"))
        for what in ("FUNCTIONS", "TYPES", "VARIABLES", "CONNECTORS"):
            if self._kw(what):
                return k.Show(this=what)
        if self._kw("CONNECTOR", "PLUGINS"):
            return k.Show(this="CONNECTOR PLUGINS")
        for prefix in ("SOURCE", "SINK"):
            if self._kw(prefix, "CONNECTORS"):
                return k.Show(this="CONNECTORS", prefix=prefix)
        self._fail(
            "expected STREAMS, TABLES, QUERIES, TOPICS, TYPES, PROPERTIES, FUNCTIONS, "
            "VARIABLES or CONNECTORS"
        )

    def _p_describe(self) -> k.Describe:
        self._advance()
        if self._kw("FUNCTION"):
            return k.Describe(kind="FUNCTION", this=self._p_identifier())
        if self._kw("CONNECTOR"):
            return k.Describe(kind="CONNECTOR", this=self._p_identifier())
        for what in ("STREAMS", "TABLES"):
            if self._kw(what):
                return k.Describe(kind=what, extended=self._kw("EXTENDED"))
        return k.Describe(this=self._p_identifier(), extended=self._kw("EXTENDED"))

    def _p_print(self) -> k.Print:
        self._advance()
        node = k.Print(this=self._p_resource_name())
        if self._kw("FROM"):
            self._expect_kw("BEGINNING")
            node.set("from_beginning", True)
        if self._kw("INTERVAL") or self._kw("SAMPLE"):
            node.set("interval", self._p_number())
        if self._kw("LIMIT"):
            node.set("limit", self._p_number())
        return node

    def _p_query_control(self) -> exp.Expression:
        cls = {"TERMINATE": k.Terminate, "PAUSE": k.Pause, "RESUME": k.Resume}[self._word()]
        self._advance()
        if self._kw("ALL"):
            return cls(all=True)
        return cls(this=self._p_identifier("a query id or ALL"))

    def _p_set(self) -> k.SetProperty:
        self._advance()
        name = self._p_string("a property name in quotes")
        self._expect(T.EQ, "'='")
        return k.SetProperty(this=name, value=self._p_string("a value in quotes"))

    def _p_unset(self) -> k.UnsetProperty:
        self._advance()
        return k.UnsetProperty(this=self._p_string("a property name in quotes"))

    def _p_alter(self) -> exp.Expression:
        self._advance()
        if self._kw("SYSTEM"):
            name = self._p_string("a property name in quotes")
            self._expect(T.EQ, "'='")
            return k.AlterSystem(this=name, value=self._p_string("a value in quotes"))
        kind = self._word()
        if kind not in ("STREAM", "TABLE"):
            self._fail("expected STREAM, TABLE or SYSTEM")
        self._advance()
        name = self._p_identifier()
        options = []
        while True:
            self._expect_kw("ADD")
            self._kw("COLUMN")
            options.append(k.ColumnDef(this=self._p_identifier("a column name"), kind=self._p_type()))
            if not self._tok(T.COMMA):
                break
        return k.AlterSource(kind=kind, this=name, expressions=options)

    def _p_define(self) -> k.Define:
        self._advance()
        tok = self._curr
        if tok.token_type != T.VAR:
            self._fail("expected a variable name")
        self._advance()
        self._expect(T.EQ, "'='")
        return k.Define(this=exp.Identifier(this=tok.text), value=self._p_string("a value in quotes"))

    def _p_undefine(self) -> k.Undefine:
        self._advance()
        tok = self._curr
        if tok.token_type != T.VAR:
            self._fail("expected a variable name")
        self._advance()
        return k.Undefine(this=exp.Identifier(this=tok.text))

    def _p_explain(self) -> k.Explain:
        self._advance()
        if (self._word() or "") in self.STATEMENTS:
            return k.Explain(this=self._p_statement())
        return k.Explain(this=self._p_identifier("a statement or a query id"))

    def _p_assert(self) -> exp.Expression:
        self._advance()
        not_exists = self._kw("NOT", "EXISTS")
        if self._kw("TOPIC"):
            node = k.AssertTopic(this=self._p_resource_name(), not_exists=not_exists)
            if self._kw("WITH"):
                node.set("properties", self._p_properties())
        elif self._kw("SCHEMA"):
            node = k.AssertSchema(not_exists=not_exists)
            if self._kw("SUBJECT"):
                node.set("subject", self._p_resource_name())
            if self._kw("ID"):
                node.set("id", self._p_literal())
            if not node.args.get("subject") and not node.args.get("id"):
                self._fail("expected SUBJECT or ID")
        else:
            self._fail("expected TOPIC or SCHEMA")
        if self._kw("TIMEOUT"):
            node.set("timeout", self._p_duration())
        return node

    def _p_drop(self) -> k.Drop:
        self._advance()
        kind = self._word()
        if kind not in ("STREAM", "TABLE", "TYPE", "CONNECTOR"):
            self._fail("expected STREAM, TABLE, TYPE or CONNECTOR")
        self._advance()
        exists = self._kw("IF", "EXISTS")
        node = k.Drop(kind=kind, this=self._p_identifier(f"a {kind.lower()} name"), exists=exists)
        if kind in ("STREAM", "TABLE") and self._kw("DELETE"):
            self._expect_kw("TOPIC")
            node.set("delete_topic", True)
        return node

    def _p_insert(self) -> exp.Expression:
        self._advance()
        self._expect_kw("INTO")
        name = self._p_identifier("a stream name")
        columns = None
        if self._curr.token_type == T.L_PAREN:
            self._advance()
            columns = self._p_comma_list(lambda: self._p_identifier("a column name"))
            self._expect(T.R_PAREN, "')'")
        if columns is not None or self._is("VALUES"):
            self._expect_kw("VALUES")
            return k.InsertValues(this=name, columns=columns, expressions=self._p_values())
        props = self._p_properties() if self._kw("WITH") else None
        if not self._is("SELECT"):
            self._fail("expected SELECT or VALUES")
        return k.InsertInto(this=name, properties=props, expression=self._p_query())

    def _p_values(self) -> list[exp.Expression]:
        self._expect(T.L_PAREN, "'('")
        values = self._p_comma_list(self._p_value_expression) if self._curr.token_type != T.R_PAREN else []
        self._expect(T.R_PAREN, "')' or ','")
        return values

    def _p_create(self) -> exp.Expression:
        self._advance()
        replace = self._kw("OR", "REPLACE")
        if self._kw("TYPE"):
            if replace:
                self._fail("CREATE OR REPLACE is not supported for types", self._prev)
            exists = self._kw("IF", "NOT", "EXISTS")
            name = self._p_identifier("a type name")
            self._expect_kw("AS")
            return k.CreateType(this=name, exists=exists, kind=self._p_type())
        for kind in ("SOURCE", "SINK"):
            if not replace and self._kw(kind, "CONNECTOR"):
                exists = self._kw("IF", "NOT", "EXISTS")
                name = self._p_identifier("a connector name")
                self._expect_kw("WITH")
                return k.CreateConnector(kind=kind, this=name, exists=exists, properties=self._p_properties())
        source = self._kw("SOURCE")
        kind = self._word()
        if kind not in ("STREAM", "TABLE"):
            self._fail("expected STREAM, TABLE, TYPE, SOURCE or SINK")
        self._advance()
        exists = self._kw("IF", "NOT", "EXISTS")
        node = k.CreateSource(
            kind=kind, this=self._p_identifier(f"a {kind.lower()} name"), replace=replace,
            source=source, exists=exists,
        )
        if self._curr.token_type == T.L_PAREN:
            node.set("columns", self._p_table_elements())
        if self._kw("WITH"):
            node.set("properties", self._p_properties())
        if self._is("AS"):
            if node.args.get("columns"):
                self._fail("a CREATE ... AS SELECT statement cannot declare columns")
            if source:
                self._fail("CREATE SOURCE cannot be used with AS SELECT")
            self._advance()
            if not self._is("SELECT"):
                self._fail("expected SELECT")
            node.set("expression", self._p_query())
        return node

    def _p_table_elements(self) -> list[k.ColumnDef]:
        self._advance()  # (
        cols = self._p_comma_list(self._p_table_element)
        self._expect(T.R_PAREN, "')' or ','")
        return cols

    def _p_table_element(self) -> k.ColumnDef:
        col = k.ColumnDef(this=self._p_identifier("a column name"), kind=self._p_type())
        if self._kw("PRIMARY", "KEY"):
            col.set("constraint", "PRIMARY KEY")
        elif self._kw("KEY"):
            col.set("constraint", "KEY")
        elif self._kw("HEADERS"):
            col.set("constraint", "HEADERS")
        elif self._kw("HEADER"):
            self._expect(T.L_PAREN, "'('")
            col.set("header", self._p_string("a header key in quotes"))
            self._expect(T.R_PAREN, "')'")
        return col

    def _p_properties(self) -> list[k.Property]:
        self._expect(T.L_PAREN, "'('")
        props = self._p_comma_list(self._p_property)
        self._expect(T.R_PAREN, "')' or ','")
        return props

    def _p_property(self) -> k.Property:
        if self._curr.token_type == T.STRING:
            name: exp.Expression = exp.Literal.string(self._curr.text)
            self._advance()
        else:
            name = self._p_identifier("a property name")
        self._expect(T.EQ, "'='")
        value_tok = self._curr
        value = self._p_literal()
        if name.this.upper() == "WINDOW_SIZE" and value.is_string:
            # ksqlDB parses this property while it builds the statement
            problem = window_size_problem(value.this)
            if problem:
                self._fail(f"invalid WINDOW_SIZE '{value.this}': {problem}", value_tok, found=False)
        return k.Property(this=name, value=value)

    def _p_resource_name(self) -> exp.Expression:
        """grammar ``resourceName: identifier | STRING`` (PRINT, ASSERT TOPIC, ASSERT SCHEMA
        SUBJECT): a Kafka topic or subject name, which is case-sensitive.  ksqlDB keeps the
        case of an unquoted name here (AstBuilder ``getIdentifierText(true, ...)``, ksql
        PR #3339), so ``orders``, `` `orders` `` and ``'orders'`` all name the topic
        ``orders``: the tree holds that name as a string literal (rendered ``'orders'``).
        A ``${variable}`` stays a variable."""
        tok = self._curr
        if tok.token_type in (T.STRING, T.IDENTIFIER):
            self._advance()
            return exp.Literal.string(tok.text)
        if tok.token_type == T.VAR:
            self._p_identifier()  # reserved words are refused as for any identifier
            return exp.Literal.string(tok.text)
        return self._p_identifier("a topic name")

    # -- query ----------------------------------------------------------------

    def _p_query(self) -> k.Query:
        self._expect_kw("SELECT")
        query = k.Query(expressions=self._p_select_items())
        self._expect_kw("FROM")
        query.set("from_", exp.From(this=self._p_aliased_relation()))
        joins = []
        while True:
            join = self._p_join()
            if join is None:
                break
            joins.append(join)
        if joins:
            query.set("joins", joins)
        if self._kw("WINDOW"):
            query.set("window", self._p_window())
        if self._kw("WHERE"):
            query.set("where", exp.Where(this=self._p_expression()))
        if self._kw("GROUP"):
            self._expect_kw("BY")
            query.set("group", exp.Group(expressions=self._p_grouping()))
        if self._kw("PARTITION"):
            self._expect_kw("BY")
            query.set("partition_by", k.PartitionBy(expressions=self._p_grouping()))
        if self._kw("HAVING"):
            query.set("having", exp.Having(this=self._p_expression()))
        if self._kw("EMIT"):
            what = self._word()
            if what not in ("CHANGES", "FINAL"):
                self._fail("expected CHANGES or FINAL")
            self._advance()
            query.set("emit", k.Emit(this=what))
        if self._kw("LIMIT"):
            query.set("limit", exp.Limit(expression=self._p_number()))
        return query

    def _p_comma_list(self, item) -> list:
        """``item`` parsed once, then again after each comma."""
        items = [item()]
        while self._tok(T.COMMA):
            items.append(item())
        return items

    def _p_select_items(self) -> list[exp.Expression]:
        return self._p_comma_list(self._p_select_item)

    def _p_select_item(self) -> exp.Expression:
        if self._tok(T.STAR):
            return exp.Star()
        first = self._curr
        item = self._p_expression(select_item=True)
        if not _is_star_item(item) and any(_is_star_item(node) for node in item.walk()):
            self._fail("'*' selects columns and cannot be part of an expression", first, found=False)
        if _is_star_item(item):  # T.* or STRUCT_COL->*: nothing may follow
            if not (self._curr.token_type in (T.COMMA, T.SENTINEL) or self._is("FROM")):
                self._fail("expected ',' or FROM")
            return item
        if self._kw("AS"):
            return exp.Alias(this=item, alias=self._p_identifier("an alias"))
        if self._is_identifier_start():
            return exp.Alias(this=item, alias=self._p_identifier())
        return item

    def _is_identifier_start(self) -> bool:
        tok = self._curr
        if tok.token_type == T.IDENTIFIER:
            return True
        if tok.token_type == T.PARAMETER:
            return True
        return tok.token_type == T.VAR and tok.text.upper() not in GRAMMAR_RESERVED

    def _p_aliased_relation(self) -> exp.Table:
        node = exp.Table(this=self._p_identifier("a source name"))
        if self._kw("AS"):
            node.set("alias", exp.TableAlias(this=self._p_identifier("an alias")))
        elif self._is_identifier_start() and not self._clause_follows():
            node.set("alias", exp.TableAlias(this=self._p_identifier()))
        return node

    def _clause_follows(self) -> bool:
        # PARTITION and EMIT are not reserved, yet "FROM S PARTITION BY" starts a clause;
        # such a source alias would be absurd, so they are never taken as one unless
        # written with AS
        return self._word() in ("PARTITION", "EMIT") or self._is("ORDER", "BY")

    def _p_join(self) -> k.Join | None:
        side = None
        if self._kw("JOIN") or self._kw("INNER", "JOIN"):
            pass
        elif self._kw("LEFT"):
            side = "LEFT"
        elif self._kw("RIGHT"):
            side = "RIGHT"
        elif self._kw("FULL"):
            side = "FULL"
        else:
            return None
        if side:
            self._kw("OUTER")
            self._expect_kw("JOIN")
        join = k.Join(this=self._p_aliased_relation(), side=side)
        if self._kw("WITHIN"):
            join.set("within", self._p_within())
        self._expect_kw("ON")
        join.set("on", self._p_expression())
        return join

    def _p_within(self) -> k.Within:
        if self._tok(T.L_PAREN):
            before = self._p_duration()
            self._expect(T.COMMA, "','")
            after = self._p_duration()
            self._expect(T.R_PAREN, "')'")
            node = k.Within(before=before, after=after)
        else:
            node = k.Within(before=self._p_duration())
        if self._kw("GRACE"):
            self._expect_kw("PERIOD")
            node.set("grace", self._p_duration())
        return node

    def _p_window(self) -> k.WindowClause:
        name = None
        if self._curr.token_type == T.VAR and self._next.token_type == T.VAR:
            name = self._ident(self._curr)  # grammar: (IDENTIFIER)? before the window kind
            self._advance()
        kind = self._word()
        if kind not in ("TUMBLING", "HOPPING", "SESSION"):
            self._fail("expected TUMBLING, HOPPING or SESSION")
        self._advance()
        self._expect(T.L_PAREN, "'('")
        if kind == "SESSION":
            node = k.WindowClause(kind=kind, size=self._p_duration(), name=name)
        else:
            self._expect_kw("SIZE")
            node = k.WindowClause(kind=kind, size=self._p_duration(), name=name)
            if kind == "HOPPING":
                if not (self._tok(T.COMMA) and self._kw("ADVANCE", "BY")):
                    self._fail("expected ', ADVANCE BY <duration>' (a HOPPING window needs both SIZE and ADVANCE BY)")
                node.set("advance", self._p_duration())
        while self._tok(T.COMMA):
            if self._kw("RETENTION") and not node.args.get("retention") and not node.args.get("grace"):
                node.set("retention", self._p_duration())
            elif self._kw("GRACE") and not node.args.get("grace"):
                self._expect_kw("PERIOD")
                node.set("grace", self._p_duration())
            else:
                self._fail("expected RETENTION or GRACE PERIOD")
        self._expect(T.R_PAREN, "')'")
        return node

    def _p_duration(self) -> k.Duration:
        number = self._p_number()
        unit = self._word()
        if unit not in WINDOW_UNITS:
            self._fail("expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)")
        self._advance()
        return k.Duration(this=number, unit=unit)

    def _p_grouping(self) -> list[exp.Expression]:
        start = self._index
        if self._curr.token_type == T.L_PAREN:
            # "(a, b)" is a parenthesised list; "(a + b) * 2" an expression
            try:
                exprs = self._p_expression_list()
                if self._curr.token_type in (T.COMMA, T.SENTINEL) or self._word() in (
                    "PARTITION", "HAVING", "EMIT", "LIMIT"
                ):
                    return exprs
            except KsqlSyntaxError:
                pass
            self._retreat(start)
            self._advance()
            exprs = []
            if self._curr.token_type != T.R_PAREN:
                exprs = self._p_expression_list()
            self._expect(T.R_PAREN, "')' or ','")
            return exprs
        return self._p_expression_list()

    def _p_expression_list(self) -> list[exp.Expression]:
        return self._p_comma_list(self._p_value_expression)

    # -- expressions ----------------------------------------------------------

    def _p_expression(self, select_item: bool = False) -> exp.Expression:
        left = self._p_and(select_item)
        while self._kw("OR"):
            left = exp.Or(this=left, expression=self._p_and())
        return left

    def _p_and(self, select_item: bool = False) -> exp.Expression:
        left = self._p_not(select_item)
        while self._kw("AND"):
            left = exp.And(this=left, expression=self._p_not())
        return left

    def _p_not(self, select_item: bool = False) -> exp.Expression:
        if self._kw("NOT"):
            return exp.Not(this=self._p_not())
        return self._p_predicated(select_item)

    def _p_predicated(self, select_item: bool = False) -> exp.Expression:
        value = self._p_value_expression(select_item)
        tok = self._curr
        cmp = _COMPARISONS.get(tok.token_type)
        if cmp:
            self._advance()
            return cmp(this=value, expression=self._p_value_expression())
        negate = self._is("NOT") and (
            self._is("NOT", "BETWEEN") or self._is("NOT", "IN") or self._is("NOT", "LIKE")
        )
        if negate:
            self._advance()
        if self._kw("BETWEEN"):
            low = self._p_value_expression()
            self._expect_kw("AND")
            node = exp.Between(this=value, low=low, high=self._p_value_expression())
        elif self._kw("IN"):
            self._expect(T.L_PAREN, "'('")
            items = self._p_comma_list(self._p_expression)
            self._expect(T.R_PAREN, "')' or ','")
            node = exp.In(this=value, expressions=items)
        elif self._kw("LIKE"):
            node = exp.Like(this=value, expression=self._p_value_expression())
            if self._kw("ESCAPE"):
                node = exp.Escape(this=node, expression=self._p_string("an escape character in quotes"))
        elif self._kw("IS"):
            not_ = self._kw("NOT")
            if self._kw("NULL"):
                node = exp.Is(this=value, expression=exp.Null())
                return exp.Not(this=node) if not_ else node
            if not self._kw("DISTINCT", "FROM"):
                self._fail("expected NULL or DISTINCT FROM after IS" + (" NOT" if not_ else ""))
            right = self._p_value_expression()
            return (exp.NullSafeEQ if not_ else exp.NullSafeNEQ)(this=value, expression=right)
        else:
            return value
        return exp.Not(this=node) if negate else node

    def _p_value_expression(self, select_item: bool = False) -> exp.Expression:
        left = self._p_additive(select_item)
        while self._tok(T.DPIPE):
            left = exp.DPipe(this=left, expression=self._p_additive())
        return left

    def _p_additive(self, select_item: bool = False) -> exp.Expression:
        left = self._p_multiplicative(select_item)
        while True:
            if self._tok(T.PLUS):
                left = exp.Add(this=left, expression=self._p_multiplicative())
            elif self._tok(T.DASH):
                left = exp.Sub(this=left, expression=self._p_multiplicative())
            else:
                return left

    def _p_multiplicative(self, select_item: bool = False) -> exp.Expression:
        left = self._p_unary(select_item)
        while True:
            tok = self._curr.token_type
            if tok == T.STAR:
                self._advance()
                left = exp.Mul(this=left, expression=self._p_unary())
            elif tok == T.SLASH:
                self._advance()
                left = exp.Div(this=left, expression=self._p_unary())
            elif tok == T.MOD:
                self._advance()
                left = exp.Mod(this=left, expression=self._p_unary())
            else:
                return left

    def _check_number(self, text: str, tok: Token) -> None:
        """ksqlDB's AST builder rejects literals that overflow BIGINT or DOUBLE."""
        digits = text.lstrip("-")
        if digits.isdigit():
            if not -(2**63) <= int(text) < 2**63:
                self._fail(f"invalid numeric literal {text}: out of the BIGINT range", tok, found=False)
        elif "e" in digits or "E" in digits:
            if float(text) in (float("inf"), float("-inf")):
                self._fail(f"number overflows DOUBLE: {text}", tok, found=False)

    def _p_unary(self, select_item: bool = False) -> exp.Expression:
        if self._curr.token_type == T.DASH and self._next.token_type == T.NUMBER:
            dash = self._curr
            self._advance(2)
            text = "-" + self._prev.text
            self._check_number(text, dash)
            return _number(text)
        if self._tok(T.DASH):
            operand = self._p_unary()
            if isinstance(operand, exp.Literal) and not operand.is_string and not operand.this.startswith("-"):
                return _number("-" + operand.this)
            return exp.Neg(this=operand)
        if self._tok(T.PLUS):
            return self._p_unary()
        value = self._p_primary(select_item)
        if self._kw("AT"):
            self._expect_kw("TIME", "ZONE")
            value = exp.AtTimeZone(this=value, zone=self._p_string("a time zone in quotes"))
        return value

    def _p_primary(self, select_item: bool = False) -> exp.Expression:
        tok = self._curr
        tt = tok.token_type
        if tt == T.NUMBER:
            self._advance()
            self._check_number(tok.text, tok)
            node: exp.Expression = _number(tok.text)
        elif tt == T.DOT and self._next.token_type == T.NUMBER and self._next.start == tok.end + 1:
            self._advance(2)
            node = _number("." + self._prev.text)
        elif tt == T.STRING:
            self._advance()
            node = exp.Literal.string(tok.text)
        elif tt == T.L_PAREN:
            self._advance()
            node = exp.Paren(this=self._p_expression())
            self._expect(T.R_PAREN, "')'")
        elif tt == T.PARAMETER:
            self._advance()
            node = k.Variable(this=tok.text)
        elif tt in (T.VAR, T.IDENTIFIER):
            node = self._p_word_primary(select_item)
        else:
            self._fail("expected an expression")
        # postfix: subscript and struct dereference
        while True:
            if self._tok(T.L_BRACKET):
                index = self._p_value_expression()
                self._expect(T.R_BRACKET, "']'")
                node = exp.Bracket(this=node, expressions=[index])
            elif self._tok(T.ARROW):
                if select_item and self._curr.token_type == T.STAR:
                    self._advance()
                    return k.StructDeref(this=node, expression=exp.Star())
                node = k.StructDeref(this=node, expression=self._p_identifier("a field name"))
            else:
                return node

    def _p_word_primary(self, select_item: bool) -> exp.Expression:
        tok = self._curr
        word = tok.text.upper() if tok.token_type == T.VAR else None
        nxt = self._next.token_type
        if word is not None:
            if word == "NULL":
                self._advance()
                return exp.Null()
            if word in ("TRUE", "FALSE"):
                self._advance()
                return exp.Boolean(this=word == "TRUE")
            if word == "CASE":
                return self._p_case()
            if word == "CAST" and nxt == T.L_PAREN:
                self._advance(2)
                value = self._p_expression()
                self._expect_kw("AS")
                to = self._p_type()
                self._expect(T.R_PAREN, "')'")
                return exp.Cast(this=value, to=to)
            if word == "ARRAY" and nxt == T.L_BRACKET:
                self._advance(2)
                items = self._p_comma_list(self._p_expression) if self._curr.token_type != T.R_BRACKET else []
                self._expect(T.R_BRACKET, "']' or ','")
                return exp.Array(expressions=items)
            if word in ("MAP", "STRUCT") and nxt == T.L_PAREN:
                return self._p_constructor(word)
            if nxt == T.STRING and word not in GRAMMAR_RESERVED:
                self._advance()
                value = exp.Literal.string(self._curr.text)
                self._advance()
                return k.TypedLiteral(this=exp.Identifier(this=word), expression=value)
        if nxt == T.L_PAREN and tok.token_type == T.VAR:
            return self._p_function_call()
        if word in GRAMMAR_RESERVED:
            self._fail("expected an expression")
        name = self._p_identifier("an expression")
        if self._curr.token_type == T.DOT:
            self._advance()
            if self._curr.token_type == T.STAR and select_item:
                self._advance()
                return exp.Column(this=exp.Star(), table=name)
            return exp.Column(this=self._p_identifier("a column name"), table=name)
        return exp.Column(this=name)

    def _p_constructor(self, word: str) -> exp.Expression:
        self._advance(2)
        entries = []
        if self._curr.token_type != T.R_PAREN:
            while True:
                key = self._p_identifier("a field name") if word == "STRUCT" else self._p_expression()
                self._expect(T.COLON_EQ, "':='")
                entries.append(exp.PropertyEQ(this=key, expression=self._p_expression()))
                if not self._tok(T.COMMA):
                    break
        self._expect(T.R_PAREN, "')' or ','")
        cls = k.StructConstructor if word == "STRUCT" else k.MapConstructor
        return cls(expressions=entries)

    def _p_case(self) -> exp.Case:
        self._advance()
        operand = None if self._is("WHEN") else self._p_value_expression()
        ifs = []
        while self._kw("WHEN"):
            cond = self._p_expression()
            self._expect_kw("THEN")
            ifs.append(exp.If(this=cond, true=self._p_expression()))
        if not ifs:
            self._fail("expected WHEN")
        default = self._p_expression() if self._kw("ELSE") else None
        self._expect_kw("END")
        return exp.Case(this=operand, ifs=ifs, default=default)

    def _p_function_call(self) -> exp.Expression:
        name = self._curr.text.upper()
        self._advance(2)
        args: list[exp.Expression] = []
        if self._tok(T.STAR):
            args.append(exp.Star())
        elif self._curr.token_type != T.R_PAREN:
            while True:
                args.append(self._p_function_argument())
                if not self._tok(T.COMMA):
                    break
        self._expect(T.R_PAREN, "')' or ','")
        return exp.Anonymous(this=name, expressions=args)

    def _p_function_argument(self) -> exp.Expression:
        tok, nxt = self._curr, self._next
        if tok.token_type == T.VAR and nxt.token_type == T.FARROW:
            self._advance(2)
            return exp.Lambda(this=self._p_expression(), expressions=[self._ident(tok)])
        if tok.token_type == T.L_PAREN and self._lambda_params_follow():
            self._advance()
            params = self._p_comma_list(lambda: self._p_identifier("a lambda parameter"))
            self._expect(T.R_PAREN, "')'")
            self._expect(T.FARROW, "'=>'")
            return exp.Lambda(this=self._p_expression(), expressions=params)
        if (
            tok.token_type == T.VAR
            and tok.text.upper() in WINDOW_UNITS
            and nxt.token_type in (T.COMMA, T.R_PAREN)
        ):
            self._advance()
            return k.TimeUnit(this=tok.text.upper())
        return self._p_expression()

    def _lambda_params_follow(self) -> bool:
        i = self._index + 1
        toks = self._tokens
        while i + 1 < self._tokens_size:
            if toks[i].token_type not in (T.VAR, T.IDENTIFIER):
                return False
            sep = toks[i + 1].token_type
            if sep == T.R_PAREN:
                return i + 2 < self._tokens_size and toks[i + 2].token_type == T.FARROW
            if sep != T.COMMA:
                return False
            i += 2
        return False

    # -- terminals ------------------------------------------------------------

    def _ident(self, tok: Token) -> exp.Identifier:
        name = tok.text if tok.token_type == T.IDENTIFIER else tok.text.upper()
        # quoted means "needs back-quotes", so `A` and A give equal trees
        return exp.Identifier(this=name, quoted=needs_quotes(name))

    def _p_identifier(self, what: str = "a name") -> exp.Expression:
        tok = self._curr
        if tok.token_type == T.IDENTIFIER:
            self._advance()
            return self._ident(tok)
        if tok.token_type == T.VAR:
            if tok.text.upper() in GRAMMAR_RESERVED:
                line, col = self.position(tok.start)
                raise KsqlSyntaxError(
                    f"expected {what}, found reserved word '{tok.text}' (quote it with back-quotes to use it as a name)",
                    line, col,
                )
            self._advance()
            return self._ident(tok)
        if tok.token_type == T.PARAMETER:
            self._advance()
            return k.Variable(this=tok.text)
        self._fail(f"expected {what}")

    def _p_string(self, what: str) -> exp.Literal:
        tok = self._curr
        if tok.token_type != T.STRING:
            self._fail(f"expected {what}")
        self._advance()
        return exp.Literal.string(tok.text)

    def _p_number(self) -> exp.Literal:
        negative = self._tok(T.DASH)
        tok = self._curr
        if tok.token_type != T.NUMBER:
            self._fail("expected a number")
        self._advance()
        return _number(("-" if negative else "") + tok.text)

    def _p_literal(self) -> exp.Expression:
        tok = self._curr
        if tok.token_type == T.STRING:
            self._advance()
            return exp.Literal.string(tok.text)
        if tok.token_type in (T.NUMBER, T.DASH):
            return self._p_number()
        if tok.token_type == T.PARAMETER:
            self._advance()
            return k.Variable(this=tok.text)
        word = self._word()
        if word == "NULL":
            self._advance()
            return exp.Null()
        if word in ("TRUE", "FALSE"):
            self._advance()
            return exp.Boolean(this=word == "TRUE")
        self._fail("expected a literal (a string in quotes, a number, TRUE, FALSE or NULL)")

    # -- types ----------------------------------------------------------------

    def _p_type(self) -> exp.DataType:
        dtype = self._p_base_type()
        while self._kw("ARRAY"):  # grammar: type ARRAY
            dtype = exp.DataType(this=exp.DType.ARRAY, expressions=[dtype], nested=True)
        return dtype

    def _p_base_type(self) -> exp.DataType:
        tok = self._curr
        word = self._word()
        if word == "ARRAY" and self._next.token_type == T.LT:
            self._advance(2)
            item = self._p_type()
            self._expect(T.GT, "'>'")
            return exp.DataType(this=exp.DType.ARRAY, expressions=[item], nested=True)
        if word == "MAP" and self._next.token_type == T.LT:
            self._advance(2)
            key = self._p_type()
            self._expect(T.COMMA, "',' and the value type (MAP<key type, value type>)")
            value = self._p_type()
            self._expect(T.GT, "'>'")
            return exp.DataType(this=exp.DType.MAP, expressions=[key, value], nested=True)
        if word == "STRUCT" and self._next.token_type == T.NEQ and self._next.text == "<>":
            self._advance(2)  # STRUCT<> lexes as STRUCT, '<>'
            return exp.DataType(this=exp.DType.STRUCT, expressions=[], nested=True)
        if word == "STRUCT" and self._next.token_type == T.LT:
            self._advance(2)
            fields = []
            if self._curr.token_type != T.GT:
                while True:
                    name = self._p_identifier("a field name")
                    fields.append(exp.ColumnDef(this=name, kind=self._p_type()))
                    if not self._tok(T.COMMA):
                        break
            self._expect(T.GT, "'>' or ','")
            return exp.DataType(this=exp.DType.STRUCT, expressions=fields, nested=True)
        if word == "DECIMAL":
            self._advance()
            self._expect(T.L_PAREN, "'(' (DECIMAL needs a precision and a scale)")
            precision = self._p_number()
            self._expect(T.COMMA, "','")
            scale = self._p_number()
            self._expect(T.R_PAREN, "')'")
            return exp.DataType(
                this=exp.DType.DECIMAL,
                expressions=[exp.DataTypeParam(this=precision), exp.DataTypeParam(this=scale)],
            )
        if tok.token_type not in (T.VAR, T.IDENTIFIER) or word in GRAMMAR_RESERVED:
            self._fail("expected a type")
        self._advance()
        dtype_enum = _TYPE_NAMES.get(word or "")
        if dtype_enum is not None:
            dtype = exp.DataType(this=dtype_enum)
        else:  # a type from CREATE TYPE
            name = tok.text if tok.token_type == T.IDENTIFIER else tok.text.upper()
            dtype = exp.DataType(this=exp.DType.USERDEFINED, kind=name)
        if self._curr.token_type == T.L_PAREN:  # typeParameter list, e.g. VARCHAR(10)
            self._advance()
            params = self._p_comma_list(lambda: exp.DataTypeParam(this=self._p_type_parameter()))
            self._expect(T.R_PAREN, "')'")
            dtype.set("expressions", params)
        return dtype

    def _p_type_parameter(self) -> exp.Expression:
        if self._curr.token_type == T.NUMBER:
            return self._p_number()
        if self._is("STRING"):
            self._advance()
            return exp.Var(this="STRING")
        self._fail("expected a number")

    STATEMENTS: dict[str, Callable[["KsqlParser"], exp.Expression]] = {
        "SELECT": _p_query,
        "SHOW": _p_show,
        "LIST": _p_show,
        "DESCRIBE": _p_describe,
        "PRINT": _p_print,
        "TERMINATE": _p_query_control,
        "PAUSE": _p_query_control,
        "RESUME": _p_query_control,
        "SET": _p_set,
        "UNSET": _p_unset,
        "ALTER": _p_alter,
        "DEFINE": _p_define,
        "UNDEFINE": _p_undefine,
        "CREATE": _p_create,
        "INSERT": _p_insert,
        "DROP": _p_drop,
        "EXPLAIN": _p_explain,
        "ASSERT": _p_assert,
    }

    # sqlglot entry point (``sqlglot.parse(text, read=KSQL)``)
    def parse(self, raw_tokens: list[Token], sql: str | None = None) -> list[exp.Expression | None]:
        self.reset()
        self.set_text(sql or "")
        return [self.parse_statement_tokens(chunk.tokens) for chunk in split_statements(raw_tokens).chunks]

    def set_text(self, text: str) -> None:
        """The text the tokens come from (error positions are computed in it)."""
        self.text = text
        self._newlines = newline_offsets(text)


def _is_star_item(item: exp.Expression) -> bool:
    if isinstance(item, exp.Column):
        return isinstance(item.this, exp.Star)
    return isinstance(item, k.StructDeref) and isinstance(item.expression, exp.Star)

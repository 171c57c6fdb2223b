"""The ksqlDB dialect on sqlglot, laid out as sqlglot lays out its own dialects: the
``KSQL`` Dialect class declares its tokenizer (``kctx_cli.ksql.tokenizer``), parser
(``kctx_cli.ksql.parser``; why it is kctx's own is said there) and generator
(``kctx_cli.ksql.generator``); this module also holds the functions the rest of kctx calls.

Public API (other modules depend on it; keep it stable):

- ``KSQL`` — the ``sqlglot`` Dialect class (``sqlglot.parse(text, read=KSQL)`` works too,
  but use ``parse`` below: it reports errors with line and column).
- ``parse(text) -> list[exp.Expression]`` — every statement of a file (split on ``;``);
  raises ``KsqlSyntaxError`` (``.line``, ``.column``, ``.reason``; a KctxError) at the first error.
- ``parse_statements(text) -> list[Statement]`` — one result per statement, errors included
  (``Statement.tree`` or ``Statement.error``); what ``kctx ksql check`` uses to go on after
  an error.
- ``parse_one(text)`` — exactly one statement; ``parse_expression(text)``; ``parse_type(text)``
  (e.g. ``parse_type("ARRAY<DECIMAL(10, 2)>")`` -> ``exp.DataType``).
- ``render(expr) -> str`` — canonical KSQL of one statement (or any expression / type), no
  trailing ``;``.  ``format_text(text) -> str`` — a whole file, statements joined by
  ``";\\n\\n"`` and ending in ``";\\n"``.
- ``substitute(text, variables) -> str`` — replace ``${name}`` the way ksqlDB does before it
  parses (values of DEFINE are given without their quotes); ``defined_variables(trees)``
  collects the DEFINE/UNDEFINE effects of parsed statements.
- ``needs_quotes(name) -> bool`` — whether a ksqlDB name must be back-quoted (lower case,
  special characters, reserved word); the generator quotes exactly those.
  ``quote_name(name) -> str`` — the name as written in KSQL text.
- ``Statement``: ``tree``, ``error``, ``line``/``column`` (where it starts), ``text`` (its
  source, without the ``;``) and ``comments``.
- Node classes for ksqlDB-only syntax live in ``kctx_cli.ksql.nodes`` (module docstring shows
  how to build a CREATE TABLE and a windowed CREATE TABLE ... AS SELECT).

``needs_quotes``/``quote_name`` are defined in ``kctx_cli.ksql.keywords`` and ``substitute``,
``substitute_value``, ``defined_variables`` in ``kctx_cli.ksql.variables`` (modules that do
not import the parser); this module re-exports them.

The canonical form ``render`` writes is described in ``kctx_cli.ksql.generator``.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

from kctx_cli.ksql.errors import KsqlSyntaxError
from kctx_cli.ksql.generator import KsqlGenerator
from kctx_cli.ksql.keywords import needs_quotes, quote_name
from kctx_cli.ksql.parser import KsqlParser
from kctx_cli.ksql.tokenizer import KsqlTokenizer, split_statements, tokenize
from kctx_cli.ksql.variables import defined_variables, substitute, substitute_value

__all__ = [
    "KSQL", "KsqlSyntaxError", "Statement", "parse", "parse_statements", "parse_one",
    "parse_expression", "parse_type", "render", "format_text", "substitute", "substitute_value",
    "defined_variables", "needs_quotes", "quote_name",
]


class KSQL(Dialect):
    """ksqlDB's SQL."""

    NORMALIZATION_STRATEGY = NormalizationStrategy.UPPERCASE  # unquoted names resolve upper-case

    Tokenizer = KsqlTokenizer
    Parser = KsqlParser
    Generator = KsqlGenerator


_dialect = KSQL()


@dataclass
class Statement:
    """One statement of a file: its tree or its error, and where it starts."""

    tree: exp.Expression | None
    error: KsqlSyntaxError | None
    line: int
    column: int
    text: str
    comments: list[str] = field(default_factory=list)  # comments before/inside it


def parse_statements(text: str, *, terminated: bool = True) -> list[Statement]:
    """Parse every statement of ``text`` (a file); an error in one statement does not stop
    the rest (a tokenizer error does: the remainder of the file cannot be split reliably).

    ``terminated`` (the default, for files): every statement ends with ``;`` — ksqlDB's
    grammar is ``singleStatement: statement ';'`` (SqlBase.g4; lexical-structure.md "each
    statement ... ends in a semicolon"), and ksql-migrations rejects a file whose last
    statement has none (ksql PR #7195).  A statement without it gets the error
    ``missing ';' at the end of the statement`` at the line and column where the ``;``
    belongs.  ``terminated=False`` accepts a last statement without ``;`` (one statement
    given as a string, e.g. by code)."""
    return _parse_all(text, terminated)[0]


def _parse_all(text: str, terminated: bool = True) -> tuple[list[Statement], list[str]]:
    # lexing and parsing allocate many small objects and no cycles: the cyclic GC would
    # only cost time (about half of it on a large file)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_all_gc_off(text, terminated)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_all_gc_off(text: str, terminated: bool) -> tuple[list[Statement], list[str]]:
    parser = _parser(text)
    try:
        toks = tokenize(text)
    except KsqlSyntaxError as error:
        return [Statement(None, error, error.line, error.column, text)], []
    chunks, trailing = split_statements(toks)
    results = []
    for chunk, comments, ended in chunks:
        first, last = chunk[0], chunk[-1]
        line, col = first.line, first.col
        stmt_text = text[first.start:last.end + 1]
        try:
            tree = parser.parse_statement_tokens(chunk)
        except KsqlSyntaxError as error:
            results.append(Statement(None, error, line, col, stmt_text, comments))
            continue
        if terminated and not ended:
            end_line, end_col = parser.position(last.end + 1)
            error = KsqlSyntaxError("missing ';' at the end of the statement (every statement ends with ';')",
                                    end_line, end_col)
            results.append(Statement(None, error, line, col, stmt_text, comments))
            continue
        results.append(Statement(tree, None, line, col, stmt_text, comments))
    return results, trailing


def parse(text: str) -> list[exp.Expression]:
    """All statements of ``text``, the last one with or without its ``;``; raises
    KsqlSyntaxError at the first error."""
    trees = []
    for statement in parse_statements(text, terminated=False):
        if statement.error:
            raise statement.error
        trees.append(statement.tree)
    return trees


def parse_one(text: str) -> exp.Expression:
    """Exactly one statement."""
    trees = parse(text)
    if len(trees) != 1:
        raise KsqlSyntaxError(f"expected one statement, found {len(trees)}", 1, 1)
    return trees[0]


def _parser(text: str) -> KsqlParser:
    parser = KsqlParser(dialect=_dialect)
    parser.set_text(text)
    return parser


def parse_expression(text: str) -> exp.Expression:
    """One KSQL expression, e.g. ``"AMOUNT * 2 > 10"``."""
    return _parser(text).parse_expression_tokens(tokenize(text))


def parse_type(text: str) -> exp.DataType:
    """A ksqlDB type, e.g. ``"STRUCT<A INT, B ARRAY<STRING>>"``."""
    return _parser(text).parse_type_tokens(tokenize(text))


_generator: KsqlGenerator | None = None


def render(expr: exp.Expression) -> str:
    """Canonical KSQL text of one statement/expression/type (no trailing ``;``)."""
    global _generator
    if _generator is None:
        _generator = KsqlGenerator(dialect=_dialect, comments=False)
    return _generator.sql(expr)


def format_text(text: str) -> str:
    """Canonical form of a whole file; raises KsqlSyntaxError on the first error (a
    statement without its ``;`` included: see ``parse_statements``).

    Statements are separated by a blank line and end with ``;``.  Comments are kept but
    move to their own lines before the statement they were in (or at the end of the file).
    """
    statements, trailing = _parse_all(text, terminated=True)
    blocks = []
    for statement in statements:
        if statement.error:
            raise statement.error
        block = render(statement.tree) + ";"
        if statement.comments:
            block = "\n".join(c.rstrip() for c in statement.comments) + "\n" + block
        blocks.append(block)
    if trailing:
        blocks.append("\n".join(c.rstrip() for c in trailing))
    return "\n\n".join(blocks) + "\n" if blocks else ""

"""The KSQL tokenizer: ksqlDB's lexer (``SqlBase.g4``) as one regular expression.

- ``KsqlTokenizer`` — the sqlglot ``Tokenizer`` of the ``KSQL`` dialect (``KsqlTokenError``
  on a lexical error, with the character offset);
- ``tokenize(text)`` — its tokens, a lexical error raised as ``KsqlSyntaxError`` at
  line:column;
- ``split_statements(tokens)`` — the tokens of each statement (split on ``;``) with the
  comments that belong to it;
- ``newline_offsets(text)`` / ``line_column(newlines, offset)`` — a character offset as the
  1-based line and column every error message gives.
"""
from __future__ import annotations

import bisect
import re
from typing import NamedTuple

from sqlglot import tokens
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from kctx_cli.ksql.errors import KsqlSyntaxError

T = TokenType


# One match per token; leading white space is skipped inside the match, and anything no
# token starts with ends up in "bad" (so finditer never skips text silently).
_LEXER = re.compile(
    r"""
    [ \t\r\n]*
    (?:
      (?P<word>[A-Za-z_][A-Za-z0-9_@]*)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<op>=>|->|:=|\|\||<>|!=|<=|>=|[()\[\],.;=<>+\-*%{}]|/(?!\*))
    | (?P<string>'(?:[^']|'')*')
    | (?P<digitword>(?!\d+[eE][+-]?\d+(?![A-Za-z0-9_@]))\d[0-9_@]*[A-Za-z][A-Za-z0-9_@]*)
    | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<bquoted>`(?:[^`]|``)*`)
    | (?P<dquoted>"(?:[^"]|"")*")
    | (?P<variable>\$\{[A-Za-z_][A-Za-z0-9_@]*\})
    | (?P<bad>.)
    | \Z
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_OPS = {
    "=>": T.FARROW, "->": T.ARROW, ":=": T.COLON_EQ, "||": T.DPIPE, "<>": T.NEQ, "!=": T.NEQ,
    "<=": T.LTE, ">=": T.GTE, "(": T.L_PAREN, ")": T.R_PAREN, "[": T.L_BRACKET,
    "]": T.R_BRACKET, ",": T.COMMA, ".": T.DOT, ";": T.SEMICOLON, "=": T.EQ, "<": T.LT,
    ">": T.GT, "+": T.PLUS, "-": T.DASH, "*": T.STAR, "/": T.SLASH, "%": T.MOD,
    "{": T.L_BRACE, "}": T.R_BRACE,
}
_UNTERMINATED = {
    "'": "unterminated string (missing closing ')",
    '"': 'unterminated quoted name (missing closing ")',
    "`": "unterminated quoted name (missing closing `)",
    "/*": "unterminated comment (missing */)",
    "${": "malformed variable reference (expected ${name})",
}


class KsqlTokenError(TokenError):
    """A lexical error at character ``offset`` of the text."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


class KsqlTokenizer(tokens.Tokenizer):
    """ksqlDB's lexer (SqlBase.g4) as one regular expression: much faster than sqlglot's
    generic scanner, and exact about ksqlDB's tokens.  Words come out as VAR tokens (the
    parser matches keywords by text), quoted names as IDENTIFIER, ``${x}`` as PARAMETER
    (text: the name); comments are attached to the following token."""

    QUOTES = ["'"]
    STRING_ESCAPES = ["'"]
    IDENTIFIERS = ['"', "`"]
    COMMENTS = ["--", ("/*", "*/")]
    KEYWORDS = {}
    COMMANDS: set = set()

    def tokenize(self, sql: str) -> list[Token]:
        out: list[Token] = []
        append = out.append
        comments: list[str] = []
        line, line_start, pos = 1, 0, 0  # pos: where the newline count is up to date
        ops = _OPS
        for m in _LEXER.finditer(sql):
            kind = m.lastgroup
            if kind is None:  # white space up to the end
                break
            start = m.start(kind)
            end = m.end()
            newlines = sql.count("\n", pos, start)
            if newlines:
                line += newlines
                line_start = sql.rindex("\n", pos, start) + 1
            pos = start
            if kind == "word":
                tok = Token(T.VAR, m.group(kind), line, start - line_start + 1, start, end - 1)
            elif kind == "op":
                text = m.group(kind)
                tok = Token(ops[text], text, line, start - line_start + 1, start, end - 1)
            elif kind == "comment":
                comments.append(m.group(kind))
                continue
            elif kind == "bad":
                raise self._error(sql, start)
            else:
                tok = self._literal(kind, m.group(kind), line, start - line_start + 1, start, end)
            if comments:
                tok.comments = comments
                comments = []
            append(tok)
        if comments:  # trailing comments ride on a final, empty (unwritten) semicolon token
            tok = Token(T.SEMICOLON, "", line, 0, len(sql), len(sql) - 1)
            tok.comments = comments
            append(tok)
        return out

    @staticmethod
    def _literal(kind: str, text: str, line: int, col: int, start: int, end: int) -> Token:
        if kind == "number":
            return Token(T.NUMBER, text, line, col, start, end - 1)
        if kind == "digitword":  # grammar: DIGIT_IDENTIFIER, e.g. 1R
            return Token(T.VAR, text, line, col, start, end - 1)
        if kind == "string":
            return Token(T.STRING, text[1:-1].replace("''", "'"), line, col, start, end - 1)
        if kind == "variable":
            return Token(T.PARAMETER, text[2:-1], line, col, start, end - 1)
        quote = text[0]  # quoted names
        return Token(T.IDENTIFIER, text[1:-1].replace(quote * 2, quote), line, col, start, end - 1)

    @staticmethod
    def _error(sql: str, pos: int) -> KsqlTokenError:
        for opener, message in _UNTERMINATED.items():
            if sql.startswith(opener, pos):
                return KsqlTokenError(message, pos)
        char = sql[pos]
        return KsqlTokenError(f"unexpected character '{char}'", pos)


# KsqlTokenizer.tokenize keeps no state between calls: one instance serves every call
_TOKENIZER = KsqlTokenizer()


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; raises KsqlSyntaxError at the line:column of a lexical error
    (an unterminated string, quoted name or comment, a character no token starts with)."""
    try:
        return _TOKENIZER.tokenize(text)
    except TokenError as err:
        line, col = line_column(newline_offsets(text), getattr(err, "offset", 0))
        raise KsqlSyntaxError(str(err), line, col) from None


def newline_offsets(text: str) -> list[int]:
    """The offset of every ``\\n`` in ``text``, for ``line_column``."""
    return [m.start() for m in re.finditer("\n", text)]


def line_column(newlines: list[int], offset: int) -> tuple[int, int]:
    """Character ``offset`` of a text as (line, column), both 1-based; ``newlines`` is
    ``newline_offsets(text)``."""
    line = bisect.bisect_right(newlines, offset - 1)
    start = newlines[line - 1] + 1 if line else 0
    return line + 1, offset - start + 1


class Chunk(NamedTuple):
    """One statement's ``tokens`` (without its ``;``), the ``comments`` that belong to it
    (those the tokenizer attached to its tokens and its ``;``), and whether it ends with a
    ``;`` of its own (``terminated``). Unpacks as
    ``tokens, comments, terminated``."""

    tokens: list[Token]
    comments: list[str]
    terminated: bool


class Split(NamedTuple):
    """A text's statements (``chunks``) and the comments after the last one
    (``trailing``). Unpacks as ``chunks, trailing``."""

    chunks: list[Chunk]
    trailing: list[str]


def split_statements(toks: list[Token]) -> Split:
    """The tokens of a text split on ``;`` into statements (Chunk), and the comments after
    the last statement; ``terminated`` is False for a last statement with no ``;`` of its own."""
    chunks: list[Chunk] = []
    current: list[Token] = []
    comments: list[str] = []
    for tok in toks:
        if tok.comments:
            comments.extend(tok.comments)
        if tok.token_type == T.SEMICOLON:
            if current:
                # an empty text: the token the tokenizer adds to carry trailing comments
                chunks.append(Chunk(current, comments, bool(tok.text)))
                comments = []
            current = []
        else:
            current.append(tok)
    if current:
        chunks.append(Chunk(current, comments, False))
        comments = []
    return Split(chunks, comments)

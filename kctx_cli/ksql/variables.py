"""ksqlDB's variables: ``${name}`` substitution as ksqlDB does it before it parses
(ksql VariableSubstitutor), and the DEFINE/UNDEFINE effects of parsed statements.

- ``substitute(text, variables)`` — a statement's text with its references replaced;
- ``substitute_value(value, variables)`` — the same inside the value of a DEFINE or SET;
- ``defined_variables(trees)`` — the variables in effect after some statements.

``kctx_cli.ksql.dialect`` re-exports all three.
"""
from __future__ import annotations

import re
from typing import Iterable

from sqlglot import exp
from sqlglot.tokens import TokenType as T

from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.errors import KsqlSyntaxError
from kctx_cli.ksql.tokenizer import tokenize

_STRING_VARIABLE = re.compile(r"\$?\$\{([A-Za-z_][A-Za-z0-9_@]*)\}")


def substitute(text: str, variables: dict[str, str], *, keep_undefined: bool = False) -> str:
    """``text`` with each ``${name}`` replaced by its value, where ksqlDB substitutes it
    (ksql VariableSubstitutor; ksqldb-docs reference/define.md, how-to "Substitute
    variables"): ``variables`` maps names (case-insensitive) to values as DEFINE gives them,
    without their quotes.

    * a reference standing for a name or a literal (``CREATE STREAM ${s}``,
      ``partitions=${n}``) is replaced by the value as written; an undefined one raises
      KsqlSyntaxError at its line:column (ksqlDB refuses the statement too), or stays as
      written with ``keep_undefined`` (a file checked without its run-time variables);
    * inside a string literal (``'${topic}'``) the value is inserted with its ``'``
      doubled, so the literal stays one literal; an undefined reference is left as written,
      as ksqlDB leaves it, and ``$${name}`` is the escape for a literal ``${name}`` (when no
      variable is defined at all, strings are left as written, ``$$`` included: checked
      against ksqlDB 8.1.5);
    * back-quoted/double-quoted names and comments are not substituted.

    Raises KsqlSyntaxError for text that does not tokenize."""
    if "${" not in text:
        return text
    lookup = {name.upper(): value for name, value in variables.items()}
    out: list[str] = []
    pos = 0
    for tok in tokenize(text):
        if tok.token_type == T.PARAMETER:
            value = lookup.get(tok.text.upper())
            if value is None and keep_undefined:
                continue
            if value is None:
                raise KsqlSyntaxError(f"variable '{tok.text}' is not defined (DEFINE it before this statement, "
                                      f"or pass --define {tok.text}=VALUE)", tok.line, tok.col)
            out.append(text[pos:tok.start])
            out.append(value)
            pos = tok.end + 1
        elif tok.token_type == T.STRING and lookup:  # no variables at all: ksqlDB leaves strings alone
            raw = text[tok.start:tok.end + 1]
            if "${" not in raw:
                continue

            def repl(match: re.Match) -> str:
                if match.group(0).startswith("$$"):
                    return match.group(0)[1:]
                value = lookup.get(match.group(1).upper())
                return match.group(0) if value is None else value.replace("'", "''")

            out.append(text[pos:tok.start])
            out.append(_STRING_VARIABLE.sub(repl, raw))
            pos = tok.end + 1
    out.append(text[pos:])
    return "".join(out)


def substitute_value(value: str, variables: dict[str, str]) -> str:
    """The value of a DEFINE or SET (already unquoted) with the ``${name}`` references of
    defined variables replaced (ksqlDB substitutes inside them as in any string literal;
    undefined references stay; ``$${name}`` is ``${name}``)."""
    if "${" not in value or not variables:
        return value
    lookup = {name.upper(): v for name, v in variables.items()}

    def repl(match: re.Match) -> str:
        if match.group(0).startswith("$$"):
            return match.group(0)[1:]
        found = lookup.get(match.group(1).upper())
        return match.group(0) if found is None else found

    return _STRING_VARIABLE.sub(repl, value)


def defined_variables(trees: Iterable[exp.Expression], initial: dict[str, str] | None = None) -> dict[str, str]:
    """The variables in effect after running ``trees`` (DEFINE adds, UNDEFINE removes;
    names are case-insensitive, as in ksqlDB; values of DEFINE see earlier variables)."""
    values = dict(initial or {})
    for tree in trees:
        if isinstance(tree, k.Define):
            name = tree.this.this
            for old in [n for n in values if n.upper() == name.upper()]:
                del values[old]
            values[name] = substitute_value(tree.args["value"].this, values)
        elif isinstance(tree, k.Undefine):
            for old in [n for n in values if n.upper() == tree.this.this.upper()]:
                del values[old]
    return values

"""Session statements of a KSQL file, applied as Confluent's ksql-migrations applies them.

ksqldb-docs migrations-tool.md: "Any properties or variables set using the SET, UNSET,
DEFINE and UNDEFINE are applied in the current migration file only. They do not carry over
to the next migration file"; ``apply --define name=value`` "is equivalent to having the
following lines at the beginning of each migration file: DEFINE name='value';".
ksql-endpoint.md: a REST request's ``streamsProperties`` are the property overrides its
statements run with (a SET sent alone lasts for that one request), so a SET reaches the
statements after it only when the client sends it with each of them, as ksql-migrations does.

``resolve(statements, defines)`` walks one file's statements in order and gives, for each:

* the text and tree after ``${name}`` substitution (``dialect.substitute``, ksqlDB's rules),
  or the error, at the file's line:column, when a variable is undefined or the substituted
  text is not valid KSQL;
* the properties in effect (``{name: value}`` of the SETs before it, minus the UNSETs): the
  ``streamsProperties`` to send it with.

Public API: ``Resolved``, ``Session``, ``resolve``, ``parse_defines``, ``is_session``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from kctx_cli.errors import KctxError
from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.dialect import Statement, parse_statements, substitute, substitute_value
from kctx_cli.ksql.errors import KsqlSyntaxError

SESSION_NODES = (k.SetProperty, k.UnsetProperty, k.Define, k.Undefine)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_@]*\Z")


@dataclass
class Resolved:
    """One statement after the session statements before it took effect."""

    statement: Statement  # as written (its line/column/text, the tree before substitution)
    text: str  # after substitution, without the ';'
    tree: exp.Expression | None
    error: KsqlSyntaxError | None
    properties: dict[str, str] = field(default_factory=dict)  # SETs in effect (streamsProperties)
    variables: dict[str, str] = field(default_factory=dict)  # DEFINEs in effect

    @property
    def line(self) -> int:
        """The statement's first line in its file (1-based)."""
        return self.statement.line


def is_session(tree: exp.Expression | None) -> bool:
    """Whether a statement only changes the client's session (SET, UNSET, DEFINE,
    UNDEFINE): ksql-migrations keeps those client-side and sends nothing for them."""
    return isinstance(tree, SESSION_NODES)


def parse_defines(pairs: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["name=value", ...]`` (``--define``, repeatable) -> ``{name: value}``; the value is
    taken as written (it is what DEFINE name='value' would hold). Raises KctxError with
    the bad item: no ``=``, or a name that is not a variable name (a letter or ``_``, then
    letters, digits, ``_``; define.md)."""
    out: dict[str, str] = {}
    for item in pairs or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise KctxError(f"--define {item}: expected NAME=VALUE")
        if not _NAME.match(name):
            raise KctxError(f"--define {item}: '{name}' is not a variable name (a letter or _, then letters, "
                            "digits or _)")
        for old in [n for n in out if n.upper() == name.upper()]:
            del out[old]
        out[name] = value
    return out


class Session:
    """The client-side session of one file: variables (DEFINE/UNDEFINE, starting from
    ``defines``) and properties (SET/UNSET). ``feed`` resolves statements in file order;
    a file split in pieces (kctx operation lines between statements) is fed piece by piece."""

    def __init__(self, defines: dict[str, str] | None = None, *, strict: bool = True):
        self.variables: dict[str, str] = dict(defines or {})
        self.properties: dict[str, str] = {}
        # strict: an undefined ${name} standing for a name or literal is an error (a migration
        # file, whose variables are all known: its DEFINEs and --define); otherwise it stays
        # as written (a KSQL file that may get its variables when it runs)
        self.strict = strict

    def feed(self, statements: list[Statement]) -> list[Resolved]:
        """``one`` for each of ``statements`` in order (the session carries over between calls)."""
        return [self.one(st) for st in statements]

    def one(self, st: Statement) -> Resolved:
        """Resolve one statement: a DEFINE / UNDEFINE / SET / UNSET first updates the session
        (variable names case-insensitive, the last DEFINE wins); any other statement has its
        ``${name}`` variables substituted and is parsed again. The Resolved carries the
        statement's own parse error or a substitution error (an undefined variable when
        ``strict``, text that no longer parses) at its place in the file; never raises for bad
        KSQL."""
        variables, properties = self.variables, self.properties
        tree = st.tree
        if st.error is not None or tree is None:
            return Resolved(st, st.text, None, st.error, dict(properties), dict(variables))
        if isinstance(tree, k.Define):
            name = tree.this.this
            value = substitute_value(tree.args["value"].this, variables)
            for old in [n for n in variables if n.upper() == name.upper()]:
                del variables[old]
            variables[name] = value
        elif isinstance(tree, k.Undefine):
            for old in [n for n in variables if n.upper() == tree.this.this.upper()]:
                del variables[old]
        elif isinstance(tree, k.SetProperty):
            properties[substitute_value(tree.this.this, variables)] = substitute_value(
                tree.args["value"].this, variables)
        elif isinstance(tree, k.UnsetProperty):
            properties.pop(substitute_value(tree.this.this, variables), None)
        text, error = st.text, None
        if not is_session(tree) and "${" in st.text:
            try:
                text = substitute(st.text, variables, keep_undefined=not self.strict)
                tree = _parse_substituted(text, st)
            except KsqlSyntaxError as exc:
                error, tree = _at(exc, st), None
        return Resolved(st, text, tree, error, dict(properties), dict(variables))


def resolve(statements: list[Statement], defines: dict[str, str] | None = None, *,
            strict: bool = True) -> list[Resolved]:
    """Each statement of one file with variables substituted and the SET properties in
    effect; ``defines`` act as DEFINE lines at the top of the file. A statement that does
    not parse keeps its error (nothing after it is skipped: errors are reported per
    statement, as ``kctx ksql check`` does). Positions in errors are the file's.
    ``strict=False``: an undefined variable stays as written instead of being an error."""
    return Session(defines, strict=strict).feed(statements)


def _parse_substituted(text: str, st: Statement) -> exp.Expression:
    results = parse_statements(text, terminated=False)
    if len(results) != 1:
        raise KsqlSyntaxError("after substituting its variables the statement is "
                              f"{len(results) or 'no'} statements (a value holds a ';'?)", 1, 1)
    if results[0].error is not None:
        err = results[0].error
        raise KsqlSyntaxError(f"after substituting its variables: {err.reason} (in: {' '.join(text.split())[:120]})",
                              1, 1)
    return results[0].tree


def _at(exc: KsqlSyntaxError, st: Statement) -> KsqlSyntaxError:
    """The error at its place in the file (``exc`` is relative to the statement's text)."""
    line = st.line + max(exc.line, 1) - 1
    column = exc.column + (st.column - 1 if exc.line <= 1 else 0) if exc.column else st.column
    return KsqlSyntaxError(exc.reason, line, column)

"""`kctx ksql check` and `kctx ksql fmt`: hand-written KSQL files through the ksqlDB dialect.

    kctx ksql check migrations/*.sql          # file:line:column: message per error, exit 1
    kctx ksql check --syntax-only a.sql       # the dialect's syntax only, no semantic analysis
    kctx ksql check -o json a.sql
    kctx ksql fmt a.sql                       # print the canonical form
    kctx ksql fmt --write a.sql b.sql         # rewrite files that are not canonical

``check`` reports every broken statement and carries on with the next one (statements
are split on ``;``); an unterminated string or comment ends the file's check, since the
rest cannot be split reliably.  A missing or unreadable file is an error like any other.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kctx_cli.errors import EXIT_ERROR, EXIT_OK, Problem


def _read(path: Path) -> tuple[str | None, Problem | None]:
    name = str(path)
    try:
        return path.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return None, Problem(name, 0, "unreadable", "no such file")
    except IsADirectoryError:
        return None, Problem(name, 0, "unreadable", "is a directory, not a KSQL file")
    except UnicodeDecodeError:
        return None, Problem(name, 0, "unreadable", "not UTF-8 text")
    except OSError as exc:
        return None, Problem(name, 0, "unreadable", f"cannot read: {exc.strerror}")


def _check_text(name: str, text: str, defines: dict[str, str] | None = None, analyzer=None):
    """(statement count, [Problem]) for one file's text: syntax errors (a missing ``;``
    included), then each statement as it runs after the file's DEFINEs (and ``defines``,
    DEFINE lines at its top) are substituted, as ksql-migrations runs a file
    (``kctx_cli.ksql.session``): a substitution that makes the statement invalid is an error
    at its line; an undefined ``${name}`` stays a variable (the file may get it when it runs,
    e.g. from ``ksql-migrations apply --define``; SqlBase.g4 accepts a variable as a name or
    a literal).  With ``analyzer``
    (``kctx_cli.derive.analyzer.ScriptAnalyzer``, shared by the files of one run), each
    valid statement then goes through the semantic analyzer, with the sources the
    statements before it created, its findings at the statement's line:column."""
    from kctx_cli.ksql.dialect import parse_statements
    from kctx_cli.ksql.session import resolve

    statements = parse_statements(text)
    errors = []
    for r in resolve(statements, defines, strict=False):
        if r.error:
            errors.append(Problem(name, r.error.line, "ksql-syntax" if r.statement.error else "ksql-variable",
                                  r.error.reason, r.error.column))
        elif analyzer is not None and r.tree is not None:
            for code, msg in analyzer.check_with(r.tree, r.properties):
                errors.append(Problem(name, r.statement.line, code, msg, r.statement.column))
    return len(statements), errors


def check(files: list[Path], output: str = "text", defines: dict[str, str] | None = None,
          syntax_only: bool = False) -> int:
    """Parse each file and analyse its statements in order (the files in the order given,
    each seeing the sources the statements before it created: ``kctx_cli.derive.analyzer``);
    report each error as file:line:column: message. Exit 1 on any.
    ``defines``: ``--define`` variables, DEFINE lines at the top of each file;
    ``syntax_only``: the dialect's syntax and variables only (no semantic analysis)."""
    from kctx_cli.derive.analyzer import ScriptAnalyzer

    # not closed: a source no statement of these files created may exist on the cluster
    analyzer = None if syntax_only else ScriptAnalyzer(closed=False)
    errors: list[Problem] = []
    count = 0
    for path in files:
        text, error = _read(Path(path))
        if error:
            errors.append(error)
            continue
        n, errs = _check_text(str(path), text, defines, analyzer)
        count += n
        errors.extend(errs)

    if output == "json":
        print(json.dumps({
            "ok": not errors,
            "files": [str(p) for p in files],
            "statements": count,
            "errors": [e.as_dict() for e in errors],
        }, indent=2))
    else:
        for error in errors:
            print(error)
        noun = "file" if len(files) == 1 else "files"
        if errors:
            print(f"{len(errors)} error{'s' if len(errors) != 1 else ''} in {len(files)} {noun}", file=sys.stderr)
        else:
            print(f"ok: {count} statement{'s' if count != 1 else ''} in {len(files)} {noun}", file=sys.stderr)
    return EXIT_ERROR if errors else EXIT_OK


def fmt(files: list[Path], write: bool = False) -> int:
    """Print the canonical form of each file, or rewrite the files with ``write``.

    A file with a syntax error is reported (file:line:column: message, on stderr) and left
    alone; the exit code is then 1.
    """
    from kctx_cli.ksql.dialect import format_text
    from kctx_cli.ksql.errors import KsqlSyntaxError

    failed = False
    for path in files:
        path = Path(path)
        text, error = _read(path)
        if error is not None:
            print(error, file=sys.stderr)
            failed = True
            continue
        try:
            formatted = format_text(text)
        except KsqlSyntaxError as exc:
            # name every broken statement, as check does
            _, errs = _check_text(str(path), text)
            for e in errs or [Problem(str(path), exc.line, "ksql-syntax", exc.reason, exc.column)]:
                print(e, file=sys.stderr)
            failed = True
            continue
        if write:
            if formatted != text:
                path.write_text(formatted, encoding="utf-8")
                print(f"reformatted {path}", file=sys.stderr)
        else:
            if len(files) > 1:
                print(f"-- {path}")
            sys.stdout.write(formatted)
    return EXIT_ERROR if failed else EXIT_OK

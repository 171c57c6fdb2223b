"""KSQL: the ksqlDB dialect on sqlglot, laid out as sqlglot's own dialects are.

``dialect`` (the ``KSQL`` Dialect class and the functions to call: parse, render, ...),
``tokenizer``, ``parser`` and ``generator`` (its three parts), ``nodes`` (tree classes for
ksqlDB-only syntax), ``keywords`` (reserved words, when a name needs back-quotes),
``variables`` (``${name}`` substitution), ``session`` (SET/DEFINE state of a file),
``compare`` (whether two statements create the same source) and ``errors``.  Importing
this package does not import sqlglot."""
from kctx_cli.ksql.errors import KsqlSyntaxError

__all__ = ["KsqlSyntaxError"]

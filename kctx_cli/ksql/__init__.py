"""KSQL: the ksqlDB dialect on sqlglot (``dialect``), its node classes (``nodes``) and
reserved words (``keywords``).  Importing this package does not import sqlglot."""
from kctx_cli.ksql.errors import KsqlSyntaxError

__all__ = ["KsqlSyntaxError"]

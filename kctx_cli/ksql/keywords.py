"""ksqlDB's reserved words, taken from its grammar (``SqlBase.g4``).

``GRAMMAR_RESERVED``: keywords of the grammar that are not in its ``nonReserved`` rule, so they
cannot be used as unquoted identifiers (tests/test_ksql_keywords.py recomputes the set from
the grammar).  ``PSEUDO_COLUMNS``: system columns every source has, which a user column
must not be named after.  ``RESERVED`` is the union: a name in it must be back-quoted or,
for model fields, renamed.

``needs_quotes(name)`` and ``quote_name(name)`` apply that rule to a name as kctx writes
it in KSQL text; the parser, the generator and the node builders all use them.  This
module imports nothing of kctx (``kctx_cli.ksql.nodes`` reads it).
"""
from __future__ import annotations

import re

GRAMMAR_RESERVED: frozenset[str] = frozenset({
    "ADVANCE", "ALL", "AND", "AS", "AT", "BEGINNING", "BETWEEN", "BY", "CASE", "CAST",
    "CATALOG", "CONNECTOR", "CONNECTORS", "CREATE", "DAYS", "DECIMAL", "DELETE", "DESCRIBE",
    "DISTINCT", "DROP", "ELSE", "END", "EXISTS", "EXPORT", "EXTENDED", "FALSE", "FROM",
    "FULL", "GROUP", "HAVING", "HOPPING", "HOURS", "IN", "INNER", "INSERT", "INTO", "IS",
    "JOIN", "LEFT", "LIKE", "LIMIT", "LIST", "LOAD", "MATERIALIZED", "MILLISECOND",
    "MILLISECONDS", "MINUTES", "MONTHS", "NAMESPACE", "NOT", "NULL", "ON", "OR", "OUTER",
    "PAUSE", "PRINT", "PROPERTIES", "QUERIES", "QUERY", "RENAME", "RESUME", "RETENTION",
    "RIGHT", "RUN", "SAMPLE", "SCRIPT", "SECONDS", "SELECT", "SIZE", "STREAM", "STREAMS",
    "TABLE", "TERMINATE", "THEN", "TO", "TOPIC", "TOPICS", "TRUE", "TUMBLING", "UNSET",
    "VALUES", "VIEW", "WHEN", "WHERE", "WINDOW", "WITH", "WITHIN", "YEARS"
})

PSEUDO_COLUMNS: frozenset[str] = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})

RESERVED: frozenset[str] = GRAMMAR_RESERVED | PSEUDO_COLUMNS

# Words with a meaning of their own in the grammar that stay usable as names.
NON_RESERVED: frozenset[str] = frozenset({
    "ADD", "ALTER", "ANALYZE", "ARRAY", "ASSERT", "CHANGES", "COLUMN", "COLUMNS", "DATE",
    "DAY", "DEFINE", "EMIT", "ESCAPE", "EXPLAIN", "FINAL", "FUNCTION", "FUNCTIONS", "GRACE",
    "HEADER", "HEADERS", "HOUR", "ID", "IF", "INTEGER", "INTERVAL", "KEY", "MAP", "MINUTE",
    "MONTH", "PARTITION", "PARTITIONS", "PERIOD", "PLUGINS", "PRIMARY", "REPLACE", "RESET",
    "SCHEMA", "SECOND", "SESSION", "SET", "SHOW", "SINK", "SOURCE", "STRING", "STRUCT",
    "SUBJECT", "SYSTEM", "TABLES", "TIME", "TIMEOUT", "TIMESTAMP", "TYPE", "TYPES",
    "UNDEFINE", "VARIABLES", "YEAR", "ZONE"
})


# an unquoted ksqlDB identifier as it reads back unchanged (upper case, grammar IDENTIFIER)
_PLAIN_NAME = re.compile(r"[A-Z_][A-Z0-9_@]*\Z")


def needs_quotes(name: str) -> bool:
    """Whether ksqlDB needs ``name`` back-quoted (lower case, special characters, reserved)."""
    return not _PLAIN_NAME.match(name) or name in GRAMMAR_RESERVED


def quote_name(name: str) -> str:
    """``name`` as written in KSQL text: back-quoted (inner back-quotes doubled) when needed."""
    return "`" + name.replace("`", "``") + "`" if needs_quotes(name) else name

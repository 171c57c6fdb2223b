"""ksqlDB's reserved words, taken from its grammar (``SqlBase.g4``).

``GRAMMAR_RESERVED``: keywords of the grammar that are not in its ``nonReserved`` rule, so they
cannot be used as unquoted identifiers (tests/test_ksql_keywords.py recomputes the set from
the grammar).  ``PSEUDO_COLUMNS``: system columns every source has, which a user column
must not be named after.  ``RESERVED`` is the union: a name in it must be back-quoted or,
for model fields, renamed.

``needs_quotes(name)`` and ``quote_name(name)`` apply that rule to a name as kctx writes
it in KSQL text; the parser, the generator and the node builders all use them.
``window_size_problem(text)`` is ksqlDB's rule for a WINDOW_SIZE duration (the parser and
the model checks use it).  This module imports nothing of kctx (``kctx_cli.ksql.nodes``
reads it).
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


# The time units of a WINDOW_SIZE duration, as the real ksqlDB 8.1.5 lists them ("Supported
# time units are: NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS");
# the singular is accepted too ('5 NANOSECOND'). Not the WINDOW clause's units (no NANO/MICRO).
DURATION_UNITS: tuple[str, ...] = ("NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS",
                                   "DAYS")


def window_size_problem(text: str) -> str | None:
    """What is wrong with a WINDOW_SIZE value (``'1 HOUR'``), or None. The rule of the real
    ksqlDB 8.1.5, checked on the server: the text, trimmed, splits at each whitespace
    character into exactly two tokens ('5  SECONDS' is refused: "Expected 2 tokens, got:
    3"; '5<TAB>SECONDS' is fine), a whole number ("Not numeric: '5.5'") and a unit of
    ``DURATION_UNITS`` in any case, singular or plural; the size is positive ("Size must be
    positive")."""
    parts = re.split(r"\s", text.strip())
    unit = parts[-1].upper()
    if len(parts) != 2 or not re.fullmatch(r"[0-9]+", parts[0]) or \
            (unit not in DURATION_UNITS and unit + "S" not in DURATION_UNITS):
        return f"expected '<number> <unit>' with a unit among {', '.join(DURATION_UNITS)}"
    if int(parts[0]) == 0:
        return "the size must be positive"
    return None

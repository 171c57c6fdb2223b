"""kctx_cli.ksql.keywords agrees with ksqlDB's grammar."""
from __future__ import annotations

import re
from pathlib import Path

from kctx_cli.ksql.keywords import GRAMMAR_RESERVED, NON_RESERVED, PSEUDO_COLUMNS, RESERVED

GRAMMAR = Path(__file__).resolve().parents[1].parent / "shared" / "ksqldb-docs" / "SqlBase.g4"


def _grammar_sets() -> tuple[set[str], set[str]]:
    text = GRAMMAR.read_text(encoding="utf-8")
    # lexer rules spelling a keyword: `SELECT: 'SELECT';`
    keywords = {word for _, word in re.findall(r"^([A-Z_]+)\s*:\s*'([A-Z_]+)'\s*;", text, re.M)}
    body = re.search(r"^nonReserved\s*:(.*?);", text, re.S | re.M).group(1)
    non_reserved = {w.strip("'") for w in re.findall(r"'?[A-Z_]+'?", body)}
    return keywords, non_reserved


def test_reserved_words_match_the_grammar():
    keywords, non_reserved = _grammar_sets()
    assert GRAMMAR_RESERVED == keywords - non_reserved
    assert NON_RESERVED == non_reserved
    assert RESERVED == GRAMMAR_RESERVED | {"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"}
    assert PSEUDO_COLUMNS <= RESERVED
    # spot checks
    assert {"SELECT", "FROM", "WINDOW", "EMIT"} & RESERVED == {"SELECT", "FROM", "WINDOW"}
    assert "KEY" not in RESERVED and "SIZE" in RESERVED

"""`kctx ksql fmt` never changes what a statement means (issue 10, item 2; field cases F03, F08).

Two independent checks over EVERY statement of ksqlDB's functional-test corpus
(``../shared/ksql-corpus/``, read in place) that the dialect parses:

* the formatted text parses to the same tree;
* every case-sensitive name of the input is still in the formatted text, exactly: string
  literals (topic names, property values, data), back-quoted and double-quoted identifiers,
  numbers as written, ``${variables}``, and the topic of PRINT / ASSERT TOPIC / the
  subject of ASSERT SCHEMA, which ksqlDB reads with its case kept even unquoted
  (AstBuilder ``getIdentifierText(true, ...)``, ksql PR #3339).  This oracle reads the raw
  tokens of both texts, not the trees, so a parser that loses a name's case (as PRINT did)
  is caught even though its trees compare equal.

And the grammar's rule that every statement ends with ``;`` (SqlBase.g4
``singleStatement: statement ';'``): ``check`` and ``fmt`` report a missing one at
file:line and exit 1.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlglot.tokens import TokenType as T

from kctx_cli.ksql.dialect import KSQL, format_text, parse_statements
from tests.helpers import run_kctx

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "ksql-corpus" / "query-validation-tests.jsonl"
FIELD = SHARED / "field-cases"

# words after which ksqlDB's grammar has a resourceName (a topic or subject, case kept)
_RESOURCE_AFTER = {("PRINT",), ("ASSERT", "TOPIC"), ("ASSERT", "NOT", "EXISTS", "TOPIC"),
                   ("ASSERT", "SCHEMA", "SUBJECT"), ("ASSERT", "NOT", "EXISTS", "SCHEMA", "SUBJECT")}


def _tokens(text: str):
    return KSQL().tokenizer().tokenize(text)


def case_sensitive_names(text: str) -> Counter:
    """The names and values of ``text`` whose exact spelling matters, as a multiset of
    (kind, text): strings, quoted names, numbers, variables, and resource names."""
    toks = _tokens(text)
    words = [t.text.upper() if t.token_type == T.VAR else None for t in toks]
    out: Counter = Counter()
    for i, tok in enumerate(toks):
        kind = tok.token_type
        if kind in (T.VAR, T.IDENTIFIER, T.STRING) and \
                any(tuple(words[max(0, i - len(p)):i]) == p for p in _RESOURCE_AFTER):
            out[("resource", tok.text)] += 1  # a topic or subject, however quoted: case kept
        elif kind == T.STRING:
            out[("value", tok.text)] += 1
        elif kind == T.IDENTIFIER:
            out[("name", tok.text)] += 1
        elif kind == T.NUMBER:
            out[("number", tok.text)] += 1
        elif kind == T.PARAMETER:
            out[("variable", tok.text)] += 1
    return out


def kept(original: str, formatted: str) -> list[str]:
    """What of ``original``'s case-sensitive names is missing from ``formatted``: a name
    may change its quoting (`` `A` `` -> ``A``, ``orders`` -> ``'orders'`` for a topic)
    but never its spelling."""
    before = case_sensitive_names(original)
    after_toks = _tokens(formatted)
    available: Counter = Counter()
    for tok in after_toks:
        if tok.token_type == T.STRING:
            available[("value", tok.text)] += 1
            available[("text", tok.text)] += 1
        elif tok.token_type == T.IDENTIFIER:
            available[("name", tok.text)] += 1
            available[("text", tok.text)] += 1
        elif tok.token_type == T.VAR:
            available[("name", tok.text)] += 1  # an unquoted name is its upper-case spelling
        elif tok.token_type == T.NUMBER:
            available[("number", tok.text)] += 1
        elif tok.token_type == T.PARAMETER:
            available[("variable", tok.text)] += 1
    missing = []
    for (kind, text), n in before.items():
        # a resource name must come out quoted with the same case (a string or a quoted name)
        have = available[("text", text)] if kind == "resource" else available[(kind, text)]
        if have < n:
            missing.append(f"{kind} {text!r}")
    return missing


def _corpus_statements():
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            case = json.loads(line)
            for text in case["statements"]:
                yield case["test"], text


def test_fmt_keeps_meaning_over_every_corpus_statement():
    """Every corpus statement that parses (expected-exception tests included: most of
    their statements are valid) formats to text that parses to the same tree and keeps
    every case-sensitive name. No tolerance: one failure fails the test."""
    checked = 0
    failures = []
    for name, text in _corpus_statements():
        statements = parse_statements(text)
        if any(s.error for s in statements):
            continue  # rejected statements are test_ksql_dialect's subject
        formatted = format_text(text)
        again = parse_statements(formatted)
        if [s.error for s in again if s.error] or [s.tree for s in again] != [s.tree for s in statements]:
            failures.append((name, text, "tree differs: " + formatted))
        missing = kept(text, formatted)
        if missing:
            failures.append((name, text, f"lost {missing}: {formatted}"))
        checked += 1
    assert checked > 2500, checked
    assert not failures, "\n".join(f"{n}: {t[:160]}\n  {why[:300]}" for n, t, why in failures[:10])


# statements where a careless formatter changes the meaning: each names what must survive
MEANING = [
    "PRINT orders FROM BEGINNING LIMIT 3;",                 # F08: topic orders, not ORDERS
    "PRINT `Orders` INTERVAL 2;",
    "PRINT 'Orders-v2' FROM BEGINNING;",
    "PRINT orders_V2;",
    "ASSERT TOPIC orders WITH (PARTITIONS=3) TIMEOUT 10 SECONDS;",
    "ASSERT NOT EXISTS TOPIC lowerCase;",
    "ASSERT SCHEMA SUBJECT orders_value TIMEOUT 3 SECONDS;",
    "CREATE STREAM `my-Stream` (`Id` STRING KEY, \"camelCase\" INT, `a``b` INT) "
    "WITH (KAFKA_TOPIC='MixedCase.Topic', VALUE_FORMAT='JSON');",
    "SELECT `Name`, \"Other\", 'It''s; -- not a comment' AS `s` FROM `src` EMIT CHANGES;",
    "INSERT INTO s (`K`, v) VALUES ('Key', 1.50);",
    "SET 'auto.offset.reset' = 'Earliest';",
    "DEFINE topicName = 'Orders';",
    "CREATE TABLE t WITH (kafka_topic='${topic}', partitions=${n}) AS SELECT * FROM s;",
    "SELECT 1e3, 0.10, 10.0, -5 FROM s;",
]


@pytest.mark.parametrize("text", MEANING)
def test_fmt_keeps_case_sensitive_names(text):
    formatted = format_text(text)
    assert kept(text, formatted) == [], formatted
    assert [s.tree for s in parse_statements(formatted)] == [s.tree for s in parse_statements(text)]
    assert format_text(formatted) == formatted  # canonical is a fixed point


def test_resource_names_are_case_sensitive_trees():
    """PRINT orders, PRINT `orders` and PRINT 'orders' are the same topic; ORDERS is not."""
    def tree(text):
        return parse_statements(text)[0].tree

    assert tree("PRINT orders;") == tree("PRINT 'orders';") == tree("PRINT `orders`;")
    assert tree("PRINT orders;") != tree("PRINT ORDERS;")
    assert tree("ASSERT TOPIC orders;") == tree("ASSERT TOPIC 'orders';")
    assert tree("ASSERT TOPIC orders;") != tree("ASSERT TOPIC Orders;")


def test_oracle_catches_a_lost_case():
    """The oracle itself: an upper-cased topic or quoted name, or a changed value, is found."""
    assert kept("PRINT orders;", "PRINT ORDERS;") == ["resource 'orders'"]
    assert kept("SELECT `a` FROM s;", "SELECT A FROM S;") == ["name 'a'"]
    assert kept("SET 'x' = 'Earliest';", "SET 'x' = 'earliest';") == ["value 'Earliest'"]
    assert kept("SELECT 0.10 FROM s;", "SELECT 0.1 FROM S;") == ["number '0.10'"]


# -- a statement without its ';' ---------------------------------------------------------

UNTERMINATED = {
    # name: (text, line of the error)
    "last_statement": ("CREATE STREAM a (id INT KEY) WITH (kafka_topic='a', value_format='json', partitions=1);\n"
                       "CREATE STREAM b (id INT KEY) WITH (kafka_topic='b', value_format='json', partitions=1)\n", 2),
    "only_statement": ("SHOW STREAMS", 1),
    "before_a_comment": ("SHOW STREAMS;\nSHOW TABLES\n-- the end; really\n", 2),
    "before_a_block_comment": ("SHOW STREAMS;\nDROP STREAM x\n/* ; */\n", 2),
    "multi_line": ("SELECT *\nFROM s\nEMIT CHANGES\n\n", 3),
    "two_statements_on_a_line": ("SHOW STREAMS SHOW TABLES;", 1),
}


@pytest.mark.parametrize("name", sorted(UNTERMINATED))
def test_missing_semicolon_is_an_error_with_its_line(tmp_path, name):
    text, line = UNTERMINATED[name]
    path = tmp_path / "input.sql"
    path.write_text(text)
    res = run_kctx("ksql", "check", str(path), cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}:{line}:"), res.stdout
    assert "missing ';'" in lines[0]
    assert "Traceback" not in res.stderr
    fmt = run_kctx("ksql", "fmt", str(path), cwd=tmp_path)
    assert fmt.returncode == 1 and f"{path}:{line}:" in fmt.stderr and "missing ';'" in fmt.stderr
    assert fmt.stdout == ""


def test_field_case_f03_missing_final_semicolon():
    """F03 as its run.sh does it: rc 1 and input.sql:2 "missing ';'"."""
    folder = next(FIELD.glob("F03-*"))
    res = run_kctx("ksql", "check", "input.sql", cwd=folder)
    assert res.returncode == 1
    assert res.stdout.startswith("input.sql:2:") and "missing ';'" in res.stdout


def test_field_case_f08_print_keeps_topic_case():
    """F08 as its run.sh does it: check passes, fmt keeps the topics `orders` and `Orders-v2`."""
    folder = next(FIELD.glob("F08-*"))
    assert run_kctx("ksql", "check", "input.sql", cwd=folder).returncode == 0
    res = run_kctx("ksql", "fmt", "input.sql", cwd=folder)
    assert res.returncode == 0
    assert "PRINT 'orders' FROM BEGINNING LIMIT 3;" in res.stdout
    assert "PRINT 'Orders-v2' FROM BEGINNING;" in res.stdout
    assert kept((folder / "input.sql").read_text(), res.stdout) == []


# -- the other syntax field cases stay as they were (F01, F02, F04-F07) ----------------------

@pytest.mark.parametrize("case", ["F01", "F02", "F04", "F05", "F06", "F07"])
def test_syntax_field_cases_check_format_and_keep_names(tmp_path, case):
    """Each case's input.sql passes the syntax check (the grammar's question these cases
    ask; the semantic analyzer is ksql check's other half), formats to text that passes it
    again and parses to the same trees, and keeps every case-sensitive name; ${variables}
    without a DEFINE stay variables (F06)."""
    folder = next(FIELD.glob(f"{case}-*"))
    text = (folder / "input.sql").read_text()
    res = run_kctx("ksql", "check", "--syntax-only", "input.sql", cwd=folder)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run_kctx("ksql", "fmt", "input.sql", cwd=folder)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "formatted.sql"
    out.write_text(res.stdout)
    again = run_kctx("ksql", "check", "--syntax-only", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [s.tree for s in parse_statements(res.stdout)] == [s.tree for s in parse_statements(text)]
    assert kept(text, res.stdout) == []

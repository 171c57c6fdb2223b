"""Score kctx's offline analyzer on ksqlDB's own verdicts.

Every test of ../shared/ksql-corpus/query-validation-tests.jsonl (ksqlDB's functional
tests, read in place) runs through ``kctx_cli.derive.analyzer`` statement by statement,
with the sources its earlier statements create, and is compared with ksqlDB's outcome:

* rejections: tests with ``expected_exception`` -- caught when kctx reports a finding on
  any of its statements; "same problem" when the finding's message and ksqlDB's share a
  problem keyword (``PROBLEM_WORDS``);
* false rejections: tests ksqlDB accepts in which kctx reports anything (goal 0);
* post_sources: each expected source schema equal to the one kctx inferred (goal 100%).
  A test's ``topics`` (ksqlDB's test format: the schemas registered before it runs) are
  the Schema Registry the analyzer is given (``registry_of``); a schema read from a
  registry the test does not give is counted apart ("read from a Schema Registry the test
  does not give": ../shared's corpus carries no ``topics`` today, ``--topics FILE`` adds
  them), and so is a test calling a function of ksqlDB's test harness
  (``HARNESS_FUNCTIONS``: "n/a", no real server has it). The rest must be equal.

    python tools/corpus_score.py                 # the figures
    python tools/corpus_score.py --syntax-only   # today's `kctx ksql check` (the baseline)
    python tools/corpus_score.py -v              # also list misses and false rejections
    python tools/corpus_score.py --topics F      # with the tests' topics ({file, test, topics} lines)
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "ksql-corpus" / "query-validation-tests.jsonl"
sys.path.insert(0, str(REPO))

# groups of words naming one kind of problem, for "a message naming the same problem":
# kctx's message and ksqlDB's name the same problem when both contain a word of one group
PROBLEM_WORDS = (
    ("syntax", "expected", "expecting", "missing", "overflows"),
    ("compare", "comparison", "mismatch"),
    ("does not accept", "takes", "ambiguous", "cannot be resolved due", "literal constant", "time unit"),
    ("value columns", "value column"),
    ("duplicate", "more than once", "named"),
    ("map key", "map keys", "string keys"),
    ("delimited",), ("kafka",), ("'none'",), ("wrap_single_value",), ("group by",), ("join",), ("window",),
    ("cannot be resolved", "unknown column"), ("does not exist", "unknown stream"), ("reserved",),
    ("boolean",), ("aggregate", "aggregation"), ("partition by",), ("projection", "select list"),
    ("emit",), ("having",), ("cast",), ("null",), ("avro",), ("json",), ("protobuf",),
    ("constructor",), ("within",), ("grace",), ("self join", "self-join"), ("intermediate",),
    ("key format",), ("incompatible schema",), ("delimiter",), ("fullschemaname",), ("table functions",),
    ("invalid input syntax",), ("table source",), ("result schema", "incompatible"), ("insert into",),
    ("numeric literal",),
)


# functions of ksqlDB's test harness (classes under ksqldb-engine/src/test/java, e.g.
# function/udf/TestUdf.java, TestUdtf.java, BadUdf.java): the real ksqlDB 8.1.5 answers
# "Can't find any functions with the name 'TEST_UDF'" for each, so a statement calling one
# fails on a real server and the schema it gives in the harness is no real server's. A
# post_sources schema of a test calling one is counted "not applicable" (n/a), neither
# equal nor missed.
HARNESS_FUNCTIONS = ("TEST_UDF", "TEST_UDTF", "TEST_UDAF", "BAD_UDF", "THROWING_UDTF", "WHENCONDITION", "WHENRESULT",
                     "TOSTRUCT", "GENERIC_VAR_ARG", "MID_VAR_ARG")
_HARNESS_CALL = re.compile(r"\b(" + "|".join(HARNESS_FUNCTIONS) + r")\s*\(", re.I)


@dataclass
class Score:
    tests: int = 0
    rejections: int = 0
    caught: int = 0
    same_problem: int = 0
    accepted: int = 0
    false_rejections: int = 0
    post_sources: int = 0
    post_sources_ok: int = 0
    post_sources_registry: int = 0  # schemas ksqlDB read from the Schema Registry: unknown offline
    post_sources_na: int = 0  # tests calling functions of ksqlDB's test harness (HARNESS_FUNCTIONS)
    misses: list = field(default_factory=list)  # (test, expected message)
    wrong: list = field(default_factory=list)  # (test, statement, kctx's message)
    mismatched: list = field(default_factory=list)  # (test, source, expected, kctx's)

    def figures(self) -> dict:
        def pct(a, b):
            return round(100.0 * a / b, 1) if b else 0.0
        return {
            "tests": self.tests,
            "rejections": self.rejections,
            "caught": self.caught, "caught_pct": pct(self.caught, self.rejections),
            "same_problem": self.same_problem, "same_problem_pct": pct(self.same_problem, self.rejections),
            "accepted_tests": self.accepted, "false_rejections": self.false_rejections,
            "post_sources": self.post_sources, "post_sources_ok": self.post_sources_ok,
            "post_sources_pct": pct(self.post_sources_ok, self.post_sources),
            "post_sources_registry": self.post_sources_registry,
            "post_sources_na": self.post_sources_na,
            "post_sources_offline_pct": pct(self.post_sources_ok,
                                            self.post_sources - self.post_sources_registry - self.post_sources_na),
        }


_TOKENS = re.compile(r"`(?:[^`]|``)*`|[A-Za-z0-9_]+|[<>(),]")
_PLAIN = re.compile(r"[A-Z_][A-Z0-9_]*")


def _norm_schema(text: str) -> str:
    """A post_sources schema in one spelling: unquoted names and types upper case, quoted
    names as written (ksqlDB keeps their case) and back-quoted only when not plain upper-case
    identifiers, INTEGER as INT, VARCHAR as STRING, PRIMARY KEY as KEY, one spacing."""
    out: list[str] = []
    for tok in _TOKENS.findall(text):
        if tok.startswith("`"):
            name = tok[1:-1].replace("``", "`")
            tok = name if _PLAIN.fullmatch(name) else f"`{name}`"
        elif not tok.isdigit() and tok not in "<>(),":
            tok = tok.upper()
            tok = tok if _PLAIN.fullmatch(tok) else f"`{tok}`"
            tok = {"INTEGER": "INT", "VARCHAR": "STRING"}.get(tok, tok)
        if tok == "KEY" and out and out[-1] == "PRIMARY":
            out.pop()
        out.append(tok)
    text = ""
    for tok in out:
        if tok == ",":
            text += ", "
        elif tok in (">", ")", "<", "(") or not text or text[-1] in "<( ":
            text += tok
        else:
            text += " " + tok
    return text


def _same_problem(expected: str, found: list[str]) -> bool:
    e = expected.lower()
    return any(any(w in e for w in group) and any(w in f.lower() for w in group)
               for f in found for group in PROBLEM_WORDS)


def registry_of(topics) -> object | None:
    """The Schema Registry a test starts with, from its ``topics`` (ksqlDB's test format:
    ``name``, ``valueSchema`` / ``keySchema``, ``valueFormat`` / ``keyFormat``,
    ``valueSchemaId`` / ``keySchemaId``, ``valueSchemaReferences`` / ``keySchemaReferences``):
    ``<topic>-value`` / ``<topic>-key`` subjects and ids, as
    ``kctx_cli.derive.registered.Schemas``; None without topics."""
    from kctx_cli.derive.registered import RegisteredSchema, Schemas

    if not topics:
        return None
    out = Schemas()
    n = 0  # the harness registers each topic's key then value schema: its mock registry numbers them from 1
    for topic in topics:
        for part in ("key", "value"):
            schema = topic.get(f"{part}Schema")
            if schema is None:
                continue
            fmt = str(topic.get(f"{part}Format") or "").upper()
            if not fmt:  # the harness's default: a JSON value is Avro, .proto text Protobuf
                fmt = "PROTOBUF" if isinstance(schema, str) and ("message" in schema or "syntax" in schema) \
                    else "AVRO"
            stype = {"JSON_SR": "JSON"}.get(fmt, fmt)
            refs = tuple((r["name"], r["schema"]) for r in topic.get(f"{part}SchemaReferences") or []
                         if isinstance(r, dict) and "schema" in r)
            rs = RegisteredSchema(stype, schema, refs)
            out.subjects[f"{topic['name']}-{part}"] = rs
            n += 1
            out.ids.setdefault(n, rs)
            if topic.get(f"{part}SchemaId") is not None:
                out.ids[int(topic[f"{part}SchemaId"])] = rs
    return out


def load_topics(path: Path | None) -> dict:
    """``(file, test) -> topics`` from a JSON-lines file of ``{"file", "test", "topics"}``
    (for a corpus whose tests do not carry their topics); {} without a path."""
    if path is None:
        return {}
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            t = json.loads(line)
            out[(t["file"], t["test"])] = t["topics"]
    return out


def score(path: Path = CORPUS, syntax_only: bool = False, topics: Path | None = None) -> Score:
    """Run every corpus test through the analyzer; the figures and the lists behind them.
    ``topics``: a file of the tests' topics (``load_topics``), when the corpus lacks them."""
    from kctx_cli.ksql.dialect import parse_statements
    from kctx_cli.derive.analyzer import ScriptAnalyzer, check_statements

    s = Score()
    extra = load_topics(topics)
    for line in path.read_text(encoding="utf-8").splitlines():
        t = json.loads(line)
        s.tests += 1
        schemas = registry_of(t.get("topics") or extra.get((t["file"], t["test"])))
        analyzer = ScriptAnalyzer(properties=t.get("properties"), schemas=schemas)
        found: list[tuple[str, str]] = []
        for text in t["statements"]:
            for f in check_statements(parse_statements(text), analyzer, syntax_only=syntax_only):
                found.append((text, f.message))
        name = f"{t['file']} / {t['test']}"
        if t.get("expected_exception"):
            s.rejections += 1
            expected = t["expected_exception"].get("message") or ""
            if not expected and str(t["expected_exception"].get("type")).endswith("ParseFailedException"):
                expected = "syntax"  # a parse failure without a message: a syntax finding names it
            if found:
                s.caught += 1
                if _same_problem(expected, [m for _, m in found]):
                    s.same_problem += 1
            else:
                s.misses.append((name, expected.splitlines()[0] if expected else t["expected_exception"].get("type")))
        else:
            s.accepted += 1
            if found:
                s.false_rejections += 1
                s.wrong.append((name, found[0][0], found[0][1]))
            harness = any(_HARNESS_CALL.search(text) for text in t["statements"])
            for ps in t.get("post_sources") or []:
                if not ps.get("schema"):
                    continue
                s.post_sources += 1
                if harness:
                    s.post_sources_na += 1
                    continue
                src = analyzer.catalog.get(ps["name"].upper()) or analyzer.catalog.get(ps["name"])
                got = src.schema_text() if src is not None and not syntax_only else None
                want = _norm_schema(ps["schema"])
                if got is not None and _norm_schema(got) == want:
                    s.post_sources_ok += 1
                elif src is not None and src.inferred:
                    s.post_sources_registry += 1
                else:
                    s.mismatched.append((name, ps["name"], want, got))
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--syntax-only", action="store_true", help="only the dialect's syntax check (the baseline)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list misses, false rejections, schema mismatches")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--topics", type=Path, help="JSON lines {file, test, topics}: the tests' registered schemas, "
                                                 "when the corpus does not carry them")
    args = ap.parse_args(argv)
    s = score(syntax_only=args.syntax_only, topics=args.topics)
    f = s.figures()
    if args.json:
        print(json.dumps(f, indent=2))
    else:
        print(f"tests {f['tests']}: rejections caught {f['caught']}/{f['rejections']} ({f['caught_pct']}%), "
              f"same problem {f['same_problem']} ({f['same_problem_pct']}%); false rejections "
              f"{f['false_rejections']}/{f['accepted_tests']}; post_sources {f['post_sources_ok']}/"
              f"{f['post_sources']} ({f['post_sources_pct']}%; {f['post_sources_na']} n/a: functions of ksqlDB's "
              f"test harness no real server has; {f['post_sources_registry']} read from a Schema Registry the "
              f"test does not give; {f['post_sources_offline_pct']}% of the rest)")
    if args.verbose:
        print("\n# false rejections")
        for w in s.wrong:
            print(" ", w)
        print("\n# missed rejections")
        for m in s.misses:
            print(" ", m)
        print("\n# post_sources mismatches")
        for m in s.mismatched:
            print(" ", m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Replay ksqlDB's own functional tests (DDL-only ones) through the emulator's engine.

``python -m tests.stack.ksqldb_emulator.corpus [-v]`` prints the agreement rate.

A corpus test is *DDL-only* when every statement is CREATE [OR REPLACE] STREAM/TABLE
(with columns or AS SELECT) or DROP. It agrees when
- ``expected_exception`` is set and some statement is rejected, or
- it is not set, every statement is accepted, and DESCRIBE of every ``post_sources`` entry
  with a schema returns exactly its columns (names, types, key flags, in order), and
  its key/value formats where the test names them.
The test's ``properties`` are sent as the request's ``streamsProperties``.
Topics named by the statements are treated as existing, as ksqlDB's test framework
pre-creates them.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .backend import MemoryBackend
from .engine import Engine
from .statements import ParseError, parse_schema

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "ksql-corpus" / "query-validation-tests.jsonl"

_DDL = re.compile(r"\s*(CREATE\s+(OR\s+REPLACE\s+)?(SOURCE\s+)?(STREAM|TABLE)\b|DROP\s+(STREAM|TABLE)\b)",
                  re.IGNORECASE)


_NO_COLUMNS = re.compile(r"\s*CREATE\s+(OR\s+REPLACE\s+)?(SOURCE\s+)?(STREAM|TABLE)\s+(IF\s+NOT\s+EXISTS\s+)?"
                         r"[`\w]+\s+WITH\b", re.IGNORECASE)


def load(path: Path = CORPUS) -> list[dict]:
    """The DDL-only tests, minus those that infer columns from registered schemas.

    A CREATE without columns reads the value schema from the Schema Registry; the corpus
    does not carry the schemas ksqlDB's test framework registered, so those tests cannot
    be replayed (the emulator rejects such statements unless the schema is registered).
    ``{FORMAT}`` placeholders (the framework runs those tests once per format) are
    replayed with JSON.
    """
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = []
    for r in rows:
        if not r["statements"] or not all(_DDL.match(s) for s in r["statements"]):
            continue
        if any(_NO_COLUMNS.match(s) for s in r["statements"]):
            continue
        r = dict(r, statements=[s.replace("{FORMAT}", "JSON") for s in r["statements"]])
        out.append(r)
    return out


@dataclass
class Outcome:
    test: dict
    ok: bool
    reason: str
    message_match: bool | None = None  # for expected exceptions: message contained


def run_one(test: dict) -> Outcome:
    engine = Engine(MemoryBackend(auto_topics=True))
    error = None
    props = {k: str(v) for k, v in (test.get("properties") or {}).items()}
    for stmt in test["statements"]:
        status, body = engine.handle_ksql({"ksql": stmt, "streamsProperties": props})
        if status != 200:
            error = body.get("message", "")
            break
    expected = test.get("expected_exception")
    if expected:
        if error is None:
            return Outcome(test, False, "accepted; ksqlDB rejects: " + str(expected.get("message")))
        want = expected.get("message") or ""
        return Outcome(test, True, "rejected", want in error)
    if error is not None:
        return Outcome(test, False, "rejected: " + error)
    for src in test.get("post_sources") or []:
        if not (src.get("schema") or src.get("keyFormat") or src.get("valueFormat")):
            continue
        status, body = engine.handle_ksql({"ksql": f"DESCRIBE `{src['name']}`;"})
        if status != 200:
            status, body = engine.handle_ksql({"ksql": f"DESCRIBE {src['name']};"})
        if status != 200:
            return Outcome(test, False, f"DESCRIBE {src['name']}: {body.get('message')}")
        if src.get("schema"):
            got = [(f["name"], _render(f["schema"]), f.get("type") == "KEY")
                   for f in body[0]["sourceDescription"]["fields"]]
            try:
                want = [(c.name, c.type.render(), c.kind is not None) for c in parse_schema(src["schema"])]
            except ParseError as e:
                return Outcome(test, False, f"cannot read expected schema {src['schema']!r}: {e}")
            if got != want:
                return Outcome(test, False, f"{src['name']}: got {got}, want {want}")
        d = body[0]["sourceDescription"]
        want_key = (src.get("keyFormat") or {}).get("format")
        if want_key and d["keyFormat"] != want_key:
            return Outcome(test, False, f"{src['name']}: key format {d['keyFormat']}, want {want_key}")
        if src.get("valueFormat") and d["valueFormat"] != src["valueFormat"]:
            return Outcome(test, False, f"{src['name']}: value format {d['valueFormat']}, want {src['valueFormat']}")
        want_type = src.get("type", "").upper()
        if want_type and body[0]["sourceDescription"]["type"] != want_type:
            return Outcome(test, False, f"{src['name']}: type {body[0]['sourceDescription']['type']}")
    return Outcome(test, True, "accepted")


def _render(schema: dict) -> str:
    t = schema["type"]
    if t == "DECIMAL":
        p = schema["parameters"]
        return f"DECIMAL({p['precision']}, {p['scale']})"
    if t == "ARRAY":
        return f"ARRAY<{_render(schema['memberSchema'])}>"
    if t == "MAP":
        return f"MAP<STRING, {_render(schema['memberSchema'])}>"
    if t == "STRUCT":
        return "STRUCT<" + ", ".join(f"`{f['name']}` {_render(f['schema'])}" for f in schema["fields"]) + ">"
    return t


def run(tests: list[dict] | None = None) -> list[Outcome]:
    return [run_one(t) for t in (tests if tests is not None else load())]


def summary(outcomes: list[Outcome]) -> dict:
    n = len(outcomes)
    ok = sum(o.ok for o in outcomes)
    rejected = [o for o in outcomes if o.test.get("expected_exception")]
    return {
        "tests": n,
        "agree": ok,
        "rate": ok / n if n else 0.0,
        "expect_accept": n - len(rejected),
        "expect_accept_agree": sum(o.ok for o in outcomes if not o.test.get("expected_exception")),
        "with_post_sources": sum(1 for o in outcomes if any(s.get("schema") for s in o.test.get("post_sources") or [])),
        "with_post_sources_agree": sum(o.ok for o in outcomes
                                       if any(s.get("schema") for s in o.test.get("post_sources") or [])),
        "expect_reject": len(rejected),
        "expect_reject_agree": sum(o.ok for o in rejected),
        "same_message": sum(bool(o.message_match) for o in rejected),
    }


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    outcomes = run()
    if "-v" in argv:
        for o in outcomes:
            if not o.ok:
                print(f"FAIL {o.test['file']} :: {o.test['test']}: {o.reason}")
    print(json.dumps(summary(outcomes), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`kctx ksql check` over the whole shared ksqlDB corpus (issue 3: goal ≤ 2 s, one process).

    python bench/bench_ksql_check.py            # 7 runs each
    python bench/bench_ksql_check.py --runs 11

Every statement of ../shared/ksql-corpus/query-validation-tests.jsonl (the tests with an
expected_exception too, as a linter meets broken statements) goes into one temporary .sql
file.  Timed in one process, same file, same session (so machine noise hits all):

- kctx:      ``kctx_cli.commands.ksql.check([file])`` — read, lex, split, parse every
             statement with the ksqlDB dialect, report errors (output discarded);
- baseline:  ``sqlglot.tokenize(text)`` — sqlglot's own (generic-dialect) tokenizer over the
             same text: the first step of any parse built on sqlglot's stock machinery, with
             no parsing at all.  (sqlglot's generic *parser* is no baseline: it cannot read
             ksqlDB statements and falls back to opaque "Command" nodes.)

Also the real CLI end to end (``python -m kctx_cli ksql check FILE``, fresh process).
Prints medians, statements/s and the ratios.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "ksql-corpus" / "query-validation-tests.jsonl"
sys.path.insert(0, str(REPO))


def corpus_text() -> tuple[str, int]:
    statements = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            for text in json.loads(line)["statements"]:
                statements.append(text.strip().rstrip(";"))
    return "".join(s + ";\n" for s in statements), len(statements)


def interleaved(fns: dict, runs: int) -> dict:
    """Median wall and CPU seconds of each function, runs interleaved so that load from
    other processes on the machine hits every contender alike."""
    for fn in fns.values():
        fn()  # warm-up: imports, regex compilation
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in fns}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    import sqlglot

    from kctx_cli.commands.ksql import check
    from kctx_cli.ksql.dialect import parse_statements

    text, n = corpus_text()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.sql"
        path.write_text(text, encoding="utf-8")
        errors = sum(1 for s in parse_statements(text) if s.error)

        def run_check() -> None:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                check([path])

        results = interleaved({"kctx": run_check, "tokenize": lambda: sqlglot.tokenize(text)}, args.runs)
        (kctx, kctx_cpu), (tok, tok_cpu) = results["kctx"], results["tokenize"]

        cli_samples = []
        for _ in range(max(3, args.runs // 2)):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kctx_cli", "ksql", "check", str(path)],
                           cwd=REPO, capture_output=True, text=True)
            cli_samples.append(time.perf_counter() - t)
        cli = statistics.median(cli_samples)

    print(f"corpus: {n} statements, {len(text):,} characters, {errors} with syntax errors")
    print(f"kctx ksql check (in process)        median {kctx * 1000:8.1f} ms wall {kctx_cpu * 1000:8.1f} ms CPU"
          f"   {n / kctx:8,.0f} statements/s")
    print(f"baseline sqlglot.tokenize           median {tok * 1000:8.1f} ms wall {tok_cpu * 1000:8.1f} ms CPU"
          f"   {n / tok:8,.0f} statements/s")
    print(f"python -m kctx_cli ksql check FILE  median {cli * 1000:8.1f} ms wall (fresh process, start-up included)")
    print(f"ratio kctx / sqlglot.tokenize = {kctx / tok:.2f} wall, {kctx_cpu / tok_cpu:.2f} CPU"
          f"   (goal: whole corpus ≤ 2 s in one process)")

if __name__ == "__main__":
    main()

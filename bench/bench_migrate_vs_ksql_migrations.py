"""Benchmark: `kctx migrate` against Confluent's `ksql-migrations apply --all` (8.1.5) on the
same 12 migration files and the same real ksqlDB 8.1.5 (goal: kctx ≤ 0.5× its wall time).

    set -a; eval "$(tests/stack/up)"; set +a
    python bench/bench_migrate_vs_ksql_migrations.py [--runs 5]

The files are the differential test's (tests/ksql_migrations_tool.py): CREATE STREAM,
INSERT VALUES, DEFINE + SET + CSAS, CREATE TABLE, INSERT VALUES into it, a second CSAS,
ALTER, CREATE + DROP, SET/UNSET, DEFINE over --define — 22 statements, 2 persistent
queries. Each run gives both tools fresh names (--define) on a fresh history:

* ksql-migrations: `new-project` and `initialize-metadata` first (not timed: apply needs
  them), then `apply --all -d ...` timed, JVM start included (as a CI job runs it);
* kctx: its history topic created first (not timed: kctx's initialize-metadata; with
  `--fresh-history` the timed run creates it), then `python -m kctx_cli migrate
  --allow-destructive -d ...` timed, Python start included; kctx's modules byte-compiled
  first (`compileall`, as `pip install` does).

The tools alternate which one goes first; between runs everything is dropped (queries
terminated first), outside the timings. Prints each run, the medians, their ratio and the
median of the runs' own ratios (each run pairs the two tools back to back, so it is the
figure least moved by other work on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ksql_migrations_tool import (  # noqa: E402
    FILES, KsqlMigrations, define_args, defines, kctx_project, write_migration_files,
)
from tests.ksqldb_helpers import drop_prefixed  # noqa: E402


def _kctx_migrate(project: Path, prefix: str, history_topic: str) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, KCTX_MIGRATIONS_TOPIC=history_topic,
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "kctx_cli", "migrate", "--allow-destructive",
                        *define_args(defines(prefix))], cwd=project, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, r


def _init_history(project: Path, topic: str) -> None:
    """kctx's history topic, as its first `migrate` creates it (the counterpart of
    ksql-migrations' initialize-metadata, which is not timed either)."""
    from kctx_cli.config import load_config
    from kctx_cli.migrations.cluster import Cluster
    from kctx_cli.migrations.history import History

    config = load_config(project)
    history = History(config, topic=topic)
    try:
        history.ensure(Cluster(config))
    finally:
        history.close()


def _busy(r: subprocess.CompletedProcess) -> bool:
    """ksqlDB could not write a statement to its command topic because another client's
    DDL fenced it (kctx retries these itself; ksql-migrations exits 1)."""
    text = r.stdout + r.stderr
    return "newer producer with the same transactionalId" in text or "Could not write the statement" in text


def _cleanup(ksqldb_url: str, bootstrap: str, prefixes: list[str], topics: list[str]) -> None:
    for p in prefixes:
        drop_prefixed(ksqldb_url, p.upper())
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(tuple(prefixes)) or t in topics]
    if names:
        for f in admin.delete_topics(names).values():
            try:
                f.result(timeout=60)
            except Exception:  # noqa: BLE001 - best effort
                pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fresh-history", action="store_true",
                    help="time kctx's first run on a cluster: its history topic created inside the timing")
    args = ap.parse_args()
    url, bootstrap = os.environ.get("KCTX_KSQLDB_URL"), os.environ.get("KCTX_BOOTSTRAP_SERVERS")
    if not url or not bootstrap:
        print('error: start the stack first: set -a; eval "$(tests/stack/up)"; set +a', file=sys.stderr)
        return 1
    # kctx's modules byte-compiled, as `pip install` leaves them (this checkout may run with
    # PYTHONDONTWRITEBYTECODE=1 and no __pycache__; the JVM side runs compiled jars too)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "kctx_cli")], check=True,
                   stdout=subprocess.DEVNULL)
    km_times, kc_times = [], []
    with tempfile.TemporaryDirectory(prefix="bench-km-") as tmp:
        files = write_migration_files(Path(tmp) / "files")
        statements = sum(text.count(";") - text.count("'; not") for _, text in FILES.values())
        print(f"{len(files)} migration files, {statements} statements, ksqlDB {url}")
        run, retries, attempt = 0, 3, 0
        while run < args.runs:
            attempt += 1
            base = f"b_kmvs_{secrets.token_hex(3)}"
            km_prefix, kc_prefix = f"{base}_km", f"{base}_kc"
            history_topic = f"_kctx_migrations_{kc_prefix}"
            km = KsqlMigrations(Path(tmp) / f"km{attempt}", url, km_prefix)
            try:
                km.init()
            except AssertionError as exc:  # initialize-metadata hit the same server conflict
                _cleanup(url, bootstrap, [km_prefix], [])
                if "newer producer" in str(exc) and retries > 0:
                    retries -= 1
                    print(f"run {run + 1}: initialize-metadata hit ksqlDB's command-topic conflict; repeated",
                          flush=True)
                    continue
                raise
            km.add(files)
            project = kctx_project(Path(tmp) / f"kc{attempt}", files)
            if not args.fresh_history:
                _init_history(project, history_topic)
            try:
                order = ("km", "kc") if run % 2 == 0 else ("kc", "km")
                for tool in order:
                    if tool == "km":
                        t0 = time.perf_counter()
                        r = km.apply(defines(km_prefix))
                        km_times.append(time.perf_counter() - t0)
                    else:
                        seconds, r = _kctx_migrate(project, kc_prefix, history_topic)
                        kc_times.append(seconds)
                    if r.returncode != 0:
                        if _busy(r) and retries > 0:  # the shared server, not the tool: run again
                            retries -= 1
                            print(f"run {run + 1}: {tool} hit ksqlDB's command-topic conflict (another "
                                  "client's DDL at the same moment); run discarded and repeated", flush=True)
                            break
                        print(f"{tool} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}", file=sys.stderr)
                        return 1
                else:
                    print(f"run {run + 1}: ksql-migrations apply --all {km_times[-1]:.2f} s, "
                          f"kctx migrate {kc_times[-1]:.2f} s (first: {order[0]})", flush=True)
                    run += 1
                    continue
                del km_times[run:], kc_times[run:]
            finally:
                _cleanup(url, bootstrap, [km_prefix, kc_prefix], [history_topic])
    km_med, kc_med = statistics.median(km_times), statistics.median(kc_times)
    pair = statistics.median(kc / km for kc, km in zip(kc_times, km_times))
    print(f"median: ksql-migrations apply --all {km_med:.2f} s, kctx migrate {kc_med:.2f} s, "
          f"ratio of the medians {kc_med / km_med:.2f}, median of the runs' ratios {pair:.2f} (goal ≤ 0.50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Start time and memory of the test stack (tests/stack/up).

Runs tests/stack/up + down REPEAT times on ports and a stack folder of its own (so a stack
already running on the default ports is left alone), with the stack's JVM flags (C1 only)
and, as the baseline, with the JVMs' default flags; prints the medians and the ratio, and
the RSS of the three JVMs (Kafka, Schema Registry, ksqlDB) just after start. `--cold` first times one start with an empty jar
cache and an empty Maven repository (everything downloaded from Maven Central).

    python bench/bench_stack.py [--repeat 3] [--cold]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UP, DOWN = REPO / "tests" / "stack" / "up", REPO / "tests" / "stack" / "down"
PORTS = {"KCTX_STACK_KAFKA_PORT": "27092", "KCTX_STACK_CONTROLLER_PORT": "27093",
         "KCTX_STACK_REGISTRY_PORT": "27081", "KCTX_STACK_KSQLDB_PORT": "27088"}


def rss_mb(pid_file: Path) -> float:
    pid = pid_file.read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_once(env: dict[str, str]) -> dict[str, float]:
    stack_dir = Path(env["KCTX_STACK_DIR"])
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(UP)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"tests/stack/up failed:\n{done.stderr}")
    wall = time.monotonic() - t0
    up = json.loads((stack_dir / "last-up.json").read_text())
    up.pop("rss_mb", None)
    result = {"wall": wall, **up, **{f"{name}_rss": rss_mb(stack_dir / f"{name}.pid")
                                     for name in ("kafka", "registry", "ksqldb")}}
    subprocess.run([sys.executable, str(DOWN)], env=env, check=True, stderr=subprocess.DEVNULL)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kctx-bench-stack-") as tmp:
        base = {**os.environ, **PORTS, "KCTX_STACK_DIR": f"{tmp}/stack"}
        if args.cold:
            cold = start_once({**base, "KCTX_STACK_CACHE": f"{tmp}/cache",
                               "MAVEN_OPTS": f"-Dmaven.repo.local={tmp}/m2"})
            print(f"cold start (download + start): {cold['wall']:.1f}s "
                  f"(fetch {cold['fetch']:.1f}s, Kafka ready {cold['kafka']:.1f}s, "
                  f"registry ready {cold['registry']:.1f}s, ksqlDB ready {cold['ksqldb']:.1f}s)")
        runs: dict[str, list[dict[str, float]]] = {"stack flags (C1 only)": [], "JVM defaults (baseline)": []}
        for _ in range(args.repeat):  # interleaved, so machine load hits both alike
            runs["stack flags (C1 only)"].append(start_once(base))
            runs["JVM defaults (baseline)"].append(start_once({**base, "KCTX_STACK_JVM_FLAGS": ""}))

    medians = {}
    for name, results in runs.items():
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        medians[name] = med
        print(f"{name:26} warm start median {med['wall']:5.1f}s  (Kafka ready {med['kafka']:.1f}s, "
              f"registry ready {med['registry']:.1f}s, ksqlDB ready {med['ksqldb']:.1f}s)  "
              f"RSS Kafka {med['kafka_rss']:.0f} MB, Schema Registry {med['registry_rss']:.0f} MB, "
              f"ksqlDB {med['ksqldb_rss']:.0f} MB")
    ours, baseline = medians.values()
    print(f"ratio stack/baseline: {ours['wall'] / baseline['wall']:.2f}x")


if __name__ == "__main__":
    main()

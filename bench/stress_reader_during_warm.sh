#!/usr/bin/env bash
# The reader-during-warm guarantee under load (issue 11 §5): the test repeated N times
# (default 50) while LOAD busy processes (default: one per CPU) keep every core busy.
#   set -a; eval "$(tests/stack/up)"; set +a
#   bash bench/stress_reader_during_warm.sh [N] [LOAD]
set -u
cd "$(dirname "$0")/.."
n=${1:-50}; load=${2:-$(nproc)}
pids=()
for _ in $(seq "$load"); do python3 -c 'while True: pass' & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
echo "load: $load busy processes on $(nproc) CPUs; $n rounds"
KCTX_STRESS_REPEAT=$n python3 -m pytest -q -p no:cacheprovider \
  "tests/test_cache_stack.py::test_reader_during_warm_sees_consistent_batches"

"""`kctx tail TOPIC`."""
from __future__ import annotations

import os
import sys

from kctx_cli.tail.core import TailOptions, tail as run_tail


def tail(config, opts: TailOptions) -> int:
    """Run a tail; with ``--key`` and nothing found, say on stderr which partitions were
    read (and why those) and how to read them all. Exit 0 (1 for bad input, raised)."""
    try:
        res = run_tail(config, opts)
    except BrokenPipeError:
        # the reader went away (`kctx tail T | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if opts.key is not None and res.printed == 0:
        print(not_found_message(opts, res), file=sys.stderr)
    if (opts.output or "pretty") == "pretty" and sys.stdout.isatty():
        extra = f", {res.undecodable} undecodable" if res.undecodable else ""
        print(f"{res.printed} record(s) shown of {res.read} read{extra}", file=sys.stderr)
    return 0


def not_found_message(opts: TailOptions, res) -> str:
    """One line: no record with the key, in which partitions of the topic, chosen how."""
    from kctx_cli.tail.decode import safe

    parts = ", ".join(map(str, res.partitions)) or "none"
    where = f"partition(s) {parts} of '{opts.topic}'"
    if opts.partitions:
        why = "the partitions you chose"
    elif opts.scan_all:
        why = "every partition"
    else:
        spec = res.key_spec
        how = f"key format from {spec.origin}" if spec is not None and spec.known else "key format unknown: every encoding tried"
        why = ("; ".join(f"{n} → {', '.join(map(str, ps))}" for n, ps in res.key_partitions.items())
               + f"; {how}")
    return (f"note: no record with key '{safe(opts.key)}' in {where} ({why}) from '{opts.start}'; "
            f"a key written by another partitioner, with another key format, or before partitions were added "
            f"lives elsewhere: --scan-all reads every partition")

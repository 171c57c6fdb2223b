"""`kctx tail TOPIC`."""
from __future__ import annotations

import os
import sys

from kctx_cli.tail.core import TailOptions, tail as run_tail


def tail(config, opts: TailOptions) -> int:
    try:
        res = run_tail(config, opts)
    except BrokenPipeError:
        # the reader went away (`kctx tail T | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if opts.key is not None and res.printed == 0 and res.avro_keys_seen and not opts.scan_all and not opts.partitions:
        print(f"note: the keys of '{opts.topic}' are Avro-encoded, so the partition computed from the text "
              f"key may be wrong; try --scan-all", file=sys.stderr)
    if (opts.output or "pretty") == "pretty" and sys.stdout.isatty():
        extra = f", {res.undecodable} undecodable" if res.undecodable else ""
        print(f"{res.printed} record(s) shown of {res.read} read{extra}", file=sys.stderr)
    return 0

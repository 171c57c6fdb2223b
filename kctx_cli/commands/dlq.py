"""`kctx dlq list | show | replay`: rich tables for people, JSON for machines."""
from __future__ import annotations

import json
import time

from rich.table import Table

from kctx_cli.commands.console import Progress, stdout
from kctx_cli.dlq import core
from kctx_cli.tail.decode import safe
from kctx_cli.tail.jsonout import iso_ms, json_default


def _age(ms: int | None) -> str:
    if ms is None:
        return "-"
    s = max(0, time.time() - ms / 1000)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return f"{s / n:.1f}{unit} ago"
    return f"{s:.0f}s ago"


def dlq_list(config, pattern: str | None, output: str) -> int:
    """`kctx dlq list`: the DLQ topics (kctx_cli.dlq.core.list_dlqs, names matching
    ``pattern`` if given) with record counts, ages of the oldest and newest record and
    parked records; ``output`` text or json (times as ISO-8601 UTC). Returns 0."""
    rows = core.list_dlqs(config, pattern)
    if output == "json":
        for r in rows:
            r["oldest"] = iso_ms(r["oldest"]) if r["oldest"] is not None else None
            r["newest"] = iso_ms(r["newest"]) if r["newest"] is not None else None
        print(json.dumps(rows, indent=2))
        return 0
    console = stdout()
    if not rows:
        console.print("no DLQ topics (names ending in -dlq/.dlq/_dlq/-dlt/.DLT, or declared in the models)")
        return 0
    t = Table("DLQ topic", "partitions", "records", "oldest", "newest", "parked")
    for r in rows:
        t.add_row(safe(r["topic"]), str(r["partitions"]), f"{r['records']:,}", _age(r["oldest"]), _age(r["newest"]),
                  "-" if r["parked"] is None else f"{r['parked']:,}")
    console.print(t)
    return 0


def dlq_show(config, topic: str, start: str, max_records: int, output: str) -> int:
    """`kctx dlq show`: up to ``max_records`` records of DLQ ``topic`` from ``start``
    (kctx_cli.dlq.core.show_dlq) with their origin and error; ``output`` text (a table, long
    fields cut) or json (everything). Returns 0; KctxError as show_dlq."""
    rows = core.show_dlq(config, topic, start, max_records)
    if output == "json":
        print(json.dumps(rows, indent=2, default=json_default, ensure_ascii=False))
        return 0
    console = stdout()
    t = Table("p@offset", "time", "original", "error", "replays", "key", "value")
    for r in rows:
        o = r["origin"]
        orig = f"{o['topic']}[{o['partition']}]@{o['offset']}" if o["topic"] else "-"
        err = (o["error_code"] or "-") + (f": {o['error_message']}" if o["error_message"] else "")
        v = r["value"] if isinstance(r["value"], str) else json.dumps(r["value"], default=json_default, ensure_ascii=False)
        if r["value_error"]:
            v = f"[undecodable: {r['value_error']}]"
        t.add_row(f"{r['partition']}@{r['offset']}", r["timestamp"], safe(orig), safe(_cut(err, 60)),
                  str(o["replay_count"]), safe(_cut(str(r["key"]), 30)), safe(_cut(v, 60)))
    console.print(t)
    return 0


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def dlq_replay(config, opts: core.ReplayOptions, output: str) -> int:
    """`kctx dlq replay`: run kctx_cli.dlq.core.replay with a progress bar and print the
    summary and the histogram (target, error code, action); ``output`` text or json.
    Returns 0, or 143 (128 + SIGTERM) when SIGTERM or SIGINT stopped it (run again to resume);
    KctxError as replay."""
    prog = Progress(f"replaying {opts.dlq}" if not opts.dry_run else f"scanning {opts.dlq}")
    try:
        res = core.replay(config, opts, progress=prog)
    finally:
        prog.stop()
    hist = [{"target": t, "error_code": c, "action": a, "count": n} for (t, c, a), n in sorted(res.histogram.items())]
    summary = {"dlq": opts.dlq, "group": res.group, "dry_run": opts.dry_run,
               "mode": "at-least-once" if opts.at_least_once else "exactly-once",
               "replayed": res.replayed, "same_partition": res.same_partition,
               "repartitioned": res.repartitioned, "parked": res.parked, "skipped": res.skipped,
               "transactions": res.transactions, "interrupted": res.interrupted, "histogram": hist}
    if output == "json":
        print(json.dumps(summary, indent=2))
    else:
        console = stdout()
        if hist:
            t = Table("original topic" if opts.dry_run else "target", "error code", "action", "records")
            for h in hist:
                t.add_row(safe(h["target"] or "-"), safe(h["error_code"]), h["action"], f"{h['count']:,}")
            console.print(t)
        verb = "would replay" if opts.dry_run else "replayed"
        line = f"{verb} {res.replayed:,}, parked {res.parked:,}, skipped {res.skipped:,} (filters)"
        if not opts.dry_run and res.replayed:
            line += (f"; {res.same_partition:,} to their original partition, {res.repartitioned:,} partitioned "
                     f"by key{' (--repartition)' if opts.repartition else ''}")
        if opts.dry_run:
            line += "; dry run: nothing written"
        else:
            line += f"; {res.transactions} commit(s), group {res.group}"
        console.print(line)
        if res.interrupted:
            console.print("stopped by a signal after the last committed batch; run the same command to resume")
    return 143 if res.interrupted else 0

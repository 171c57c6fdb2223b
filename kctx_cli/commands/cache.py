"""`kctx cache warm | get | stats | drop`."""
from __future__ import annotations

import json
import time
from pathlib import Path

from rich.table import Table
from rich.text import Text

from kctx_cli.cache import warm as w
from kctx_cli.commands.console import Progress, stderr, stdout
from kctx_cli.errors import KctxError
from kctx_cli.tail.decode import safe


def cache_warm(config, name: str, cache_dir: Path | None, output: str, batch: int = w.BATCH, pause: float = 0.0,
               store: str | None = None) -> int:
    """`kctx cache warm`: fill the cache of table/topic ``name`` (kctx_cli.cache.warm.warm;
    ``batch`` records per batch, ``pause`` seconds between batches, ``store`` raw / decoded /
    None = as the cache is) with a progress bar, then print what was read (``output`` text
    or json; undecodable records as warnings on stderr). Returns the exit code, 0;
    KctxError from the warm."""
    prog = Progress(f"warming {name}")
    try:
        res = w.warm(config, name, base=cache_dir, batch=batch, progress=prog, pause=pause, store_mode=store)
    finally:
        prog.stop()
    out = {"table": name, "topic": res.topic, "path": str(res.path), "records": res.records, "puts": res.puts,
           "deletes": res.deletes, "store": res.store, "batches": res.batches, "seconds": round(res.seconds, 3),
           "up_to_date": res.up_to_date, "offsets": res.offsets, "registry_errors": res.registry_errors}
    out["undecodable"] = res.bad_count
    out["undecodable_records"] = res.bad
    if output == "json":
        print(json.dumps(out, indent=2))
        return 0
    c = stdout()
    for e in sorted(set(res.registry_errors)):
        c.print(f"[yellow]warning:[/yellow] {e} (values stored raw; readers cannot decode them)")
    err = stderr()
    for b in res.bad:
        err.print(Text(f"warning: {res.topic}[{b['partition']}]@{b['offset']}: {safe(b['error'])}; stored raw", "yellow"))
    if res.bad_count > len(res.bad):
        err.print(Text(f"warning: … and {res.bad_count - len(res.bad)} more", "yellow"))
    if res.up_to_date:
        c.print(f"{res.topic}: already up to date ({res.seconds:.2f}s) in {res.path}")
    else:
        rate = res.records / res.seconds if res.seconds else 0
        c.print(f"{res.topic}: {res.records:,} records read ({res.puts:,} upserts, {res.deletes:,} tombstones) "
                f"in {res.seconds:.2f}s ({rate:,.0f}/s) into {res.path}"
                + (" (values stored decoded)" if res.store == "decoded" else "")
                + (f"; {res.bad_count:,} undecodable record(s) stored raw (see warnings)" if res.bad_count else ""))
    return 0


def cache_get(config, name: str, key: str, cache_dir: Path | None, output: str, key_format: str | None = None) -> int:
    """Print the value of KEY (JSON); exit 1 with one line when absent or undecodable."""
    from kctx_cli.cache import UndecodableValue
    try:
        value, found, how = w.get(config, name, key, base=cache_dir, key_format=key_format)
    except UndecodableValue as exc:
        raise KctxError(f"the value of key '{safe(key)}' in the cache of '{name}' cannot be decoded: {exc}") from None
    if not found:
        raise KctxError(f"key '{safe(key)}' not in the cache of '{name}' (looked up as {how})")
    if isinstance(value, bytes):
        value = {"hex": value.hex()}
    # JSON escapes C0 controls; safe() the rest (C1, bidi) for a terminal
    print(w.dumps(value) if output == "json" else safe(json.dumps(json.loads(w.dumps(value)), indent=2, ensure_ascii=False), lines=True))
    return 0


def cache_stats(config, name: str | None, cache_dir: Path | None, output: str) -> int:
    """`kctx cache stats`: keys (RocksDB's estimate), size on disk, next offset per partition
    and warm time of the cache of ``name``, or of every cache when None (``output`` text
    or json). Returns 0; KctxError when the named cache does not exist."""
    rows = w.stats(config, name, base=cache_dir)
    if output == "json":
        print(json.dumps(rows, indent=2))
        return 0
    c = stdout()
    if not rows:
        c.print("no caches (run kctx cache warm TABLE)")
        return 0
    t = Table("table", "keys (est.)", "size", "partitions: next offset", "warmed")
    for r in rows:
        ago = f"{r['warmed_at']} ({time.time() - r['warmed_at_ms'] / 1000:.0f}s ago)" if r["warmed_at_ms"] else "-"
        offs = " ".join(f"{p}:{o}" for p, o in sorted(r["offsets"].items()))
        t.add_row(r["table"], f"{r['keys_estimate']:,}", f"{r['bytes_on_disk'] / 1e6:.1f} MB", offs, ago)
    c.print(t)
    return 0


def cache_drop(config, name: str, cache_dir: Path | None) -> int:
    """`kctx cache drop`: delete the cache of ``name`` and print its path. Returns 0; KctxError
    when there is none, or while a warm holds it (RocksDB's writer lock)."""
    path = w.drop(config, name, base=cache_dir)
    stdout().print(f"dropped {path}")
    return 0

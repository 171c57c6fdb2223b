"""`kctx makemigrations`, `migrate`, `status`, `plan`, `repair`, `baseline` (SPEC §2, §4):
what each prints and its exit code. The work is done by ``kctx_cli.migrations.api``."""
from __future__ import annotations

import json

from kctx_cli.commands.console import stderr, stdout
from kctx_cli.config import Config
from kctx_cli.errors import EXIT_DIFF, EXIT_ERROR, EXIT_OK
from kctx_cli.migrations import api


def _echo(output: str):
    """Progress lines: on stdout for text output, nowhere for JSON."""
    if output == "json":
        return lambda line: None
    out = stdout()
    return lambda line: out.print(line, markup=False)


def makemigrations(config: Config, *, message: str | None = None, check: bool = False, empty: bool = False,
                   allow_destructive: bool = False, output: str = "text") -> int:
    """``kctx makemigrations``: exit 0 (written or no changes), 2 with ``check`` when a file
    would be written, 1 when a change is refused (each printed)."""
    try:
        new = api.makemigrations(config, message=message, check=check, empty=empty,
                                 allow_destructive=allow_destructive)
    except api.RefusedChanges as exc:
        if output == "json":
            print(json.dumps({"ok": False, "errors": exc.errors}, indent=2))
        else:
            err = stderr()
            for e in exc.errors:
                err.print(f"[red]refused:[/red] {e}", markup=True)
        raise
    out = stdout()
    if new.version is None:
        if output == "json":
            print(json.dumps({"changes": 0, "version": None}))
        else:
            out.print(f"No changes: the models match the migrations ({new.latest}).")
        return EXIT_OK
    if output == "json":
        print(json.dumps({"changes": len(new.up), "version": new.version, "file": str(new.path),
                          "written": new.written, "destructive": [op.describe() for op in new.up if op.destructive],
                          "reversible": new.down is not None,
                          "operations": [op.describe() for op in new.up]}, indent=2))
    else:
        verb = "Wrote" if new.written else "Would write"
        path = new.path.relative_to(config.root) if new.path.is_relative_to(config.root) else new.path
        out.print(f"{verb} {path} ({len(new.up)} operation{'s' if len(new.up) != 1 else ''}"
                  f"{'' if new.down is not None else ', irreversible'})")
        for op in new.up:
            out.print(f"  {'!' if op.destructive else '+'} {op.describe()}")
        for n in new.notes:
            out.print(f"  note: {n}")
    return EXIT_DIFF if check else EXIT_OK


def migrate(config: Config, *, to: str | None = None, dry_run: bool = False, allow_destructive: bool = False,
            lock_timeout: float = 120.0, output: str = "text") -> int:
    """``kctx migrate``: apply or revert, print what was done (or the dry run's statements)."""
    r = api.migrate(config, to=to, dry_run=dry_run, allow_destructive=allow_destructive,
                    lock_timeout=lock_timeout, echo=_echo(output))
    plan = r.plan
    if not plan.versions:
        if output == "json":
            print(json.dumps({"applied": [], "current": plan.current, "dry_run": dry_run}))
        else:
            stdout().print(f"Nothing to do: the cluster is at V{plan.current:06d}" + (" (latest)" if r.latest else "")
                           + ".")
        return EXIT_OK
    if dry_run:
        return _print_dry_run(plan, output)
    if output == "json":
        print(json.dumps({"direction": plan.direction, "applied": [m.label for m in plan.versions],
                          "steps": r.steps, "seconds": round(r.seconds, 3)}))
    else:
        verb = "applied" if plan.direction == "up" else "reverted"
        n = len(plan.versions)
        stdout().print(f"{verb} {n} migration{'s' if n != 1 else ''} ({r.steps} steps) in {r.seconds:.1f} s; "
                       f"the cluster is at V{plan.target:06d}", markup=False)
    return EXIT_OK


def _print_dry_run(plan, output: str) -> int:
    if output == "json":
        print(json.dumps({"dry_run": True, "direction": plan.direction, "versions": [
            {"version": m.label, "file": m.filename, "steps": [s.op.render() for s in plan.steps(m)]}
            for m in plan.versions]}, indent=2))
        return EXIT_OK
    print(f"-- dry run: nothing is sent to the cluster; {plan.direction} from V{plan.current:06d} "
          f"to V{plan.target:06d}")
    for m in plan.versions:
        print(f"-- {m.filename} ({plan.direction})")
        for s in plan.steps(m):
            if s.op.destructive:
                print("-- kctx:destructive")
            print(s.op.render())
    return EXIT_OK


def status(config: Config, *, output: str = "text") -> int:
    """``kctx status``: every version with its state and file check; exit 1 when an applied
    file was edited or is missing."""
    repairs: list[dict] = []
    rows, current, migrations = api.status_rows(config, repairs)
    bad = [r for r in rows if r["file_check"] in ("EDITED", "FILE MISSING")]
    if output == "json":
        print(json.dumps({"current": current, "versions": rows, "repairs": repairs}, indent=2))
        return EXIT_ERROR if bad else EXIT_OK
    from rich.table import Table

    out = stdout()
    t = Table(title=f"migrations: the cluster is at V{current:06d}")
    for c in ("version", "description", "state", "file", "checksum", "finished", "who"):
        t.add_column(c, overflow="fold")
    colours = {"MIGRATED": "green", "ERROR": "red", "RUNNING": "yellow", "REVERTING": "yellow"}
    for r in rows:
        t.add_row(r["version"], r["description"], f"[{colours.get(r['state'], 'white')}]{r['state']}[/]",
                  r["file_check"] if r["file_check"] == "-" else
                  (f"[red]{r['file_check']}[/]" if r in bad else r["file_check"]),
                  (r["checksum"] or "")[:12], r["finished"] or "", r["who"] or "")
    out.print(t)
    for r in rows:
        if r["error"] and r["state"] in ("ERROR", "RUNNING", "REVERTING"):
            out.print(f"{r['version']} {r['state']}: {r['error']}", markup=False, style="red")
    if repairs:
        last = repairs[-1]
        out.print(f"last repair: {last.get('state')} at {last.get('finished') or last.get('started')} by "
                  f"{last.get('who')} ({len(last.get('operations') or [])} operations, back to "
                  f"V{int(last.get('version') or 0):06d})" + (f": {last['error']}" if last.get("error") else ""),
                  markup=False, style="red" if last.get("state") == "ERROR" else None)
    pending = sum(1 for r in rows if r["state"].startswith("PENDING"))
    out.print(f"{pending} pending, {sum(1 for r in rows if r['state'] == 'ERROR')} failed, {len(bad)} edited or missing")
    for r in bad:
        stderr().print(f"error: V{r['version'][1:]}: {'the applied file was edited' if r['file_check'] == 'EDITED' else 'the applied file is missing'}",
                             markup=False, style="red")
    return EXIT_ERROR if bad else EXIT_OK


FIX_HEADINGS = {
    "repair": "drift: the cluster differs from the applied migrations (kctx repair brings it back):",
    "migrate": "not applied yet (kctx makemigrations writes what is missing, kctx migrate applies it):",
}


def plan(config: Config, *, detailed_exitcode: bool = False, output: str = "text") -> int:
    """``kctx plan``: models vs the live cluster, each change under the command that makes
    it (``live_diff``). Exit 2 with ``detailed_exitcode`` when anything differs, else 0."""
    changes, errors, notes = api.live_diff(config)
    n = len(changes) + len(errors) + len(notes)
    if output == "json":
        print(json.dumps({"changes": [{"operation": op.name, "description": op.describe(),
                                       "destructive": op.destructive, "fix": fix} for fix, op in changes],
                          "errors": errors, "drift": notes}, indent=2))
    else:
        out = stdout()
        if not n:
            out.print("No differences: the cluster matches the models.")
        else:
            out.print(f"{n} difference{'s' if n != 1 else ''} between the models and the cluster:")
            for fix, heading in FIX_HEADINGS.items():
                ops = [op for f, op in changes if f == fix]
                if ops:
                    out.print(f" {heading}", markup=False)
                for op in ops:
                    out.print(f"  {'!' if op.destructive else '~'} {op.describe()}", markup=False)
            for e in errors + notes:
                out.print(f"  ! {e}", markup=False)
    if n and detailed_exitcode:
        return EXIT_DIFF
    return EXIT_OK




def repair(config: Config, *, dry_run: bool = False, allow_destructive: bool = False, lock_timeout: float = 120.0,
           output: str = "text") -> int:
    """``kctx repair`` (``api.repair``): print the operations (dry run) or what was repaired."""
    r = api.repair(config, dry_run=dry_run, allow_destructive=allow_destructive, lock_timeout=lock_timeout,
                   echo=_echo(output))
    at, ops = r.version, r.ops
    if not ops:
        if output == "json":
            print(json.dumps({"repaired": [], "version": at, "dry_run": dry_run}))
        else:
            stdout().print(f"No drift: the cluster matches the applied migrations (V{at:06d}).")
        return EXIT_OK
    if dry_run:
        if output == "json":
            print(json.dumps({"dry_run": True, "version": at, "steps": [op.render() for op in ops]}, indent=2))
            return EXIT_OK
        print(f"-- dry run: nothing is sent to the cluster; repair to the state of V{at:06d}")
        for op in ops:
            if op.destructive:
                print("-- kctx:destructive")
            print(op.render())
        return EXIT_OK
    if output == "json":
        print(json.dumps({"repaired": [op.describe() for op in ops], "version": at, "seconds": round(r.seconds, 3)}))
    else:
        stdout().print(f"repaired {len(ops)} difference{'s' if len(ops) != 1 else ''} in {r.seconds:.1f} s; the "
                       f"cluster matches the applied migrations (V{at:06d})", markup=False)
    return EXIT_OK


def baseline(config: Config, *, message: str = "baseline", include: str | None = None, output: str = "text") -> int:
    """``kctx baseline`` (``api.baseline``): adopt a cluster, say what was recorded."""
    r = api.baseline(config, message=message, include=include)
    out = stdout()
    if r.adopted is not None:
        out.print(f"adopted {len(r.adopted)} version(s) applied by ksql-migrations: {', '.join(r.adopted)}")
    elif output == "json":
        print(json.dumps({"file": str(r.path), "operations": r.operations, "recorded": "V000001"}))
    else:
        out.print(f"wrote {r.path.name} ({r.operations} operations: {r.topics} topics, {r.subjects} subjects, "
                  f"{r.sources} streams/tables) and recorded it as applied")
    return EXIT_OK

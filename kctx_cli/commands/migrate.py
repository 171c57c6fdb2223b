"""`kctx makemigrations`, `migrate`, `status`, `plan`, `baseline` (SPEC §2, §4)."""
from __future__ import annotations

import json

from kctx_cli.commands.console import stderr, stdout
from kctx_cli.config import Config
from kctx_cli.errors import EXIT_DIFF, EXIT_ERROR, EXIT_OK, KctxError


def _load(config: Config):
    from kctx_cli.migrations import files
    from kctx_cli.model.discovery import load_project

    project = load_project(config)
    bad = [i for e in project.entities for i in e.issues]
    if bad:
        raise KctxError(f"the models have problems ({len(bad)}); run kctx validate")
    migrations = files.load_all(config.migrations_dir, config.defines)
    return project, migrations


def compute_diff(project, migrations, *, allow_destructive: bool = False):
    from kctx_cli.migrations import autogen, state

    old = state.replay(migrations)
    new = state.desired(project)
    return autogen.diff(old, new, allow_destructive=allow_destructive, order=autogen.entity_order(project))


def _auto_description(migrations, diff) -> str:
    if not migrations:
        return "initial"
    names: list[str] = []
    for op in diff.up:
        n = getattr(op, "source_name", None) or getattr(op, "topic", None) or getattr(op, "subject", None)
        if n:
            n = str(n).lower().removesuffix("-value").removesuffix("-key")
            if n not in names:
                names.append(n)
    if not names:
        return "auto"
    return "_".join(names[:3]) + ("_and_more" if len(names) > 3 else "")


def makemigrations(config: Config, *, message: str | None = None, check: bool = False, empty: bool = False,
                   allow_destructive: bool = False, output: str = "text") -> int:
    from kctx_cli.migrations import files

    project, migrations = _load(config)
    diff = compute_diff(project, migrations, allow_destructive=allow_destructive)
    out = stdout()
    if diff.errors:
        if output == "json":
            print(json.dumps({"ok": False, "errors": diff.errors}, indent=2))
        else:
            err = stderr()
            for e in diff.errors:
                err.print(f"[red]refused:[/red] {e}", markup=True)
        raise KctxError(f"makemigrations refused {len(diff.errors)} change{'s' if len(diff.errors) != 1 else ''} "
                        "(see above); nothing written")
    version = (migrations[-1].version if migrations else 0) + 1
    if not diff.changes and not empty:
        last = migrations[-1].label if migrations else "no migrations"
        if output == "json":
            print(json.dumps({"changes": 0, "version": None}))
        else:
            out.print(f"No changes: the models match the migrations ({last}).")
        return EXIT_OK
    description = message or ("empty" if empty and not diff.changes else _auto_description(migrations, diff))
    up = [] if empty else diff.up
    down = [] if empty else diff.down
    notes = list(diff.notes)
    why = "; ".join(diff.irreversible)
    if down is None:
        notes.append("irreversible: " + why)
    name = files.filename(version, description)
    text = files.render(version, description, up, down, notes, irreversible=why)
    path = config.migrations_dir / name
    if not check:  # written before anything is printed: a closed pipe must not lose the file
        config.migrations_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    if output == "json":
        print(json.dumps({"changes": len(up), "version": version, "file": str(path), "written": not check,
                          "destructive": [op.describe() for op in up if op.destructive],
                          "reversible": down is not None,
                          "operations": [op.describe() for op in up]}, indent=2))
    else:
        verb = "Would write" if check else "Wrote"
        out.print(f"{verb} {path.relative_to(config.root) if path.is_relative_to(config.root) else path} "
                  f"({len(up)} operation{'s' if len(up) != 1 else ''}{'' if down is not None else ', irreversible'})")
        for op in up:
            mark = "!" if op.destructive else "+"
            out.print(f"  {mark} {op.describe()}")
        for n in notes:
            out.print(f"  note: {n}")
    return EXIT_DIFF if check else EXIT_OK


# ---------------------------------------------------------------------------
# migrate
# ---------------------------------------------------------------------------


def _history(config, cluster, *, create: bool):
    from kctx_cli.migrations.history import History

    h = History(config)
    if create:
        h.ensure(cluster)
        h.read()
    elif h.exists(cluster):
        h.read()
    return h


def migrate(config: Config, *, to: str | None = None, dry_run: bool = False, allow_destructive: bool = False,
            lock_timeout: float = 120.0, output: str = "text") -> int:
    import time

    from kctx_cli.migrations import apply, files
    from kctx_cli.migrations.cluster import Cluster

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    if not dry_run:
        cluster.prefetch_ksql()  # built while the history and the lock wait on Kafka
    out = stdout()
    echo = (lambda s: None) if output == "json" else (lambda s: out.print(s, markup=False))
    history = _history(config, cluster, create=not dry_run)
    try:
        if not dry_run:
            _acquire(history, lock_timeout, echo)
            apply.kill_point("locked")
        try:
            versions = _verified_versions(history, migrations)
            plan = apply.make_plan(migrations, versions, to)
            if plan.direction == "up" and plan.versions:
                _refuse_rejected_files(config, [m for m in migrations if m.version <= plan.target])
            steps = [(m, s) for m in plan.versions for s in (m.up if plan.direction == "up" else m.down or [])]
            risky = [(m, s) for m, s in steps if s.op.destructive]
            if risky and not allow_destructive:
                for m, s in risky[1:]:
                    stderr().print(f"error: {m.filename}:{s.line}: {s.op.describe()}", markup=False, style="red")
                m, s = risky[0]
                raise KctxError(f"{m.filename}:{s.line}: {s.op.describe()}: destructive"
                                f"{f' ({len(risky)} destructive steps)' if len(risky) > 1 else ''}; "
                                "re-run with --allow-destructive")
            if not plan.versions:
                msg = (f"Nothing to do: the cluster is at V{plan.current:06d}"
                       + (" (latest)" if not migrations or plan.current == migrations[-1].version else "") + ".")
                if output == "json":
                    print(json.dumps({"applied": [], "current": plan.current, "dry_run": dry_run}))
                else:
                    out.print(msg)
                return EXIT_OK
            if dry_run:
                return _print_dry_run(plan, output)
            applier = apply.Applier(cluster, history, allow_destructive=allow_destructive, echo=echo)
            t0 = time.perf_counter()
            applier.run(plan)
            elapsed = time.perf_counter() - t0
            if output == "json":
                print(json.dumps({"direction": plan.direction, "applied": [m.label for m in plan.versions],
                                  "steps": len(applier.timings), "seconds": round(elapsed, 3)}))
            else:
                verb = "applied" if plan.direction == "up" else "reverted"
                out.print(f"{verb} {len(plan.versions)} migration{'s' if len(plan.versions) != 1 else ''} "
                          f"({len(applier.timings)} steps) in {elapsed:.1f} s; the cluster is at "
                          f"V{(plan.target):06d}", markup=False)
            return EXIT_OK
        finally:
            if not dry_run:
                history.release()
    finally:
        history.close()


def _refuse_rejected_files(config: Config, migrations) -> None:
    """SPEC §4: a file that validate rejects is never applied. Runs validate's checks of the
    files themselves (``migrations.checks.file_problems``: chain, replay, co-partitioned
    joins) on ``migrations`` (every file up to the target, from V000001); raises
    ``KctxError`` with the first problem (the others on stderr) before anything is sent."""
    from kctx_cli.migrations import checks

    rel = checks._rel(config.migrations_dir, config.root)
    problems = checks.file_problems(migrations, rel)
    if problems:
        _fail([str(p) for p in problems], "; nothing applied (kctx validate reports the same)")


def _fail(messages: list[str], suffix: str = "") -> None:
    """Raise ``KctxError`` with the first of ``messages`` (and ``suffix``); the others are
    printed on stderr first, one line each."""
    for m in messages[1:]:
        stderr().print(f"error: {m}", markup=False, style="red")
    raise KctxError(f"{messages[0]}{suffix}")


def _acquire(history, lock_timeout: float, echo) -> None:
    """Take the migration lock, saying once who holds it while waiting."""
    history.acquire(lock_timeout, on_wait=lambda h: echo(
        f"waiting for the migration lock held by {h.who if h else 'another process'} ..."))


def _verified_versions(history, migrations) -> dict:
    """The history's versions; ``KctxError`` when an applied file was edited or is missing
    (``apply.verify``)."""
    from kctx_cli.migrations import apply

    versions = history.versions()
    problems = apply.verify(migrations, versions)
    if problems:
        _fail(problems)
    return versions


def _print_dry_run(plan, output: str) -> int:
    if output == "json":
        print(json.dumps({"dry_run": True, "direction": plan.direction, "versions": [
            {"version": m.label, "file": m.filename, "steps": [
                s.op.render() for s in (m.up if plan.direction == "up" else m.down or [])]}
            for m in plan.versions]}, indent=2))
        return EXIT_OK
    print(f"-- dry run: nothing is sent to the cluster; {plan.direction} from V{plan.current:06d} "
          f"to V{plan.target:06d}")
    for m in plan.versions:
        print(f"-- {m.filename} ({plan.direction})")
        for s in (m.up if plan.direction == "up" else m.down or []):
            if s.op.destructive:
                print("-- kctx:destructive")
            print(s.op.render())
    return EXIT_OK


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------


def status_rows(config: Config, repairs: list | None = None):
    """(rows, current version, migrations): every version of the files and of the history
    with its state and file check. ``repairs``, when given, is extended with the history's
    ``kctx repair`` runs (``History.repairs``)."""
    from kctx_cli.migrations import apply, files
    from kctx_cli.migrations.cluster import Cluster

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    history = _history(config, cluster, create=False)
    try:
        versions = history.versions()
        if repairs is not None:
            repairs.extend(history.repairs())
    finally:
        history.close()
    rows = []
    by_v = {m.version: m for m in migrations}
    for v in sorted(set(by_v) | set(versions)):
        m, vs = by_v.get(v), versions.get(v)
        state = vs.state if vs else "PENDING"
        if vs and vs.state == "REVERTED":
            state = "PENDING (reverted)"
        check = "-"
        if m is None:
            check = "FILE MISSING"
        elif vs and vs.checksum:
            check = "ok" if vs.checksum == m.checksum else "EDITED"
        rows.append({"version": f"V{v:06d}", "description": m.description if m else (vs.description if vs else ""),
                     "state": state, "checksum": m.checksum if m else (vs.checksum if vs else None),
                     "file_check": check, "started": vs.started if vs else None,
                     "finished": vs.finished if vs else None, "who": vs.who if vs else None,
                     "error": vs.error if vs else None})
    return rows, apply.current_version(versions), migrations


def status(config: Config, *, output: str = "text") -> int:
    repairs: list[dict] = []
    rows, current, migrations = status_rows(config, repairs)
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


# ---------------------------------------------------------------------------
# plan: models vs the live cluster
# ---------------------------------------------------------------------------


def live_diff(config: Config):
    """What separates the live cluster from the models, as ``(changes, errors, notes)``:
    ``changes`` is a list of ``(fix, op)`` where ``fix`` names the command that makes the
    change — ``"repair"``: drift, the cluster differs from what the applied migrations
    describe (``kctx repair``, see ``migrations.repair``); ``"migrate"``: versions not applied
    yet, or model changes ``makemigrations`` has not written (the offline diff of the
    applied state and the models). A cluster without kctx history is compared with the
    models directly (``"migrate"``). ``errors``: what neither can do (e.g. partitions added
    by hand); ``notes``: schemas ksqlDB registered that differ from the models'."""
    from kctx_cli.migrations import autogen, live, repair, state
    from kctx_cli.migrations.cluster import Cluster

    project, migrations = _load(config)
    desired = state.desired(project)
    cluster = Cluster(config)
    history = _history(config, cluster, create=False)
    try:
        versions = history.versions()
    finally:
        history.close()
    order = autogen.entity_order(project)
    if versions:
        target = repair.applied_state(migrations, versions)
        current = repair.read(cluster, target, desired)
        fix = repair.drift(current, target)
        pending = autogen.diff(target, desired, allow_destructive=True, order=order)
        changes = [("repair", op) for op in fix.up] + [("migrate", op) for op in pending.up]
        errors = fix.errors + pending.errors
    else:
        replayed = state.replay(migrations)
        topics, subjects, sources = live.interesting(desired, replayed)
        current = live.read_live(cluster, topics=topics, subjects=subjects, sources=sources, need_ksql=bool(sources))
        live.align(current, desired)
        d = autogen.diff(current, desired, allow_destructive=True, order=order)
        changes, errors = [("migrate", op) for op in d.up], d.errors
    changes = [(f, op) for f, op in changes if op.name != "derived-schema"]
    notes = []
    for name, s in desired.subjects.items():
        if s.derived and current.subjects.get(name) and current.subjects[name].schemas and \
                _plain(current.subjects[name].schemas[-1]) != _plain(s.schemas[-1]):
            notes.append(f"subject {name}: the schema ksqlDB registered differs from the one the model derives")
    return changes, errors, notes


def _plain(schema):
    """A schema without Kafka Connect's annotations (connect.name, connect.version,
    connect.parameters): they do not change how Avro reads data, and converters differ
    in which ones they write."""
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if not k.startswith("connect.")}
    if isinstance(schema, list):
        return [_plain(x) for x in schema]
    return schema


FIX_HEADINGS = {
    "repair": "drift: the cluster differs from the applied migrations (kctx repair brings it back):",
    "migrate": "not applied yet (kctx makemigrations writes what is missing, kctx migrate applies it):",
}


def plan(config: Config, *, detailed_exitcode: bool = False, output: str = "text") -> int:
    """``kctx plan``: models vs the live cluster, each change under the command that makes
    it (``live_diff``). Exit 2 with ``detailed_exitcode`` when anything differs, else 0."""
    changes, errors, notes = live_diff(config)
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


def live_check(config: Config) -> dict:
    """What `kctx validate --live` adds: applied history vs files (checksums, failures,
    pending) and, when everything is applied, drift between models and cluster."""
    problems: list[str] = []
    rows, current, migrations = status_rows(config)
    for r in rows:
        if r["file_check"] == "EDITED":
            problems.append(f"{r['version']}: the file was edited after it was applied (checksum differs)")
        elif r["file_check"] == "FILE MISSING":
            problems.append(f"{r['version']}: applied in the cluster but the file is missing")
        if r["state"] in ("ERROR", "RUNNING", "REVERTING"):
            problems.append(f"{r['version']}: {r['state']} in the cluster" + (f": {r['error']}" if r["error"] else ""))
    pending = [r["version"] for r in rows if r["state"].startswith("PENDING")]
    if not pending and not any(r["state"] in ("ERROR", "RUNNING", "REVERTING") for r in rows):
        changes, errors, notes = live_diff(config)
        problems.extend(f"drift: {op.describe()}" for _, op in changes)
        problems.extend(f"drift: {e}" for e in errors + notes)
    return {"ok": not problems, "current": current, "pending": pending, "problems": problems}


# ---------------------------------------------------------------------------
# repair: drift back to the state of the applied migrations
# ---------------------------------------------------------------------------


def repair(config: Config, *, dry_run: bool = False, allow_destructive: bool = False, lock_timeout: float = 120.0,
           output: str = "text") -> int:
    """``kctx repair``: bring the cluster back to the state the applied migrations describe
    (what ``plan`` lists under drift), under the migration lock, with a ``repair`` record in
    the history. ``dry_run`` prints the operations; destructive ones (deleting a schema
    version registered by hand, dropping a source changed by hand) need
    ``allow_destructive``. Raises ``KctxError`` (exit 1) when kctx has applied nothing here,
    a version is unfinished, an applied file was edited, or the drift cannot be undone."""
    import time

    from kctx_cli.migrations import apply, files
    from kctx_cli.migrations import repair as rp
    from kctx_cli.migrations.cluster import Cluster

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    out = stdout()
    echo = (lambda s: None) if output == "json" else (lambda s: out.print(s, markup=False))
    history = _history(config, cluster, create=False)
    try:
        if not history.versions():
            raise KctxError(f"kctx has applied no migration to this cluster (history topic {history.topic}): there is "
                            "no applied state to repair to; kctx migrate applies the migrations, kctx baseline adopts "
                            "a cluster")
        if not dry_run:
            _acquire(history, lock_timeout, echo)
        try:
            versions = _verified_versions(history, migrations)
            at = apply.current_version(versions)
            target = rp.applied_state(migrations, versions)
            d = rp.drift(rp.read(cluster, target), target)
            if d.errors:
                _fail(d.errors, "; nothing repaired")
            ops = d.up
            if not ops:
                if output == "json":
                    print(json.dumps({"repaired": [], "version": at, "dry_run": dry_run}))
                else:
                    out.print(f"No drift: the cluster matches the applied migrations (V{at:06d}).")
                return EXIT_OK
            risky = [op for op in ops if op.destructive]
            if risky and not allow_destructive:
                for op in risky[1:]:
                    stderr().print(f"error: {op.describe()}: destructive", markup=False, style="red")
                raise KctxError(f"{risky[0].describe()}: destructive"
                                f"{f' ({len(risky)} destructive steps)' if len(risky) > 1 else ''}; "
                                "re-run with --allow-destructive")
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
            echo(f"repairing {len(ops)} difference{'s' if len(ops) != 1 else ''} from the state of V{at:06d}")
            t0 = time.perf_counter()
            rp.Repairer(cluster, history, echo=echo).run(ops, at)
            elapsed = time.perf_counter() - t0
            if output == "json":
                print(json.dumps({"repaired": [op.describe() for op in ops], "version": at,
                                  "seconds": round(elapsed, 3)}))
            else:
                out.print(f"repaired {len(ops)} difference{'s' if len(ops) != 1 else ''} in {elapsed:.1f} s; the "
                          f"cluster matches the applied migrations (V{at:06d})", markup=False)
            return EXIT_OK
        finally:
            if not dry_run:
                history.release()
    finally:
        history.close()


# ---------------------------------------------------------------------------
# baseline
# ---------------------------------------------------------------------------


def baseline(config: Config, *, message: str = "baseline", include: str | None = None, output: str = "text") -> int:
    """Adopt a cluster. Two cases:

    * the migrations directory is empty: the live state (every non-internal topic,
      subject, stream and table) is written as V000001 and recorded as applied;
    * the cluster was managed by ksql-migrations (a MIGRATION_EVENTS stream exists) and its
      files are in the migrations directory: each version it MIGRATED is recorded as applied
      in kctx's history, with its checksum checked against the file.
    """
    from kctx_cli.migrations import autogen, files, live
    from kctx_cli.migrations.cluster import Cluster
    from kctx_cli.migrations.history import VersionState, now_iso
    from kctx_cli.migrations.state import State

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    history = _history(config, cluster, create=True)
    out = stdout()
    try:
        if history.versions():
            raise KctxError(f"the cluster already has a kctx migration history (topic {history.topic}); "
                            "baseline only adopts a cluster kctx does not manage yet")
        adopted = _ksql_migrations_versions(config, cluster) if config.ksqldb_url else None
        history.acquire(30)
        try:
            if adopted is not None and migrations:
                by_v = {m.version: m for m in migrations}
                recorded = []
                for v, rec in sorted(adopted.items()):
                    if rec["state"] != "MIGRATED":
                        continue
                    m = by_v.get(v)
                    if m is None:
                        raise KctxError(f"ksql-migrations applied version {v} but migrations/ has no V{v:06d}__*.sql")
                    if rec.get("checksum") and rec["checksum"] != m.checksum:
                        raise KctxError(f"{m.filename}: its checksum ({m.checksum}) differs from the one "
                                        f"ksql-migrations recorded ({rec['checksum']})")
                    history.record_version(VersionState(v, "MIGRATED", m.checksum, "adopted", "up",
                                                        rec.get("started") or now_iso(), now_iso(), history.who,
                                                        None, m.description))
                    recorded.append(m.label)
                out.print(f"adopted {len(recorded)} version(s) applied by ksql-migrations: {', '.join(recorded)}")
                return EXIT_OK
            if migrations:
                raise KctxError(f"{config.migrations_dir} already has migration files; baseline writes V000001 "
                                "from the live cluster into an empty migrations directory")
            state = live.read_live(cluster, need_ksql=bool(config.ksqldb_url), include=_include(include))
            if include:
                state = _only(state, include)
            derived_topics = {s.topic for s in state.sources.values() if s.derived}
            for name, t in state.topics.items():
                t.owner = "ksqldb" if name in derived_topics else "kctx"  # a CSAS re-creates its own topic
            order = _source_order(state)
            d = autogen.diff(State(), state, allow_destructive=True, order=order)
            if d.errors:
                raise KctxError("cannot baseline: " + "; ".join(d.errors))
            text = files.render(1, message, d.up, d.down, irreversible="; ".join(d.irreversible),
                                generator="kctx baseline from the live cluster")
            path = config.migrations_dir / files.filename(1, message)
            config.migrations_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            m = files.read(path)
            history.record_version(VersionState(1, "MIGRATED", m.checksum, "baseline", "up", now_iso(), now_iso(),
                                                history.who, None, m.description))
            if output == "json":
                print(json.dumps({"file": str(path), "operations": len(d.up), "recorded": "V000001"}))
            else:
                out.print(f"wrote {path.name} ({len(d.up)} operations: {len(state.topics)} topics, "
                          f"{len(state.subjects)} subjects, {len(state.sources)} streams/tables) and recorded "
                          "it as applied")
            return EXIT_OK
        finally:
            history.release()
    finally:
        history.close()


def _include(pattern: str | None):
    """``--include`` compiled (case-insensitive, searched), or None."""
    import re

    if not pattern:
        return None
    try:
        return re.compile(pattern, re.I)
    except re.error as exc:
        raise KctxError(f"--include: invalid regular expression: {exc}") from None


def _only(state, pattern: str):
    """The objects whose name matches ``pattern`` (a regex, case-insensitive, searched)."""
    import re

    try:
        rx = re.compile(pattern, re.I)
    except re.error as exc:
        raise KctxError(f"--include: invalid regular expression: {exc}") from None
    state.topics = {k: v for k, v in state.topics.items() if rx.search(k)}
    state.subjects = {k: v for k, v in state.subjects.items() if rx.search(k)}
    state.sources = {k: v for k, v in state.sources.items() if rx.search(k)}
    return state


def _source_order(state) -> list[str]:
    """Sources in an order where a query comes after what it reads."""
    from sqlglot import exp

    from kctx_cli.ksql.dialect import parse_one

    deps = {}
    for n, s in state.sources.items():
        try:
            tree = parse_one(s.statement)
            q = tree.args.get("expression")
            deps[n] = {t.this.this for t in q.find_all(exp.Table)} if q is not None else set()
        except Exception:  # noqa: BLE001
            deps[n] = set()
    out: list[str] = []

    def visit(n, seen=()):
        if n in out or n in seen or n not in deps:
            return
        for d in sorted(deps[n]):
            visit(d, seen + (n,))
        out.append(n)

    for n in sorted(deps):
        visit(n)
    return out


def _ksql_migrations_versions(config, cluster) -> dict | None:
    """ksql-migrations' history, read from its MIGRATION_EVENTS stream's topic (JSON), or
    None when the cluster has none. version -> latest event."""
    from confluent_kafka import TopicPartition

    from kctx_cli.backends.kafka import consumer

    try:
        desc = cluster.ksql_source("MIGRATION_EVENTS")
    except KctxError:
        return None
    if desc is None:
        return None
    topic = desc.get("topic")
    c = consumer(config, **{"enable.partition.eof": False})
    out: dict[int, dict] = {}
    try:
        md = cluster.topic(topic)
        if md is None:
            return None
        for p in range(md[0]):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                continue
            c.assign([TopicPartition(topic, p, low)])
            nxt = low
            while nxt < high:
                msg = c.poll(2.0)
                if msg is None:
                    break
                if msg.error():
                    continue
                nxt = msg.offset() + 1
                try:
                    rec = {k.upper(): v for k, v in json.loads(msg.value()).items()}
                except (TypeError, ValueError, AttributeError):
                    continue
                if str(rec.get("VERSION_KEY", "")).upper() == "CURRENT":
                    continue  # ksql-migrations' pointer to the current version
                try:
                    v = int(rec.get("VERSION") or rec.get("VERSION_KEY") or 0)
                except ValueError:
                    continue
                if v:
                    out[v] = {"state": rec.get("STATE"), "checksum": rec.get("CHECKSUM"),
                              "started": rec.get("STARTED_ON")}
    finally:
        c.close()
    return out

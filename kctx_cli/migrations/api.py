"""The migration commands as library functions, one per command (Alembic's ``command.py``).

``kctx_cli.commands.migrate`` prints what these return and picks the exit code; a service,
a test or a CI script can call them directly. Each takes the loaded ``Config``
(``kctx_cli.config.load_config``), never prints, and raises ``KctxError`` (``KctxErrors``
when several problems are found at once) for anything the user must fix.

Cluster access goes through ``migrations.cluster.Cluster`` (Kafka admin, Schema Registry,
ksqlDB) and the history topic through ``migrations.history.History``; the lock is taken
only by the commands that change the cluster (migrate, repair, baseline).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

from kctx_cli.config import Config
from kctx_cli.errors import KctxError, KctxErrors, display_path

Echo = Callable[[str], None]


def _quiet(_line: str) -> None:
    """The default ``echo``: progress lines go nowhere."""


# ---------------------------------------------------------------------------
# makemigrations / show plan (offline)
# ---------------------------------------------------------------------------


def load(config: Config):
    """``(project, migrations)``: the models (``model.discovery.Project``) and the migration
    files (``files.Migration`` in version order). Raises ``KctxError`` when the models have
    problems (``kctx validate`` names them) or a file cannot be read."""
    from kctx_cli.migrations import files
    from kctx_cli.model.discovery import load_project

    project = load_project(config)
    bad = [i for e in project.entities for i in e.issues]
    if bad:
        raise KctxError(f"the models have problems ({len(bad)}); run kctx validate")
    migrations = files.load_all(config.migrations_dir, config.defines)
    return project, migrations


def compute_diff(project, migrations, *, allow_destructive: bool = False):
    """The models against the state the migration files replay to, as an ``autogen.Diff``
    (``up``/``down`` operations, ``errors`` for refused changes, ``notes``)."""
    from kctx_cli.migrations import autogen, state

    old = state.replay(migrations)
    new = state.desired(project)
    return autogen.diff(old, new, allow_destructive=allow_destructive, order=autogen.entity_order(project))


def auto_description(migrations, diff) -> str:
    """The file-name description of a new migration: ``initial`` for the first, else up to
    three of the objects it changes (``orders_customers_and_more``), ``auto`` when none."""
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


class RefusedChanges(KctxError):
    """``makemigrations`` refused changes (``errors``: one message each); nothing written."""

    def __init__(self, errors: list[str]):
        n = len(errors)
        super().__init__(f"makemigrations refused {n} change{'s' if n != 1 else ''} (see above); nothing written")
        self.errors = list(errors)


@dataclass
class NewMigration:
    """What ``makemigrations`` wrote (or would write, with ``check``): ``version`` (int; None
    when nothing changed), ``path`` (Path), ``text`` (the file), ``up``/``down`` operations
    (``down`` None when irreversible), ``notes`` (lines for the user), ``written``, and
    ``latest``: the label of the newest existing file (``no migrations``)."""

    version: int | None
    path: object = None
    text: str = ""
    up: list = field(default_factory=list)
    down: list | None = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False
    latest: str = "no migrations"


def makemigrations(config: Config, *, message: str | None = None, check: bool = False, empty: bool = False,
                   allow_destructive: bool = False) -> NewMigration:
    """Write the next migration file from the difference between the models and the files
    (``check``: compute it, write nothing; ``empty``: a file with no operations). When
    nothing changed (and not ``empty``) the result's ``version`` is None. Raises
    ``RefusedChanges`` listing every refused change (an incompatible schema, a destructive
    change without ``allow_destructive``) — nothing is written then — and ``KctxError``
    for models with problems or unreadable files."""
    from kctx_cli.migrations import files

    project, migrations = load(config)
    diff = compute_diff(project, migrations, allow_destructive=allow_destructive)
    if diff.errors:
        raise RefusedChanges(diff.errors)
    latest = migrations[-1].label if migrations else "no migrations"
    version = (migrations[-1].version if migrations else 0) + 1
    if not diff.changes and not empty:
        return NewMigration(None, latest=latest)
    description = message or ("empty" if empty and not diff.changes else auto_description(migrations, diff))
    up = [] if empty else diff.up
    down = [] if empty else diff.down
    notes = list(diff.notes)
    why = "; ".join(diff.irreversible)
    if down is None:
        notes.append("irreversible: " + why)
    text = files.render(version, description, up, down, notes, irreversible=why)
    path = config.migrations_dir / files.filename(version, description)
    if not check:  # written before anything is printed: a closed pipe must not lose the file
        config.migrations_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return NewMigration(version, path, text, up, down, notes, not check, latest)


def next_migration_text(config: Config) -> tuple[str, list[str], str | None]:
    """``kctx show plan``: ``(text, refused, latest)`` — the file makemigrations would write
    now (destructive changes allowed, so everything shows), the changes it would refuse,
    and the latest file's label when there is nothing to write (``text`` empty)."""
    from kctx_cli.migrations import files

    project, migrations = load(config)
    diff = compute_diff(project, migrations, allow_destructive=True)
    if not diff.changes:
        return "", list(diff.errors), migrations[-1].label if migrations else "no migrations"
    version = (migrations[-1].version if migrations else 0) + 1
    why = "; ".join(diff.irreversible)
    notes = list(diff.notes) + ([f"irreversible: {why}"] if diff.down is None else [])
    text = files.render(version, auto_description(migrations, diff), diff.up, diff.down, notes, irreversible=why)
    return text, list(diff.errors), None


# ---------------------------------------------------------------------------
# migrate
# ---------------------------------------------------------------------------


def open_history(config: Config, cluster, *, create: bool):
    """The ``_kctx_migrations`` history (``history.History``), read; ``create`` makes the
    topic when missing (else a missing topic reads as empty). Close it when done."""
    from kctx_cli.migrations.history import History

    h = History(config)
    if create:
        h.ensure(cluster)
        h.read()
    elif h.exists(cluster):
        h.read()
    return h


def acquire_lock(history, lock_timeout: float, echo: Echo = _quiet) -> None:
    """Take the migration lock (waiting up to ``lock_timeout`` seconds), saying once through
    ``echo`` who holds it while waiting. Raises ``KctxError`` on timeout."""
    history.acquire(lock_timeout, on_wait=lambda h: echo(
        f"waiting for the migration lock held by {h.who if h else 'another process'} ..."))


def verified_versions(history, migrations) -> dict:
    """The history's ``{version: VersionState}``; raises ``KctxErrors`` when an applied file
    was edited or is missing (``apply.verify``)."""
    from kctx_cli.migrations import apply

    versions = history.versions()
    problems = apply.verify(migrations, versions)
    if problems:
        raise KctxErrors(problems)
    return versions


def refuse_rejected_files(config: Config, migrations) -> None:
    """SPEC §4: a file that validate rejects is never applied. Runs validate's checks of the
    files themselves (``checks.file_problems``: chain, replay, co-partitioned joins, the
    analyzer) on ``migrations`` (every file up to the target, from V000001); raises
    ``KctxErrors`` with every problem before anything is sent."""
    from kctx_cli.migrations import checks

    rel = display_path(config.migrations_dir, config.root)
    problems = checks.file_problems(migrations, rel)
    if problems:
        raise KctxErrors([str(p) for p in problems], "; nothing applied (kctx validate reports the same)")


def refuse_destructive(steps, allow_destructive: bool) -> None:
    """``steps``: ``(where, op)`` pairs (``where`` a ``file:line`` or ""); raises
    ``KctxErrors`` naming every destructive one unless ``allow_destructive``."""
    risky = [(w, op) for w, op in steps if op.destructive]
    if not risky or allow_destructive:
        return
    lines = [f"{w}: {op.describe()}" if w else f"{op.describe()}: destructive" for w, op in risky]
    more = f" ({len(risky)} destructive steps)" if len(risky) > 1 else ""
    first = f"{lines[0]}: destructive" if risky[0][0] else lines[0]
    raise KctxErrors([f"{first}{more}; re-run with --allow-destructive"] + lines[1:])


@dataclass
class MigrateResult:
    """What ``migrate`` did: the ``plan`` (``apply.Plan``: direction, current, target,
    versions), whether it was ``applied`` (False for a dry run or nothing to do), the
    number of ``steps`` applied and the ``seconds`` it took."""

    plan: object
    applied: bool = False
    steps: int = 0
    seconds: float = 0.0
    latest: bool = False  # nothing to do and the cluster is at the latest file


def migrate(config: Config, *, to: str | None = None, dry_run: bool = False, allow_destructive: bool = False,
            lock_timeout: float = 120.0, echo: Echo = _quiet) -> MigrateResult:
    """Apply (or revert, when ``to`` is below the current version) the migration files under
    the lock, recording each version in the history. ``to``: a version (``3``, ``V000003``)
    or None for the latest; ``lock_timeout`` in seconds; ``echo`` receives progress lines.
    ``dry_run`` takes no lock and changes nothing. Raises ``KctxError(s)`` for edited or
    missing applied files, files validate rejects, destructive steps without
    ``allow_destructive``, and failures while applying (the version is then recorded ERROR)."""
    from kctx_cli.migrations import apply, files
    from kctx_cli.migrations.cluster import Cluster

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    if not dry_run:
        cluster.prefetch_ksql()  # built while the history and the lock wait on Kafka
    history = open_history(config, cluster, create=not dry_run)
    try:
        if not dry_run:
            acquire_lock(history, lock_timeout, echo)
            apply.kill_point("locked")
        try:
            versions = verified_versions(history, migrations)
            plan = apply.make_plan(migrations, versions, to)
            if plan.direction == "up" and plan.versions:
                refuse_rejected_files(config, [m for m in migrations if m.version <= plan.target])
            refuse_destructive([(f"{m.filename}:{s.line}", s.op) for m in plan.versions for s in plan.steps(m)],
                               allow_destructive)
            if not plan.versions:
                return MigrateResult(plan, latest=not migrations or plan.current == migrations[-1].version)
            if dry_run:
                return MigrateResult(plan)
            applier = apply.Applier(cluster, history, echo=echo)
            t0 = time.perf_counter()
            applier.run(plan)
            return MigrateResult(plan, True, len(applier.timings), time.perf_counter() - t0)
        finally:
            if not dry_run:
                history.release()
    finally:
        history.close()


# ---------------------------------------------------------------------------
# status, plan, validate --live
# ---------------------------------------------------------------------------


def status_rows(config: Config, repairs: list | None = None):
    """``(rows, current, migrations)``: every version of the files and of the history as a
    dict (version, description, state, checksum, file_check ``ok``/``EDITED``/``FILE
    MISSING``/``-``, started, finished, who, error), the current version (int) and the
    files. ``repairs``, when given, is extended with the history's ``kctx repair`` runs."""
    from kctx_cli.migrations import apply, files
    from kctx_cli.migrations.cluster import Cluster

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    history = open_history(config, cluster, create=False)
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

    project, migrations = load(config)
    desired = state.desired(project)
    cluster = Cluster(config)
    history = open_history(config, cluster, create=False)
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


def live_check(config: Config) -> dict:
    """What ``kctx validate --live`` adds: ``{"ok", "current", "pending", "problems"}`` —
    applied history vs files (checksums, failures, pending) and, when everything is
    applied, drift between models and cluster (``live_diff``)."""
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
# repair
# ---------------------------------------------------------------------------


@dataclass
class RepairResult:
    """What ``repair`` found and did: ``version`` (the applied state repaired to), ``ops``
    (the operations, in order), ``applied`` (False for a dry run or no drift), ``seconds``."""

    version: int
    ops: list = field(default_factory=list)
    applied: bool = False
    seconds: float = 0.0


def repair(config: Config, *, dry_run: bool = False, allow_destructive: bool = False, lock_timeout: float = 120.0,
           echo: Echo = _quiet) -> RepairResult:
    """``kctx repair``: bring the cluster back to the state the applied migrations describe
    (what ``plan`` lists under drift), under the migration lock, with a ``repair`` record in
    the history. ``dry_run`` computes the operations only; destructive ones (deleting a
    schema version registered by hand, dropping a source changed by hand) need
    ``allow_destructive``. Raises ``KctxError(s)`` when kctx has applied nothing here, a
    version is unfinished, an applied file was edited, or the drift cannot be undone."""
    from kctx_cli.migrations import apply, files
    from kctx_cli.migrations import repair as rp
    from kctx_cli.migrations.cluster import Cluster

    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    history = open_history(config, cluster, create=False)
    try:
        if not history.versions():
            raise KctxError(f"kctx has applied no migration to this cluster (history topic {history.topic}): there is "
                            "no applied state to repair to; kctx migrate applies the migrations, kctx baseline adopts "
                            "a cluster")
        if not dry_run:
            acquire_lock(history, lock_timeout, echo)
        try:
            versions = verified_versions(history, migrations)
            at = apply.current_version(versions)
            target = rp.applied_state(migrations, versions)
            d = rp.drift(rp.read(cluster, target), target)
            if d.errors:
                raise KctxErrors(d.errors, "; nothing repaired")
            ops = d.up
            refuse_destructive([("", op) for op in ops], allow_destructive)
            if not ops or dry_run:
                return RepairResult(at, ops)
            echo(f"repairing {len(ops)} difference{'s' if len(ops) != 1 else ''} from the state of V{at:06d}")
            t0 = time.perf_counter()
            rp.Repairer(cluster, history, echo=echo).run(ops, at)
            return RepairResult(at, ops, True, time.perf_counter() - t0)
        finally:
            if not dry_run:
                history.release()
    finally:
        history.close()


# ---------------------------------------------------------------------------
# baseline
# ---------------------------------------------------------------------------


@dataclass
class BaselineResult:
    """What ``baseline`` did: ``adopted`` (labels of ksql-migrations versions recorded as
    applied) or ``path`` (the V000001 file written from the live cluster) with the
    ``operations`` count and the numbers of ``topics``, ``subjects`` and ``sources``."""

    adopted: list[str] | None = None
    path: object = None
    operations: int = 0
    topics: int = 0
    subjects: int = 0
    sources: int = 0


def baseline(config: Config, *, message: str = "baseline", include: str | None = None) -> BaselineResult:
    """Adopt a cluster. Two cases:

    * the migrations directory is empty: the live state (every non-internal topic,
      subject, stream and table; ``include``: only names matching this regular expression,
      case-insensitive) is written as V000001 and recorded as applied;
    * the cluster was managed by ksql-migrations (a MIGRATION_EVENTS stream exists) and its
      files are in the migrations directory: each version it MIGRATED is recorded as applied
      in kctx's history, with its checksum checked against the file.

    Raises ``KctxError`` when the cluster already has a kctx history, when migration files
    exist that ksql-migrations did not apply, or on a checksum mismatch."""
    from kctx_cli.migrations import autogen, files, live
    from kctx_cli.migrations.cluster import Cluster
    from kctx_cli.migrations.history import VersionState, now_iso
    from kctx_cli.migrations.repair import state_order
    from kctx_cli.migrations.state import State

    rx = _include(include)
    migrations = files.load_all(config.migrations_dir, config.defines)
    cluster = Cluster(config)
    history = open_history(config, cluster, create=True)
    try:
        if history.versions():
            raise KctxError(f"the cluster already has a kctx migration history (topic {history.topic}); "
                            "baseline only adopts a cluster kctx does not manage yet")
        adopted = ksql_migrations_versions(config, cluster) if config.ksqldb_url else None
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
                return BaselineResult(adopted=recorded)
            if migrations:
                raise KctxError(f"{config.migrations_dir} already has migration files; baseline writes V000001 "
                                "from the live cluster into an empty migrations directory")
            state = live.read_live(cluster, need_ksql=bool(config.ksqldb_url), include=rx)
            if rx is not None:
                state.topics = {k: v for k, v in state.topics.items() if rx.search(k)}
                state.subjects = {k: v for k, v in state.subjects.items() if rx.search(k)}
                state.sources = {k: v for k, v in state.sources.items() if rx.search(k)}
            derived_topics = {s.topic for s in state.sources.values() if s.derived}
            for name, t in state.topics.items():
                t.owner = "ksqldb" if name in derived_topics else "kctx"  # a CSAS re-creates its own topic
            d = autogen.diff(State(), state, allow_destructive=True, order=state_order(state))
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
            return BaselineResult(path=path, operations=len(d.up), topics=len(state.topics),
                                  subjects=len(state.subjects), sources=len(state.sources))
        finally:
            history.release()
    finally:
        history.close()


def _include(pattern: str | None):
    """``--include`` compiled (case-insensitive, searched), or None. Raises ``KctxError``
    for an invalid regular expression."""
    import re

    if not pattern:
        return None
    try:
        return re.compile(pattern, re.I)
    except re.error as exc:
        raise KctxError(f"--include: invalid regular expression: {exc}") from None


def ksql_migrations_versions(config: Config, cluster) -> dict | None:
    """ksql-migrations' history, read from its MIGRATION_EVENTS stream's topic (JSON records,
    ksqldb-docs/operate-and-deploy/migrations-tool.md), or None when the cluster has none:
    ``{version: {"state", "checksum", "started"}}`` with each version's latest event."""
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
        for p in range(md.partitions):
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

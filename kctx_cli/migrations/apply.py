"""The apply engine of ``kctx migrate``.

For each pending version: record RUNNING, then for each step (skipping the steps this
attempt already recorded DONE) check the lock, ask the operation whether its effect is
already in the cluster (``applied``) and execute it only if not, then record the step
DONE; finally record MIGRATED. A version found RUNNING or ERROR with the same checksum
resumes its attempt: steps recorded DONE are skipped, the one in flight when the process
died is resolved by looking at the cluster. Going down (``--to`` a lower version) runs
the down parts, newest first, the same way (states REVERTING, REVERTED).

Test hook (documented in docs/migrations.md): ``KCTX_TEST_KILL_AT=<point>`` sends SIGKILL
to this process at a named point — ``locked``, ``running:V``, ``before:V:I``,
``executed:V:I`` (the step ran, DONE not recorded), ``done:V:I``, ``migrated:V`` — so the
crash tests can stop it exactly there.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field

from kctx_cli.errors import KctxError
from kctx_cli.migrations.files import Migration
from kctx_cli.migrations.history import History, VersionState, now_iso


def kill_point(name: str) -> None:
    """The crash-test hook (see the module): SIGKILL this process when ``KCTX_TEST_KILL_AT``
    names this point (``locked``, ``running:V``, ``before:V:I``, ...); else nothing."""
    if os.environ.get("KCTX_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Plan:
    """What ``migrate`` will do: ``direction`` ``up``/``down``, the ``versions`` to apply or
    revert in that order, the ``current`` and ``target`` version numbers."""

    direction: str  # up / down
    versions: list[Migration] = field(default_factory=list)
    current: int = 0
    target: int = 0

    def steps(self, m: Migration) -> list:
        """The steps of ``m`` this plan runs: its up part, or its down part when reverting."""
        return m.up if self.direction == "up" else m.down or []


def verify(migrations: list[Migration], versions: dict[int, VersionState]) -> list[str]:
    """Problems between the files and the history: edited or missing applied files."""
    by_v = {m.version: m for m in migrations}
    problems = []
    for v, vs in sorted(versions.items()):
        if vs.state not in ("MIGRATED", "RUNNING", "REVERTING"):
            continue
        m = by_v.get(v)
        if m is None:
            problems.append(f"V{v:06d} is {vs.state.lower()} in the cluster but its file is missing from the "
                            "migrations directory")
        elif vs.checksum and m.checksum != vs.checksum and vs.state == "MIGRATED":
            problems.append(f"{m.filename} was edited after it was applied (checksum recorded {vs.checksum}, "
                            f"file {m.checksum}); restore it, or write a new migration for the change")
    return problems


def current_version(versions: dict[int, VersionState]) -> int:
    """The applied version: the highest one MIGRATED (or being reverted), 0 when none is."""
    applied = [v for v, s in versions.items() if s.state in ("MIGRATED", "REVERTING")]
    return max(applied, default=0)


def make_plan(migrations: list[Migration], versions: dict[int, VersionState], to: str | None) -> Plan:
    """The Plan taking the cluster from its ``versions`` (History.versions) to ``to`` (a
    version as ``parse_version`` reads it; None = the latest file): up = every file up to the
    target not MIGRATED yet, in order; down = the applied versions above the target, newest
    first. KctxError for a target beyond the latest file or below 0, an unapplied file older
    than the applied version, or an irreversible version on the way down."""
    current = current_version(versions)
    latest = migrations[-1].version if migrations else 0
    target = latest if to is None else parse_version(to)
    if target > latest:
        raise KctxError(f"--to V{target:06d}: no such migration (latest is V{latest:06d})")
    if target < 0:
        raise KctxError("--to must be a version number such as 3 or V000003")
    by_v = {m.version: m for m in migrations}
    if target >= current:
        pending = [m for m in migrations if m.version <= target and
                   versions.get(m.version, VersionState(m.version, "PENDING", None, None, "up")).state
                   not in ("MIGRATED",)]
        late = [m for m in pending if m.version < current]
        if late:
            raise KctxError(f"{late[0].filename} is not applied but a later version (V{current:06d}) is: "
                            "kctx applies versions in order; renumber the file after the last applied version")
        return Plan("up", pending, current, target)
    down = [by_v[v] for v in sorted(versions, reverse=True)
            if target < v <= current and versions[v].state in ("MIGRATED", "REVERTING", "ERROR")]
    for m in down:
        if not m.reversible and versions[m.version].state != "ERROR":
            raise KctxError(f"cannot migrate down to V{target:06d}: {m.filename} is irreversible "
                            f"({m.irreversible_reason})")
    return Plan("down", down, current, target)


def parse_version(text: str) -> int:
    """A ``--to`` value (``3``, ``V000003``, ``v3``) as an int. KctxError otherwise."""
    t = text.strip().upper().lstrip("V")
    if not t.isdigit():
        raise KctxError(f"--to {text}: expected a version number such as 3 or V000003")
    return int(t)


class Applier:
    """Applies a Plan's migrations (see the module) on ``cluster`` (migrations.cluster.Cluster),
    recording them in ``history`` (which must hold the lock); ``echo`` prints progress lines;
    ``timings`` collects the seconds each executed step took. Destructive steps are not
    its business: migrations.api.refuse_destructive refuses them before a plan runs."""

    def __init__(self, cluster, history: History, *, echo=print):
        self.cluster = cluster
        self.history = history
        self.echo = echo
        self.timings: list[float] = []  # seconds per executed step (client + server)

    def run(self, plan: Plan) -> int:
        """Apply (or revert) every version of ``plan`` in its order, resuming an attempt left
        RUNNING / ERROR with the same checksum; returns the number of versions done. KctxError
        ``file:line: what: why`` for the first step that fails, after recording the version
        ERROR; KeyboardInterrupt is recorded as ERROR and re-raised."""
        versions = self.history.versions()
        applied = 0
        for m in plan.versions:
            self._one(m, plan.direction, versions.get(m.version))
            applied += 1
        return applied

    def _failed(self, vs: VersionState, error: str) -> None:
        """Record the version ERROR with ``error`` (SPEC §7: nothing half-applied without being
        recorded as such). Best effort: when the history cannot be written either, the
        original failure is the one to report (the version then stays RUNNING and the next
        migrate resumes it)."""
        vs.state, vs.error, vs.finished = "ERROR", error, now_iso()
        try:
            self.history.record_version(vs)
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def _one(self, m: Migration, direction: str, prev: VersionState | None) -> None:
        steps = m.up if direction == "up" else (m.down or [])
        running = "RUNNING" if direction == "up" else "REVERTING"
        resume = (prev is not None and prev.direction == direction and prev.checksum == m.checksum
                  and prev.state in (running, "ERROR"))
        vs = VersionState(m.version, running, m.checksum, prev.attempt if resume else uuid.uuid4().hex, direction,
                          started=now_iso(), who=self.history.who, description=m.description)
        vs.done_steps = set(prev.done_steps) if resume else set()
        if resume and prev.state == running:
            self.echo(f"resuming {m.filename} ({direction}): it was left {prev.state} by {prev.who}; "
                      f"{len(vs.done_steps)} of {len(steps)} steps recorded done, the rest is checked against the cluster")
        else:
            self.echo(f"{'applying' if direction == 'up' else 'reverting'} {m.filename}")
        self.history.record_version(vs)
        kill_point(f"running:{m.version}")
        for i, step in enumerate(steps):
            if i in vs.done_steps:
                continue
            op = step.op
            t0 = time.perf_counter()
            try:
                self.history.check_lock()
                kill_point(f"before:{m.version}:{i}")
                if op.applied(self.cluster):
                    mark = "already there"
                else:
                    mark = op.execute(self.cluster) or "done"  # an op may find its effect there ("already there")
            except KctxError as exc:
                self._failed(vs, str(exc))
                from kctx_cli.ops import Ksql

                what = "" if isinstance(op, Ksql) else f"{op.describe()}: "  # a ksqlDB error quotes the statement
                raise KctxError(f"{m.filename}:{step.line}: {what}{exc}") from None
            except Exception as exc:  # a client library's error or a bug: recorded all the same
                self._failed(vs, f"unexpected error: {type(exc).__name__}: {exc}")
                raise KctxError(f"{m.filename}:{step.line}: {op.describe()}: unexpected error: "
                                f"{type(exc).__name__}: {exc}") from exc
            except KeyboardInterrupt:
                self._failed(vs, "interrupted")
                raise
            elapsed = time.perf_counter() - t0
            self.timings.append(elapsed)
            kill_point(f"executed:{m.version}:{i}")
            try:
                self.history.record_step(vs, i)
            except BaseException as exc:
                self._failed(vs, f"cannot record step {i + 1} done: {type(exc).__name__}: {exc}")
                raise
            kill_point(f"done:{m.version}:{i}")
            self.echo(f"  [{i + 1}/{len(steps)}] {op.describe()} ... {mark} ({elapsed * 1000:.0f} ms)")
        vs.state = "MIGRATED" if direction == "up" else "REVERTED"
        vs.finished = now_iso()
        vs.error = None
        self.history.record_version(vs)
        kill_point(f"migrated:{m.version}")

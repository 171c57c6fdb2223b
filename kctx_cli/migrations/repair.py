"""Drift: the live cluster against the state the applied migrations describe, and the
repair that brings it back (SPEC §4: "Drift ... can be repaired by kctx back to the state
the applied migrations describe, with a history entry"; Terraform's ``apply`` after a
``plan`` that found changes made by hand).

* ``applied_state``: the offline state of the versions the history records as applied
  (``state.replay`` up to the current version);
* ``drift``: the operations taking the live cluster to that state, from the same
  comparators as ``makemigrations`` except for schemas, where every registered version
  counts (``autogen.COMPARATORS_DRIFT``);
* ``Repairer``: applies them like a migration's steps (each asked ``applied`` first), with
  a ``repair`` record in the history: RUNNING, then REPAIRED or ERROR with its message.

What Kafka cannot undo (partitions added by hand) is refused with the way to adopt it
instead: declare the count in the model, ``makemigrations``, ``migrate`` (the step finds the
partitions there).
"""
from __future__ import annotations

import copy
import time
import uuid

from kctx_cli.errors import KctxError
from kctx_cli.migrations.state import State


def applied_state(migrations, versions) -> State:
    """The state the applied migrations describe.

    ``migrations``: ``files.Migration`` list (version order); ``versions``: ``History.versions()``.
    Raises ``KctxError`` when a version is left ERROR, RUNNING or REVERTING (``kctx migrate``
    finishes or reverts it first) or when the files do not replay."""
    from kctx_cli.migrations.apply import current_version
    from kctx_cli.migrations.state import replay

    unfinished = sorted((v, s.state) for v, s in versions.items() if s.state in ("ERROR", "RUNNING", "REVERTING"))
    if unfinished:
        v, st = unfinished[0]
        raise KctxError(f"V{v:06d} is {st} in the cluster: run kctx migrate to finish it (or --to a lower version "
                        "to revert it) first; the state the applied migrations describe is not known until then")
    return replay(migrations, upto=current_version(versions))


def read(cluster, target: State, desired: State | None = None) -> State:
    """The live cluster's objects that ``target`` (and ``desired``, for ``plan``) names,
    aligned with ``target`` (see ``live.align``)."""
    from kctx_cli.migrations import live

    topics = set(target.topics) | set(desired.topics if desired else ())
    subjects = set(target.subjects) | set(desired.subjects if desired else ())
    sources = set(target.sources) | set(desired.sources if desired else ())
    current = live.read_live(cluster, topics=topics, subjects=subjects, sources=sources, need_ksql=bool(sources))
    return current


def drift(current: State, target: State, *, order: list[str] | None = None):
    """``autogen.Diff`` from the live ``current`` to ``target`` (the applied migrations'
    state), destructive operations included (the caller gates them). Only objects
    ``target`` has are compared: what the migrations never made is not kctx's to remove.
    A topic with more partitions than ``target`` is an ``errors`` entry (Kafka cannot remove
    partitions)."""
    from kctx_cli.migrations import autogen, live

    cur = State(topics={k: copy.deepcopy(v) for k, v in current.topics.items() if k in target.topics},
                subjects={k: copy.deepcopy(v) for k, v in current.subjects.items() if k in target.subjects},
                sources={k: copy.deepcopy(v) for k, v in current.sources.items() if k in target.sources})
    live.align(cur, target)
    errors = []
    for name, t in cur.topics.items():
        want = target.topics[name].partitions
        if want is not None and t.partitions is not None and t.partitions > want:
            errors.append(f"topic {name} has {t.partitions} partitions, the applied migrations {want}: Kafka cannot "
                          f"remove partitions; to keep them, set partitions = {t.partitions} in the model, then "
                          "kctx makemigrations and kctx migrate (its add-partitions step finds them there)")
            t.partitions = want
    d = autogen.diff(cur, target, allow_destructive=True, order=order or state_order(target),
                     comparators=autogen.COMPARATORS_DRIFT)
    d.errors[:0] = errors
    d.changes = [c for c in d.changes if c.op.name != "derived-schema"]  # ksqlDB registers those itself
    return d


def state_order(state: State) -> list[str]:
    """The names of the state's sources, each after what its query reads
    (``derive.order.source_order``): the order re-created sources are declared in."""
    from kctx_cli.derive.order import source_order

    return source_order({n: s.statement for n, s in state.sources.items()})


class Repairer:
    """Applies drift operations with a ``repair`` record in the history (``History``)."""

    def __init__(self, cluster, history, *, echo=print):
        self.cluster = cluster
        self.history = history
        self.echo = echo

    def run(self, ops: list, at_version: int) -> float:
        """Apply ``ops`` in order (each skipped when ``applied``); returns the seconds spent.
        Raises ``KctxError`` naming the failing operation; the record is then ERROR with the
        message (an unexpected exception too)."""
        from kctx_cli.migrations.history import now_iso

        rec = {"attempt": uuid.uuid4().hex, "version": at_version, "state": "RUNNING", "started": now_iso(),
               "who": self.history.who, "operations": [op.describe() for op in ops], "error": None,
               "finished": None}
        self.history.record_repair(rec)
        t0 = time.perf_counter()
        for i, op in enumerate(ops):
            s0 = time.perf_counter()
            try:
                self.history.check_lock()
                mark = "already there" if op.applied(self.cluster) else (op.execute(self.cluster) or "done")
            except BaseException as exc:  # noqa: BLE001 - recorded, then raised again
                msg = str(exc) if isinstance(exc, KctxError) else f"unexpected error: {type(exc).__name__}: {exc}"
                rec.update(state="ERROR", error=f"{op.describe()}: {msg}", finished=now_iso())
                try:
                    self.history.record_repair(rec)
                except Exception:  # noqa: BLE001 - the original failure is the one to report
                    pass
                if isinstance(exc, Exception):
                    raise KctxError(f"repair step {i + 1} ({op.describe()}): {msg}") from None
                raise
            self.echo(f"  [{i + 1}/{len(ops)}] {op.describe()} ... {mark} ({(time.perf_counter() - s0) * 1000:.0f} ms)")
        rec.update(state="REPAIRED", finished=now_iso())
        self.history.record_repair(rec)
        return time.perf_counter() - t0

"""The lock rule and version bookkeeping of the history topic, without Kafka: records are
fed to History as the consumer would (offset order, broker timestamps)."""
from __future__ import annotations

from kctx_cli.migrations.apply import make_plan, verify
from kctx_cli.migrations.history import History


class _Cfg:
    default_replicas = 1


def feed(h: History, records: list[tuple[int, dict]]) -> None:
    for ts, rec in records:
        h.records.append((len(h.records), ts, rec))
        h._apply_lock_rule(ts, rec)


def lock(owner, lease=1000):
    return {"type": "lock", "owner": owner, "who": owner, "lease_ms": lease}


def test_first_request_wins_until_its_lease_expires():
    h = History(_Cfg(), topic="t")
    feed(h, [(0, lock("a")), (10, lock("b"))])
    assert h.holder.owner == "a"
    feed(h, [(900, lock("b"))])  # still within a's lease
    assert h.holder.owner == "a"
    feed(h, [(1001, lock("b"))])  # a's lease (last record at 0 + 1000) has expired
    assert h.holder.owner == "b"


def test_any_record_of_the_holder_renews_and_unlock_frees():
    h = History(_Cfg(), topic="t")
    feed(h, [(0, lock("a")), (800, {"type": "step", "owner": "a", "version": 1, "index": 0, "attempt": "x",
                                     "state": "DONE"}), (1500, lock("b"))])
    assert h.holder.owner == "a"  # renewed at 800, so still held at 1500
    feed(h, [(1600, {"type": "unlock", "owner": "b"})])  # not b's to free
    assert h.holder.owner == "a"
    feed(h, [(1700, {"type": "unlock", "owner": "a"}), (1701, lock("b"))])
    assert h.holder.owner == "b"


def test_versions_and_done_steps_follow_the_attempt():
    h = History(_Cfg(), topic="t")
    v = {"type": "version", "version": 1, "checksum": "c", "direction": "up", "owner": "a"}
    feed(h, [(0, {**v, "state": "RUNNING", "attempt": "x"}),
             (1, {"type": "step", "version": 1, "attempt": "x", "index": 0, "state": "DONE", "owner": "a"}),
             (2, {"type": "step", "version": 1, "attempt": "x", "index": 1, "state": "DONE", "owner": "a"})])
    vs = h.versions()[1]
    assert (vs.state, vs.done_steps) == ("RUNNING", {0, 1})
    feed(h, [(3, {**v, "state": "RUNNING", "attempt": "x"}),  # resumed: same attempt keeps its steps
             (4, {"type": "step", "version": 1, "attempt": "x", "index": 2, "state": "DONE", "owner": "b"})])
    assert h.versions()[1].done_steps == {0, 1, 2}
    feed(h, [(5, {**v, "state": "REVERTING", "attempt": "y", "direction": "down"})])  # a new attempt starts empty
    assert h.versions()[1].done_steps == set()


def test_verify_and_plan(tmp_path):
    from kctx_cli.migrations import files

    for n in (1, 2, 3):
        (tmp_path / f"V00000{n}__m{n}.sql").write_text(f"-- kctx:up\n-- kctx:down\n-- -- version {n}\n")
    migs = files.load_all(tmp_path)
    h = History(_Cfg(), topic="t")
    feed(h, [(0, {"type": "version", "version": 1, "state": "MIGRATED", "checksum": migs[0].checksum,
                  "attempt": "a", "direction": "up"}),
             (1, {"type": "version", "version": 2, "state": "MIGRATED", "checksum": "0" * 32, "attempt": "b",
                  "direction": "up"})])
    versions = h.versions()
    assert verify(migs, versions) == [
        f"V000002__m2.sql was edited after it was applied (checksum recorded {'0' * 32}, file {migs[1].checksum}); "
        "restore it, or write a new migration for the change"]
    up = make_plan(migs, versions, None)
    assert (up.direction, [m.version for m in up.versions], up.current, up.target) == ("up", [3], 2, 3)
    down = make_plan(migs, versions, "V000000")
    assert (down.direction, [m.version for m in down.versions]) == ("down", [2, 1])

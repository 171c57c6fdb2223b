"""SIGKILL a service between its DB write and the offset commit (the seed's lesson, issue 14):
the record is delivered again, so a non-idempotent DB write happens twice; the exactly-once
``process`` killed mid-transaction leaves each result once in the output topic
(read_committed). Run with -s to print the tables docs/services.md shows."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from tests.helpers import REPO
from tests.test_runtime_stack import classes, context, project  # noqa: F401 - the fixture

SERVICE = textwrap.dedent('''
    import os, signal, sqlite3, sys
    sys.path[:0] = [{root!r}, {repo!r}]
    from kctx_cli import KafkaContext

    mode, db, crash_at = sys.argv[1], sys.argv[2], sys.argv[3]
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE IF NOT EXISTS billed (page TEXT, offset INTEGER)")
    with KafkaContext(project={root!r}, consumer_config={{"auto.commit.interval.ms": 1000, "session.timeout.ms": 6000,
                                                        "heartbeat.interval.ms": 1000}}) as ctx:
        Visit = ctx.project.get("Visit").cls
        Customer = ctx.project.get("Customer").cls
        if mode == "process":
            def handler(msg):
                if msg.value.page == crash_at and not os.path.exists(db + ".crashed"):
                    open(db + ".crashed", "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)  # mid-transaction: outputs of this batch not committed
                return Customer(customer_id=msg.value.page, name="billed")
            ctx.process(Visit, handler, group="{p}-" + mode, idle_timeout=3, batch=2)
        else:
            for msg in ctx.subscribe(Visit, group="{p}-" + mode, commit=mode, idle_timeout=3):
                con.execute("INSERT INTO billed VALUES (?, ?)", (msg.value.page, msg.offset))
                con.commit()                                   # the DB commit ...
                if msg.value.page == crash_at and not os.path.exists(db + ".crashed"):
                    open(db + ".crashed", "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)       # ... then the crash, before the offset commit
                if mode == "manual":
                    msg.commit()
''')


def committed(ctx, group: str, topic: str) -> dict:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": ctx.config.bootstrap_servers, "group.id": group})
    md = c.list_topics(topic, timeout=10).topics[topic]
    got = c.committed([TopicPartition(topic, p) for p in md.partitions], timeout=10)
    c.close()
    return {tp.partition: tp.offset for tp in got if tp.offset >= 0}


def rows(db) -> list:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT page, offset FROM billed ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def run_service(root, p, mode, db, crash_at):
    script = root / f"service_{mode}.py"
    script.write_text(SERVICE.format(root=str(root), repo=str(REPO), p=p))
    env = dict(os.environ)
    return subprocess.run([sys.executable, str(script), mode, str(db), crash_at], env=env, capture_output=True,
                          text=True, timeout=300)


def test_sigkill_between_db_commit_and_offset_commit(project, tmp_path):
    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        for i in range(5):
            ctx.add(C["Visit"](customer_id="one-key", page=f"m{i}"))  # one key: one partition, in order
        ctx.flush()
        for mode in ("auto", "manual"):
            db = tmp_path / f"{mode}.db"
            r = run_service(root, p, mode, db, "m2")
            assert r.returncode == -signal.SIGKILL, r.stderr
            before = rows(db), committed(ctx, f"{p}-{mode}", f"{p}_visits")
            r = run_service(root, p, mode, db, "m2")
            assert r.returncode == 0, r.stderr
            after = rows(db), committed(ctx, f"{p}-{mode}", f"{p}_visits")
            print(f"\n{mode}: before restart rows={before[0]} committed={before[1]}; "
                  f"after rows={after[0]} committed={after[1]}")
            pages = [x[0] for x in after[0]]
            # every message billed, m2 (processed, not committed) billed twice
            assert sorted(set(pages)) == [f"m{i}" for i in range(5)]
            assert pages.count("m2") == 2
            if mode == "manual":
                assert len(pages) == 6  # only m2 is redelivered: m0, m1 were committed one by one
                assert list(before[1].values()) == [2]
            assert list(after[1].values()) == [5]


def test_sigkill_process_leaves_each_result_once(project, tmp_path):
    root, p, _ = project
    with context(root) as ctx:
        C = classes(ctx)
        for i in range(6):
            ctx.add(C["Visit"](customer_id="one-key", page=f"m{i}"))
        ctx.flush()
        db = tmp_path / "process.db"
        for crash_at in ("m0", "m1", "m3", "m4", "m5"):  # a crash in 5 different transactions
            (tmp_path / "process.db.crashed").unlink(missing_ok=True)
            r = run_service(root, p, "process", db, crash_at)
            assert r.returncode in (0, -signal.SIGKILL), r.stderr
        r = run_service(root, p, "process", db, "never")
        assert r.returncode == 0, r.stderr
        out = [m.value.customer_id for m in ctx.subscribe(C["Customer"], group=f"{p}-check", idle_timeout=5)]
        print(f"\nprocess: output topic (read_committed) = {out}; committed = "
              f"{committed(ctx, f'{p}-process', f'{p}_visits')}")
    assert sorted(out) == [f"m{i}" for i in range(6)]

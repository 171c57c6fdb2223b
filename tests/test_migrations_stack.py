"""`kctx migrate` on the real stack (Kafka, Confluent Schema Registry, ksqlDB): history,
resume after SIGKILL at many points, two concurrent processes, lock expiry, bad input.

Each test has its own names (``unique_name``) and its own history topic
(``KCTX_MIGRATIONS_TOPIC``). The migrations here are hand-written with JSON values, so they
exercise the engine independently of Avro; tests/test_migrations_e2e.py runs the example
project (Avro, derived entities) end to end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO, run_kctx


def project(tmp_path: Path, prefix: str) -> tuple[Path, dict]:
    root = tmp_path / "p"
    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("")
    (root / "migrations").mkdir()
    (root / "kctx.toml").write_text('[project]\nmodels = "models"\nmigrations = "migrations"\n')
    return root, {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{prefix}"}


def v1(p: str) -> str:
    P = p.upper()
    return f"""-- kctx:up
-- kctx:create-topic {{"configs":{{"retention.ms":"86400000"}},"name":"{p}_a","partitions":2,"replicas":1}}
-- kctx:set-compatibility {{"level":"FULL","subject":"{p}_a-value","was":null}}
-- kctx:register-schema {{"first":true,"schema":{{"type":"record","name":"A","fields":[{{"name":"id","type":"string"}}]}},"subject":"{p}_a-value"}}
CREATE STREAM {P}_A (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='{p}_a', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');
CREATE STREAM {P}_B WITH (KAFKA_TOPIC='{p}_b', PARTITIONS=2, VALUE_FORMAT='JSON') AS SELECT ID, V FROM {P}_A WHERE V = 'x';
-- kctx:set-topic-config {{"name":"{p}_a","set":{{"retention.ms":"172800000"}},"was":{{"retention.ms":"86400000"}}}}

-- kctx:down
-- kctx:set-topic-config {{"name":"{p}_a","set":{{"retention.ms":"86400000"}}}}
-- DROP STREAM {P}_B DELETE TOPIC;
-- DROP STREAM {P}_A;
-- kctx:delete-subject {{"subject":"{p}_a-value"}}
-- kctx:set-compatibility {{"level":null,"subject":"{p}_a-value"}}
-- kctx:delete-topic {{"name":"{p}_a"}}
"""


def v2(p: str) -> str:
    P = p.upper()
    return f"""-- kctx:up
-- kctx:create-topic {{"configs":{{}},"name":"{p}_c","partitions":1,"replicas":1}}
-- kctx:add-partitions {{"name":"{p}_a","partitions":4,"was":2}}
CREATE STREAM {P}_C (ID STRING KEY, N INT) WITH (KAFKA_TOPIC='{p}_c', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');
ALTER STREAM {P}_C ADD COLUMN M STRING;
CREATE TABLE {P}_D WITH (KAFKA_TOPIC='{p}_d', PARTITIONS=1, VALUE_FORMAT='JSON') AS SELECT ID, COUNT(*) AS CNT FROM {P}_C GROUP BY ID;
-- kctx:register-schema {{"schema":{{"type":"record","name":"A","fields":[{{"name":"id","type":"string"}},{{"name":"x","type":["null","long"],"default":null}}]}},"subject":"{p}_a-value"}}

-- kctx:down
-- kctx:irreversible {{"reason":"partitions cannot be removed"}}
"""


def history(topic: str, bootstrap: str) -> list[dict]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "t", "enable.auto.commit": False})
    try:
        _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        out = []
        while len(out) < high:
            m = c.poll(5)
            assert m is not None, "history topic not fully readable"
            out.append(json.loads(m.value()))
        return out
    finally:
        c.close()


def admin(bootstrap):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def partitions(bootstrap: str, topic: str) -> int:
    md = admin(bootstrap).list_topics(topic, timeout=10).topics[topic]
    return len(md.partitions) if md.error is None else 0


def ksql(url: str, stmt: str) -> list:
    import requests

    return requests.post(url + "/ksql", json={"ksql": stmt}).json()


def source_names(url: str) -> set[str]:
    out = set()
    for what in ("STREAMS", "TABLES"):
        for e in ksql(url, f"SHOW {what};"):
            out |= {s["name"] for s in e.get(what.lower(), [])}
    return out


def test_migrate_status_down_and_up_again(stack, tmp_path, unique_name):
    p = unique_name
    root, env = project(tmp_path, p)
    (root / "migrations" / "V000001__first.sql").write_text(v1(p))
    r = run_kctx("migrate", "--dry-run", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:3] == [
        "-- dry run: nothing is sent to the cluster; up from V000000 to V000001",
        "-- V000001__first.sql (up)",
        f'-- kctx:create-topic {{"configs":{{"retention.ms":"86400000"}},"name":"{p}_a","partitions":2,"replicas":1}}']
    assert partitions(stack.bootstrap_servers, f"{p}_a") == 0
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert "applying V000001__first.sql" in r.stdout
    assert "applied 1 migration (6 steps)" in r.stdout
    assert {f"{p.upper()}_A", f"{p.upper()}_B"} <= source_names(stack.ksqldb_url)
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0
    assert r.stdout.strip() == "Nothing to do: the cluster is at V000001 (latest)."
    r = run_kctx("status", "--output", "json", cwd=root, env=env)
    assert r.returncode == 0
    st = json.loads(r.stdout)
    assert st["current"] == 1 and st["versions"][0]["state"] == "MIGRATED" and st["versions"][0]["file_check"] == "ok"
    # down needs --allow-destructive (it drops), then really reverts
    r = run_kctx("migrate", "--to", "0", cwd=root, env=env)
    assert r.returncode == 1
    assert f"error: V000001__first.sql:11: DROP STREAM {p.upper()}_B DELETE TOPIC;: destructive (4 destructive steps); " \
           "re-run with --allow-destructive" in r.stderr
    r = run_kctx("migrate", "--to", "0", "--allow-destructive", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert partitions(stack.bootstrap_servers, f"{p}_a") == 0
    assert not {f"{p.upper()}_A", f"{p.upper()}_B"} & source_names(stack.ksqldb_url)
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert partitions(stack.bootstrap_servers, f"{p}_a") == 2
    # an irreversible version stops a --to below it before anything runs
    (root / "migrations" / "V000002__second.sql").write_text(v2(p))
    assert run_kctx("migrate", cwd=root, env=env).returncode == 0
    assert partitions(stack.bootstrap_servers, f"{p}_a") == 4
    r = run_kctx("migrate", "--to", "1", "--allow-destructive", cwd=root, env=env)
    assert r.returncode == 1
    assert "error: cannot migrate down to V000001: V000002__second.sql is irreversible (partitions cannot be removed)" in r.stderr


KILL_POINTS = ["locked", "running:1", "before:1:3", "executed:1:0", "executed:1:3", "executed:1:4", "done:1:2",
               "executed:1:5", "migrated:1"]


def test_sigkill_at_many_points_then_rerun_converges(stack, tmp_path, unique_name):
    for n, point in enumerate(KILL_POINTS):
        p = f"{unique_name}_{n}"
        root, env = project(tmp_path / str(n), p)
        env["KCTX_MIGRATE_LOCK_LEASE_MS"] = "1500"  # the killed holder's lock expires quickly
        (root / "migrations" / "V000001__first.sql").write_text(v1(p))
        r = run_kctx("migrate", cwd=root, env={**env, "KCTX_TEST_KILL_AT": point})
        assert r.returncode == -9, (point, r.returncode, r.stderr)
        r = run_kctx("migrate", cwd=root, env=env)
        assert r.returncode == 0, (point, r.stderr)
        if point not in ("locked", "migrated:1"):
            assert "resuming V000001__first.sql (up): it was left RUNNING by" in r.stdout, (point, r.stdout)
        recs = history(env["KCTX_MIGRATIONS_TOPIC"], stack.bootstrap_servers)
        versions = [x for x in recs if x["type"] == "version"]
        assert versions[-1]["state"] == "MIGRATED", point
        # one attempt: the re-run continued the killed one
        assert len({x["attempt"] for x in versions}) == 1, point
        done = [x["index"] for x in recs if x["type"] == "step"]
        assert sorted(done) == sorted(set(done)) == list(range(6)), (point, done)  # each step recorded once
        assert partitions(stack.bootstrap_servers, f"{p}_a") == 2
        assert {f"{p.upper()}_A", f"{p.upper()}_B"} <= source_names(stack.ksqldb_url)
        configs = admin(stack.bootstrap_servers)
        from confluent_kafka.admin import ConfigResource

        res = ConfigResource(ConfigResource.Type.TOPIC, f"{p}_a")
        entries = configs.describe_configs([res])[res].result()
        assert entries["retention.ms"].value == "172800000"
        r = run_kctx("migrate", cwd=root, env=env)
        assert r.stdout.strip() == "Nothing to do: the cluster is at V000001 (latest)."


def test_two_concurrent_processes_ten_rounds(stack, tmp_path, unique_name):
    p = unique_name
    root, env = project(tmp_path, p)
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    for rnd in range(1, 11):
        P = f"{p}_{rnd}".upper()
        (root / "migrations" / f"V{rnd:06d}__round_{rnd}.sql").write_text(
            f'-- kctx:up\n-- kctx:create-topic {{"configs":{{}},"name":"{p}_{rnd}","partitions":1,"replicas":1}}\n'
            f"CREATE STREAM {P} (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='{p}_{rnd}', KEY_FORMAT='KAFKA', "
            f"VALUE_FORMAT='JSON');\n"
            f"CREATE STREAM {P}_X WITH (KAFKA_TOPIC='{p}_{rnd}_x', PARTITIONS=1, VALUE_FORMAT='JSON') AS SELECT * FROM {P};\n")
        procs = [subprocess.Popen([sys.executable, "-m", "kctx_cli", "migrate"], cwd=root, env=full_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [pr.communicate(timeout=120) for pr in procs]
        assert [pr.returncode for pr in procs] == [0, 0], outs
        applied = [o for o, _ in outs if "applied 1 migration" in o]
        idle = [o for o, _ in outs if "Nothing to do" in o]
        assert len(applied) == 1 and len(idle) == 1, outs
    recs = history(env["KCTX_MIGRATIONS_TOPIC"], stack.bootstrap_servers)
    for rnd in range(1, 11):
        states = [x["state"] for x in recs if x["type"] == "version" and x["version"] == rnd]
        assert states == ["RUNNING", "MIGRATED"], (rnd, states)
        steps = [x["index"] for x in recs if x["type"] == "step" and x["version"] == rnd]
        assert steps == [0, 1, 2], (rnd, steps)


def test_a_killed_holders_lock_expires_and_a_live_one_makes_others_wait(stack, tmp_path, unique_name):
    p = unique_name
    root, env = project(tmp_path, p)
    env["KCTX_MIGRATE_LOCK_LEASE_MS"] = "8000"
    (root / "migrations" / "V000001__first.sql").write_text(v1(p))
    r = run_kctx("migrate", cwd=root, env={**env, "KCTX_TEST_KILL_AT": "locked"})
    assert r.returncode == -9
    r = run_kctx("migrate", "--lock-timeout", "0.5", cwd=root, env=env)
    assert r.returncode == 1
    assert "error: another kctx migrate holds the migration lock (" in r.stderr
    assert "(a killed holder's lock expires after 8 s)" in r.stderr
    t0 = time.monotonic()
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert "waiting for the migration lock held by" in r.stdout
    assert time.monotonic() - t0 < 25


def test_edited_and_missing_applied_files_are_reported(stack, tmp_path, unique_name):
    p = unique_name
    root, env = project(tmp_path, p)
    f = root / "migrations" / "V000001__first.sql"
    f.write_text(v1(p))
    assert run_kctx("migrate", cwd=root, env=env).returncode == 0
    f.write_text(v1(p).replace("-- kctx:up\n", "-- kctx:up\n-- a harmless comment, still an edit\n"))
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1
    assert "error: V000001__first.sql was edited after it was applied (checksum recorded " in r.stderr
    assert "restore it, or write a new migration for the change" in r.stderr
    r = run_kctx("status", cwd=root, env=env)
    assert r.returncode == 1
    assert "EDITED" in r.stdout
    assert "error: V000001: the applied file was edited" in r.stderr
    f.unlink()
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1
    assert "error: V000001 is migrated in the cluster but its file is missing from the migrations directory" in r.stderr


def test_server_errors_have_clear_messages(stack, tmp_path, unique_name):
    p = unique_name
    P = p.upper()
    root, env = project(tmp_path, p)
    mig = root / "migrations"
    (mig / "V000001__first.sql").write_text(v1(p))
    # unreachable servers
    r = run_kctx("migrate", cwd=root, env={**env, "KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert r.returncode == 1
    assert r.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:1: "), r.stderr
    r = run_kctx("migrate", cwd=root, env={**env, "KCTX_SCHEMA_REGISTRY_URL": "http://127.0.0.1:1"})
    assert r.returncode == 1
    assert ("error: V000001__first.sql:3: compatibility of " + p + "_a-value: FULL: cannot reach the schema registry "
            "at http://127.0.0.1:1: connection refused") in r.stderr, r.stderr
    r = run_kctx("migrate", cwd=root, env={**env, "KCTX_KSQLDB_URL": "http://127.0.0.1:1"})
    assert r.returncode == 1
    assert "error: V000001__first.sql:5: cannot reach ksqlDB at http://127.0.0.1:1: connection refused" in r.stderr
    r = run_kctx("migrate", cwd=root, env=env)  # resumes the ERROR version
    assert r.returncode == 0, r.stderr
    # a statement validate rejects (it reads a source no migration creates): never sent
    (mig / "V000002__bad_statement.sql").write_text(
        f"-- kctx:up\nCREATE STREAM {P}_Z WITH (KAFKA_TOPIC='{p}_nope', VALUE_FORMAT='JSON') AS SELECT * FROM NOPE_{P};\n")
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"error: migrations/V000002__bad_statement.sql:2: NOPE_{P} does not exist; nothing "
                                "applied (kctx validate reports the same)"), r.stderr
    r = run_kctx("status", "--output", "json", cwd=root, env=env)
    st = {v["version"]: v for v in json.loads(r.stdout)["versions"]}
    assert st["V000002"]["state"] == "PENDING"
    # a statement only ksqlDB can reject (a source over a topic that is not in the cluster)
    (mig / "V000002__bad_statement.sql").write_text(
        f"-- kctx:up\nCREATE STREAM {P}_Z (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='{p}_nope', VALUE_FORMAT='JSON');\n")
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1
    assert f"error: V000002__bad_statement.sql:2: ksqlDB rejected `CREATE STREAM {P}_Z" in r.stderr
    # ksqlDB's own words (8.1.5)
    assert f"Topic '{p}_nope' does not exist. If you want to create a new topic" in r.stderr, r.stderr
    r = run_kctx("status", "--output", "json", cwd=root, env=env)
    st = {v["version"]: v for v in json.loads(r.stdout)["versions"]}
    assert st["V000002"]["state"] == "ERROR" and f"Topic '{p}_nope' does not exist" in st["V000002"]["error"]
    # a schema the registry refuses (the subject is FULL)
    (mig / "V000002__bad_statement.sql").write_text(
        f'-- kctx:up\n-- kctx:register-schema {{"schema":{{"type":"record","name":"A","fields":[{{"name":"id","type":"long"}}]}},"subject":"{p}_a-value"}}\n')
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1
    assert (f"error: V000002__bad_statement.sql:2: register a schema for {p}_a-value: schema registry refuses the "
            f"new schema of {p}_a-value: not compatible with the latest version (FULL): ") in r.stderr, r.stderr
    # --to a version that does not exist, a malformed one
    r = run_kctx("migrate", "--to", "9", cwd=root, env=env)
    assert r.returncode == 1 and "error: --to V000009: no such migration (latest is V000002)" in r.stderr
    r = run_kctx("migrate", "--to", "latest", cwd=root, env=env)
    assert r.returncode == 1 and "error: --to latest: expected a version number such as 3 or V000003" in r.stderr
    # a version below the applied ones that is not applied
    (mig / "V000002__bad_statement.sql").unlink()
    (mig / "V000003__third.sql").write_text("-- kctx:up\n")
    r = run_kctx("migrate", cwd=root, env=env)  # a gap between versions is fine, as in ksql-migrations
    assert r.returncode == 0, r.stderr
    (mig / "V000002__late.sql").write_text("-- kctx:up\n")
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1
    assert ("error: V000002__late.sql is not applied but a later version (V000003) is: kctx applies versions in "
            "order; renumber the file after the last applied version") in r.stderr


def test_baseline_writes_the_live_state_and_records_it(stack, tmp_path, unique_name):
    p = unique_name
    src, env_a = project(tmp_path / "a", p)
    (src / "migrations" / "V000001__first.sql").write_text(v1(p))
    assert run_kctx("migrate", cwd=src, env=env_a).returncode == 0
    root, env = project(tmp_path / "b", p + "_b")
    r = run_kctx("baseline", "--include", f"^{p}", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("wrote V000001__baseline.sql (5 operations: 2 topics, 1 subjects, 2 streams/tables) "
                                "and recorded it as applied")
    text = (root / "migrations" / "V000001__baseline.sql").read_text()
    assert f'-- kctx:create-topic {{"configs":{{"retention.ms":"172800000"}},"name":"{p}_a","partitions":2,"replicas":1}}' in text
    # the statements as ksqlDB stores them (it adds the properties it chose, e.g. CLEANUP_POLICY)
    assert f"CREATE STREAM {p.upper()}_A (ID STRING KEY, V STRING) WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='{p}_a', " \
           "KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');" in text
    # a sink topic's configs that its CREATE … AS SELECT sets (RETENTION_MS) are not operations of their own
    assert "set-topic-config" not in text
    assert f"CREATE STREAM {p.upper()}_B WITH (CLEANUP_POLICY='delete', KAFKA_TOPIC='{p}_b'" in text
    assert f'"subject":"{p}_a-value"}}' in text
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "Nothing to do: the cluster is at V000001 (latest)."
    r = run_kctx("baseline", cwd=root, env=env)
    assert r.returncode == 1
    assert f"error: the cluster already has a kctx migration history (topic _kctx_{p}_b); baseline only adopts a " \
           "cluster kctx does not manage yet" in r.stderr
    r = run_kctx("baseline", "--include", "(", cwd=project(tmp_path / "c", p + "_c")[0], env={"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}_c"})
    assert r.returncode == 1 and "error: --include: invalid regular expression: missing ), unterminated subpattern" in r.stderr


def test_baseline_adopts_a_ksql_migrations_history(stack, tmp_path, unique_name):
    import hashlib

    from confluent_kafka import Producer

    p = unique_name
    root, env = project(tmp_path, p)
    body = (f"CREATE STREAM {p.upper()}_USERS (ID STRING KEY, EMAIL STRING) WITH (KAFKA_TOPIC='{p}_users', "
            "PARTITIONS=1, VALUE_FORMAT='JSON');\n")
    (root / "migrations" / "V000001__Initial_setup.sql").write_text(body)
    checksum = hashlib.md5(body.encode()).hexdigest()
    ksql(stack.ksqldb_url, body)
    topic = f"{p}_migration_events"
    from confluent_kafka.admin import NewTopic

    a = admin(stack.bootstrap_servers)
    a.create_topics([NewTopic(topic, 1, 1)])[topic].result()
    prod = Producer({"bootstrap.servers": stack.bootstrap_servers})
    for key, version, state in (("1", "1", "RUNNING"), ("1", "1", "MIGRATED"), ("CURRENT", "1", "MIGRATED")):
        prod.produce(topic, key=key, value=json.dumps({
            "VERSION_KEY": key, "VERSION": version, "NAME": "Initial setup", "STATE": state, "CHECKSUM": checksum,
            "STARTED_ON": "1700000000000", "COMPLETED_ON": "1700000001000", "PREVIOUS": "<none>", "ERROR_REASON": "N/A"}))
    prod.flush(10)
    ksql(stack.ksqldb_url, "DROP STREAM IF EXISTS MIGRATION_EVENTS;")
    res = ksql(stack.ksqldb_url, "CREATE STREAM MIGRATION_EVENTS (VERSION_KEY STRING KEY, VERSION STRING, NAME STRING, "
               "STATE STRING, CHECKSUM STRING, STARTED_ON STRING, COMPLETED_ON STRING, PREVIOUS STRING, "
               f"ERROR_REASON STRING) WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON');")
    assert isinstance(res, list) and res[0].get("@type") == "currentStatus", res
    try:
        r = run_kctx("baseline", cwd=root, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "adopted 1 version(s) applied by ksql-migrations: V000001"
        r = run_kctx("status", "--output", "json", cwd=root, env=env)
        v = json.loads(r.stdout)["versions"][0]
        assert (v["state"], v["file_check"], v["checksum"]) == ("MIGRATED", "ok", checksum)
        (root / "migrations" / "V000002__more.sql").write_text(
            f"ALTER STREAM {p.upper()}_USERS ADD COLUMN NAME STRING;\n")
        r = run_kctx("migrate", cwd=root, env=env)
        assert r.returncode == 0, r.stderr
        assert "applied 1 migration (1 steps)" in r.stdout
        # an edited file is refused when adopting
        root2, env2 = project(tmp_path / "x", p + "_x")
        (root2 / "migrations" / "V000001__Initial_setup.sql").write_text(body + "-- edited\n")
        r = run_kctx("baseline", cwd=root2, env=env2)
        assert r.returncode == 1
        assert "V000001__Initial_setup.sql: its checksum (" in r.stderr and \
               f") differs from the one ksql-migrations recorded ({checksum})" in r.stderr
    finally:
        ksql(stack.ksqldb_url, "DROP STREAM IF EXISTS MIGRATION_EVENTS;")


def test_plan_without_models_and_with_ksqldb_down(stack, tmp_path, unique_name):
    p = unique_name
    root, env = project(tmp_path, p)
    (root / "migrations" / "V000001__first.sql").write_text(v1(p))
    assert run_kctx("migrate", cwd=root, env=env).returncode == 0
    # the project declares no entities: everything the migrations made is a difference
    r = run_kctx("plan", "--detailed-exitcode", "--output", "json", cwd=root, env=env)
    assert r.returncode == 2, r.stderr
    plan = json.loads(r.stdout)
    described = [c["description"] for c in plan["changes"]]
    assert f"delete topic {p}_a (its data is lost)" in described
    assert f"DROP STREAM {p.upper()}_A;" in described
    assert all(c["destructive"] for c in plan["changes"] if c["operation"] != "set-compatibility")
    r = run_kctx("plan", cwd=root, env=env)
    assert r.returncode == 0  # without --detailed-exitcode differences are not an error
    r = run_kctx("plan", cwd=root, env={**env, "KCTX_KSQLDB_URL": "http://127.0.0.1:1"})
    assert r.returncode == 1
    assert r.stderr.strip() == "error: cannot reach ksqlDB at http://127.0.0.1:1: connection refused"
    r = run_kctx("status", cwd=root, env={**env, "KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert r.returncode == 1 and r.stderr.startswith("error: cannot reach Kafka at 127.0.0.1:1: ")


def test_a_decimal_scale_change_is_stopped_offline_though_the_registry_accepts_it(stack, tmp_path, unique_name):
    # The Confluent Schema Registry (Avro's SchemaCompatibility) ignores a decimal's
    # precision and scale, so it accepts 10,2 -> 10,3; but bytes written with scale 2 read
    # with scale 3 are a tenth of their value. kctx refuses the change offline and registers
    # it only when forced.
    from tests.helpers import make_project

    p = unique_name
    model = f'''
        from decimal import Decimal
        from typing import Annotated
        from kctx_cli.model import Key, Precision, Stream

        class Price(Stream):
            sku: Annotated[str, Key]
            amount: Annotated[Decimal, Precision(10, 2)]

            class Meta:
                name = "{p.upper()}_PRICES"
                topic = "{p}_prices"
    '''
    root = make_project(tmp_path / "p", {"prices.py": model})
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    assert run_kctx("makemigrations", cwd=root, env=env).returncode == 0
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    (root / "models" / "prices.py").write_text((root / "models" / "prices.py").read_text()
                                               .replace("Precision(10, 2)", "Precision(10, 3)"))
    r = run_kctx("makemigrations", cwd=root, env=env)
    assert r.returncode == 1
    assert f"refused: {p}_prices-value: the new schema is not BACKWARD-compatible" in r.stderr, r.stderr
    assert "scale" in r.stderr
    assert run_kctx("makemigrations", "--allow-destructive", "-m", "scale", cwd=root, env=env).returncode == 0
    r = run_kctx("migrate", "--allow-destructive", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    import requests
    versions = requests.get(f"{stack.schema_registry_url}/subjects/{p}_prices-value/versions", timeout=10).json()
    assert versions == [1, 2]

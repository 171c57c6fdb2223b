"""Issue 10 items 4 and 5 on the real stack (Kafka 4.1.1, Confluent Schema Registry 8.1.5,
ksqlDB 8.1.5).

Item 4: for each kind of drift (a topic config changed by hand, partitions added, a subject's
compatibility changed, a schema registered by hand, a stream dropped by hand), ``kctx plan``
lists it under ``kctx repair``, ``repair --dry-run`` shows what it would send and changes
nothing, a destructive repair needs ``--allow-destructive``, the repair is recorded in the
history topic, and afterwards ``plan --detailed-exitcode`` exits 0. Partitions cannot be
removed: repair says so and names the way to adopt them, which is then followed.

Item 5: a hand-written file that validate rejects (an ``add-partitions`` below the current
count) is refused by ``migrate`` before anything is applied, and a failure inside apply —
even an unexpected exception — leaves the version ERROR with its message.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import make_project, run_kctx

MODEL = '''
    from typing import Annotated, Optional
    from kctx_cli.model import Key, Stream

    class Reading(Stream):
        sensor: Annotated[str, Key]
        value: float
        unit: Optional[str] = None

        class Meta:
            name = "{P}_READINGS"
            topic = "{p}_readings"
            partitions = 2
            configs = {{"retention.ms": 86400000}}
            compatibility = "FULL"
'''


class Project:
    def __init__(self, tmp_path: Path, p: str):
        self.p, self.P = p, p.upper()
        self.root = make_project(tmp_path / "p", {"readings.py": MODEL.format(p=p, P=p.upper())})
        self.env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
        self.topic = f"{p}_readings"
        self.stream = f"{p.upper()}_READINGS"

    def kctx(self, *args: str):
        return run_kctx(*args, cwd=self.root, env=self.env)

    def ok(self, *args: str):
        r = self.kctx(*args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def plan_json(self) -> dict:
        r = self.kctx("plan", "--detailed-exitcode", "--output", "json")
        assert r.returncode in (0, 2), r.stderr
        return json.loads(r.stdout)

    def history(self) -> list[dict]:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": _bootstrap(), "group.id": "t", "enable.auto.commit": False})
        try:
            topic = self.env["KCTX_MIGRATIONS_TOPIC"]
            _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
            c.assign([TopicPartition(topic, 0, 0)])
            out = []
            while len(out) < high:
                m = c.poll(5)
                assert m is not None
                out.append(json.loads(m.value()))
            return out
        finally:
            c.close()


def _bootstrap() -> str:
    import os

    return os.environ["KCTX_BOOTSTRAP_SERVERS"]


@pytest.fixture
def project(stack, tmp_path, unique_name) -> Project:
    pr = Project(tmp_path, unique_name)
    pr.ok("makemigrations")
    pr.ok("migrate")
    r = pr.kctx("plan", "--detailed-exitcode")
    assert (r.returncode, r.stdout.strip()) == (0, "No differences: the cluster matches the models."), r.stdout
    return pr


def admin(stack):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": stack.bootstrap_servers})


def registry(stack, method: str, path: str, body: dict | None = None):
    import requests

    r = requests.request(method, stack.schema_registry_url + path, json=body, timeout=10,
                         headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    assert r.status_code == 200, r.text
    return r.json()


def repaired(pr: Project, *extra: str) -> dict:
    """Run the repair; check plan is clean after it and return its history record."""
    r = pr.ok("repair", *extra)
    assert "repaired " in r.stdout and f"the cluster matches the applied migrations (V000001)" in r.stdout
    r = pr.kctx("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert pr.kctx("validate", "--live").returncode == 0
    r = pr.kctx("repair")
    assert (r.returncode, r.stdout.strip()) == (0, "No drift: the cluster matches the applied migrations (V000001).")
    records = [h for h in pr.history() if h.get("type") == "repair"]
    assert [h["state"] for h in records] == ["RUNNING", "REPAIRED"], records
    assert records[-1]["version"] == 1 and records[-1]["error"] is None
    status = json.loads(pr.ok("status", "--output", "json").stdout)
    assert [(r["state"], r["operations"]) for r in status["repairs"]] == [("REPAIRED", records[-1]["operations"])]
    assert "last repair: REPAIRED at " in pr.ok("status").stdout
    return records[-1]


def dry_run_changes_nothing(pr: Project, expected: list[str]) -> None:
    before = pr.plan_json()
    r = pr.ok("repair", "--dry-run", "--allow-destructive")
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "-- dry run: nothing is sent to the cluster; repair to the state of V000001"
    assert [ln for ln in lines[1:] if ln != "-- kctx:destructive"] == expected
    assert pr.plan_json() == before
    assert not [h for h in pr.history() if h.get("type") == "repair"]


def test_topic_config_changed_by_hand(stack, project):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    pr = project
    res = ConfigResource(ConfigResource.Type.TOPIC, pr.topic, incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET)])
    client = admin(stack)  # kept: a collected client cancels its futures
    client.incremental_alter_configs([res])[res].result()
    plan = pr.plan_json()
    assert plan["changes"] == [{"operation": "set-topic-config", "description":
                                f"topic {pr.topic} configs: retention.ms=86400000, -max.message.bytes",
                                "destructive": False, "fix": "repair"}]
    r = pr.kctx("plan")
    assert "drift: the cluster differs from the applied migrations (kctx repair brings it back):" in r.stdout
    dry_run_changes_nothing(pr, [f'-- kctx:set-topic-config {{"name":"{pr.topic}","set":{{"retention.ms":"86400000"}},'
                                 f'"unset":["max.message.bytes"],"was":{{"max.message.bytes":"2000000",'
                                 f'"retention.ms":"1000"}}}}'])
    rec = repaired(pr)
    assert rec["operations"] == [f"topic {pr.topic} configs: retention.ms=86400000, -max.message.bytes"]


def test_partitions_added_by_hand_are_adopted_not_removed(stack, project):
    from confluent_kafka.admin import NewPartitions

    pr = project
    client = admin(stack)
    client.create_partitions([NewPartitions(pr.topic, 3)])[pr.topic].result()
    plan = pr.plan_json()
    assert plan["changes"] == []
    assert plan["errors"] == [
        f"topic {pr.topic} has 3 partitions, the applied migrations 2: Kafka cannot remove partitions; to keep them, "
        f"set partitions = 3 in the model, then kctx makemigrations and kctx migrate (its add-partitions step finds "
        f"them there)"]
    r = pr.kctx("repair")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [f"error: {plan['errors'][0]}; nothing repaired"]
    # the way the message names
    model = pr.root / "models" / "readings.py"
    model.write_text(model.read_text().replace("partitions = 2", "partitions = 3"))
    pr.ok("makemigrations", "-m", "adopt partitions")
    r = pr.ok("migrate")
    assert f"add partitions to {pr.topic}: 3 in total (from 2) ... already there" in r.stdout
    assert pr.kctx("plan", "--detailed-exitcode").returncode == 0


def test_compatibility_changed_by_hand(stack, project):
    pr = project
    registry(stack, "PUT", f"/config/{pr.topic}-value", {"compatibility": "NONE"})
    registry(stack, "PUT", f"/config/{pr.topic}-key", {"compatibility": "BACKWARD"})
    plan = pr.plan_json()
    assert sorted(c["description"] for c in plan["changes"]) == [
        f"compatibility of {pr.topic}-key: FULL", f"compatibility of {pr.topic}-value: FULL"]
    assert {c["fix"] for c in plan["changes"]} == {"repair"}
    repaired(pr)
    assert registry(stack, "GET", f"/config/{pr.topic}-value")["compatibilityLevel"] == "FULL"
    assert registry(stack, "GET", f"/config/{pr.topic}-key")["compatibilityLevel"] == "FULL"


def test_schema_registered_by_hand(stack, project):
    pr = project
    subject = f"{pr.topic}-value"
    # FULL-compatible with the migration's schema: a new optional field
    by_hand = {"type": "record", "name": "Reading", "fields": [
        {"name": "value", "type": "double"}, {"name": "unit", "type": ["null", "string"], "default": None},
        {"name": "note", "type": ["null", "string"], "default": None}]}
    registry(stack, "POST", f"/subjects/{subject}/versions", {"schema": json.dumps(by_hand)})
    assert registry(stack, "GET", f"/subjects/{subject}/versions") == [1, 2]
    plan = pr.plan_json()
    assert plan["changes"] == [{"operation": "delete-schema", "description":
                                f"delete the version of {subject} holding this schema",
                                "destructive": True, "fix": "repair"}]
    r = pr.kctx("repair")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"error: delete the version of {subject} holding this schema: destructive; re-run with --allow-destructive"]
    r = pr.kctx("repair", "--dry-run")
    assert r.returncode == 1  # as migrate --dry-run: the destructive guard first
    dry_run_changes_nothing(pr, [f'-- kctx:delete-schema {{"schema":{json.dumps(by_hand, sort_keys=True, separators=(",", ":"))},'
                                 f'"subject":"{subject}"}}'])
    repaired(pr, "--allow-destructive")
    assert registry(stack, "GET", f"/subjects/{subject}/versions") == [1]


def test_stream_dropped_by_hand(stack, project):
    from tests.ksqldb_helpers import KsqlSources

    pr = project
    with KsqlSources(stack.ksqldb_url, delete_topics=False) as ks:
        ks.execute(f"DROP STREAM {pr.stream};")
    plan = pr.plan_json()
    assert [(c["operation"], c["fix"]) for c in plan["changes"]] == [("ksql", "repair")]
    assert plan["changes"][0]["description"].startswith(f"CREATE STREAM {pr.stream} (SENSOR STRING KEY, ")
    rec = repaired(pr)
    assert rec["operations"][0].startswith(f"CREATE STREAM {pr.stream} ")
    from kctx_cli.backends.ksqldb import KsqlClient

    assert KsqlClient(stack.ksqldb_url).describe(pr.stream) is not None


def test_repair_of_a_cluster_kctx_never_migrated(stack, tmp_path, unique_name):
    pr = Project(tmp_path, unique_name)
    r = pr.kctx("repair")
    assert r.returncode == 1
    assert r.stderr.strip() == (f"error: kctx has applied no migration to this cluster (history topic "
                                f"_kctx_{unique_name}): there is no applied state to repair to; kctx migrate applies "
                                "the migrations, kctx baseline adopts a cluster")


# ---------------------------------------------------------------------------
# item 5
# ---------------------------------------------------------------------------


def test_a_file_validate_rejects_is_never_applied(stack, project):
    pr = project
    (pr.root / "migrations" / "V000002__shrink.sql").write_text(
        "-- kctx:up\n"
        f'-- kctx:add-partitions {{"name":"{pr.topic}","partitions":1}}\n')
    r = pr.kctx("validate")
    assert r.returncode == 1
    problem = (f"migrations: the migrations do not replay: V000002__shrink.sql:2: add-partitions: topic '{pr.topic}' "
               f"has 2 partitions; partitions can only grow (asked for 1)")
    assert problem in r.stdout
    for args in (["migrate"], ["migrate", "--dry-run"]):
        r = pr.kctx(*args)
        assert r.returncode == 1
        assert r.stderr.strip().splitlines() == [f"error: {problem}; nothing applied (kctx validate reports the same)"]
    status = json.loads(pr.ok("status", "--output", "json").stdout)
    assert [(v["version"], v["state"]) for v in status["versions"]] == [("V000001", "MIGRATED"), ("V000002", "PENDING")]
    (pr.root / "migrations" / "V000002__shrink.sql").unlink()
    assert pr.kctx("plan", "--detailed-exitcode").returncode == 0


def test_add_partitions_below_the_live_count_is_an_error_at_apply(stack, project):
    # the files replay (the topic was created by ksqlDB, its count unknown offline), the live
    # topic has more partitions: an error recorded as such, never "already there"
    from kctx_cli.ops import AddPartitions, OpError

    pr = project
    from kctx_cli.config import load_config
    from kctx_cli.migrations.cluster import Cluster

    cluster = Cluster(load_config(pr.root))
    with pytest.raises(OpError, match=rf"add-partitions: topic '{pr.topic}' has 2 partitions, more than the 1 asked "
                                      "for; partitions can only grow"):
        AddPartitions(pr.topic, 1).applied(cluster)
    assert AddPartitions(pr.topic, 2).applied(cluster) is True
    assert AddPartitions(pr.topic, 3).applied(cluster) is False


def test_an_unexpected_exception_inside_apply_is_recorded_error(stack, project, monkeypatch):
    from kctx_cli.commands.migrate import migrate
    from kctx_cli.config import load_config
    from kctx_cli.errors import KctxError
    from kctx_cli.migrations.cluster import Cluster

    pr = project
    model = pr.root / "models" / "readings.py"
    model.write_text(model.read_text().replace("partitions = 2", "partitions = 4"))
    pr.ok("makemigrations", "-m", "more partitions")

    def broken(self, topic, total):
        raise ValueError("a bug in a client library")

    monkeypatch.setenv("KCTX_MIGRATIONS_TOPIC", pr.env["KCTX_MIGRATIONS_TOPIC"])
    monkeypatch.setattr(Cluster, "create_partitions", broken)
    with pytest.raises(KctxError, match=r"V000002__more_partitions.sql:\d+: add partitions to .*: unexpected error: "
                                        r"ValueError: a bug in a client library"):
        migrate(load_config(pr.root), output="json")
    monkeypatch.undo()
    status = json.loads(pr.ok("status", "--output", "json").stdout)
    v2 = [v for v in status["versions"] if v["version"] == "V000002"][0]
    assert v2["state"] == "ERROR" and v2["error"] == "unexpected error: ValueError: a bug in a client library"
    # fixed, the next migrate resumes it
    r = pr.ok("migrate")
    assert "applied 1 migration" in r.stdout
    assert pr.kctx("plan", "--detailed-exitcode").returncode == 0


# ---------------------------------------------------------------------------
# item 3 on the real servers: a derived entity re-created with its source
# ---------------------------------------------------------------------------

DERIVED = '''
    from typing import Annotated, Optional
    from kctx_cli.model import Key, Stream
    from kctx_cli.query import select
    from models.readings import Reading

    class Celsius(Stream):
        sensor: Annotated[str, Key]
        value: float
        unit: Optional[str] = None

        class Meta:
            name = "{P}_CELSIUS"
            topic = "{p}_celsius"
            partitions = 2
            compatibility = "FULL"
            configs = {{"retention.ms": 3600000}}

            def query():
                return select(Reading.sensor, Reading.value, Reading.unit).from_(Reading).where(Reading.unit == "C")
'''


def test_a_derived_entity_recreated_with_its_source_keeps_its_subjects_settings(stack, project):
    """ksqlDB's DROP ... DELETE TOPIC deletes the sink topic and its subjects, and the
    registry forgets a deleted subject's compatibility: the migration sets them again, so
    makemigrations --check, validate and plan are clean after it."""
    pr = project
    (pr.root / "models" / "derived.py").write_text(
        "\n".join(line[4:] for line in DERIVED.format(p=pr.p, P=pr.P).splitlines()) + "\n")
    pr.ok("makemigrations", "-m", "celsius")
    pr.ok("migrate")
    assert pr.kctx("plan", "--detailed-exitcode").returncode == 0
    # the source's key format changes: it and the query reading it are dropped and created again
    for name in ("readings.py", "derived.py"):
        path = pr.root / "models" / name
        path.write_text(path.read_text().replace('compatibility = "FULL"',
                                                 'compatibility = "FULL"\n        key_format = "JSON"'))
    r = pr.ok("makemigrations", "--allow-destructive", "-m", "json keys")
    assert f"DROP STREAM {pr.P}_CELSIUS DELETE TOPIC" in r.stdout
    up = (pr.root / "migrations" / "V000003__json_keys.sql").read_text().split("-- kctx:down")[0].splitlines()
    create = next(i for i, ln in enumerate(up) if ln.startswith(f"CREATE STREAM {pr.P}_CELSIUS "))
    assert f'-- kctx:set-compatibility {{"level":"FULL","subject":"{pr.p}_celsius-value","was":null}}' in up[create:]
    assert any(ln.startswith(f'-- kctx:set-topic-config {{"name":"{pr.p}_celsius","set":{{"retention.ms":"3600000"}}')
               for ln in up[create:])
    assert pr.kctx("makemigrations", "--check").returncode == 0
    assert pr.kctx("validate").returncode == 0
    pr.ok("migrate", "--allow-destructive")
    r = pr.kctx("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout
    assert registry(stack, "GET", f"/config/{pr.p}_celsius-value")["compatibilityLevel"] == "FULL"
    from kctx_cli.backends.ksqldb import KsqlClient

    KsqlClient(stack.ksqldb_url).terminate_writers(f"{pr.P}_CELSIUS")  # a persistent query costs CPU

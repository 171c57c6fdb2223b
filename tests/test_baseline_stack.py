"""`kctx baseline` adopting a cluster built by hand on the real stack — topics with the admin
client, a schema and a compatibility level with confluent-kafka's SchemaRegistryClient,
streams and a persistent query through ksqlDB's REST API, no kctx involved — then
`migrate`, `status` and `plan` agree with it."""
from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import make_project, run_kctx


def build_by_hand(stack, p: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    from kctx_cli.backends.ksqldb import KsqlClient

    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    futures = admin.create_topics([NewTopic(f"{p}_clicks", 3, 1, config={"retention.ms": "3600000"})])
    for f in futures.values():
        f.result()
    registry = SchemaRegistryClient({"url": stack.schema_registry_url})
    registry.set_compatibility(f"{p}_clicks-value", "FULL")
    value = {"type": "record", "name": "Click", "namespace": "shop",
             "fields": [{"name": "URL", "type": ["null", "string"], "default": None},
                        {"name": "MS", "type": ["null", "long"], "default": None}]}
    registry.register_schema(f"{p}_clicks-value", Schema(json.dumps(value), "AVRO"))
    ksql = KsqlClient(stack.ksqldb_url)
    P = p.upper()
    ksql.execute(f"CREATE STREAM {P}_CLICKS (USER_ID STRING KEY) WITH (KAFKA_TOPIC='{p}_clicks', "
                 "KEY_FORMAT='KAFKA', VALUE_FORMAT='AVRO');")
    ksql.execute(f"CREATE TABLE {P}_CLICKS_PER_USER WITH (KAFKA_TOPIC='{p}_clicks_per_user', KEY_FORMAT='KAFKA', "
                 f"VALUE_FORMAT='JSON') AS SELECT USER_ID, COUNT(*) AS N FROM {P}_CLICKS GROUP BY USER_ID;")


def test_baseline_adopts_a_cluster_built_by_hand(stack, tmp_path: Path, unique_name):
    p = unique_name
    P = p.upper()
    build_by_hand(stack, p)
    root = make_project(tmp_path / "adopt", {})
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}

    r = run_kctx("baseline", "--include", f"^{p}", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    # the topic, the compatibility, the schema, the stream, the table (its topic, subjects
    # and configs come with its CREATE … AS SELECT)
    assert r.stdout.startswith("wrote V000001__baseline.sql (5 operations: "), r.stdout
    text = (root / "migrations" / "V000001__baseline.sql").read_text()
    assert (f'-- kctx:create-topic {{"configs":{{"retention.ms":"3600000"}},"name":"{p}_clicks","partitions":3,'
            '"replicas":1}') in text
    assert f'-- kctx:set-compatibility {{"level":"FULL","subject":"{p}_clicks-value","was":null}}' in text
    assert f'"subject":"{p}_clicks-value"}}' in text and '"name":"Click"' in text
    assert f"CREATE STREAM {P}_CLICKS (USER_ID STRING KEY, URL STRING, MS BIGINT) WITH (" in text
    assert f"CREATE TABLE {P}_CLICKS_PER_USER WITH (" in text
    assert "set-topic-config" not in text and "(ksqlDB registers" not in text

    # recorded as applied: nothing to do, status shows it, the file's checksum is the record's
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "Nothing to do: the cluster is at V000001 (latest).", r.stdout
    r = run_kctx("status", "--output", "json", cwd=root, env=env)
    assert r.returncode == 0, r.stderr
    [v] = json.loads(r.stdout)["versions"]
    assert (v["version"], v["state"], v["file_check"]) == ("V000001", "MIGRATED", "ok")

    # replayed offline, the file describes the live cluster exactly: nothing to repair
    r = run_kctx("repair", "--dry-run", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DROP" not in r.stdout and "delete" not in r.stdout and "register" not in r.stdout, r.stdout

"""The real test stack (tests/stack/up): Apache Kafka 4.1.1, the Confluent Schema Registry 8.1.5
and ksqlDB 8.1.5, the last two built from their public source (../shared/realstack)."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

REPO = Path(__file__).resolve().parents[1]
UP = REPO / "tests" / "stack" / "up"


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=30).values():
        future.result()


def consume_all(bootstrap: str, topic: str, expected: int, **config) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-reader",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, **config})
    consumer.subscribe([topic])
    values, deadline = [], time.monotonic() + 30
    try:
        while len(values) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                values.append(msg.value())
        # wait a moment longer for anything that should NOT be there
        end = time.monotonic() + 1
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                values.append(msg.value())
    finally:
        consumer.close()
    return values


def test_produce_and_consume_on_a_fresh_topic(bootstrap_servers, unique_name):
    topic = f"{unique_name}_events"
    create_topic(bootstrap_servers, topic, partitions=3)
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    for i in range(10):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert producer.flush(30) == 0
    assert sorted(consume_all(bootstrap_servers, topic, 10)) == sorted(f"v{i}".encode() for i in range(10))
    meta = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(topic, timeout=10)
    assert len(meta.topics[topic].partitions) == 3


def test_transactions_commit_and_abort(bootstrap_servers, unique_name):
    topic = f"{unique_name}_tx"
    create_topic(bootstrap_servers, topic)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "transactional.id": unique_name})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"committed")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"aborted")
    producer.abort_transaction(30)
    assert consume_all(bootstrap_servers, topic, 1, **{"isolation.level": "read_committed"}) == [b"committed"]


RECORD_V1 = {"type": "record", "name": "Customer", "fields": [{"name": "id", "type": "string"}]}


def with_field(field: dict) -> str:
    return json.dumps({**RECORD_V1, "fields": [*RECORD_V1["fields"], field]})


def test_registry_enforces_backward_compatibility(schema_registry_url, unique_name):
    client = SchemaRegistryClient({"url": schema_registry_url})
    subject = f"{unique_name}-value"
    first = client.register_schema(subject, Schema(json.dumps(RECORD_V1), "AVRO"))
    # the same schema again is the same id, not a new version
    assert client.register_schema(subject, Schema(json.dumps(RECORD_V1), "AVRO")) == first
    # a new field without a default cannot read old data: rejected by the default BACKWARD level
    with pytest.raises(SchemaRegistryError) as rejected:
        client.register_schema(subject, Schema(with_field({"name": "tier", "type": "int"}), "AVRO"))
    assert rejected.value.http_status_code == 409
    assert rejected.value.error_code == 40901
    assert rejected.value.error_message.startswith("Schema being registered is incompatible")
    assert client.get_versions(subject) == [1]
    # with a default it is backward compatible
    client.register_schema(subject, Schema(with_field({"name": "tier", "type": "int", "default": 0}), "AVRO"))
    assert client.get_versions(subject) == [1, 2]


def test_the_registry_is_confluents(schema_registry_url, unique_name):
    # Confluent's registry: ids are global sequence numbers, the same schema under a second
    # subject keeps its id, and the schema comes back in Avro's compact form
    client = SchemaRegistryClient({"url": schema_registry_url})
    text = json.dumps({**RECORD_V1, "name": f"R{unique_name}"})
    first = client.register_schema(f"{unique_name}-a", Schema(text, "AVRO"))
    assert client.register_schema(f"{unique_name}-b", Schema(text, "AVRO")) == first
    assert client.get_schema(first).schema_str == json.dumps(json.loads(text), separators=(",", ":"))
    import requests
    assert requests.get(f"{schema_registry_url}/config", timeout=10).json() == {"compatibilityLevel": "BACKWARD"}


def test_ksqldb_is_the_real_server(ksqldb_url, unique_name):
    import requests

    info = requests.get(f"{ksqldb_url}/info", timeout=10).json()["KsqlServerInfo"]
    assert info["version"] == "8.1.5"
    assert info["serverStatus"] == "RUNNING"
    # the real parser and engine answer: a statement error is ksqlDB's own
    resp = requests.post(f"{ksqldb_url}/ksql", json={"ksql": f"DESCRIBE {unique_name};", "streamsProperties": {}},
                         headers={"Accept": "application/vnd.ksql.v1+json"}, timeout=30)
    assert resp.status_code == 400
    assert resp.json()["error_code"] == 40001
    assert resp.json()["message"] == f"Could not find STREAM/TABLE '{unique_name.upper()}' in the Metastore"


def test_up_again_reuses_the_running_stack(stack):
    started_here = Path(os.environ.get("KCTX_STACK_DIR") or REPO / ".stack") / "addresses.env"
    mine = f"KCTX_BOOTSTRAP_SERVERS={stack.bootstrap_servers}"
    if not started_here.exists() or mine not in started_here.read_text():
        # locally one may point the tests at another stack (docker compose); CI always
        # starts it with tests/stack/up, so there this is a failure, not a skip
        if os.environ.get("CI"):
            pytest.fail("in CI the stack must be the one tests/stack/up started from this checkout")
        pytest.skip("the stack under test was not started by tests/stack/up from this checkout")
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(UP)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 10
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        f"KCTX_BOOTSTRAP_SERVERS={stack.bootstrap_servers}",
        f"KCTX_SCHEMA_REGISTRY_URL={stack.schema_registry_url}",
        f"KCTX_KSQLDB_URL={stack.ksqldb_url}",
    ]
    # then the authenticated endpoints' variables (tests/stack/auth.py), when they run
    assert all(line.startswith("KCTX_AUTH_") for line in lines[3:]), lines
    assert "already running" in done.stderr


def test_unique_name_is_a_valid_topic_subject_and_ksqldb_name(unique_name):
    # t_<test name, 24 chars at most>_<6 hex digits>
    assert re.fullmatch(r"t_unique_name_is_a_valid_t_[0-9a-f]{6}", unique_name)


def test_shared_dir_is_beside_the_repo(shared_dir):
    assert shared_dir == REPO.parent / "shared"
    assert (shared_dir / "ksqldb-docs").is_dir()


# -------------------------------------------------------------- tests/stack/up bad input
# These start nothing: each stops at a check before the first JVM.

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_up(tmp_path: Path, python_flags: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KCTX_")}
    # every port up would use, the authenticated endpoints' too: the running stack holds the defaults
    ports = {f"KCTX_STACK_{n}_PORT": str(free_port())
             for n in ("KAFKA", "CONTROLLER", "REGISTRY", "KSQLDB", "KAFKA_SASL", "REGISTRY_TLS", "KSQLDB_TLS")}
    full = {**base, **ports, "KCTX_STACK_DIR": str(tmp_path / "stack"),
            "KCTX_STACK_CACHE": str(tmp_path / "cache"), **env}
    return subprocess.run([sys.executable, *python_flags, str(UP)], capture_output=True, text=True, env=full,
                          timeout=60)


def test_up_fails_clearly_when_a_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_up(tmp_path, KCTX_STACK_KAFKA_PORT=str(port))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        f"tests/stack/up: port {port} (kafka) on 127.0.0.1 is already in use by a process tests/stack/up "
        "did not start; stop it or choose another port with KCTX_STACK_KAFKA_PORT=<port>")


def test_up_fails_clearly_without_java(tmp_path):
    env = {"PATH": str(tmp_path / "empty-bin"), "JAVA_HOME": ""}
    done = run_up(tmp_path, **env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "tests/stack/up: Java 17 or newer is needed to run Kafka, the Schema Registry and ksqlDB, and `java` is "
        "not on PATH (install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`, or set JAVA_HOME)")


def test_up_fails_clearly_without_maven_when_jars_are_not_cached(tmp_path):
    java = shutil.which("java")
    assert java, "java is needed for this test"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(os.path.realpath(java))
    done = run_up(tmp_path, PATH=str(bin_dir), JAVA_HOME="")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        "tests/stack/up: Maven (`mvn`) is needed to fetch the servers' jars from Maven Central and is not on "
        "PATH (install it, e.g. `apt-get install maven`)")


def test_up_fails_clearly_without_the_shared_realstack(tmp_path):
    done = run_up(tmp_path, KCTX_REALSTACK=str(tmp_path / "no-realstack"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"tests/stack/up: {tmp_path / 'no-realstack'} is missing or incomplete (no jars, pom.xml, "
        "pom-schema-registry.xml, jars-ksqldb.list, jars-schema-registry.list): the shared folder with the "
        "Schema Registry and ksqlDB 8.1.5 jars must sit beside the repo as ../shared (or set KCTX_REALSTACK)")


def test_up_fails_clearly_without_the_python_dependencies(tmp_path):
    # -S: no site-packages, so none of kctx's dependencies (a fresh Python before pip install)
    done = run_up(tmp_path, python_flags=("-S",))
    assert done.returncode == 1
    assert done.stdout == ""
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith("tests/stack/up: the Python running tests/stack/up (")
    assert line.endswith("lacks kctx's dependencies (no confluent_kafka); install them first: "
                         "python -m pip install -e '.[test]'")

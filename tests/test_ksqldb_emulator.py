"""The ksqlDB REST emulator against the real stack (Kafka + Apicurio), no mocks.

Each module run starts its own emulator process (a fresh service id, so a fresh command
topic) on the stack's Kafka and registry; names are unique per test (``unique_name``).
Shapes are compared with the JSON examples in ../shared/ksqldb-docs/, read at test time.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MEDIA = "application/vnd.ksql.v1+json"

SOURCE_DESCRIPTION_KEYS = [
    "name", "windowType", "readQueries", "writeQueries", "fields", "type", "timestamp",
    "statistics", "errorStats", "extended", "keyFormat", "valueFormat", "topic", "partitions",
    "replication", "statement", "queryOffsetSummaries", "sourceConstraints", "clusterStatistics",
    "clusterErrorStats",
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def http(method: str, url: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Accept": MEDIA, "Content-Type": MEDIA})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers.get("Content-Type"), json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), json.loads(e.read())


def ksql(base: str, text: str, **extra):
    status, ctype, body = http("POST", base + "/ksql", {"ksql": text, "streamsProperties": {}, **extra})
    assert ctype == MEDIA
    return status, body


def ok(base: str, text: str, **extra) -> list:
    status, body = ksql(base, text, **extra)
    assert status == 200, body
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, bootstrap: str, registry: str, service_id: str):
        self.bootstrap = bootstrap
        self.command_topic = f"_confluent-ksql-{service_id}_command_topic"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.stack.ksqldb_emulator", "--host", "127.0.0.1",
             "--port", str(self.port), "--bootstrap-servers", bootstrap,
             "--schema-registry-url", registry, "--service-id", service_id],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited: {self.proc.stderr.read()}")
            try:
                if http("GET", self.url + "/healthcheck")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("emulator did not become healthy in 60 s")

    def stop(self, forget: bool = False):
        """Stop the process; ``forget`` also deletes its command topic (its catalog)."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if forget:
            from confluent_kafka.admin import AdminClient

            admin = AdminClient({"bootstrap.servers": self.bootstrap})
            admin.delete_topics([self.command_topic])[self.command_topic].result(30)


def doc_json_blocks(path: Path) -> list:
    """JSON bodies of the ```json and ```http (response) blocks of a docs page."""
    out = []
    for lang, block in re.findall(r"```(json|http)\n(.*?)```", path.read_text(), re.S):
        text = block
        if lang == "http":
            head, _, text = block.partition("\n\n")
            if not head.startswith("HTTP/"):
                continue  # a request, not a response
        try:
            out.append(json.loads(text))
        except ValueError:
            continue
    return out


def assert_shape(doc, ours, path="$"):
    """Every key of the documented example is in ours, in the same order, with the same JSON type."""
    if isinstance(doc, dict):
        assert isinstance(ours, dict), f"{path}: not an object"
        keys = [k for k in ours if k in doc]
        assert keys == list(doc), f"{path}: keys {list(ours)} vs documented {list(doc)}"
        for k in doc:
            assert_shape(doc[k], ours[k], f"{path}.{k}")
    elif isinstance(doc, list):
        assert isinstance(ours, list), f"{path}: not an array"
        if doc and ours:
            assert_shape(doc[0], ours[0], path + "[0]")
    elif isinstance(doc, bool):
        assert isinstance(ours, bool), path
    elif isinstance(doc, (int, float)):
        assert isinstance(ours, (int, float)) and not isinstance(ours, bool), path
    elif isinstance(doc, str):
        assert isinstance(ours, str), path


def topic_info(bootstrap: str, topic: str):
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic=topic, timeout=10).topics.get(topic)
    if md is None or md.error is not None:
        return None
    return len(md.partitions), len(md.partitions[0].replicas)


def topic_config(bootstrap: str, topic: str) -> dict:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return {k: v.value for k, v in admin.describe_configs([res])[res].result(timeout=10).items()}


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_id():
    import secrets

    return f"kctx_test_{secrets.token_hex(4)}_"


@pytest.fixture(scope="module")
def emu(bootstrap_servers, schema_registry_url, service_id):
    e = Emulator(bootstrap_servers, schema_registry_url, service_id)
    yield e
    e.stop(forget=True)


@pytest.fixture
def base(emu) -> str:
    return emu.url


@pytest.fixture
def n(unique_name):
    """Upper-case source names and lower-case topics from the test's unique prefix."""
    return unique_name.upper()


@pytest.fixture(scope="module")
def registry(schema_registry_url):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient({"url": schema_registry_url})


# ---------------------------------------------------------------------------
# fidelity: shapes from the docs
# ---------------------------------------------------------------------------


def test_info_and_healthcheck_match_docs(base, shared_dir, service_id):
    info_doc, health_doc = doc_json_blocks(shared_dir / "ksqldb-docs" / "info-endpoint.md")
    status, ctype, info = http("GET", base + "/info")
    assert status == 200 and ctype == MEDIA
    assert_shape(info_doc, info)
    assert info["KsqlServerInfo"]["ksqlServiceId"] == service_id
    assert "emulator" in info["KsqlServerInfo"]["emulator"]  # never presented as ksqlDB
    status, _, health = http("GET", base + "/healthcheck")
    assert status == 200
    assert_shape(health_doc, health)
    assert health["isHealthy"] is True


def test_stack_emulator_is_up(ksqldb_url):
    # the instance tests/stack/up started answers like ours
    status, _, info = http("GET", ksqldb_url + "/info")
    assert status == 200 and "emulator" in info["KsqlServerInfo"]


def test_create_responses_match_docs_and_status_endpoint(base, n, shared_dir):
    docs = shared_dir / "ksqldb-docs"
    example = doc_json_blocks(docs / "ksql-endpoint.md")[0]
    body = ok(base, f"CREATE STREAM {n}_PV (ID STRING KEY, PAGEID STRING, USERID STRING) WITH "
                    f"(KAFKA_TOPIC='{n.lower()}_pv', PARTITIONS=1, VALUE_FORMAT='JSON'); "
                    f"CREATE STREAM {n}_HOME AS SELECT * FROM {n}_PV WHERE pageid='home';")
    assert len(body) == 2
    for entity in body:
        assert_shape(example[0], entity)
        assert list(entity) == ["@type", "statementText", "commandId", "commandStatus",
                                "commandSequenceNumber", "warnings"]
        assert entity["@type"] == "currentStatus"
    assert body[0]["commandId"] == f"stream/`{n}_PV`/create"
    assert body[0]["commandStatus"] == {"status": "SUCCESS", "message": "Stream created", "queryId": None}
    seq = body[0]["commandSequenceNumber"]
    assert body[1]["commandSequenceNumber"] == seq + 1
    assert body[1]["commandStatus"]["message"] == f"Created query with ID CSAS_{n}_HOME_{seq + 1}"
    assert body[1]["commandStatus"]["queryId"] == f"CSAS_{n}_HOME_{seq + 1}"

    status_doc = doc_json_blocks(docs / "status-endpoint.md")[0]
    status, _, st = http("GET", base + "/status/" + urllib.request.quote(body[0]["commandId"]))
    assert status == 200
    assert_shape(status_doc, st)
    assert st["status"] == "SUCCESS" and st["message"] == "Stream created"
    status, _, missing = http("GET", base + "/status/stream/NOPE/create")
    assert status == 404
    assert missing == {"@type": "generic_error", "error_code": 40400, "message": "Command not found"}


def test_is_valid_property_matches_docs(base, shared_dir):
    doc = doc_json_blocks(shared_dir / "ksqldb-docs" / "is_valid_property-endpoint.md")[0]
    status, ctype, body = http("GET", base + "/is_valid_property/ksql.service.id")
    assert status == 400 and ctype == MEDIA
    assert body == doc  # the documented example, exactly
    status, _, body = http("GET", base + "/is_valid_property/auto.offset.reset")
    assert status == 200 and body is True


def test_cluster_status_matches_docs(base, n, shared_dir):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=2, VALUE_FORMAT='JSON');"
             f"CREATE TABLE {n}_AGG AS SELECT ID, COUNT(*) AS C FROM {n}_S GROUP BY ID;")
    (doc,) = doc_json_blocks(shared_dir / "ksqldb-docs" / "cluster-status-endpoint.md")
    status, _, body = http("GET", base + "/clusterStatus")
    assert status == 200 and list(body) == list(doc)
    doc_host = next(iter(doc["clusterStatus"].values()))
    (host,) = body["clusterStatus"].values()
    assert list(host) == list(doc_host)
    doc_query = next(iter(doc_host["activeStandbyPerQuery"].values()))
    query = next(v for k, v in host["activeStandbyPerQuery"].items() if k.startswith(f"CTAS_{n}_AGG_"))
    assert_shape(doc_query, query)
    assert query["activePartitions"] == [{"topic": f"{t}_s", "partition": 0}, {"topic": f"{t}_s", "partition": 1}]
    assert list(host["hostStoreLags"]) == list(doc_host["hostStoreLags"])


def test_list_entities(base, n):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_S (K STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=2, FORMAT='JSON');"
             f"CREATE TABLE {n}_T (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='{t}_t', PARTITIONS=2, "
             f"VALUE_FORMAT='JSON');"
             f"CREATE TABLE {n}_AGG AS SELECT K, COUNT(*) AS C FROM {n}_S GROUP BY K;")
    streams, tables, queries = ok(base, "LIST STREAMS; SHOW TABLES; SHOW QUERIES;")
    assert list(streams) == ["@type", "statementText", "streams", "warnings"]
    assert streams["@type"] == "streams"
    s = next(x for x in streams["streams"] if x["name"] == f"{n}_S")
    assert s == {"type": "STREAM", "name": f"{n}_S", "topic": f"{t}_s", "keyFormat": "JSON",
                 "valueFormat": "JSON", "isWindowed": False}
    assert tables["@type"] == "tables"
    tt = next(x for x in tables["tables"] if x["name"] == f"{n}_T")
    assert tt == {"type": "TABLE", "name": f"{n}_T", "topic": f"{t}_t", "keyFormat": "KAFKA",
                  "valueFormat": "JSON", "isWindowed": False}
    assert queries["@type"] == "queries"
    q = next(x for x in queries["queries"] if x["sinks"] == [f"{n}_AGG"])
    assert list(q) == ["queryString", "sinks", "sinkKafkaTopics", "id", "statusCount", "queryType", "state"]
    assert re.fullmatch(rf"CTAS_{n}_AGG_\d+", q["id"])
    assert q["sinkKafkaTopics"] == [f"{n}_AGG"] and q["queryType"] == "PERSISTENT"
    assert q["statusCount"] == {"RUNNING": 1} and q["state"] == "RUNNING"

    streams_ext, queries_ext = ok(base, "SHOW STREAMS EXTENDED; SHOW QUERIES EXTENDED;")
    assert streams_ext["@type"] == "source_descriptions"
    d = next(x for x in streams_ext["sourceDescriptions"] if x["name"] == f"{n}_S")
    assert list(d) == SOURCE_DESCRIPTION_KEYS and d["extended"] is True and d["partitions"] == 2
    assert queries_ext["@type"] == "query_descriptions"
    qd = next(x for x in queries_ext["queryDescriptions"] if x["id"] == q["id"])
    (explained,) = ok(base, f"EXPLAIN {q['id']};")
    assert explained["@type"] == "queryDescription" and explained["queryDescription"] == qd
    assert list(qd)[:9] == ["id", "statementText", "windowType", "fields", "sources", "sinks", "topology",
                            "executionPlan", "overriddenProperties"]
    assert qd["sources"] == [f"{n}_S"] and qd["sinks"] == [f"{n}_AGG"]
    assert [f["name"] for f in qd["fields"]] == ["K", "C"]


def test_describe_and_extended(base, n, bootstrap_servers):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_O (ID BIGINT KEY, AMOUNT DECIMAL(10, 2), TAGS ARRAY<STRING>, "
             f"ADDR STRUCT<CITY STRING, ZIP INT>, ATTRS MAP<STRING, DOUBLE>, TS TIMESTAMP) "
             f"WITH (KAFKA_TOPIC='{t}_o', PARTITIONS=3, VALUE_FORMAT='JSON', TIMESTAMP='TS');"
             f"CREATE STREAM {n}_BIG AS SELECT ID, AMOUNT * 2 AS DOUBLED, ADDR->CITY, UCASE(ADDR->CITY) "
             f"FROM {n}_O WHERE AMOUNT > 10;")
    (entity,) = ok(base, f"DESCRIBE {n}_O;")
    assert list(entity) == ["@type", "statementText", "sourceDescription", "warnings"]
    d = entity["sourceDescription"]
    assert list(d) == SOURCE_DESCRIPTION_KEYS
    assert d["fields"][0] == {"name": "ID", "schema": {"type": "BIGINT", "fields": None, "memberSchema": None},
                              "type": "KEY"}
    assert d["fields"][1] == {"name": "AMOUNT", "schema": {"type": "DECIMAL", "fields": None, "memberSchema": None,
                                                           "parameters": {"precision": 10, "scale": 2}}}
    assert d["fields"][2]["schema"]["memberSchema"]["type"] == "STRING"
    assert [f["name"] for f in d["fields"][3]["schema"]["fields"]] == ["CITY", "ZIP"]
    assert d["fields"][4]["schema"]["type"] == "MAP"
    assert d["timestamp"] == "TS" and d["type"] == "STREAM" and d["extended"] is False
    assert (d["partitions"], d["replication"]) == (3, 1)  # ksqlDB describes the topic even when not EXTENDED
    assert [q["id"] for q in d["readQueries"]] and d["writeQueries"] == []
    assert d["sourceConstraints"] == [f"{n}_BIG"]  # sources created AS SELECT from it

    (ext,) = ok(base, f"DESCRIBE {n}_BIG EXTENDED;")
    assert ext["warnings"] == []
    d = ext["sourceDescription"]
    assert d["extended"] is True and d["partitions"] == 3 and d["replication"] == 1
    assert [(f["name"], f["schema"]["type"], f.get("type")) for f in d["fields"]] == [
        ("ID", "BIGINT", "KEY"), ("DOUBLED", "DECIMAL", None), ("CITY", "STRING", None),
        ("KSQL_COL_0", "STRING", None)]
    # DECIMAL(10, 2) * INTEGER (as DECIMAL(10, 0)): precision p1 + p2 + 1, scale s1 + s2
    assert d["fields"][1]["schema"]["parameters"] == {"precision": 21, "scale": 2}
    assert [q["id"] for q in d["writeQueries"]][0].startswith(f"CSAS_{n}_BIG_")
    # the sink topic inherits the source topic's partitions, as in ksqlDB
    assert topic_info(bootstrap_servers, f"{n}_BIG") == (3, 1)

    # a topic deleted behind ksqlDB's back: a warning, not an error
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.delete_topics([f"{t}_o"])[f"{t}_o"].result(30)
    deadline = time.monotonic() + 15
    while topic_info(bootstrap_servers, f"{t}_o") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    (gone,) = ok(base, f"DESCRIBE {n}_O;")
    assert gone["sourceDescription"]["partitions"] == 0
    assert gone["warnings"] == [{"message": f"Error from Kafka: Failed to Describe Kafka Topic(s): [{t}_o]"}]

    (both,) = ok(base, "DESCRIBE STREAMS;")
    assert both["@type"] == "source_descriptions"
    assert {f"{n}_O", f"{n}_BIG"} <= {x["name"] for x in both["sourceDescriptions"]}


def test_topics_and_schemas_are_real(base, n, bootstrap_servers, registry):
    t = n.lower()
    ok(base, f"CREATE TABLE {n}_C (ID STRING PRIMARY KEY, NAME STRING, TIER INT, BAL DECIMAL(18, 4), "
             f"TAGS ARRAY<STRING>, ADDR STRUCT<CITY STRING>) "
             f"WITH (KAFKA_TOPIC='{t}_c', PARTITIONS=2, REPLICAS=1, FORMAT='AVRO');")
    assert topic_info(bootstrap_servers, f"{t}_c") == (2, 1)
    assert topic_config(bootstrap_servers, f"{t}_c")["cleanup.policy"] == "compact"
    value = json.loads(registry.get_latest_version(f"{t}_c-value").schema.schema_str)
    assert value["type"] == "record"
    assert value["name"] == "KsqlDataSourceSchema"
    assert value["namespace"] == "io.confluent.ksql.avro_schemas"
    assert [f["name"] for f in value["fields"]] == ["NAME", "TIER", "BAL", "TAGS", "ADDR"]
    assert value["fields"][0]["type"] == ["null", "string"] and value["fields"][0]["default"] is None
    assert value["fields"][1]["type"] == ["null", "int"]
    assert value["fields"][2]["type"][1]["logicalType"] == "decimal"
    assert value["fields"][2]["type"][1]["precision"] == 18
    assert value["fields"][3]["type"][1] == {"type": "array", "items": ["null", "string"]}
    assert value["fields"][4]["type"][1]["name"] == "KsqlDataSourceSchema_ADDR"
    key = json.loads(registry.get_latest_version(f"{t}_c-key").schema.schema_str)
    assert key == "string"

    ok(base, f"CREATE STREAM {n}_E (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_e', PARTITIONS=1, "
             f"VALUE_FORMAT='JSON');")
    assert topic_config(bootstrap_servers, f"{t}_e")["cleanup.policy"] == "delete"

    (drop,) = ok(base, f"DROP TABLE {n}_C DELETE TOPIC;")
    assert drop["commandId"] == f"table/{n}_C/drop"
    assert drop["commandStatus"]["message"] == f"Source {n}_C (topic: {t}_c) was dropped."
    assert topic_info(bootstrap_servers, f"{t}_c") is None
    assert f"{t}_c-value" not in registry.get_subjects()
    # without DELETE TOPIC the topic stays
    ok(base, f"DROP STREAM {n}_E;")
    assert topic_info(bootstrap_servers, f"{t}_e") == (1, 1)


def test_existing_topic_is_used(base, n, bootstrap_servers):
    from confluent_kafka.admin import AdminClient, NewTopic

    t = f"{n.lower()}_existing"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(t, 4, 1)])[t].result(30)
    deadline = time.monotonic() + 15
    while topic_info(bootstrap_servers, t) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # metadata propagation
    ok(base, f"CREATE STREAM {n}_X (V STRING) WITH (KAFKA_TOPIC='{t}', VALUE_FORMAT='JSON');")
    (d,) = ok(base, f"DESCRIBE {n}_X EXTENDED;")
    assert d["sourceDescription"]["partitions"] == 4


def test_columns_inferred_from_registered_avro_schema(base, n, registry):
    from confluent_kafka.schema_registry import Schema

    t = n.lower() + "_inferred"
    value = {"type": "record", "name": "Order", "namespace": "kctx.test", "fields": [
        {"name": "AMOUNT", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}],
         "default": None},
        {"name": "AT", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "TAGS", "type": {"type": "array", "items": "string"}},
        {"name": "KIND", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}}]}
    registry.register_schema(f"{t}-value", Schema(json.dumps(value), "AVRO"))
    registry.register_schema(f"{t}-key", Schema(json.dumps("string"), "AVRO"))
    ok(base, f"CREATE STREAM {n}_I WITH (KAFKA_TOPIC='{t}', PARTITIONS=1, FORMAT='AVRO');")
    (d,) = ok(base, f"DESCRIBE {n}_I;")
    got = [(f["name"], f["schema"]["type"], f.get("type")) for f in d["sourceDescription"]["fields"]]
    assert got == [("ROWKEY", "STRING", "KEY"), ("AMOUNT", "DECIMAL", None), ("AT", "TIMESTAMP", None),
                   ("TAGS", "ARRAY", None), ("KIND", "STRING", None)]
    # the registered schema is left as it was (ksqlDB registers nothing for inferred columns)
    assert len(registry.get_versions(f"{t}-value")) == 1


def test_header_columns(base, n, registry):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_H (ID STRING KEY, V INT, TRACE BYTES HEADER('trace-id'), SPAN BYTES HEADER('span')) "
             f"WITH (KAFKA_TOPIC='{t}_h', PARTITIONS=1, FORMAT='AVRO');"
             f"CREATE STREAM {n}_ALL (ID STRING KEY, V INT, HS ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>> HEADERS) "
             f"WITH (KAFKA_TOPIC='{t}_all', PARTITIONS=1, VALUE_FORMAT='JSON');")
    (d,) = ok(base, f"DESCRIBE {n}_H;")
    fields = d["sourceDescription"]["fields"]
    assert [(f["name"], f.get("type"), f.get("headerKey")) for f in fields] == [
        ("ID", "KEY", None), ("V", None, None), ("TRACE", "HEADER", "trace-id"), ("SPAN", "HEADER", "span")]
    assert list(fields[2]) == ["name", "schema", "type", "headerKey"]
    (d,) = ok(base, f"DESCRIBE {n}_ALL;")
    assert d["sourceDescription"]["fields"][2]["type"] == "HEADER"
    assert d["sourceDescription"]["fields"][2]["schema"]["memberSchema"]["type"] == "STRUCT"
    value = json.loads(registry.get_latest_version(f"{t}_h-value").schema.schema_str)
    assert [f["name"] for f in value["fields"]] == ["V"]  # headers are not in the value
    ok(base, f"CREATE STREAM {n}_HC AS SELECT * FROM {n}_H;")
    (d,) = ok(base, f"DESCRIBE {n}_HC;")
    assert [(f["name"], f.get("type")) for f in d["sourceDescription"]["fields"]] == [
        ("ID", "KEY"), ("V", None), ("TRACE", None), ("SPAN", None)]
    # ksqlDB: a HEADERS column excludes any other header column
    status, err = ksql(base, f"CREATE STREAM {n}_HH (HS ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>> HEADERS, "
                             f"T BYTES HEADER('t'), V INT) WITH (KAFKA_TOPIC='{t}_hh', PARTITIONS=1, VALUE_FORMAT='JSON');")
    assert (status, err["message"]) == (400, "Schema already contains a HEADERS column.")
    status, err = ksql(base, f"INSERT INTO {n}_H (ID, TRACE) VALUES ('a', null);")
    assert (status, err["message"]) == (400, "Cannot insert into HEADER columns: TRACE")
    status, err = ksql(base, f"INSERT INTO {n}_H SELECT * FROM {n}_HC;")
    assert (status, err["message"]) == (400, f"Cannot insert into {n}_H because it has header columns")
    status, err = ksql(base, f"CREATE STREAM {n}_HB (H INT HEADER('k')) WITH (KAFKA_TOPIC='{t}_hb', PARTITIONS=1, "
                             f"VALUE_FORMAT='JSON');")
    assert err["message"] == "Failed to prepare statement: Invalid type for HEADER('k') column: expected BYTES, got INTEGER"
    status, err = ksql(base, f"CREATE STREAM {n}_HB (H BYTES HEADERS) WITH (KAFKA_TOPIC='{t}_hb', PARTITIONS=1, "
                             f"VALUE_FORMAT='JSON');")
    assert err["message"] == ("Failed to prepare statement: Invalid type for HEADERS column: expected "
                              "ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got BYTES")


def test_show_topics(base, n):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_TP (V STRING) WITH (KAFKA_TOPIC='{t}_tp', PARTITIONS=3, VALUE_FORMAT='JSON');")
    (topics,) = ok(base, "SHOW TOPICS;")
    assert topics["@type"] == "kafka_topics"
    assert {"name": f"{t}_tp", "replicaInfo": [1, 1, 1]} in topics["topics"]
    assert not any(x["name"].startswith("_confluent-ksql") for x in topics["topics"])
    (all_topics,) = ok(base, "SHOW ALL TOPICS;")
    assert any(x["name"].endswith("_command_topic") for x in all_topics["topics"])
    (ext,) = ok(base, "SHOW TOPICS EXTENDED;")
    assert ext["@type"] == "kafka_topics_extended"
    x = next(x for x in ext["topics"] if x["name"] == f"{t}_tp")
    assert list(x) == ["name", "replicaInfo", "consumerCount", "consumerGroupCount"]


def test_variables_and_properties(base, n):
    t = n.lower()
    body = ok(base, f"DEFINE topic = '{t}_var'; DEFINE fmt = 'JSON'; SHOW VARIABLES; "
                    f"CREATE STREAM {n}_V (V STRING) WITH (KAFKA_TOPIC='${{topic}}', PARTITIONS=1, "
                    f"VALUE_FORMAT='${{fmt}}'); UNDEFINE fmt; SHOW VARIABLES;")
    first, created, second = body
    assert first["@type"] == "variables"
    assert first["variables"] == [{"name": "topic", "value": f"{t}_var"}, {"name": "fmt", "value": "JSON"}]
    assert created["commandStatus"]["message"] == "Stream created"
    assert second["variables"] == [{"name": "topic", "value": f"{t}_var"}]
    (vs,) = ok(base, "SHOW VARIABLES;", sessionVariables={"x": "1"})
    assert vs["variables"] == [{"name": "x", "value": "1"}]
    (props,) = ok(base, "SET 'auto.offset.reset'='earliest'; SHOW PROPERTIES;")
    assert props["@type"] == "properties"
    assert {"name": "auto.offset.reset", "scope": "STREAMS", "value": "earliest"} in props["properties"]
    assert props["overwrittenProperties"] == ["auto.offset.reset"]
    (props2,) = ok(base, "SET 'auto.offset.reset'='earliest'; UNSET 'auto.offset.reset'; SHOW PROPERTIES;")
    assert props2["overwrittenProperties"] == []


def test_alter_add_column(base, n, registry):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_A (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_a', PARTITIONS=1, "
             f"VALUE_FORMAT='AVRO');")
    (alter,) = ok(base, f"ALTER STREAM {n}_A ADD COLUMN W STRING, ADD COLUMN X BIGINT;")
    assert alter["commandId"] == f"stream/{n}_A/alter"
    assert alter["commandStatus"]["message"] == f"Stream {n}_A altered."
    (d,) = ok(base, f"DESCRIBE {n}_A;")
    assert [f["name"] for f in d["sourceDescription"]["fields"]] == ["ID", "V", "W", "X"]
    # as in ksqlDB, ALTER registers no schema (only CREATE and CREATE ... AS do)
    value = json.loads(registry.get_latest_version(f"{t}_a-value").schema.schema_str)
    assert [f["name"] for f in value["fields"]] == ["V"]


def test_registration_rules(base, n, registry):
    from confluent_kafka.schema_registry import Schema

    t = n.lower()
    # CREATE with columns over an existing subject leaves the subject alone
    mine = {"type": "record", "name": "Mine", "namespace": "kctx.test",
            "fields": [{"name": "V", "type": ["null", "int"], "default": None}]}
    registry.register_schema(f"{t}_own-value", Schema(json.dumps(mine), "AVRO"))
    ok(base, f"CREATE STREAM {n}_OWN (V INT) WITH (KAFKA_TOPIC='{t}_own', PARTITIONS=1, VALUE_FORMAT='AVRO');")
    assert len(registry.get_versions(f"{t}_own-value")) == 1
    # CREATE ... AS registers even when the subject exists, so an incompatible schema fails it
    theirs = {"type": "record", "name": "KsqlDataSourceSchema", "namespace": "io.confluent.ksql.avro_schemas",
              "fields": [{"name": "V", "type": ["null", "string"], "default": None}]}
    registry.register_schema(f"{t}_sink-value", Schema(json.dumps(theirs), "AVRO"))
    text = f"CREATE STREAM {n}_SINK WITH (KAFKA_TOPIC='{t}_sink', PARTITIONS=1) AS SELECT * FROM {n}_OWN;"
    status, err = ksql(base, text)
    assert status == 400 and err["@type"] == "statement_error"
    assert err["message"].startswith("Could not register schema for topic: "), err["message"]
    (streams,) = ok(base, "SHOW STREAMS;")
    assert f"{n}_SINK" not in [s["name"] for s in streams["streams"]]
    # VALUE_AVRO_SCHEMA_FULL_NAME names the registered record
    ok(base, f"CREATE STREAM {n}_FN (V INT) WITH (KAFKA_TOPIC='{t}_fn', PARTITIONS=1, VALUE_FORMAT='AVRO', "
             f"VALUE_AVRO_SCHEMA_FULL_NAME='com.example.Thing');")
    value = json.loads(registry.get_latest_version(f"{t}_fn-value").schema.schema_str)
    assert (value["namespace"], value["name"]) == ("com.example", "Thing")


def test_insert_into_terminate_and_drop(base, n):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_A (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_a', PARTITIONS=1, VALUE_FORMAT='JSON');"
             f"CREATE STREAM {n}_B (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_b', PARTITIONS=1, VALUE_FORMAT='JSON');")
    (ins,) = ok(base, f"INSERT INTO {n}_B SELECT * FROM {n}_A;")
    qid = ins["commandStatus"]["queryId"]
    assert re.fullmatch(r"INSERTQUERY_\d+", qid)
    assert ins["commandId"] == f"stream/`{n}_B`/create"
    status, err = ksql(base, f"DROP STREAM {n}_B;")
    assert status == 400
    assert err["message"] == (f"Cannot drop {n}_B.\nThe following queries read from this source: [].\n"
                              f"The following queries write into this source: [{qid}].\n"
                              f"You need to terminate them before dropping {n}_B.")
    (term,) = ok(base, f"TERMINATE {qid};")
    assert term["commandId"] == f"terminate/{qid}/execute"
    assert term["commandStatus"]["message"] == "Query terminated."
    ok(base, f"DROP STREAM {n}_B; DROP STREAM {n}_A;")


def consume_all(bootstrap: str, topic: str, count: int):
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"kctx-test-{topic}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out, deadline = [], time.monotonic() + 30
    try:
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                out.append(msg)
    finally:
        c.close()
    return out


def test_insert_values_produces_real_records(base, n, bootstrap_servers, schema_registry_url):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    t = n.lower()
    ok(base, f"CREATE STREAM {n}_J (ID STRING KEY, V INT, D DECIMAL(6, 2)) WITH (KAFKA_TOPIC='{t}_j', "
             f"PARTITIONS=1, VALUE_FORMAT='JSON');"
             f"CREATE TABLE {n}_A (ID BIGINT PRIMARY KEY, NAME STRING, SEEN TIMESTAMP) WITH (KAFKA_TOPIC='{t}_a', "
             f"PARTITIONS=1, FORMAT='AVRO');")
    assert ok(base, f"INSERT INTO {n}_J (ID, V, D) VALUES ('a', 1, 12.5); INSERT INTO {n}_J VALUES ('b', -2, null);"
                    f"INSERT INTO {n}_A (ROWTIME, ID, NAME, SEEN) VALUES (1700000000000, 42, 'x', '2024-01-02T03:04:05');"
                    ) == []
    (m1, m2) = consume_all(bootstrap_servers, f"{t}_j", 2)
    assert (m1.key(), json.loads(m1.value())) == (b"a", {"V": 1, "D": 12.5})
    assert (m2.key(), json.loads(m2.value())) == (b"b", {"V": -2, "D": None})
    (m,) = consume_all(bootstrap_servers, f"{t}_a", 1)
    assert m.timestamp()[1] == 1700000000000
    sr = SchemaRegistryClient({"url": schema_registry_url})
    key = AvroDeserializer(sr)(m.key(), SerializationContext(f"{t}_a", MessageField.KEY))
    value = AvroDeserializer(sr)(m.value(), SerializationContext(f"{t}_a", MessageField.VALUE))
    assert key == 42
    assert value["NAME"] == "x" and value["SEEN"].year == 2024
    status, err = ksql(base, f"INSERT INTO {n}_A (NAME) VALUES ('no key');")
    assert status == 400
    assert err["message"] == "Value for primary key column(s) ID is required for tables"


def test_drop_csas_sink_terminates_its_query(base, n):
    t = n.lower()
    ok(base, f"CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');"
             f"CREATE STREAM {n}_D AS SELECT * FROM {n}_S;")
    ok(base, f"DROP STREAM {n}_D DELETE TOPIC;")
    (queries,) = ok(base, "SHOW QUERIES;")
    assert not [q for q in queries["queries"] if q["sinks"] == [f"{n}_D"]]
    ok(base, f"DROP STREAM {n}_S;")


def test_create_or_replace_and_if_not_exists(base, n):
    t = n.lower()
    ddl = f"STREAM {n}_R (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_r', PARTITIONS=1, VALUE_FORMAT='JSON');"
    ok(base, "CREATE " + ddl)
    (warn,) = ok(base, f"CREATE STREAM IF NOT EXISTS {n}_R (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_r', "
                       f"VALUE_FORMAT='JSON');")
    assert warn["@type"] == "warning_entity"
    (rep,) = ok(base, f"CREATE OR REPLACE STREAM {n}_R (ID STRING KEY, V INT, W STRING) WITH "
                      f"(KAFKA_TOPIC='{t}_r', VALUE_FORMAT='JSON');")
    assert rep["commandStatus"]["message"] == "Stream created"
    (d,) = ok(base, f"DESCRIBE {n}_R;")
    assert [f["name"] for f in d["sourceDescription"]["fields"]] == ["ID", "V", "W"]


def test_restart_keeps_catalog(bootstrap_servers, schema_registry_url, n):
    import secrets

    sid = f"kctx_restart_{secrets.token_hex(4)}_"
    t = n.lower()
    first = Emulator(bootstrap_servers, schema_registry_url, sid)
    try:
        created = ok(first.url,
                     f"CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, "
                     f"VALUE_FORMAT='JSON'); CREATE TABLE {n}_T AS SELECT ID, SUM(V) AS TOTAL FROM {n}_S GROUP BY ID;"
                     f"ALTER STREAM {n}_S ADD COLUMN W STRING;")
        last_seq = created[-1]["commandSequenceNumber"]
    finally:
        first.stop()
    second = Emulator(bootstrap_servers, schema_registry_url, sid)
    try:
        streams, tables, queries = ok(second.url, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;")
        assert [s["name"] for s in streams["streams"]] == [f"{n}_S"]
        assert [s["name"] for s in tables["tables"]] == [f"{n}_T"]
        assert [q["id"] for q in queries["queries"]] == [f"CTAS_{n}_T_{last_seq - 1}"]
        (d,) = ok(second.url, f"DESCRIBE {n}_S;")
        assert [f["name"] for f in d["sourceDescription"]["fields"]] == ["ID", "V", "W"]
        (again,) = ok(second.url, f"DROP TABLE {n}_T;")
        assert again["commandSequenceNumber"] == last_seq + 1
        status, _, st = http("GET", second.url + f"/status/table/`{n}_T`/create".replace("`", "%60"))
        assert status == 200 and st["status"] == "SUCCESS"
    finally:
        second.stop(forget=True)


def test_terminate_cluster_endpoint(bootstrap_servers, schema_registry_url, n):
    import secrets

    e = Emulator(bootstrap_servers, schema_registry_url, f"kctx_term_{secrets.token_hex(4)}_")
    try:
        t = n.lower()
        ok(e.url, f"CREATE STREAM {n}_S (V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');"
                  f"CREATE STREAM {n}_D AS SELECT * FROM {n}_S;")
        status, _, body = http("POST", e.url + "/ksql/terminate", {"deleteTopicList": [f"{n}_D"]})
        assert status == 200 and body[0]["commandId"] == "cluster/TerminateCluster/terminate"
        streams, = ok(e.url, "SHOW STREAMS;")
        assert streams["streams"] == []
        assert topic_info(bootstrap_servers, f"{n}_D") is None
        assert topic_info(bootstrap_servers, f"{t}_s") == (1, 1)
    finally:
        e.stop(forget=True)


# ---------------------------------------------------------------------------
# bad input: ksqlDB's error entities and messages
# ---------------------------------------------------------------------------

BAD = [
    # (id, setup statements, bad statement, http status, error_code, message; {n} = prefix, {t} = topic prefix)
    ("syntax", "", "CREATE STREAM {n}_X (ID STRING KEY, V INT WITH (KAFKA_TOPIC='x');", 400, 40001,
     "line 1:{col}: Syntax Error\nSyntax error at or near 'WITH' at line 1:{col}"),
    ("unknown-statement", "", "CRATE STREAM {n}_X (V INT) WITH (KAFKA_TOPIC='x');", 400, 40001,
     "line 1:1: Syntax Error\nUnknown statement 'CRATE'\nDid you mean 'CREATE'?"),
    ("unknown-type", "", "CREATE STREAM {n}_X (V FOO) WITH (KAFKA_TOPIC='{t}_x', VALUE_FORMAT='JSON');", 400, 40001,
     "Failed to prepare statement: Cannot resolve unknown type: FOO"),
    ("numeric-literal-overflow",
     "CREATE STREAM {n}_S (ID STRING KEY, V BIGINT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE STREAM {n}_X AS SELECT ID, V + 9223372036854775808 AS W FROM {n}_S;", 400, 40001,
     "Failed to prepare statement: line 1:{col}: Invalid numeric literal: 9223372036854775808"),
    ("describe-unknown", "", "DESCRIBE {n}_NOPE;", 400, 40001,
     "Could not find STREAM/TABLE '{n}_NOPE' in the Metastore"),
    ("drop-unknown", "", "DROP STREAM {n}_NOPE;", 400, 40001, "Stream {n}_NOPE does not exist."),
    ("drop-table-unknown", "", "DROP TABLE {n}_NOPE;", 400, 40001, "Table {n}_NOPE does not exist."),
    ("duplicate-stream", "CREATE STREAM {n}_S (V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE STREAM {n}_S (V INT) WITH (KAFKA_TOPIC='{t}_s', VALUE_FORMAT='JSON');", 400, 40001,
     "Cannot add stream '{n}_S': A stream with the same name already exists"),
    ("duplicate-table-over-stream",
     "CREATE STREAM {n}_S (V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE TABLE {n}_S (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', VALUE_FORMAT='JSON');", 400, 40001,
     "Cannot add table '{n}_S': A stream with the same name already exists"),
    ("missing-topic", "", "CREATE STREAM {n}_X (V INT) WITH (KAFKA_TOPIC='{t}_missing', VALUE_FORMAT='JSON');",
     400, 40001,
     "Topic '{t}_missing' does not exist. If you want to create a new topic for the stream/table please re-run "
     "the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally "
     "'REPLICAS'). For example: "),
    ("table-without-key", "", "CREATE TABLE {n}_X (V INT) WITH (KAFKA_TOPIC='{t}_x', PARTITIONS=1, VALUE_FORMAT='JSON');",
     400, 40001, "Tables require a PRIMARY KEY. Please define the PRIMARY KEY."),
    ("no-value-format", "", "CREATE STREAM {n}_X (V INT) WITH (KAFKA_TOPIC='{t}_x', PARTITIONS=1);", 400, 40001,
     "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default "
     "via the 'ksql.persistence.default.format.value' config."),
    ("select-on-ksql-endpoint", "", "SELECT * FROM {n}_S EMIT CHANGES;", 400, 40002,
     "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT"),
    ("unsupported-statement", "", "PAUSE CSAS_FOO_1;", 400, 40001,
     "The kctx ksqlDB emulator does not support PAUSE statements (PAUSE)."),
    ("explain-unknown-query", "", "EXPLAIN CSAS_{n}_NOPE_1;", 400, 40001,
     "Query with id:CSAS_{n}_NOPE_1 does not exist, use SHOW QUERIES to view the full set of queries."),
    ("csas-unknown-source", "", "CREATE STREAM {n}_X AS SELECT * FROM {n}_NOPE;", 400, 40001,
     "Line: 1, Col: {col}: Source `{n}_NOPE` does not exist."),
    ("csas-unknown-column",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE STREAM {n}_X AS SELECT ID, BOB FROM {n}_S;", 400, 40001, "SELECT column 'BOB' cannot be resolved."),
    ("csas-key-missing",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE STREAM {n}_X AS SELECT V FROM {n}_S;", 400, 40001,
     "Key missing from projection (ie, SELECT). \nThe query used to build `{n}_X` must include the key column ID "
     "in its projection (eg, SELECT ID...)."),
    ("ctas-not-grouped",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT, W INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE TABLE {n}_X AS SELECT ID, W, COUNT(*) FROM {n}_S GROUP BY ID;", 400, 40001,
     "Non-aggregate SELECT expression(s) not part of GROUP BY: W\n"
     "Either add the column(s) to the GROUP BY or remove them from the SELECT."),
    ("csas-produces-table",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "CREATE STREAM {n}_X AS SELECT ID, COUNT(*) AS C FROM {n}_S GROUP BY ID;", 400, 40001,
     "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead."),
    ("drop-while-read",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');"
     "CREATE STREAM {n}_D AS SELECT * FROM {n}_S;",
     "DROP STREAM {n}_S;", 400, 40001,
     "Cannot drop {n}_S.\nThe following streams and/or tables read from this source: [{n}_D].\n"
     "You need to drop them before dropping {n}_S."),
    ("drop-wrong-type",
     "CREATE STREAM {n}_S (V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "DROP TABLE {n}_S;", 400, 40001, "Incompatible data source type is stream, but statement was DROP table"),
    ("terminate-unknown", "", "TERMINATE CSAS_{n}_NOPE_7;", 400, 40001, "Unknown queryId: CSAS_{n}_NOPE_7"),
    ("alter-cas-target",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');"
     "CREATE STREAM {n}_D AS SELECT * FROM {n}_S;",
     "ALTER STREAM {n}_D ADD COLUMN W INT;", 400, 40001,
     "ALTER command is not supported for CREATE ... AS statements."),
    ("alter-duplicate-column",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "ALTER STREAM {n}_S ADD COLUMN V STRING;", 400, 40001,
     "Cannot add column `V` to schema. A column with the same name already exists."),
    ("avro-map-key", "",
     "CREATE STREAM {n}_X (M MAP<INT, STRING>) WITH (KAFKA_TOPIC='{t}_x', PARTITIONS=1, VALUE_FORMAT='AVRO');",
     400, 40001, "Avro only supports MAPs with STRING keys"),
    ("reserved-column", "",
     "CREATE STREAM {n}_X (ROWTIME BIGINT) WITH (KAFKA_TOPIC='{t}_x', PARTITIONS=1, VALUE_FORMAT='JSON');",
     400, 40001, "'ROWTIME' is a reserved column name. You cannot use it as a name for a column."),
    ("no-schema-to-infer", "",
     "CREATE STREAM {n}_X WITH (KAFKA_TOPIC='{t}_x', PARTITIONS=1, VALUE_FORMAT='AVRO');", 400, 40001,
     "Schema for message values on topic '{t}_x' does not exist in the Schema Registry.\nSubject: {t}_x-value\n"),
    ("insert-unknown-source", "", "INSERT INTO {n}_NOPE (V) VALUES (1);", 400, 40001,
     "Cannot insert values into an unknown stream/table: `{n}_NOPE`"),
    ("insert-unknown-column",
     "CREATE STREAM {n}_S (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "INSERT INTO {n}_S (ID, W) VALUES ('a', 1);", 400, 40001, "Column name W does not exist."),
    ("primary-key-on-stream", "",
     "CREATE STREAM {n}_X (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='{t}_x', PARTITIONS=1, VALUE_FORMAT='JSON');",
     400, 40001,
     "Column `K` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are "
     "unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints."),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input(base, n, bootstrap_servers, case):
    _, setup, bad, status, code, message = case
    t = n.lower()
    fill = lambda s: s.replace("{n}", n).replace("{t}", t)  # noqa: E731
    if setup:
        ok(base, fill(setup))
    before = ok(base, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;")
    text = fill(bad)
    got_status, err = ksql(base, text)
    assert got_status == status
    assert list(err) == ["@type", "error_code", "message", "statementText", "entities"]
    assert err["@type"] == "statement_error"
    assert err["error_code"] == code
    assert err["statementText"] == text
    assert err["entities"] == []
    want = fill(message)
    if "{col}" in want:
        want = re.escape(want).replace(re.escape("{col}"), r"\d+")
        assert re.fullmatch(want, err["message"]), err["message"]
    elif want.endswith(("For example: ", "\n")):
        assert err["message"].startswith(want), err["message"]
    else:
        assert err["message"] == want
    # a rejected statement changes nothing
    assert ok(base, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;") == before
    if case[0] == "missing-topic":
        assert topic_info(bootstrap_servers, f"{t}_missing") is None


def test_error_positions_count_in_the_whole_request(base, n):
    t = n.lower()
    text = (f"CREATE STREAM {n}_P (V INT) WITH (KAFKA_TOPIC='{t}_p', PARTITIONS=1, VALUE_FORMAT='JSON');\n"
            f"  CREATE STREAM {n}_Q (V INT WITH (KAFKA_TOPIC='x');")
    status, err = ksql(base, text)
    assert status == 400
    col = len(f"  CREATE STREAM {n}_Q (V INT ") + 1
    assert err["message"].startswith(f"line 2:{col}: Syntax Error\n"), err["message"]
    assert err["statementText"] == f"CREATE STREAM {n}_Q (V INT WITH (KAFKA_TOPIC='x');"


def test_failed_statement_in_a_request_runs_none_of_it(base, n):
    t = n.lower()
    text = (f"CREATE STREAM {n}_OK (V INT) WITH (KAFKA_TOPIC='{t}_ok', PARTITIONS=1, VALUE_FORMAT='JSON');"
            f"DROP STREAM {n}_NOPE;")
    status, err = ksql(base, text)
    assert status == 400 and err["message"] == f"Stream {n}_NOPE does not exist."
    assert err["statementText"] == f"DROP STREAM {n}_NOPE;"
    (streams,) = ok(base, "SHOW STREAMS;")
    assert f"{n}_OK" not in [s["name"] for s in streams["streams"]]


def test_command_sequence_number(base, n):
    t = n.lower()
    (created,) = ok(base, f"CREATE STREAM {n}_Q (V INT) WITH (KAFKA_TOPIC='{t}_q', PARTITIONS=1, VALUE_FORMAT='JSON');")
    seq = created["commandSequenceNumber"]
    ok(base, "SHOW STREAMS;", commandSequenceNumber=seq)  # already reached: runs at once
    status, _, body = http("POST", base + "/ksql", {"ksql": "SHOW STREAMS;", "commandSequenceNumber": seq + 1000})
    assert status == 503
    assert body == {"@type": "generic_error", "error_code": 50301,
                    "message": "Timed out while waiting for a previous command to execute. "
                               f"command sequence number: {seq + 1000}"}


def test_port_taken_is_one_clear_line(emu, bootstrap_servers, schema_registry_url):
    proc = subprocess.run(
        [sys.executable, "-m", "tests.stack.ksqldb_emulator", "--port", str(emu.port),
         "--bootstrap-servers", bootstrap_servers, "--schema-registry-url", schema_registry_url],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == f"ksqldb-emulator: cannot listen on 127.0.0.1:{emu.port}: Address already in use\n"


def test_malformed_request_body(base):
    status, ctype, body = http("POST", base + "/ksql", {"streamsProperties": {}})
    assert status == 400 and ctype == MEDIA
    assert body["@type"] == "generic_error" and body["error_code"] == 40000
    req = urllib.request.Request(base + "/ksql", data=b"{not json", method="POST",
                                 headers={"Content-Type": MEDIA})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 400
    assert json.loads(exc.value.read())["error_code"] == 40000


def test_kctx_ksqldb_client_against_the_emulator(base, n):
    # kctx's own REST client (kctx_cli.backends.ksqldb) drives the emulator end to end
    from kctx_cli.backends.ksqldb import KsqlClient, KsqlStatementError

    t = n.lower()
    client = KsqlClient(base)
    assert "emulator" in client.info()
    client.execute(f"CREATE STREAM {n}_K (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{t}_k', PARTITIONS=1, "
                   f"VALUE_FORMAT='JSON');")
    first = client.sequence
    client.execute(f"CREATE TABLE {n}_KT AS SELECT ID, COUNT(*) AS C FROM {n}_K GROUP BY ID;")
    assert client.sequence == first + 1
    assert client.describe(f"{n}_KT")["fields"][0]["name"] == "ID"
    assert client.describe(f"{n}_NOPE") is None
    assert {f"{n}_K", f"{n}_KT"} <= {s["name"] for s in client.sources()}
    assert any(q["sinks"] == [f"{n}_KT"] for q in client.queries())
    with pytest.raises(KsqlStatementError) as exc:
        client.execute(f"DROP STREAM {n}_K;")
    assert exc.value.reason.startswith(f"Cannot drop {n}_K.")
    assert exc.value.code == 40001

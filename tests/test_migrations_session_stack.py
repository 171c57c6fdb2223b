"""Field cases F09 and F10 on the real stack (issue 10 item 1): a hand-written migration with
DEFINE + ${var} is applied with its variables substituted, and the SETs before a CREATE ...
AS SELECT reach ksqlDB as the request's streamsProperties (seen on the wire through F10's
logging proxy, and in EXPLAIN's overridden properties: the query reads from the start).

The field cases' run.sh scaffold their project with `kctx init`, which no longer ships a
sample V000001 (issue 10 item 7); here the project's V000001 creates the EVENTS stream, and
the case's file comes after it as in run.sh.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kctx_cli.backends.ksqldb import KsqlClient
from tests.helpers import SHARED, make_project, run_kctx
from tests.ksql_migrations_tool import read_topic

FIELD = SHARED / "field-cases"


def _project(tmp_path: Path, unique_name: str) -> tuple[Path, dict]:
    """A project whose V000001 (hand-written, JSON values) creates the EVENTS stream."""
    root = make_project(tmp_path / "p", {})
    (root / "migrations" / "V000001__events.sql").write_text(
        f"CREATE STREAM {unique_name}_EVENTS (EVENT_ID STRING KEY, KIND STRING, AMOUNT INT)\n"
        f"  WITH (KAFKA_TOPIC='{unique_name}_events', PARTITIONS=1, VALUE_FORMAT='JSON');\n")
    return root, {"KCTX_MIGRATIONS_TOPIC": f"_kctx_migrations_{unique_name}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_f09_define_and_variables_are_substituted(stack, tmp_path, unique_name):
    """F09: V000002 DEFINEs the stream and topic names; migrate applies it with them
    substituted: NOTES_V2 exists (no stream named after the variable), its topic holds both
    rows with their strings intact, and status shows the version MIGRATED."""
    root, env = _project(tmp_path, unique_name)
    case = (FIELD.glob("F09-*").__next__() / "V000002__notes.sql").read_text()
    stream, topic = f"{unique_name}_NOTES_V2".upper(), f"{unique_name}_notes_v2"
    text = case.replace("'NOTES_V2'", f"'{stream}'").replace("'notes_v2'", f"'{topic}'")
    assert text != case
    (root / "migrations" / "V000002__notes.sql").write_text(text)
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "${" not in r.stdout.replace("DEFINE", "")  # every statement sent was substituted
    assert KsqlClient(stack.ksqldb_url).describe("STREAMNAME") is None
    described = KsqlClient(stack.ksqldb_url).describe(stream)
    assert described is not None and described["topic"] == topic
    rows = sorted(json.loads(v)["BODY"] for v in read_topic(stack.bootstrap_servers, topic))
    assert rows == ["first; second", f"it's {topic}"]
    status = json.loads(run_kctx("status", "-o", "json", cwd=root, env=env).stdout)
    assert [v["state"] for v in status["versions"]] == ["MIGRATED", "MIGRATED"]


def test_f10_set_properties_reach_the_csas(stack, tmp_path, unique_name):
    """F10: through the case's logging proxy, the CSAS request carries streamsProperties
    {auto.offset.reset: earliest, ksql.output.topic.name.prefix: team_a_}; no request is
    sent for SET/UNSET; the sink topic has the prefix, EXPLAIN lists both properties and
    the query read the rows written before it (it starts from the beginning)."""
    root, env = _project(tmp_path, unique_name)
    events = f"{unique_name}_EVENTS".upper()
    big = f"{unique_name}_BIG_EVENTS".upper()
    case = (FIELD.glob("F10-*").__next__() / "V000002__set_props.sql").read_text()
    text = case.replace("BIG_EVENTS", big).replace("FROM EVENTS", f"FROM {events}")
    (root / "migrations" / "V000002__rows.sql").write_text(
        f"INSERT INTO {events} (EVENT_ID, KIND, AMOUNT) VALUES ('e1', 'small', 5);\n"
        f"INSERT INTO {events} (EVENT_ID, KIND, AMOUNT) VALUES ('e2', 'big', 500);\n")
    (root / "migrations" / "V000003__set_props.sql").write_text(text)
    log = tmp_path / "requests.jsonl"
    port = _free_port()
    proxy = subprocess.Popen([sys.executable, str(FIELD.glob("F10-*").__next__() / "logproxy.py"), str(port),
                              stack.ksqldb_url, str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        r = run_kctx("migrate", cwd=root, env={**env, "KCTX_KSQLDB_URL": f"http://127.0.0.1:{port}"})
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    csas = [b for b in sent if b["ksql"].startswith(f"CREATE STREAM {big}")]
    assert csas  # more than one when ksqlDB's command topic was busy and kctx sent it again
    for body in csas:
        assert body["streamsProperties"] == {"auto.offset.reset": "earliest", "ksql.output.topic.name.prefix": "team_a_"}
    assert not [b for b in sent if b["ksql"].lstrip().upper().startswith(("SET ", "UNSET "))]
    assert all(not b.get("streamsProperties") for b in sent if "INSERT" in b["ksql"])

    client = KsqlClient(stack.ksqldb_url)
    described = client.describe(big)
    assert described["topic"] == f"team_a_{big}"
    (qid,) = client.write_queries(big)
    explain = next(e for e in client.request(f"EXPLAIN {qid};") if e.get("@type") == "queryDescription")
    overridden = explain["queryDescription"]["overriddenProperties"]
    assert overridden.get("auto.offset.reset") == "earliest"
    assert overridden.get("ksql.output.topic.name.prefix") == "team_a_"
    # earliest: the row written before the query started is there
    deadline = time.monotonic() + 60
    rows = []
    while time.monotonic() < deadline and not rows:
        rows = [json.loads(v) for v in read_topic(stack.bootstrap_servers, f"team_a_{big}")]
        time.sleep(0.5)
    assert [row["AMOUNT"] for row in rows] == [500]
    client.terminate_writers(big)


def test_create_and_alter_already_in_the_cluster_are_already_there(stack, tmp_path, unique_name):
    """A plain CREATE or an ALTER ... ADD COLUMN is sent at once (no DESCRIBE before it);
    when its effect is already in the cluster (made by hand, or by a run that died before
    recording it), ksqlDB's "already exists" is checked against the catalog and the step is
    "already there", as before; a CREATE of another kind of source under that name is still
    refused (validate's replay, before anything is sent)."""
    name = f"{unique_name}_HAND".upper()
    ddl = f"CREATE STREAM {name} (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='{unique_name}_hand', PARTITIONS=1, " \
          "VALUE_FORMAT='JSON');"
    client = KsqlClient(stack.ksqldb_url)
    client.execute(ddl)
    client.execute(f"ALTER STREAM {name} ADD COLUMN NOTE STRING;")
    root = make_project(tmp_path / "p", {})
    (root / "migrations" / "V000001__hand.sql").write_text(f"{ddl}\nALTER STREAM {name} ADD COLUMN NOTE STRING;\n")
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_migrations_{unique_name}"}
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("... already there") == 2, r.stdout
    (root / "migrations" / "V000002__clash.sql").write_text(
        f"CREATE TABLE {name} (ID STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='{unique_name}_hand', "
        "VALUE_FORMAT='JSON');\n")
    r = run_kctx("migrate", cwd=root, env=env)
    assert r.returncode == 1 and "V000002__clash.sql:1" in r.stderr and "already exists" in r.stderr

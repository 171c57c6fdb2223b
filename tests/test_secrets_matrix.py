"""The secrets matrix (SPEC §9, issue 12): every command that talks to a server × every way
a secret can enter (kctx.toml, ``${VAR}``, ``KCTX_*``, URL userinfo) × every failure of the
Schema Registry and ksqlDB (connection refused, 401, 500 with an HTML page, a timeout).

Kafka is the real stack's (its records reach the registry-decoding paths and the history
topic); the registry and ksqlDB addresses point at small HTTP servers started here, which
echo the credentials they were sent back into their error bodies, as careless servers and
proxies do. After each run: stdout, stderr, every file under the project and the history
topic read back with a plain consumer hold none of the secrets.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import run_kctx

ENTRIES = ("toml", "var", "env", "url")
FAILURES = ("refused", "401", "500html", "timeout")


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "401"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization") or ""
        decoded = ""
        if auth.startswith("Basic "):
            try:
                decoded = base64.b64decode(auth[6:]).decode()
            except Exception:  # noqa: BLE001
                decoded = "?"
        if self.server.mode == "timeout":
            time.sleep(8)
            return
        if self.server.mode == "401":
            body = json.dumps({"error_code": 40101, "message": f"Unauthorized: bad credentials {decoded} ({auth})"})
            ctype, status = "application/json", 401
        else:
            body = (f"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
                    f"<body><h1>Internal Server Error</h1><pre>login {decoded} {auth}\n"
                    f"at io.confluent.Foo(Foo.java:1)</pre></body></html>\n")
            ctype, status = "text/html", 500
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def failing_servers():
    """``{failure: "127.0.0.1:PORT"}``: a closed port for "refused", HTTP servers for the rest."""
    servers, out = [], {}
    for mode in ("401", "500html", "timeout"):
        srv = _Server(("127.0.0.1", 0), _Handler)
        srv.mode = mode
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        out[mode] = f"127.0.0.1:{srv.server_address[1]}"
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    out["refused"] = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()
    yield out
    for srv in servers:
        srv.shutdown()


@pytest.fixture(scope="module")
def data_topic(bootstrap_servers):
    """A topic and its DLQ with one record each framed for the registry (schema id 987654),
    so tail, dlq and cache ask the registry for its schema."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    import secrets as s

    name = f"t_secmatrix_{s.token_hex(3)}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for fut in admin.create_topics([NewTopic(name, 1, 1), NewTopic(name + "-dlq", 1, 1)]).values():
        fut.result(30)
    p = Producer({"bootstrap.servers": bootstrap_servers})
    framed = b"\x00" + (987654).to_bytes(4, "big") + b"\x02\x06abc"
    p.produce(name, key=b"k1", value=framed)
    p.produce(name + "-dlq", key=b"k1", value=framed, headers=[
        ("__connect.errors.topic", name.encode()), ("__connect.errors.partition", b"0"),
        ("__connect.errors.offset", b"0"), ("__connect.errors.exception.class.name", b"x.Err")])
    p.flush(30)
    yield name
    for fut in admin.delete_topics([name, name + "-dlq"]).values():
        try:
            fut.result(30)
        except Exception:  # noqa: BLE001
            pass


MIGRATION = """-- kctx:up
-- kctx:create-topic {{"configs":{{}},"name":"{p}_a","partitions":1,"replicas":1}}
-- kctx:register-schema {{"first":true,"schema":{{"type":"record","name":"A","fields":[{{"name":"id","type":"string"}}]}},"subject":"{p}_a-value"}}
CREATE STREAM {P}_A (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='{p}_a', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');

-- kctx:down
-- kctx:delete-subject {{"subject":"{p}_a-value"}}
-- kctx:delete-topic {{"name":"{p}_a"}}
"""


def _commands(topic: str, prefix: str, cache_dir: str) -> list[tuple[str, ...]]:
    return [
        ("doctor",),
        ("doctor", "-o", "json"),
        ("config", "show", "-o", "json"),
        ("status",),
        ("plan",),
        ("migrate",),
        ("validate", "--live"),
        ("baseline", "--include", f"^{prefix}"),
        ("repair", "--dry-run"),
        ("tail", topic, "--max", "1", "-o", "jsonl"),
        ("dlq", "show", topic + "-dlq", "--max", "1", "-o", "json"),
        ("dlq", "replay", topic + "-dlq", "--dry-run"),
        ("cache", "warm", topic, "--cache-dir", cache_dir),
    ]


def _setup(root: Path, entry: str, failure: str, addr: str, bootstrap: str, prefix: str):
    """Write the project for one cell; returns (env, secrets)."""
    tag = f"{entry}{failure}{prefix[-6:]}"
    sec = {"kafka": f"KafkaPw-{tag}", "reg": f"RegPw-{tag}", "ksql": f"KsqlPw-{tag}"}
    reg_url, ksql_url = f"http://{addr}", f"http://{addr}"
    kafka, reg, ksql = {}, {"timeout": "2"}, {"timeout": "2"}
    env = {"KCTX_BOOTSTRAP_SERVERS": bootstrap, "KCTX_MIGRATIONS_TOPIC": f"_kctx_{prefix}",
           "KCTX_SCHEMA_REGISTRY_URL": None, "KCTX_KSQLDB_URL": None}
    if entry == "toml":
        kafka["sasl.password"] = sec["kafka"]
        reg["basic.auth.user.info"] = f"reguser:{sec['reg']}"
        ksql["basic.auth.user.info"] = f"ksqluser:{sec['ksql']}"
    elif entry == "var":
        kafka["sasl.password"] = "${T_KAFKA_PW}"
        reg["basic.auth.user.info"] = "reguser:${T_REG_PW}"
        ksql["basic.auth.user.info"] = "${T_KSQL_UI}"
        env.update(T_KAFKA_PW=sec["kafka"], T_REG_PW=sec["reg"], T_KSQL_UI=f"ksqluser:{sec['ksql']}")
    elif entry == "env":
        env.update(KCTX_KAFKA_SASL_PASSWORD=sec["kafka"],
                   KCTX_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO=f"reguser:{sec['reg']}",
                   KCTX_KSQLDB_BASIC_AUTH_USER_INFO=f"ksqluser:{sec['ksql']}")
    else:  # URL userinfo: user:pass@ for the registry, a token-only URL for ksqlDB
        kafka["sasl.password"] = sec["kafka"]
        reg_url = f"http://reguser:{sec['reg']}@{addr}"
        ksql_url = f"http://{sec['ksql']}@{addr}"

    def table(name, d):
        return f"[env.default.{name}]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in d.items())

    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("")
    (root / "migrations").mkdir()
    (root / "migrations" / "V000001__first.sql").write_text(MIGRATION.format(p=prefix, P=prefix.upper()))
    (root / "kctx.toml").write_text(
        '[project]\nmodels = "models"\nmigrations = "migrations"\n'
        f'[env.default]\nschema_registry_url = "{reg_url}"\nksqldb_url = "{ksql_url}"\n'
        + table("kafka", kafka) + table("schema_registry", reg) + table("ksqldb", ksql))
    return env, sec


def _history_values(bootstrap: str, topic: str) -> list[str]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "t-secmatrix", "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return []
        _, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, 0)])
        out = []
        while len(out) < high:
            m = c.poll(5)
            assert m is not None, "history topic not fully readable"
            out.append((m.key() or b"").decode("utf-8", "replace") + " " + (m.value() or b"").decode("utf-8", "replace"))
        return out
    finally:
        c.close()


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("entry", ENTRIES)
def test_no_secret_anywhere(tmp_path, entry, failure, failing_servers, data_topic, bootstrap_servers, unique_name):
    root = tmp_path / "p"
    env, sec = _setup(root, entry, failure, failing_servers[failure], bootstrap_servers, unique_name)
    cmds = _commands(data_topic, unique_name, str(tmp_path / "cache"))
    # migrate first: its failure is recorded in the history, which status then prints
    results = [(cmds[5], run_kctx(*cmds[5], cwd=root, env=env, timeout=90))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results += list(pool.map(lambda a: (a, run_kctx(*a, cwd=root, env=env, timeout=90)), cmds[:5] + cmds[6:]))
    leaks = []
    for args, res in results:
        out = res.stdout + res.stderr
        assert "Traceback" not in out, (args, out)
        # a server the command needs fails: exit 1; config show reads no server; status,
        # tail, dlq and cache may get by with Kafka alone (a record they cannot decode is data)
        expected = {"config": (0,), "status": (0, 1), "tail": (0, 1), "cache": (0, 1), "dlq": (0, 1)}.get(args[0], (1,))
        assert res.returncode in expected, (args, res.returncode, out)
        if res.returncode == 1:
            errs = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
            assert len(errs) <= 1, (args, res.stderr)
        leaks += [(args, name) for name, v in sec.items() if v in out]
        b64 = [base64.b64encode(f"{u}:{sec[n]}".encode()).decode() for u, n in (("reguser", "reg"), ("ksqluser", "ksql"))]
        leaks += [(args, "base64") for b in b64 if b in out]
    # each failure is told as what it is, in one line per server
    doctor = json.loads(dict(results)[("doctor", "-o", "json")].stdout)
    said = {"refused": "connection refused", "401": "refused the credentials (HTTP 401)",
            "500html": 'HTML page "500 Internal Server Error"', "timeout": "timed out"}[failure]
    for check in doctor["checks"][1:]:
        assert check["status"] == "failed" and said in check["detail"], check
        assert "<" not in check["detail"] and "\n" not in check["detail"]
    for path in list(root.rglob("*")) + list((tmp_path / "cache").rglob("*")):
        if path.is_file() and path.name != "kctx.toml":
            text = path.read_bytes().decode("utf-8", "replace")
            leaks += [(str(path), name) for name, v in sec.items() if v in text]
    for rec in _history_values(bootstrap_servers, f"_kctx_{unique_name}"):
        leaks += [("history", name) for name, v in sec.items() if v in rec]
        assert "<html" not in rec.lower()
    assert not leaks, leaks

"""Every command that talks to a server, against servers that require authentication
(SPEC §9, issue 12): Kafka's SASL_SSL listener (PLAIN over TLS), the Schema Registry behind
TLS + basic auth + a required client certificate (mTLS), ksqlDB behind TLS + basic auth —
the endpoints ``tests/stack/up`` starts (tests/stack/auth.py) and prints as KCTX_AUTH_*.
A wrong password or a missing client certificate is one clear line without the secret,
exit 1.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import STACK_DIR
from tests.helpers import run_kctx

AUTH_VARS = ("KCTX_AUTH_BOOTSTRAP_SERVERS", "KCTX_AUTH_KAFKA_USER", "KCTX_AUTH_KAFKA_PASSWORD",
             "KCTX_AUTH_SCHEMA_REGISTRY_URL", "KCTX_AUTH_KSQLDB_URL", "KCTX_AUTH_HTTP_USER", "KCTX_AUTH_HTTP_PASSWORD",
             "KCTX_AUTH_CA", "KCTX_AUTH_CLIENT_CERT", "KCTX_AUTH_CLIENT_KEY")

TOML = """\
[project]
models = "models"
migrations = "migrations"

[env.default]
bootstrap_servers = "${KCTX_AUTH_BOOTSTRAP_SERVERS}"
schema_registry_url = "${KCTX_AUTH_SCHEMA_REGISTRY_URL}"
ksqldb_url = "${KCTX_AUTH_KSQLDB_URL}"

[env.default.kafka]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "PLAIN"
"sasl.username" = "${KCTX_AUTH_KAFKA_USER}"
"sasl.password" = "${KCTX_AUTH_KAFKA_PASSWORD}"
"ssl.ca.location" = "${KCTX_AUTH_CA}"

[env.default.schema_registry]
"basic.auth.user.info" = "${KCTX_AUTH_HTTP_USER}:${KCTX_AUTH_HTTP_PASSWORD}"
"ssl.ca.location" = "${KCTX_AUTH_CA}"
"ssl.certificate.location" = "${KCTX_AUTH_CLIENT_CERT}"
"ssl.key.location" = "${KCTX_AUTH_CLIENT_KEY}"

[env.default.ksqldb]
"basic.auth.user.info" = "${KCTX_AUTH_HTTP_USER}:${KCTX_AUTH_HTTP_PASSWORD}"
"ssl.ca.location" = "${KCTX_AUTH_CA}"
"""

MIGRATION = """-- kctx:up
-- kctx:create-topic {{"configs":{{}},"name":"{p}_a","partitions":1,"replicas":1}}
-- kctx:create-topic {{"configs":{{}},"name":"{p}_a-dlq","partitions":1,"replicas":1}}
-- kctx:set-compatibility {{"level":"FULL","subject":"{p}_a-value","was":null}}
-- kctx:register-schema {{"first":true,"schema":{{"type":"record","name":"A","fields":[{{"name":"id","type":"string"}}]}},"subject":"{p}_a-value"}}
CREATE STREAM {P}_A (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='{p}_a', KEY_FORMAT='KAFKA', VALUE_FORMAT='JSON');

-- kctx:down
-- DROP STREAM {P}_A;
-- kctx:delete-subject {{"subject":"{p}_a-value"}}
-- kctx:set-compatibility {{"level":null,"subject":"{p}_a-value"}}
-- kctx:delete-topic {{"name":"{p}_a-dlq"}}
-- kctx:delete-topic {{"name":"{p}_a"}}
"""


@pytest.fixture(scope="module")
def auth(stack_addresses) -> dict[str, str]:
    """The KCTX_AUTH_* variables: from the environment (eval "$(tests/stack/up)"), else
    from the stack's addresses file."""
    values = {k: os.environ[k] for k in AUTH_VARS if os.environ.get(k)}
    if len(values) < len(AUTH_VARS):
        try:
            lines = (STACK_DIR / "addresses.env").read_text().splitlines()
        except OSError:
            lines = []
        values = {**dict(ln.split("=", 1) for ln in lines if "=" in ln and ln.startswith("KCTX_AUTH_")), **values}
    missing = [k for k in AUTH_VARS if not values.get(k)]
    if missing:
        pytest.fail(f"the test stack has no authenticated endpoints ({', '.join(missing)} unset): it was started "
                    f"before they existed or with KCTX_STACK_AUTH=0; restart it with tests/stack/down and "
                    f'eval "$(tests/stack/up)"', pytrace=False)
    return {k: values[k] for k in AUTH_VARS}


def _project(root: Path, prefix: str) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("")
    (root / "migrations").mkdir()
    (root / "migrations" / "V000001__first.sql").write_text(MIGRATION.format(p=prefix, P=prefix.upper()))
    (root / "kctx.toml").write_text(TOML)
    return root


def _env(auth: dict, prefix: str, **changes) -> dict:
    # the plain addresses are removed: everything must go through the authenticated ones
    env = {**auth, "KCTX_MIGRATIONS_TOPIC": f"_kctx_{prefix}", "KCTX_BOOTSTRAP_SERVERS": None,
           "KCTX_SCHEMA_REGISTRY_URL": None, "KCTX_KSQLDB_URL": None}
    env.update(changes)
    return env


def _no_secret(res, auth: dict, *extra: str) -> None:
    out = res.stdout + res.stderr
    for secret in filter(None, (auth["KCTX_AUTH_KAFKA_PASSWORD"], auth["KCTX_AUTH_HTTP_PASSWORD"], *extra)):
        assert secret not in out
    assert "Traceback" not in out


def test_every_command_on_the_authenticated_servers(tmp_path, auth, unique_name, ksqldb_url):
    root = _project(tmp_path / "p", unique_name)
    env = _env(auth, unique_name)
    topic = f"{unique_name}_a"

    def ok(*args, code=0):
        res = run_kctx(*args, cwd=root, env=env, timeout=180)
        _no_secret(res, auth)
        assert res.returncode == code, (args, res.stdout, res.stderr)
        return res

    doctor = json.loads(ok("doctor", "-o", "json").stdout)
    assert [c["status"] for c in doctor["checks"]] == ["ok", "ok", "ok"], doctor
    ok("migrate")
    status = ok("status", "-o", "json")
    assert json.loads(status.stdout)["current"] == 1
    ok("plan")
    # the models (none) differ from the migrations: validate says so, having read the live
    # cluster through the authenticated endpoints (its drift lines)
    live = ok("validate", "--live", code=1).stdout
    assert f"live: drift: delete topic {topic}" in live and "cannot reach" not in live
    ok("repair", "--dry-run")

    # records through the SASL_SSL listener, read back by the incident tools
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": auth["KCTX_AUTH_BOOTSTRAP_SERVERS"], "security.protocol": "SASL_SSL",
                  "sasl.mechanism": "PLAIN", "sasl.username": auth["KCTX_AUTH_KAFKA_USER"],
                  "sasl.password": auth["KCTX_AUTH_KAFKA_PASSWORD"], "ssl.ca.location": auth["KCTX_AUTH_CA"]})
    p.produce(topic, key=b"k1", value=b'{"V": "x"}')
    p.produce(topic + "-dlq", key=b"k1", value=b'{"V": "x"}', headers=[
        ("__connect.errors.topic", topic.encode()), ("__connect.errors.partition", b"0"),
        ("__connect.errors.offset", b"0"), ("__connect.errors.exception.class.name", b"x.Err")])
    assert p.flush(30) == 0
    tail = ok("tail", topic, "--max", "1", "-o", "jsonl")
    assert json.loads(tail.stdout)["value"] == {"V": "x"}
    assert topic + "-dlq" in ok("dlq", "list", "--pattern", f"{unique_name}.*").stdout
    ok("dlq", "show", topic + "-dlq", "--max", "1")
    ok("dlq", "replay", topic + "-dlq", "--dry-run")
    cache = tmp_path / "cache"
    ok("cache", "warm", topic, "--cache-dir", str(cache))
    ok("cache", "get", topic, "k1", "--cache-dir", str(cache), "--key-format", "string")

    # baseline: a second project adopting what the first one made
    base = tmp_path / "b"
    (base / "models").mkdir(parents=True)
    (base / "models" / "__init__.py").write_text("")
    (base / "migrations").mkdir()
    (base / "kctx.toml").write_text(TOML)
    res = run_kctx("baseline", "--include", f"^{unique_name}", cwd=base,
                   env=_env(auth, unique_name + "_b"), timeout=180)
    _no_secret(res, auth)
    assert res.returncode == 0, res.stderr
    written = "".join(f.read_text() for f in (base / "migrations").glob("*.sql"))
    assert topic in written and auth["KCTX_AUTH_HTTP_PASSWORD"] not in written


@pytest.mark.parametrize("what, change, expected", [
    ("kafka", {"KCTX_AUTH_KAFKA_PASSWORD": "wrong-kafka-pw-1"}, "SASL authentication error"),
    ("registry", {"KCTX_AUTH_HTTP_PASSWORD": "wrong-http-pw-2"}, "refused the credentials (HTTP 401)"),
    ("registry-no-client-cert", {"KCTX_AUTH_CLIENT_CERT": "", "KCTX_AUTH_CLIENT_KEY": ""}, "HTTP 400"),
    ("ksqldb", {"KCTX_AUTH_HTTP_PASSWORD": "wrong-http-pw-3"}, "refused the credentials (HTTP 401)"),
    ("ksqldb-no-ca", {"KCTX_AUTH_CA": "/etc/ssl/certs/ca-certificates.crt"}, "TLS handshake failed"),
])
def test_wrong_credentials_are_one_line(tmp_path, auth, unique_name, what, change, expected):
    root = _project(tmp_path / "p", unique_name)
    toml = TOML
    if what == "registry-no-client-cert":
        toml = toml.replace('"ssl.certificate.location" = "${KCTX_AUTH_CLIENT_CERT}"\n', "").replace(
            '"ssl.key.location" = "${KCTX_AUTH_CLIENT_KEY}"\n', "")
    if what == "ksqldb-no-ca":  # only ksqlDB loses the stack's CA
        toml = toml.replace('[env.default.ksqldb]\n"basic.auth.user.info" = "${KCTX_AUTH_HTTP_USER}:${KCTX_AUTH_HTTP_PASSWORD}"\n'
                            '"ssl.ca.location" = "${KCTX_AUTH_CA}"',
                            '[env.default.ksqldb]\n"basic.auth.user.info" = "${KCTX_AUTH_HTTP_USER}:${KCTX_AUTH_HTTP_PASSWORD}"\n'
                            '"ssl.ca.location" = "/etc/ssl/certs/ca-certificates.crt"')
        change = {}
    (root / "kctx.toml").write_text(toml)
    env = _env(auth, unique_name, **{k: v for k, v in change.items() if v})
    commands = {"kafka": [("status",), ("tail", "x"), ("migrate",)],
                "registry": [("migrate",), ("doctor",)], "registry-no-client-cert": [("migrate",)],
                "ksqldb": [("migrate",), ("doctor",)], "ksqldb-no-ca": [("doctor",)]}[what]
    for args in commands:
        res = run_kctx(*args, cwd=root, env=env, timeout=120)
        _no_secret(res, auth, *change.values())
        assert res.returncode == 1, (args, res.stdout, res.stderr)
        out = res.stdout + res.stderr
        assert expected in out, (args, out)
        if args[0] != "doctor":
            assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1, res.stderr

"""Bad input, table-driven (SPEC §2, issue 12): each case is the command line, the project
it runs in and the environment, and the one line kctx must answer with — exit 1, one
``error:`` line (or the failed check of ``doctor``), never a traceback, never exit 2.

No server is needed: Kafka is a closed port (client settings are refused before any
connection), and the "registry answers 200 with a page that is not JSON" case is a small
HTTP server started here.
"""
from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from tests.helpers import run_kctx

MODEL = """
from typing import Annotated
from kctx_cli.model import Key, Stream
class Order(Stream):
    order_id: Annotated[str, Key]
    v: str
    class Meta:
        topic = "orders"
{meta}
"""

BASE_TOML = '[project]\nmodels = "models"\nmigrations = "migrations"\n'
NO_SERVER = "127.0.0.1:1"


def _model(meta: str) -> dict:
    return {"models/__init__.py": MODEL.format(meta="".join(f"        {line}\n" for line in meta.splitlines()))}


# name -> (args, files {path: text|bytes}, env, expected text in the output)
CASES: dict[str, tuple] = {}


def case(name, args, expected, files=None, env=None):
    assert name not in CASES, name
    CASES[name] = (tuple(args), files or {}, env or {}, expected)


# -- kctx.toml ---------------------------------------------------------------------------
for cmd in (("validate",), ("config", "show"), ("show", "ddl"), ("doctor",), ("status",)):
    n = "-".join(cmd)
    case(f"toml-not-utf8-{n}", cmd, "kctx.toml:3: not UTF-8 text (byte 0xff); TOML files are UTF-8",
         {"kctx.toml": BASE_TOML.encode() .replace(b'migrations = "migrations"', b'migrations = "mig\xffrations"')})
    case(f"toml-invalid-{n}", cmd, "kctx.toml: invalid TOML", {"kctx.toml": "[project\n"})
    case(f"toml-unknown-table-{n}", cmd, "unknown table or key 'projekt'", {"kctx.toml": "[projekt]\n"})
    case(f"toml-unset-var-{n}", cmd, "environment variable KCTX_T_UNSET_VAR is not set",
         {"kctx.toml": BASE_TOML + '[env.default]\nksqldb_url = "${KCTX_T_UNSET_VAR}"\n'})
case("toml-unknown-project-key", ("validate",), "unknown key 'modelz' in [project]",
     {"kctx.toml": '[project]\nmodelz = "m"\n'})
case("toml-partitions-string", ("validate",), "[project].default_partitions must be an integer, got '3'",
     {"kctx.toml": '[project]\ndefault_partitions = "3"\n'})
case("toml-partitions-zero", ("validate",), "default_partitions and default_replicas must be ≥ 1",
     {"kctx.toml": '[project]\ndefault_partitions = 0\n'})
case("toml-bad-compat", ("validate",), "default_compatibility 'SIDEWAYS' is not one of",
     {"kctx.toml": '[project]\ndefault_compatibility = "SIDEWAYS"\n'})
case("toml-env-not-table", ("validate",), "unknown key 'bootstrap' in [env.default]",
     {"kctx.toml": BASE_TOML + '[env.default]\nbootstrap = "x"\n'})
case("toml-kafka-not-table", ("validate",), "[env.default].kafka must be a table",
     {"kctx.toml": BASE_TOML + '[env.default]\nkafka = "x"\n'})
case("unknown-env", ("--env", "nope", "validate"), "unknown environment 'nope'")
case("unknown-env-var", ("validate",), "unknown environment 'nope'", env={"KCTX_ENV": "nope"})
case("env-int-override", ("validate",), "KCTX_DEFAULT_PARTITIONS must be an integer, got 'abc'",
     env={"KCTX_DEFAULT_PARTITIONS": "abc"})
case("project-dir-missing", ("--project", "/nonexistent/kctx", "validate"), "project directory /nonexistent/kctx does not exist")

# -- models ------------------------------------------------------------------------------
OFFLINE_MODEL_CMDS = (("validate",), ("show", "ddl"), ("show", "avro"), ("show", "plan"), ("makemigrations",),
                      ("makemigrations", "--check"))
for cmd in OFFLINE_MODEL_CMDS:
    n = "-".join(cmd)
    case(f"partitions-string-{n}", cmd, "Order: partitions must be an integer from 1 to 10000, got '6'",
         _model('partitions = "6"'))
    case(f"replicas-zero-{n}", cmd, "Order: replicas must be an integer from 1 to 32767, got 0", _model("replicas = 0"))
    case(f"partitions-bool-{n}", cmd, "Order: partitions must be an integer from 1 to 10000, got True",
         _model("partitions = True"))
    case(f"sys-exit-3-{n}", cmd, "models/__init__.py:2: cannot import model module: it called sys.exit(3) while being imported",
         {"models/__init__.py": "import sys\nsys.exit(3)\n"})
    case(f"sys-exit-none-{n}", cmd, "models/__init__.py:2: cannot import model module: it called sys.exit() while being imported",
         {"models/__init__.py": "import sys\nsys.exit()\n"})
    case(f"submodule-exit-{n}", cmd, "models/shop.py:1: cannot import model module: it called sys.exit('bye') while being imported",
         {"models/__init__.py": "", "models/shop.py": "raise SystemExit('bye')\n"})
    case(f"syntax-error-{n}", cmd, "cannot import model module: SyntaxError", {"models/__init__.py": "class (:\n"})
    case(f"import-error-{n}", cmd, "cannot import model module: ModuleNotFoundError: No module named 'nonexistent_pkg_x'",
         {"models/__init__.py": "import nonexistent_pkg_x\n"})

# -- client settings: librdkafka, the registry client, ksqlDB ----------------------------
KAFKA_CMDS = (("status",), ("plan",), ("migrate",), ("baseline",), ("tail", "x"), ("dlq", "list"), ("dlq", "show", "x-dlq"),
              ("dlq", "replay", "x-dlq", "--dry-run"), ("cache", "warm", "x"), ("validate", "--live"), ("repair",))
for cmd in KAFKA_CMDS:
    n = "-".join(cmd)
    case(f"kafka-unknown-prop-{n}", cmd, 'Kafka client settings: No such configuration property: "foo.bar"',
         env={"KCTX_KAFKA_FOO_BAR": "1"})
    case(f"kafka-bad-value-{n}", cmd, 'Kafka client settings: Invalid value for configuration property "socket.timeout.ms"',
         env={"KCTX_KAFKA_SOCKET_TIMEOUT_MS": "abc"})
case("kafka-unknown-prop-toml", ("status",), 'No such configuration property: "no.such"',
     {"kctx.toml": BASE_TOML + '[env.default.kafka]\n"no.such" = "1"\n'})
case("doctor-kafka-unknown-prop", ("doctor", "-o", "json"), 'No such configuration property: "foo.bar"',
     env={"KCTX_KAFKA_FOO_BAR": "1"})
case("doctor-registry-unknown-prop", ("doctor", "-o", "json"), "Schema Registry client settings: Unrecognized properties: foo",
     env={"KCTX_SCHEMA_REGISTRY_FOO": "1"})
case("doctor-registry-bad-timeout", ("doctor", "-o", "json"), "schema registry setting timeout must be a number, got 'abc'",
     env={"KCTX_SCHEMA_REGISTRY_TIMEOUT": "abc"})
case("doctor-registry-bad-userinfo", ("doctor", "-o", "json"), "basic.auth.user.info must be in the form",
     env={"KCTX_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": "nocolon"})
case("doctor-ksqldb-unknown-prop", ("doctor", "-o", "json"), "unknown ksqlDB setting foo",
     env={"KCTX_KSQLDB_FOO": "1"})
case("doctor-ksqldb-bad-timeout", ("doctor", "-o", "json"), "ksqlDB setting timeout must be a number of seconds, got 'abc'",
     env={"KCTX_KSQLDB_TIMEOUT": "abc"})
case("doctor-ksqldb-key-without-cert", ("doctor", "-o", "json"), "ssl.key.location needs ssl.certificate.location",
     env={"KCTX_KSQLDB_SSL_KEY_LOCATION": "/tmp/k.pem"})
case("doctor-registry-not-json", ("doctor", "-o", "json"), "answered GET /subjects with a body that is not JSON",
     env={"KCTX_SCHEMA_REGISTRY_URL": "@NOTJSON@"})
case("doctor-ksqldb-not-json", ("doctor", "-o", "json"), "body that is not JSON: HTTP 200 HTML page \"Welcome\"",
     env={"KCTX_KSQLDB_URL": "@NOTJSON@"})
case("plan-registry-not-json", ("show", "plan"), "", )  # offline: no registry involved, exit 0 (control)

# -- options -----------------------------------------------------------------------------
for cmd in (("tail", "x"), ("dlq", "show", "x-dlq")):
    n = "-".join(cmd)
    case(f"max-negative-{n}", cmd + ("--max", "-1"), "--max must be at least 1, got -1")
    case(f"max-zero-{n}", cmd + ("--max", "0"), "--max must be at least 1, got 0")
    case(f"max-not-int-{n}", cmd + ("--max", "x"), "Invalid value for '--max' / '-n': Input should be a valid integer")
for cmd in (("migrate",), ("repair",)):
    n = "-".join(cmd)
    case(f"lock-timeout-negative-{n}", cmd + ("--lock-timeout", "-5"),
         "Invalid value for '--lock-timeout': Input should be greater than or equal to 0")
    case(f"lock-timeout-nan-{n}", cmd + ("--lock-timeout", "soon"), "Invalid value for '--lock-timeout'")
for cmd in (("cache", "stats"), ("cache", "warm", "x"), ("cache", "get", "x", "k"), ("cache", "drop", "x")):
    n = "-".join(cmd)
    case(f"cache-dir-file-{n}", cmd + ("--cache-dir", "afile"), "Invalid value for '--cache-dir': afile is not a directory",
         {"afile": "not a dir"})
case("rate-negative", ("dlq", "replay", "x-dlq", "--rate", "-1"), "Invalid value for '--rate'")
case("max-replays-negative", ("dlq", "replay", "x-dlq", "--max-replays", "-1"), "Invalid value for '--max-replays'")
for cmd in (("validate",), ("doctor",), ("status",), ("plan",), ("config", "show"), ("dlq", "list"), ("makemigrations",),
            ("migrate",), ("baseline",), ("repair",)):
    case(f"output-xml-{'-'.join(cmd)}", cmd + ("--output", "xml"), "--output must be 'text' or 'json', got 'xml'")
case("define-no-equals", ("validate", "--define", "novalue"), "--define")
case("compat-bad-level", ("schema", "compat", "--level", "SIDEWAYS", "a.avsc", "b.avsc"), "SIDEWAYS")
case("compat-missing-file", ("schema", "compat", "a.avsc", "b.avsc"), "a.avsc")
case("ksql-check-missing-file", ("ksql", "check", "nope.ksql"), "nope.ksql")
case("ksql-fmt-missing-file", ("ksql", "fmt", "nope.ksql"), "nope.ksql")
case("unknown-command", ("frobnicate",), "No such command 'frobnicate'")
case("unknown-option", ("validate", "--frob"), "No such option: --frob")
case("tail-bad-from", ("tail", "x", "--from", "yesterday-ish"), "yesterday-ish")
case("tail-bad-output", ("tail", "x", "-o", "xml"), "xml")
case("tail-bad-key-format", ("tail", "x", "--key", "1", "--key-format", "morse"), "morse")
case("cache-warm-bad-store", ("cache", "warm", "x", "--store", "zip"), "zip")


@pytest.fixture(scope="module")
def not_json_url():
    """An HTTP server answering 200 with an HTML page to everything."""

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            body = b"<html><head><title>Welcome</title></head><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _write(root: Path, files: dict) -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "migrations").mkdir(exist_ok=True)
    base = {"kctx.toml": BASE_TOML, "models/__init__.py": ""}
    for rel, text in {**base, **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8")


def test_there_are_at_least_100_cases():
    assert len(CASES) >= 100


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(tmp_path, name, not_json_url):
    args, files, env, expected = CASES[name]
    _write(tmp_path, files)
    env = {k: (not_json_url if v == "@NOTJSON@" else v) for k, v in env.items()}
    full_env = {"KCTX_BOOTSTRAP_SERVERS": NO_SERVER, "KCTX_SCHEMA_REGISTRY_URL": f"http://{NO_SERVER}",
                "KCTX_KSQLDB_URL": f"http://{NO_SERVER}", **env}
    res = run_kctx(*args, cwd=tmp_path, env=full_env, timeout=60)
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    if not expected:  # a control case
        assert res.returncode == 0, out
        return
    assert res.returncode == 1, (res.returncode, out)
    if args[0] == "doctor" and res.stdout.startswith("{"):  # a failed check, the others still run
        failed = [c for c in json.loads(res.stdout)["checks"] if c["status"] == "failed"]
        assert any(expected in c["detail"] for c in failed), failed
        assert all("\n" not in c["detail"] for c in failed)
        return
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    problems = [line for line in res.stdout.splitlines() if expected in line]
    # one line on stderr; validate and ksql check list their findings on stdout instead
    assert len(lines) == 1 or (args[0] in ("validate", "ksql") and problems), out
    assert expected in out, out

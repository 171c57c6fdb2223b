"""`kctx doctor` against the real stack, and against addresses where nothing listens."""
from __future__ import annotations

import json

from tests.helpers import make_project, run_kctx


def test_doctor_reaches_every_service(stack, tmp_path):
    root = make_project(tmp_path, {})
    res = run_kctx("doctor", "--output", "json", cwd=root, env={
        "KCTX_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "KCTX_SCHEMA_REGISTRY_URL": stack.schema_registry_url,
        "KCTX_KSQLDB_URL": stack.ksqldb_url,
    })
    assert res.returncode == 0, res.stdout + res.stderr
    checks = {c["service"]: c for c in json.loads(res.stdout)["checks"]}
    assert [c["status"] for c in checks.values()] == ["ok", "ok", "ok"]
    assert checks["kafka"]["detail"].startswith("1 broker(s), controller 1, ")
    assert "global compatibility BACKWARD" in checks["schema-registry"]["detail"]
    assert checks["ksqldb"]["detail"].endswith("RUNNING")


def test_doctor_reports_unreachable_and_unconfigured(tmp_path):
    root = make_project(tmp_path, {})
    res = run_kctx("doctor", "--output", "json", cwd=root, env={
        "KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:1", "KCTX_SCHEMA_REGISTRY_URL": None,
        "KCTX_KSQLDB_URL": "http://127.0.0.1:1"})
    assert res.returncode == 1
    data = json.loads(res.stdout)
    assert data["ok"] is False
    checks = {c["service"]: c for c in data["checks"]}
    assert checks["kafka"]["status"] == "failed"
    assert checks["kafka"]["detail"].startswith("cannot reach Kafka at 127.0.0.1:1: ")
    assert checks["schema-registry"]["status"] == "not configured"
    assert checks["ksqldb"] == {"service": "ksqldb", "address": "http://127.0.0.1:1", "status": "failed",
                                "detail": "cannot reach ksqlDB at http://127.0.0.1:1: connection refused",
                                "millis": checks["ksqldb"]["millis"]}

"""Differential test: Confluent's ksql-migrations 8.1.5 and `kctx migrate` apply the same 12
migration files (SET, DEFINE, CSAS, INSERT VALUES, CREATE TABLE, ALTER, DROP, ... one file
per kind; tests/ksql_migrations_tool.py) to the same real ksqlDB, each under its own name
prefix given with --define, then what each created is compared:

* the sources, as DESCRIBE EXTENDED shows them (kind, columns, key/value formats, topic and
  its partitions), and the dropped one gone in both;
* the persistent queries' properties as EXPLAIN shows them (``overriddenProperties``): the
  CSAS after the SETs runs with them in both, the CSAS of a later file with none;
* the rows of the source topics and of the CSAS sink, and the strings substituted in them;
* the history: ksql-migrations' MIGRATION_EVENTS (state, checksum per version) against
  `kctx status -o json`; then a 13th file ksqlDB rejects is ERROR in both, with ksqlDB's
  message.

Reference: ksqldb-docs migrations-tool.md; ../shared/realstack/NOTES.md "ksql-migrations".
"""
from __future__ import annotations

import json
import secrets
import time

import pytest

from kctx_cli.backends.ksqldb import KsqlClient
from tests.helpers import run_kctx
from tests.ksql_migrations_tool import (
    FAILING, FILES, KsqlMigrations, define_args, defines, filename, kctx_project, read_topic,
    write_migration_files,
)
from tests.ksqldb_helpers import drop_prefixed


def _normalize(value, prefix: str):
    """``value`` with the tool's prefix (either case) replaced by <P>, recursively."""
    if isinstance(value, str):
        return value.replace(prefix.upper(), "<P>").replace(prefix, "<P>")
    if isinstance(value, dict):
        return {_normalize(k, prefix): _normalize(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v, prefix) for v in value]
    return value


def _source(client: KsqlClient, name: str, prefix: str) -> dict | None:
    d = client.describe(name)
    if d is None:
        return None
    return _normalize({
        "type": d.get("type"),
        "fields": [(f["name"], f["schema"]["type"], f.get("type")) for f in d.get("fields") or []],
        "keyFormat": d.get("keyFormat"), "valueFormat": d.get("valueFormat"),
        "topic": d.get("topic"), "partitions": d.get("partitions"),
        "windowType": d.get("windowType"),
        "writeQueries": len(d.get("writeQueries") or []),
    }, prefix)


def _query_properties(client: KsqlClient, name: str, prefix: str) -> dict:
    """EXPLAIN's overriddenProperties of the query writing ``name``."""
    ids = client.write_queries(name)
    assert len(ids) == 1, (name, ids)
    for e in client.request(f"EXPLAIN {ids[0]};"):
        if e.get("@type") == "queryDescription":
            return _normalize(e["queryDescription"].get("overriddenProperties") or {}, prefix)
    raise AssertionError(f"EXPLAIN {ids[0]} answered no queryDescription")


def _rows(bootstrap: str, topic: str) -> list:
    return sorted(json.dumps(json.loads(v), sort_keys=True) for v in read_topic(bootstrap, topic))


@pytest.fixture(scope="module")
def applied(stack, tmp_path_factory):
    """Both tools applied the 12 files; yields what the tests compare. Cleans up after."""
    base = f"t_kmdiff_{secrets.token_hex(3)}"
    km_prefix, kc_prefix = f"{base}_km", f"{base}_kc"
    tmp = tmp_path_factory.mktemp("kmdiff")
    files = write_migration_files(tmp / "files")
    km = KsqlMigrations(tmp / "km", stack.ksqldb_url, km_prefix)
    history_topic = f"_kctx_migrations_{kc_prefix}"
    env = {"KCTX_MIGRATIONS_TOPIC": history_topic}
    try:
        km.init()
        km.add(files)
        t0 = time.monotonic()
        km_run = km.apply(defines(km_prefix))
        km_seconds = time.monotonic() - t0
        project = kctx_project(tmp / "kctx", files)
        t0 = time.monotonic()
        kc_run = run_kctx("migrate", "--allow-destructive", *define_args(defines(kc_prefix)), cwd=project, env=env)
        kc_seconds = time.monotonic() - t0
        yield {"km": km, "km_prefix": km_prefix, "kc_prefix": kc_prefix, "km_run": km_run, "kc_run": kc_run,
               "project": project, "env": env, "files": files, "tmp": tmp, "stack": stack,
               "seconds": (km_seconds, kc_seconds)}
    finally:
        for prefix in (km_prefix, kc_prefix):
            drop_prefixed(stack.ksqldb_url, prefix.upper())
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
        topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith((km_prefix, kc_prefix))
                  or t == history_topic]
        if topics:
            for f in admin.delete_topics(topics).values():
                try:
                    f.result(timeout=30)
                except Exception:  # noqa: BLE001 - best-effort cleanup
                    pass


def test_both_tools_apply_every_file(applied):
    km_run, kc_run = applied["km_run"], applied["kc_run"]
    assert km_run.returncode == 0, km_run.stdout[-3000:] + km_run.stderr[-2000:]
    assert km_run.stdout.count("Successfully migrated") == len(FILES)
    assert kc_run.returncode == 0, kc_run.stdout[-3000:] + kc_run.stderr[-2000:]
    print(f"\nwall time: ksql-migrations apply --all {applied['seconds'][0]:.1f} s, "
          f"kctx migrate {applied['seconds'][1]:.1f} s")


def test_same_sources_as_describe_shows_them(applied):
    client = KsqlClient(applied["stack"].ksqldb_url)
    km_defs, kc_defs = defines(applied["km_prefix"]), defines(applied["kc_prefix"])
    for source in ("orders", "big", "customers", "late", "scratch", "bad"):
        km = _source(client, km_defs[source], applied["km_prefix"])
        kc = _source(client, kc_defs[source], applied["kc_prefix"])
        assert km == kc, source
        if source in ("scratch", "bad"):
            assert km is None  # V000010 dropped it in both; V000013 is not applied yet
        else:
            assert km is not None
    # V000007's ALTER reached both; V000003's prefix named the CSAS sink topic in both
    assert ("NOTE", "STRING", None) in _source(client, kc_defs["orders"], applied["kc_prefix"])["fields"]
    assert _source(client, kc_defs["big"], applied["kc_prefix"])["topic"] == "<P>_<P>_BIG"


def test_same_query_properties_as_explain_shows_them(applied):
    """F10's kind: the SETs before a CSAS reach it (EXPLAIN's overridden properties), and
    nothing reaches the CSAS of the next file; the same in both tools."""
    client = KsqlClient(applied["stack"].ksqldb_url)
    km_defs, kc_defs = defines(applied["km_prefix"]), defines(applied["kc_prefix"])
    for source in ("big", "late"):
        km = _query_properties(client, km_defs[source], applied["km_prefix"])
        kc = _query_properties(client, kc_defs[source], applied["kc_prefix"])
        assert km == kc, source
    big = _query_properties(client, kc_defs["big"], applied["kc_prefix"])
    assert big.get("auto.offset.reset") == "earliest"
    assert big.get("ksql.output.topic.name.prefix") == "<P>_"
    late = _query_properties(client, kc_defs["late"], applied["kc_prefix"])
    assert "auto.offset.reset" not in late and "ksql.output.topic.name.prefix" not in late


def test_same_rows(applied):
    stack = applied["stack"]
    client = KsqlClient(stack.ksqldb_url)
    km_defs, kc_defs = defines(applied["km_prefix"]), defines(applied["kc_prefix"])
    topics = {}
    for tool, defs, prefix in (("km", km_defs, applied["km_prefix"]), ("kc", kc_defs, applied["kc_prefix"])):
        for source in ("orders", "customers", "big"):
            topics[(tool, source)] = (client.describe(defs[source])["topic"], prefix)
    rows = {key: [_normalize(r, prefix) for r in _rows(stack.bootstrap_servers, topic)]
            for key, (topic, prefix) in topics.items()}
    orders = [json.loads(r) for r in rows[("kc", "orders")]]
    # the CSAS reads from the start (SET before it): every order >= 10 ends up in BIG;
    # the query runs asynchronously, so wait for it (what it must hold comes from ORDERS)
    expected_big = sum(1 for r in orders if r["AMOUNT"] >= 10)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not all(
            len(rows[(tool, "big")]) >= expected_big for tool in ("km", "kc")):
        time.sleep(1)
        for tool in ("km", "kc"):
            topic, prefix = topics[(tool, "big")]
            rows[(tool, "big")] = [_normalize(r, prefix) for r in _rows(stack.bootstrap_servers, topic)]
    for source in ("orders", "customers", "big"):
        assert rows[("km", source)] == rows[("kc", source)], source
    assert len(rows[("kc", "big")]) == expected_big > 0
    # substitution inside strings: quotes doubled, ';' kept, a file's DEFINE over --define
    customers = {json.loads(r)["NAME"]: json.loads(r)["CITY"] for r in rows[("kc", "customers")]}
    assert customers == {"Alice O'Neil": "Saint-Malo", "Bob; not a statement end": "it's Saint-Malo"}
    by_id = {r.get("CUSTOMER"): r for r in orders}
    assert by_id["frank"]["NOTE"] == "p=<P>" and by_id["erin"]["AMOUNT"] == 5.0


def _kctx_status(applied) -> dict[int, dict]:
    r = run_kctx("status", "-o", "json", *define_args(defines(applied["kc_prefix"])), cwd=applied["project"],
                 env=applied["env"])
    assert r.returncode == 0, r.stdout + r.stderr
    return {int(v["version"][1:]): v for v in json.loads(r.stdout)["versions"]}


def test_same_history_then_both_record_a_rejected_file_as_error(applied):
    km, stack = applied["km"], applied["stack"]
    km_hist, kc_hist = km.history(stack.bootstrap_servers), _kctx_status(applied)
    assert sorted(km_hist) == sorted(kc_hist) == sorted(FILES)
    for version, (description, _) in FILES.items():
        k, c = km_hist[version], kc_hist[version]
        assert (k["STATE"], c["state"]) == ("MIGRATED", "MIGRATED"), version
        assert k["CHECKSUM"] == c["checksum"], version  # MD5 of the file's bytes in both
        assert k["NAME"] == c["description"].replace("_", " ") == description.replace("_", " ")

    # a 13th file that ksqlDB rejects: both exit 1 and record the version ERROR
    version, description, text = FAILING
    for folder in (km.root / "migrations", applied["project"] / "migrations"):
        (folder / filename(version, description)).write_text(text)
    km_run = km.apply(defines(applied["km_prefix"]))
    kc_run = run_kctx("migrate", *define_args(defines(applied["kc_prefix"])), cwd=applied["project"], env=applied["env"])
    assert km_run.returncode == 1, km_run.stdout[-3000:]
    assert kc_run.returncode == 1, kc_run.stdout[-3000:] + kc_run.stderr[-2000:]
    assert "Traceback" not in kc_run.stderr and "no_such_topic" in kc_run.stderr
    km_hist, kc_hist = km.history(stack.bootstrap_servers), _kctx_status(applied)
    assert km_hist[version]["STATE"] == kc_hist[version]["state"] == "ERROR"
    assert "no_such_topic" in km_hist[version]["ERROR_REASON"] and "no_such_topic" in kc_hist[version]["error"]
    assert all(kc_hist[v]["state"] == "MIGRATED" for v in FILES)

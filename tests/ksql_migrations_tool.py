"""Confluent's ksql-migrations 8.1.5 (``../shared/realstack/ksql-migrations.sh``) beside kctx,
on the same migration files and the same ksqlDB: what the differential test
(test_ksql_migrations_diff.py) and the benchmark (bench/bench_migrate_vs_ksql_migrations.py)
share.

    files = write_migration_files(dir)              # the same bytes for both tools
    km = KsqlMigrations(tmp / "km", ksqldb_url, "t_x_km")
    km.init(); km.apply(defines("t_x_km"))           # ksql-migrations apply --all -d ...
    kp = kctx_project(tmp / "kctx", files)
    run_kctx("migrate", *define_args(defines("t_x_kc")), cwd=kp)

The files name every stream, table and topic through variables (``${orders}``,
``'${p}_orders'``), and each tool gets its own values with ``--define``: identical files,
different names per tool, so both can run on one server side by side. One file per kind:
CREATE STREAM, INSERT VALUES, DEFINE + SET + CSAS (+ UNSET), CREATE TABLE, INSERT VALUES
into a table with quotes and an undefined variable in strings, a CSAS in a later file with no
SET (nothing carries over), ALTER STREAM, DROP, SET + UNSET, a file's DEFINE over --define.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MIGRATIONS_SH = SHARED / "realstack" / "ksql-migrations.sh"

# version -> (description, text)
FILES: dict[int, tuple[str, str]] = {
    1: ("create_orders", """\
-- orders: the source stream every later file uses
CREATE STREAM ${orders} (ID STRING KEY, CUSTOMER STRING, AMOUNT DOUBLE)
  WITH (KAFKA_TOPIC='${p}_orders', PARTITIONS=1, VALUE_FORMAT='JSON');
"""),
    2: ("insert_orders", """\
INSERT INTO ${orders} (ID, CUSTOMER, AMOUNT) VALUES ('o1', 'alice', 12.5);
INSERT INTO ${orders} (ID, CUSTOMER, AMOUNT) VALUES ('o2', 'bob', 3.0);
INSERT INTO ${orders} (ID, CUSTOMER, AMOUNT) VALUES ('o3', 'carol', 40.0);
"""),
    3: ("big_orders", """\
-- SET and DEFINE apply to the rest of this file: the CSAS reads from the start
DEFINE min_amount = '10';
SET 'auto.offset.reset' = 'earliest';
SET 'ksql.output.topic.name.prefix' = '${p}_';
CREATE STREAM ${big} WITH (PARTITIONS=1) AS
  SELECT ID, CUSTOMER, AMOUNT FROM ${orders} WHERE AMOUNT >= ${min_amount} EMIT CHANGES;
UNSET 'ksql.output.topic.name.prefix';
"""),
    4: ("create_customers", """\
CREATE TABLE ${customers} (ID STRING PRIMARY KEY, NAME STRING, CITY STRING)
  WITH (KAFKA_TOPIC='${p}_customers', PARTITIONS=1, VALUE_FORMAT='JSON');
"""),
    5: ("insert_customers", """\
DEFINE city = 'Saint-Malo';
INSERT INTO ${customers} (ID, NAME, CITY) VALUES ('alice', 'Alice O''Neil', '${city}');
INSERT INTO ${customers} (ID, NAME, CITY) VALUES ('bob', 'Bob; not a statement end', 'it''s ${city}');
"""),
    6: ("late_orders", """\
-- no SET here: the earliest of V000003 does not carry over, this query starts at the end
CREATE STREAM ${late} WITH (KAFKA_TOPIC='${p}_late', PARTITIONS=1) AS
  SELECT ID, AMOUNT FROM ${orders} EMIT CHANGES;
"""),
    7: ("alter_orders", """\
ALTER STREAM ${orders} ADD COLUMN NOTE STRING;
"""),
    8: ("more_orders", """\
INSERT INTO ${orders} (ID, CUSTOMER, AMOUNT, NOTE) VALUES ('o4', 'dave', 99.0, 'after the late query');
"""),
    9: ("create_scratch", """\
CREATE STREAM ${scratch} (ID STRING KEY, V INT)
  WITH (KAFKA_TOPIC='${p}_scratch', PARTITIONS=1, VALUE_FORMAT='JSON');
"""),
    10: ("drop_scratch", """\
DROP STREAM ${scratch} DELETE TOPIC;
"""),
    11: ("set_unset", """\
SET 'auto.offset.reset' = 'earliest';
UNSET 'auto.offset.reset';
DEFINE amount = '5';
INSERT INTO ${orders} (ID, CUSTOMER, AMOUNT) VALUES ('o5', 'erin', ${amount});
"""),
    12: ("define_over_option", """\
-- a file's DEFINE replaces a --define value for the rest of this file only
DEFINE who = 'frank';
INSERT INTO ${orders} (ID, CUSTOMER, AMOUNT, NOTE) VALUES ('o6', '${who}', 1.0, 'p=${p}');
"""),
}
# a file only the server can reject (its topic does not exist and no PARTITIONS is given;
# kctx's offline checks cannot know that): both tools must record it ERROR
FAILING = (13, "bad_source", "CREATE STREAM ${bad} (ID STRING KEY, V INT)\n"
                             "  WITH (KAFKA_TOPIC='${p}_no_such_topic', VALUE_FORMAT='JSON');\n")

SOURCES = ("orders", "big", "customers", "late", "scratch", "bad")


def defines(prefix: str) -> dict[str, str]:
    """The --define values of one tool: every source name (upper case, as ksqlDB stores
    it) and the topic prefix ``p`` derive from ``prefix``."""
    out = {name: f"{prefix}_{name}".upper() for name in SOURCES}
    out["p"] = prefix
    out["who"] = "option"
    return out


def define_args(values: dict[str, str]) -> list[str]:
    return [arg for name, value in values.items() for arg in ("--define", f"{name}={value}")]


def filename(version: int, description: str) -> str:
    return f"V{version:06d}__{description}.sql"


def write_migration_files(directory: Path, with_failing: bool = False) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    items = dict(FILES)
    if with_failing:
        items[FAILING[0]] = FAILING[1:]
    paths = []
    for version, (description, text) in sorted(items.items()):
        path = directory / filename(version, description)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def kctx_project(root: Path, files: list[Path]) -> Path:
    """A kctx project with no models whose migrations/ holds copies of ``files``."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models" / "__init__.py").write_text("")
    (root / "kctx.toml").write_text('[project]\nmodels = "models"\nmigrations = "migrations"\n')
    (root / "migrations").mkdir(exist_ok=True)
    for f in files:
        (root / "migrations" / f.name).write_bytes(f.read_bytes())
    return root


class KsqlMigrations:
    """One ksql-migrations project whose metadata stream/table and topics carry ``prefix``
    (``ksql.migrations.stream.name`` etc., migrations-tool-configuration.md)."""

    def __init__(self, root: Path, ksqldb_url: str, prefix: str):
        self.root, self.url, self.prefix = root, ksqldb_url, prefix
        self.config = root / "ksql-migrations.properties"
        self.stream = f"{prefix}_MIGRATION_EVENTS".upper()
        self.table = f"{prefix}_MIGRATION_SCHEMA_VERSIONS".upper()
        self.events_topic = f"{prefix}_migration_events"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(MIGRATIONS_SH), *args], capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ))

    def init(self) -> None:
        r = self.run("new-project", str(self.root), self.url)
        assert r.returncode == 0, r.stdout + r.stderr
        with self.config.open("a") as fh:
            fh.write(f"\nksql.migrations.stream.name={self.stream}\n"
                     f"ksql.migrations.table.name={self.table}\n"
                     f"ksql.migrations.stream.topic.name={self.events_topic}\n"
                     f"ksql.migrations.table.topic.name={self.prefix}_migration_schema_versions\n")
        r = self.run("-c", str(self.config), "initialize-metadata")
        assert r.returncode == 0, r.stdout + r.stderr

    def add(self, files: list[Path]) -> None:
        for f in files:
            (self.root / "migrations" / f.name).write_bytes(f.read_bytes())

    def apply(self, values: dict[str, str]) -> subprocess.CompletedProcess:
        return self.run("-c", str(self.config), "apply", "--all", *define_args(values))

    def history(self, bootstrap_servers: str) -> dict[int, dict]:
        """version -> the latest MIGRATION_EVENTS record of it (STATE, CHECKSUM, NAME,
        ERROR_REASON, ...), read from the stream's topic (JSON values)."""
        out: dict[int, dict] = {}
        for key, value in read_records(bootstrap_servers, self.events_topic):
            rec = {k.upper(): v for k, v in json.loads(value).items()}
            version_key = (key or b"").decode()  # VERSION_KEY is the stream's key column
            if not version_key.isdigit():
                continue  # CURRENT: the pointer to the latest version
            out[int(version_key)] = rec
        return out

    def drop_metadata(self) -> None:
        self.run("-c", str(self.config), "destroy-metadata")


def read_topic(bootstrap_servers: str, topic: str, timeout: float = 20.0) -> list[bytes]:
    """Every record value of ``topic`` up to its end (offset order per partition)."""
    return [v for _, v in read_records(bootstrap_servers, topic, timeout)]


def read_records(bootstrap_servers: str, topic: str, timeout: float = 20.0) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record of ``topic`` with a value, up to its end."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": "kctx-tests-unused",
                  "enable.auto.commit": False, "log_level": 0})
    values: list[tuple[bytes | None, bytes]] = []
    try:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return []
        for p in sorted(md.partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                continue
            c.assign([TopicPartition(topic, p, low)])
            nxt = low
            deadline = time.monotonic() + timeout
            while nxt < high and time.monotonic() < deadline:
                msg = c.poll(1.0)
                if msg is None or msg.error():
                    continue
                nxt = msg.offset() + 1
                if msg.value() is not None:
                    values.append((msg.key(), msg.value()))
    finally:
        c.close()
    return values

"""Streams and tables that a test creates on the real ksqlDB, and their safe removal.

    with KsqlSources(ksqldb_url) as ks:
        ks.execute("CREATE STREAM P_A (...) WITH (KAFKA_TOPIC='p_a', PARTITIONS=1, ...);")
        ks.execute("CREATE STREAM P_B WITH (...) AS SELECT ...;")
        fields = ks.describe("P_B")["fields"]
        ks.terminate_writers("P_B")          # as soon as the query is no longer needed
    # on exit: every source created through ks is dropped, newest first

Removal of one source (``drop``): terminate every query writing it (from DESCRIBE's
``writeQueries``), wait until DESCRIBE lists none, then ``DROP STREAM|TABLE x DELETE TOPIC``.
The order matters: ksqlDB's ``DROP … DELETE TOPIC`` deletes the topic before it stops the
query writing it, whose producer then blocks for ``delivery.timeout.ms`` (120 s); the DROP
times out and stalls ksqlDB's command queue (../shared/realstack/NOTES.md, "Known hazards").

A persistent query costs CPU (a Kafka Streams app per query), so tests terminate a query as
soon as they have read what they need, not at the end.
"""
from __future__ import annotations

import re

from kctx_cli.backends.ksqldb import KsqlClient
from kctx_cli.ksql.dialect import quote_name

_CREATED = re.compile(r"^(stream|table)/`?([^`/]+)`?/create$", re.IGNORECASE)


def ksql_type(schema: dict) -> str:
    """A DESCRIBE field schema as kctx renders SQL types (``SqlType.ksql()``)."""
    t = schema["type"]
    if t == "INTEGER":
        return "INT"
    if t == "DECIMAL":
        p = schema["parameters"]
        return f"DECIMAL({p['precision']}, {p['scale']})"
    if t == "ARRAY":
        return f"ARRAY<{ksql_type(schema['memberSchema'])}>"
    if t == "MAP":
        return f"MAP<STRING, {ksql_type(schema['memberSchema'])}>"
    if t == "STRUCT":
        return "STRUCT<" + ", ".join(f"{f['name']} {ksql_type(f['schema'])}" for f in schema["fields"]) + ">"
    return t


def described_columns(description: dict) -> list[tuple[str, str, bool]]:
    """(name, type as kctx renders it, is key) of each field DESCRIBE lists, in its order."""
    return [(f["name"], ksql_type(f["schema"]), f.get("type") == "KEY") for f in description["fields"]]


def drop(client: KsqlClient, name: str, *, delete_topic: bool = True) -> bool:
    """Terminate the queries writing ``name``, then drop it (and its topic); False when it
    does not exist. A query still *reading* it makes ksqlDB refuse: drop readers first."""
    d = client.describe(name)
    if d is None:
        return False
    if d.get("writeQueries"):
        client.terminate_writers(name)
    kind = "TABLE" if d.get("type") == "TABLE" else "STREAM"
    client.execute(f"DROP {kind} {quote_name(name)}{' DELETE TOPIC' if delete_topic else ''};")
    return True


def drop_prefixed(url: str, prefix: str) -> None:
    """Drop every stream/table whose name starts with ``prefix`` (``drop`` each), readers
    before what they read. Best effort: a failure is printed, never raised (cleanup after a
    test must not fail it)."""
    client = KsqlClient(url)
    try:
        left = [d for d in client.sources() if d["name"].startswith(prefix)]
        while left:
            names = {d["name"] for d in left}
            # a source that a query of ours still reads waits for that query's sink to go first
            ready = [d for d in left if not any(s in names and s != d["name"]
                                                for q in d.get("readQueries") or [] for s in q.get("sinks") or [])]
            for d in ready or left:
                drop(client, d["name"])
            if not ready:
                break
            left = [d for d in client.sources() if d["name"].startswith(prefix)]
    except Exception as exc:  # noqa: BLE001
        print(f"cleanup of {prefix}*: {exc}")


class KsqlSources:
    """A KsqlClient that remembers the streams and tables created through ``execute``
    and drops them, newest first, on ``close()`` (or leaving a ``with`` block)."""

    def __init__(self, url_or_client: str | KsqlClient, *, delete_topics: bool = True):
        self.client = url_or_client if isinstance(url_or_client, KsqlClient) else KsqlClient(url_or_client)
        self.created: list[str] = []
        self.delete_topics = delete_topics

    def execute(self, statement: str) -> list[dict]:
        entities = self.client.execute(statement)
        for e in entities:
            m = _CREATED.match(str(e.get("commandId", "")))
            if m and m[2] not in self.created:
                self.created.append(m[2])
        return entities

    def adopt(self, *names: str) -> None:
        """Also drop these on close (sources created by another tool, e.g. `kctx migrate`),
        listed in creation order."""
        for n in names:
            if n not in self.created:
                self.created.append(n)

    def describe(self, name: str) -> dict | None:
        return self.client.describe(name)

    def terminate_writers(self, name: str) -> None:
        self.client.terminate_writers(name)

    def close(self) -> None:
        """Drop everything created, newest first; every failure is reported together at
        the end (one failed DROP does not stop the others)."""
        errors = []
        for name in reversed(self.created):
            try:
                drop(self.client, name, delete_topic=self.delete_topics)
            except Exception as exc:  # noqa: BLE001 - report all at the end
                errors.append(f"{name}: {exc}")
        self.created.clear()
        if errors:
            raise AssertionError("ksqlDB cleanup failed:\n" + "\n".join(errors))

    def __enter__(self) -> "KsqlSources":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

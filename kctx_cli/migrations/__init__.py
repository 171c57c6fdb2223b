"""Versioned migrations (SPEC §4; docs/migrations.md).

* ``files``    — ``V000001__desc.sql``: read/parse/render, MD5 checksums
* ``state``    — the offline state: replayed from files, or desired by the models
* ``autogen``  — one comparator per object kind: State x State -> operations
* ``checks``   — offline checks for ``kctx validate``
* ``cluster``  — the live Kafka / Schema Registry / ksqlDB the operations act on
* ``history``  — history records and the lease lock in the ``_kctx_migrations`` topic
* ``apply``    — the resumable apply engine of ``kctx migrate``
* ``live``     — the live cluster read as a State (``kctx plan``, ``baseline``)

Operations themselves are in ``kctx_cli.ops``.
"""

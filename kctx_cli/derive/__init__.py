"""What the models and KSQL statements mean to ksqlDB, worked out offline.

From entity classes (``kctx_cli.model``) and the query DSL (``kctx_cli.query``) this
package derives the facts the rest of kctx acts on, without a cluster:

- ``ddl``: the CREATE statements of entities, and their dependency order;
- ``schema``: the output schema of a derived entity's query (columns, key, types);
- ``analyzer``: the semantic analyzer of KSQL statements (types, keys, joins, clauses);
- ``copartition``: ksqlDB's co-partitioning rule for joins;
- ``checks``: the query checks ``kctx validate`` runs on the models.

It depends on ``model``, ``query``, ``ksql`` and ``sqltypes`` only; migrations, avro and
the commands build on it.
"""

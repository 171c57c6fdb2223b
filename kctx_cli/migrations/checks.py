"""Offline migration checks for ``kctx validate``: readable files, an unbroken chain of
versions, a state that replays, joins that ksqlDB would accept (co-partitioned sources,
``kctx_cli.derive.copartition``), and models equal to that state (nothing left for
``makemigrations`` to write). Checksums of applied files need the cluster's history:
``kctx validate --live`` / ``kctx status``."""
from __future__ import annotations

from kctx_cli.errors import KctxError, Problem, display_path


def check(project) -> list[Problem]:
    """validate's migration checks for a loaded project (``model.discovery.Project``):
    broken files, ``file_problems``, then models equal to the replayed state."""
    from kctx_cli.migrations import autogen, files, state

    config = project.config
    directory = config.migrations_dir
    rel = display_path(directory, config.root)
    migrations, problems = files.problems(directory, config.root, config.defines)
    if problems:
        return problems
    problems = file_problems(migrations, rel)
    if any(p.code in ("migration-gap", "migration-replay") for p in problems):
        return problems
    old = state.replay(migrations)
    if any(e.issues for e in project.entities) or project.load_problems:
        return problems  # the model checks report those; a diff of broken models says nothing more
    try:
        new = state.desired(project)
        # not destructive: an incompatible schema or a drop is named here, before any cluster sees it
        d = autogen.diff(old, new, allow_destructive=False, order=autogen.entity_order(project))
    except KctxError as exc:
        return problems + [Problem(rel, 0, "migration-diff", f"cannot compare the models with the migrations: {exc}")]
    for e in d.errors:
        problems.append(Problem(rel, 0, "migration-refused", e))
    if d.changes:
        shown = "; ".join(op.describe() for op in d.up[:3]) + ("; ..." if len(d.changes) > 3 else "")
        problems.append(Problem(rel, 0, "migration-missing",
                                f"the models differ from the migrations ({len(d.changes)} change"
                                f"{'s' if len(d.changes) != 1 else ''}: {shown}); run kctx makemigrations"))
    return problems


def file_problems(migrations, rel: str) -> list[Problem]:
    """What validate finds in the migration files themselves, without the models: a step
    that does not replay onto the state
    the files before it build (``migration-replay``: e.g. a partition decrease, a CREATE of
    an existing source, a DROP of a missing one) and joins of sources with different
    partition counts (``join-partitions``) and what the semantic analyzer finds in each
    KSQL statement (``kctx_cli.derive.analyzer``: types, keys, joins, clauses, formats, with
    the sources the steps before it create). ``migrate`` runs it on the files up to its
    target before applying any, so a file validate rejects is never applied.

    Gaps between version numbers are no problem: ksql-migrations applies the files in
    version order and numbers a new one "the next available version"
    (ksqldb-docs/migrations-tool.md), so V000002 may be a project's first file. (Two files
    with one version, and a file below the latest applied version that was never applied,
    are errors elsewhere.)

    ``migrations``: ``files.Migration`` objects in version order; ``rel``: the migrations
    directory as messages show it. Raises nothing."""
    from kctx_cli.migrations import state

    try:
        state.replay(migrations)
    except KctxError as exc:
        return [Problem(rel, 0, "migration-replay", f"the migrations do not replay: {exc}")]
    # joins ksqlDB would refuse (different partition counts), at the statement's file:line
    problems = _join_partition_problems(migrations, rel)
    # what else ksqlDB would refuse (types, keys, joins, clauses, formats: issue 15)
    return problems + _analyzer_problems(migrations, rel)


def _join_partition_problems(migrations, where: str) -> list:
    """Every CSAS/CTAS (or INSERT INTO ... SELECT) of the migration files that ksqlDB
    would refuse because it joins sources with different partition counts, as
    ``Problem(file, line, "join-partitions", ksqlDB's message)``.

    ``migrations``: ``kctx_cli.migrations.files.Migration`` objects in version order (their
    up parts are replayed into a fresh ``State``); ``where``: the migrations directory as
    shown in messages (``migrations``). A step that does not replay ends the walk quietly
    (``kctx_cli.migrations.checks`` reports the replay error). Raises nothing.
    """
    from kctx_cli.derive.copartition import CODE, MigrationPartitions
    from kctx_cli.migrations.state import State
    from kctx_cli.ops import Ksql

    state = State()
    follow = MigrationPartitions(state)
    problems: list = []
    for m in migrations:
        for step in m.up:
            op = step.op
            tree = op.tree if isinstance(op, Ksql) else None
            topics_before = set(state.topics)
            if tree is not None:
                msg = follow.check(tree)
                if msg is not None:
                    problems.append(Problem(f"{where}/{m.filename}", step.line, CODE, msg))
            try:
                op.replay(state)
            except Exception:  # noqa: BLE001 - OpError and the like: the migration checks report them
                return problems
            if tree is not None:
                follow.after(tree, topics_before)
    return problems


def _analyzer_problems(migrations, where: str) -> list:
    """The analyzer over migration files: every KSQL step, in version order, with the
    sources the steps before it create, as ``Problem(file, line, code, message)``.

    ``migrations``: ``kctx_cli.migrations.files.Migration`` objects in version order, from
    version 1 (their up steps; a ``Ksql`` op's ``tree`` is the statement after ``${var}``
    substitution, its ``properties`` the SETs in effect); ``where``: the migrations
    directory as messages show it.  Raises nothing.

    The steps are replayed into a ``State`` as the walk goes, so a CREATE without value
    columns (AVRO) reads them from the schema an earlier register-schema step gave its
    topic's subject (``kctx_cli.derive.registered``); a step that does not replay stops
    that (the migration checks report it)."""
    from kctx_cli.derive.analyzer import ScriptAnalyzer
    from kctx_cli.derive.registered import StateSchemas
    from kctx_cli.migrations.state import State
    from kctx_cli.ops import Ksql

    state = State()
    analyzer = ScriptAnalyzer(schemas=StateSchemas(state))
    analyzer.partitions = False  # _join_partition_problems checks them with the replayed topics
    problems: list = []
    replaying = True
    for m in migrations:
        for step in m.up:
            op = step.op
            if isinstance(op, Ksql) and op.tree is not None:
                for code, msg in analyzer.check_with(op.tree, op.properties):
                    problems.append(Problem(f"{where}/{m.filename}", step.line, code, msg))
            if replaying:
                try:
                    op.replay(state)
                except Exception:  # noqa: BLE001 - file_problems reports a step that does not replay
                    replaying = False
    return problems



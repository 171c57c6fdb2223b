"""Offline migration checks for ``kctx validate``: readable files, an unbroken chain of
versions, a state that replays, joins that ksqlDB would accept (co-partitioned sources,
``kctx_cli.query.copartition``), and models equal to that state (nothing left for
``makemigrations`` to write). Checksums of applied files need the cluster's history:
``kctx validate --live`` / ``kctx status``."""
from __future__ import annotations

from kctx_cli.errors import KctxError, Problem


def check(project) -> list[Problem]:
    """validate's migration checks for a loaded project (``model.discovery.Project``):
    broken files, ``file_problems``, then models equal to the replayed state."""
    from kctx_cli.migrations import autogen, files, state

    config = project.config
    directory = config.migrations_dir
    rel = _rel(directory, config.root)
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
    KSQL statement (``kctx_cli.query.analyzer``: types, keys, joins, clauses, formats, with
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
    from kctx_cli.query import copartition

    try:
        state.replay(migrations)
    except KctxError as exc:
        return [Problem(rel, 0, "migration-replay", f"the migrations do not replay: {exc}")]
    # joins ksqlDB would refuse (different partition counts), at the statement's file:line
    problems = copartition.migration_problems(migrations, rel)
    # what else ksqlDB would refuse (types, keys, joins, clauses, formats: issue 15)
    from kctx_cli.query import analyzer

    return problems + analyzer.migration_problems(migrations, rel)


def _rel(path, root) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)

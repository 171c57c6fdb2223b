"""Offline migration checks for ``kctx validate``: readable files, an unbroken chain of
versions, a state that replays, joins that ksqlDB would accept (co-partitioned sources,
``kctx_cli.query.copartition``), and models equal to that state (nothing left for
``makemigrations`` to write). Checksums of applied files need the cluster's history:
``kctx validate --live`` / ``kctx status``."""
from __future__ import annotations

from kctx_cli.errors import KctxError, Problem


def check(project) -> list[Problem]:
    from kctx_cli.migrations import autogen, files, state
    from kctx_cli.query import copartition

    config = project.config
    directory = config.migrations_dir
    rel = _rel(directory, config.root)
    migrations, problems = files.problems(directory, config.root, config.defines)
    if problems:
        return problems
    expected = 1
    for m in migrations:
        if m.version != expected:
            problems.append(Problem(f"{rel}/{m.filename}", 0, "migration-gap",
                                    f"missing migration version(s) V{expected:06d}"
                                    + (f"..V{m.version - 1:06d}" if m.version - 1 > expected else "")
                                    + f" before {m.label}"))
        expected = m.version + 1
    if problems:
        return problems
    try:
        old = state.replay(migrations)
    except KctxError as exc:
        return [Problem(rel, 0, "migration-replay", f"the migrations do not replay: {exc}")]
    # joins ksqlDB would refuse (different partition counts), at the statement's file:line
    problems.extend(copartition.migration_problems(migrations, rel))
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


def _rel(path, root) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)

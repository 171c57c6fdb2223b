"""`kctx makemigrations`, `migrate`, `status`, `plan`, `baseline` (SPEC §2, §4)."""
from __future__ import annotations

import json

from kctx_cli.config import Config
from kctx_cli.errors import EXIT_DIFF, EXIT_ERROR, EXIT_OK, KctxError


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _load(config: Config):
    from kctx_cli.migrations import files
    from kctx_cli.model.discovery import load_project

    project = load_project(config)
    bad = [i for e in project.entities for i in e.issues]
    if bad:
        raise KctxError(f"the models have problems ({len(bad)}); run kctx validate")
    migrations = files.load_all(config.migrations_dir)
    return project, migrations


def compute_diff(project, migrations, *, allow_destructive: bool = False):
    from kctx_cli.migrations import autogen, state

    old = state.replay(migrations)
    new = state.desired(project)
    return autogen.diff(old, new, allow_destructive=allow_destructive, order=autogen.entity_order(project))


def _auto_description(migrations, diff) -> str:
    if not migrations:
        return "initial"
    names: list[str] = []
    for op in diff.up:
        n = getattr(op, "source_name", None) or getattr(op, "topic", None) or getattr(op, "subject", None)
        if n:
            n = str(n).lower().removesuffix("-value").removesuffix("-key")
            if n not in names:
                names.append(n)
    if not names:
        return "auto"
    return "_".join(names[:3]) + ("_and_more" if len(names) > 3 else "")


def makemigrations(config: Config, *, message: str | None = None, check: bool = False, empty: bool = False,
                   allow_destructive: bool = False, output: str = "text") -> int:
    from kctx_cli.migrations import files

    project, migrations = _load(config)
    diff = compute_diff(project, migrations, allow_destructive=allow_destructive)
    out = _console()
    if diff.errors:
        if output == "json":
            print(json.dumps({"ok": False, "errors": diff.errors}, indent=2))
        else:
            err = _err_console()
            for e in diff.errors:
                err.print(f"[red]refused:[/red] {e}", markup=True)
        raise KctxError(f"makemigrations refused {len(diff.errors)} change{'s' if len(diff.errors) != 1 else ''} "
                        "(see above); nothing written")
    version = (migrations[-1].version if migrations else 0) + 1
    if not diff.changes and not empty:
        last = migrations[-1].label if migrations else "no migrations"
        if output == "json":
            print(json.dumps({"changes": 0, "version": None}))
        else:
            out.print(f"No changes: the models match the migrations ({last}).")
        return EXIT_OK
    description = message or ("empty" if empty and not diff.changes else _auto_description(migrations, diff))
    up = [] if empty else diff.up
    down = [] if empty else diff.down
    notes = list(diff.notes)
    why = "; ".join(diff.irreversible)
    if down is None:
        notes.append("irreversible: " + why)
    name = files.filename(version, description)
    text = files.render(version, description, up, down, notes, irreversible=why)
    path = config.migrations_dir / name
    if output == "json":
        print(json.dumps({"changes": len(up), "version": version, "file": str(path), "written": not check,
                          "destructive": [op.describe() for op in up if op.destructive],
                          "reversible": down is not None,
                          "operations": [op.describe() for op in up]}, indent=2))
    else:
        verb = "Would write" if check else "Wrote"
        out.print(f"{verb} {path.relative_to(config.root) if path.is_relative_to(config.root) else path} "
                  f"({len(up)} operation{'s' if len(up) != 1 else ''}{'' if down is not None else ', irreversible'})")
        for op in up:
            mark = "!" if op.destructive else "+"
            out.print(f"  {mark} {op.describe()}")
        for n in notes:
            out.print(f"  note: {n}")
    if check:
        return EXIT_DIFF
    config.migrations_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return EXIT_OK

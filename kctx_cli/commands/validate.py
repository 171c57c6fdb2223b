"""`kctx validate`: every offline check, all problems listed, exit 1 if any;
``--live`` adds the cluster (applied history, checksums of applied files, drift)."""
from __future__ import annotations

import json

from kctx_cli.config import Config
from kctx_cli.errors import EXIT_ERROR, EXIT_OK, Problem
from kctx_cli.model.discovery import Project, load_project


def checkers():
    """The offline checks, one per concern, in the order their findings are shown."""
    from kctx_cli.avro import schema as avro_schema
    from kctx_cli.migrations import checks as migration_checks
    from kctx_cli.model import checks as model_checks
    from kctx_cli.derive import checks as query_checks

    return [model_checks.check, avro_schema.check, query_checks.check, migration_checks.check]


def run_checks(project: Project) -> list[Problem]:
    """All problems of the project, de-duplicated and sorted by file and line."""
    problems: list[Problem] = []
    model_broken = bool(project.load_problems)
    for check in checkers():
        problems.extend(check(project))
        if model_broken:
            break  # later checks would only repeat the import failure
    return sorted(set(problems))


def validate(config: Config, *, output: str = "text", live: bool = False) -> int:
    """`kctx validate`: load the models and run every offline check (``run_checks``: models,
    Avro, KSQL, migrations) and, with ``live``, compare the applied history and the cluster
    (kctx_cli.migrations.api.live_check). Prints the problems (``output`` text
    or json). Returns EXIT_ERROR (1) when there is one, else EXIT_OK (0)."""
    project = load_project(config, strict=False)
    problems = run_checks(project)
    live_report = None
    if live:
        from kctx_cli.migrations.api import live_check

        live_report = live_check(config)
    failed = bool(problems) or (live_report is not None and not live_report["ok"])

    if output == "json":
        report = {
            "ok": not failed,
            "entities": len(project.entities),
            "problems": [p.as_dict() for p in problems],
        }
        if live_report is not None:
            report["live"] = live_report
        print(json.dumps(report, indent=2))
        return EXIT_ERROR if failed else EXIT_OK

    from rich.text import Text

    from kctx_cli.commands.console import stdout

    out = stdout()
    for p in problems:
        out.print(Text.assemble((f"{p.file}:{p.line}" if p.line else p.file, "bold"), ": ", p.message))
    n = len(project.entities)
    derived = sum(1 for e in project.entities if e.derived)
    if problems:
        out.print(Text(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found in "
                       f"{n} entities", style="bold red"))
    else:
        out.print(Text(f"ok: {n} entities ({n - derived} sources, {derived} derived) are valid", style="green"))
    if live_report is not None:
        for p in live_report["problems"]:
            out.print(Text(f"live: {p}", style="red"))
        if live_report["pending"]:
            out.print(Text(f"live: {len(live_report['pending'])} pending migration(s): "
                           f"{', '.join(live_report['pending'])} (run kctx migrate)"))
        if live_report["ok"]:
            out.print(Text(f"live: ok, the cluster is at V{live_report['current']:06d}", style="green"))
    return EXIT_ERROR if failed else EXIT_OK

"""The query checks of ``kctx validate``: every derived entity's query is built,
analysed (``kctx_cli.derive.schema``), compared with what the entity declares, and
rendered KSQL is re-parsed with the dialect, and joins are checked for co-partitioning
(``kctx_cli.derive.copartition``). Problems point at ``Meta.query``.
"""
from __future__ import annotations

import difflib

from kctx_cli.errors import Problem
from kctx_cli.model.discovery import Project, location
from kctx_cli.model.entity import EntityInfo
from kctx_cli.derive import copartition
from kctx_cli.derive.schema import QueryProblem, Resolver, compare_declared


def check(project: Project) -> list[Problem]:
    """The query problems of ``project`` (see the module), as Problems at each derived entity's
    ``Meta.query`` (or ``Meta.kind`` / the field when the declaration is at fault): a query
    function that raises, self references, unknown sources and cycles, what the analysis
    finds (kctx_cli.derive.schema), co-partitioning, declared vs inferred kind and columns,
    a table without a key, and rendered KSQL that does not parse. Never raises for a bad
    query."""
    root = project.config.root
    resolver = Resolver(project.entities)
    problems: list[Problem] = []
    known = {e.cls for e in project.entities}

    def add(info: EntityInfo, code: str, message: str, attr: str | None = "Meta.query") -> None:
        file, line = location(info, attr, root)
        problems.append(Problem(file, line, code, message))

    # 1. build every query once; a failing query function is reported, not raised
    queries: dict[type, object] = {}
    for info in project.entities:
        if not info.derived:
            continue
        try:
            queries[info.cls] = resolver.query_of(info)
        except AttributeError as exc:
            obj = getattr(exc, "obj", None)
            if isinstance(obj, type) and hasattr(obj, "__kctx__") and exc.name:
                names = [f.name for f in obj.__kctx__.fields]
                close = difflib.get_close_matches(exc.name, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                add(info, "unknown-column",
                    f"{info.name}: Meta.query refers to unknown column {obj.__name__}.{exc.name}{hint}")
            else:
                add(info, "query-error", f"{info.name}: Meta.query raised AttributeError: {exc}")
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            add(info, "query-error", f"{info.name}: Meta.query raised {type(exc).__name__}: {exc}")

    # 2. self references and cycles between derived entities
    skip: set[type] = set(c for c in known if c not in queries)
    for info in project.entities:
        q = queries.get(info.cls)
        if q is None:
            continue
        reads = getattr(q, "entities", [])
        if info.cls in reads:
            add(info, "self-reference", f"{info.name}: Meta.query reads {info.name} itself "
                                        "(a derived entity cannot read its own output)")
            skip.add(info.cls)
        for dep in reads:
            if isinstance(dep, type) and hasattr(dep, "__kctx__") and dep not in known and dep is not info.cls:
                add(info, "unknown-source", f"{info.name}: Meta.query reads {dep.__name__}, "
                                            "which is not an entity of the project (abstract or not in the models package?)")
    for cycle in _cycles(project, queries, skip):
        first = cycle[0]
        add(first, "cycle", "cycle between derived entities: " + " -> ".join(e.name for e in cycle + [first]))
        skip.update(e.cls for e in cycle)

    # 3. analyse, compare with the declaration, check co-partitioning, render and re-parse
    by_cls = {e.cls: e for e in project.entities}
    for info in project.entities:
        if not info.derived or info.cls in skip:
            continue
        try:
            a = resolver.analysis(info)
        except QueryProblem as exc:
            add(info, exc.code, f"{info.name}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001
            add(info, "query-error", f"{info.name}: cannot analyse Meta.query: {type(exc).__name__}: {exc}")
            continue
        for code, msg in a.problems:
            add(info, code, f"{info.name}: {msg}")
        # ksqlDB's own text, as its server refuses the statement (see copartition)
        refused = copartition.query_mismatch(info, resolver, by_cls)
        if refused is not None:
            add(info, copartition.CODE, refused)
        if info.kind and a.kind and info.kind != a.kind:
            why = ("it aggregates, groups or windows" if a.kind == "TABLE" and _aggregates(queries[info.cls])
                   else f"it reads {'tables only' if a.kind == 'TABLE' else 'a stream'}")
            attr = "Meta.kind" if "kind" in info.meta else None
            add(info, "kind-mismatch", f"{info.name} is declared as a {info.kind} but its query produces a "
                                       f"{a.kind} ({why})", attr)
        if a.problems:
            continue  # the declared schema comparison would only repeat them
        for code, msg, attr in compare_declared(info, a):
            add(info, code, msg, attr or "Meta.query")
        if a.kind == "TABLE" and not a.keys:
            add(info, "table-without-key", f"{info.name}: a table needs a PRIMARY KEY: the query's result has no key")
        _reparse(info, resolver, add)
    return problems


def _aggregates(q) -> bool:
    from kctx_cli.query import expr as E

    if q.group_by_ or q.window_ is not None:
        return True
    return any(isinstance(n, E.Func) and n.aggregate for i in q.items for n in E.walk(i))


def _reparse(info: EntityInfo, resolver: Resolver, add) -> None:
    """The rendered statement must parse back with the dialect (SPEC §3)."""
    from kctx_cli.errors import KctxError
    from kctx_cli.derive import ddl

    try:
        text = ddl.entity_ddl(info, resolver)
    except KctxError as exc:
        add(info, "render-error", str(exc))
        return
    except Exception as exc:  # noqa: BLE001
        add(info, "render-error", f"{info.name}: cannot render KSQL: {type(exc).__name__}: {exc}")
        return
    try:
        from kctx_cli.ksql.dialect import parse

        parse(text)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        add(info, "render-error", f"{info.name}: the rendered KSQL does not parse: {first}")


def _cycles(project: Project, queries: dict, skip: set) -> list[list[EntityInfo]]:
    """Cycles between derived entities (each reported once), from ``derive.order.walk``
    over the queries that resolved (``queries``: entity class -> query); an entity reading
    itself is reported elsewhere."""
    from kctx_cli.derive.order import walk

    by_cls = {e.cls: e for e in project.entities}

    def reads(cls):
        return [d for d in getattr(queries[cls], "entities", []) if d in by_cls and d is not cls]

    _, cycles = walk([e.cls for e in project.entities if e.cls in queries], reads)
    return [[by_cls[c] for c in cycle] for cycle in cycles]

"""Dependency order: the one walk over "what reads what", for entities and for statements.

A derived entity (or a CREATE … AS SELECT) reads the sources named in its FROM and JOINs;
ksqlDB refuses to create it before they exist and to drop them while it runs
(ksqldb-docs: "CREATE STREAM AS SELECT", "DROP STREAM"). Everything kctx orders — the
models (``derive.ddl.ordered``), cycles between derived entities (``derive.checks``),
sources read back from a cluster (``kctx baseline``) and the sources a re-created one
drags along (``migrations.autogen``) — goes through ``walk``.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, NamedTuple, TypeVar

N = TypeVar("N", bound=Hashable)


class Walk(NamedTuple):
    """What ``walk`` found: ``order`` every node once, each after what it depends on;
    ``cycles`` each cycle once, as the nodes on it from the one reached twice. Unpacks as
    ``order, cycles``. (Not Generic[N]: a generic NamedTuple needs Python 3.11.)"""

    order: list
    cycles: list[list]


def walk(nodes: Iterable[N], depends_on: Callable[[N], Iterable[N]]) -> Walk:
    """Depth-first, dependencies first: a ``Walk(order, cycles)``. ``nodes`` in the order ties keep
    (declaration order); ``depends_on(n)``: what ``n`` reads, in the order to visit it —
    nodes not in ``nodes`` are ignored. ``order`` lists every node once, each after what it
    depends on (a dependency on a cycle is skipped); ``cycles`` lists each cycle found once,
    as the nodes on it starting with the one reached twice. Raises nothing."""
    nodes = list(nodes)
    known = set(nodes)
    state: dict[N, int] = {}  # 1 on the stack, 2 done
    order: list[N] = []
    cycles: list[list[N]] = []

    def visit(n: N, stack: list[N]) -> None:
        state[n] = 1
        stack.append(n)
        for d in depends_on(n):
            if d not in known:
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):])
            elif d not in state:
                visit(d, stack)
        stack.pop()
        state[n] = 2
        order.append(n)

    for n in nodes:
        if n not in state:
            visit(n, [])
    return Walk(order, cycles)


def reads(statement: str) -> set[str]:
    """The source names a ``CREATE … AS SELECT`` statement (KSQL text) reads — its FROM and
    JOINs, as the dialect parses them; empty for any other statement or one that does not
    parse (the migration checks report that)."""
    from sqlglot import exp

    from kctx_cli.ksql.dialect import parse_one

    try:
        q = parse_one(statement).args.get("expression")
    except Exception:  # noqa: BLE001 - unparsable text reads nothing here
        return set()
    return {t.this.this for t in q.find_all(exp.Table)} if q is not None else set()


def source_order(statements: dict[str, str]) -> list[str]:
    """Source names (``{name: statement}``) in an order where a query comes after what it
    reads; ties by name."""
    deps = {n: sorted(reads(s)) for n, s in statements.items()}
    return walk(sorted(deps), deps.__getitem__).order


def dependents(statements: dict[str, str], name: str) -> set[str]:
    """The sources among ``statements`` (``{name: statement}``) that read ``name`` directly
    or through others."""
    readers: dict[str, set[str]] = {}
    for n, s in statements.items():
        for r in reads(s):
            readers.setdefault(r, set()).add(n)
    out: set[str] = set()
    frontier = [name]
    while frontier:
        for r in readers.get(frontier.pop(), ()):
            if r not in out:
                out.add(r)
                frontier.append(r)
    return out

"""CREATE STREAM/TABLE statements of the entities, rendered through the ksqlDB
dialect's generator: source entities declare their columns; derived entities are
CREATE ... AS SELECT of their DSL query.
"""
from __future__ import annotations

from sqlglot import exp

from kctx_cli.errors import KctxError
from kctx_cli.ksql import nodes as k
from kctx_cli.model.entity import EntityInfo
from kctx_cli.derive.schema import Resolver


def _props(info: EntityInfo, *, derived: bool, has_key: bool) -> list:
    values: dict = {"KAFKA_TOPIC": info.topic}
    if info.partitions is not None:
        values["PARTITIONS"] = int(info.partitions)
    if info.replicas is not None:
        values["REPLICAS"] = int(info.replicas)
    if has_key or derived:
        values["KEY_FORMAT"] = info.key_format
    values["VALUE_FORMAT"] = info.value_format
    if info.timestamp:
        from kctx_cli.ksql.dialect import quote_name

        f = info.field(info.timestamp)
        # ksqlDB reads the value as a column reference: a reserved name back-quoted
        # (8.1.5: TIMESTAMP='FROM' "Cannot parse text that is not column reference")
        values["TIMESTAMP"] = quote_name(f.column if f is not None else str(info.timestamp).upper())
        if info.timestamp_format:
            values["TIMESTAMP_FORMAT"] = info.timestamp_format
    if not derived and info.meta.get("window_type"):  # a source over windowed keys (model.checks checks them)
        values["WINDOW_TYPE"] = str(info.meta["window_type"]).upper()
        if info.meta.get("window_size"):
            values["WINDOW_SIZE"] = str(info.meta["window_size"]).upper()
    return k.props(**values)


def _column(info: EntityInfo, f, kind: str) -> k.ColumnDef:
    from kctx_cli.ksql.dialect import parse_type, quote_name

    node = k.ColumnDef(this=k.ident(f.column), kind=parse_type(f.type.ksql(quote_name)))
    if f.key:
        node.set("constraint", "PRIMARY KEY" if kind == "TABLE" else "KEY")
    elif f.header is not None:
        if f.header.key:
            node.set("header", exp.Literal.string(f.header.key))
        else:
            node.set("constraint", "HEADERS")
    return node


def entity_tree(info: EntityInfo, resolver: Resolver | None = None) -> k.CreateSource:
    """The sqlglot tree of the entity's CREATE statement."""
    resolver = resolver or Resolver()
    kind = resolver.kind(info)
    if kind is None:
        raise KctxError(f"{info.name}: cannot tell whether it is a STREAM or a TABLE "
                        "(subclass Stream or Table, or set Meta.kind)")
    if info.derived:
        from kctx_cli.query.compiler import compile_select

        try:
            q = resolver.query_of(info)
        except Exception as exc:  # noqa: BLE001 - user code
            raise KctxError(f"{info.name}: Meta.query raised {type(exc).__name__}: {exc}") from None
        return k.CreateSource(kind=kind, this=k.ident(info.source_name),
                              properties=_props(info, derived=True, has_key=True),
                              expression=compile_select(q))
    missing = [f.name for f in info.fields if f.type is None]
    if missing:
        raise KctxError(f"{info.name}: field {missing[0]} has no usable type (run kctx validate)")
    # ksqlDB lists key columns first in DESCRIBE; keep the declared order (it is the Avro order)
    columns = [_column(info, f, kind) for f in info.fields]
    return k.CreateSource(kind=kind, this=k.ident(info.source_name), columns=columns,
                          properties=_props(info, derived=False, has_key=bool(info.keys)))


def entity_ddl(info: EntityInfo, resolver: Resolver | None = None) -> str:
    """``CREATE STREAM|TABLE ...;`` of one entity."""
    from kctx_cli.ksql.dialect import render

    return render(entity_tree(info, resolver)) + ";"


def dependencies(info: EntityInfo, resolver: Resolver) -> list[type]:
    """The entity classes a derived entity's query reads (FROM and JOINs), in query order;
    [] for a declared source. Raises ``KctxError`` when ``Meta.query`` raises."""
    if not info.derived:
        return []
    try:
        q = resolver.query_of(info)
    except Exception as exc:  # noqa: BLE001
        raise KctxError(f"{info.name}: Meta.query raised {type(exc).__name__}: {exc}") from None
    return list(getattr(q, "entities", []))


def ordered(project, resolver: Resolver | None = None) -> list[EntityInfo]:
    """Entities in dependency order (sources a query reads come before it); otherwise
    in declaration order (``derive.order.walk``). Raises ``KctxError`` for a cycle between
    derived entities, or when a ``Meta.query`` raises."""
    from kctx_cli.derive.order import walk

    resolver = resolver or Resolver()
    by_cls = {e.cls: e for e in project.entities}
    order, cycles = walk(by_cls, lambda cls: dependencies(by_cls[cls], resolver))
    if cycles:
        cycle = cycles[0] + cycles[0][:1]
        raise KctxError("cycle between derived entities: " + " -> ".join(by_cls[c].name for c in cycle))
    return [by_cls[c] for c in order]

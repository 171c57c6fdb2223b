"""Offline Avro schema compatibility, following the spec's schema-resolution rules.

``can_read(reader, writer)`` answers "can data written with *writer* be decoded with
*reader*?" the way Avro's ``SchemaCompatibility`` (Java) / ``ReaderWriterCompatibilityChecker``
(Python) do, and returns one human-readable reason per problem, each starting with the
path inside the reader schema (``/fields/amount/type: ...``). On top of Avro's rules it
rejects decimal changes that would silently corrupt values: a different scale, or a
reader precision lower than the writer's (Avro resolves decimals as plain bytes/fixed).

``check_compatibility(new, previous, level)`` applies a Schema Registry level:

    BACKWARD   new reads data written with the latest previous schema
    FORWARD    the latest previous schema reads data written with new
    FULL       both
    *_TRANSITIVE   the same against every previous schema, not only the latest
    NONE       always compatible

Schemas are JSON values (dict / list / str) or JSON text; they are validated with
``fastavro.parse_schema`` first (``SchemaInvalid`` on failure).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

LEVELS = (
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE",
)

PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")

# Avro's promotions: writer type -> reader types that can read it
PROMOTIONS = {
    "int": ("long", "float", "double"),
    "long": ("float", "double"),
    "float": ("double",),
    "string": ("bytes",),
    "bytes": ("string",),
}


class SchemaInvalid(ValueError):
    """The text or value is not a valid Avro schema (message says why)."""


@dataclass
class CompatResult:
    """The verdict of ``check_compatibility``: ``compatible`` and one message per problem
    (each names the level's direction, the previous schema and the path inside the reader
    schema); ``messages`` is empty when compatible."""
    compatible: bool
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """``{"compatible": bool, "messages": [str, ...]}`` (a copy of the list), for JSON output."""
        return {"compatible": self.compatible, "messages": list(self.messages)}


# ---------------------------------------------------------------------------
# A resolved schema graph: named references replaced by the node they name
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Field:
    name: str
    type: "_Node"
    aliases: tuple[str, ...]
    has_default: bool


@dataclass(eq=False)
class _Node:
    type: str  # a primitive, record, enum, fixed, array, map or union
    name: str | None = None  # unqualified name of a named type
    fullname: str | None = None
    aliases: tuple[str, ...] = ()  # full names
    fields: list[_Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int | None = None
    items: "_Node | None" = None  # array items, map values
    branches: list["_Node"] = field(default_factory=list)
    decimal: tuple[int, int] | None = None  # (precision, scale) of a valid decimal

    def describe(self) -> str:
        if self.decimal:
            return f"decimal({self.decimal[0]}, {self.decimal[1]})"
        if self.name:
            return f"{self.type} '{self.fullname}'"
        if self.type == "union":
            return "union [" + ", ".join(b.describe() for b in self.branches) + "]"
        return self.type


def _full(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _decimal(obj: dict) -> tuple[int, int] | None:
    """(precision, scale) of a decimal logical type Avro would honour, else None
    (an invalid decimal is ignored by Avro and read as its underlying type)."""
    if obj.get("logicalType") != "decimal" or obj.get("type") not in ("bytes", "fixed"):
        return None
    p, s = obj.get("precision"), obj.get("scale", 0)
    if not isinstance(p, int) or isinstance(p, bool) or not isinstance(s, int) or isinstance(s, bool):
        return None
    if p < 1 or s < 0 or s > p:
        return None
    return p, s


class _Builder:
    def __init__(self, strict: bool = False):
        self.named: dict[str, _Node] = {}
        self.strict = strict

    def build(self, obj: Any, namespace: str | None) -> _Node:
        if isinstance(obj, str):
            if obj in PRIMITIVES:
                return _Node(obj)
            full = _full(obj, namespace)
            node = self.named.get(full) or self.named.get(obj)
            if node is None:
                raise SchemaInvalid(f"unknown type '{obj}'")
            return node
        if isinstance(obj, list):
            node = _Node("union", branches=[self.build(b, namespace) for b in obj])
            if self.strict:
                self._check_union(node)
            return node
        if not isinstance(obj, dict):
            raise SchemaInvalid(f"not a schema: {obj!r}")
        t = obj.get("type")
        if isinstance(t, (dict, list)):
            return self.build(t, namespace)
        if t in PRIMITIVES:
            return _Node(t, decimal=_decimal(obj))
        if t in ("record", "error", "enum", "fixed"):
            name = obj["name"]
            ns = obj.get("namespace", namespace) if "." not in name else name.rsplit(".", 1)[0]
            full = _full(name, ns)
            node = _Node(
                "record" if t == "error" else t,
                name=full.rsplit(".", 1)[-1],
                fullname=full,
                aliases=tuple(_full(a, ns) for a in obj.get("aliases", ()) or ()),
            )
            self.named[full] = node  # before the fields: records may be recursive
            if t == "enum":
                node.symbols = tuple(obj.get("symbols", ()))
                node.enum_default = obj.get("default")
            elif t == "fixed":
                node.size = obj.get("size")
                node.decimal = _decimal(obj)
            else:
                if self.strict and not isinstance(obj.get("fields"), list):
                    raise SchemaInvalid(f"record '{full}' needs a \"fields\" list")
                for f in obj.get("fields", ()):
                    node.fields.append(_Field(
                        name=f["name"],
                        type=self.build(f["type"], ns),
                        aliases=tuple(f.get("aliases", ()) or ()),
                        has_default="default" in f,
                    ))
            return node
        if t == "array":
            return _Node("array", items=self.build(obj["items"], namespace))
        if t == "map":
            return _Node("map", items=self.build(obj["values"], namespace))
        return self.build(t, namespace)  # {"type": "SomeNamedType"}

    @staticmethod
    def _check_union(node: _Node) -> None:
        seen = set()
        for b in node.branches:
            if b.type == "union":
                raise SchemaInvalid("a union cannot directly contain another union")
            key = b.fullname or b.type
            if key in seen:
                raise SchemaInvalid(f"union contains {key} twice")
            seen.add(key)


def load(schema: Any) -> Any:
    """A schema as a JSON value, validated by fastavro. Accepts JSON text too."""
    import fastavro
    from fastavro.schema import SchemaParseException, UnknownType

    if isinstance(schema, (str, bytes)):
        text = schema.decode() if isinstance(schema, bytes) else schema
        stripped = text.strip()
        if stripped[:1] in ("{", "[", '"'):
            try:
                schema = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise SchemaInvalid(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        else:
            schema = stripped
    if not isinstance(schema, (dict, list, str)):
        raise SchemaInvalid(f"expected a JSON object, array or type name, got {json.dumps(schema)}")
    try:
        fastavro.parse_schema(schema, _write_hint=False)
    except UnknownType as exc:
        raise SchemaInvalid(f"unknown type '{exc.name}'") from None
    except KeyError as exc:
        raise SchemaInvalid(f"missing attribute {exc}") from None
    except (SchemaParseException, ValueError, TypeError, AttributeError) as exc:
        raise SchemaInvalid(str(exc) or type(exc).__name__) from None
    _Builder(strict=True).build(schema, None)  # what fastavro lets through but Avro rejects
    return schema


def _resolve(schema: Any) -> _Node:
    return _Builder().build(load(schema), None)


# ---------------------------------------------------------------------------
# reader/writer check
# ---------------------------------------------------------------------------


class _Checker:
    def __init__(self):
        self.in_progress: set[tuple[int, int]] = set()

    def check(self, reader: _Node, writer: _Node, path: str) -> list[str]:
        key = (id(reader), id(writer))
        if key in self.in_progress:  # recursive types: assume OK while we are inside
            return []
        self.in_progress.add(key)
        try:
            return self._check(reader, writer, path)
        finally:
            self.in_progress.discard(key)

    def _check(self, r: _Node, w: _Node, path: str) -> list[str]:
        if r.type == w.type:
            if r.type in PRIMITIVES:
                return self._decimals(r, w, path)
            if r.type == "array":
                return self.check(r.items, w.items, f"{path}/items")
            if r.type == "map":
                return self.check(r.items, w.items, f"{path}/values")
            if r.type == "fixed":
                problems = self._names(r, w, path)
                if not problems and r.size != w.size:
                    problems.append(f"{path}/size: fixed '{r.fullname}' has size {r.size}, the writer's has size {w.size}")
                return problems or self._decimals(r, w, path)
            if r.type == "enum":
                problems = self._names(r, w, path)
                if problems:
                    return problems
                missing = [s for s in w.symbols if s not in r.symbols]
                if missing and not (r.enum_default is not None and r.enum_default in r.symbols):
                    return [f"{path}/symbols: reader enum '{r.fullname}' lacks the writer's symbols "
                            f"{', '.join(missing)} and has no default symbol"]
                return []
            if r.type == "record":
                return self._names(r, w, path) or self._records(r, w, path)
            if r.type == "union":
                return self._writer_union(r, w, path)
        if w.type == "union":
            return self._writer_union(r, w, path)
        if r.type == "union":
            for b in r.branches:
                if not self.check(b, w, path):
                    return []
            return self._closest(r, w, path) or [
                f"{path}: reader {r.describe()} has no branch that can read the writer's {w.describe()}"]
        if r.type in PROMOTIONS.get(w.type, ()):
            return []
        return [f"{path}: type mismatch: reader expects {r.describe()}, writer has {w.describe()}"]

    def _writer_union(self, r: _Node, w: _Node, path: str) -> list[str]:
        # every branch the writer may have used must be readable
        problems: list[str] = []
        for i, b in enumerate(w.branches):
            problems += self.check(r, b, path) if r.type != "union" else self._branch(r, b, path, i)
        return problems

    def _branch(self, r: _Node, wb: _Node, path: str, i: int) -> list[str]:
        for rb in r.branches:
            if not self.check(rb, wb, path):
                return []
        if wb.type == "union":  # not valid Avro, but be total
            return self._writer_union(r, wb, path)
        return self._closest(r, wb, path) or [f"{path}: reader {r.describe()} has no branch that can read the writer's "
                f"union branch {i} ({wb.describe()})"]

    def _closest(self, r: _Node, w: _Node, path: str) -> list[str]:
        """The problems of the reader branch Avro would pick for the writer's type (same
        type, and same name for named types): more telling than "no branch matches"."""
        for b in r.branches:
            if b.type == w.type and (b.name is None or b.name == w.name):
                return self.check(b, w, path)
        return []

    def _names(self, r: _Node, w: _Node, path: str) -> list[str]:
        # Avro compares unqualified names, or the writer's full name against the reader's aliases
        if r.name == w.name or w.fullname in r.aliases:
            return []
        return [f"{path}/name: name mismatch: reader {r.type} '{r.fullname}' cannot read writer {w.type} '{w.fullname}'"]

    def _records(self, r: _Node, w: _Node, path: str) -> list[str]:
        problems: list[str] = []
        by_name = {f.name: f for f in w.fields}
        for f in r.fields:
            wf = by_name.get(f.name)
            if wf is None:
                wf = next((by_name[a] for a in f.aliases if a in by_name), None)
            if wf is None:
                if not f.has_default:
                    problems.append(f"{path}/fields/{f.name}: reader field '{f.name}' has no default value "
                                    f"and the writer has no such field")
                continue
            problems += self.check(f.type, wf.type, f"{path}/fields/{f.name}/type")
        return problems

    @staticmethod
    def _decimals(r: _Node, w: _Node, path: str) -> list[str]:
        # Avro itself resolves decimals by their underlying type; the value would be misread
        if not (r.decimal and w.decimal):
            return []
        (rp, rs), (wp, ws) = r.decimal, w.decimal
        if rs != ws:
            return [f"{path}: decimal scale changed: reader {r.describe()} cannot read writer {w.describe()} "
                    f"(scale {ws} values would be read with scale {rs})"]
        if rp < wp:
            return [f"{path}: decimal precision lowered: reader {r.describe()} cannot hold every value "
                    f"of writer {w.describe()}"]
        return []


def can_read(reader: Any, writer: Any) -> list[str]:
    """Reasons why data written with ``writer`` cannot be read with ``reader`` (empty: OK)."""
    r, w = _resolve(reader), _resolve(writer)
    problems = _Checker().check(r, w, "")
    # a path of "" is the schema root; show it as "/"
    return [p if not p.startswith(":") else "/" + p for p in problems]


def check_compatibility(new: Any, previous: list, level: str, names: list[str] | None = None) -> CompatResult:
    """Check ``new`` against ``previous`` (oldest first) at a Schema Registry level.
    ``names`` labels the previous schemas in messages (default: "version N")."""
    level = level.upper()
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level '{level}' (known: {', '.join(LEVELS)})")
    if level == "NONE" or not previous:
        return CompatResult(True, [])
    labels = names or [f"previous schema {i + 1}" for i in range(len(previous))]
    pairs = list(zip(previous, labels))
    if not level.endswith("_TRANSITIVE"):
        pairs = pairs[-1:]
    base = level.replace("_TRANSITIVE", "")
    messages: list[str] = []
    for old, label in pairs:
        if base in ("BACKWARD", "FULL"):
            for p in can_read(new, old):
                messages.append(f"BACKWARD: new schema cannot read data written with {label}: {p}")
        if base in ("FORWARD", "FULL"):
            for p in can_read(old, new):
                messages.append(f"FORWARD: {label} cannot read data written with the new schema: {p}")
    return CompatResult(not messages, messages)

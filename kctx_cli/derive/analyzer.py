"""The semantic analyzer over the ksqlDB dialect's trees: what ksqlDB would refuse in a
sequence of statements, checked offline with the sources the earlier statements create.

One analyzer, two front ends:

* ``kctx ksql check FILE...`` (``kctx_cli.commands.ksql``): hand-written files, statement
  by statement in the order given;
* ``kctx validate`` (``kctx_cli.migrations.checks``): the migration files replayed in
  version order.

The queries themselves (CREATE ... AS SELECT, INSERT INTO ... SELECT) are translated into
the DSL's ``Select`` over synthetic entity classes and analysed by
``kctx_cli.derive.schema.analyze`` -- the same inference and type rules the models get, so
there is one set of rules (kind, key, output names and types, implicit casts, clause and
join rules).  Quoted names that are not upper case keep their case (``_Names``).  What
the DSL cannot express (lambdas, functions kctx does not know -- UDFs --, ...) is skipped,
never guessed: the statement is accepted and the result's schema is unknown to the
statements after it.  A CREATE without value (or key) columns reads them from the
registered schema when the analyzer is given it (``schemas``: the subjects the migrations
register, a corpus test's topics; ``kctx_cli.derive.registered``), else its columns are
unknown in the same way.  Rules that depend on the
statement rather than the query (formats per column type, map keys, WRAP_SINGLE_VALUE,
sources that exist, pseudo columns as aliases, windowed vs non-windowed joins, self
joins) live here.

Each rule names its source: a page of ``../shared/ksqldb-docs/`` or a test of ksqlDB's
functional tests (``../shared/ksql-corpus/``, ``file / test name``).  Where a rule could
refuse a statement ksqlDB accepts, it stays out: a false rejection blocks a valid
migration, which is worse than a miss (docs/validation.md lists the misses by cause).

Public API: ``SourceInfo``, ``Catalog``, ``Finding``, ``ScriptAnalyzer``,
``check_statements`` (dialect statements; migration files go through
``kctx_cli.migrations.checks``),
``format_problems`` and ``property_problems`` (a schema against its formats / WITH).
"""
from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field

from sqlglot import exp

from kctx_cli.ksql import nodes as k
from kctx_cli.sqltypes import BIGINT, INT, SqlType
from kctx_cli.query import expr as E

PSEUDO = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")
# names ksqlDB refuses as column names or aliases (system columns): "`ROWTIME` is a
# reserved column name" -- ksqldb-docs create-stream.md ("ROWTIME ... reserved"); corpus
# system-columns.json
RESERVED_NAMES = ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND")
KAFKA_FORMAT_TYPES = ("INT", "BIGINT", "DOUBLE", "STRING", "BYTES")


class Unsupported(Exception):
    """The statement uses something the offline analyzer does not model: skip it."""


@dataclass
class SourceInfo:
    """One source (stream or table) as the analyzer knows it.

    ``columns``: ``[(name, type or None, is_key)]`` in schema order, None when unknown
    (a query kctx could not analyse); ``windowed``: a windowed aggregation's result or a
    source declared with WINDOW_TYPE."""

    name: str
    kind: str  # STREAM / TABLE
    columns: list[tuple[str, SqlType | None, bool]] | None
    windowed: bool = False
    key_format: str | None = None
    value_format: str | None = None
    topic: str | None = None
    partitions: int | None = None
    inferred: bool = False  # its columns come from the Schema Registry (unknown offline)
    headers: bool = False  # it has HEADERS / HEADER('k') columns (not in the value's format)

    def schema_text(self) -> str | None:
        """``NAME TYPE [KEY|PRIMARY KEY], ...`` as ksqlDB's functional tests write
        ``post_sources`` schemas; None when a column or type is unknown."""
        if self.columns is None or any(t is None for _, t, _ in self.columns):
            return None
        return ", ".join(f"{_quoted(n)} {_type_text(t)}" + (" KEY" if is_key else "") for n, t, is_key in self.columns)


_PLAIN_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _quoted(name: str) -> str:
    """A column or field name as ksqlDB writes it: back-quoted unless a plain upper-case
    identifier (a quoted name keeps its case: `Key`, `f 1`)."""
    return name if _PLAIN_NAME.fullmatch(name) else "`" + name.replace("`", "``") + "`"


def _type_text(t: SqlType) -> str:
    """``t.ksql()`` with STRUCT field names quoted as ``_quoted`` does."""
    if t.name == "STRUCT":
        return "STRUCT<" + ", ".join(f"{_quoted(n)} {_type_text(ft)}" for n, ft in t.fields) + ">"
    if t.name == "ARRAY":
        return f"ARRAY<{_type_text(t.item)}>"
    if t.name == "MAP":
        return f"MAP<STRING, {_type_text(t.item)}>"
    return t.ksql()


class _Names:
    """Quoted names that are not upper case (`Key`, `f 1`, a registered schema's `event`)
    as ksqlDB keeps them: the DSL's column model upper-cases names, so the analysis sees
    each as an upper-case token (``KQ<n>QK``) and its results are read back with the
    name as written (corpus group-by.json "should handled quoted key and value",
    partition-by.json "should handle quoted key and value", simple-struct.json "generated
    name - quoted identifier", select-struct-all.json "struct fields with back quoted
    strings")."""

    def __init__(self):
        self.tokens: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def enc(self, name: str) -> str:
        """The name the analysis uses for ``name`` (itself when upper case)."""
        if name == name.upper():
            return name
        tok = self.tokens.get(name)
        if tok is None:
            tok = self.tokens[name] = f"KQ{len(self.tokens)}QK"
            self.names[tok] = name
        return tok

    def enc_type(self, t: SqlType | None) -> SqlType | None:
        if t is None or not (t.fields or t.item):
            return t
        from dataclasses import replace

        if t.name == "STRUCT":
            return replace(t, fields=tuple((self.enc(n), self.enc_type(ft)) for n, ft in t.fields))
        return replace(t, item=self.enc_type(t.item))

    def dec(self, text: str) -> str:
        """``text`` (a name, a message) with every token read back."""
        if "KQ" not in text:
            return text
        return re.sub(r"KQ\d+QK", lambda m: self.names.get(m.group(0), m.group(0)), text)

    def dec_type(self, t: SqlType | None) -> SqlType | None:
        if t is None or not (t.fields or t.item):
            return t
        from dataclasses import replace

        if t.name == "STRUCT":
            return replace(t, fields=tuple((self.dec(n), self.dec_type(ft)) for n, ft in t.fields))
        return replace(t, item=self.dec_type(t.item))


@dataclass
class Catalog:
    """The sources known so far, by upper-case name (ksqlDB's unquoted names)."""

    sources: dict[str, SourceInfo] = field(default_factory=dict)

    def get(self, name: str) -> SourceInfo | None:
        """The source named ``name`` (upper-case, as ksqlDB stores unquoted names), or None."""
        return self.sources.get(name)


@dataclass
class Finding:
    """One problem of one statement: ``line``/``column`` 1-based in its file."""

    line: int
    column: int
    code: str
    message: str


def _props(tree) -> dict[str, object]:
    out: dict[str, object] = {}
    for p in tree.args.get("properties") or []:
        name = p.this.this.upper() if isinstance(p.this, exp.Identifier) else str(p.this).upper()
        v = p.args.get("value")
        if isinstance(v, exp.Literal):
            out[name] = v.this if v.is_string else v.this
        elif isinstance(v, exp.Boolean):
            out[name] = bool(v.this)
        else:
            out[name] = v.sql() if v is not None else None
    return out


_SIMPLE_TYPE_CACHE: dict = {}


def _type_of_node(node) -> SqlType | None:
    """A type node (``exp.DataType``) -> ``SqlType``; None for a type kctx does not model."""
    from kctx_cli.query.functions import sql_type_of

    if not isinstance(node, exp.DataType):
        return None
    key = None
    if all(isinstance(p, exp.DataTypeParam) for p in node.expressions):
        key = (node.this, tuple(str(p.this) for p in node.expressions))  # INT, DECIMAL(18, 4), ...
        if key in _SIMPLE_TYPE_CACHE:
            return _SIMPLE_TYPE_CACHE[key]
    try:
        t = sql_type_of(node)
    except Exception:  # noqa: BLE001 - a type kctx does not model
        t = None
    if key is not None:
        _SIMPLE_TYPE_CACHE[key] = t
    return t


def _contains(t: SqlType | None, name: str) -> bool:
    """Whether ``t`` is or contains (element, value, field) a ``name`` type."""
    if t is None:
        return False
    if t.name == name:
        return True
    return any(_contains(c, name) for c in _children(t))


def _children(t: SqlType) -> list[SqlType]:
    out = []
    if isinstance(t.item, SqlType):
        out.append(t.item)
    for f in getattr(t, "fields", None) or ():
        if isinstance(f, tuple) and len(f) == 2 and isinstance(f[1], SqlType):
            out.append(f[1])
    return out


def _map_with_non_string_key(t: SqlType | None) -> SqlType | None:
    if t is None:
        return None
    if t.name == "MAP":
        key = getattr(t, "key", None)
        if key is not None and key.name != "STRING":
            return t
    for c in _children(t):
        found = _map_with_non_string_key(c)
        if found is not None:
            return found
    return None


def _non_string_map_key(node) -> bool:
    """Whether a type node (``exp.DataType``) has a MAP whose key is not STRING anywhere in
    it (``SqlType`` keeps no MAP key type, so this reads the tree)."""
    if node is None or (isinstance(node, exp.DataType)
                        and all(isinstance(p, exp.DataTypeParam) for p in node.expressions)):
        return False
    for dt in node.find_all(exp.DataType):
        if dt.this == exp.DataType.Type.MAP and dt.expressions:
            key = dt.expressions[0]
            if isinstance(key, exp.DataType) and key.this not in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
                return True
    return False


_AVRO_NAME = __import__("re").compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def property_problems(props: dict, value_format: str | None) -> list[tuple[str, str]]:
    """WITH properties ksqlDB refuses for the value format (corpus delimited.json, avro.json):
    VALUE_DELIMITER only with DELIMITED, one character or TAB / SPACE (not empty, not a
    blank); VALUE_AVRO_SCHEMA_FULL_NAME only with AVRO, not blank."""
    out: list[tuple[str, str]] = []
    if "VALUE_DELIMITER" in props and value_format is not None:
        d = str(props["VALUE_DELIMITER"])
        if value_format != "DELIMITED":
            out.append(("bad-property", f"{value_format} does not support the following configs: [delimiter]"))
        elif d.upper() not in ("TAB", "SPACE") and (len(d) != 1 or not d.strip()):
            out.append(("bad-property", f"Configuration VALUE_DELIMITER is invalid: {d!r}: a delimiter is one "
                                        "character, or TAB or SPACE"))
    if "VALUE_AVRO_SCHEMA_FULL_NAME" in props and value_format is not None:
        if value_format != "AVRO":
            out.append(("bad-property", f"{value_format} does not support the following configs: [fullSchemaName]"))
        elif not str(props["VALUE_AVRO_SCHEMA_FULL_NAME"]).strip():
            out.append(("bad-property", "fullSchemaName cannot be empty"))
    return out


def _formats(props: dict, default_key: str | None = "KAFKA") -> tuple[str | None, str | None]:
    fmt = props.get("FORMAT")
    key = props.get("KEY_FORMAT") or fmt
    value = props.get("VALUE_FORMAT") or fmt
    return (str(key).upper() if key else default_key), (str(value).upper() if value else None)


def format_problems(columns, key_format: str | None, value_format: str | None, props: dict,
                    query: bool = False) -> list[tuple[str, str]]:
    """What ksqlDB refuses in a schema for its formats, as ``(code, message)``.

    ``columns``: ``[(name, type or None, is_key)]``; formats upper-case or None (unknown:
    nothing is checked for that side); ``props``: the WITH properties (upper-case names).

    Rules (ksqldb-docs serialization.md feature tables; corpus delimited.json, kafka.json,
    none.json, maps-in-keys.json, serdes.json):

    * a key column whose type is or contains a MAP: "Map keys ... are not supported";
    * DELIMITED: no ARRAY, MAP or STRUCT columns; no WRAP_SINGLE_VALUE=true;
    * KAFKA: one column per side, of INT, BIGINT, DOUBLE, STRING (BYTES);
    * NONE: no columns on that side;
    * AVRO, JSON, PROTOBUF (and _SR): MAP keys are STRING;
    * WRAP_SINGLE_VALUE only with one value column; PROTOBUF refuses it false.
    """
    out: list[tuple[str, str]] = []
    keys = [(n, t) for n, t, key in columns if key]
    values = [(n, t) for n, t, key in columns if not key]
    for n, t in keys:
        if _contains(t, "MAP"):
            out.append(("map-key", f"Map keys, including types that contain maps, are not supported: key column "
                                   f"`{n}` is {t.ksql()}"))
    for side, fmt, cols in (("Key", key_format, keys), ("Value", value_format, values)):
        if fmt is None:
            continue
        if fmt == "DELIMITED":
            for n, t in cols:
                for bad in ("ARRAY", "MAP", "STRUCT"):
                    if _contains(t, bad):
                        out.append(("format-type", f"The 'DELIMITED' format does not support type '{bad}' "
                                                   f"({side.lower()} column `{n}`)"))
                        break
        elif fmt == "KAFKA":
            if len(cols) > 1:
                out.append(("format-type", f"The 'KAFKA' format only supports a single field ({side.lower()} "
                                           f"columns: {', '.join(n for n, _ in cols)})"))
            for n, t in cols:
                if t is not None and t.name not in KAFKA_FORMAT_TYPES:
                    out.append(("format-type", f"The 'KAFKA' format does not support type '{t.ksql()}' "
                                               f"({side.lower()} column `{n}`)"))
        elif fmt == "NONE":
            if cols and not query:
                out.append(("format-type", f"The 'NONE' format can only be used when no columns are defined "
                                           f"({side.lower()} columns: {', '.join(n for n, _ in cols)})"))
        elif fmt in ("AVRO", "JSON", "JSON_SR", "PROTOBUF", "PROTOBUF_NOSR"):
            if fmt == "AVRO":
                for n, _ in cols:
                    if n and not _AVRO_NAME.match(n):
                        out.append(("format-type", f"Schema is not compatible with Avro: `{n}` is not an Avro "
                                                   "name (a letter or _, then letters, digits, _)"))
            for n, t in cols:
                bad = _map_with_non_string_key(t)
                if bad is not None and not (side == "Key"):
                    out.append(("format-type", f"{fmt} only supports MAP types with STRING keys (column `{n}` "
                                               f"is {t.ksql()})"))
    wrap = props.get("WRAP_SINGLE_VALUE")
    if wrap is not None:
        wv = str(wrap).lower() in ("true", "1")
        if value_format == "DELIMITED" and wv:
            out.append(("wrap-single-value", "Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'"))
        elif value_format in ("PROTOBUF", "PROTOBUF_NOSR") and not wv:
            out.append(("wrap-single-value", "Format 'PROTOBUF' does not support 'WRAP_SINGLE_VALUE' set to 'false'"))
        elif len(values) > 1:
            out.append(("wrap-single-value", "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas "
                                             f"({len(values)} value columns)"))
    return out


# ---------------------------------------------------------------------------
# tree -> DSL translation
# ---------------------------------------------------------------------------


def _entity(alias: str, src: SourceInfo, names: _Names) -> type:
    """A synthetic entity class standing for one source of a query (``alias``: the name
    it has in the query; ksqlDB prefixes clashing join columns with it; ``names``: how
    quoted names that are not upper case are seen)."""
    from kctx_cli.model.entity import EntityInfo, Field

    if src.columns is None:
        raise Unsupported(f"the columns of {src.name} are unknown")
    fields = []
    for name, t, key in src.columns:
        fields.append(Field(name=names.enc(name), type=names.enc_type(t), key=key))
    cls = type(alias, (), {})
    cls.__kctx__ = EntityInfo(cls=cls, name=alias, source_name=alias, kind=src.kind, topic=src.topic or alias,
                              partitions=src.partitions, replicas=None, configs={}, dlq=None,
                              key_format=src.key_format or "KAFKA", value_format=src.value_format or "JSON",
                              timestamp=None, timestamp_format=None, compatibility=None, namespace=None, doc=None,
                              fields=fields, ignored=[], query_fn=None, meta={"windowed": src.windowed})
    return cls


_BINARY = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
           exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.And: "AND", exp.Or: "OR"}


class _Translator:
    """sqlglot expressions of one query -> DSL expressions over synthetic entities."""

    def __init__(self, scope: list[tuple[str, type, SourceInfo]], names: _Names):
        self.scope = scope  # (alias, entity class, source) in FROM/JOIN order
        self.names = names
        self.unresolved: list[str] = []

    def column(self, node: exp.Column):
        name = node.this.this if isinstance(node.this, exp.Identifier) else None
        if name is None:
            raise Unsupported("an unusual column reference")
        table = node.table
        if isinstance(node.this, exp.Identifier) and node.this.args.get("quoted"):
            name = self.names.enc(name)
        if table:
            hits = [(a, cls) for a, cls, _ in self.scope if a == table.upper() or a == table]
            if not hits:
                raise Unsupported(f"qualifier {table}")  # a struct or lambda, perhaps
            alias, cls = hits[0]
            if name in PSEUDO or name == "ROWKEY":
                raise Unsupported("a qualified pseudo column")
            if cls.__kctx__.field(name) is None:
                self.unresolved.append(f"{table}.{name}")
                raise Unsupported("unresolved")
            return E.Column(cls, name)
        owners = [cls for _, cls, _ in self.scope if cls.__kctx__.field(name) is not None]
        if len(owners) == 1:
            return E.Column(owners[0], name)
        if len(owners) > 1:
            raise Unsupported("an ambiguous column")
        if name in PSEUDO:
            return E.Pseudo(name)
        self.unresolved.append(name)
        raise Unsupported("unresolved")

    def __call__(self, node):  # noqa: C901 - one case per node kind
        if isinstance(node, exp.Paren):
            return self(node.this)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return E.Literal(node.this)
            text = str(node.this)
            if any(c in text for c in "eE"):
                return E.Literal(float(text))
            if "." in text:
                return E.Literal(decimal.Decimal(text))
            return E.Literal(int(text))
        if isinstance(node, exp.Boolean):
            return E.Literal(bool(node.this))
        if isinstance(node, exp.Null):
            return E.Literal(None)
        if isinstance(node, k.TimeUnit):
            return E.Literal(None)  # an INTERVAL argument: checked in _call_problems
        if isinstance(node, exp.Neg):
            inner = self(node.this)
            if isinstance(inner, E.Literal) and isinstance(inner.value, (int, float, decimal.Decimal)) \
                    and not isinstance(inner.value, bool):
                return E.Literal(-inner.value)
            return E.UnaryOp("-", inner)
        if isinstance(node, exp.Not):
            inner = node.this
            if isinstance(inner, exp.Is):
                return E.IsNull(self(inner.this), True)
            return E.UnaryOp("NOT", self(inner))
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise Unsupported("IS other than NULL")
            return E.IsNull(self(node.this), False)
        op = _BINARY.get(type(node))
        if op is not None:
            return E.BinaryOp(op, self(node.this), self(node.expression))
        if isinstance(node, exp.NullSafeNEQ):
            return E.BinaryOp("IS DISTINCT FROM", self(node.this), self(node.expression))
        if isinstance(node, exp.NullSafeEQ):
            return E.BinaryOp("IS NOT DISTINCT FROM", self(node.this), self(node.expression))
        if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like) \
                and isinstance(node.expression, exp.Literal) and node.expression.is_string:
            return E.Like(self(node.this.this), self(node.this.expression), node.expression.this)
        if isinstance(node, exp.Bracket):
            if len(node.expressions) != 1:
                raise Unsupported("a subscript with several indexes")
            return E.Subscript(self(node.this), self(node.expressions[0]))
        if isinstance(node, exp.Array):
            return E.ArrayCtor(tuple(self(i) for i in node.expressions))
        if isinstance(node, k.MapConstructor):
            pairs = []
            for pe in node.expressions:
                if not isinstance(pe, exp.PropertyEQ):
                    raise Unsupported("an unusual MAP(...)")
                pairs.append((self(pe.this), self(pe.expression)))
            return E.MapCtor(tuple(pairs))
        if isinstance(node, k.StructConstructor):
            fields = []
            for pe in node.expressions:
                if not isinstance(pe, exp.PropertyEQ) or not isinstance(pe.this, exp.Identifier):
                    raise Unsupported("an unusual STRUCT(...)")
                name = pe.this.this
                name = self.names.enc(name) if pe.this.args.get("quoted") else name.upper()
                fields.append((name, self(pe.expression)))
            return E.StructCtor(tuple(fields))
        if isinstance(node, exp.Like):
            if node.args.get("escape") is not None:
                raise Unsupported("LIKE ... ESCAPE")
            return E.BinaryOp("LIKE", self(node.this), self(node.expression))
        if isinstance(node, exp.In):
            if node.args.get("query") is not None or not node.expressions:
                raise Unsupported("IN without a list")
            return E.InList(self(node.this), tuple(self(v) for v in node.expressions))
        if isinstance(node, exp.Between):
            return E.Between(self(node.this), self(node.args["low"]), self(node.args["high"]))
        if isinstance(node, exp.Cast):
            to = _type_of_node(node.args.get("to"))
            if to is None:
                raise Unsupported("a cast to an unmodelled type")
            return E.Cast(self(node.this), to)
        if isinstance(node, exp.Case):
            if node.this is not None:
                raise Unsupported("a simple CASE")
            whens = tuple((self(w.this), self(w.args["true"])) for w in node.args.get("ifs") or [])
            default = node.args.get("default")
            return E.Case(whens, self(default) if default is not None else None)
        if isinstance(node, k.StructDeref):
            member = node.expression.this if isinstance(node.expression, exp.Identifier) else None
            if member is None:
                raise Unsupported("an unusual dereference")
            if node.expression.args.get("quoted"):
                member = self.names.enc(member)
            return E.Deref(self(node.this), member)
        if isinstance(node, exp.Anonymous) or (isinstance(node, exp.Func) and not isinstance(node, (
                k.MapConstructor, k.StructConstructor, exp.Array))):
            name = node.this if isinstance(node, exp.Anonymous) else node.sql_name()
            if not isinstance(name, str):
                raise Unsupported("an unusual function")
            args = node.expressions if isinstance(node, exp.Anonymous) else list(node.args.values())
            if not isinstance(node, exp.Anonymous):
                raise Unsupported(f"function node {type(node).__name__}")
            from kctx_cli.query.functions import AGGREGATE, SCALAR

            if name.upper() not in SCALAR and name.upper() not in AGGREGATE:
                raise Unsupported(f"function {name}: not in kctx's table (a UDF, perhaps)")
            out = []
            for a in args:
                if isinstance(a, exp.Star):
                    # F(*) is a call without arguments, except COUNT(*) (real ksqlDB 8.1.5:
                    # "Function 'greatest' does not accept parameters ()", corpus greatest.json)
                    if name.upper() == "COUNT":
                        out.append(E.Star())
                elif isinstance(a, exp.Distinct):
                    raise Unsupported("DISTINCT in a call")
                else:
                    out.append(self(a))
            return E.Func(name.upper(), tuple(out))
        raise Unsupported(type(node).__name__)


# ---------------------------------------------------------------------------
# the analyzer
# ---------------------------------------------------------------------------


class ScriptAnalyzer:
    """Checks statements in order, keeping the sources they create in ``catalog``.

    ``check(tree)`` -> ``[(code, message)]`` for one parsed statement and records what it
    creates or drops; a statement with findings changes nothing (ksqlDB would not run
    it).  ``default_key_format``: ksql.persistence.default.format.key (KAFKA)."""

    def __init__(self, catalog: Catalog | None = None, default_key_format: str | None = "KAFKA",
                 properties: dict | None = None, closed: bool = True, schemas=None):
        self.catalog = catalog or Catalog()
        # the Schema Registry as far as it is known offline (kctx_cli.derive.registered.Schemas:
        # the subjects the migrations register, a corpus test's topics): a CREATE without
        # value (or key) columns takes them from there; None: such columns are unknown
        self.schemas = schemas
        self.names = _Names()  # quoted names that are not upper case, as the analysis sees them
        # closed: every source comes from the statements seen (a replay from the first
        # migration, a corpus test); else (a hand-written file checked alone) a source
        # nobody created may exist on the cluster, and statements using it are skipped
        self.closed = closed
        props = {str(k).lower(): str(v).lower() for k, v in (properties or {}).items()}
        self.default_key_format = props.get("ksql.persistence.default.format.key", default_key_format)
        if self.default_key_format:
            self.default_key_format = self.default_key_format.upper()
        self.new_planner = props.get("ksql.new.query.planner.enabled") == "true"
        # joins of sources with different partition counts (kctx validate checks them with the
        # topics of the replayed state: kctx_cli.derive.copartition; off there)
        self.partitions = True
        # False once a statement created something kctx could not follow: "X does not
        # exist" is then not said (X may come from it)
        self.complete = True

    # -- entry point -----------------------------------------------------------
    def check_with(self, tree, properties: dict | None) -> list[tuple[str, str]]:
        """``check`` with the SET properties in effect for this statement (its request's
        streamsProperties): ``ksql.new.query.planner.enabled`` and
        ``ksql.persistence.default.format.key`` change what ksqlDB accepts."""
        saved = (self.new_planner, self.default_key_format)
        props = {str(k).lower(): str(v) for k, v in (properties or {}).items()}
        if "ksql.new.query.planner.enabled" in props:
            self.new_planner = props["ksql.new.query.planner.enabled"].lower() == "true"
        if props.get("ksql.persistence.default.format.key"):
            self.default_key_format = props["ksql.persistence.default.format.key"].upper()
        try:
            return self.check(tree)
        finally:
            self.new_planner, self.default_key_format = saved

    def check(self, tree) -> list[tuple[str, str]]:
        """Problems of one statement (``tree``: a ``kctx_cli.ksql.nodes`` statement).
        Raises nothing: an internal failure means nothing is known, nothing is said."""
        try:
            return [(code, self.names.dec(msg)) for code, msg in self._check(tree)]
        except Unsupported:
            self.complete = False
            return []
        except Exception:  # noqa: BLE001 - never block a statement on an analyzer bug
            self.complete = False
            return []

    def _check(self, tree) -> list[tuple[str, str]]:
        if isinstance(tree, k.CreateSource):
            return self._create(tree)
        if isinstance(tree, k.Drop):
            name = self._name(tree.this)
            kind = str(tree.args.get("kind") or "").upper()
            if name is not None and kind in ("STREAM", "TABLE"):
                if name not in self.catalog.sources and not tree.args.get("exists") and self.complete \
                        and self.closed:
                    return [("unknown-source", f"{kind.title()} {name} does not exist")]
                self.catalog.sources.pop(name, None)
            return []
        if isinstance(tree, k.InsertValues):
            name = self._name(tree.this)
            if name is not None and name not in self.catalog.sources and self.complete and self.closed:
                return [("unknown-source", f"Cannot insert values into an unknown stream/table: `{name}`")]
            return []
        if isinstance(tree, k.InsertInto):
            return self._insert(tree)
        if isinstance(tree, k.AlterSource):
            # ALTER STREAM|TABLE ... ADD COLUMN: the new value columns join the source
            src = self.catalog.get(self._name(tree.this))
            if src is not None and src.columns is not None:
                for c in tree.expressions or []:
                    if isinstance(c, k.ColumnDef):
                        src.columns.append((self._name(c.this), _type_of_node(c.args.get("kind")), False))
                    else:
                        src.columns = None  # an ALTER kctx does not follow: the columns are unknown
                        break
            return []
        if not isinstance(tree, (k.Show, k.Describe, k.Explain, k.Print, k.SetProperty, k.UnsetProperty,
                                 k.Define, k.Undefine, k.Terminate, k.Pause, k.Resume, k.AssertTopic,
                                 k.AssertSchema, k.Query, k.CreateType, k.InsertValues)):
            # a statement that may create or change sources in ways not followed here
            self.complete = False
        return []

    def _name(self, ident) -> str | None:
        if not isinstance(ident, exp.Identifier):
            return None
        return ident.this if ident.args.get("quoted") else ident.this.upper()

    # -- CREATE STREAM/TABLE ------------------------------------------------------
    def _create(self, tree) -> list[tuple[str, str]]:
        name = self._name(tree.this)
        kind = str(tree.args.get("kind") or "").upper()
        if name is None or kind not in ("STREAM", "TABLE"):
            return []
        props = _props(tree)
        if tree.args.get("exists") and name in self.catalog.sources:
            return []
        query = tree.args.get("expression")
        if isinstance(query, k.Query):
            return self._create_as(tree, name, kind, props, query)
        problems: list[tuple[str, str]] = []
        columns: list[tuple[str, SqlType | None, bool]] = []
        header_names: set = set()
        bad_maps: list[tuple[str, bool]] = []  # columns of a MAP with non-STRING keys: (name, key)
        for c in tree.args.get("columns") or []:
            if c.args.get("constraint") == "HEADERS" or c.args.get("header") is not None:
                header_names.add(self._name(c.this))
            cname = self._name(c.this)
            t = _type_of_node(c.args.get("kind"))
            constraint = c.args.get("constraint")
            key = constraint in ("KEY", "PRIMARY KEY")
            if cname in RESERVED_NAMES:
                problems.append(("reserved-name", f"`{cname}` is a reserved column name (a system column)"))
            if _non_string_map_key(c.args.get("kind")):
                bad_maps.append((cname, key))
                t = None
            columns.append((cname, t, key))
        key_format, value_format = _formats(props, self.default_key_format)
        for cname, key in bad_maps:
            # every format refuses it: AVRO/JSON/PROTOBUF "only support MAP types with STRING
            # keys", DELIMITED and KAFKA no MAP at all, and say so (corpus avro.json, json.json,
            # protobuf.json, delimited.json "MAP - C* - value")
            fmt = key_format if key else value_format
            if key:  # any MAP in a key is refused first, whatever its format (corpus delimited.json "MAP - C* - key")
                problems.append(("map-key", f"Map keys, including types that contain maps, are not supported: key "
                                            f"column `{cname}`"))
            elif fmt in ("DELIMITED", "KAFKA"):
                problems.append(("format-type", f"The '{fmt}' format does not support type 'MAP' "
                                                f"({'key' if key else 'value'} column `{cname}`)"))
            else:
                problems.append(("format-type", f"column `{cname}`: only MAP types with STRING keys are supported"))
        problems += property_problems(props, value_format)
        inferred = value_format in ("AVRO", "PROTOBUF", "JSON_SR") and not any(not key for _, _, key in columns)
        # a schema key format without key columns reads them from the registry too (the real
        # ksqlDB 8.1.5 refuses the CREATE when <topic>-key does not exist)
        key_inferred = key_format in ("AVRO", "PROTOBUF", "JSON_SR") and not any(key for _, _, key in columns)
        if (inferred or key_inferred) and not problems and not header_names:
            known = self._registered_columns(props, columns, inferred, key_inferred, key_format, value_format)
            if known is not None:
                self.catalog.sources[name] = SourceInfo(name, kind, known, bool(props.get("WINDOW_TYPE")),
                                                        key_format, value_format,
                                                        str(props.get("KAFKA_TOPIC") or name),
                                                        _int(props.get("PARTITIONS")))
                return problems + format_problems(columns, key_format, None, props)
        if inferred or key_inferred or not columns:
            # the value (or key) columns come from the Schema Registry: unknown offline
            if not problems:
                self.catalog.sources[name] = SourceInfo(name, kind, None, bool(props.get("WINDOW_TYPE")), key_format,
                                                        value_format, str(props.get("KAFKA_TOPIC") or name),
                                                        inferred=True)
            return problems + [p for p in format_problems(columns, key_format, None, props)]
        if not any(key for _, _, key in columns) and "KEY_FORMAT" not in props and "FORMAT" not in props:
            key_format = None  # no key columns: the key format is not used
        # header columns are not serialized with the value: no format rule applies to them
        problems += format_problems([c for c in columns if c[0] not in header_names], key_format, value_format,
                                    props)
        if not problems:
            self.catalog.sources[name] = SourceInfo(name, kind, columns, bool(props.get("WINDOW_TYPE")), key_format,
                                                    value_format, str(props.get("KAFKA_TOPIC") or name),
                                                    _int(props.get("PARTITIONS")), headers=bool(header_names))
        return problems

    def _registered_columns(self, props, declared, value, key, key_format, value_format):
        """The columns of a CREATE that reads its value (``value``) and/or key (``key``)
        columns from the Schema Registry, the others as ``declared``; None when a schema is
        not known offline (``self.schemas``) or not converted (kctx_cli.derive.registered)."""
        from kctx_cli.derive import registered as R

        if self.schemas is None:
            return None
        topic = str(props.get("KAFKA_TOPIC") or "")

        def read(part: str, fmt: str) -> list | None:
            sid = _int(props.get(f"{part.upper()}_SCHEMA_ID"))
            rs = self.schemas.by_id(sid) if sid is not None else self.schemas.latest(f"{topic}-{part}")
            if rs is None or rs.schema_type != R.SCHEMA_FORMATS.get(fmt):
                return None
            try:
                return R.columns(rs, key=part == "key", by_id=sid is not None,
                                 wrap_single_value=props.get("WRAP_SINGLE_VALUE"),
                                 full_name=props.get(f"{part.upper()}_SCHEMA_FULL_NAME"))
            except (R.Unknown, KeyError, ValueError, TypeError):
                return None

        keys = [(n, t, True) for n, t, k in declared if k]
        values = [(n, t, False) for n, t, k in declared if not k]
        if key:
            got = read("key", key_format)
            if got is None:
                return None
            keys = [(n, t, True) for n, t in got]
        if value:
            got = read("value", value_format)
            if got is None:
                return None
            values = [(n, t, False) for n, t in got]
        if len({n.upper() for n, _, _ in keys + values}) != len(keys) + len(values):
            return None  # ksqlDB refuses a name twice; unknown here
        return keys + values

    # -- queries -------------------------------------------------------------------
    def _relations(self, query) -> list[tuple[str, SourceInfo, object]]:
        frm = query.args.get("from_") or query.args.get("from")
        rels = [frm.this if frm is not None else None] + [j.this for j in query.args.get("joins") or []]
        out = []
        for rel in rels:
            if not isinstance(rel, exp.Table) or not isinstance(rel.this, exp.Identifier):
                raise Unsupported("an unusual FROM")
            sname = self._name(rel.this)
            alias = rel.alias.upper() if rel.alias else sname
            out.append((alias, self.catalog.get(sname), sname))
        return out

    def _missing(self, rels) -> list[tuple[str, str]]:
        missing = [("unknown-source", f"{sname} does not exist") for _, src, sname in rels if src is None]
        if missing and not (self.complete and self.closed):
            raise Unsupported("a source kctx could not follow")
        return missing

    def analyse_query(self, query) -> tuple[list[tuple[str, str]], object]:
        """(problems, ``schema.Analysis`` or None) of one ``k.Query`` over the catalog."""
        from kctx_cli.derive import schema
        from kctx_cli.query.select import Join, Select, Within

        rels = self._relations(query)
        missing = self._missing(rels)
        if missing:
            return missing, None
        problems: list[tuple[str, str]] = []
        names = [sname for _, _, sname in rels]
        if len(set(names)) < len(names):
            dup = next(n for n in names if names.count(n) > 1)
            return [("self-join", f"Can not join '{dup}' to '{dup}': self joins are not yet supported")], None
        windowed = [src.windowed for _, src, _ in rels]
        if len(rels) > 1 and len(set(windowed)) > 1:
            w = [a for a, src, _ in rels if src.windowed]
            nw = [a for a, src, _ in rels if not src.windowed]
            return [("join-windowed", f"Can not join windowed source to non-windowed source: {w[0]} is windowed, "
                                      f"{nw[0]} is not")], None
        pby_node = query.args.get("partition_by")
        if isinstance(pby_node, k.PartitionBy) and not pby_node.expressions:
            return [("partition-by", "PARTITION BY requires at least one expression")], None
        pre = self._call_problems(query, rels)
        if pre:
            return pre, None
        names = self.names
        scope = [(alias, _entity(alias, src, names), src) for alias, src, _ in rels]
        tr = _Translator(scope, names)

        def t(node):
            return tr(node)

        def resolve(node, clause: str):
            try:
                return t(node)
            except Unsupported:
                if tr.unresolved:
                    col = tr.unresolved[0]
                    tr.unresolved.clear()
                    raise _Refused("unknown-column", f"{clause} column '{col}' cannot be resolved.") from None
                raise

        pby = query.args.get("partition_by")
        partition = [resolve(p, "PARTITION BY") for p in pby.expressions] if isinstance(pby, k.PartitionBy) else []
        items = []
        for i, item in enumerate(query.expressions):
            if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
                items += self._star(item, scope, partition)
                continue
            if isinstance(item, k.StructDeref) and isinstance(item.expression, exp.Star):
                # struct->*: one column per field, named by the field (corpus select-struct-all.json)
                base = resolve(item.this, "SELECT")
                bt = _static_type(base)
                if bt is None or bt.name != "STRUCT" or any(n != n.upper() for n, _ in bt.fields):
                    raise Unsupported("struct->* of an unknown STRUCT")
                items += [E.Deref(base, n) for n, _ in bt.fields]
                continue
            if isinstance(item, exp.Alias):
                alias = self._name(item.args.get("alias"))
                if alias is None:
                    raise Unsupported("an unusual alias")
                alias = names.enc(alias)
                if alias in RESERVED_NAMES:
                    raise _Refused("reserved-name", f"`{alias}` is a reserved column name: it cannot be an alias")
                items.append(E.Alias(resolve(item.this, "SELECT"), alias))
            else:
                items.append(resolve(item, "SELECT"))
        where = query.args.get("where")
        group = query.args.get("group")
        having = query.args.get("having")
        window = query.args.get("window")
        emit = query.args.get("emit")
        joins = []
        for n, j in enumerate(query.args.get("joins") or [], start=1):
            how = str(j.args.get("side") or j.args.get("kind") or "INNER").upper()
            how = {"OUTER": "FULL", "FULL OUTER": "FULL"}.get(how, how)
            if how not in ("INNER", "LEFT", "RIGHT", "FULL"):
                raise Unsupported(f"join kind {how}")
            on = j.args.get("on")
            if on is None:
                raise Unsupported("a join without ON")
            within = j.args.get("within")
            joins.append(Join(scope[n][1], resolve(on, "JOIN"), how,
                              Within(_duration(within.args.get("before"))) if within is not None else None))
        win = _window(window) if window is not None else None
        q = Select(items=tuple(items), source=scope[0][1], joins=tuple(joins),
                   where_=resolve(where.this, "WHERE") if where is not None else None,
                   group_by_=tuple(resolve(g, "GROUP BY") for g in group.expressions) if group is not None else (),
                   having_=resolve(having.this, "HAVING") if having is not None else None,
                   partition_by_=tuple(partition),
                   window_=win, emit=str(emit.this).upper() if emit is not None else None)
        a = schema.analyze(q)
        found = list(a.problems)
        if self.partitions and joins and not a.fk_join and not found:
            from kctx_cli.derive import copartition

            steps = [copartition.JoinStep(alias, src.partitions, False) for alias, _, src in scope[1:]]
            msg = copartition.first_mismatch(scope[0][0], scope[0][2].partitions, steps)
            if msg is not None:
                found.append((copartition.CODE, msg))
        if self.new_planner and not group and not partition and not (query.args.get("joins")) \
                and scope[0][2].kind == "STREAM":
            # ksqlDB's new planner drops an unselected stream key (corpus select.json "key
            # missing from projection -- new planner"); the old one, the default, refuses it
            if any(p[0] == "key-not-selected" for p in found):
                found = [p for p in found if p[0] != "key-not-selected"]
                for c in a.columns:
                    c.key = False
            # and orders the key columns as the projection does (corpus select.json "multi-key
            # columns reordered -- new planner"; the old planner keeps the source's order)
            order: dict[str, int] = {}
            for i, item in enumerate(query.expressions):
                node = item.args.get("alias") if isinstance(item, exp.Alias) else (
                    item.this if isinstance(item, exp.Column) else None)
                n = self._name(node) if isinstance(node, exp.Identifier) else None
                if n is not None:
                    order.setdefault(names.enc(n), i)
            slots = [i for i, c in enumerate(a.columns) if c.key]
            if len(slots) > 1 and all(a.columns[i].name in order for i in slots):
                keys = sorted((a.columns[i] for i in slots), key=lambda c: order[c.name])
                for i, c in zip(slots, keys):
                    a.columns[i] = c
        if names.tokens:  # the quoted names as written, in the result and in messages
            for c in a.columns:
                c.name, c.type = names.dec(c.name), names.dec_type(c.type)
            found = [(code, names.dec(msg)) for code, msg in found]
        return problems + found, a

    def _call_problems(self, query, rels) -> list[tuple[str, str]]:
        """Rules on calls that need the tree: table functions (EXPLODE, CUBE_EXPLODE) need a
        stream source (corpus table-functions.json "table functions don't support table
        sources"); the parameters after the first of LATEST_BY_OFFSET, EARLIEST_BY_OFFSET,
        TOPK, TOPKDISTINCT are literal constants (corpus udaf.json "throw on no literal
        expressions pass for literal params"); an INTERVAL parameter (DATEADD, DATESUB,
        TIMESTAMPADD, TIMESTAMPSUB, TIMEADD, TIMESUB) is a time unit (corpus dateadd.json
        "throws on incorrect type")."""
        out = []
        for f in query.find_all(exp.Anonymous):
            name = str(f.this).upper()
            args = f.expressions
            if name in ("EXPLODE", "CUBE_EXPLODE") and rels and rels[0][1] is not None \
                    and rels[0][1].kind == "TABLE" and not query.args.get("joins"):
                out.append(("table-function", f"Table source is not supported with table functions ({name})"))
            if name in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET", "TOPK", "TOPKDISTINCT"):
                literal_from = len(args) - 1 if name in ("TOPK", "TOPKDISTINCT") else 1
                for n, a in enumerate(args[literal_from:], start=literal_from + 1):
                    inner = a.this if isinstance(a, exp.Paren) else a
                    if not isinstance(inner, (exp.Literal, exp.Boolean, exp.Neg)):
                        out.append(("bad-function-call", f"Parameter {n} passed to function {name} must be a "
                                                         f"literal constant, but was expression: '{a.sql()}'"))
            if name in ("DATEADD", "DATESUB", "TIMESTAMPADD", "TIMESTAMPSUB", "TIMEADD", "TIMESUB") and args \
                    and not isinstance(args[0], k.TimeUnit):
                out.append(("bad-function-call", f"Function '{name.lower()}' does not accept these parameters: "
                                                 f"its first argument is a time unit (DAYS, HOURS, ...), got "
                                                 f"{args[0].sql()}"))
        return out

    def _star(self, item, scope, partition) -> list:
        """``*`` (or ``alias.*``) as ksqlDB expands it: a single source's columns (keys
        first); in a join every column as ``<ALIAS>_<COLUMN>``; with PARTITION BY the
        partitioning expressions first (the new key), then the value columns, then the
        old key columns (corpus partition-by.json "... - select star")."""
        qual = item.table.upper() if isinstance(item, exp.Column) and item.table else None
        out = []
        if partition and len(scope) == 1 and qual is None:
            cls = scope[0][1]
            out = [p for p in partition if not (isinstance(p, E.Literal) and p.value is None)]
            fields = cls.__kctx__.values + cls.__kctx__.keys
            for f in fields:
                col = E.Column(cls, f.name)
                if not any(E.same(col, p) for p in partition):
                    out.append(col)
            return out
        if partition and len(scope) > 1:
            # a join's * under PARTITION BY: the partitioning expressions (a column named
            # <ALIAS>_<COLUMN>), then per source its value columns, its ROWTIME,
            # ROWPARTITION, ROWOFFSET and its key columns, all <ALIAS>_<NAME>, less the
            # partitioning columns -- the real ksqlDB 8.1.5; corpus partition-by.json "only
            # key column - select star - with join on keys" / "... on value columns"
            if qual is not None or any(src.windowed for _, _, src in scope):
                raise Unsupported("alias.* or windowed sources in a join under PARTITION BY")
            for p in partition:
                if isinstance(p, E.Literal) and p.value is None:
                    continue
                owner = next((a for a, cls, _ in scope if isinstance(p, E.Column) and p.entity is cls), None)
                out.append(E.Alias(p, f"{owner}_{p.name}") if owner else p)
            for alias, cls, _ in scope:
                info = cls.__kctx__
                for f in info.values:
                    col = E.Column(cls, f.name)
                    if not any(E.same(col, p) for p in partition):
                        out.append(E.Alias(col, f"{alias}_{f.name}"))
                # the source's system columns, typed (an unqualified pseudo column is ambiguous here)
                for n, t in (("ROWTIME", BIGINT), ("ROWPARTITION", INT), ("ROWOFFSET", BIGINT)):
                    out.append(E.Alias(E.Cast(E.Literal(None), t), f"{alias}_{n}"))
                for f in info.keys:
                    col = E.Column(cls, f.name)
                    if not any(E.same(col, p) for p in partition):
                        out.append(E.Alias(col, f"{alias}_{f.name}"))
            return out
        for alias, cls, _ in scope:
            if qual and alias != qual:
                continue
            for f in cls.__kctx__.fields:
                col = E.Column(cls, f.name)
                out.append(E.Alias(col, f"{alias}_{f.name}") if len(scope) > 1 else col)
        return out

    def _create_as(self, tree, name, kind, props, query) -> list[tuple[str, str]]:
        value_format = _formats(props, None)[1] or self._from_formats(query)[1]
        if value_format == "AVRO":
            # quoted aliases are not followed by the analysis; their Avro names are checked here
            for item in query.expressions:
                alias = item.args.get("alias") if isinstance(item, exp.Alias) else None
                if isinstance(alias, exp.Identifier) and alias.args.get("quoted") and not _AVRO_NAME.match(alias.this):
                    return [("format-type", f"Schema is not compatible with Avro: `{alias.this}` is not an Avro "
                                            "name (a letter or _, then letters, digits, _)")]
        try:
            problems, a = self.analyse_query(query)
        except _Refused as r:
            return [(r.code, str(r))]
        except Unsupported:
            inferred = any(src is not None and src.inferred for _, src, _ in self._relations(query))
            if name not in self.catalog.sources or tree.args.get("replace"):
                self.catalog.sources[name] = SourceInfo(name, kind, None, inferred=inferred)
            return []
        if problems:
            return problems
        if a is None:
            return []
        if a.kind is not None and a.kind != kind:
            return [("wrong-kind", f"the query produces a {a.kind}, not a {kind}: use CREATE {a.kind} ... AS SELECT")]
        columns = [(c.name, c.type, c.key) for c in a.columns if not c.system]
        key_format, value_format = _formats(props, None)
        explicit_key = "KEY_FORMAT" in props or "FORMAT" in props
        src_fmt = self._from_formats(query)
        key_format = key_format or src_fmt[0] or self.default_key_format
        value_format = value_format or src_fmt[1]
        if any(src is not None and src.headers for _, src, _ in self._relations(query)):
            # how header columns reach a sink's value format is not modelled: no type rule
            out = []
        else:
            out = format_problems(columns, key_format, value_format, props, query=not explicit_key)
        if explicit_key and kind == "STREAM" and not any(key for _, _, key in columns) \
                and key_format not in (None, "NONE"):
            # corpus partition-by.json "null - explicit key format"
            out.append(("key-format", "Key format specified for stream without key columns."))
        out += property_problems(props, value_format)
        out += self._aggregate_format_problems(query, value_format, src_fmt[1])
        if out:
            return out
        partitions = _int(props.get("PARTITIONS"))
        if partitions is None:  # ksqlDB gives a CSAS/CTAS sink its FROM source's count
            rels = self._relations(query)
            partitions = rels[0][1].partitions if rels and rels[0][1] is not None else None
        self.catalog.sources[name] = SourceInfo(name, kind, columns, a.windowed, key_format, value_format,
                                                str(props.get("KAFKA_TOPIC") or name), partitions)
        return []

    def _aggregate_format_problems(self, query, value_format, source_value_format) -> list[tuple[str, str]]:
        """GROUP BY over a KAFKA-format source (corpus group-by.json "field (stream->table)
        - KAFKA"); AVG, STDDEV_SAMP(LE) and TOPK keep a STRUCT intermediate that DELIMITED
        cannot hold (corpus average-udaf.json, standarddeviation.json, topk-group-by.json
        "... DELIMITED")."""
        out = []
        if query.args.get("group") is not None and source_value_format == "KAFKA":
            out.append(("format-group-by", "the source uses the 'KAFKA' value format, which does not support "
                                           "GROUP BY"))
        if value_format == "DELIMITED":
            for f in query.find_all(exp.Anonymous):
                if str(f.this).upper() in ("AVG", "STDDEV_SAMP", "STDDEV_SAMPLE", "TOPK"):
                    out.append(("format-intermediate", f"{str(f.this).upper()} has an intermediate type (a STRUCT) "
                                                       "that the DELIMITED value format cannot handle"))
                    break
        return out

    def _from_formats(self, query) -> tuple[str | None, str | None]:
        frm = query.args.get("from_") or query.args.get("from")
        rel = frm.this if frm is not None else None
        if isinstance(rel, exp.Table) and isinstance(rel.this, exp.Identifier):
            src = self.catalog.get(self._name(rel.this))
            if src is not None:
                return src.key_format, src.value_format
        return None, None

    def _insert(self, tree) -> list[tuple[str, str]]:
        target = self._name(tree.this) if isinstance(tree.this, exp.Identifier) else None
        query = tree.args.get("expression")
        if target is None or not isinstance(query, k.Query):
            return []
        sink = self.catalog.get(target)
        if sink is None:
            if not (self.complete and self.closed):
                return []
            return [("unknown-source", f"Source `{target}` does not exist.")]
        if sink.kind == "TABLE":
            return [("insert-into-table", f"INSERT INTO can only be used to insert into a stream. {target} is a table.")]
        try:
            problems, a = self.analyse_query(query)
        except _Refused as r:
            return [(r.code, str(r))]
        except Unsupported:
            return []
        if problems or a is None or sink.columns is None or sink.headers:
            return problems  # header columns of a sink are not written by INSERT INTO: not compared
        # ksqlDB: "Incompatible schema between results and sink" (corpus insert-into.json)
        got = [(c.name, c.type.ksql() if c.type else None, c.key) for c in a.columns if not c.system]
        want = [(n, t.ksql() if t else None, key) for n, t, key in sink.columns]
        if any(t is None for _, t, _ in got + want):
            return []
        order = ("INT", "BIGINT", "DECIMAL", "DOUBLE")
        sink_types = {(n, key): t for n, t, key in sink.columns}

        def fits(n, t, key) -> bool:  # the result's column goes into the sink's (numbers widen)
            st = sink_types.get((n, key))
            if st is None:
                return False
            if st.ksql() == t.ksql():
                return True
            return t.name in order and st.name in order and order.index(t.name) <= order.index(st.name)

        if len(got) != len(want) or not all(fits(c.name, c.type, c.key) for c in a.columns if not c.system):
            def text(cols):
                return ", ".join(f"`{n}` {t}" + (" KEY" if key else "") for n, t, key in cols)
            return [("insert-schema", f"Incompatible schema between results and sink. Result schema is {text(got)}; "
                                      f"sink schema is {text(want)}")]
        return []


def _static_type(e) -> SqlType | None:
    """The type of a column or a chain of struct dereferences (``a->b->c``), else None."""
    if isinstance(e, E.Column):
        f = e.entity.__kctx__.field(e.name)
        return f.type if f is not None else None
    if isinstance(e, E.Deref):
        bt = _static_type(e.base)
        if bt is None or bt.name != "STRUCT":
            return None
        return next((t for n, t in bt.fields if n == e.member.upper()), None)
    return None


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _duration(node):
    """A ``k.Duration`` node -> the DSL's ``select.Duration`` (unit singular, upper-case)."""
    from kctx_cli.query.select import Duration

    if not isinstance(node, k.Duration):
        raise Unsupported("a duration")
    unit = str(node.args.get("unit")).upper()
    unit = unit[:-1] if unit.endswith("S") else unit
    try:
        return Duration(int(str(node.this.this)), unit)
    except (TypeError, ValueError, AttributeError):
        raise Unsupported("a duration") from None


def _window(node):
    """A ``k.WindowClause`` -> ``select.Tumbling`` / ``Hopping`` / ``Session``."""
    from kctx_cli.query.select import Hopping, Session, Tumbling

    kind = str(node.args.get("kind")).upper()
    size = _duration(node.args.get("size"))
    grace = _duration(node.args["grace"]) if node.args.get("grace") is not None else None
    if kind == "TUMBLING":
        return Tumbling(size, grace=grace)
    if kind == "HOPPING":
        return Hopping(size, advance_by=_duration(node.args.get("advance")), grace=grace)
    if kind == "SESSION":
        return Session(size, grace=grace)
    raise Unsupported(f"window {kind}")


def _int(v) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def check_statements(statements, analyzer: ScriptAnalyzer | None = None, syntax_only: bool = False) -> list[Finding]:
    """Findings of dialect ``Statement``s (``dialect.parse_statements``) checked in order:
    syntax errors at their position, then (unless ``syntax_only``) the analyzer's problems at
    the statement's line:column.  ``analyzer``: carries the sources earlier statements (or
    files) created; a fresh one when None."""
    analyzer = analyzer or ScriptAnalyzer()
    out: list[Finding] = []
    for st in statements:
        if st.error is not None:
            out.append(Finding(st.error.line, st.error.column, "ksql-syntax", st.error.reason))
            continue
        if syntax_only or st.tree is None:
            continue
        for code, msg in analyzer.check(st.tree):
            out.append(Finding(st.line, st.column, code, msg))
    return out

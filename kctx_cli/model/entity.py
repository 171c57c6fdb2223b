"""Entities declared as Python classes (SPEC §3; the seed's POCO + ModelBuilder).

    class Order(Stream):
        \"\"\"An order placed in the shop.\"\"\"
        order_id: Annotated[str, Key]
        amount: Annotated[Decimal, Precision(18, 4)]
        note: Optional[str] = None

        class Meta:
            topic = "orders"
            partitions = 6
            dlq = True

Class creation never fails for a modelling mistake: the metaclass records what it
could not understand, and ``kctx validate`` reports *every* problem with file:line.
Reading ``Order.amount`` on the class gives a query-DSL column, so queries are plain
Python expressions over the entity classes.
"""
from __future__ import annotations

import re
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from kctx_cli.model import types as T
from kctx_cli.model.instance import as_dict, eq, fast_init, init, repr_
from kctx_cli.sqltypes import SqlType

MISSING: Any = object()

# Meta options an entity may set; anything else is reported as unknown.
META_OPTIONS = {
    "topic": "Kafka topic name (default: the class name in snake_case)",
    "name": "ksqlDB source name (default: the class name in UPPER_SNAKE_CASE)",
    "kind": "'stream' or 'table'; overrides the base class or the inferred kind",
    "partitions": "partition count (default: the project's default)",
    "replicas": "replication factor (default: the project's default)",
    "configs": "topic configs, e.g. {'retention.ms': 604800000}",
    "dlq": "True for '<topic>-dlq', or the DLQ topic name",
    "key_format": "ksqlDB KEY_FORMAT: AVRO (default), KAFKA, JSON",
    "value_format": "ksqlDB VALUE_FORMAT: AVRO (default)",
    "timestamp": "field used as the record timestamp (ksqlDB TIMESTAMP property)",
    "timestamp_format": "ksqlDB TIMESTAMP_FORMAT when the timestamp field is a string",
    "compatibility": "subject compatibility level (default: the project's default)",
    "namespace": "Avro namespace of the value/key records",
    "query": "a function returning the DSL query of a derived entity",
    "abstract": "True: a base class that declares shared fields, not an entity",
    "window_type": "a source over a topic with windowed keys: 'TUMBLING', 'HOPPING' or 'SESSION' (WINDOW_TYPE)",
    "window_size": "the window size of a TUMBLING or HOPPING window_type, e.g. '1 HOUR' (WINDOW_SIZE)",
}

KINDS = ("STREAM", "TABLE")


def snake_case(name: str) -> str:
    """A class name in snake_case, for default topic names: ``OrderLine`` -> ``order_line``,
    ``HTTPRequest`` -> ``http_request``."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


@dataclass
class Field:
    """One column of an entity or struct."""

    name: str  # Python attribute name (also the Avro field name of source entities)
    type: SqlType | None
    nullable: bool = False
    key: bool = False
    key_order: int | None = None
    default: Any = MISSING
    doc: str | None = None
    header: T.HeaderMarker | None = None
    ignored: bool = False
    column_name: str | None = None  # Annotated[..., ColumnName("from")]: the name outside Python

    @property
    def column(self) -> str:
        """ksqlDB column name: the ``ColumnName`` (else the attribute name) upper-cased, as
        ksqlDB upper-cases unquoted identifiers (KSQL text back-quotes a reserved one)."""
        return (self.column_name or self.name).upper()

    @property
    def avro_name(self) -> str:
        """The field's name in a source entity's Avro record: the ``ColumnName`` as written,
        else the attribute name (ksqlDB matches Avro field names to columns ignoring case)."""
        return self.column_name or self.name

    @property
    def has_default(self) -> bool:
        """Whether the class gives the field a default (``x: int = 0``)."""
        return self.default is not MISSING


@dataclass
class ModelIssue:
    """A problem found while reading a class; located and reported by validate."""

    code: str
    message: str
    attr: str | None = None  # field name or "Meta.<option>", for locating the line


@dataclass
class EntityInfo:
    """Everything kctx knows about one entity class (read through ``Cls.__kctx__``)."""

    cls: type
    name: str
    source_name: str
    kind: str | None  # STREAM/TABLE; None: inferred from the query (derived entities)
    topic: str
    partitions: int | None
    replicas: int | None
    configs: dict[str, str]
    dlq: str | None
    key_format: str
    value_format: str
    timestamp: str | None
    timestamp_format: str | None
    compatibility: str | None
    namespace: str | None
    doc: str | None
    fields: list[Field]
    ignored: list[Field]
    query_fn: Callable[[], Any] | None
    meta: dict[str, Any]
    issues: list[ModelIssue] = field(default_factory=list)
    is_struct: bool = False

    @property
    def derived(self) -> bool:
        """Whether the entity is derived (it declares ``Meta.query``: a CREATE ... AS SELECT)."""
        return self.query_fn is not None

    @property
    def keys(self) -> list[Field]:
        """The key fields, in ``key_order`` when any gives one (those without after), else in
        declaration order."""
        ks = [f for f in self.fields if f.key]
        if any(f.key_order is not None for f in ks):
            ks.sort(key=lambda f: (f.key_order is None, f.key_order or 0))
        return ks

    @property
    def values(self) -> list[Field]:
        """The value fields (every field that is not a key), in declaration order."""
        return [f for f in self.fields if not f.key]

    def field(self, name: str) -> Field | None:
        """The field whose Python attribute name is ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def value_subject(self) -> str:
        """The value schema's Schema Registry subject, ``<topic>-value`` (Confluent's
        TopicNameStrategy, the default of the serializers and of ksqlDB)."""
        return f"{self.topic}-value"

    @property
    def key_subject(self) -> str:
        """The key schema's Schema Registry subject, ``<topic>-key`` (TopicNameStrategy)."""
        return f"{self.topic}-key"

    @property
    def file(self) -> str:
        """The path of the module that defines the class (``<unknown>`` when it has none)."""
        mod = sys.modules.get(self.cls.__module__)
        return getattr(mod, "__file__", None) or "<unknown>"

    def query(self):
        """The derived entity's query object (calls the declared function)."""
        return self.query_fn() if self.query_fn else None


class _EntityMeta(type):
    """Installs DSL columns on the class and reads its declaration lazily.

    Types are resolved on first use of ``__kctx__`` (not at class creation), so an
    entity may refer to a Struct declared further down the module.
    """

    def __new__(mcls, name, bases, ns, **kw):
        cls = super().__new__(mcls, name, bases, ns, **kw)
        own = [a for a in ns.get("__annotations__", {}) if not a.startswith("_")]
        cls._kctx_own_fields = own
        cls._kctx_defaults = {a: ns[a] for a in own if a in ns}
        cls._kctx_info = None
        if not ns.get("_kctx_base", False):
            from kctx_cli.query.expr import Column

            for attr in _all_field_names(cls):
                setattr(cls, attr, Column(cls, attr))
        return cls

    @property
    def __kctx__(cls) -> EntityInfo:
        info = cls.__dict__.get("_kctx_info")
        if info is None:
            info = _read_class(cls)
            cls._kctx_info = info
        return info


def _all_field_names(cls) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for a in getattr(klass, "__dict__", {}).get("_kctx_own_fields", ()):
            if a not in names:
                names.append(a)
    return names


def _defaults(cls) -> dict:
    out: dict = {}
    for klass in reversed(cls.__mro__):
        out.update(klass.__dict__.get("_kctx_defaults", {}))
    return out


def _meta(cls) -> dict:
    meta = cls.__dict__.get("Meta")
    if meta is None:
        return {}
    return {k: v for k, v in vars(meta).items() if not k.startswith("_")}


def _read_class(cls) -> EntityInfo:
    issues: list[ModelIssue] = []
    is_struct = issubclass(cls, Struct)
    meta = _meta(cls)
    for opt in meta:
        if opt not in META_OPTIONS:
            close = _closest(opt, META_OPTIONS)
            hint = f" (did you mean '{close}'?)" if close else ""
            issues.append(ModelIssue("unknown-option", f"unknown Meta option '{opt}'{hint}", f"Meta.{opt}"))

    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # NameError for an unknown forward reference, mostly
        issues.append(ModelIssue("bad-annotation", f"cannot resolve field annotations: {exc}"))
        hints = {}

    defaults = _defaults(cls)
    fields: list[Field] = []
    ignored: list[Field] = []
    for attr in _all_field_names(cls):
        ann = hints.get(attr, MISSING)
        if ann is MISSING:
            continue
        if typing.get_origin(ann) is typing.ClassVar:
            continue
        try:
            res = T.resolve_annotation(ann, owner=cls.__name__)
        except T.TypeProblem as exc:
            issues.append(ModelIssue("unsupported-type", f"{cls.__name__}.{attr}: {exc}", attr))
            res = T.Resolved(type=None)
        f = Field(
            name=attr,
            type=res.type,
            nullable=res.nullable,
            key=res.key is not None,
            key_order=res.key.order if res.key else None,
            default=defaults.get(attr, MISSING),
            doc=res.doc,
            header=res.header,
            ignored=res.ignored,
            column_name=res.column_name,
        )
        if res.nullable and not f.has_default:
            f.default = None  # SPEC: nullable => ["null", T] with default null
        (ignored if res.ignored else fields).append(f)

    kind = None
    for klass in cls.__mro__:
        k = klass.__dict__.get("_kctx_kind")
        if k:
            kind = k
            break
    if "kind" in meta:
        k = str(meta["kind"]).upper()
        if k in KINDS:
            kind = k
        else:
            issues.append(ModelIssue("bad-option", f"Meta.kind must be 'stream' or 'table', got {meta['kind']!r}", "Meta.kind"))

    topic = meta.get("topic", snake_case(cls.__name__))
    dlq = meta.get("dlq")
    if dlq is True:
        dlq = f"{topic}-dlq"
    elif dlq in (False, None):
        dlq = None
    configs_raw = meta.get("configs", {}) or {}
    configs: dict[str, str] = {}
    if isinstance(configs_raw, dict):
        for k, v in configs_raw.items():
            configs[str(k)] = _config_str(v)
    else:
        issues.append(ModelIssue("bad-option", "Meta.configs must be a dict of topic configs", "Meta.configs"))

    query_fn = meta.get("query")
    if query_fn is not None and not callable(query_fn):
        issues.append(ModelIssue("bad-option", "Meta.query must be a function returning a query", "Meta.query"))
        query_fn = None

    doc = cls.__dict__.get("__doc__")
    return EntityInfo(
        cls=cls,
        name=cls.__name__,
        source_name=str(meta.get("name", snake_case(cls.__name__).upper())),
        kind=kind,
        topic=topic,
        partitions=meta.get("partitions"),
        replicas=meta.get("replicas"),
        configs=configs,
        dlq=dlq,
        key_format=str(meta.get("key_format", "AVRO")).upper(),
        value_format=str(meta.get("value_format", "AVRO")).upper(),
        timestamp=meta.get("timestamp"),
        timestamp_format=meta.get("timestamp_format"),
        compatibility=(str(meta["compatibility"]).upper() if "compatibility" in meta else None),
        namespace=meta.get("namespace"),
        doc=doc.strip() if isinstance(doc, str) else None,
        fields=fields,
        ignored=ignored,
        query_fn=query_fn,
        meta=meta,
        issues=issues,
        is_struct=is_struct,
    )


def _config_str(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _closest(word: str, options) -> str | None:
    import difflib

    m = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return m[0] if m else None


class _Instances:
    """Run-time instances of entities and structs, like keyword dataclasses: validated on
    construction, compared field by field (kctx_cli/model/instance.py has the rules)."""

    __hash__ = None  # mutable and compared by value, as @dataclass(eq=True)

    def __init__(self, *args, **kwargs):
        cls = type(self)
        if "__init__" not in cls.__dict__ and not cls.__dict__.get("_kctx_base"):
            fast = fast_init(cls)  # installed on this class only (it checks type(self) is cls)
            if fast is not None:
                type.__setattr__(cls, "__init__", fast)
        init(self, args, kwargs)

    def __eq__(self, other):
        return eq(self, other)

    def __repr__(self):
        return repr_(self)

    def _asdict(self) -> dict:
        """The stored fields as a dict (nested structs as dicts; ignored fields left out)."""
        return as_dict(self)


class Entity(_Instances, metaclass=_EntityMeta):
    """An entity whose kind (STREAM or TABLE) is inferred from its query."""

    _kctx_base = True
    _kctx_kind: str | None = None


class Stream(Entity):
    """An append-only event stream (ksqlDB STREAM)."""

    _kctx_base = True
    _kctx_kind = "STREAM"


class Table(Entity):
    """Latest value per key (ksqlDB TABLE) on a compacted topic."""

    _kctx_base = True
    _kctx_kind = "TABLE"


class Struct(_Instances, metaclass=_EntityMeta):
    """A nested record: a ksqlDB STRUCT column and an Avro record."""

    _kctx_base = True
    _kctx_struct = True  # read by model.types.resolve_annotation


def is_entity_class(obj) -> bool:
    """A concrete entity class (not a base, not abstract, not a Struct)."""
    return (
        isinstance(obj, type)
        and issubclass(obj, Entity)
        and not obj.__dict__.get("_kctx_base", False)
        and not _meta(obj).get("abstract", False)
    )

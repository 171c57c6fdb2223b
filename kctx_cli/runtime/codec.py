"""Entities <-> Kafka record bytes, exactly as ksqlDB reads and writes them.

Values (VALUE_FORMAT='AVRO'): confluent-kafka's ``AvroSerializer`` with the schema the
migrations registered, fetched once, and ``auto.register.schemas`` off, so a service never
registers anything (SPEC §8). The serializer looks that schema up under the subject once
to learn its id. Before the first record the model's own derivation (kctx_cli.avro.schema)
is compared with the latest version of ``<topic>-value``, Kafka Connect annotations aside,
then with older versions (a reverted change stays at its first version: the registry does
not register a schema twice); none equal is one ``SchemaMismatchError`` naming ``kctx
makemigrations``/``kctx migrate``. Reading uses ``AvroDeserializer`` (the writer schema by
the record's id, Confluent wire format: magic byte 0, 4-byte big-endian id, Avro body).

Keys, by ``Meta.key_format`` (ksqlDB docs, "Serialization formats"):
AVRO      the registered ``<topic>-key`` schema (one key column unwrapped, several a record),
          written by ``_avro_writer`` (the serializer's bytes without its per-call layers;
          BYTES/DECIMAL keys raw, as Confluent's serializers write a top-level bytes schema:
          kctx_cli.backends.wire), read by ``_key_reader`` (by the writer schema's id);
KAFKA     Kafka's own serializers: INT 4 bytes big-endian, BIGINT 8, DOUBLE IEEE 754,
          STRING UTF-8, BYTES as is (kctx_cli.tail.keys.kafka_bytes; a UUID key as its text);
JSON      compact JSON, one column unwrapped, several an object in key order.

Field names: a source entity's schema uses the Python names (a field's ``ColumnName`` where
it has one: ``Order(from_="x")`` is written as the Avro field ``from``); a derived entity's
(what ksqlDB registers) the upper-case column names, with MAPs as arrays of ``MapEntry`` records
and UUIDs as plain strings. Both directions match names exactly, else case-insensitively.
"""
from __future__ import annotations

import datetime as _dt
import json
import uuid
from typing import Any, Callable

from kctx_cli.runtime.errors import DeserializationError, SchemaMismatchError, SerializationError


def _plain(schema):
    """A schema without Kafka Connect annotations and docs (they do not change the data)."""
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if not k.startswith("connect.") and k != "doc"}
    if isinstance(schema, list):
        return [_plain(x) for x in schema]
    return schema


# --------------------------------------------------------------------------- to Avro

def _encoder(t, node) -> Callable[[Any], Any] | None:
    """Python value of SqlType ``t`` -> the datum fastavro writes for the registered schema
    ``node``; None when the value can be written as it is."""
    if isinstance(node, list):  # ["null", T]
        branches = [b for b in node if b != "null"]
        inner = _encoder(t, branches[0]) if len(branches) == 1 else None
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    n = t.name
    if n == "STRING" and t.avro == "uuid" and not (isinstance(node, dict) and node.get("logicalType") == "uuid"):
        return str
    if n == "STRUCT" and isinstance(node, dict) and node.get("type") == "record":
        sub = t.origin.__kctx__.fields if t.origin is not None else []
        pairs = _match(sub, node["fields"])
        encs = [(f.name, name, _encoder(f.type, ftype)) for f, name, ftype in pairs]

        def struct(v):
            d = v.__dict__ if not isinstance(v, dict) else v
            return {name: (d.get(attr) if enc is None or d.get(attr) is None else enc(d.get(attr)))
                    for attr, name, enc in encs}
        return struct
    if n == "ARRAY" and isinstance(node, dict) and node.get("type") == "array":
        inner = _encoder(t.item, node["items"])
        return None if inner is None else (lambda v: [None if x is None else inner(x) for x in v])
    if n == "MAP" and isinstance(node, dict):
        if node.get("type") == "map":
            inner = _encoder(t.item, node["values"])
            return None if inner is None else (lambda v: {k: None if x is None else inner(x) for k, x in v.items()})
        if node.get("type") == "array":  # ksqlDB's MapEntry array
            entry = node["items"]
            vnode = next(f["type"] for f in entry["fields"] if f["name"] == "value")
            inner = _encoder(t.item, vnode) or (lambda x: x)
            return lambda v: [{"key": k, "value": None if x is None else inner(x)} for k, x in v.items()]
    return None


def _avro_writer(registered, schema: dict) -> Callable[[Any], bytes]:
    """datum -> the bytes confluent-kafka's ``AvroSerializer`` writes for it with the
    registered schema (``registered``: a ``RegisteredSchema``; ``schema``: its parsed JSON)
    when auto-registration and ``use.latest.version`` are off, as the runtime configures it:
    confluent-kafka's framing (``prefix_schema_id_serializer``: magic byte 0, the 4-byte
    big-endian schema id), built once, then the body as Confluent's serializers write it
    (``backends.wire.avro_writer``: fastavro, a top-level bytes schema raw). What it leaves
    out is what that configuration does not use per call: the subject lookup, the
    data-contract rule checks (they run only on the latest-version paths) and the DLQ
    original-key bookkeeping — 2.5 µs a key on confluent-kafka 2.16 (bench/bench_runtime.py
    --breakdown); and it writes DECIMAL keys, which the serializer refuses (it calls
    ``.encode()`` on a datum of a bytes schema that is not bytes). Used for keys (one per
    record; the issue asks values to go through the serializer); tests/
    test_runtime_avro_keys_stack.py checks every key type against the serializer and
    ksqlDB. fastavro's errors (ValueError, TypeError...) propagate; SerializationError for
    a schema fastavro does not parse."""
    from confluent_kafka.schema_registry import prefix_schema_id_serializer
    from confluent_kafka.schema_registry.serde import SchemaId
    from fastavro import parse_schema

    from kctx_cli.backends.wire import avro_writer

    try:
        parsed = parse_schema(schema)
    except Exception as exc:  # noqa: BLE001 - fastavro's schema errors are of several types
        raise SerializationError(f"{registered.subject}: the registered schema does not parse as Avro: "
                                 f"{exc}") from None
    prefix = prefix_schema_id_serializer(b"", None, SchemaId("AVRO", registered.schema_id, registered.guid))
    body = avro_writer(parsed)

    def write(datum) -> bytes:
        return prefix + body(datum)
    return write


def _match(fields, schema_fields) -> list:
    """(model field, schema field name, schema field type) for each schema field that a
    model field matches by name (exactly, else case-insensitively): its Avro name (the
    ``ColumnName`` of ``from_: Annotated[str, ColumnName("from")]``, else the attribute name)
    or its attribute name."""
    by = {f.name: f for f in fields}
    by.update({f.avro_name: f for f in fields})
    folded = {f.name.casefold(): f for f in fields}
    folded.update({f.avro_name.casefold(): f for f in fields})
    out = []
    for sf in schema_fields:
        f = by.get(sf["name"]) or folded.get(sf["name"].casefold())
        if f is not None:
            out.append((f, sf["name"], sf["type"]))
    return out


# --------------------------------------------------------------------------- from Avro

def _decoder(t) -> Callable[[Any], Any] | None:
    """A datum fastavro read (any writer schema ksqlDB or kctx registers) -> the model's
    Python value; None when the datum is the value already."""
    n = t.name
    if n == "STRING" and t.avro == "uuid":
        return lambda v: v if isinstance(v, uuid.UUID) else uuid.UUID(v)
    if n == "STRUCT" and t.origin is not None:
        return _instance_builder(t.origin)
    if n == "ARRAY":
        inner = _decoder(t.item)
        return None if inner is None else (lambda v: [None if x is None else inner(x) for x in v])
    if n == "MAP":
        inner = _decoder(t.item) or (lambda x: x)

        def mp(v):
            if isinstance(v, list):  # ksqlDB's MapEntry array
                return {e["key"]: None if e["value"] is None else inner(e["value"]) for e in v}
            return {k: None if x is None else inner(x) for k, x in v.items()}
        return mp
    if n == "TIMESTAMP":  # a ksqlDB schema without the logical type gives epoch ms
        return lambda v: v if isinstance(v, _dt.datetime) else \
            _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(milliseconds=v)
    return None


def _instance_builder(cls, fields=None) -> Callable[[dict], Any]:
    """dict read from Avro -> an instance of ``cls`` without re-validating (Avro typed the
    values); missing fields take their defaults; a missing required one is an error."""
    from kctx_cli.model.entity import MISSING

    info = cls.__kctx__
    fields = info.fields if fields is None else fields
    plan = []
    for f in fields:
        plan.append((f.name, f.column, f.avro_name, _decoder(f.type), f.default))
    ignored = [(f.name, None if f.default is MISSING else f.default) for f in info.ignored]
    new = object.__new__
    names = [f.name for f in fields]
    avro = [f.avro_name for f in fields]
    renamed = [(a, n) for a, n in zip(avro, names) if a != n]  # ColumnName fields: Avro name -> attribute
    decs = [(n, dec) for n, _, _, dec, _ in plan if dec is not None]
    count = len(names)
    first = avro[0] if avro else None
    last = avro[-1] if avro else None

    def build(d: dict):
        if type(d) is cls:  # a key column decoded before its record (EntityCodec.decoder)
            return d
        if len(d) == count and first in d and last in d and all(a in d for a, _ in renamed):
            # the writer schema has the model's names (kctx's own schemas): the dict fastavro
            # returned becomes the instance's __dict__, converting only what needs it
            for a, name in renamed:
                d[name] = d.pop(a)
            for name, dec in decs:
                x = d[name]
                if x is not None:
                    d[name] = dec(x)
            for name, dv in ignored:
                d[name] = dv
            obj = new(cls)
            obj.__dict__ = d
            return obj
        return slow(d)

    def slow(d: dict):
        obj = new(cls)
        od = obj.__dict__
        for name, col, avro_name, dec, default in plan:
            if name in d:
                v = d[name]
            elif col in d:
                v = d[col]
            elif avro_name in d:
                v = d[avro_name]
            else:
                v = _fold_get(d, avro_name, MISSING) if avro_name != name else MISSING
                if v is MISSING:
                    v = _fold_get(d, name, default)
                if v is MISSING:
                    raise DeserializationError(f"{cls.__name__}: the record has no field '{name}' and the model "
                                               f"gives no default", "model-mismatch")
            od[name] = v if dec is None or v is None else dec(v)
        for name, default in ignored:
            od[name] = default
        return obj
    return build


def _fold_get(d: dict, name: str, default):
    low = name.casefold()
    for k, v in d.items():
        if k.casefold() == low:
            return v
    return default


# --------------------------------------------------------------------------- the codec

class EntityCodec:
    """Serialises and deserialises one entity class for one context (registry client,
    schemas fetched once). Not thread-safe for first use; cheap afterwards."""

    def __init__(self, info, registry, write_registry=None):
        self.info = info
        # serializers get a client of their own: confluent-kafka 2.16's cache answers
        # lookup_schema with schema_id=None once get_schema(id) (the deserializer's call)
        # has cached the same schema, and the serializer then fails "Schema ID is not set"
        self.write_registry = write_registry or registry
        self.cls = info.cls
        self.topic = info.topic
        self.registry = registry
        self._value_ser = None
        self._key_ser = None
        self._value_enc = None
        self._key_enc = None
        self._encode = None
        self._plain_key = None  # (writer, attribute): one Avro key column written as it is
        self._plain_value = False  # the value record is the instance's __dict__
        self._value_de = None
        self._key_de = None
        self._build = None
        self._key_fields = info.keys
        self._value_fields = None

    # -- schemas
    def _latest(self, subject: str, kind: str):
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            return self.write_registry.get_latest_version(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaMismatchError(
                    f"{self.info.name}: no {kind} schema is registered under {subject}: run kctx migrate "
                    f"(after kctx makemigrations if the model is new)") from None
            raise SerializationError(f"{self.info.name}: cannot read {subject} from the schema registry: "
                                     f"{exc.error_message}") from None
        except Exception as exc:  # noqa: BLE001 - connection errors of httpx
            raise SerializationError(f"{self.info.name}: the schema registry does not answer for {subject}: "
                                     f"{type(exc).__name__}: {exc}") from None

    def model_version(self, latest):
        """The registered version (``RegisteredSchema``) holding the model's derived value
        schema, Kafka Connect annotations and docs aside: ``latest`` when it does (the common
        case, no further request), else an older version of the subject — a reverted change,
        which the registry keeps at its first version (``RegisterSchema.replay``), or a
        service not yet redeployed after a migration; the registry's compatibility checks
        let its readers read both. SchemaMismatchError when no version holds it, naming the
        first difference from the latest. Derived entities (ksqlDB registers their
        schemas): ``latest``."""
        if self.info.derived:
            return latest  # reading/writing goes by column names
        from kctx_cli.avro.schema import value_schema

        mine = _plain(value_schema(self.info))
        registered = _plain(json.loads(latest.schema.schema_str))
        if mine == registered:
            return latest
        subject = self.info.value_subject
        try:
            for version in sorted(self.write_registry.get_versions(subject), reverse=True):
                if version != latest.version:
                    older = self.write_registry.get_version(subject, version)
                    if _plain(json.loads(older.schema.schema_str)) == mine:
                        return older
        except Exception as exc:  # noqa: BLE001 - SchemaRegistryError, connection errors
            raise SerializationError(f"{self.info.name}: cannot read the versions of {subject}: "
                                     f"{getattr(exc, 'error_message', exc)}") from None
        raise SchemaMismatchError(
            f"{self.info.name}: the model's Avro schema differs from the latest registered version of "
            f"{subject} ({_first_difference(mine, registered)}) and from every older one: run kctx "
            f"makemigrations, then kctx migrate")

    def value_serializer(self):
        """The value serializer of the entity (built once): confluent-kafka's AvroSerializer on the
        registered version of ``value_subject`` holding the model's schema (``model_version``:
        the latest, or an older one; never registering one), with an encoder
        turning an instance into the record that schema reads. SerializationError for a
        VALUE_FORMAT other than AVRO or a registry that fails; SchemaMismatchError when no
        schema is registered, or it differs from the model's or needs fields the model does
        not have (run makemigrations, migrate)."""
        if self._value_ser is None:
            from confluent_kafka.schema_registry.avro import AvroSerializer

            if self.info.value_format != "AVRO":
                raise SerializationError(f"{self.info.name}: VALUE_FORMAT {self.info.value_format} is not supported "
                                         f"by the runtime (AVRO only)")
            reg = self.model_version(self._latest(self.info.value_subject, "value"))
            registered = json.loads(reg.schema.schema_str)
            from kctx_cli.avro.schema import value_fields

            fields = value_fields(self.info)
            pairs = _match(fields, registered["fields"])
            missing = [sf["name"] for sf in registered["fields"]
                       if "default" not in sf and sf["name"] not in {p[1] for p in pairs}]
            if missing:
                raise SchemaMismatchError(f"{self.info.name}: the registered schema of {self.info.value_subject} "
                                          f"needs field(s) {', '.join(missing)} the model does not have: run kctx "
                                          f"makemigrations, then kctx migrate")
            encs = [(f.name, name, _encoder(f.type, ftype)) for f, name, ftype in pairs]
            if all(enc is None and attr == name for attr, name, enc in encs):
                # the instance's own __dict__ is the record: fastavro's writer reads a
                # record's fields by name and passes over other keys (the key columns,
                # ignored fields), so no copy is made (the hot path of ctx.add)
                def to_avro(obj):
                    return obj.__dict__
                self._plain_value = True
            else:
                def to_avro(obj):
                    d = obj.__dict__
                    return {name: (d[attr] if enc is None or d[attr] is None else enc(d[attr]))
                            for attr, name, enc in encs}
            self._value_enc = to_avro
            from confluent_kafka.serialization import MessageField, SerializationContext

            self._vctx = SerializationContext(self.topic, MessageField.VALUE)
            self._value_ser = AvroSerializer(self.write_registry, reg.schema.schema_str,
                                             conf={"auto.register.schemas": False, "use.latest.version": False,
                                                   "normalize.schemas": False})
        return self._value_ser

    def key_encoder(self) -> Callable[[Any], bytes | None]:
        """entity -> key bytes (None when the entity has no key)."""
        if self._key_enc is not None:
            return self._key_enc
        keys = self._key_fields
        fmt = self.info.key_format
        if self.info.meta.get("window_type"):
            # ksqlDB appends the window's start (and a session's end) to such keys; records
            # written without them would be misread (Meta.window_type: read-only here)
            raise SerializationError(f"{self.info.name}: its keys are windowed (Meta.window_type): the runtime "
                                     f"reads such a topic but does not write to it")
        if not keys:
            enc = lambda obj: None  # noqa: E731
        elif fmt == "KAFKA":
            from kctx_cli.tail.keys import kafka_bytes

            if len(keys) != 1:
                raise SerializationError(f"{self.info.name}: KEY_FORMAT KAFKA holds one key column, the model has "
                                         f"{len(keys)}")
            name, typ = keys[0].name, keys[0].type.name

            def enc(obj):
                v = obj.__dict__[name]
                return None if v is None else kafka_bytes(str(v) if isinstance(v, uuid.UUID) else v, typ)
        elif fmt == "JSON":
            from kctx_cli.tail.keys import json_text

            def enc(obj):
                d = obj.__dict__
                vals = [_json_key(d[f.name]) for f in keys]
                v = vals[0] if len(keys) == 1 else {f.column: x for f, x in zip(keys, vals)}
                return json_text(v).encode()
        elif fmt == "AVRO":
            reg = self._latest(self.info.key_subject, "key")
            registered = json.loads(reg.schema.schema_str)
            write = _avro_writer(reg, registered)
            if len(keys) == 1:
                f = keys[0]
                conv = _encoder(f.type, registered)
                name = f.name
                if conv is None:
                    self._plain_key = (write, name)

                def enc(obj):
                    v = obj.__dict__[name]
                    return None if v is None else write(v if conv is None else conv(v))
            else:
                pairs = _match(keys, registered["fields"])
                encs = [(f.name, n, _encoder(f.type, ft)) for f, n, ft in pairs]

                def enc(obj):
                    d = obj.__dict__
                    return write({n: (d[a] if e is None or d[a] is None else e(d[a])) for a, n, e in encs})
        else:
            raise SerializationError(f"{self.info.name}: KEY_FORMAT {fmt} is not supported by the runtime "
                                     f"(AVRO, KAFKA, JSON)")
        self._key_enc = enc
        return enc

    def encode(self, obj) -> tuple[bytes | None, bytes]:
        """entity -> (key bytes, value bytes); SerializationError for a value the registered
        schema cannot hold."""
        return (self._encode or self.encoder())(obj)

    def encoder(self) -> Callable[[Any], tuple[bytes | None, bytes]]:
        """``encode`` as one function with the serializers bound (built once: the registry
        is asked on the first call; SchemaMismatchError/SerializationError as ``encode``)."""
        if self._encode is None:
            ser = self.value_serializer()
            key_enc, to_avro, vctx = self.key_encoder(), self._value_enc, self._vctx
            failed = self._encode_error
            if self._plain_key and self._plain_value:  # the common shape, without the layers
                write_key, key_name = self._plain_key

                def encode(obj):
                    d = obj.__dict__
                    try:
                        k = d[key_name]
                        return None if k is None else write_key(k), ser(d, vctx)
                    except Exception as exc:  # noqa: BLE001
                        raise failed(obj, exc) from None
            else:
                def encode(obj):
                    try:
                        return key_enc(obj), ser(to_avro(obj), vctx)
                    except Exception as exc:  # noqa: BLE001
                        raise failed(obj, exc) from None
            self._encode = encode
        return self._encode

    def _encode_error(self, obj, exc: Exception) -> Exception:
        """What ``encode`` raises for ``exc``: kctx's own errors as they are, anything
        fastavro/confluent-kafka raise (ValueError, TypeError...) as a SerializationError."""
        if isinstance(exc, (SerializationError, SchemaMismatchError)):
            return exc
        return SerializationError(f"{self.info.name}: cannot serialise {obj!r}: {type(exc).__name__}: {exc}")

    # -- reading
    def _key_reader(self) -> Callable[[bytes, Any], Any]:
        """(framed Avro key bytes, ignored context) -> the key datum, as confluent-kafka's
        ``AvroDeserializer`` reads it but without its per-call layers (the mirror of
        ``_avro_writer``): the writer schema fetched by id once (``get_schema``; a
        SchemaRegistryError for an unknown id, as the deserializer raises) and parsed by
        fastavro, the body read by ``backends.wire.read_avro`` — which also reads what
        the deserializer cannot: an empty BYTES key (the header alone, as ksqlDB writes
        it) and a DECIMAL key as a ``Decimal`` (the deserializer returns its raw bytes).
        ValueError for bytes left after the body; fastavro's errors for a corrupt one."""
        from fastavro import parse_schema

        from kctx_cli.backends.wire import read_avro

        parsed: dict[bytes, Any] = {}
        registry = self.registry

        def read(data: bytes, _ctx=None):
            sid = data[1:5]
            schema = parsed.get(sid)
            if schema is None:
                got = registry.get_schema(int.from_bytes(sid, "big"))
                schema = parsed[sid] = parse_schema(json.loads(got.schema_str))
            value, trailing = read_avro(data, schema)
            if trailing:
                raise ValueError(f"{trailing} bytes after the Avro body")
            return value
        return read

    def decoder(self) -> Callable[[bytes | None, bytes | None], Any]:
        """(key bytes, value bytes) -> entity; DeserializationError for what does not decode."""
        if self._build is not None:
            return self._build
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        from confluent_kafka.schema_registry.error import SchemaRegistryError
        from confluent_kafka.serialization import MessageField, SerializationContext

        info = self.info
        build = _instance_builder(info.cls, info.fields)
        vde = AvroDeserializer(self.registry)
        vctx = SerializationContext(self.topic, MessageField.VALUE)
        kctx = SerializationContext(self.topic, MessageField.KEY)
        keys = self._key_fields
        key_decoders = [(f.name, f.column, f.avro_name, _decoder(f.type)) for f in keys]
        fmt = info.key_format
        kde = self._key_reader() if keys and fmt == "AVRO" else None
        name = info.name

        def failed(exc, data, what) -> DeserializationError:
            if isinstance(exc, SchemaRegistryError):
                sid = int.from_bytes(data[1:5], "big")
                if exc.http_status_code == 404:
                    return DeserializationError(f"{name}: the {what}'s schema id {sid} is unknown to the schema "
                                                f"registry", "unknown-schema")
                return DeserializationError(f"{name}: cannot fetch schema id {sid} of the {what}: "
                                            f"{exc.error_message}", "registry-error")
            # corrupt Avro bodies raise anything
            return DeserializationError(f"{name}: the {what} does not decode as Avro: {type(exc).__name__}: "
                                        f"{exc}", "deserialization")

        def read(data, de, c, what):
            if data is None:
                return None
            if len(data) < 5 or data[0] != 0:
                raise DeserializationError(f"{name}: the {what} is not Confluent-framed Avro (magic byte "
                                           f"{data[:1].hex() or 'missing'}, {len(data)} bytes)", "deserialization")
            try:
                return de(data, c)
            except Exception as exc:  # noqa: BLE001
                raise failed(exc, data, what) from None

        def key_values(kb) -> dict:
            if not keys or kb is None:
                return {}
            if fmt == "AVRO":
                kv = read(kb, kde, kctx, "key")
                if len(keys) == 1 and not isinstance(kv, dict) or keys[0].type.name == "STRUCT" and len(keys) == 1:
                    return {keys[0].name: kv}
                return kv
            if fmt == "KAFKA":
                t = keys[0].type.name
                if t in ("STRING",):
                    try:
                        return {keys[0].name: kb.decode("utf-8")}
                    except UnicodeDecodeError:
                        raise DeserializationError(f"{name}: the key is not UTF-8 text", "deserialization") from None
                if t == "BYTES":
                    return {keys[0].name: kb}
                from kctx_cli.tail.keys import decode_kafka

                got = decode_kafka(kb, t)
                if got is None:
                    raise DeserializationError(f"{name}: the key has {len(kb)} bytes, not a KAFKA {t}",
                                               "deserialization")
                return {keys[0].name: got[0]}
            try:
                kv = json.loads(kb)
            except ValueError:
                raise DeserializationError(f"{name}: the key is not JSON", "deserialization") from None
            return {keys[0].name: kv} if len(keys) == 1 else kv

        def entity(v: dict):
            try:
                return build(v)
            except DeserializationError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise DeserializationError(f"{name}: the record does not fit the model: {type(exc).__name__}: "
                                           f"{exc}", "model-mismatch") from None

        single = len(keys) == 1 and fmt == "AVRO" and keys[0].type.name != "STRUCT"
        key_attr, key_dec = (keys[0].name, key_decoders[0][3]) if single else (None, None)

        def decode_single(kb, vb):
            # the common shape (one Avro key column, a framed value) without the general
            # path's layers; anything unusual goes there for the precise error
            if vb is None or kb is None or len(vb) < 5 or vb[0] or len(kb) < 5 or kb[0]:
                return decode(kb, vb)
            try:
                v = vde(vb, vctx)
            except Exception as exc:  # noqa: BLE001
                raise failed(exc, vb, "value") from None
            try:
                x = kde(kb, kctx)
            except Exception as exc:  # noqa: BLE001
                raise failed(exc, kb, "key") from None
            if type(v) is not dict or type(x) is dict:
                return decode(kb, vb)
            v[key_attr] = x if key_dec is None or x is None else key_dec(x)
            return entity(v)

        def decode(kb, vb):
            if vb is None:
                raise DeserializationError(f"{name}: a tombstone (null value) is not an entity", "tombstone")
            v = read(vb, vde, vctx, "value")
            if not isinstance(v, dict):
                raise DeserializationError(f"{name}: the value is a {type(v).__name__}, not a record",
                                           "model-mismatch")
            kv = key_values(kb)
            if kv:
                for attr, col, avro_name, dec in key_decoders:
                    x = kv.get(attr, kv.get(col, MISSING_KEY)) if isinstance(kv, dict) else MISSING_KEY
                    if x is MISSING_KEY:
                        x = _fold_get(kv, avro_name, None)
                    v[attr] = x if dec is None or x is None else dec(x)
            else:
                for attr, _, _, _ in key_decoders:
                    v.setdefault(attr, None)
            return entity(v)
        self._build = decode_single if single else decode
        return self._build


MISSING_KEY: Any = object()


def _json_key(v):
    if isinstance(v, uuid.UUID):
        return str(v)
    return v


def _first_difference(a, b, path: str = "") -> str:
    """A short description of where two schema JSON values first differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.get("type") == "record" and b.get("type") == "record":
            fa = {f["name"]: f for f in a.get("fields", [])}
            fb = {f["name"]: f for f in b.get("fields", [])}
            for n in fa:
                if n not in fb:
                    return f"field {path}{n} is in the model only"
            for n in fb:
                if n not in fa:
                    return f"field {path}{n} is in the registry only"
            for n in fa:
                if fa[n] != fb[n]:
                    return _first_difference(fa[n], fb[n], f"{path}{n}.")
            for k in set(a) | set(b):
                if k != "fields" and a.get(k) != b.get(k):
                    return f"{path or 'record '}{k}: {a.get(k)!r} in the model, {b.get(k)!r} registered"
        for k in set(a) | set(b):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}{k} ") if isinstance(a.get(k), (dict, list)) \
                    and isinstance(b.get(k), type(a.get(k))) else \
                    f"{path}{k}: {json.dumps(a.get(k))} in the model, {json.dumps(b.get(k))} registered"
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for x, y in zip(a, b):
            if x != y:
                return _first_difference(x, y, path)
    return f"{path.strip() or 'schema'}: {json.dumps(a)} in the model, {json.dumps(b)} registered"

"""The emulator's statement engine: catalog state, planning, REST entities.

Flow of a ``POST /ksql`` (as in ksqlDB's KsqlResource): every statement of the request is
first validated against a *sandbox* copy of the catalog (so a failing request changes
nothing), then each is executed for real: side effects on Kafka / the registry, the
command appended to the command topic (its offset is the commandSequenceNumber), and
the command applied to the catalog. On start the command topic is replayed through the
same ``State.apply`` so streams, tables and queries survive restarts.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

from . import sqltypes as T
from .analyzer import AnalysisError, Source as ASource, analyze
from .catalog import KEY_KINDS, PersistentQuery, Source, State, columns_to_json
from .statements import Column, ParseError, Statement, parse, split, substitute

VERSION = "0.29.0"  # the ksqlDB release whose REST shapes the emulator follows
EMULATOR_NOTE = "kctx ksqlDB REST emulator (test stack; not ksqlDB)"

BAD_REQUEST = 40000
BAD_STATEMENT = 40001
QUERY_ENDPOINT = 40002
NOT_FOUND = 40400
SERVER_ERROR = 50000

FORMATS = ("JSON", "JSON_SR", "AVRO", "PROTOBUF", "PROTOBUF_NOSR", "DELIMITED", "KAFKA", "NONE")
# Formats whose schemas the emulator registers in the Schema Registry.
SR_FORMATS = ("AVRO",)
HIDDEN_TOPIC_PREFIXES = ("_confluent", "__confluent", "_schemas", "__consumer_offsets",
                         "__transaction_state", "connect-configs", "connect-offsets",
                         "connect-status", "connect-statuses", "__share_group_state")


class StatementError(Exception):
    """A statement ksqlDB rejects: becomes a ``statement_error`` entity."""

    def __init__(self, message: str, code: int = BAD_STATEMENT):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------
# Backend interface (Kafka + Schema Registry); a fake one is used by unit tests
# ---------------------------------------------------------------------------


class Topics:
    """Topic view used during validation: the broker's topics plus those the sandbox created."""

    def __init__(self, backend):
        self.backend = backend
        self.created: dict[str, tuple[int, int]] = {}
        self.deleted: set[str] = set()

    def describe(self, name: str):
        if name in self.created:
            return self.created[name]
        if name in self.deleted:
            return None
        return self.backend.describe_topic(name)

    @property
    def assumed(self) -> bool:
        """Memory backend in corpus mode: every topic exists with the partitions asked for."""
        return getattr(self.backend, "auto_topics", False)

    def create(self, name: str, partitions: int, replicas: int):
        self.created[name] = (partitions, replicas)
        self.deleted.discard(name)

    def delete(self, name: str):
        self.created.pop(name, None)
        self.deleted.add(name)


@dataclass
class Plan:
    """What one statement does: a command for the command topic, or a read-only entity."""

    stmt: Statement
    text: str  # the statement text as the client sent it
    command: dict | None = None
    create_topic: tuple | None = None  # (name, partitions, replicas, configs)
    register: list = field(default_factory=list)  # [(subject, schema, only if the subject is absent)]
    delete_topic: str | None = None
    delete_subjects: list = field(default_factory=list)
    entity: str | None = None  # kind of read-only response


# ---------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------


class Engine:
    def __init__(self, backend, service_id: str = "default_"):
        self.backend = backend
        self.service_id = service_id
        self.state = State()
        self.lock = threading.Lock()
        self.host = "127.0.0.1:8088"  # host:port of this server, set by the HTTP layer

    # -- startup ------------------------------------------------------------
    def replay(self):
        """Rebuild the catalog from the command topic (as a ksqlDB server does on start)."""
        import sys

        for seq, cmd in self.backend.read_commands():
            try:
                self.state.apply(cmd, seq)
            except Exception as e:  # a command this version cannot apply: skip it, say so
                self.state.seq = max(self.state.seq, seq)
                print(f"ksqldb-emulator: skipped command {seq} ({cmd.get('commandId')}): {e}",
                      file=sys.stderr)

    # -- /ksql ---------------------------------------------------------------
    def handle_ksql(self, body: dict) -> tuple[int, object]:
        ksql = body.get("ksql")
        if not isinstance(ksql, str):
            return 400, {"@type": "generic_error", "error_code": BAD_REQUEST,
                         "message": "Unrecognized field \"ksql\" missing or not a string"}
        variables = {str(k): v for k, v in (body.get("sessionVariables") or {}).items()}
        properties = {str(k): str(v) for k, v in (body.get("streamsProperties") or {}).items()}
        wait_for = body.get("commandSequenceNumber")
        with self.lock:
            # Commands run synchronously here, so a number not reached yet never will be.
            if isinstance(wait_for, int) and wait_for > self.state.seq:
                return 503, {"@type": "generic_error", "error_code": 50301,
                             "message": "Timed out while waiting for a previous command to execute. "
                                        f"command sequence number: {wait_for}"}
            texts = split(ksql)
            if not texts:
                return 200, []
            sandbox = copy.deepcopy(self.state)
            topics = Topics(self.backend)
            plans: list[Plan] = []
            for text, line0, col0 in texts:
                try:
                    plan = self._plan(text, sandbox, topics, variables, properties)
                except ParseError as e:
                    # positions count in the whole request text, as ksqlDB parses it
                    return 400, _statement_error(BAD_STATEMENT, str(e.shifted(line0, col0)), text, [])
                except StatementError as e:
                    return e.code // 100, _statement_error(e.code, str(e), text, [])
                except Exception as e:  # an emulator bug: answer as ksqlDB answers internal errors
                    return 500, _statement_error(SERVER_ERROR, f"{type(e).__name__}: {e}", text, [])
                if plan.command is not None:
                    sandbox.apply(plan.command, sandbox.seq + 1)
                plans.append(plan)
            entities: list = []
            for plan in plans:
                try:
                    entity = self._execute(plan, properties, variables)
                except StatementError as e:
                    return e.code // 100, _statement_error(e.code, str(e), plan.text, entities)
                except Exception as e:  # a broker/registry failure while executing
                    return 500, _statement_error(SERVER_ERROR, f"{type(e).__name__}: {e}", plan.text, entities)
                if entity is not None:
                    entities.append(entity)
            return 200, entities

    def _execute(self, plan: Plan, properties: dict, variables: dict):
        if plan.command is None:
            return self._read_entity(plan, properties, variables)
        if plan.create_topic:
            name, partitions, replicas, configs = plan.create_topic
            if self.backend.describe_topic(name) is None:
                self.backend.create_topic(name, partitions, replicas, configs)
        for subject, schema, if_absent in plan.register:
            if if_absent and self.backend.latest_schema(subject) is not None:
                continue  # CREATE with columns keeps an existing subject as it is (ksqlDB)
            try:
                self.backend.register_schema(subject, schema)
            except StatementError:
                raise
            except Exception as e:
                raise StatementError("Could not register schema for topic: Could not register schema for "
                                     f"topic: {_registry_message(e)}") from None
        seq = self.backend.append_command(plan.command)
        msg = self.state.apply(plan.command, seq)
        if plan.delete_topic:
            self.backend.delete_topic(plan.delete_topic)
            for subject in plan.delete_subjects:
                self.backend.delete_subject(subject)
        status = {"status": "SUCCESS", "message": msg,
                  "queryId": (plan.command.get("query") or {}).get("id")}
        return {
            "@type": "currentStatus",
            "statementText": plan.text,
            "commandId": plan.command["commandId"],
            "commandStatus": status,
            "commandSequenceNumber": seq,
            "warnings": [],
        }

    # -- planning (validation, no side effects) ---------------------------------
    def _plan(self, text: str, st: State, topics: Topics, variables: dict, properties: dict) -> Plan:
        substituted = substitute(text, variables)
        stmt = parse(substituted, st.types)
        kind = stmt.kind
        plan = Plan(stmt, text)
        if kind in ("CREATE_STREAM", "CREATE_TABLE"):
            self._plan_create(plan, st, topics, properties)
        elif kind in ("CSAS", "CTAS"):
            self._plan_create_as(plan, st, topics, properties)
        elif kind == "INSERT_INTO":
            self._plan_insert(plan, st)
        elif kind == "INSERT_VALUES":
            self._plan_insert_values(plan, st)
        elif kind == "DROP":
            self._plan_drop(plan, st, topics)
        elif kind == "TERMINATE":
            ids = sorted(st.queries) if stmt.all else [stmt.name]
            if not stmt.all and stmt.name not in st.queries:
                raise StatementError(f"Unknown queryId: {stmt.name}")
            plan.command = {"op": "terminate", "ids": ids, "statement": text,
                            "commandId": f"terminate/{'ALL' if stmt.all else stmt.name}/execute"}
        elif kind == "ALTER":
            self._plan_alter(plan, st)
        elif kind == "CREATE_TYPE":
            if stmt.name in st.types and not stmt.if_not_exists:
                raise StatementError(
                    f"Cannot register custom type '{stmt.name}' since it is already registered with type: "
                    f"{st.types[stmt.name].render()}")
            plan.command = {"op": "create_type", "name": stmt.name, "type": stmt.type.render(),
                            "statement": text, "commandId": f"type/{stmt.name}/create"}
        elif kind == "DROP_TYPE":
            if stmt.name not in st.types and not stmt.if_exists:
                raise StatementError(f"Type {stmt.name} does not exist.")
            plan.command = {"op": "drop_type", "name": stmt.name, "statement": text,
                            "commandId": f"type/{stmt.name}/drop"}
        elif kind == "DEFINE":
            variables[stmt.name] = stmt.value
            plan.entity = "none"
        elif kind == "UNDEFINE":
            if not any(k.upper() == stmt.name.upper() for k in variables):
                plan.entity = "warning"
                plan.stmt.value = f"Cannot undefine variable '{stmt.name}' which was never defined"
            else:
                for k in [k for k in variables if k.upper() == stmt.name.upper()]:
                    del variables[k]
                plan.entity = "none"
        elif kind == "SET":
            properties[stmt.name] = stmt.value
            plan.entity = "none"
        elif kind == "UNSET":
            properties.pop(stmt.name, None)
            plan.entity = "none"
        elif kind in ("SELECT", "PRINT"):
            raise StatementError(
                "The following statement types should be issued to the websocket endpoint '/query':\n"
                "\t* PRINT\n\t* SELECT", QUERY_ENDPOINT)
        elif kind == "EXPLAIN":
            if stmt.name not in st.queries:
                raise StatementError(f"Query with id:{stmt.name} does not exist, use SHOW QUERIES to view "
                                     f"the full set of queries.")
            plan.entity = "explain"
        elif kind == "DESCRIBE":
            if stmt.name not in st.sources:
                raise StatementError(
                    f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore" + st.hint(stmt.name, None))
            plan.entity = "describe"
        elif kind in ("SHOW_STREAMS", "SHOW_TABLES", "SHOW_QUERIES", "SHOW_TOPICS", "SHOW_PROPERTIES",
                      "SHOW_VARIABLES", "SHOW_TYPES", "DESCRIBE_STREAMS", "DESCRIBE_TABLES"):
            plan.entity = kind
            # variables and properties as they are at this point of the request
            plan.stmt.value = (dict(variables), dict(properties))
        else:
            word = text.split()[0].upper() if text.split() else kind
            raise StatementError(f"The kctx ksqlDB emulator does not support {word} statements "
                                 f"({kind.replace('_', ' ')}).")
        return plan

    def _formats(self, props: dict, inherit: Source | None = None,
                 properties: dict | None = None) -> tuple[str, str]:
        """KEY/VALUE formats from the WITH clause, the source (CREATE ... AS), or the
        request's ksql.persistence.default.format.* properties (as ksqlDB resolves them)."""
        properties = properties or {}
        fmt = props.get("FORMAT")
        key = props.get("KEY_FORMAT")
        value = props.get("VALUE_FORMAT")
        if fmt is not None and (key is not None or value is not None):
            both = "KEY_FORMAT" if key is not None else "VALUE_FORMAT"
            raise StatementError(f"Cannot supply both '{both}' and 'FORMAT' properties, as 'FORMAT' sets "
                                 f"both key and value formats. Either use just 'FORMAT', or use "
                                 f"'KEY_FORMAT' and 'VALUE_FORMAT'.")
        if fmt is not None:
            key = value = fmt
        if inherit is not None:
            key = key or inherit.key_format
            value = value or inherit.value_format
        key = (key or properties.get("ksql.persistence.default.format.key") or "KAFKA").upper()
        value = value or properties.get("ksql.persistence.default.format.value")
        if value is None:
            raise StatementError("Statement is missing the 'VALUE_FORMAT' property from the WITH clause. "
                                 "Either provide one or set a default via the "
                                 "'ksql.persistence.default.format.value' config.")
        value = value.upper()
        for f in (key, value):
            if f not in FORMATS:
                raise StatementError(f"Unknown format: {f}")
        return key, value

    def _check_columns(self, cols: list[Column], key_format: str, value_format: str, source_type: str,
                       name: str, props: dict, derived: bool = False):
        seen = set()
        for c in cols:
            if not derived and c.name in ("ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"):
                raise StatementError(f"'{c.name}' is a reserved column name. You cannot use it as a name "
                                     f"for a column.")
            if c.name in seen:
                kind = "key" if c.kind in KEY_KINDS else "value"
                raise StatementError(f"Duplicate {kind} columns found in schema: `{c.name}` {c.type.render()}")
            seen.add(c.name)
            if source_type == "STREAM" and c.kind == "PRIMARY_KEY":
                raise StatementError(f"Column `{c.name}` is a 'PRIMARY KEY' column: please use 'KEY' for "
                                     f"streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\n"
                                     f"Streams have KEYs, which have no uniqueness or NON NULL constraints.")
            if source_type == "TABLE" and c.kind == "KEY":
                raise StatementError(f"Column `{c.name}` is a 'KEY' column: please use 'PRIMARY KEY' for "
                                     f"tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\n"
                                     f"Streams have KEYs, which have no uniqueness or NON NULL constraints.")
        header_keys: list = []
        for c in cols:
            if c.kind == "HEADERS":
                if None in header_keys:
                    raise StatementError("Schema already contains a HEADERS column.")
                if c.header is not None and c.header in header_keys:
                    raise StatementError(f"Schema already contains a HEADER('{c.header}') column.")
                header_keys.append(c.header)
        keys = [c for c in cols if c.kind in KEY_KINDS]
        for k in keys:
            if _has_map(k.type):
                raise StatementError(
                    f"Map keys, including types that contain maps, are not supported as they may lead to "
                    f"unexpected behavior due to inconsistent serialization. Key column name: `{k.name}`. "
                    f"Column type: {k.type.render()}. See https://github.com/confluentinc/ksql/issues/6621 "
                    f"for more.")
        for c in cols:
            if c.kind is None:
                self._check_map_keys(c.type, value_format)
        if value_format == "AVRO":
            for c in cols:
                if c.kind is None and not _avro_name_ok(c.name):
                    raise StatementError(f"Schema is not compatible with Avro: Illegal initial character: {c.name}")
        reason = None
        if key_format == "KAFKA" and len(keys) > 1:
            reason = ("The 'KAFKA' format only supports a single field. Got: ["
                      + ", ".join(f"`{k.name}` {k.type.render()} KEY" for k in keys) + "]")
        elif key_format == "KAFKA":
            bad = next((k for k in keys if k.type.base in ("ARRAY", "MAP", "STRUCT", "DECIMAL", "BOOLEAN",
                                                            "DATE", "TIME", "TIMESTAMP")), None)
            if bad is not None:
                reason = f"The 'KAFKA' format does not support type '{bad.type.base}'"
        elif key_format == "DELIMITED":
            bad = next((k for k in keys if k.type.base in ("ARRAY", "MAP", "STRUCT")), None)
            if bad is not None:
                reason = f"The 'DELIMITED' format does not support type '{bad.type.base}'"
        if reason:
            raise StatementError(
                f"Key format does not support schema.\nformat: {key_format}\nschema: Persistence{{columns=["
                + ", ".join(f"`{k.name}` {k.type.render()} KEY" for k in keys)
                + f"], features=[]}}\nreason: {reason}")
        if key_format == "NONE" and keys:
            raise StatementError("The 'NONE' format can only be used when no columns are defined. Got: "
                                 + str([f"`{k.name}` {k.type.render()} KEY" for k in keys]).replace("'", ""))
        if value_format == "KAFKA":
            vals = [c for c in cols if c.kind is None]
            if len(vals) > 1:
                raise StatementError("The 'KAFKA' format only supports a single field. Got: "
                                     + str([f"`{v.name}` {v.type.render()}" for v in vals]).replace("'", ""))
        vals = [c for c in cols if c.kind is None]
        if value_format == "NONE" and vals:
            raise StatementError("The 'NONE' format can only be used when no columns are defined. Got: ["
                                 + ", ".join(f"`{v.name}` {v.type.render()}" for v in vals) + "]")
        if value_format == "DELIMITED":
            for c in vals:
                if c.type.base in ("ARRAY", "MAP", "STRUCT"):
                    raise StatementError(f"The 'DELIMITED' format does not support type '{c.type.base}', "
                                         f"column: `{c.name}`")
        wrap = props.get("WRAP_SINGLE_VALUE")
        if wrap is not None:
            if value_format == "DELIMITED" and wrap is True:
                raise StatementError("Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'.")
            if value_format in ("PROTOBUF", "PROTOBUF_NOSR") and wrap is False:
                raise StatementError(f"Format '{value_format}' does not support 'WRAP_SINGLE_VALUE' set to 'false'.")
            if len(vals) > 1:
                raise StatementError("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")
        full_name = props.get("VALUE_AVRO_SCHEMA_FULL_NAME", props.get("VALUE_SCHEMA_FULL_NAME"))
        if full_name is not None:
            if value_format not in ("AVRO", "PROTOBUF"):
                raise StatementError(f"{value_format} does not support the following configs: [fullSchemaName]")
            if full_name == "":
                raise StatementError("fullSchemaName cannot be empty. Format configuration: {fullSchemaName=}")
        if "VALUE_DELIMITER" in props and value_format != "DELIMITED":
            raise StatementError(f"{value_format} does not support the following configs: [delimiter]")

    def _check_map_keys(self, t: T.SqlType, fmt: str):
        if t.base == "MAP":
            if t.key.base != "STRING":
                if fmt == "AVRO":
                    raise StatementError("Avro only supports MAPs with STRING keys")
                if fmt in ("JSON", "JSON_SR"):
                    raise StatementError("JSON only supports MAP types with STRING keys")
                if fmt in ("PROTOBUF", "PROTOBUF_NOSR"):
                    raise StatementError("PROTOBUF format only supports MAP types with STRING keys")
            self._check_map_keys(t.item, fmt)
        elif t.base == "ARRAY":
            self._check_map_keys(t.item, fmt)
        elif t.base == "STRUCT":
            for _, ft in t.fields:
                self._check_map_keys(ft, fmt)

    def _plan_create(self, plan: Plan, st: State, topics: Topics, properties: dict):
        stmt = plan.stmt
        props = stmt.props
        topic = props.get("KAFKA_TOPIC")
        if topic is None:
            raise StatementError("Missing required configuration \"KAFKA_TOPIC\" which has no default value.")
        existing = st.sources.get(stmt.name)
        if _warn_exists(plan, existing):
            return
        cols = stmt.columns or []
        key_format, value_format = self._formats(props, properties=properties)
        inferred = False
        if not [c for c in cols if c.kind is None] and value_format in SR_FORMATS:
            cols = cols + self._infer(topic, "value")
            inferred = True
            if not [c for c in cols if c.kind in KEY_KINDS] and key_format in SR_FORMATS:
                key_cols = self._infer(topic, "key", missing_ok=True)
                kind = "PRIMARY_KEY" if stmt.source_type == "TABLE" else "KEY"
                cols = [Column(c.name, c.type, kind) for c in key_cols] + cols
        elif not cols and value_format in ("JSON_SR", "PROTOBUF"):
            raise StatementError(f"The kctx ksqlDB emulator cannot infer columns from {value_format} "
                                 f"schemas; declare the columns.")
        if not cols:
            raise StatementError("The statement does not define any columns.")
        if "CLEANUP_POLICY" in props:
            raise StatementError("Invalid config variable in the WITH clause: CLEANUP_POLICY.\n"
                                 "The CLEANUP_POLICY config is automatically inferred based on the type of "
                                 "source (STREAM or TABLE).\nUsers can't set the CLEANUP_POLICY config manually.")
        info = topics.describe(topic)
        create = None
        if info is None:
            if "PARTITIONS" not in props:
                raise StatementError(
                    f"Topic '{topic}' does not exist. If you want to create a new topic for the "
                    f"stream/table please re-run the statement providing the required 'PARTITIONS' "
                    f"configuration in the WITH clause (and optionally 'REPLICAS'). For example: "
                    f"{_example(stmt, props)}")
            partitions = int(props["PARTITIONS"])
            replicas = int(props.get("REPLICAS", 1))
            configs = {"cleanup.policy": "compact" if stmt.source_type == "TABLE" else "delete"}
            if "RETENTION_MS" in props:
                if stmt.source_type == "TABLE":
                    raise StatementError("Invalid config variable in the WITH clause: RETENTION_MS")
                configs["retention.ms"] = str(props["RETENTION_MS"])
            create = (topic, partitions, replicas, configs)
            topics.create(topic, partitions, replicas)
        elif "PARTITIONS" in props and int(props["PARTITIONS"]) != info[0] and not topics.assumed:
            raise StatementError(
                f"A Kafka topic with the name '{topic}' already exists, with different partition/replica "
                f"configuration than required. KSQL expects {int(props['PARTITIONS'])} partitions "
                f"(topic has {info[0]}), {int(props.get('REPLICAS', info[1]))} replication factor "
                f"(topic has {info[1]}).")
        if existing is not None and not stmt.or_replace and not stmt.if_not_exists:
            raise StatementError(f"Cannot add {stmt.source_type.lower()} '{stmt.name}': A "
                                 f"{existing.type.lower()} with the same name already exists")
        if stmt.or_replace and (stmt.is_source or (existing is not None and existing.is_source)):
            t = stmt.source_type.lower()
            raise StatementError(f"Cannot add {t} '{stmt.name}': CREATE OR REPLACE is not supported on "
                                 f"source {t}s.")
        if stmt.source_type == "TABLE" and not any(c.kind == "PRIMARY_KEY" for c in cols) and cols:
            raise StatementError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
        self._check_columns(cols, key_format, value_format, stmt.source_type, stmt.name, props)
        ts = props.get("TIMESTAMP")
        if ts is not None:
            ts = ts.upper() if not ts.startswith("`") else ts.strip("`")
            col = next((c for c in cols if c.name == ts), None)
            if col is None:
                raise StatementError(f"The TIMESTAMP column set in the WITH clause does not exist in the "
                                     f"schema: '{ts}'")
        if existing is not None and stmt.or_replace:
            self._check_replace(existing, cols, stmt.source_type)
        src = Source(stmt.name, stmt.source_type, cols, topic, key_format, value_format,
                     timestamp=ts or "", window_type=_window_type(props), statement=plan.text,
                     is_source=stmt.is_source)
        plan.create_topic = create
        plan.register = [] if inferred else self._schemas(src, props, if_absent=True)
        self._check_compatible(plan.register)
        plan.command = {"op": "create_source", "source": src.to_json(), "query": None,
                        "statement": plan.text,
                        "commandId": f"{stmt.source_type.lower()}/`{stmt.name}`/create"}

    def _infer(self, topic: str, part: str, missing_ok: bool = False) -> list[Column]:
        """Columns read from the registered Avro schema of ``<topic>-<part>`` (ksqlDB's inference)."""
        schema = self.backend.latest_schema(f"{topic}-{part}")
        if schema is None:
            if missing_ok:
                return []
            raise StatementError(
                f"Schema for message {part}s on topic '{topic}' does not exist in the Schema Registry.\n"
                f"Subject: {topic}-{part}\nPossible causes include:\n- The topic itself does not exist\n"
                f"\t-> Use SHOW TOPICS; to check\n- Messages on the topic are not serialized using a format "
                f"Schema Registry supports\n\t-> Use PRINT '{topic}' FROM BEGINNING; to verify")
        try:
            if isinstance(schema, dict) and schema.get("type") == "record":
                return [Column(f["name"], T.from_avro(f["type"]), None if part == "value" else "KEY")
                        for f in schema["fields"]]
            return [Column("ROWKEY" if part == "key" else "ROWVAL", T.from_avro(schema),
                           None if part == "value" else "KEY")]
        except ValueError as e:
            raise StatementError(f"Unable to verify if the schema for topic {topic} is compatible with "
                                 f"KSQL.\nReason: {e}") from None

    def _check_replace(self, existing: Source, cols: list[Column], source_type: str):
        if existing.type != source_type:
            raise StatementError(f"Cannot add {source_type.lower()} '{existing.name}': A "
                                 f"{existing.type.lower()} with the same name already exists")
        for c in existing.columns:
            new = next((n for n in cols if n.name == c.name), None)
            if new is None or new.type != c.type or (new.kind in KEY_KINDS) != (c.kind in KEY_KINDS):
                raise StatementError(
                    f"Cannot upgrade data source: DataSource '{existing.name}' has schema = "
                    f"{_schema_text(existing.columns)} which is not upgradeable to "
                    f"{_schema_text(cols)}. (The following columns are changed, missing or reordered: "
                    f"[`{c.name}` {c.type.render()}{' KEY' if c.kind in KEY_KINDS else ''}])")

    def _schemas(self, src: Source, props: dict, if_absent: bool) -> list:
        """(subject, Avro schema, register only if the subject is absent) for AVRO sources."""
        out = []
        value_name = props.get("VALUE_AVRO_SCHEMA_FULL_NAME") or props.get("VALUE_SCHEMA_FULL_NAME")
        key_name = props.get("KEY_SCHEMA_FULL_NAME")
        if src.value_format in SR_FORMATS and src.values:
            out.append((f"{src.topic}-value",
                        T.avro_schema([(c.name, c.type) for c in src.values], full_name=value_name), if_absent))
        if src.key_format in SR_FORMATS and src.keys:
            out.append((f"{src.topic}-key",
                        T.avro_key_schema([(c.name, c.type) for c in src.keys], src.name, full_name=key_name), if_absent))
        return out

    def _check_compatible(self, registrations: list) -> None:
        """Validation: a schema the registry would refuse fails the statement before anything runs."""
        for subject, schema, if_absent in registrations:
            if if_absent and self.backend.latest_schema(subject) is not None:
                continue
            problem = self.backend.incompatibility(subject, schema)
            if problem:
                raise StatementError("Could not register schema for topic: Could not register schema for "
                                     f"topic: {problem}")

    def _plan_create_as(self, plan: Plan, st: State, topics: Topics, properties: dict):
        stmt = plan.stmt
        q = stmt.query
        props = stmt.props
        existing = st.sources.get(stmt.name)
        if _warn_exists(plan, existing):
            return
        try:
            out = analyze(q, stmt.name, _analyzer_sources(st), stmt.source_type)
        except AnalysisError as e:
            raise StatementError(str(e)) from None
        left = st.sources[q.source.name]
        key_format, value_format = self._formats(props, inherit=left, properties=properties)
        explicit_key = "KEY_FORMAT" in props or "FORMAT" in props
        if not [c for c in out.columns if c.kind in KEY_KINDS]:
            key_format = key_format if explicit_key else "NONE"
        elif key_format == "NONE" and not explicit_key:
            # the source had no key; the sink does: the default key format applies
            key_format = (properties.get("ksql.persistence.default.format.key") or "KAFKA").upper()
        self._check_columns(out.columns, key_format, value_format, out.result_type, stmt.name, props,
                            derived=True)
        if existing is not None:
            if not stmt.or_replace:
                raise StatementError(f"Cannot add {stmt.source_type.lower()} '{stmt.name}': A "
                                     f"{existing.type.lower()} with the same name already exists")
            self._check_replace(existing, out.columns, stmt.source_type)
        topic = props.get("KAFKA_TOPIC", stmt.name)
        src_info = topics.describe(left.topic) or (1, 1)
        partitions = int(props.get("PARTITIONS", src_info[0]))
        replicas = int(props.get("REPLICAS", src_info[1]))
        info = topics.describe(topic)
        create = None
        if info is None:
            policy = "delete" if stmt.source_type == "STREAM" else (
                "compact,delete" if q.window else "compact")
            create = (topic, partitions, replicas, {"cleanup.policy": policy})
            topics.create(topic, partitions, replicas)
        elif existing is None and "PARTITIONS" in props and partitions != info[0] and not topics.assumed:
            raise StatementError(
                f"A Kafka topic with the name '{topic}' already exists, with different partition/replica "
                f"configuration than required. KSQL expects {partitions} partitions (topic has {info[0]}), "
                f"{replicas} replication factor (topic has {info[1]}).")
        if existing is not None:
            qid = next((q2.id for q2 in st.queries.values() if q2.create_as and q2.sink == stmt.name), None)
            writers = [q2 for q2 in st.queries.values() if q2.sink == stmt.name]
            if len(writers) > 1:
                raise StatementError(f"REPLACE for sink {stmt.name} is not supported because there are "
                                     f"multiple queries writing into it: [{', '.join(w.id for w in writers)}]")
        else:
            qid = None
        seq = st.seq + 1
        prefix = "CTAS" if stmt.source_type == "TABLE" else "CSAS"
        qid = qid or f"{prefix}_{stmt.name}_{seq}"
        ts = props.get("TIMESTAMP")
        src = Source(stmt.name, stmt.source_type, out.columns, topic, key_format, value_format,
                     timestamp=(ts.upper() if ts else ""), window_type=out.window_type or None,
                     statement=plan.text, cas_target=True)
        plan.create_topic = create
        plan.register = self._schemas(src, props, if_absent=False)
        self._check_compatible(plan.register)
        plan.command = {
            "op": "create_source", "source": src.to_json(), "statement": plan.text,
            "query": {"id": qid, "statement": plan.text, "sources": out.sources, "sink": stmt.name,
                      "sink_topic": topic, "create_as": True},
            "commandId": f"{stmt.source_type.lower()}/`{stmt.name}`/create",
        }

    def _plan_insert(self, plan: Plan, st: State):
        stmt = plan.stmt
        target = st.sources.get(stmt.name)
        if target is None:
            raise StatementError(f"{stmt.name} does not exist.")
        if target.type != "STREAM":
            raise StatementError(f"INSERT INTO can only be used to insert into a stream. "
                                 f"{stmt.name} is a table.")
        if target.headers:
            raise StatementError(f"Cannot insert into {stmt.name} because it has header columns")
        try:
            out = analyze(stmt.query, stmt.name, _analyzer_sources(st), None)
        except AnalysisError as e:
            raise StatementError(str(e)) from None
        if [(c.name, c.type, c.kind in KEY_KINDS) for c in out.columns] != \
                [(c.name, c.type, c.kind in KEY_KINDS) for c in target.columns]:
            raise StatementError(
                f"Incompatible schema between results and sink.\nResult schema is "
                f"{_schema_text(out.columns)}\nSink schema is {_schema_text(target.columns)}")
        qid = f"INSERTQUERY_{st.seq + 1}"
        plan.command = {"op": "insert_query", "statement": plan.text,
                        "query": {"id": qid, "statement": plan.text, "sources": out.sources,
                                  "sink": stmt.name, "sink_topic": target.topic, "create_as": False},
                        "commandId": f"stream/`{stmt.name}`/create"}

    def _plan_insert_values(self, plan: Plan, st: State):
        """INSERT ... VALUES produces one real record (executed at once, not a command)."""
        from .serde import SerdeError, coerce

        stmt = plan.stmt
        target = st.sources.get(stmt.name)
        if target is None:
            raise StatementError(f"Cannot insert values into an unknown stream/table: `{stmt.name}`"
                                 + st.hint(stmt.name, None))
        if target.window_type:
            raise StatementError("Cannot insert values into windowed stream/table!")
        if target.is_source:
            raise StatementError(f"Cannot insert values into read-only {target.type.lower()}: {target.name}")
        names = stmt.columns or [c.name for c in target.columns]
        by_name = {c.name: c for c in target.columns}
        headers = [n for n in names if n in by_name and by_name[n].kind == "HEADERS"]
        if headers:
            raise StatementError("Cannot insert into HEADER columns: " + ", ".join(headers))
        for n in names:
            if n not in by_name and n != "ROWTIME":
                raise StatementError(f"Column name {n} does not exist.")
            if n in ("ROWPARTITION", "ROWOFFSET"):
                raise StatementError(f"Inserting into column {n} is not allowed.")
        if len(names) != len(stmt.value):
            raise StatementError(f"Expected a value for each column. Expected Columns: {names}. "
                                 f"Got {[v.text for v in stmt.value]}")
        values: dict[str, object] = {}
        for n, e in zip(names, stmt.value):
            if e.kind != "lit":
                raise StatementError(f"Failed to insert values into '{target.name}'. The kctx ksqlDB emulator "
                                     f"only inserts literal values; got {e.text}")
            try:
                values[n] = coerce(e.value, by_name[n].type if n in by_name else T.BIGINT, n)
            except SerdeError as err:
                raise StatementError(f"Failed to insert values into '{target.name}'. {err}") from None
        keys = [c for c in target.keys]
        missing = [c.name for c in keys if values.get(c.name) is None]
        if target.type == "TABLE" and missing:
            raise StatementError(f"Value for primary key column(s) {', '.join(missing)} is required for tables")
        plan.entity = "insert_values"
        plan.stmt.value = {
            "topic": target.topic, "key_format": target.key_format, "value_format": target.value_format,
            "timestamp": values.get("ROWTIME"),
            "key": [(c.name, c.type, values.get(c.name)) for c in keys],
            "value": [(c.name, c.type, values.get(c.name)) for c in target.values],
        }

    def _plan_drop(self, plan: Plan, st: State, topics: Topics):
        stmt = plan.stmt
        name = stmt.name
        src = st.sources.get(name)
        if src is None:
            if stmt.if_exists:
                plan.command = {"op": "drop_source", "name": name, "statement": plan.text,
                                "commandId": f"{stmt.source_type.lower()}/{name}/drop"}
                return
            t = stmt.source_type.lower().capitalize()
            raise StatementError(f"{t} {name} does not exist." + st.hint(name, stmt.source_type))
        if src.type != stmt.source_type:
            raise StatementError(f"Incompatible data source type is {src.type.lower()}, but statement "
                                 f"was DROP {stmt.source_type.lower()}")
        if src.is_source and stmt.delete_topic:
            raise StatementError(f"Cannot delete topic for read-only source: {name}")
        inserts_from = sorted(q.id for q in st.queries.values() if not q.create_as and name in q.sources)
        inserts_into = sorted(q.id for q in st.queries.values() if not q.create_as and q.sink == name)
        if inserts_from or inserts_into:
            raise StatementError(
                f"Cannot drop {name}.\nThe following queries read from this source: "
                f"[{', '.join(inserts_from)}].\nThe following queries write into this source: "
                f"[{', '.join(inserts_into)}].\nYou need to terminate them before dropping {name}.")
        refs = st.referenced_by(name)
        if refs:
            raise StatementError(
                f"Cannot drop {name}.\nThe following streams and/or tables read from this source: "
                f"[{', '.join(refs)}].\nYou need to drop them before dropping {name}.")
        plan.command = {"op": "drop_source", "name": name, "statement": plan.text,
                        "commandId": f"{stmt.source_type.lower()}/{name}/drop"}
        if stmt.delete_topic:
            plan.delete_topic = src.topic
            topics.delete(src.topic)
            if src.value_format in SR_FORMATS:
                plan.delete_subjects.append(f"{src.topic}-value")
            if src.key_format in SR_FORMATS:
                plan.delete_subjects.append(f"{src.topic}-key")

    def _plan_alter(self, plan: Plan, st: State):
        stmt = plan.stmt
        src = st.sources.get(stmt.name)
        if src is None:
            raise StatementError(f"Source {stmt.name} does not exist.")
        if src.type != stmt.source_type:
            raise StatementError(f"Incompatible data source type is {src.type}, but statement was "
                                 f"ALTER {stmt.source_type}")
        if src.cas_target:
            raise StatementError("ALTER command is not supported for CREATE ... AS statements.")
        names = {c.name for c in src.columns}
        for c in stmt.columns:
            if c.name in names:
                raise StatementError(f"Cannot add column `{c.name}` to schema. A column with the same "
                                     f"name already exists.")
            names.add(c.name)
        cols = src.columns + stmt.columns
        self._check_columns(cols, src.key_format, src.value_format, src.type, src.name, {})
        # ksqlDB registers no schema for ALTER (its SchemaRegisterInjector handles CREATE only)
        plan.command = {"op": "alter", "name": stmt.name, "columns": columns_to_json(stmt.columns),
                        "statement": plan.text,
                        "commandId": f"{stmt.source_type.lower()}/{stmt.name}/alter"}

    # -- read-only entities -----------------------------------------------------
    def _read_entity(self, plan: Plan, properties: dict, variables: dict):
        kind = plan.entity
        text = plan.text
        st = self.state
        if kind == "none":
            return None
        if kind == "insert_values":
            from .serde import SerdeError, serialize

            r = plan.stmt.value
            try:
                registry = getattr(self.backend, "registry", None)
                key = serialize(r["key_format"], r["key"], r["topic"], "key", registry)
                value = serialize(r["value_format"], r["value"], r["topic"], "value", registry)
            except SerdeError as err:
                raise StatementError(f"Failed to insert values into '{plan.stmt.name}'. {err}") from None
            self.backend.produce(r["topic"], key, value, r["timestamp"])
            return None
        if kind == "warning":
            return {"@type": "warning_entity", "statementText": text, "message": plan.stmt.value,
                    "warnings": []}
        if kind == "describe":
            src = st.sources.get(plan.stmt.name)
            if src is None:
                raise StatementError(f"Could not find STREAM/TABLE '{plan.stmt.name}' in the Metastore")
            warnings: list = []
            desc = self.describe(src, plan.stmt.extended, warnings)
            return {"@type": "sourceDescription", "statementText": text, "sourceDescription": desc,
                    "warnings": warnings}
        if kind in ("DESCRIBE_STREAMS", "DESCRIBE_TABLES") or (
                kind in ("SHOW_STREAMS", "SHOW_TABLES") and plan.stmt.extended):
            want = "STREAM" if kind.endswith("STREAMS") else "TABLE"
            warnings = []
            extended = plan.stmt.extended or kind.startswith("SHOW")
            descs = [self.describe(s, extended, warnings) for s in st.sources.values() if s.type == want]
            return {"@type": "source_descriptions", "statementText": text, "sourceDescriptions": descs,
                    "warnings": warnings}
        if kind == "explain":
            q = st.queries.get(plan.stmt.name)
            if q is None:
                raise StatementError(f"Query with id:{plan.stmt.name} does not exist, use SHOW QUERIES to view "
                                     f"the full set of queries.")
            return {"@type": "queryDescription", "statementText": text,
                    "queryDescription": self._query_description(q), "warnings": []}
        if kind == "SHOW_QUERIES" and plan.stmt.extended:
            return {"@type": "query_descriptions", "statementText": text,
                    "queryDescriptions": [self._query_description(q) for q in st.queries.values()],
                    "warnings": []}
        if kind == "SHOW_STREAMS":
            return {"@type": "streams", "statementText": text, "streams": [
                self._source_info(s) for s in st.sources.values() if s.type == "STREAM"], "warnings": []}
        if kind == "SHOW_TABLES":
            return {"@type": "tables", "statementText": text, "tables": [
                self._source_info(s) for s in st.sources.values() if s.type == "TABLE"], "warnings": []}
        if kind == "SHOW_QUERIES":
            return {"@type": "queries", "statementText": text,
                    "queries": [self._running(q) for q in st.queries.values()], "warnings": []}
        if kind == "SHOW_TOPICS":
            topics = self.backend.list_topics()
            names = sorted(n for n in topics if plan.stmt.all or not n.startswith(HIDDEN_TOPIC_PREFIXES))
            if plan.stmt.extended:
                groups = self.backend.consumer_groups(names)
                return {"@type": "kafka_topics_extended", "statementText": text, "topics": [
                    {"name": n, "replicaInfo": topics[n], "consumerCount": groups.get(n, (0, 0))[0],
                     "consumerGroupCount": groups.get(n, (0, 0))[1]} for n in names], "warnings": []}
            return {"@type": "kafka_topics", "statementText": text,
                    "topics": [{"name": n, "replicaInfo": topics[n]} for n in names], "warnings": []}
        if kind in ("SHOW_PROPERTIES", "SHOW_VARIABLES"):
            variables, properties = plan.stmt.value
        if kind == "SHOW_PROPERTIES":
            props = dict(self.backend.server_properties())
            overridden = sorted(properties)
            props.update(properties)
            return {"@type": "properties", "statementText": text,
                    "properties": [{"name": k, "scope": "KSQL" if k.startswith("ksql.") else "STREAMS",
                                    "value": str(v)} for k, v in sorted(props.items())],
                    "overwrittenProperties": overridden, "defaultProperties": [], "warnings": []}
        if kind == "SHOW_VARIABLES":
            return {"@type": "variables", "statementText": text,
                    "variables": [{"name": k, "value": str(v)} for k, v in variables.items()],
                    "warnings": []}
        if kind == "SHOW_TYPES":
            return {"@type": "type_list", "statementText": text,
                    "types": {n: t.schema_info() for n, t in st.types.items()}, "warnings": []}
        raise StatementError(f"The kctx ksqlDB emulator does not support {kind}")

    def _source_info(self, s: Source) -> dict:
        return {"type": s.type, "name": s.name, "topic": s.topic, "keyFormat": s.key_format,
                "valueFormat": s.value_format, "isWindowed": s.window_type is not None}

    def _running(self, q: PersistentQuery) -> dict:
        return {"queryString": q.statement, "sinks": [q.sink], "sinkKafkaTopics": [q.sink_topic],
                "id": q.id, "statusCount": {"RUNNING": 1}, "queryType": "PERSISTENT", "state": "RUNNING"}

    def _query_description(self, q: PersistentQuery) -> dict:
        sink = self.state.sources.get(q.sink)
        return {
            "id": q.id,
            "statementText": q.statement,
            "windowType": sink.window_type if sink else None,
            "fields": self._fields(sink) if sink else [],
            "sources": sorted(set(q.sources)),
            "sinks": [q.sink],
            "topology": "",  # the emulator runs no Kafka Streams topology
            "executionPlan": "",
            "overriddenProperties": {},
            "ksqlHostQueryStatus": {self.host: "RUNNING"},
            "queryType": "PERSISTENT",
            "queryErrors": [],
            "tasksMetadata": [],
            "consumerGroupId": f"_confluent-ksql-{self.service_id}query_{q.id}",
            "state": "RUNNING",
        }

    def _fields(self, s: Source) -> list[dict]:
        fields = []
        for c in s.columns:
            f = {"name": c.name, "schema": c.type.schema_info()}
            if c.kind in KEY_KINDS:
                f["type"] = "KEY"
            elif c.kind == "HEADERS":
                f["type"] = "HEADER"
                if c.header is not None:
                    f["headerKey"] = c.header
            fields.append(f)
        return fields

    def describe(self, s: Source, extended: bool, warnings: list) -> dict:
        """A sourceDescription; like ksqlDB, the topic is described even when not EXTENDED."""
        st = self.state
        fields = self._fields(s)
        partitions = replication = 0
        info = self.backend.describe_topic(s.topic)
        if info:
            partitions, replication = info
        else:
            warnings.append({"message": f"Error from Kafka: Failed to Describe Kafka Topic(s): [{s.topic}]"})
        return {
            "name": s.name,
            "windowType": s.window_type,
            "readQueries": [self._running(q) for q in st.read_queries(s.name)],
            "writeQueries": [self._running(q) for q in st.write_queries(s.name)],
            "fields": fields,
            "type": s.type,
            "timestamp": s.timestamp,
            "statistics": "",
            "errorStats": "",
            "extended": extended,
            "keyFormat": s.key_format,
            "valueFormat": s.value_format,
            "topic": s.topic,
            "partitions": partitions,
            "replication": replication,
            "statement": s.statement,
            "queryOffsetSummaries": [],
            "sourceConstraints": st.referenced_by(s.name),
            "clusterStatistics": [],
            "clusterErrorStats": [],
        }

    # -- other endpoints -------------------------------------------------------------
    def terminate_cluster(self, body: dict) -> tuple[int, list]:
        """POST /ksql/terminate: stop all queries, forget the catalog, clear the command topic.

        Topics named (or matched) by ``deleteTopicList`` are deleted when a query created them.
        """
        import re

        patterns = [re.compile(p) for p in body.get("deleteTopicList") or []]
        with self.lock:
            sink_topics = {q.sink_topic for q in self.state.queries.values() if q.create_as}
            for t in sorted(sink_topics):
                if any(p.fullmatch(t) for p in patterns) and self.backend.describe_topic(t) is not None:
                    self.backend.delete_topic(t)
            self.backend.reset_commands()
            self.state = State()
        return 200, [{"@type": "currentStatus", "statementText": "TERMINATE CLUSTER;",
                      "commandId": "cluster/TerminateCluster/terminate",
                      "commandStatus": {"status": "SUCCESS", "message": "Cluster terminated.", "queryId": None},
                      "commandSequenceNumber": -1, "warnings": []}]

    # Properties a client may not override (the example of is_valid_property-endpoint.md).
    PROHIBITED_PROPERTIES = ("ksql.service.id",)

    def is_valid_property(self, name: str) -> tuple[int, object]:
        if name in self.PROHIBITED_PROPERTIES:
            return 400, {"@type": "generic_error", "error_code": BAD_REQUEST,
                         "message": "One or more properties overrides set locally are prohibited by the KSQL "
                                    f"server (use UNSET to reset their default value): [{name}]"}
        return 200, True

    def cluster_status(self) -> dict:
        """GET /clusterStatus: this single server, the partitions of what each query reads."""
        import time

        now = int(time.time() * 1000)
        with self.lock:
            queries = list(self.state.queries.values())
            topics = {n: s.topic for n, s in self.state.sources.items()}
        per_query = {}
        for q in queries:
            parts = []
            for src in q.sources:
                topic = topics.get(src)
                info = self.backend.describe_topic(topic) if topic else None
                parts += [{"topic": topic, "partition": p} for p in range(info[0] if info else 0)]
            per_query[q.id] = {"activeStores": [], "activePartitions": parts,
                               "standByStores": [], "standByPartitions": []}
        return {"clusterStatus": {self.host: {
            "hostAlive": True, "lastStatusUpdateMs": now, "activeStandbyPerQuery": per_query,
            "hostStoreLags": {"stateStoreLags": {}, "updateTimeMs": now}}}}

    def status(self, command_id: str) -> tuple[int, dict]:
        with self.lock:
            s = self.state.statuses.get(command_id)
        if s is None:
            return 404, {"@type": "generic_error", "error_code": NOT_FOUND, "message": "Command not found"}
        return 200, s


def _warn_exists(plan: Plan, existing: Source | None) -> bool:
    """CREATE ... IF NOT EXISTS of an existing source: ksqlDB answers a warning and does nothing."""
    stmt = plan.stmt
    if existing is None or not stmt.if_not_exists or stmt.or_replace:
        return False
    plan.entity = "warning"
    stmt.value = (f"Cannot add {stmt.source_type.lower()} {stmt.name}: A "
                  f"{existing.type.lower()} with the same name already exists.")
    return True


def _registry_message(e: Exception) -> str:
    msg = getattr(e, "error_message", None) or str(e)
    code = getattr(e, "error_code", None)
    return f"{msg}; error code: {code}" if code else msg


def _has_map(t: T.SqlType) -> bool:
    if t.base == "MAP":
        return True
    if t.base == "ARRAY":
        return _has_map(t.item)
    if t.base == "STRUCT":
        return any(_has_map(ft) for _, ft in t.fields)
    return False


def _statement_error(code: int, message: str, text: str, entities: list) -> dict:
    return {"@type": "statement_error", "error_code": code, "message": message,
            "statementText": text, "entities": entities}


def _analyzer_sources(st: State) -> dict[str, ASource]:
    return {n: ASource(n, s.type, s.columns, s.window_type is not None) for n, s in st.sources.items()}


def _window_type(props: dict) -> str | None:
    w = props.get("WINDOW_TYPE")
    return w.upper() if isinstance(w, str) else None


def _schema_text(cols: list[Column]) -> str:
    return ", ".join(f"`{c.name}` {c.type.render()}{' KEY' if c.kind in KEY_KINDS else ''}" for c in cols)


def _avro_name_ok(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == "_")


def _example(stmt: Statement, props: dict) -> str:
    """The corrected statement ksqlDB suggests (its SqlFormatter output, approximately)."""
    cols = ", ".join(
        f"{c.name} {c.type.render()}{' KEY' if c.kind == 'KEY' else ' PRIMARY KEY' if c.kind == 'PRIMARY_KEY' else ''}"
        for c in (stmt.columns or []))
    with_props = dict(props)
    with_props["PARTITIONS"] = 2
    rendered = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in sorted(with_props.items()))
    body = f" ({cols})" if cols else ""
    return f"CREATE {stmt.source_type} {stmt.name}{body} WITH ({rendered});"

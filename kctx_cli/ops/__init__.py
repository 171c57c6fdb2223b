"""Operations: the steps a migration is made of (SPEC §4).

Two kinds of step:

* **kctx operations** for what ksqlDB cannot express — Kafka topics, partitions and
  configs, Schema Registry subjects, schemas and compatibility. In a migration file each
  is one SQL comment line, ``-- kctx:<name> <json>``, so a plain KSQL runner skips it::

      -- kctx:create-topic {"configs":{},"name":"orders","partitions":6,"replicas":1}

* **KSQL statements** (``Ksql``): CREATE [OR REPLACE] STREAM/TABLE [AS SELECT], DROP,
  ALTER ... ADD COLUMN, TERMINATE, and anything else ksqlDB accepts.

Every operation knows how to:

* ``render()`` itself as migration-file text (deterministic: JSON with sorted keys);
* ``reverse(before)`` itself: the list of operations undoing it (``[]``: nothing to
  undo), or ``IrreversibleError`` saying why it cannot be undone (Alembic's/Django's
  "operations know their reverse"). ``before`` is the state before the operation, read
  for what an undo re-creates (a dropped source's statement, a deleted topic's partitions
  and configs, the compatibility levels a ``DROP ... DELETE TOPIC`` removes).
  Autogenerate writes every down part from these reverses;
* ``replay(state)``: apply itself to the offline state (``kctx_cli.migrations.state``);
* ``applied(cluster)`` / ``execute(cluster)``: look at the live cluster (is my effect
  already there?) and apply itself. ``applied`` is what makes a re-run after a crash apply
  each step exactly once.

``destructive`` operations (deleting topics, subjects or schema versions, dropping
sources, terminating queries, or anything marked ``-- kctx:destructive``) need
``--allow-destructive`` in ``makemigrations`` and ``migrate``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from kctx_cli.errors import KctxError

PREFIX = "-- kctx:"


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON: the same operation always renders to the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class OpError(KctxError):
    """An operation that cannot be applied (bad arguments, rejected by a server)."""


class IrreversibleError(OpError):
    """Raised by ``Op.reverse()``: the operation cannot be undone.

    ``str(exc)`` is the reason as a migration file's ``-- kctx:irreversible`` line gives
    it. When the reason starts by naming an object (``"topic orders: partitions cannot be
    removed"``), ``what`` is that name (``"topic orders"``) and ``why`` the rest, so a
    caller that knows the object better can name it: see ``reason``."""

    def __init__(self, why: str, *, what: str | None = None):
        self.what, self.why = what, why
        super().__init__(f"{what}: {why}" if what else why)

    def reason(self, what: str | None = None) -> str:
        """The reason, with the object named ``what`` instead of the operation's own name
        for it (``what`` None, or a reason naming no object: ``str(self)``)."""
        return f"{what}: {self.why}" if what and self.what else str(self)


@dataclass
class Op:
    """Base class. ``name`` is the file keyword; ``args()`` the JSON payload."""

    name: ClassVar[str] = ""
    destructive_kind: ClassVar[bool] = False
    # set by the file reader for a step preceded by ``-- kctx:destructive``, and by
    # autogenerate for e.g. an incompatible schema forced through
    marked_destructive: bool = field(default=False, kw_only=True)
    note: str | None = field(default=None, kw_only=True)

    @property
    def destructive(self) -> bool:
        """Whether the operation loses data or running state (its kind, or marked with
        ``-- kctx:destructive``): it then needs ``--allow-destructive``."""
        return self.destructive_kind or self.marked_destructive

    def args(self) -> dict:
        """The JSON payload: the operation's own fields by name (subclasses that rename or
        leave out fields override this and ``from_args``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.kw_only}

    def render(self) -> str:
        """The operation as its migration-file line: ``-- kctx:<name> <args() as sorted JSON>``."""
        return f"{PREFIX}{self.name} {dumps(self.args())}"

    def describe(self) -> str:
        """The operation in one line for people (progress lines, plans, error messages)."""
        return f"{self.name} {dumps(self.args())}"

    def reverse(self, before=None) -> list["Op"]:
        """The operations undoing this one, in the order they run (``[]``: nothing to undo).

        ``before``: the ``kctx_cli.migrations.state.State`` before this operation (or any
        earlier state in which what it changes is still as it was), read by the reverses
        that re-create what the operation removes or replaces; None: not known. Raises
        ``IrreversibleError`` with the reason when the operation cannot be undone (Kafka
        cannot remove partitions, ksqlDB cannot drop a column, ...) or when what its undo
        needs is neither in the operation nor in ``before``."""
        raise IrreversibleError(f"{self.describe()}: kctx knows no reverse of it")

    def replay(self, state) -> None:
        """Apply the operation to the offline ``state`` (kctx_cli.migrations.state.State), in place.
        OpError when it does not apply there (e.g. it creates a topic the state already has, or
        changes one it lacks): the migration files contradict each other."""
        raise NotImplementedError

    def applied(self, cluster) -> bool:
        """Whether the operation's effect is already in the live ``cluster``
        (kctx_cli.migrations.cluster.Cluster): True makes ``migrate`` record the step done
        without executing it, which is what resumes a crashed run exactly once. OpError when
        the cluster contradicts the operation; KctxError when a server cannot be reached.
        The base answers False (always execute)."""
        return False

    def execute(self, cluster) -> None:
        """Apply the operation to the live ``cluster``. Returns None, or a short note for the
        progress line (``"already there"``: the effect was found in place). KctxError (OpError,
        or a server's refusal) when it fails."""
        raise NotImplementedError

    @classmethod
    def from_args(cls, args: dict) -> "Op":
        """The operation from its JSON payload (``args()`` read back; see ``parse_op``). TypeError,
        KeyError or ValueError for a bad payload (parse_op reports them as OpError)."""
        return cls(**args)


# ---------------------------------------------------------------------------
# Kafka topics
# ---------------------------------------------------------------------------


@dataclass
class CreateTopic(Op):
    """``create-topic``: create Kafka topic ``topic`` with ``partitions``, replication factor
    ``replicas`` and topic ``configs`` (JSON: ``name``, ``partitions``, ``replicas``,
    ``configs``)."""
    name: ClassVar[str] = "create-topic"
    topic: str
    partitions: int
    replicas: int
    configs: dict[str, str] = field(default_factory=dict)

    def args(self):
        return {"name": self.topic, "partitions": self.partitions, "replicas": self.replicas, "configs": self.configs}

    @classmethod
    def from_args(cls, args):
        return cls(topic=args["name"], partitions=int(args["partitions"]), replicas=int(args.get("replicas", 1)),
                   configs={str(k): str(v) for k, v in (args.get("configs") or {}).items()})

    def describe(self):
        return f"create topic {self.topic} ({self.partitions} partitions, {self.replicas} replicas)"

    def reverse(self, before=None):
        """Delete the topic again."""
        return [DeleteTopic(self.topic)]

    def replay(self, state):
        if self.topic in state.topics:
            raise OpError(f"create-topic: topic '{self.topic}' already exists")
        state.topics[self.topic] = state.Topic(self.partitions, self.replicas, dict(self.configs), owner="kctx")

    def applied(self, cluster):
        """True when the topic exists with at least ``partitions`` partitions (replicas and configs
        are not compared); OpError when it exists with fewer."""
        live = cluster.topic(self.topic)
        if live is None:
            return False
        if live.partitions < self.partitions:
            raise OpError(f"topic '{self.topic}' exists with {live.partitions} partitions, the migration creates it "
                          f"with {self.partitions}")
        return True

    def execute(self, cluster):
        cluster.create_topic(self.topic, self.partitions, self.replicas, self.configs)


@dataclass
class DeleteTopic(Op):
    """``delete-topic`` (destructive): delete Kafka topic ``topic`` and its records; ``was``
    (``partitions``, ``replicas``, ``configs``), when known, lets ``reverse`` create it again."""
    name: ClassVar[str] = "delete-topic"
    destructive_kind: ClassVar[bool] = True
    topic: str
    # what it was, so the reverse can re-create it (empty: the data is gone either way)
    was: dict | None = None

    def args(self):
        return {"name": self.topic} if self.was is None else {"name": self.topic, "was": self.was}

    @classmethod
    def from_args(cls, args):
        return cls(topic=args["name"], was=args.get("was"))

    def describe(self):
        return f"delete topic {self.topic} (its data is lost)"

    def reverse(self, before=None):
        """Create the topic again as it was (its records are lost either way): partitions,
        replicas (default 1) and configs from ``was``, else from the topic in ``before``;
        ``IrreversibleError`` when the partition count is in neither."""
        was = self.was
        if not was and before is not None and self.topic in before.topics:
            t = before.topics[self.topic]
            was = {"partitions": t.partitions, "replicas": t.replicas, "configs": t.configs}
        if not was or was.get("partitions") is None:
            raise IrreversibleError("its partition count before the delete is not known (in neither the "
                                    "operation's \"was\" nor the state before it)", what=f"topic {self.topic}")
        return [CreateTopic(self.topic, int(was["partitions"]), int(was.get("replicas") or 1),
                            {str(k): str(v) for k, v in (was.get("configs") or {}).items()})]

    def replay(self, state):
        if self.topic not in state.topics:
            raise OpError(f"delete-topic: topic '{self.topic}' does not exist")
        del state.topics[self.topic]

    def applied(self, cluster):
        return cluster.topic(self.topic) is None

    def execute(self, cluster):
        cluster.delete_topic(self.topic)


@dataclass
class AddPartitions(Op):
    """``add-partitions``: grow topic ``topic`` to ``partitions`` in total (Kafka can add
    partitions, never remove them); ``was`` the count before, for messages. Keys then hash
    to other partitions while existing records stay where they were (Kafka documentation,
    "Modifying topics")."""
    name: ClassVar[str] = "add-partitions"
    topic: str
    partitions: int  # the new total
    was: int | None = None

    def args(self):
        d = {"name": self.topic, "partitions": self.partitions}
        if self.was is not None:
            d["was"] = self.was
        return d

    @classmethod
    def from_args(cls, args):
        return cls(topic=args["name"], partitions=int(args["partitions"]), was=args.get("was"))

    def describe(self):
        was = f" (from {self.was})" if self.was is not None else ""
        return f"add partitions to {self.topic}: {self.partitions} in total{was}"

    def reverse(self, before=None):
        """Irreversible: Kafka cannot remove partitions."""
        raise IrreversibleError("partitions cannot be removed", what=f"topic {self.topic}")

    def replay(self, state):
        t = state.topics.get(self.topic)
        if t is None:
            raise OpError(f"add-partitions: topic '{self.topic}' does not exist")
        if t.partitions is not None and self.partitions < t.partitions:
            raise OpError(f"add-partitions: topic '{self.topic}' has {t.partitions} partitions; "
                          f"partitions can only grow (asked for {self.partitions})")
        t.partitions = self.partitions

    def applied(self, cluster):
        """True when the topic has exactly ``partitions``; OpError when it is missing or
        has more (Kafka cannot remove partitions: recording it done would hide the
        difference from every later plan)."""
        live = cluster.topic(self.topic)
        if live is None:
            raise OpError(f"add-partitions: topic '{self.topic}' does not exist")
        if live.partitions > self.partitions:
            raise OpError(f"add-partitions: topic '{self.topic}' has {live.partitions} partitions, more than the "
                          f"{self.partitions} asked for; partitions can only grow")
        return live.partitions == self.partitions

    def execute(self, cluster):
        cluster.create_partitions(self.topic, self.partitions)


@dataclass
class SetTopicConfig(Op):
    """Set and/or remove configs set on the topic itself (``unset``: back to the broker's default)."""

    name: ClassVar[str] = "set-topic-config"
    topic: str
    set: dict[str, str] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    was: dict[str, str | None] | None = None  # previous values (None: not set), for reverse

    def args(self):
        d: dict = {"name": self.topic}
        if self.set:
            d["set"] = self.set
        if self.unset:
            d["unset"] = sorted(self.unset)
        if self.was is not None:
            d["was"] = self.was
        return d

    @classmethod
    def from_args(cls, args):
        return cls(topic=args["name"], set={str(k): str(v) for k, v in (args.get("set") or {}).items()},
                   unset=[str(k) for k in args.get("unset") or []], was=args.get("was"))

    def describe(self):
        parts = [f"{k}={v}" for k, v in sorted(self.set.items())] + [f"-{k}" for k in sorted(self.unset)]
        return f"topic {self.topic} configs: {', '.join(parts)}"

    def reverse(self, before=None):
        """Set back the previous values (``was``, else the topic's configs in ``before``):
        a config that was not set is unset."""
        was = self.was
        if was is None and before is not None and self.topic in before.topics:
            old = before.topics[self.topic].configs
            was = {k: old.get(k) for k in list(self.set) + list(self.unset)}
        if was is None:
            raise IrreversibleError("its configs before the change are not known (in neither the operation's "
                                    "\"was\" nor the state before it)", what=f"topic {self.topic}")
        back_set = {k: v for k, v in was.items() if v is not None}
        back_unset = sorted(k for k, v in was.items() if v is None)
        return [SetTopicConfig(self.topic, set=back_set, unset=back_unset)]

    def replay(self, state):
        t = state.topics.get(self.topic)
        if t is None:
            raise OpError(f"set-topic-config: topic '{self.topic}' does not exist")
        t.configs.update(self.set)
        for k in self.unset:
            t.configs.pop(k, None)

    def applied(self, cluster):
        live = cluster.topic_configs(self.topic)
        return all(live.get(k) == v for k, v in self.set.items()) and not any(k in live for k in self.unset)

    def execute(self, cluster):
        cluster.alter_topic_configs(self.topic, self.set, self.unset)


# ---------------------------------------------------------------------------
# Schema Registry
# ---------------------------------------------------------------------------


@dataclass
class RegisterSchema(Op):
    """Register a schema version (compatibility is tested against the registry first)."""

    name: ClassVar[str] = "register-schema"
    subject: str
    schema: Any
    first: bool = False  # the subject did not exist before: the reverse deletes it

    def args(self):
        d = {"subject": self.subject, "schema": self.schema}
        if self.first:
            d["first"] = True
        return d

    def describe(self):
        return f"register a schema for {self.subject}"

    def reverse(self, before=None):
        """Delete the subject (``first``: the registration created it), else the version
        holding the schema; nothing when ``before`` (the State before this operation)
        already held the schema: the registration added no version (see ``replay``)."""
        if self.first:
            return [DeleteSubject(self.subject)]
        held = before.subjects.get(self.subject) if before is not None else None
        if held is not None and self.schema in held.schemas:
            return []
        return [DeleteSchema(self.subject, self.schema)]

    def replay(self, state):
        """As the registry does: a schema the subject already holds, at any version, is
        answered with that version, and the latest version stays what it was (checked on
        Confluent Schema Registry 8.1.5: registering version 1's schema again after
        version 2 returns version 1; the latest is still 2)."""
        schemas = state.subject(self.subject).schemas
        if self.schema not in schemas:
            schemas.append(self.schema)

    def applied(self, cluster):
        return cluster.schema_version(self.subject, self.schema) is not None

    def execute(self, cluster):
        cluster.register_schema(self.subject, self.schema)


@dataclass
class DeleteSchema(Op):
    """Delete the version of a subject holding this schema (the reverse of a registration)."""

    name: ClassVar[str] = "delete-schema"
    destructive_kind: ClassVar[bool] = True
    subject: str
    schema: Any

    def describe(self):
        return f"delete the version of {self.subject} holding this schema"

    def reverse(self, before=None):
        """Register the schema again (as a new version: its version number is not kept)."""
        return [RegisterSchema(self.subject, self.schema)]

    def replay(self, state):
        s = state.subjects.get(self.subject)
        if s is None or self.schema not in s.schemas:
            raise OpError(f"delete-schema: subject '{self.subject}' has no such schema")
        s.schemas.remove(self.schema)

    def applied(self, cluster):
        return cluster.schema_version(self.subject, self.schema) is None

    def execute(self, cluster):
        cluster.delete_schema(self.subject, self.schema)


@dataclass
class DeleteSubject(Op):
    """``delete-subject`` (destructive): delete every version of Schema Registry subject
    ``subject``, soft then permanently."""
    name: ClassVar[str] = "delete-subject"
    destructive_kind: ClassVar[bool] = True
    subject: str

    def describe(self):
        return f"delete subject {self.subject} (every version)"

    def reverse(self, before=None):
        """Irreversible: kctx does not register a deleted subject's versions again."""
        raise IrreversibleError(f"subject {self.subject} is deleted")

    def replay(self, state):
        if self.subject not in state.subjects:
            raise OpError(f"delete-subject: subject '{self.subject}' does not exist")
        del state.subjects[self.subject]

    def applied(self, cluster):
        return not cluster.subject_exists(self.subject)

    def execute(self, cluster):
        cluster.delete_subject(self.subject)


@dataclass
class SetCompatibility(Op):
    """Set a subject's compatibility level (``level`` None: remove it, the global level applies)."""

    name: ClassVar[str] = "set-compatibility"
    subject: str
    level: str | None
    was: str | None = None
    had_was: bool = False  # whether ``was`` is known (None is a valid previous value)

    def args(self):
        d = {"subject": self.subject, "level": self.level}
        if self.had_was:
            d["was"] = self.was
        return d

    @classmethod
    def from_args(cls, args):
        return cls(subject=args["subject"], level=args.get("level"), was=args.get("was"), had_was="was" in args)

    def describe(self):
        return f"compatibility of {self.subject}: {self.level or 'the global default'}"

    def reverse(self, before=None):
        """Set the previous level back (``was`` when ``had_was``, else the subject's level in
        ``before``; a subject not in ``before`` had none)."""
        if self.had_was:
            return [SetCompatibility(self.subject, self.was)]
        if before is None:
            raise IrreversibleError("its compatibility level before the change is not known (in neither the "
                                    "operation's \"was\" nor the state before it)", what=f"subject {self.subject}")
        old = before.subjects.get(self.subject)
        return [SetCompatibility(self.subject, old.compatibility if old is not None else None)]

    def replay(self, state):
        state.subject(self.subject).compatibility = self.level

    def applied(self, cluster):
        return cluster.compatibility(self.subject) == self.level

    def execute(self, cluster):
        cluster.set_compatibility(self.subject, self.level)


@dataclass
class DerivedSchema(Op):
    """Record only: the schema ksqlDB registers itself for the CREATE ... AS SELECT before
    it, so the offline state knows it (the next makemigrations checks changes against it).
    Nothing is sent to a server."""

    name: ClassVar[str] = "derived-schema"
    subject: str
    schema: Any

    def describe(self):
        return f"(ksqlDB registers the schema of {self.subject})"

    def reverse(self, before=None):
        """``[]``: it sends nothing; the reverse of the CREATE ... AS SELECT it follows
        (``DROP ... DELETE TOPIC``) deletes the subject."""
        return []

    def replay(self, state):
        subject = state.subject(self.subject)
        subject.derived = True
        if not subject.schemas or subject.schemas[-1] != self.schema:
            subject.schemas.append(self.schema)

    def applied(self, cluster):
        """Always True: there is nothing to do on the cluster."""
        return True

    def execute(self, cluster):
        """Nothing: ksqlDB registers the schema itself."""
        return None


@dataclass
class Irreversible(Op):
    """In a down part: the up part cannot be undone (``migrate --to`` stops before it)."""

    name: ClassVar[str] = "irreversible"
    reason: str = ""

    def describe(self):
        return f"irreversible: {self.reason}"

    def reverse(self, before=None):
        """Irreversible: a marker of a down part that cannot run, not a change."""
        raise IrreversibleError(f"the irreversible marker of a down part has no reverse ({self.reason})")

    def replay(self, state):
        """OpError: a down part holding this marker cannot be applied."""
        raise OpError(f"cannot go below this version: {self.reason}")

    def execute(self, cluster):
        """OpError: a down part holding this marker cannot run (``migrate --to`` stops before it)."""
        raise OpError(f"cannot go below this version: {self.reason}")


# ---------------------------------------------------------------------------
# ksqlDB
# ---------------------------------------------------------------------------


@dataclass
class Ksql(Op):
    """One KSQL statement. Its reverse (``reverse``): a DROP for a CREATE, the previous
    CREATE (read from the state before it) for a DROP or a CREATE OR REPLACE."""

    name: ClassVar[str] = "ksql"
    text: str  # the statement, with its ';' (in a migration file: after ${variable} substitution)
    tree: Any = None
    # the SET properties in effect before it in its file: sent as the request's
    # streamsProperties (kctx_cli.ksql.session; ksql-endpoint.md)
    properties: dict[str, str] | None = None

    def __post_init__(self):
        if self.tree is None:
            from kctx_cli.ksql.dialect import parse_one

            self.tree = parse_one(self.text)

    def args(self):
        return {"statement": self.text}

    def render(self):
        """The statement itself, as written (with its ``;``)."""
        return self.text

    @property
    def destructive(self):
        """DROP and TERMINATE are destructive (and any statement marked ``-- kctx:destructive``)."""
        from kctx_cli.ksql import nodes as k

        return self.marked_destructive or isinstance(self.tree, (k.Drop, k.Terminate))

    def describe(self):
        """The statement on one line, cut at 110 characters, with the SET properties it runs with."""
        t = " ".join(self.text.split())
        t = t if len(t) <= 110 else t[:107] + "..."
        if self.properties:
            t += " (with " + ", ".join(f"{k}={v}" for k, v in sorted(self.properties.items())) + ")"
        return t

    @property
    def session(self) -> bool:
        """SET/UNSET/DEFINE/UNDEFINE: they change the file's session (the properties and
        variables of the statements after them) and send nothing to ksqlDB."""
        from kctx_cli.ksql.session import is_session

        return is_session(self.tree)

    def reverse(self, before=None):
        """By statement:

        * ``CREATE STREAM|TABLE``: ``DROP`` it, with ``DELETE TOPIC`` for a CREATE ... AS
          SELECT (its query made the topic); a source over a topic keeps the topic (kctx's
          ``create-topic`` before it has its own reverse). ``IF NOT EXISTS`` of a source
          ``before`` has: ``[]``.
        * ``CREATE OR REPLACE``: the statement it replaces, from ``before``, as CREATE OR
          REPLACE (a source ``before`` lacks: DROP as for a CREATE).
        * ``DROP STREAM|TABLE [DELETE TOPIC]``: the source's statement from ``before``;
          after a ``DELETE TOPIC`` also the compatibility levels its topic's ``-key`` and
          ``-value`` subjects had (ksqlDB deletes the subjects with the topic, and the
          query registers their schemas again). ``IF EXISTS`` of a source ``before`` lacks: ``[]``.
        * SET, UNSET, DEFINE, UNDEFINE: ``[]`` (they change the file's session only).
        * ``ALTER ... ADD COLUMN`` (ksqlDB cannot drop a column), TERMINATE, INSERT and
          anything else: ``IrreversibleError``."""
        from kctx_cli.ksql import nodes as k
        from kctx_cli.ksql.dialect import quote_name

        t = self.tree
        name = self.source_name
        head = " ".join(self.text.split()[:3])
        if isinstance(t, k.CreateSource):
            old = before.sources.get(name) if before is not None else None
            if t.args.get("replace"):
                if old is not None:
                    return [Ksql("CREATE OR REPLACE " + old.statement[len("CREATE "):])]
                if before is None:
                    raise IrreversibleError(f"CREATE OR REPLACE {t.args['kind']} {name}: the statement it replaces is "
                                            "not known (reverse needs the state before it)")
            elif t.args.get("exists") and old is not None:
                return []  # IF NOT EXISTS of a source that was there: nothing was created
            delete = " DELETE TOPIC" if t.args.get("expression") is not None else ""
            return [Ksql(f"DROP {t.args['kind']} {quote_name(name)}{delete};")]
        if isinstance(t, k.Drop) and t.args["kind"] in ("STREAM", "TABLE"):
            old = before.sources.get(name) if before is not None else None
            if old is None:
                if before is not None and t.args.get("exists"):
                    return []  # DROP IF EXISTS of a source that was not there: nothing was dropped
                raise IrreversibleError(f"DROP {t.args['kind']} {name}: its statement before the drop is not known "
                                        "(reverse needs the state before it, holding the source)")
            undo: list[Op] = [Ksql(old.statement)]
            if t.args.get("delete_topic"):
                for suffix in ("-key", "-value"):
                    subject = before.subjects.get(old.topic + suffix)
                    if subject is not None and subject.compatibility is not None:
                        undo.append(SetCompatibility(old.topic + suffix, subject.compatibility))
            return undo
        if isinstance(t, k.AlterSource):
            raise IrreversibleError("ksqlDB cannot drop a column", what=name)
        if self.session:
            return []
        if isinstance(t, k.Terminate):
            raise IrreversibleError(f"{head}: a terminated query cannot be started again")
        if isinstance(t, (k.InsertInto, k.InsertValues)):
            raise IrreversibleError(f"{head}: records written to a topic cannot be taken back")
        raise IrreversibleError(f"{head}: kctx knows no reverse of this statement")

    # -- what the statement does --------------------------------------------------
    @property
    def source_name(self) -> str | None:
        """The name the statement acts on (the source of a CREATE, DROP, ALTER or INSERT INTO;
        the query id of a TERMINATE), as the tree holds it (upper case unless quoted), or
        None when it names none."""
        this = self.tree.args.get("this")
        return getattr(this, "this", None) if this is not None else None

    def replay(self, state):
        """What the offline state tracks of a statement: CREATE [OR REPLACE] STREAM/TABLE records
        the source (canonical statement, topic) and, when ksqlDB creates it, its topic; DROP
        removes the source and, with DELETE TOPIC, its topic and ``-key`` / ``-value`` subjects;
        ALTER ... ADD COLUMN adds the columns to the stored statement. Other statements change
        nothing. OpError for a CREATE of an existing source (without OR REPLACE / IF NOT EXISTS),
        a DROP or ALTER of a missing one."""
        from kctx_cli.ksql import nodes as k

        t = self.tree
        if isinstance(t, k.CreateSource):
            name = self.source_name
            existing = state.sources.get(name)
            if existing is not None and not t.args.get("replace"):
                if t.args.get("exists"):
                    return
                raise OpError(f"{t.args['kind']} {name} already exists (CREATE without OR REPLACE)")
            props = properties(t)
            derived = t.args.get("expression") is not None
            default_topic = name
            if derived and self.properties:
                # ksqlDB names a CSAS/CTAS sink without KAFKA_TOPIC <prefix><NAME> when the
                # statement runs with ksql.output.topic.name.prefix (a SET before it)
                default_topic = self.properties.get("ksql.output.topic.name.prefix", "") + name
            topic = props.get("KAFKA_TOPIC") or (existing.topic if existing else default_topic)
            state.sources[name] = state.Source(t.args["kind"], canonical(t), topic, derived)
            if topic not in state.topics:
                # ksqlDB creates the topic (CSAS/CTAS, or PARTITIONS given)
                # configs ksqlDB sets itself (cleanup.policy) are not tracked: see state.desired
                parts = props.get("PARTITIONS")
                state.topics[topic] = state.Topic(int(parts) if parts else None, int(props.get("REPLICAS") or 1),
                                                  {}, owner="ksqldb")
        elif isinstance(t, k.Drop) and t.args["kind"] in ("STREAM", "TABLE"):
            name = self.source_name
            src = state.sources.get(name)
            if src is None:
                if t.args.get("exists"):
                    return
                raise OpError(f"DROP {t.args['kind']} {name}: it does not exist")
            del state.sources[name]
            if t.args.get("delete_topic"):
                state.topics.pop(src.topic, None)
                state.subjects.pop(f"{src.topic}-value", None)
                state.subjects.pop(f"{src.topic}-key", None)
        elif isinstance(t, k.AlterSource):
            name = self.source_name
            src = state.sources.get(name)
            if src is None:
                raise OpError(f"ALTER {t.args['kind']} {name}: it does not exist")
            from kctx_cli.ksql.dialect import parse_one

            tree = parse_one(src.statement)
            tree.set("columns", list(tree.args.get("columns") or []) + [c.copy() for c in t.expressions])
            src.statement = canonical(tree)
        # TERMINATE, INSERT, SET, DEFINE...: nothing the offline state tracks

    def applied(self, cluster):
        """From ksqlDB's catalog (DESCRIBE, SHOW QUERIES): a CREATE when the source exists (a CREATE
        OR REPLACE when its stored statement declares the same), a DROP when it is gone, an ALTER
        when the columns are there, a TERMINATE when the query is not running; anything else
        False. A plain CREATE or an ALTER answers False without asking: ``execute`` sends it and
        checks only when ksqlDB says it already exists."""
        from kctx_cli.ksql import nodes as k

        t = self.tree
        if self._tried_first():
            return False  # execute() sends it and asks only if ksqlDB says it already exists
        if isinstance(t, k.CreateSource):
            live = cluster.ksql_source(self.source_name)
            if live is None:
                return False
            if t.args.get("replace"):
                return same_statement(live.get("statement"), t, cluster.ksql_columns)
            return True  # CREATE of an existing source: done (or made by someone else)
        if isinstance(t, k.Drop) and t.args["kind"] in ("STREAM", "TABLE"):
            return cluster.ksql_source(self.source_name) is None
        if isinstance(t, k.AlterSource):
            live = cluster.ksql_source(self.source_name)
            if live is None:
                return False
            names = {f["name"] for f in live.get("fields") or []}
            return all(c.this.this in names for c in t.expressions)
        if isinstance(t, k.Terminate) and t.this is not None:
            return t.this.this not in cluster.ksql_query_ids()
        return False

    def execute(self, cluster):
        """Send the statement with its SET ``properties`` (as streamsProperties) and wait until
        ksqlDB finished it. SET / UNSET / DEFINE / UNDEFINE send nothing (client-side, as
        ksql-migrations); a DROP first terminates the queries writing the source
        (KsqlClient.terminate_writers). A plain CREATE or ALTER that ksqlDB refuses with
        "already exists" returns ``"already there"`` when ``applied`` then agrees.
        KsqlStatementError / KctxError otherwise."""
        from kctx_cli.ksql import nodes as k

        t = self.tree
        if self.session:
            return  # kept client-side, as ksql-migrations does: see kctx_cli.ksql.session
        if isinstance(t, k.Drop) and t.args["kind"] in ("STREAM", "TABLE"):
            # stop the source's own query first: see KsqlClient.terminate_writers
            cluster.ksql_client.terminate_writers(self.source_name)
        if not self._tried_first():
            cluster.ksql(self.text, self.properties)
            return None
        from kctx_cli.backends.ksqldb import KsqlStatementError

        try:
            cluster.ksql(self.text, self.properties)
        except KsqlStatementError as exc:
            # a plain CREATE or an ALTER ... ADD COLUMN whose effect is there already (a
            # step resumed after a crash, or made by someone else): ksqlDB refuses it with
            # "... already exists"; the same check as applied() then says whether it is ours
            self._try_first = False
            if "already exists" in exc.reason and self.applied(cluster):
                return "already there"
            raise
        return None

    _try_first: bool = field(default=True, init=False, repr=False, compare=False)

    def _tried_first(self) -> bool:
        """A CREATE without OR REPLACE, or an ALTER: sent at once (one DESCRIBE fewer per
        statement; 12 files ran 0.1-0.3 s faster), its "already exists" answer then checked
        against the catalog as applied() would have before. A CREATE OR REPLACE, a DROP or
        a TERMINATE keep the check first (running them again is not a no-op)."""
        from kctx_cli.ksql import nodes as k

        t = self.tree
        return self._try_first and (
            (isinstance(t, k.CreateSource) and not t.args.get("replace")) or isinstance(t, k.AlterSource))


def properties(tree) -> dict[str, str]:
    """WITH (...) of a CREATE as {NAME: value text}."""
    out = {}
    for p in tree.args.get("properties") or []:
        key = p.this.this if hasattr(p.this, "this") else str(p.this)
        v = p.args["value"]
        out[str(key).upper()] = v.this if hasattr(v, "this") else str(v)
    return out


def canonical(tree) -> str:
    """The canonical text of a CREATE, without OR REPLACE / IF NOT EXISTS (how the
    offline state stores a source, so generated and hand-written statements compare)."""
    from kctx_cli.ksql.dialect import render

    t = tree.copy()
    t.set("replace", None)
    t.set("exists", None)
    return render(t) + ";"


def same_statement(live_text: str | None, tree, columns_of=None) -> bool:
    """Does ksqlDB's stored text of a source (DESCRIBE's ``statement``) declare what
    ``tree`` does? See ``kctx_cli.ksql.compare.same_source``."""
    if not live_text:
        return False
    from kctx_cli.ksql.compare import same_source
    from kctx_cli.ksql.dialect import render

    return same_source(live_text, render(tree), columns_of)


OPS: dict[str, type[Op]] = {c.name: c for c in (
    CreateTopic, DeleteTopic, AddPartitions, SetTopicConfig, RegisterSchema, DeleteSchema, DeleteSubject,
    SetCompatibility, DerivedSchema, Irreversible,
)}


def parse_op(name: str, payload: str) -> Op:
    """``create-topic`` + ``{"name": ...}`` -> the operation; OpError with the reason."""
    cls = OPS.get(name)
    if cls is None:
        raise OpError(f"unknown kctx operation '{name}' (known: {', '.join(sorted(OPS))})")
    try:
        args = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise OpError(f"kctx:{name}: invalid JSON: {exc.msg} (column {exc.colno} of the JSON)") from None
    if not isinstance(args, dict):
        raise OpError(f"kctx:{name}: expected a JSON object")
    try:
        return cls.from_args(args)
    except (TypeError, KeyError, ValueError) as exc:
        raise OpError(f"kctx:{name}: bad arguments: {exc}") from None

"""Every operation kind's reverse (issue 13, deliverable 4): ``op.reverse(before)`` undoes
``op`` in the offline state, or raises ``IrreversibleError`` with the reason.

One table, ``CASES``: for each case the state before is what its ``setup`` operations
replay to; its ``ops`` are replayed, then their reverses (each built from the state just
before it, the last first, as a migration's down part runs) and the state must be the one
before. ``test_every_op_kind_has_a_case`` walks ``Op.__subclasses__()``: a new kind without
a case fails it.

Then the down parts autogenerate writes: for the example project's migration and for
generated sequences of model edits, replaying a migration's up part and then its down part
gives back the state before it. Offline, no cluster.
"""
from __future__ import annotations

import copy
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from kctx_cli.migrations import files
from kctx_cli.migrations.state import State, replay
from kctx_cli.ops import (AddPartitions, CreateTopic, DeleteSchema, DeleteSubject, DeleteTopic, DerivedSchema,
                          Irreversible, IrreversibleError, Ksql, Op, RegisterSchema, SetCompatibility, SetTopicConfig,
                          parse_op)
from tests.helpers import REPO
from tests.test_migrations_property import Entity, Models, Project, apply_edit  # its model-edit generator

S1 = {"type": "record", "name": "A", "fields": [{"name": "id", "type": "string"}]}
S2 = {"type": "record", "name": "A", "fields": [{"name": "id", "type": "string"},
                                                {"name": "v", "type": ["null", "string"], "default": None}]}
D_SCHEMA = {"type": "record", "name": "KsqlDataSourceSchema", "fields": [{"name": "V", "type": ["null", "string"],
                                                                          "default": None}]}

TOPIC = CreateTopic("t", 3, 1, {"retention.ms": "1", "segment.ms": "9"})
A_TOPIC = CreateTopic("a", 2, 1)
STREAM_A = Ksql("CREATE STREAM A (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');")
CSAS_D = "CREATE STREAM D WITH (KAFKA_TOPIC='d', VALUE_FORMAT='AVRO') AS SELECT ID, V FROM A;"
SOURCE_A = (A_TOPIC, STREAM_A)


def _derived_schemas_are_ksqldbs(state: State) -> State:
    """The state without the schemas of derived subjects: ksqlDB registers those itself
    when the CREATE ... AS SELECT of a down part runs again (the down part records none)."""
    st = copy.deepcopy(state)
    for s in st.subjects.values():
        if s.derived:
            s.schemas, s.derived = [], False
    return st


def _same(state: State) -> State:
    return state


@dataclass
class Case:
    id: str
    ops: Op | tuple[Op, ...]  # the last one is the kind the case is about
    setup: tuple[Op, ...] = ()  # replayed onto an empty State: the state before ``ops``
    irreversible: str | None = None  # a regex the IrreversibleError's message matches
    before: bool = True  # reverse(the state before) or reverse() (nothing known)
    restores: Callable[[State], State] = _same  # what of the state the reverse gives back
    noop: bool = False  # ``ops`` change nothing the offline state tracks

    @property
    def steps(self) -> tuple[Op, ...]:
        return self.ops if isinstance(self.ops, tuple) else (self.ops,)

    @property
    def kind(self) -> type[Op]:
        return type(self.steps[-1])


CASES = [
    # -- Kafka topics ------------------------------------------------------------------
    Case("create-topic", CreateTopic("t", 3, 1, {"retention.ms": "1000"})),
    Case("delete-topic, was given", DeleteTopic("t", was={"partitions": 3, "replicas": 1,
                                                          "configs": {"retention.ms": "1", "segment.ms": "9"}}),
         setup=(TOPIC,)),
    Case("delete-topic, partitions and configs read from the state before", DeleteTopic("t"), setup=(TOPIC,)),
    Case("delete-topic, nothing known", DeleteTopic("t"), setup=(TOPIC,), before=False,
         irreversible=r"^topic t: its partition count before the delete is not known"),
    Case("delete-topic, partitions null in was (was a TypeError)",
         DeleteTopic("t", was={"partitions": None, "replicas": 1, "configs": {}}), setup=(TOPIC,),
         irreversible=r"^topic t: its partition count before the delete is not known"),
    Case("add-partitions", AddPartitions("t", 6, was=3), setup=(TOPIC,),
         irreversible=r"^topic t: partitions cannot be removed$"),
    Case("set-topic-config, was given",
         SetTopicConfig("t", set={"retention.ms": "5", "cleanup.policy": "compact"}, unset=["segment.ms"],
                        was={"retention.ms": "1", "cleanup.policy": None, "segment.ms": "9"}), setup=(TOPIC,)),
    Case("set-topic-config, previous values read from the state before",
         SetTopicConfig("t", set={"retention.ms": "5", "cleanup.policy": "compact"}, unset=["segment.ms"]),
         setup=(TOPIC,)),
    Case("set-topic-config, nothing known", SetTopicConfig("t", set={"retention.ms": "5"}), setup=(TOPIC,),
         before=False, irreversible=r"^topic t: its configs before the change are not known"),
    # -- Schema Registry ---------------------------------------------------------------
    Case("register-schema, first version", RegisterSchema("t-value", S1, first=True)),
    Case("register-schema, next version", RegisterSchema("t-value", S2),
         setup=(RegisterSchema("t-value", S1, first=True),)),
    # the registry answers a schema it holds (version 1) with that version: nothing to undo
    Case("register-schema, a reverted change (an older version's schema)", RegisterSchema("t-value", S1),
         setup=(RegisterSchema("t-value", S1, first=True), RegisterSchema("t-value", S2)), noop=True),
    Case("delete-schema", DeleteSchema("t-value", S2),
         setup=(RegisterSchema("t-value", S1, first=True), RegisterSchema("t-value", S2))),
    Case("delete-subject", DeleteSubject("t-value"), setup=(RegisterSchema("t-value", S1, first=True),),
         irreversible=r"^subject t-value is deleted$"),
    Case("set-compatibility, was given", SetCompatibility("t-value", "FULL", was="BACKWARD", had_was=True),
         setup=(RegisterSchema("t-value", S1, first=True), SetCompatibility("t-value", "BACKWARD"))),
    Case("set-compatibility, previous level read from the state before", SetCompatibility("t-value", "FULL"),
         setup=(RegisterSchema("t-value", S1, first=True), SetCompatibility("t-value", "BACKWARD"))),
    Case("set-compatibility, nothing known", SetCompatibility("t-value", "FULL"), before=False,
         setup=(RegisterSchema("t-value", S1, first=True),),
         irreversible=r"^subject t-value: its compatibility level before the change is not known"),
    # recorded after the CREATE ... AS SELECT it follows; that CREATE's reverse deletes it
    Case("derived-schema", (Ksql(CSAS_D), DerivedSchema("d-value", D_SCHEMA)), setup=SOURCE_A),
    Case("irreversible (a down part's marker)", Irreversible(reason="partitions cannot be removed"),
         irreversible=r"has no reverse \(partitions cannot be removed\)"),
    # -- ksqlDB statements --------------------------------------------------------------
    Case("ksql CREATE STREAM over a topic", STREAM_A, setup=(A_TOPIC,)),
    Case("ksql CREATE STREAM IF NOT EXISTS of one there",
         Ksql("CREATE STREAM IF NOT EXISTS A (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');"),
         setup=SOURCE_A, noop=True),
    Case("ksql CREATE TABLE AS SELECT",
         Ksql("CREATE TABLE B WITH (KAFKA_TOPIC='b', PARTITIONS=4) AS SELECT ID, COUNT(*) AS N FROM A GROUP BY ID;"),
         setup=SOURCE_A),
    Case("ksql CREATE OR REPLACE, the statement it replaces read from the state before",
         Ksql(CSAS_D.replace("CREATE", "CREATE OR REPLACE").replace(";", " WHERE V = 'x';")),
         setup=SOURCE_A + (Ksql(CSAS_D),)),
    Case("ksql CREATE OR REPLACE, nothing known",
         Ksql(CSAS_D.replace("CREATE", "CREATE OR REPLACE").replace(";", " WHERE V = 'x';")),
         setup=SOURCE_A + (Ksql(CSAS_D),), before=False,
         irreversible=r"^CREATE OR REPLACE STREAM D: the statement it replaces is not known"),
    Case("ksql DROP STREAM, its statement read from the state before", Ksql("DROP STREAM A;"), setup=SOURCE_A),
    Case("ksql DROP ... DELETE TOPIC of a derived source: statement and compatibility levels from the state before",
         Ksql("DROP STREAM D DELETE TOPIC;"),
         setup=SOURCE_A + (Ksql(CSAS_D), DerivedSchema("d-value", D_SCHEMA), SetCompatibility("d-value", "FULL"),
                           SetCompatibility("d-key", "NONE")),
         restores=_derived_schemas_are_ksqldbs),
    Case("ksql DROP, nothing known", Ksql("DROP STREAM A;"), setup=SOURCE_A, before=False,
         irreversible=r"^DROP STREAM A: its statement before the drop is not known"),
    Case("ksql DROP IF EXISTS of none", Ksql("DROP STREAM IF EXISTS NOPE;"), noop=True),
    Case("ksql ALTER ... ADD COLUMN", Ksql("ALTER STREAM A ADD COLUMN W INT;"), setup=SOURCE_A,
         irreversible=r"^A: ksqlDB cannot drop a column$"),
    Case("ksql TERMINATE", Ksql("TERMINATE CSAS_D_1;"), irreversible=r"^TERMINATE CSAS_D_1;: .*cannot be started again"),
    Case("ksql INSERT INTO ... VALUES", Ksql("INSERT INTO A (ID, V) VALUES ('k', 'v');"), setup=SOURCE_A,
         irreversible=r"records written to a topic cannot be taken back"),
    Case("ksql SET (session only)", Ksql("SET 'auto.offset.reset'='earliest';"), noop=True),
    Case("ksql CREATE TYPE", Ksql("CREATE TYPE ADDRESS AS STRUCT<STREET STRING>;"),
         irreversible=r"^CREATE TYPE ADDRESS: kctx knows no reverse of this statement$"),
]


def _op_kinds() -> set[type[Op]]:
    found, todo = set(), list(Op.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.add(cls)
            todo.extend(cls.__subclasses__())
    return found


def test_every_op_kind_has_a_case():
    kinds = _op_kinds()
    assert {CreateTopic, Ksql, DerivedSchema} <= kinds  # the walk finds them
    missing = sorted(c.__name__ for c in kinds - {c.kind for c in CASES})
    assert not missing, f"operation kinds without a case in CASES: {missing}"


def _state(ops) -> State:
    st = State()
    for op in ops:
        op.replay(st)
    return st


def _written_back(op: Op) -> Op:
    """The operation as a migration file holds it: rendered, then read back."""
    if isinstance(op, Ksql):
        return Ksql(op.render())
    name, _, payload = op.render()[len("-- kctx:"):].partition(" ")
    return parse_op(name, payload)


@pytest.mark.parametrize("case", [c for c in CASES if c.irreversible is None], ids=lambda c: c.id)
def test_reverse_gives_back_the_state_before(case):
    before = _state(case.setup)
    state = copy.deepcopy(before)
    undo: list[Op] = []
    for op in case.steps:  # each reverse from the state just before its operation
        undo[:0] = op.reverse(copy.deepcopy(state) if case.before else None)
        op.replay(state)
    assert (state == before) == case.noop, "a no-op must change nothing, anything else something"
    for op in undo:
        _written_back(op).replay(state)  # as a down part runs: read from its file
    assert case.restores(state) == case.restores(before)


@pytest.mark.parametrize("case", [c for c in CASES if c.irreversible is not None], ids=lambda c: c.id)
def test_irreversible_says_why(case):
    state = _state(case.setup)
    with pytest.raises(IrreversibleError) as exc:
        case.steps[-1].reverse(state if case.before else None)
    assert re.search(case.irreversible, str(exc.value)), str(exc.value)


def test_reverse_texts():
    """The texts autogenerate has always written for a down part."""
    st = _state(SOURCE_A + (Ksql(CSAS_D), SetCompatibility("d-value", "FULL")))
    assert [o.render() for o in Ksql("DROP STREAM D DELETE TOPIC;").reverse(st)] == [
        "CREATE STREAM D WITH (KAFKA_TOPIC='d', VALUE_FORMAT='AVRO') AS SELECT ID, V FROM A;",
        '-- kctx:set-compatibility {"level":"FULL","subject":"d-value"}']
    assert [o.render() for o in Ksql(CSAS_D).reverse(None)] == ["DROP STREAM D DELETE TOPIC;"]
    assert [o.render() for o in STREAM_A.reverse(None)] == ["DROP STREAM A;"]
    assert [o.render() for o in Ksql("CREATE OR REPLACE " + CSAS_D[len("CREATE "):]).reverse(st)] == [
        "CREATE OR REPLACE STREAM D WITH (KAFKA_TOPIC='d', VALUE_FORMAT='AVRO') AS SELECT ID, V FROM A;"]
    assert [o.render() for o in DeleteTopic("t").reverse(_state((TOPIC,)))] == [
        '-- kctx:create-topic {"configs":{"retention.ms":"1","segment.ms":"9"},"name":"t","partitions":3,"replicas":1}']
    err = pytest.raises(IrreversibleError, AddPartitions("t", 6).reverse).value
    assert err.reason("topic t (dead-letter queue of T)") == "topic t (dead-letter queue of T): partitions cannot be removed"
    assert pytest.raises(IrreversibleError, DeleteSubject("s").reverse).value.reason("x") == "subject s is deleted"


# ---------------------------------------------------------------------------
# the down parts autogenerate writes
# ---------------------------------------------------------------------------


def _comparable(state: State) -> State:
    """Without what the offline state cannot tell apart: an empty subject (a down part's
    set-compatibility to the global level of a subject it deleted) is no subject, and the
    schemas of derived subjects are ksqlDB's (``_derived_schemas_are_ksqldbs``)."""
    st = _derived_schemas_are_ksqldbs(state)
    st.subjects = {n: s for n, s in st.subjects.items() if s.schemas or s.compatibility is not None}
    return st


def _check_downs(migrations) -> int:
    """Each reversible migration's up then down part, from the state before it; the count checked."""
    checked = 0
    for m in migrations:
        if not m.reversible:
            continue
        state = replay(migrations, upto=m.version - 1)
        before = copy.deepcopy(state)
        for step in m.up + m.down:
            step.op.replay(state)
        assert _comparable(state) == _comparable(before), m.filename
        checked += 1
    return checked


def test_the_example_projects_migration_down_undoes_its_up():
    assert _check_downs(files.load_all(REPO / "migrations")) >= 1


def _generated(sequence) -> list:
    with tempfile.TemporaryDirectory(prefix="kctx-reverse-") as tmp:
        project = Project(Path(tmp))
        models = Models({"A": Entity("A")})
        for edits in [[("create_entity", 0, 0)]] + sequence:
            for edit in edits:
                apply_edit(models, edit)
            project.write(models)
            rc, made = project.makemigrations(allow_destructive=True)
            assert rc == 0, made
        return files.load_all(project.root / "migrations")


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # see test_migrations_property


@pytest.mark.parametrize("sequence", [
    [[("create_entity", 1, 2)], [("compatibility", 0, 3), ("retention", 0, 1), ("dlq", 0, 0)],
     [("retention", 0, 0), ("dlq", 0, 0), ("compatibility", 0, 0)], [("drop_entity", 1, 0)]],
    [[("derived", 0, 0), ("derived_compatibility", 0, 3)], [("add_optional_field", 0, 1)], [("recreate", 0, 1)],
     [("derived", 0, 0)]],
    [[("derived", 0, 0)], [("kind", 0, 0)], [("key_format", 0, 1)], [("drop_entity", 0, 0)]],
    [[("create_entity", 1, 5)], [("drop_entity", 1, 0)], [("create_entity", 1, 3)]],
], ids=["topics-subjects-dlq", "derived-rebuilt", "derived-kind-key", "dropped-and-declared-again"])
def test_generated_downs_undo_their_ups(sequence):
    assert _check_downs(_generated(sequence)) >= 3


@pytest.mark.xfail(strict=True, reason="known gap, left as generated: the down part of a DROP ... DELETE TOPIC "
                   "creates the derived source again but not the configs its sink topic had (set-topic-config)")
def test_a_dropped_sink_topics_configs_come_back():
    _check_downs(_generated([[("derived", 0, 0), ("derived_retention", 0, 1)], [("derived", 0, 0)]]))

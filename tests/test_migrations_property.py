"""Issue 10 item 3: ``makemigrations --check`` is stable. For any generated sequence of
model edits (add/drop a field, drop and re-create an entity, change its kind,
compatibility, partitions, configs, key format, dead-letter queue, a derived entity that
follows its source), right after ``makemigrations`` the ``--check`` run writes nothing
and exits 0, and ``validate`` finds no problem.

Offline and in-process (the library functions the CLI calls); hypothesis generates
``KCTX_PROPERTY_EXAMPLES`` sequences (default 200) of up to 6 migrations each."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings  # the `test` extra installs it
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("KCTX_PROPERTY_EXAMPLES", "200"))

# value field types the generator picks from (Python annotation text)
TYPES = ["str", "int", "Int32", "float", "bool", "datetime", "Annotated[Decimal, Precision(10, 2)]",
         "list[str]", "dict[str, int]"]
COMPAT = [None, "BACKWARD", "FORWARD", "FULL", "NONE", "BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"]
KEY_FORMATS = ["AVRO", "KAFKA", "JSON"]
RETENTION = [None, "86400000", "604800000"]


@dataclass
class Field:
    name: str
    type: str
    optional: bool


@dataclass
class Entity:
    """One source entity (a stream or table over its own topic) as the generator sees it."""

    name: str  # class name; the topic is its lower-case name
    kind: str = "Stream"
    key_format: str = "AVRO"
    compatibility: str | None = None
    partitions: int = 1
    retention: str | None = None
    dlq: bool = False
    fields: list[Field] = field(default_factory=lambda: [Field("v0", "str", False)])
    serial: int = 1  # names of new fields

    def source(self) -> str:
        meta = [f'topic = "{self.name.lower()}"', f"partitions = {self.partitions}",
                f'key_format = "{self.key_format}"']
        if self.compatibility:
            meta.append(f'compatibility = "{self.compatibility}"')
        if self.retention:
            meta.append(f'configs = {{"retention.ms": {self.retention}}}')
        if self.dlq:
            meta.append("dlq = True")
        lines = [f"class {self.name}({self.kind}):", "    id: Annotated[str, Key]"]
        lines += [f"    {f.name}: {_annotation(f)}" for f in self.fields if not f.optional]
        lines += [f"    {f.name}: {_annotation(f)} = None" for f in self.fields if f.optional]
        lines += ["", "    class Meta:"] + [f"        {m}" for m in meta]
        return "\n".join(lines) + "\n"

    def ordered_fields(self) -> list[Field]:
        """Fields in the order the class declares them (required first, as Python wants)."""
        return [f for f in self.fields if not f.optional] + [f for f in self.fields if f.optional]


@dataclass
class Derived:
    """A derived entity projecting every column of its source (CREATE ... AS SELECT)."""

    reads: str
    compatibility: str | None = None
    retention: str | None = None

    def source(self, of: Entity) -> str:
        cols = ", ".join([f"{of.name}.id"] + [f"{of.name}.{f.name}" for f in of.ordered_fields()])
        meta = ['name = "D"', 'topic = "d"']
        if of.key_format != "AVRO":
            meta.append(f'key_format = "{of.key_format}"')
        if self.compatibility:
            meta.append(f'compatibility = "{self.compatibility}"')
        if self.retention:
            meta.append(f'configs = {{"retention.ms": {self.retention}}}')
        lines = [f"class D({of.kind}):", "    id: Annotated[str, Key]"]
        lines += [f"    {f.name}: {_annotation(f)}" for f in of.fields if not f.optional]
        lines += [f"    {f.name}: {_annotation(f)} = None" for f in of.fields if f.optional]
        lines += ["", "    class Meta:"] + [f"        {m}" for m in meta]
        lines += ["", "        def query():", f"            return select({cols}).from_({of.name})"]
        return "\n".join(lines) + "\n"


def _annotation(f: Field) -> str:
    return f"Optional[{f.type}]" if f.optional else f.type


HEADER = """\
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

from kctx_cli.model import Int32, Key, Precision, Stream, Table
from kctx_cli.query import select
"""


@dataclass
class Models:
    entities: dict[str, Entity] = field(default_factory=dict)
    derived: Derived | None = None

    def source(self) -> str:
        parts = [HEADER]
        parts += [e.source() for e in self.entities.values()]
        if self.derived is not None and self.derived.reads in self.entities:
            parts.append(self.derived.source(self.entities[self.derived.reads]))
        return "\n\n".join(parts)


# ---------------------------------------------------------------------------
# edits: (what, which entity, a parameter) applied to the models as they are
# ---------------------------------------------------------------------------

EDITS = ["add_field", "add_optional_field", "drop_field", "drop_entity", "create_entity", "recreate",
         "kind", "compatibility", "partitions", "retention", "key_format", "dlq",
         "derived", "derived_compatibility", "derived_retention"]


def apply_edit(models: Models, edit: tuple) -> None:
    what, which, n = edit
    name = ["A", "B"][which]
    e = models.entities.get(name)
    if what == "create_entity" or (e is None and what not in ("derived", "derived_compatibility",
                                                                 "derived_retention")):
        if e is None:
            models.entities[name] = Entity(name, kind=["Stream", "Table"][n % 2],
                                           key_format=KEY_FORMATS[n % 3], compatibility=COMPAT[n % len(COMPAT)],
                                           partitions=1 + n % 3, dlq=n % 4 == 0)
        return
    if what == "add_field" or what == "add_optional_field":
        e.fields.append(Field(f"v{e.serial}", TYPES[n % len(TYPES)], what == "add_optional_field"))
        e.serial += 1
    elif what == "drop_field":
        if len(e.fields) > 1:
            del e.fields[n % len(e.fields)]
    elif what == "drop_entity":
        del models.entities[name]
    elif what == "recreate":  # dropped and declared again (another kind or key format): one migration
        models.entities[name] = replace(e, kind=["Stream", "Table"][n % 2], key_format=KEY_FORMATS[(n // 2) % 3],
                                        fields=[Field(f"v{e.serial}", "str", False)] + e.fields[:1],
                                        serial=e.serial + 1)
    elif what == "kind":
        e.kind = "Table" if e.kind == "Stream" else "Stream"
    elif what == "compatibility":
        e.compatibility = COMPAT[n % len(COMPAT)]
    elif what == "partitions":
        e.partitions += 1 + n % 3  # partitions only grow (a decrease is refused: another test)
    elif what == "retention":
        e.retention = RETENTION[n % len(RETENTION)]
    elif what == "key_format":
        e.key_format = KEY_FORMATS[n % 3]
    elif what == "dlq":
        e.dlq = not e.dlq
    elif what == "derived":
        models.derived = None if models.derived is not None else Derived(name)
    elif what == "derived_compatibility" and models.derived is not None:
        models.derived.compatibility = COMPAT[n % len(COMPAT)]
    elif what == "derived_retention" and models.derived is not None:
        models.derived.retention = RETENTION[n % len(RETENTION)]


edit_st = st.tuples(st.sampled_from(EDITS), st.integers(0, 1), st.integers(0, 20))
# a sequence: each inner list is the edits made before one makemigrations
sequence_st = st.lists(st.lists(edit_st, min_size=1, max_size=3), min_size=1, max_size=6)


# ---------------------------------------------------------------------------
# the library functions the CLI calls
# ---------------------------------------------------------------------------


class Project:
    def __init__(self, root: Path):
        self.root = root
        (root / "models").mkdir(parents=True)
        (root / "migrations").mkdir()
        (root / "models" / "__init__.py").write_text("")
        (root / "kctx.toml").write_text(textwrap.dedent("""\
            [project]
            models = "models"
            migrations = "migrations"
            """))

    def write(self, models: Models) -> None:
        (self.root / "models" / "m.py").write_text(models.source())

    def config(self):
        from kctx_cli.config import load_config

        return load_config(self.root, environ={})

    def makemigrations(self, **kw) -> tuple[int, dict]:
        """(exit code, the JSON report); a refusal is exit 1 with the report's errors."""
        from kctx_cli.commands.migrate import makemigrations
        from kctx_cli.errors import KctxError

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                rc = makemigrations(self.config(), output="json", **kw)
            except KctxError:
                if not buf.getvalue():
                    raise
                rc = 1
        return rc, json.loads(buf.getvalue())

    def problems(self) -> list[str]:
        from kctx_cli.commands.validate import run_checks
        from kctx_cli.model.discovery import load_project

        return [str(p) for p in run_checks(load_project(self.config(), strict=False))]

    def migration_texts(self) -> str:
        return "\n".join(f"==== {p.name}\n{p.read_text()}" for p in sorted((self.root / "migrations").iterdir()))


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch):
    # the models module is rewritten many times a second: a cached .pyc of the same size
    # and mtime would be imported instead of the new text
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def run_sequence(sequence: list[list[tuple]]) -> None:
    from kctx_cli.model.discovery import load_project

    with tempfile.TemporaryDirectory(prefix="kctx-prop-") as tmp:
        project = Project(Path(tmp))
        models = Models({"A": Entity("A")})
        steps = [[("create_entity", 0, 0)]] + sequence
        for i, edits in enumerate(steps):
            before = copy.deepcopy(models)
            for edit in edits:
                apply_edit(models, edit)
            project.write(models)
            model_issues = [str(x) for x in load_project(project.config(), strict=False).entities for x in x.issues]
            assert not model_issues, f"the generator wrote invalid models:\n{models.source()}\n{model_issues}"
            written = len(list((project.root / "migrations").iterdir()))
            rc, made = project.makemigrations(allow_destructive=True)
            where = f"after step {i} ({edits}):\n{models.source()}\n{project.migration_texts()}"
            if rc == 1:
                # a topic dropped and declared again in one step with fewer partitions: the
                # migrations cannot tell it from a shrink, which Kafka refuses
                assert made["errors"] and all("partitions can only grow" in e for e in made["errors"]), where
                assert len(list((project.root / "migrations").iterdir())) == written, "a refusal wrote a file"
                models = before  # the user takes the edit back
                project.write(models)
            assert rc in (0, 1), where
            rc, again = project.makemigrations(check=True)
            assert (rc, again.get("operations")) == (0, None), f"--check wants {again} {where}"
            problems = project.problems()
            assert problems == [], f"validate: {problems} {where}"


@settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("KCTX_PROPERTY_RANDOM") != "1",
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(sequence_st)
def test_check_is_clean_right_after_makemigrations(sequence):
    run_sequence(sequence)


@pytest.mark.parametrize("sequence", [
    # the derived entity is rebuilt with its source: its subjects' compatibility must survive
    [[("derived", 0, 0), ("derived_compatibility", 0, 3)], [("recreate", 0, 1)]],
    # dropped, then declared again with another compatibility and key format
    [[("compatibility", 0, 3), ("key_format", 0, 0)], [("drop_entity", 0, 0)], [("create_entity", 0, 5)]],
    [[("derived", 0, 0)], [("key_format", 0, 1)], [("key_format", 0, 0)]],
    [[("derived", 0, 0)], [("kind", 0, 0)], [("add_field", 0, 2)], [("drop_field", 0, 0)]],
    # a configs change on the sink topic of a derived entity re-created in the same migration
    [[("add_field", 0, 0), ("derived", 0, 0)], [("drop_field", 0, 0), ("derived_retention", 0, 1)]],
])
def test_known_sequences(sequence):
    run_sequence(sequence)

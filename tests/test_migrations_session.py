"""Session statements in migration files, offline (issue 10 item 1; field cases F09, F10):
SET/UNSET and DEFINE/UNDEFINE apply to the statements after them in the same file only
(ksqldb-docs migrations-tool.md), ``${name}`` is substituted where ksqlDB substitutes it,
``--define`` acts as DEFINE lines at the top of every file, and every reader of the files
(validate, makemigrations, show plan, migrate --dry-run's loader, ksql check) sees the
substituted statements. The stack half (streamsProperties on the wire, EXPLAIN's
overridden properties, rows) is in test_migrations_session_stack.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kctx_cli.ksql import nodes as k
from kctx_cli.ksql.session import parse_defines, resolve
from kctx_cli.ksql.dialect import parse_statements
from kctx_cli.errors import KctxError
from kctx_cli.migrations import files, state
from tests.helpers import SHARED, make_project, run_kctx

EVENTS_MODEL = '''
from datetime import datetime
from typing import Annotated, Optional

from kctx_cli.model import Key, Stream


class Event(Stream):
    event_id: Annotated[str, Key]
    kind: str
    occurred_at: datetime
    note: Optional[str] = None

    class Meta:
        name = "EVENTS"
        topic = "events"
        partitions = 1
'''


def ksql_steps(migration):
    return [s for s in migration.up if s.op.name == "ksql"]


def write(root: Path, name: str, text: str) -> Path:
    path = root / "migrations" / name
    path.write_text(text)
    return path


# -- the session of one file ---------------------------------------------------------------

def test_set_applies_to_the_statements_after_it_in_its_file_only(tmp_path):
    (tmp_path / "migrations").mkdir()
    write(tmp_path, "V000001__a.sql",
          "CREATE STREAM A (ID STRING KEY, X INT) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON', PARTITIONS=1);\n"
          "SET 'auto.offset.reset' = 'earliest';\n"
          "SET 'ksql.output.topic.name.prefix'='team_a_';\n"
          "CREATE STREAM B AS SELECT * FROM A EMIT CHANGES;\n"
          "UNSET 'ksql.output.topic.name.prefix';\n"
          "CREATE STREAM C AS SELECT * FROM A EMIT CHANGES;\n")
    write(tmp_path, "V000002__b.sql", "CREATE STREAM D AS SELECT * FROM A EMIT CHANGES;\n")
    m1, m2 = files.load_all(tmp_path / "migrations")
    sent = {s.op.source_name: s.op.properties for s in ksql_steps(m1) + ksql_steps(m2)
            if isinstance(s.op.tree, k.CreateSource)}
    assert sent == {
        "A": None,
        "B": {"auto.offset.reset": "earliest", "ksql.output.topic.name.prefix": "team_a_"},
        "C": {"auto.offset.reset": "earliest"},
        "D": None,  # nothing carries over to the next file
    }
    # SET/UNSET are steps of their own that send nothing (ksql-migrations keeps them client-side)
    assert [s.op.session for s in ksql_steps(m1)] == [False, True, True, False, True, False]
    assert all(s.op.properties is None for s in ksql_steps(m1) if s.op.session)
    # the offline state names the prefixed sink topic as ksqlDB does
    st = state.replay([m1, m2])
    assert (st.sources["B"].topic, st.sources["C"].topic, st.sources["D"].topic) == ("team_a_B", "C", "D")


def test_define_substitutes_names_literals_and_strings_in_its_file_only(tmp_path):
    (tmp_path / "migrations").mkdir()
    write(tmp_path, "V000001__a.sql",
          "DEFINE name = 'Notes_V2';\n"
          "DEFINE topic = 'notes_v2';\n"
          "DEFINE parts = '2';\n"
          "DEFINE who = 'O''Brien';\n"
          "DEFINE where_ = 'at ${topic}';\n"
          "CREATE STREAM ${name} (ID STRING KEY, BODY STRING)\n"
          "  WITH (KAFKA_TOPIC='${topic}', PARTITIONS=${parts}, VALUE_FORMAT='JSON');\n"
          "INSERT INTO ${NAME} (ID, BODY) VALUES ('n1', 'by ${who} ${where_} ${undefined} $${topic}');\n"
          "UNDEFINE name;\n"
          "CREATE STREAM `${name}` (ID STRING KEY) WITH (KAFKA_TOPIC='x', VALUE_FORMAT='JSON', PARTITIONS=1);\n")
    write(tmp_path, "V000002__b.sql", "-- a comment\nDROP STREAM ${name};\n")
    with pytest.raises(KctxError) as info:
        files.load_all(tmp_path / "migrations")
    # the variable of V000001 is not defined in V000002
    assert re.fullmatch(r"\S*V000002__b\.sql:2: KSQL syntax error: variable 'name' is not defined .*", str(info.value))

    m1 = files.read(tmp_path / "migrations" / "V000001__a.sql")
    create, insert, quoted = [s.op for s in ksql_steps(m1) if not s.op.session]
    assert create.source_name == "NOTES_V2"  # an unquoted name: upper-cased after substitution
    assert "KAFKA_TOPIC='notes_v2', PARTITIONS=2" in create.text
    # in a string: quotes doubled, an undefined reference kept, $$ escapes
    values = [v.this for v in insert.tree.expressions]
    assert values == ["n1", "by O'Brien at notes_v2 ${undefined} ${topic}"]
    assert insert.tree.this.this == "NOTES_V2"  # variables are case-insensitive
    # a back-quoted name is never substituted
    assert quoted.source_name == "${name}"


def test_define_option_is_a_define_at_the_top_of_every_file(tmp_path):
    (tmp_path / "migrations").mkdir()
    write(tmp_path, "V000001__a.sql",
          "CREATE STREAM ${s} (ID STRING KEY) WITH (KAFKA_TOPIC='${s}_t', VALUE_FORMAT='JSON', PARTITIONS=1);\n"
          "UNDEFINE s;\n")
    write(tmp_path, "V000002__b.sql",
          "DEFINE s = 'OTHER';\n"  # a file's DEFINE overrides --define for the rest of that file
          "CREATE STREAM ${s} (ID STRING KEY) WITH (KAFKA_TOPIC='${S}_t', VALUE_FORMAT='JSON', PARTITIONS=1);\n")
    write(tmp_path, "V000003__c.sql",
          "CREATE STREAM THIRD (ID STRING KEY) WITH (KAFKA_TOPIC='${s}_3', VALUE_FORMAT='JSON', PARTITIONS=1);\n")
    defines = parse_defines(["s=FIRST"])
    migrations = files.load_all(tmp_path / "migrations", defines)
    names = [s.op.source_name for m in migrations for s in ksql_steps(m) if isinstance(s.op.tree, k.CreateSource)]
    # UNDEFINE in V000001 and DEFINE in V000002 do not reach V000003: it starts from --define again
    assert names == ["FIRST", "OTHER", "THIRD"]
    assert sorted(state.replay(migrations).topics) == ["FIRST_3", "FIRST_t", "OTHER_t"]


@pytest.mark.parametrize("items,error", [
    (["x"], "--define x: expected NAME=VALUE"),
    (["1x=2"], "--define 1x=2: '1x' is not a variable name"),
    (["a-b=2"], "--define a-b=2: 'a-b' is not a variable name"),
])
def test_bad_define_options(items, error):
    with pytest.raises(KctxError, match=re.escape(error)):
        parse_defines(items)


def test_define_option_values_are_taken_as_written():
    assert parse_defines(["a=x=y", "b=", "A=z"]) == {"b": "", "A": "z"}


def test_substitution_errors_are_at_the_file_line(tmp_path):
    """A substituted value that is no valid name, and an undefined reference, name the line."""
    stmts = parse_statements("DEFINE s = 'my-stream';\nSHOW STREAMS;\n\nCREATE STREAM ${s} (ID INT KEY)\n"
                             "  WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\nSELECT * FROM\n  ${nope};\n")
    errors = [(r.error.line, r.error.reason) for r in resolve(stmts) if r.error]
    assert [line for line, _ in errors] == [4, 7]
    assert "after substituting its variables" in errors[0][1]
    assert errors[1][1].startswith("variable 'nope' is not defined")


# -- the commands ----------------------------------------------------------------------------

@pytest.fixture
def events_project(tmp_path):
    root = make_project(tmp_path / "p", {"events.py": EVENTS_MODEL})
    r = run_kctx("makemigrations", cwd=root)
    assert r.returncode == 0, r.stderr
    return root


def _with_variables(root: Path, header: str) -> Path:
    """V000001 rewritten to spell its CREATE with variables (same meaning once substituted)."""
    path = root / "migrations" / "V000001__initial.sql"
    text = path.read_text()
    create = next(ln for ln in text.splitlines() if ln.startswith("CREATE STREAM EVENTS"))
    spelled = create.replace("CREATE STREAM EVENTS", "CREATE STREAM ${stream}").replace(
        "KAFKA_TOPIC='events'", "KAFKA_TOPIC='${topic}'")
    path.write_text(text.replace("-- kctx:up\n", "-- kctx:up\n" + header).replace(create, spelled))
    return path


def test_validate_and_makemigrations_see_the_substituted_statements(events_project):
    _with_variables(events_project, "DEFINE stream = 'EVENTS';\nDEFINE topic = 'events';\n")
    for args in (["validate"], ["makemigrations", "--check"], ["ksql", "check", "migrations/V000001__initial.sql"]):
        r = run_kctx(*args, cwd=events_project)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    r = run_kctx("show", "plan", cwd=events_project)
    assert r.returncode == 0 and "no changes" in r.stdout


def test_validate_and_makemigrations_take_define(events_project):
    _with_variables(events_project, "")
    r = run_kctx("validate", cwd=events_project)
    assert r.returncode == 1
    assert re.search(r"migrations/V000001__initial\.sql:\d+: KSQL syntax error: variable 'stream' is not defined", r.stdout)
    assert "Traceback" not in r.stdout + r.stderr
    defines = ["--define", "stream=EVENTS", "-d", "topic=events"]
    for args in (["validate"], ["makemigrations", "--check"], ["show", "plan"]):
        r = run_kctx(*args, *defines, cwd=events_project)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    # another value makes another stream: the models then differ from the migrations
    r = run_kctx("makemigrations", "--check", "-d", "stream=EVENTS_V2", "-d", "topic=events", cwd=events_project)
    assert r.returncode != 0 and "EVENTS_V2" in r.stdout + r.stderr


def test_migrate_refuses_a_file_with_an_undefined_variable_before_any_server(events_project):
    """The files are read (and substituted) before kctx reaches a server: no cluster here."""
    _with_variables(events_project, "")
    r = run_kctx("migrate", "--dry-run", cwd=events_project,
                 env={"KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:1", "KCTX_KSQLDB_URL": "http://127.0.0.1:1"})
    assert r.returncode == 1
    assert "variable 'stream' is not defined" in r.stderr and "Traceback" not in r.stderr


def test_migration_file_without_final_semicolon_is_refused_at_its_line(events_project):
    write(events_project, "V000002__hand.sql",
          "-- hand-written\nCREATE STREAM MORE AS SELECT * FROM EVENTS\n  EMIT CHANGES\n")
    r = run_kctx("validate", cwd=events_project)
    assert r.returncode == 1
    assert "migrations/V000002__hand.sql:3: KSQL syntax error: missing ';'" in r.stdout
    r = run_kctx("migrate", cwd=events_project,
                 env={"KCTX_BOOTSTRAP_SERVERS": "127.0.0.1:1", "KCTX_KSQLDB_URL": "http://127.0.0.1:1"})
    assert r.returncode == 1 and "V000002__hand.sql:3" in r.stderr and "missing ';'" in r.stderr


def test_field_case_f09_validate_names_the_substituted_stream(events_project):
    """F09's file (DEFINE streamName/topic): validate speaks of NOTES_V2, never of streamName."""
    f09 = next((SHARED / "field-cases").glob("F09-*")) / "V000002__notes.sql"
    (events_project / "migrations" / f09.name).write_bytes(f09.read_bytes())
    m = files.read(events_project / "migrations" / f09.name)
    creates = [s.op for s in m.up if s.op.name == "ksql" and isinstance(s.op.tree, k.CreateSource)]
    assert [c.source_name for c in creates] == ["NOTES_V2"]
    inserts = [s.op.tree for s in m.up if s.op.name == "ksql" and isinstance(s.op.tree, k.InsertValues)]
    assert [[v.this for v in t.expressions] for t in inserts] == [["n1", "first; second"], ["n2", "it's notes_v2"]]
    r = run_kctx("validate", cwd=events_project)
    out = r.stdout + r.stderr
    assert "NOTES_V2" in out and "streamName" not in out and "Traceback" not in out


def test_field_case_f10_set_properties_reach_the_csas(events_project):
    """F10's file: the CSAS carries both SETs; the UNSET after it changes nothing before it."""
    f10 = next((SHARED / "field-cases").glob("F10-*")) / "V000002__set_props.sql"
    (events_project / "migrations" / f10.name).write_bytes(f10.read_bytes())
    m = files.read(events_project / "migrations" / f10.name)
    csas = next(s.op for s in m.up if s.op.name == "ksql" and isinstance(s.op.tree, k.CreateSource))
    assert csas.properties == {"auto.offset.reset": "earliest", "ksql.output.topic.name.prefix": "team_a_"}
    assert state.replay([*files.load_all(events_project / "migrations")]).sources["BIG_EVENTS"].topic == \
        "team_a_BIG_EVENTS"


def test_ksql_check_substitutes_known_variables_and_keeps_unknown_ones(tmp_path):
    """`kctx ksql check` checks each statement as it runs: variables the file DEFINEs (or
    --define gives) are substituted — a value that makes the statement invalid is an error
    at its line — and a variable it does not know stays a variable (F06: the file gets it
    when it runs), as the grammar allows one as a name or a literal."""
    path = tmp_path / "v.sql"
    path.write_text("DEFINE s = 'my-stream';\n"
                    "CREATE STREAM ${s} (ID INT KEY) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');\n"
                    "CREATE STREAM ${other} (ID INT KEY) WITH (KAFKA_TOPIC='${topic}', PARTITIONS=${n});\n")
    r = run_kctx("ksql", "check", "--syntax-only", str(path), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [f"{path}:2:1: after substituting its variables: expected ';' or the end of "
                                     "the statement, found '-' (in: CREATE STREAM my-stream (ID INT KEY) WITH "
                                     "(KAFKA_TOPIC='t', VALUE_FORMAT='JSON'))"]
    r = run_kctx("ksql", "check", "--syntax-only", "-d", "s=MY_STREAM", str(path), cwd=tmp_path)
    assert r.returncode == 1  # the file's DEFINE replaces the --define value, as in ksql-migrations
    path.write_text(path.read_text().replace("DEFINE s = 'my-stream';\n", ""))
    r = run_kctx("ksql", "check", "--syntax-only", "-d", "s=MY_STREAM", str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stdout

"""Windowed *source* entities on the real ksqlDB (issue 15): a model over a topic whose keys
are windowed (``Meta.window_type`` / ``window_size`` → WINDOW_TYPE / WINDOW_SIZE) is created
by ``kctx migrate`` as ksqlDB reads it, a stream consuming a windowed stream may select
WINDOWSTART, ``kctx plan`` sees no drift afterwards; a persistent query over a windowed
table is refused offline with ksqlDB's message."""
from __future__ import annotations

import textwrap

from tests.helpers import make_project, run_kctx

MODELS = '''
from typing import Annotated
from kctx_cli.model import Key, Stream, Table
from kctx_cli.query import select, window_end, window_start


class Clicks(Stream):
    user_id: Annotated[str, Key]
    clicks: int

    class Meta:
        topic = "{p}_clicks"
        name = "{P}_CLICKS"
        window_type = "tumbling"
        window_size = "1 hour"


class Sessions(Table):
    user_id: Annotated[str, Key]
    pages: int

    class Meta:
        topic = "{p}_sessions"
        name = "{P}_SESSIONS"
        window_type = "session"


class BusyHours(Stream):
    user_id: Annotated[str, Key]
    clicks: int
    hour_start: int
    hour_end: int

    class Meta:
        topic = "{p}_busy_hours"
        name = "{P}_BUSY_HOURS"

        def query():
            return (select(Clicks.user_id, Clicks.clicks, window_start.label("hour_start"),
                           window_end.label("hour_end")).from_(Clicks).where(Clicks.clicks > 10))
'''


def test_windowed_source_entities_on_ksqldb(stack, tmp_path, unique_name):
    from kctx_cli.backends.ksqldb import KsqlClient

    p = unique_name
    root = make_project(tmp_path / "proj", {"w.py": MODELS.replace("{p}", p).replace("{P}", p.upper())},
                        toml=textwrap.dedent("""\
                            [project]
                            models = "models"
                            migrations = "migrations"
                            default_partitions = 1
                            """))
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    for cmd in (("makemigrations",), ("validate",), ("migrate",)):
        r = run_kctx(*cmd, cwd=root, env=env, timeout=300)
        assert r.returncode == 0, (cmd, r.stdout + r.stderr)
    r = run_kctx("plan", "--detailed-exitcode", cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr  # ksqlDB's stored WINDOW_TYPE/SIZE read as the models'

    client = KsqlClient(stack.ksqldb_url, {})
    described = {}
    for name in ("CLICKS", "SESSIONS", "BUSY_HOURS"):
        desc = next(e["sourceDescription"] for e in client.request(f"DESCRIBE {p.upper()}_{name};")
                    if e.get("@type") == "sourceDescription")
        described[name] = desc
    assert described["CLICKS"]["windowType"] == "TUMBLING"
    assert described["CLICKS"]["type"] == "STREAM" and described["SESSIONS"]["type"] == "TABLE"
    assert described["SESSIONS"]["windowType"] == "SESSION"
    cols = {f["name"]: f["schema"]["type"] for f in described["BUSY_HOURS"]["fields"]}
    assert cols["HOUR_START"] == "BIGINT" and cols["HOUR_END"] == "BIGINT", cols

    # a persistent query over the windowed table: validate refuses it with ksqlDB's words
    (root / "models" / "more.py").write_text(textwrap.dedent("""\
        from typing import Annotated
        from kctx_cli.model import Key, Table
        from kctx_cli.query import select
        from models.w import Sessions


        class LongSessions(Table):
            user_id: Annotated[str, Key]
            pages: int

            class Meta:
                def query():
                    return select(Sessions.user_id, Sessions.pages).from_(Sessions).where(Sessions.pages > 5)
        """))
    r = run_kctx("validate", cwd=root, env=env)
    assert r.returncode == 1 and "does not support persistent queries on windowed tables" in r.stdout, r.stdout

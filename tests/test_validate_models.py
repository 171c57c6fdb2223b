"""`kctx validate` on broken models: each case asserts the exact line (file:line:
message) and the exit code. The line a problem points at is marked `# <-` in the
model source, so the expected location is computed, not typed by hand."""
from __future__ import annotations

import json

import pytest

from kctx_cli.commands.validate import run_checks
from tests.helpers import REPO, make_project, run_kctx

HEAD = """\
from datetime import datetime, date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Literal, Optional, Union
from kctx_cli.model import Char, Entity, Header, Int32, Key, Precision, Stream, Struct, Table
class Hdr(Struct):
    key: str
    value: bytes
"""


def marked_line(src: str) -> int:
    for i, line in enumerate((HEAD + src).splitlines(), start=1):
        if "# <-" in line:
            return i
    raise AssertionError("no '# <-' marker in case source")


CASES = {
    "uppercase-topic": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "Orders"  # <-
""", "Order: topic name 'Orders' must be lowercase"),
    "long-topic": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "o" * 250  # <-
""", "Order: topic name 'oooooooooooooooooooo…' is 250 characters; Kafka allows at most 249"),
    "bad-topic-chars": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "orders/eu"  # <-
""", "Order: topic name 'orders/eu' may only contain a-z, 0-9, '.', '_' and '-' and must start with a letter or digit"),
    "reserved-field": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    rowtime: int  # <-
""", "Order.rowtime: 'ROWTIME' is a reserved column name (a system column): ksqlDB refuses it even quoted; "
     "rename the field"),
    "reserved-source-name": ("""
class Window(Stream):  # <-
    window_id: Annotated[str, Key]
""", "Window: ksqlDB name 'WINDOW' is a reserved word in ksqlDB; set Meta.name to another name"),
    "two-entities-one-topic": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "orders"
class OrderCopy(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "orders"  # <-
""", "OrderCopy: topic 'orders' is already used by Order: one entity per topic"),
    "decimal-without-precision": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    amount: Decimal  # <-
""", "Order.amount: Decimal needs a precision and scale: use Annotated[Decimal, Precision(18, 4)]"),
    "bad-precision": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    amount: Annotated[Decimal, Precision(4, 6)]  # <-
""", "Order.amount: Precision(4, 6) is invalid: precision must be ≥ 1 and 0 ≤ scale ≤ precision"),
    "precision-on-int": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    qty: Annotated[int, Precision(4, 2)]  # <-
""", "Order.qty: Precision applies to Decimal only, not int"),
    "char": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    grade: Char  # <-
""", "Order.grade: type Char is not supported by ksqlDB/Avro; ksqlDB has no CHAR type: use str"),
    "complex": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    z: complex  # <-
""", "Order.z: type complex is not supported by ksqlDB/Avro; use two float fields or a STRUCT"),
    "set": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    tags: set[str]  # <-
""", "Order.tags: type set[str] is not supported by ksqlDB/Avro; use list[T] for a sequence"),
    "enum": ("""
class Status(Enum):
    NEW = "new"
class Order(Stream):
    order_id: Annotated[str, Key]
    status: Status  # <-
""", "Order.status: enum Status is not supported: ksqlDB cannot write Avro enums; declare the field as str and validate values in the producer"),
    "literal": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    status: Literal["new", "paid"]  # <-
""", "Order.status: Literal['new', 'paid'] is enum-like and not supported: ksqlDB cannot write Avro enums; declare it as str"),
    "general-union": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    ref: Union[int, str]  # <-
""", "Order.ref: union type Union[int, str] is not supported: ksqlDB cannot write Avro unions other than [\"null\", T]; use one type (Optional[T] for nullable) or a STRUCT with one field per variant"),
    "map-int-keys": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    counts: dict[int, str]  # <-
""", "Order.counts: map keys must be str (ksqlDB MAP keys are STRING), got dict[int, ...]"),
    "bare-list": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    items: list  # <-
""", "Order.items: list needs an element type: use list[T]"),
    "table-without-key": ("""
class Customer(Table):  # <-
    name: str
""", "Customer: a table needs a PRIMARY KEY: mark at least one field Annotated[T, Key]"),
    "nullable-table-key": ("""
class Customer(Table):
    customer_id: Annotated[Optional[str], Key]  # <-
""", "Customer.customer_id: a table's PRIMARY KEY column cannot be Optional (ksqlDB ignores records with a null key)"),
    "unknown-option": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        partitons = 3  # <-
""", "Order: unknown Meta option 'partitons' (did you mean 'partitions'?)"),
    "bad-partitions": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        partitions = 0  # <-
""", "Order: partitions must be an integer from 1 to 10000, got 0"),
    "unknown-topic-config": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        configs = {"retention.msec": 1000}  # <-
""", "Order: unknown topic config 'retention.msec' (did you mean 'retention.ms'?)"),
    "table-not-compacted": ("""
class Customer(Table):
    customer_id: Annotated[str, Key]
    class Meta:
        configs = {"cleanup.policy": "delete"}  # <-
""", "Customer: a table's topic must be compacted, but cleanup.policy is 'delete'"),
    "dlq-clashes-with-topic": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        topic = "orders"
        dlq = "payments"  # <-
class Payment(Stream):
    payment_id: Annotated[str, Key]
    class Meta:
        topic = "payments"
""", "Order: DLQ topic 'payments' is the topic of entity Payment"),
    "dlq-shared": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        dlq = "errors"
class Payment(Stream):
    payment_id: Annotated[str, Key]
    class Meta:
        dlq = "errors"  # <-
""", "Payment: DLQ topic 'errors' is also the DLQ of Order"),
    "case-clash": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    Order_Id: str  # <-
""", "Order.Order_Id: column name ORDER_ID clashes with field 'order_id' (ksqlDB names are case-insensitive)"),
    "no-kind": ("""
class Order(Entity):  # <-
    order_id: Annotated[str, Key]
""", "Order: kind is not declared: subclass Stream or Table (or set Meta.kind); only derived entities infer it"),
    "timestamp-missing-field": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        timestamp = "created"  # <-
""", "Order: Meta.timestamp names no field: 'created'"),
    "kafka-key-format-composite": ("""
class Line(Table):
    order_id: Annotated[str, Key]
    line_no: Annotated[int, Key]
    class Meta:
        key_format = "KAFKA"  # <-
""", "Line: KEY_FORMAT KAFKA supports one key column, this entity has 2: use AVRO or JSON"),
    "value-format-json": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    class Meta:
        value_format = "JSON"  # <-
""", "Order: value_format 'JSON' is not supported: kctx manages Avro values (AVRO)"),
    "headers-twice": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    trace: Annotated[bytes, Header("trace")]
    all_headers: Annotated[list[Hdr], Header()]  # <-
""", "Order.all_headers: the entity already has a HEADERS column (one HEADERS column, or HEADER('k') columns with distinct keys)"),
    "header-key-twice": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    trace: Annotated[bytes, Header("trace")]
    trace2: Annotated[bytes, Header("trace")]  # <-
""", "Order.trace2: the entity already has a HEADER('trace') column (one HEADERS column, or HEADER('k') columns with distinct keys)"),
    "header-wrong-type": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    trace: Annotated[str, Header("trace")]  # <-
""", "Order.trace: a header column must be BYTES"),
    "no-fields": ("""
class Order(Stream):  # <-
    pass
""", "Order: declares no fields"),
    "import-error": ("""
class Order(Stream):
    order_id: Annotated[str, Key]
    amount: Annotated[Decimal, Precison(18, 2)]  # <-
""", "cannot import model module: NameError: name 'Precison' is not defined"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_model(tmp_path, case):
    src, message = CASES[case]
    root = make_project(tmp_path / case, {"m.py": HEAD + src})
    res = run_kctx("validate", cwd=root)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"models/m.py:{marked_line(src)}: {message}" in res.stdout.splitlines(), res.stdout
    assert "Traceback" not in res.stdout + res.stderr


def test_syntax_error_in_model(tmp_path):
    root = make_project(tmp_path, {"m.py": "class Order(:\n    pass\n"})
    res = run_kctx("validate", cwd=root)
    assert res.returncode == 1
    assert res.stdout.splitlines()[0] == "models/m.py:1: cannot import model module: SyntaxError: invalid syntax"


def test_every_problem_is_listed(tmp_path):
    src = """
class Order(Stream):
    order_id: Annotated[str, Key]
    amount: Decimal  # <-
    windowstart: int
    class Meta:
        topic = "Orders"
        partitons = 2
"""
    root = make_project(tmp_path, {"m.py": HEAD + src})
    res = run_kctx("validate", "--output", "json", cwd=root)
    assert res.returncode == 1
    data = json.loads(res.stdout)
    assert data["ok"] is False
    codes = sorted(p["code"] for p in data["problems"])
    assert codes == ["bad-topic", "reserved-word", "unknown-option", "unsupported-type"]
    assert {p["file"] for p in data["problems"]} == {"models/m.py"}
    assert all(p["line"] > 5 for p in data["problems"])


def test_missing_models_package(tmp_path):
    (tmp_path / "kctx.toml").write_text('[project]\nmodels = "entities"\n')
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.strip() == f"error: models package 'entities' not found at {tmp_path.resolve()}/entities (set [project].models in kctx.toml)"


def test_bad_toml(tmp_path):
    make_project(tmp_path, {}, toml="[project\nmodels = 1\n")
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: kctx.toml: invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)"


def test_bad_toml_key(tmp_path):
    make_project(tmp_path, {}, toml="[project]\nmodel = 'models'\n")
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == ("error: kctx.toml: unknown key 'model' in [project] (known: avro_namespace, "
                                  "default_compatibility, default_partitions, default_replicas, migrations, models)")


def test_bad_toml_type(tmp_path):
    make_project(tmp_path, {}, toml="[project]\ndefault_partitions = 'three'\n")
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: kctx.toml: [project].default_partitions must be an integer, got 'three'"


def test_unknown_environment(tmp_path):
    make_project(tmp_path, {}, toml="[env.dev]\nbootstrap_servers = 'x:1'\n[env.prod]\n")
    res = run_kctx("--env", "staging", "validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: unknown environment 'staging' (known: dev, prod)"
    res = run_kctx("validate", cwd=tmp_path, env={"KCTX_ENV": "qa"})
    assert res.stderr.strip() == "error: unknown environment 'qa' (known: dev, prod)"


def test_missing_env_variable_in_toml(tmp_path):
    make_project(tmp_path, {}, toml="[env.default]\nbootstrap_servers = '${NOPE_NOT_SET}'\n")
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: [env.default].bootstrap_servers: environment variable NOPE_NOT_SET is not set"


def test_bad_output_option(tmp_path):
    res = run_kctx("validate", "--output", "xml", cwd=REPO)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: --output must be 'text' or 'json', got 'xml'"


def test_example_project_is_valid():
    res = run_kctx("validate", cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().startswith("ok: ")
    res = run_kctx("validate", "--output", "json", cwd=REPO)
    data = json.loads(res.stdout)
    assert data == {"ok": True, "entities": data["entities"], "problems": []}
    assert data["entities"] >= 8


def test_init_scaffold_validates(tmp_path):
    res = run_kctx("init", str(tmp_path / "shop"))
    assert res.returncode == 0, res.stderr
    res = run_kctx("validate", cwd=tmp_path / "shop")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "ok: 0 entities (0 sources, 0 derived) are valid"
    assert list((tmp_path / "shop" / "migrations").iterdir()) == []
    again = run_kctx("init", str(tmp_path / "shop"))
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: {tmp_path / 'shop' / 'kctx.toml'} already exists: not overwriting an existing project"


def test_init_first_makemigrations_writes_the_users_models(tmp_path):
    """Issue 10 item 7: the scaffold ships no migration of a sample entity, so the user's
    first makemigrations is V000001 with their entities only, and nothing is left to do."""
    root = tmp_path / "app"
    assert run_kctx("init", str(root)).returncode == 0
    (root / "models" / "payments.py").write_text(
        "from typing import Annotated\n"
        "from kctx_cli.model import Key, Stream\n\n\n"
        "class Payment(Stream):\n"
        "    payment_id: Annotated[str, Key]\n"
        "    cents: int\n\n"
        "    class Meta:\n"
        "        topic = \"payments\"\n")
    res = run_kctx("makemigrations", cwd=root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert [p.name for p in (root / "migrations").iterdir()] == ["V000001__initial.sql"]
    text = (root / "migrations" / "V000001__initial.sql").read_text()
    assert "CREATE STREAM PAYMENT " in text and "events" not in text.lower() and "DROP" not in text.split("-- kctx:down")[0]
    assert run_kctx("makemigrations", "--check", cwd=root).returncode == 0
    assert run_kctx("validate", cwd=root).stdout.strip() == "ok: 1 entities (1 sources, 0 derived) are valid"
    # the commented example, uncommented, is a valid entity too
    example = root / "models" / "example.py"
    example.write_text("\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                                  for line in example.read_text().splitlines()) + "\n")
    res = run_kctx("makemigrations", "-m", "events", cwd=root)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "V000002__events.sql" in res.stdout and "DROP" not in res.stdout
    assert run_kctx("validate", cwd=root).stdout.strip() == "ok: 2 entities (2 sources, 0 derived) are valid"


def test_init_refuses_a_directory_with_migrations(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "V000001__x.sql").write_text("-- kctx:up\n")
    res = run_kctx("init", str(tmp_path))
    assert res.returncode == 1
    assert res.stderr.strip() == f"error: {tmp_path / 'migrations'} already exists and is not empty: not overwriting it"
    assert not (tmp_path / "kctx.toml").exists()


def test_incompatible_schema_change_is_stopped_offline(tmp_path):
    import shutil

    for item in ("kctx.toml", "models", "migrations"):
        (shutil.copytree if (REPO / item).is_dir() else shutil.copy)(REPO / item, tmp_path / item)
    orders = tmp_path / "models" / "orders.py"
    orders.write_text(orders.read_text().replace("    coupon: Optional[str] = None\n", "    coupon: str\n"))
    res = run_kctx("validate", cwd=tmp_path)
    assert res.returncode == 1
    assert ("migrations: orders-value: the new schema is not BACKWARD-compatible: BACKWARD: new schema cannot "
            "read data written with version 1: /fields/coupon/type: type mismatch: reader expects string, "
            "writer has null: destructive, re-run with --allow-destructive to write it") in res.stdout.splitlines(), res.stdout


# Meta.window_type / window_size: a source over a topic with windowed keys (ksqlDB's
# WINDOW_TYPE / WINDOW_SIZE); consumers of a windowed stream may select WINDOWSTART /
# WINDOWEND, a persistent query over a windowed table is refused (the real ksqlDB 8.1.5)
WINDOWED = '''
from typing import Annotated
from kctx_cli.model import Key, Stream, Table
from kctx_cli.query import select, window_start


class Clicks({base}):
    user_id: Annotated[str, Key]
    clicks: int

    class Meta:
        topic = "clicks"
        window_type = {wtype!r}
        window_size = {wsize!r}


class ClickStats({base}):
    user_id: Annotated[str, Key]
    clicks: int
    ws: int

    class Meta:
        def query():
            return select(Clicks.user_id, Clicks.clicks, window_start.label("ws")).from_(Clicks)
'''


@pytest.mark.parametrize("wtype, wsize, problem", [
    ("tumbling", "1 hour", None),
    ("HOPPING", "30 SECONDS", None),
    ("session", None, None),
    ("tumbling", "500 milliseconds", None),
    ("session", "1 HOUR", "a SESSION window_type takes no window_size"),
    ("tumbling", None, "a TUMBLING window_type needs a window_size"),
    ("hopping", "30 bobs", "invalid window_size '30 bobs': expected '<number> <unit>' with a unit among "
                           "NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS"),
    # the real 8.1.5: NANOSECONDS and MICROSECONDS are units, one space only, the size positive
    ("tumbling", "5 nanosecond", None),
    ("hopping", "5 MICROSECONDS", None),
    ("tumbling", "5  SECONDS", "invalid window_size '5  SECONDS': expected '<number> <unit>'"),
    ("tumbling", "0 SECONDS", "invalid window_size '0 SECONDS': the size must be positive"),
    ("sliding", "1 HOUR", "window_type must be one of TUMBLING, HOPPING, SESSION"),
])
def test_windowed_source_entities(tmp_path, wtype, wsize, problem):
    from kctx_cli.config import load_config
    from kctx_cli.derive.ddl import entity_ddl
    from kctx_cli.derive.schema import Resolver
    from kctx_cli.model.discovery import load_project

    make_project(tmp_path, {"w.py": WINDOWED.format(base="Stream", wtype=wtype, wsize=wsize)})
    project = load_project(load_config(tmp_path), strict=False)
    found = [str(p) for p in run_checks(project) if p.code == "bad-option"]
    if problem:
        assert len(found) == 1 and problem in found[0], found
        return
    assert found == []
    ddl = entity_ddl(project.get("Clicks"), Resolver())
    assert f"WINDOW_TYPE='{wtype.upper()}'" in ddl
    assert ("WINDOW_SIZE=" in ddl) == (wsize is not None)
    if wsize:
        assert f"WINDOW_SIZE='{wsize.upper()}'" in ddl
    # the consumer selects WINDOWSTART of the windowed stream: no finding
    assert [p for p in run_checks(project) if p.code != "migration-missing"] == []


def test_no_persistent_query_over_a_windowed_table(tmp_path):
    from kctx_cli.config import load_config
    from kctx_cli.model.discovery import load_project

    make_project(tmp_path, {"w.py": WINDOWED.format(base="Table", wtype="tumbling", wsize="1 hour")})
    found = [p for p in run_checks(load_project(load_config(tmp_path), strict=False))
             if p.code == "windowed-table-query"]
    assert len(found) == 1 and "does not support persistent queries on windowed tables" in found[0].message

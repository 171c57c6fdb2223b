"""Offline migrations: makemigrations on the example shop and on changed models, the file
format (read/write, byte-identical output), replay, validate's migration checks and broken
files. No cluster needed."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_kctx


def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    shutil.copytree(REPO / "models", root / "models", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "kctx.toml", root / "kctx.toml")
    (root / "migrations").mkdir()
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def files_of(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "migrations").iterdir())


@pytest.fixture
def project(tmp_path):
    root = shop(tmp_path)
    r = run_kctx("makemigrations", cwd=root)
    assert r.returncode == 0, r.stderr
    return root


def test_initial_migration_is_deterministic_and_matches_the_repository(project):
    first = (project / "migrations" / "V000001__initial.sql").read_bytes()
    (project / "migrations" / "V000001__initial.sql").unlink()
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 0
    assert (project / "migrations" / "V000001__initial.sql").read_bytes() == first
    # the example project's own migration is what makemigrations writes today
    assert (REPO / "migrations" / "V000001__initial.sql").read_bytes() == first


def test_initial_migration_content(project):
    text = (project / "migrations" / "V000001__initial.sql").read_text()
    lines = text.splitlines()
    up = lines[lines.index("-- kctx:up") + 1:lines.index("-- kctx:down")]
    assert up[0].startswith('-- kctx:create-topic {"configs":{"cleanup.policy":"compact","min.compaction.lag.ms":"3600000"},'
                            '"name":"customers","partitions":6,"replicas":1}')
    assert '-- kctx:create-topic {"configs":{},"name":"payments-dlq","partitions":6,"replicas":1}' in up
    assert '-- kctx:set-compatibility {"level":"BACKWARD","subject":"orders-value","was":null}' in up
    # topics and schemas before the statements that need them; queries after their sources
    first_ksql = next(i for i, ln in enumerate(up) if ln.startswith("CREATE"))
    assert all(not ln.startswith("CREATE") for ln in up[:first_ksql])
    assert max(i for i, ln in enumerate(up) if "register-schema" in ln) < first_ksql
    orders = next(i for i, ln in enumerate(up) if ln.startswith("CREATE STREAM ORDERS "))
    hv = next(i for i, ln in enumerate(up) if ln.startswith("CREATE STREAM HIGH_VALUE_ORDERS"))
    assert orders < hv
    # sources do not repeat PARTITIONS (kctx creates their topic); the down part is commented out
    assert "PARTITIONS=" not in up[orders]
    down = lines[lines.index("-- kctx:down") + 1:]
    assert all(ln.startswith("-- ") for ln in down)
    assert "-- DROP STREAM HIGH_VALUE_ORDERS DELETE TOPIC;" in down
    assert down[-1] == '-- kctx:delete-topic {"name":"customers"}'


def test_no_changes_and_check(project):
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 0
    assert r.stdout.strip() == "No changes: the models match the migrations (V000001)."
    r = run_kctx("makemigrations", "--check", cwd=project)
    assert r.returncode == 0
    assert files_of(project) == ["V000001__initial.sql"]


def test_check_exits_2_and_writes_nothing(tmp_path):
    root = shop(tmp_path)
    r = run_kctx("makemigrations", "--check", cwd=root)
    assert r.returncode == 2
    assert "Would write migrations/V000001__initial.sql (" in r.stdout
    assert files_of(root) == []


def test_changes_produce_the_expected_operations(project):
    edit(project / "models" / "customers.py", "    registered_at: datetime\n",
         "    registered_at: datetime\n    phone: Optional[str] = None\n")
    edit(project / "models" / "orders.py", "partitions = 6", "partitions = 8\n        dlq = True")
    (project / "models" / "extra.py").write_text(
        "from typing import Annotated\n"
        "from kctx_cli.model import Key, Table\n"
        "from kctx_cli.query import count, select\n"
        "from models.orders import Order\n\n\n"
        "class OrdersPerProduct(Table):\n"
        "    product_id: Annotated[str, Key]\n"
        "    order_count: int\n\n"
        "    class Meta:\n"
        "        name = 'ORDERS_PER_PRODUCT'\n"
        "        topic = 'orders_per_product'\n\n"
        "        def query():\n"
        "            return select(Order.product_id, count().label('order_count')).from_(Order).group_by(Order.product_id)\n")
    r = run_kctx("makemigrations", "-m", "phone, dlq & per product", cwd=project)
    assert r.returncode == 0, r.stderr
    assert files_of(project) == ["V000001__initial.sql", "V000002__phone_dlq_per_product.sql"]
    text = (project / "migrations" / "V000002__phone_dlq_per_product.sql").read_text()
    assert '-- kctx:add-partitions {"name":"orders","partitions":8,"was":6}' in text
    assert '-- kctx:create-topic {"configs":{},"name":"orders-dlq","partitions":8,"replicas":1}' in text
    assert "ALTER TABLE CUSTOMERS ADD COLUMN PHONE STRING;" in text
    assert "CREATE TABLE ORDERS_PER_PRODUCT WITH (KAFKA_TOPIC='orders_per_product'" in text
    assert '"subject":"customers-value"}' in text and "-- kctx:register-schema" in text
    # partitions and ALTER cannot be undone
    assert "-- kctx:irreversible {\"reason\":\"topic orders: partitions cannot be removed; CUSTOMERS: ksqlDB cannot drop a column\"}" in text
    r = run_kctx("makemigrations", "--check", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reversible_change_has_a_down_part(project):
    edit(project / "models" / "products.py", "partitions = 6", "partitions = 6\n        dlq = True")
    r = run_kctx("makemigrations", "-m", "products dlq", cwd=project)
    assert r.returncode == 0, r.stderr
    text = (project / "migrations" / "V000002__products_dlq.sql").read_text()
    assert text.endswith('-- kctx:down\n-- kctx:delete-topic {"name":"products-dlq"}\n')


def test_partition_decrease_is_refused(project):
    edit(project / "models" / "orders.py", "partitions = 6", "partitions = 2")
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 1
    assert ("refused: topic orders: partitions can only grow (the migrations give it 6, the model says 2); "
            "to shrink, create a new topic and migrate the data") in r.stderr
    assert "error: makemigrations refused 1 change (see above); nothing written" in r.stderr
    assert files_of(project) == ["V000001__initial.sql"]


def test_incompatible_schema_is_stopped_offline(project):
    edit(project / "models" / "payments.py", "    paid_at: datetime\n", "    paid_at: datetime\n    reference: str\n")
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 1
    assert ("refused: payments-value: the new schema is not BACKWARD-compatible: BACKWARD: new schema cannot read "
            "data written with version 1: /fields/reference: reader field 'reference' has no default value and the "
            "writer has no such field: destructive, re-run with --allow-destructive to write it") in r.stderr.replace("\n", " ")
    assert "re-run with --allow-destructive to write it" in r.stderr
    r = run_kctx("makemigrations", "--allow-destructive", "-m", "force", cwd=project)
    assert r.returncode == 0, r.stderr
    text = (project / "migrations" / "V000002__force.sql").read_text()
    assert "-- INCOMPATIBLE (BACKWARD): " in text
    assert "-- kctx:destructive\n-- kctx:register-schema" in text


def test_removed_entity_needs_allow_destructive_and_renames_are_not_guessed(project):
    edit(project / "models" / "payments.py", "class Payment(Stream):", "class Settlement(Stream):")
    edit(project / "models" / "payments.py", 'name = "PAYMENTS"', 'name = "SETTLEMENTS"')
    edit(project / "models" / "payments.py", 'topic = "payments"', 'topic = "settlements"')
    edit(project / "models" / "derived.py", "from models.payments import Payment", "from models.payments import Settlement as Payment")
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 1
    assert "refused: drop stream PAYMENTS: destructive, re-run with --allow-destructive to write it" in r.stderr
    assert "refused: delete topic payments: destructive" in r.stderr
    r = run_kctx("makemigrations", "--allow-destructive", cwd=project)
    assert r.returncode == 0, r.stderr
    assert ("note: removed PAYMENTS and added SETTLEMENTS: kctx never guesses renames, this migration drops and "
            "creates; if it is a rename, edit it by hand") in r.stdout
    text = next((project / "migrations").glob("V000002__*.sql")).read_text()
    assert "DROP STREAM PAYMENTS;" in text
    assert "DROP STREAM PAID_ORDERS DELETE TOPIC;" in text  # its query read PAYMENTS: re-created
    assert '-- kctx:delete-topic {"name":"payments"' in text


def test_query_change_is_replaced_in_place_when_ksqldb_allows(project):
    edit(project / "models" / "derived.py", "Order.amount > 1000", "Order.amount > 500")
    r = run_kctx("makemigrations", "-m", "threshold", cwd=project)
    assert r.returncode == 0, r.stderr
    text = (project / "migrations" / "V000002__threshold.sql").read_text()
    assert "CREATE OR REPLACE STREAM HIGH_VALUE_ORDERS WITH" in text and "WHERE AMOUNT > 500;" in text
    assert "-- CREATE OR REPLACE STREAM HIGH_VALUE_ORDERS WITH" in text and "WHERE AMOUNT > 1000;" in text


def test_query_change_ksqldb_cannot_replace_is_destructive(project):
    edit(project / "models" / "derived.py", ".partition_by(Order.product_id)", ".partition_by(Order.customer_id)")
    edit(project / "models" / "derived.py", "    product_id: Annotated[str, Key]\n    order_id: str\n    quantity",
         "    customer_id: Annotated[str, Key]\n    order_id: str\n    quantity")
    edit(project / "models" / "derived.py", "select(Order.product_id, Order.order_id, Order.quantity, Order.coupon)",
         "select(Order.customer_id, Order.order_id, Order.quantity, Order.coupon)")
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 1
    assert "refused: ORDERS_BY_PRODUCT: its query cannot be replaced in place (its PARTITION BY changes)" in r.stderr


def test_empty_migration(project):
    r = run_kctx("makemigrations", "--empty", "-m", "hand written", cwd=project)
    assert r.returncode == 0
    text = (project / "migrations" / "V000002__hand_written.sql").read_text()
    assert text == ("-- V000002__hand_written: generated by kctx makemigrations; edit with care, an applied file "
                    "is checksummed.\n-- kctx:up\n\n-- kctx:down\n")


def test_validate_reports_models_ahead_of_migrations(project):
    from kctx_cli.config import load_config
    from kctx_cli.migrations.checks import check
    from kctx_cli.model.discovery import load_project

    assert check(load_project(load_config(project, None))) == []
    edit(project / "models" / "orders.py", "partitions = 6", "partitions = 12")
    problems = check(load_project(load_config(project, None)))
    assert [p.message for p in problems] == [
        "the models differ from the migrations (1 change: add partitions to orders: 12 in total (from 6)); "
        "run kctx makemigrations"]


BROKEN = [
    ("V1__x.sql", "-- kctx:up\n",
     "migrations/V1__x.sql: bad migration file name: expected V<6 digits>__<description>.sql (letters, digits and _), "
     "e.g. V000001__initial.sql"),
    ("V000000__zero.sql", "", "migrations/V000000__zero.sql: version 0 is not a valid migration version"),
    ("V000002__bad_op.sql", "-- kctx:up\n-- kctx:make-coffee {}\n",
     "migrations/V000002__bad_op.sql:2: unknown kctx operation 'make-coffee' (known: add-partitions, create-topic, "
     "delete-schema, delete-subject, delete-topic, derived-schema, irreversible, register-schema, set-compatibility, "
     "set-topic-config)"),
    ("V000002__bad_json.sql", '-- kctx:up\n-- kctx:create-topic {"name": "x", partitions: 3}\n',
     "migrations/V000002__bad_json.sql:2: kctx:create-topic: invalid JSON: Expecting property name enclosed in double "
     "quotes (column 15 of the JSON)"),
    ("V000002__bad_args.sql", '-- kctx:up\n-- kctx:create-topic {"partitions": 3}\n',
     "migrations/V000002__bad_args.sql:2: kctx:create-topic: bad arguments: 'name'"),
    ("V000002__bad_ksql.sql", "-- kctx:up\nCREATE STREAM S (A INT) WITH (KAFKA_TOPIC='s');\nCREATE STRAEM T;\n",
     "migrations/V000002__bad_ksql.sql:3: KSQL syntax error:"),
    ("V000002__down_not_commented.sql", "-- kctx:up\n-- kctx:down\nDROP STREAM S;\n",
     "migrations/V000002__down_not_commented.sql:3: the down part must be commented out: every line starts with '-- ' "
     "(so plain KSQL runners skip it)"),
    ("V000002__two_ups.sql", "-- kctx:up\n-- kctx:up\n", "migrations/V000002__two_ups.sql: '-- kctx:up' appears more than once"),
    ("V000002__replay.sql", '-- kctx:up\n-- kctx:add-partitions {"name":"orders","partitions":2}\n',
     "V000002__replay.sql:2: add-partitions: topic 'orders' has 6 partitions; partitions can only grow (asked for 2)"),
    ("V000002__exists.sql", '-- kctx:up\n-- kctx:create-topic {"name":"orders","partitions":6,"replicas":1}\n',
     "V000002__exists.sql:2: create-topic: topic 'orders' already exists"),
    ("V000002__drop_missing.sql", "-- kctx:up\nDROP STREAM NOPE;\n",
     "V000002__drop_missing.sql:2: DROP STREAM NOPE: it does not exist"),
]


@pytest.mark.parametrize("name,content,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_migration_files(project, name, content, message):
    (project / "migrations" / name).write_text(content)
    r = run_kctx("makemigrations", "--check", cwd=project)
    assert r.returncode == 1, r.stdout
    assert message in r.stderr.replace("\n", " ").replace("  ", " ") or message in r.stderr, r.stderr


def test_duplicate_version(project):
    shutil.copy(project / "migrations" / "V000001__initial.sql", project / "migrations" / "V000001__again.sql")
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 1
    assert "duplicate migration version 1: also V000001__again.sql" in r.stderr


def test_a_gap_between_versions_is_no_problem_as_in_ksql_migrations(project):
    # ksql-migrations applies files in version order and numbers a new one "the next
    # available version": V000001 then V000003 is a valid chain (field case F09 starts at V000002)
    (project / "migrations" / "V000003__later.sql").write_text("-- kctx:up\n")
    from kctx_cli.config import load_config
    from kctx_cli.migrations.checks import check
    from kctx_cli.model.discovery import load_project

    problems = check(load_project(load_config(project, None)))
    assert [p.message for p in problems] == []
    r = run_kctx("makemigrations", "--empty", "-m", "next", cwd=project)
    assert r.returncode == 0, r.stderr
    assert (project / "migrations" / "V000004__next.sql").exists()


def test_broken_models_stop_makemigrations(project):
    edit(project / "models" / "orders.py", "    quantity: Int32\n", "    quantity: Int32\n    letter: bytearray\n")
    r = run_kctx("makemigrations", cwd=project)
    assert r.returncode == 1
    assert r.stderr.strip() == "error: the models have problems (1); run kctx validate"


def test_check_json_output(project):
    r = run_kctx("makemigrations", "--check", "--output", "json", cwd=project)
    assert r.returncode == 0
    import json

    assert json.loads(r.stdout) == {"changes": 0, "version": None}

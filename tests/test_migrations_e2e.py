"""The example shop end to end on the real stack, in a temp copy whose topics and ksqlDB
names carry a unique prefix: makemigrations -> migrate -> plan clean -> change the models
(nullable field, more partitions; a new derived table, a new DLQ) -> makemigrations ->
migrate -> plan clean -> migrate --to back down where reversible; an incompatible field
change stopped offline and, forced, refused by the registry."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.helpers import REPO, run_kctx


def prefixed_shop(tmp_path: Path, prefix: str) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(REPO / "models", root / "models", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "kctx.toml", root / "kctx.toml")
    (root / "migrations").mkdir()
    for f in (root / "models").glob("*.py"):
        text = f.read_text()
        text = re.sub(r'(\n\s+topic = ")', rf"\g<1>{prefix}_", text)
        text = re.sub(r'(\n        name = ")', rf"\g<1>{prefix.upper()}_", text)
        f.write_text(text)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_example_project_end_to_end(stack, tmp_path, unique_name):
    p = unique_name
    root = prefixed_shop(tmp_path, p)
    env = {"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}
    kctx = lambda *a: run_kctx(*a, cwd=root, env=env)  # noqa: E731

    ok(kctx("makemigrations"))
    r = ok(kctx("migrate"))
    assert "applied 1 migration" in r.stdout
    r = kctx("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "No differences: the cluster matches the models."

    # V2: irreversible changes (a nullable field, more partitions)
    edit(root / "models" / "customers.py", "    registered_at: datetime\n",
         "    registered_at: datetime\n    phone: Optional[str] = None\n")
    # joined sources grow together: ksqlDB joins only sources with equal partition counts
    for model in ("orders", "customers", "products", "payments"):
        edit(root / "models" / f"{model}.py", "partitions = 6", "partitions = 8")
    r = kctx("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert f"add partitions to {p}_orders: 8 in total (from 6)" in r.stdout
    assert f"add partitions to {p}_customers: 8 in total (from 6)" in r.stdout
    ok(kctx("makemigrations", "-m", "phone and partitions"))
    # V3: reversible ones (a new derived table, a new DLQ)
    edit(root / "models" / "products.py", "partitions = 8", "partitions = 8\n        dlq = True")
    (root / "models" / "extra.py").write_text(
        "from typing import Annotated\n"
        "from kctx_cli.model import Key, Table\n"
        "from kctx_cli.query import count, select\n"
        "from models.orders import Order\n\n\n"
        "class OrdersPerProduct(Table):\n"
        "    product_id: Annotated[str, Key]\n"
        "    order_count: int\n\n"
        "    class Meta:\n"
        f"        name = '{p.upper()}_ORDERS_PER_PRODUCT'\n"
        f"        topic = '{p}_orders_per_product'\n\n"
        "        def query():\n"
        "            return select(Order.product_id, count().label('order_count')).from_(Order).group_by(Order.product_id)\n")
    ok(kctx("makemigrations", "-m", "per product and dlq"))
    r = ok(kctx("migrate"))
    assert "applied 2 migrations" in r.stdout
    r = kctx("plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    r = kctx("validate", "--live")
    assert r.returncode == 0, r.stdout + r.stderr

    # drift: a config changed behind kctx's back is reported by plan and validate --live
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    res = ConfigResource(ConfigResource.Type.TOPIC, f"{p}_orders", incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result()
    r = kctx("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert f"~ topic {p}_orders configs: retention.ms=604800000" in r.stdout
    r = kctx("validate", "--live")
    assert r.returncode == 1
    assert f"live: drift: topic {p}_orders configs: retention.ms=604800000" in r.stdout
    res = ConfigResource(ConfigResource.Type.TOPIC, f"{p}_orders", incremental_configs=[
        ConfigEntry("retention.ms", "604800000", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result()
    assert kctx("plan", "--detailed-exitcode").returncode == 0

    # back down to V2: the derived table and the DLQ go away
    r = ok(kctx("migrate", "--to", "2", "--allow-destructive"))
    assert "reverted 1 migration" in r.stdout
    r = kctx("plan", "--detailed-exitcode")
    assert r.returncode == 2
    assert f"create topic {p}_products-dlq" in r.stdout
    r = kctx("migrate", "--to", "1", "--allow-destructive")
    assert r.returncode == 1
    assert "V000002__phone_and_partitions.sql is irreversible (topic " in r.stderr
    ok(kctx("migrate"))

    # an incompatible change: stopped offline, and refused by the registry when forced
    edit(root / "models" / "payments.py", "    paid_at: datetime\n", "    paid_at: datetime\n    reference: str\n")
    r = kctx("makemigrations")
    assert r.returncode == 1
    assert f"refused: {p}_payments-value: the new schema is not BACKWARD-compatible" in r.stderr
    ok(kctx("makemigrations", "--allow-destructive", "-m", "forced"))
    r = kctx("migrate")
    assert r.returncode == 1
    assert "re-run with --allow-destructive" in r.stderr
    r = kctx("migrate", "--allow-destructive")
    assert r.returncode == 1
    assert (f"register a schema for {p}_payments-value: schema registry refuses the new schema of "
            f"{p}_payments-value: not compatible with the latest version (BACKWARD): ") in r.stderr, r.stderr

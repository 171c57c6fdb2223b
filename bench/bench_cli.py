"""Start-up and `kctx validate` benchmarks (issue: foundation).

    python bench/bench_cli.py            # all
    python bench/bench_cli.py help       # kctx --help vs alembic --help
    python bench/bench_cli.py validate   # 500+200 and 1000+400 entity projects

Each figure is the median wall time of several runs of the real command in a fresh
process; the baseline runs in the same session so machine noise hits both.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path | None = None, runs: int = 11) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        samples.append(time.perf_counter() - t)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stdout[-400:]}{res.stderr[-400:]}")
    return statistics.median(samples)


def bench_help() -> None:
    kctx = shutil.which("kctx") or sys.exit("kctx is not installed (pip install -e .)")
    alembic = shutil.which("alembic") or sys.exit("alembic is not installed (pip install -e '.[test]')")
    timed([kctx, "--help"], runs=2)  # warm the file cache
    timed([alembic, "--help"], runs=2)
    k = timed([kctx, "--help"], runs=21)
    a = timed([alembic, "--help"], runs=21)
    print(f"kctx --help     median {k * 1000:7.1f} ms")
    print(f"alembic --help  median {a * 1000:7.1f} ms")
    print(f"ratio kctx/alembic = {k / a:.2f}  (goal: ≤ 0.3 s and ≤ 1.0)")


SOURCE = '''
class Src{i}(Stream):
    """Source entity {i}."""
    id: Annotated[str, Key]
    customer_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    quantity: Int32
    ts: datetime
    note: Optional[str] = None
    tags: list[str]

    class Meta:
        topic = "src_{i}"
        partitions = 3
'''

DERIVED = '''
class Big{i}(Stream):
    id: Annotated[str, Key]
    amount: Annotated[Decimal, Precision(18, 4)]
    quantity: Int32

    class Meta:
        topic = "big_{i}"
        def query():
            return select(Src{j}.id, Src{j}.amount, Src{j}.quantity).from_(Src{j}).where(
                (Src{j}.amount > 1000) & Src{j}.note.is_not_null())


class Total{i}(Table):
    customer_id: Annotated[str, Key]
    orders: int
    total: Annotated[Decimal, Precision(18, 4)]

    class Meta:
        topic = "total_{i}"
        def query():
            return (select(Src{j}.customer_id, count().label("orders"), sum_(Src{j}.amount).label("total"))
                    .from_(Src{j}).group_by(Src{j}.customer_id))
'''

HEADER = '''from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

from kctx_cli.model import Int32, Key, Precision, Stream, Table
from kctx_cli.query import count, select, sum_
'''


def generate(root: Path, sources: int, derived: int, per_module: int = 50) -> Path:
    """A project with ``sources`` source entities and ``derived`` derived ones, spread
    over modules of ``per_module`` classes (derived ones next to the sources they read)."""
    models = root / "models"
    models.mkdir(parents=True)
    (root / "kctx.toml").write_text('[project]\nmodels = "models"\n')
    (models / "__init__.py").write_text("")
    for m in range(0, sources, per_module):
        body = [HEADER]
        for i in range(m, min(m + per_module, sources)):
            body.append(SOURCE.format(i=i))
        # two derived classes per generated pair
        for d in range(m // 2, min(m // 2 + per_module // 2, derived // 2)):
            body.append(DERIVED.format(i=d, j=m + (d % per_module) % (min(m + per_module, sources) - m)))
        (models / f"m{m // per_module:03d}.py").write_text("".join(body))
    return root


def bench_validate() -> None:
    kctx = shutil.which("kctx") or sys.exit("kctx is not installed (pip install -e .)")
    with tempfile.TemporaryDirectory() as tmp:
        small = generate(Path(tmp) / "p1", 500, 200)
        large = generate(Path(tmp) / "p2", 1000, 400)
        for p in (small, large):  # correctness first: both must validate
            # the initial migration, so validate also replays migrations and diffs the models
            subprocess.run([kctx, "makemigrations", "-m", "initial"], cwd=p, capture_output=True, check=True)
            res = subprocess.run([kctx, "validate"], cwd=p, capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(f"generated project does not validate:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
            print(f"{p.name}: {res.stdout.strip()}")
        t1 = timed([kctx, "validate"], cwd=small, runs=5)
        t2 = timed([kctx, "validate"], cwd=large, runs=5)
    print(f"validate 500 + 200 derived    median {t1:6.2f} s  (goal ≤ 3 s)")
    print(f"validate 1000 + 400 derived   median {t2:6.2f} s")
    print(f"ratio 2x project / 1x = {t2 / t1:.2f}  (goal ≤ 2.2)")


if __name__ == "__main__":
    what = sys.argv[1:] or ["help", "validate"]
    if "help" in what:
        bench_help()
    if "validate" in what:
        bench_validate()

"""Helpers shared by tests: throwaway projects and running the real CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

DEFAULT_TOML = """\
[project]
models = "models"
migrations = "migrations"
"""


def make_project(root: Path, modules: dict[str, str], toml: str | None = DEFAULT_TOML) -> Path:
    """Write kctx.toml and a models package; ``modules`` maps 'name.py' (or
    'sub/name.py') to source text (dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    if toml is not None:
        (root / "kctx.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
    models = root / "models"
    models.mkdir(exist_ok=True)
    if "__init__.py" not in modules:
        (models / "__init__.py").write_text("", encoding="utf-8")
    for name, src in modules.items():
        path = models / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent != models and not (path.parent / "__init__.py").exists():
            (path.parent / "__init__.py").write_text("", encoding="utf-8")
        path.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
    (root / "migrations").mkdir(exist_ok=True)
    return root


def run_kctx(*args: str, cwd: Path | str | None = None, env: dict | None = None,
             input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m kctx_cli ARGS`` as a user would; returns the completed process.
    ``env`` adds variables; a value of None removes one."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KCTX_") or k in (
        "KCTX_BOOTSTRAP_SERVERS", "KCTX_SCHEMA_REGISTRY_URL", "KCTX_KSQLDB_URL")}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.setdefault("COLUMNS", "200")  # rich wraps at the terminal width otherwise
    for k, v in (env or {}).items():  # None removes a variable (e.g. the stack's KCTX_*)
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    return subprocess.run(
        [sys.executable, "-m", "kctx_cli", *args],
        cwd=str(cwd) if cwd else None, env=full_env, input=input,
        capture_output=True, text=True, timeout=timeout,
    )

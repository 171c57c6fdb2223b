"""Find the entity classes of a project: import the configured package, and only it.

The package's directory is put first on ``sys.path`` so its modules import as
``models.orders`` etc.; every submodule is imported and the entity classes defined in
it are collected in declaration order. A module that fails to import is reported
with its file and line (validate lists it with the other problems).
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kctx_cli.config import Config
from kctx_cli.errors import ModelLoadError, Problem, display_path
from kctx_cli.model.entity import EntityInfo, Struct, is_entity_class


@dataclass
class Project:
    """The loaded models of a project; what every command works from."""

    config: Config
    entities: list[EntityInfo]
    load_problems: list[Problem] = field(default_factory=list)
    structs: list[type] = field(default_factory=list)

    def find(self, name: str) -> EntityInfo | None:
        """Look an entity up by class name, ksqlDB source name or topic."""
        for e in self.entities:
            if name in (e.name, e.source_name, e.topic) or name.upper() == e.source_name:
                return e
        return None

    def get(self, name: str) -> EntityInfo:
        """``find(name)``, or ModelLoadError listing the known entities when there is none."""
        e = self.find(name)
        if e is None:
            known = ", ".join(sorted(x.name for x in self.entities)) or "none"
            raise ModelLoadError(f"no entity named '{name}' (known: {known})")
        return e


def load_project(config: Config, *, strict: bool = True, reload: bool = True) -> Project:
    """Import the models package. ``strict``: raise on an import failure instead of
    returning it as a load problem (validate passes strict=False to list everything).
    ``reload=False`` keeps modules already imported (a service's own ``from models.orders
    import Order`` must stay the class the context knows: kctx_cli.runtime)."""
    problems: list[Problem] = []
    pkg_dir = config.models_dir
    package = config.models
    if not pkg_dir.is_dir():
        msg = f"models package '{package}' not found at {pkg_dir} (set [project].models in kctx.toml)"
        raise ModelLoadError(msg)
    parent = pkg_dir.parent
    top = package.split(".")[0]
    # a previous load (tests, long-lived API users) must not leak stale modules
    if not reload:  # kept only when it is this project's package (tests load many projects)
        loaded = getattr(sys.modules.get(package), "__file__", None)
        reload = not loaded or Path(loaded).resolve().parent != pkg_dir.resolve()
    for name in [m for m in sys.modules if reload and (m == top or m.startswith(top + "."))]:
        del sys.modules[name]
    sys.path.insert(0, str(parent if "." not in package else config.root))
    modules = []
    try:
        try:
            root_mod = importlib.import_module(package)
            modules.append(root_mod)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure in user code is reported
            problems.append(_import_problem(exc, pkg_dir / "__init__.py", config.root))
            root_mod = None
        if root_mod is not None and hasattr(root_mod, "__path__"):
            for info in sorted(pkgutil.walk_packages(root_mod.__path__, package + "."), key=lambda i: i.name):
                try:
                    modules.append(importlib.import_module(info.name))
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - sys.exit() in a model too
                    rel = info.name[len(package) + 1:].replace(".", "/")
                    guess = pkg_dir / (rel + ".py")
                    if not guess.exists():
                        guess = pkg_dir / rel / "__init__.py"
                    problems.append(_import_problem(exc, guess, config.root))
    finally:
        sys.path.pop(0)
    if problems and strict:
        raise ModelLoadError(str(problems[0]))

    entities: list[EntityInfo] = []
    structs: list[type] = []
    seen: set[type] = set()
    # vars() keeps definition order, modules are sorted: a stable declaration order
    for mod in modules:
        for obj in vars(mod).values():
            if not isinstance(obj, type) or obj in seen or obj.__module__ != mod.__name__:
                continue
            seen.add(obj)
            if is_entity_class(obj):
                entities.append(obj.__kctx__)
            elif issubclass(obj, Struct) and obj is not Struct:
                structs.append(obj)
    if strict:
        _refuse_bad_numbers(entities, config.root)
    for e in entities:
        apply_defaults(e, config)
    return Project(config=config, entities=entities, load_problems=problems, structs=structs)


def apply_defaults(info: EntityInfo, config: Config) -> EntityInfo:
    """Fill what the entity's Meta leaves unset from the project's [defaults] (kctx.toml):
    partitions (declared sources only: a derived one takes its FROM source's count, as
    ksqlDB does), replicas, compatibility, Avro namespace. Returns ``info``, changed in place."""
    if info.partitions is None and not info.derived:
        info.partitions = config.default_partitions
    if info.replicas is None:
        info.replicas = config.default_replicas
    if info.compatibility is None:
        info.compatibility = config.default_compatibility
    if info.namespace is None:
        info.namespace = config.avro_namespace
    return info


def _refuse_bad_numbers(entities, root: Path) -> None:
    """Commands that render or apply models (show, makemigrations, plan, migrate) stop at a
    ``Meta.partitions`` / ``Meta.replicas`` that is not an integer in range (e.g. the string
    "6"), with validate's message: rendering it would write ``PARTITIONS=6`` from a string
    and compare it unequal to the live count forever. The rule is validate's
    (kctx_cli.model.checks, "bad-option")."""
    for e in entities:
        for opt, low, high in (("partitions", 1, 10000), ("replicas", 1, 32767)):
            v = getattr(e, opt)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high):
                file, line = location(e, f"Meta.{opt}", root)
                where = f"{file}:{line}" if line else file
                raise ModelLoadError(f"{where}: {e.name}: {opt} must be an integer from {low} to {high}, got {v!r}")


def _import_problem(exc: BaseException, fallback: Path, root: Path) -> Problem:
    """An exception raised while importing a model module as a ``Problem`` at the innermost
    frame inside the project (else ``fallback``, the module's file)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return Problem(display_path(Path(exc.filename), root), exc.lineno or 0, "import-error",
                       f"cannot import model module: SyntaxError: {exc.msg}")
    file, line = display_path(fallback, root), 0
    for fs in traceback.extract_tb(exc.__traceback__):
        p = Path(fs.filename)
        try:
            p.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        file, line = display_path(p, root), fs.lineno or 0
    if isinstance(exc, SystemExit):
        call = "sys.exit()" if exc.code is None else f"sys.exit({exc.code!r})"
        return Problem(file, line, "import-error", f"cannot import model module: it called {call} while being imported")
    return Problem(file, line, "import-error", f"cannot import model module: {type(exc).__name__}: {exc}")


# --- locating declarations (only needed when there is something to report) ---


@lru_cache(maxsize=None)
def _parsed(filename: str):
    try:
        return ast.parse(Path(filename).read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None


def _class_node(cls):
    mod = sys.modules.get(cls.__module__)
    fname = getattr(mod, "__file__", None)
    if not fname:
        return None
    tree = _parsed(fname)
    if tree is None:
        return None
    parts = cls.__qualname__.split(".")
    body = tree.body
    node = None
    for part in parts:
        node = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return node


def attr_line(cls, attr: str | None) -> int:
    """Line of a field (``amount``) or Meta option (``Meta.topic``) of a class; the
    class line when it cannot be found (e.g. inherited)."""
    node = _class_node(cls)
    if node is None:
        return 0
    if not attr:
        return node.lineno
    body = node.body
    if attr.startswith("Meta."):
        meta = next((n for n in node.body if isinstance(n, ast.ClassDef) and n.name == "Meta"), None)
        if meta is None:
            return node.lineno
        body, attr = meta.body, attr[5:]
    for n in body:
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == attr:
            return n.lineno
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in n.targets):
            return n.lineno
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == attr:
            return n.lineno
    return node.lineno


def location(info_or_cls, attr: str | None, root: Path) -> tuple[str, int]:
    """Where to point a Problem about ``info_or_cls`` (an EntityInfo or a class) and its
    ``attr`` (a field, ``Meta.topic``, or None for the class): ``(file relative to root,
    line)``, line 0 when the source cannot be read."""
    cls = info_or_cls.cls if isinstance(info_or_cls, EntityInfo) else info_or_cls
    mod = sys.modules.get(cls.__module__)
    fname = getattr(mod, "__file__", None) or "<unknown>"
    return display_path(Path(fname), root), attr_line(cls, attr)

"""Every public module, class, function and method in kctx_cli says what it takes and gives.

Public = a name not starting with '_'. A class or function counts when it is DEFINED in
the module (obj.__module__ is the module's name: re-exports are checked where they live);
a method counts when it is in its class's own __dict__. `inspect.getdoc` inherits a
docstring from a base class, so an override of a documented method (an Op's `execute`,
a sqlglot Generator's `*_sql`) needs none of its own; a class's docstring inherited from
a Python built-in (Exception's "Common base class ...") counts as missing. The `__doc__`
that @dataclass writes ("Name(field: type, ...)") is the signature, not documentation:
it counts as missing.

Every module is imported: one that cannot be imported offline is a failure, not a skip.

Exempt: kctx_cli.query.functions_server, the table tools/gen_functions.py generates from
the ksqlDB server ("do not edit by hand: regenerate"): it defines data only, and anything
written into it by hand would be lost at the next regeneration.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import kctx_cli

EXEMPT_MODULES = {"kctx_cli.query.functions_server"}


def _modules() -> list[str]:
    names = [kctx_cli.__name__]
    errors: list[str] = []
    for info in pkgutil.walk_packages(kctx_cli.__path__, kctx_cli.__name__ + ".",
                                      onerror=errors.append):
        names.append(info.name)
    assert not errors, f"packages that could not be walked: {errors}"
    # walk_packages does not descend into a folder without __init__.py (a namespace
    # package): every .py file must be one of the walked modules
    root = Path(kctx_cli.__file__).parent
    on_disk = {".".join((kctx_cli.__name__,) + p.relative_to(root).with_suffix("").parts)
               .removesuffix(".__init__") for p in root.rglob("*.py")}
    unwalked = sorted(on_disk - set(names))
    assert not unwalked, f"modules pkgutil.walk_packages does not reach (no __init__.py?): {unwalked}"
    return sorted(names)


def _is_dataclass_autodoc(cls: type, doc: str | None) -> bool:
    """Whether ``doc`` is the one @dataclass wrote: ``Name(field: type, ...)``."""
    if not doc or "__dataclass_fields__" not in cls.__dict__:
        return False
    try:
        signature = str(inspect.signature(cls)).replace(" -> None", "")
    except (TypeError, ValueError):  # dataclass writes "Name" + "" then
        signature = ""
    return doc == cls.__name__ + signature


def _class_doc(cls: type) -> str | None:
    own = cls.__dict__.get("__doc__")
    if own is not None and _is_dataclass_autodoc(cls, own):
        return None
    if own is None:
        # inherited: from a base of kctx or a library, not Python's own ("Common base
        # class for all non-exit exceptions." says nothing about a kctx exception)
        for base in cls.__mro__[1:]:
            if base.__dict__.get("__doc__"):
                return None if base.__module__ == "builtins" else inspect.getdoc(cls)
    return inspect.getdoc(cls)


def _methods(cls: type):
    for name, raw in cls.__dict__.items():
        if name.startswith("_"):
            continue
        if isinstance(raw, (staticmethod, classmethod)):
            func = raw.__func__
        elif isinstance(raw, property):
            func = raw.fget
        elif inspect.isfunction(raw):
            func = raw
        else:
            continue
        if func is None:
            continue
        # getattr on the class so inspect.getdoc can walk the bases for an inherited doc
        try:
            member = inspect.getattr_static(cls, name)
            member = getattr(cls, name) if not isinstance(member, property) else member
        except AttributeError:
            member = func
        yield name, member


def missing_docstrings() -> tuple[list[str], list[str]]:
    """(missing, import failures), each a list of 'module:qualname' / 'module: error'."""
    missing: list[str] = []
    failures: list[str] = []
    for modname in _modules():
        if modname in EXEMPT_MODULES:
            continue
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001 - every import failure is reported
            failures.append(f"{modname}: {type(exc).__name__}: {exc}")
            continue
        if not inspect.getdoc(module):
            missing.append(f"{modname}:")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != modname:
                continue
            if inspect.isclass(obj):
                if not _class_doc(obj):
                    missing.append(f"{modname}:{obj.__qualname__}")
                for mname, member in _methods(obj):
                    if not inspect.getdoc(member):
                        missing.append(f"{modname}:{obj.__qualname__}.{mname}")
            elif inspect.isfunction(obj):
                if not inspect.getdoc(obj):
                    missing.append(f"{modname}:{obj.__qualname__}")
    return missing, failures


@functools.lru_cache(maxsize=None)
def _scan() -> tuple[list[str], list[str]]:
    return missing_docstrings()


def test_every_module_imports_offline():
    _, failures = _scan()
    if failures:
        pytest.fail("modules that cannot be imported:\n" + "\n".join(failures), pytrace=False)


def test_every_public_definition_has_a_docstring():
    missing, _ = _scan()
    if missing:
        pytest.fail(f"{len(missing)} public definitions without a docstring (module:qualname):\n"
                    + "\n".join(missing), pytrace=False)

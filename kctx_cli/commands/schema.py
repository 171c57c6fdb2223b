"""`kctx schema compat`: offline Avro compatibility of .avsc files.

    kctx schema compat --level BACKWARD new.avsc v1.avsc v2.avsc

Previous schemas are given oldest first (non-transitive levels check only the last).
Exit 0 compatible, 2 incompatible (reasons listed), 1 for an unreadable or invalid file
or an unknown level.
"""
from __future__ import annotations

import json
from pathlib import Path

from kctx_cli.errors import EXIT_DIFF, EXIT_OK, KctxError


def read_avsc(path: Path):
    """A .avsc file as a validated schema value; KctxError with one line otherwise."""
    from kctx_cli.avro.compat import SchemaInvalid, load

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KctxError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise KctxError(f"{path}: is a directory, not a .avsc file") from None
    except UnicodeDecodeError:
        raise KctxError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise KctxError(f"{path}: cannot read: {exc.strerror}") from None
    if not text.strip():
        raise KctxError(f"{path}: empty file, expected an Avro schema")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KctxError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    try:
        return load(value)
    except SchemaInvalid as exc:
        raise KctxError(f"{path}: invalid Avro schema: {exc}") from None


def compat(new: Path, previous: list[Path], level: str = "BACKWARD", output: str = "text") -> int:
    """`kctx schema compat`: is the .avsc file ``new`` compatible with ``previous`` (oldest
    first) at Schema Registry ``level`` (kctx_cli.avro.compat)? Prints the verdict (``output``
    text or json). Returns EXIT_OK (0) compatible, EXIT_DIFF (2) not; KctxError for an unknown
    level or a file that is not a valid Avro schema."""
    from kctx_cli.avro.compat import LEVELS, check_compatibility

    lvl = level.upper()
    if lvl not in LEVELS:
        raise KctxError(f"unknown compatibility level '{level}' (known: {', '.join(LEVELS)})")
    new_schema = read_avsc(new)
    old_schemas = [read_avsc(p) for p in previous]
    result = check_compatibility(new_schema, old_schemas, lvl, names=[str(p) for p in previous])

    if output == "json":
        print(json.dumps({
            "compatible": result.compatible,
            "level": lvl,
            "new": str(new),
            "previous": [str(p) for p in previous],
            "messages": result.messages,
        }, indent=2))
    else:
        checked = 0 if lvl == "NONE" else len(previous) if lvl.endswith("_TRANSITIVE") else min(len(previous), 1)
        if result.compatible:
            print(f"compatible: {new} ({lvl}, checked against {checked} previous schema(s))")
        else:
            print(f"incompatible: {new} ({lvl}):")
            for m in result.messages:
                print(f"  - {m}")
    return EXIT_OK if result.compatible else EXIT_DIFF

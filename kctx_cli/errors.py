"""Errors that reach the user as one clear line and an exit code (SPEC §2).

Anything raised as a ``KctxError`` is a user-facing problem: the CLI prints its
message and exits with its code; other exceptions are bugs and show a traceback
only with ``--debug``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DIFF = 2


def display_path(path, root) -> str:
    """How messages show a file: ``path`` relative to ``root`` (the project root, or the
    working directory) when it is inside it, else as given. Both are resolved first, so
    a relative or symlinked spelling of the same place reads the same."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


class KctxError(Exception):
    """A user mistake or an unreachable/failing server; message is one line."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        """The one-line message (``str(self)``)."""
        return str(self)


class KctxErrors(KctxError):
    """Several problems found at once (e.g. every destructive step of a migration): the
    message is the first of ``messages`` plus ``suffix``; ``others`` holds the rest, which
    the CLI prints first, one ``error:`` line each."""

    def __init__(self, messages: list[str], suffix: str = "", exit_code: int | None = None):
        super().__init__(f"{messages[0]}{suffix}", exit_code)
        self.others = list(messages[1:])


class ConfigError(KctxError):
    """kctx.toml / environment problems."""


class ModelLoadError(KctxError):
    """The models package could not be imported."""


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of `kctx validate` or `kctx ksql check`: where (file:line[:column]),
    what, and a stable code for tools."""

    file: str
    line: int
    code: str
    message: str
    column: int = 0

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        """The problem as a JSON object: ``file``, ``line``, ``column`` (0 = unknown), ``code``,
        ``message``."""
        return {"file": self.file, "line": self.line, "column": self.column, "code": self.code,
                "message": self.message}

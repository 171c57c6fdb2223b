"""The error of the KSQL parser (no sqlglot import, so the CLI can name it cheaply)."""
from __future__ import annotations

from kctx_cli.errors import KctxError


class KsqlSyntaxError(KctxError):
    """A KSQL syntax error at ``line``:``column`` (both 1-based; 0 when unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0):
        super().__init__(f"{line}:{column}: {message}" if line else message)
        self.reason = message  # the message without the position
        self.line = line
        self.column = column

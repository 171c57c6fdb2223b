"""The rich consoles and the progress bar the command modules print with.

Highlighting is off (kctx's output is data, not prose) and long lines are not wrapped
(topic names and file:line locations stay copyable). rich is imported on first use so
that importing a command module stays cheap.
"""
from __future__ import annotations


# width of a console that is not a terminal: rich would otherwise wrap tables at 80 columns
PIPE_WIDTH = 100_000


def stdout():
    """The console for command output. Piped (not a terminal), it has no width limit, so
    a table row stays one line for grep/awk."""
    from rich.console import Console

    c = Console(highlight=False, soft_wrap=True)
    if not c.is_terminal:
        c = Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH)
    return c


def stderr():
    """The console for warnings and progress: stderr, no highlighting, long lines not wrapped."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


class Progress:
    """A rich progress bar on stderr with rate and ETA (hidden when not a terminal)."""

    def __init__(self, what: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        from rich.text import Text

        class Rate(TextColumn):
            def render(self, task):
                return Text(f"{task.speed or 0:,.0f} rec/s")

        console = Console(stderr=True)
        self.p = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), Rate(""), TimeRemainingColumn(),
                          console=console, disable=not console.is_terminal)
        self.task = None

    def start(self, total: int):
        """Show the bar for ``total`` items (records)."""
        self.p.start()
        self.task = self.p.add_task("", total=total)

    def advance(self, n: int):
        """Count ``n`` more items done."""
        self.p.update(self.task, advance=n)

    def stop(self):
        """Remove the bar (safe to call when it was never started)."""
        self.p.stop()

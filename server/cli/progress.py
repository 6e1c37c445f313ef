"""Long commands on a terminal: a progress bar on stderr, and each result printed as it comes.

Boundary: terminal output only (rich draws the bar). The bar is shown when stderr is a terminal
and the command prints for people; never when stderr is piped or redirected, on a dumb
terminal, or for machine formats (JSON, SARIF, annotations), so logs and CI output carry no
escape sequences. Results always go to stdout: while the bar is drawn on the same terminal
they are printed above it (rich redraws the bar below them), otherwise written as they are.

Use::

    with Progress(len(files), "reviewing", show=show_progress(args.format == "text")) as bar:
        for path in files:
            bar.doing(path)
            ...
            bar.emit(result_line)
            bar.advance()
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import IO, Any


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def show_progress(for_people: bool, stream: IO[str] | None = None) -> bool:
    """Whether to draw a bar: output meant for people, and a real (not dumb) terminal on
    stderr."""
    stream = sys.stderr if stream is None else stream
    return for_people and is_terminal(stream) and os.environ.get("TERM", "").lower() != "dumb"


class Progress:
    """A bar of ``total`` steps described by ``description`` (when ``show``), and the results
    printed to stdout as they come (always)."""

    def __init__(
        self,
        total: int,
        description: str,
        *,
        show: bool,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.total = total
        self.description = description
        self.show = show
        self._out = sys.stdout if out is None else out
        self._err = sys.stderr if err is None else err
        self._bar: Any = None
        self._task: Any = None
        self._done = 0

    def __enter__(self) -> Progress:
        if self.show:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            console = Console(file=self._err, force_terminal=True, highlight=False)
            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[doing]}", style="dim"),
                console=console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, doing="")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    @property
    def done(self) -> int:
        return self._done

    def doing(self, what: str) -> None:
        """What the command works on now (shown beside the bar)."""
        if self._bar is not None:
            self._bar.update(self._task, doing=what)

    def advance(self, steps: int = 1) -> None:
        self._done += steps
        if self._bar is not None:
            self._bar.update(self._task, advance=steps)

    def emit(self, text: str) -> None:
        """Print a result now (``text`` may hold several lines)."""
        if self._bar is not None and is_terminal(self._out):
            # The same terminal: through rich, which prints above the bar and redraws it.
            self._bar.console.print(
                text, markup=False, highlight=False, emoji=False, soft_wrap=True
            )
        else:
            self._out.write(text + "\n")
            self._out.flush()

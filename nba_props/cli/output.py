"""What the CLI prints: one console, progress bars for long commands, tables."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

# Wide enough for the predictions table when the output is a pipe or a CI log, not a terminal.
console = Console(width=None if sys.stdout.isatty() else 120)

StageProgress = Callable[[str, int, int], None]


@contextmanager
def staged_progress() -> Iterator[tuple[Progress, StageProgress]]:
    """One progress bar per stage of a long command; yields the bars and the callback that feeds them
    (`report(stage, done, total)`)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield progress, report


def key_value_table(
    title: str, rows: Mapping[str, Any], *, key: str = "field", value: str = "value"
) -> Table:
    """Two columns, a row per entry; None is shown as "-"."""
    table = Table(title=title)
    table.add_column(key)
    table.add_column(value, justify="right")
    for name, entry in rows.items():
        table.add_row(name, "-" if entry is None else str(entry))
    return table

"""A progress bar for the long loops (TFLite Micro over the test set, the benchmark rounds), drawn
only when the output is a terminal: a log file or a pipe gets nothing extra."""

from __future__ import annotations

import sys
from typing import IO, Iterator, Sequence, TypeVar

import click

T = TypeVar("T")


def progress(items: Sequence[T], label: str, show: bool = True, file: IO[str] | None = None) -> Iterator[T]:
    """Iterate `items`, under a click progress bar on `file` (stdout) if `show` and it is a terminal."""
    file = file or sys.stdout
    if not (show and _is_terminal(file)):
        yield from items
        return
    with click.progressbar(items, label=label, file=file, show_eta=True, show_pos=True) as bar:
        yield from bar


def _is_terminal(file) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False

"""A Rich progress bar for artifact uploads and downloads.

Artifact repositories report progress through a `progress(n_bytes)` callback, possibly from
worker threads; Rich's `Progress.advance` is thread-safe. Totals come from
`cairn.artifacts.local_size` / `artifact_size`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cairn.cli.output import stderr


@contextmanager
def transfer_progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A byte-count progress bar on stderr, drawn only when stderr is a terminal.

    Yields the callback to hand to the artifact repository.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = stderr()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total or None)

        def advance(n_bytes: int) -> None:
            progress.advance(task, n_bytes)

        yield advance

"""The transfer progress bar: counts bytes, draws only on a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cairn.cli import transfer


def test_progress_counts_bytes_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    monkeypatch.setattr(transfer, "stderr", lambda: console)
    with transfer.transfer_progress("Uploading model.bin", total=3 * 1024) as advance:
        for _ in range(3):
            advance(1024)
    drawn = buffer.getvalue()
    assert "Uploading model.bin" in drawn
    assert "3.1/3.1 kB" in drawn


def test_progress_is_silent_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False)
    monkeypatch.setattr(transfer, "stderr", lambda: console)
    with transfer.transfer_progress("Downloading", total=0) as advance:
        advance(10)
    assert buffer.getvalue() == ""

"""docs/cli.md must match the commands: regenerate with `python -m cairn.cli.reference`."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from cairn.cli.main import app
from cairn.cli.reference import MARKER, render_reference, update_docs
from tests.cli.support import REPO

DOC = REPO / "docs" / "cli.md"


def _command_paths(command: object, prefix: str = "cairn") -> list[str]:
    paths = [prefix]
    for name, child in getattr(command, "commands", {}).items():
        paths += _command_paths(child, f"{prefix} {name}")
    return paths


def test_reference_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC} lost its generated-reference marker"
    generated = text.split(MARKER, 1)[1].lstrip("\n")
    assert generated == render_reference(), (
        "docs/cli.md is stale: run `python -m cairn.cli.reference docs/cli.md`"
    )


def test_every_command_is_documented() -> None:
    reference = render_reference()
    for path in _command_paths(typer.main.get_command(app)):
        assert f"`{path}`" in reference


def test_every_command_and_option_has_help() -> None:
    ctx = typer.Context(typer.main.get_command(app), info_name="cairn")
    _check_help(ctx.command, ctx)


def _check_help(command, ctx) -> None:
    assert command.help, f"{ctx.command_path} has no help"
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        assert record and record[1], f"{ctx.command_path} {param.name} has no help"
    for name, child in getattr(command, "commands", {}).items():
        _check_help(child, typer.Context(child, info_name=name, parent=ctx))


def test_update_docs_rewrites_only_the_generated_part(tmp_path: Path) -> None:
    doc = tmp_path / "cli.md"
    doc.write_text(f"# Intro\n\nhand-written\n\n{MARKER}\n\nstale reference\n")
    assert update_docs(doc) is True
    text = doc.read_text()
    assert text.startswith("# Intro\n\nhand-written\n\n")
    assert text.endswith(render_reference()) and "stale" not in text
    assert update_docs(doc) is False


def test_update_docs_needs_the_marker(tmp_path: Path) -> None:
    doc = tmp_path / "cli.md"
    doc.write_text("# Intro only\n")
    with pytest.raises(ValueError, match="marker"):
        update_docs(doc)

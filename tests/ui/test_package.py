"""The UI's place in the package: its imports, and the files a wheel must carry."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

import httpx

from tests.ui.conftest import UiClient

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cairn"
UI = PACKAGE / "ui"


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_only_the_server_imports_the_ui() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(UI):
            continue
        users = {m for m in imported(path) if m == "cairn.ui" or m.startswith("cairn.ui.")}
        if users:
            assert path.is_relative_to(PACKAGE / "server"), f"{path} imports {users}"


def test_the_ui_does_not_import_the_cli_or_the_client() -> None:
    for path in UI.rglob("*.py"):
        for module in imported(path):
            assert not module.startswith(("cairn.cli", "cairn.tracking")), (path, module)


def test_package_data_covers_every_template_and_asset() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["cairn"]
    files = [p for p in (UI / "templates").rglob("*") if p.is_file()]
    files += [p for p in (UI / "static").rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        relative = path.relative_to(PACKAGE).as_posix()
        # setuptools' `*` stops at `/`, so each pattern must name the file's own directory.
        directory, name = relative.rsplit("/", 1)
        assert any(
            pattern.rsplit("/", 1)[0] == directory
            and fnmatch.fnmatch(name, pattern.rsplit("/", 1)[1])
            for pattern in patterns
            if "/" in pattern
        ), relative


def test_vendored_files_are_recorded_with_their_licences() -> None:
    record = (UI / "static" / "VENDORED.md").read_text()
    for path in (UI / "static" / "vendor").iterdir():
        assert f"vendor/{path.name}" in record, path.name
    templates = " ".join(p.read_text() for p in (UI / "templates").glob("*.html"))
    for script in (UI / "static" / "vendor").glob("*.js"):
        assert f"/static/vendor/{script.name}" in templates, script.name


def test_static_files_are_served_and_nothing_else(ui: UiClient) -> None:
    url = ui.url
    script = httpx.get(f"{url}/static/vendor/htmx-2.0.11.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert httpx.get(f"{url}/static/cairn.css").headers["content-type"].startswith("text/css")
    for path in (
        "VENDORED.md",
        "vendor/echarts.LICENSE",
        "../__init__.py",
        "%2e%2e/routes.py",
        "nope.js",
    ):
        assert httpx.get(f"{url}/static/{path}").status_code == 404, path

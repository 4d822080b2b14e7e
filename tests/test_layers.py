"""The layering rules of docs/ARCHITECTURE.md, checked on the source: imports only point inward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cairn"

# package -> Cairn packages it must never import
FORBIDDEN = {
    "cairn.entities": {
        "cairn.search",
        "cairn.store",
        "cairn.artifacts",
        "cairn.tracking",
        "cairn.cli",
        "cairn.data",
        "cairn.settings",
    },
    "cairn.search": {"cairn.store", "cairn.tracking", "cairn.cli", "cairn.data"},
    "cairn.store": {
        "cairn.tracking",
        "cairn.registry",
        "cairn.cli",
        "cairn.data",
        "cairn.server",
        "cairn.projects",
    },
    "cairn.artifacts": {"cairn.store", "cairn.tracking", "cairn.cli", "cairn.server"},
    "cairn.server": {"cairn.cli"},
    # Users, tokens and the audit log: on the SQL store's engine, beneath server and CLI.
    "cairn.auth": {
        "cairn.tracking",
        "cairn.registry",
        "cairn.cli",
        "cairn.server",
        "cairn.projects",
        "cairn.models",
    },
    "cairn.tracking": {"cairn.cli", "cairn.server", "cairn.projects", "cairn.registry"},
    "cairn.registry": {"cairn.cli", "cairn.server", "cairn.projects"},
    "cairn.projects": {"cairn.cli", "cairn.server"},
    "cairn.data": {"cairn.cli", "cairn.store"},
    # Models may use entities, exceptions, settings and data; only flavors and serving (later)
    # build on it.
    "cairn.models": {
        "cairn.search",
        "cairn.store",
        "cairn.artifacts",
        "cairn.tracking",
        "cairn.registry",
        "cairn.projects",
        "cairn.transport",
        "cairn.cli",
        "cairn.server",
    },
    # Flavors and model loading build on models and tracking; the server and CLI build on them.
    "cairn.pyfunc": {"cairn.cli", "cairn.server", "cairn.projects", "cairn.serving"},
    "cairn.sklearn": {"cairn.cli", "cairn.server", "cairn.projects", "cairn.serving"},
    "cairn.onnx": {"cairn.cli", "cairn.server", "cairn.projects", "cairn.serving"},
    "cairn.pytorch": {"cairn.cli", "cairn.server", "cairn.projects", "cairn.serving"},
    "cairn.transport": {
        "cairn.store",
        "cairn.tracking",
        "cairn.cli",
        "cairn.artifacts",
        "cairn.server",
        "cairn.data",
    },
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "cairn" or name.startswith("cairn.")}


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_inward(path: Path) -> None:
    module = _module_name(path)
    for layer, banned in FORBIDDEN.items():
        if module == layer or module.startswith(layer + "."):
            bad = {
                name
                for name in _imports(path)
                if any(name == b or name.startswith(b + ".") for b in banned)
            }
            assert not bad, f"{module} must not import {sorted(bad)}"


MODEL_USERS = ("cairn.pyfunc", "cairn.sklearn", "cairn.onnx", "cairn.pytorch", "cairn.serving")


def test_only_model_code_imports_models() -> None:
    # The model format sits at the edge of the graph: only flavors, loading, serving, the
    # CLI and tracking's log_model build on it.
    users = (
        *MODEL_USERS,
        "cairn.cli",
        "cairn.models",
        "cairn.tracking.model_logging",
        "cairn.tracking.model_download",
    )
    for path in SOURCES:
        module = _module_name(path)
        if module.startswith(users) or module == "cairn":
            continue
        assert not {n for n in _imports(path) if n.startswith("cairn.models")}, module


def test_nothing_imports_the_cli() -> None:
    for path in SOURCES:
        module = _module_name(path)
        if module.startswith("cairn.cli") or module == "cairn.__main__":
            continue  # `python -m cairn` is the command itself
        assert not {n for n in _imports(path) if n.startswith("cairn.cli")}, module

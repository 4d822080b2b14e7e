"""Security corpus §2: Cairn extracts no archives today (models, projects and artifacts are
plain directory trees, copied file by file through the artifact path rules), so tar and zip
members named `../x` or `/abs`, links leading out and device files have nowhere to land.

This test keeps it so: the first module that opens an archive fails it, and must come with
the corpus's archive tests (members `../x`, `/abs`, symlinks and hard links leading out,
device files — each refused) before it is allowed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cairn

ARCHIVE_MODULES = {"tarfile", "zipfile", "shutil.unpack_archive", "py7zr", "rarfile"}
ALLOWED: dict[str, str] = {}  # module path -> the test file with its archive corpus


def _archive_uses(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in ARCHIVE_MODULES}
        elif isinstance(node, ast.ImportFrom) and node.module in ARCHIVE_MODULES:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "shutil":
            found |= {"shutil.unpack_archive" for a in node.names if a.name == "unpack_archive"}
        elif isinstance(node, ast.Attribute) and node.attr == "unpack_archive":
            found.add("shutil.unpack_archive")
    return found


def test_no_module_extracts_archives_without_an_archive_corpus() -> None:
    package = Path(cairn.__file__).parent
    uses = {
        str(path.relative_to(package.parent)): found
        for path in sorted(package.rglob("*.py"))
        if (found := _archive_uses(path))
    }
    unexpected = {path: found for path, found in uses.items() if path not in ALLOWED}
    assert not unexpected, (
        f"{unexpected}: archive extraction needs the security corpus §2 tests "
        "(see this file's docstring)"
    )

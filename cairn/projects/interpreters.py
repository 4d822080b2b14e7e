"""Finding a Python interpreter of the version a project asks for, on this machine only.

Nothing is downloaded. In order: the running interpreter; `pythonX.Y` on PATH; pyenv's
installed versions ($PYENV_ROOT/versions); then uv's own discovery (`uv python find
--no-python-downloads`). "X.Y" matches any X.Y.*; "X.Y.Z" prefers that exact release and
otherwise takes another X.Y release, saying so. Each candidate is asked its version (a pyenv
shim for a version that is not active only fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cairn.exceptions import ExecutionException

_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
_PROBE_TIMEOUT_S = 15


@dataclass(frozen=True, slots=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    def same_minor_as_running(self) -> bool:
        return self.version[:2] == tuple(sys.version_info[:2])


def running_interpreter() -> Interpreter:
    # The base interpreter when Cairn runs in a virtualenv: environments are made from it.
    path = getattr(sys, "_base_executable", None) or sys.executable
    return Interpreter(path, (sys.version_info[0], sys.version_info[1], sys.version_info[2]))


def find_interpreter(requested: str, uv: str | None = None) -> Interpreter:
    """An interpreter for `requested` ("3.11" or "3.11.7"), or `ExecutionException`."""
    wanted = tuple(int(p) for p in requested.split("."))
    fallback: Interpreter | None = None
    for found in _candidates(wanted, uv):
        if found.version[: len(wanted)] == wanted:
            return found
        if fallback is None and found.version[:2] == wanted[:2]:
            fallback = found
    if fallback is not None:
        print(
            f"cairn: Python {requested} is not installed here; using {fallback.version_text} "
            f"({fallback.path}), the same minor version.",
            file=sys.stderr,
        )
        return fallback
    raise ExecutionException(
        f"The project's environment needs Python {requested}, and no such interpreter was "
        f"found (looked for python{wanted[0]}.{wanted[1]} on PATH, in pyenv's versions"
        f"{' and with uv' if uv else ''}). Install Python {wanted[0]}.{wanted[1]}, or change "
        "the `python` version of the project's environment file."
    )


def _candidates(wanted: tuple[int, ...], uv: str | None) -> Iterator[Interpreter]:
    seen: set[str] = set()
    running = running_interpreter()
    seen.add(os.path.realpath(running.path))
    yield running
    minor = f"python{wanted[0]}.{wanted[1]}"
    paths: list[str] = []
    on_path = shutil.which(minor)
    if on_path:
        paths.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = pyenv_root / "versions"
    if versions.is_dir():
        prefix = f"{wanted[0]}.{wanted[1]}."
        for directory in sorted(versions.iterdir(), reverse=True):
            if directory.name.startswith(prefix) or directory.name == prefix[:-1]:
                paths.append(str(directory / "bin" / minor))
    for path in paths:
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        found = probe(path)
        if found is not None:
            yield found
    if uv:
        found = _uv_find(uv, ".".join(map(str, wanted)))
        if found is not None and os.path.realpath(found.path) not in seen:
            yield found


def probe(path: str) -> Interpreter | None:
    """Ask the interpreter at `path` its version; None if it does not answer."""
    try:
        done = subprocess.run(
            [path, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.strip().split(".")
    if done.returncode != 0 or len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return Interpreter(path, (int(parts[0]), int(parts[1]), int(parts[2])))


def _uv_find(uv: str, version: str) -> Interpreter | None:
    try:
        done = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", "--no-config", version],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = done.stdout.strip()
    return probe(path) if done.returncode == 0 and path else None

"""Making the running Cairn importable inside a built environment.

A project's script logs with `import cairn`, so the environment it runs in must be able to
import Cairn even though its python_env does not list it (MLflow projects list `mlflow`, and
Cairn may not be installed from an index at all). Unless the project's dependencies name
`cairn-ml` themselves, a file `_cairn_bridge.pth` in the environment's site-packages adds the
site-packages directories of the interpreter running Cairn *after* the environment's own:

* the project's declared packages are found first, at the versions it pinned;
* Cairn and its dependencies, and anything else installed beside the running Cairn, are
  found after them (so an undeclared import can still succeed: declare what you use);
* `.pth` files there (editable installs) are processed as usual.

This only works when the environment's Python has the same major.minor as the running one
(compiled extensions are built per minor version). Otherwise no bridge is installed and a
script that imports cairn must list `cairn-ml` in its dependencies; `notice` says so.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

from cairn.projects.builders import env_python
from cairn.projects.env_spec import PythonEnvSpec

MODULE = "_cairn_bridge"
PTH_FILE = f"{MODULE}.pth"
CAIRN_DISTRIBUTIONS = ("cairn-ml",)


def bridge_paths(spec: PythonEnvSpec | None, python: tuple[int, ...] | None) -> tuple[str, ...]:
    """The directories the bridge adds; empty when the project installs Cairn itself or its
    Python (`python`, None when not known before the build) is another minor version."""
    if spec is not None and spec.names_package(*CAIRN_DISTRIBUTIONS):
        return ()
    if python is not None and tuple(python[:2]) != tuple(sys.version_info[:2]):
        return ()
    paths = [p for p in site.getsitepackages() if Path(p).is_dir()]
    if site.ENABLE_USER_SITE:
        user = site.getusersitepackages()
        if Path(user).is_dir():
            paths.append(user)
    package_parent = str(Path(__file__).resolve().parents[2])
    if not _importable_from(paths):
        paths.append(package_parent)  # Cairn runs from a source tree (PYTHONPATH or cwd)
    return tuple(dict.fromkeys(paths))


def notice(env_version: str) -> str:
    """What to tell the user when Cairn cannot be bridged into an environment."""
    running = "{}.{}".format(*sys.version_info[:2])
    return (
        f"cairn: the environment's Python is {env_version} and Cairn runs on {running}, so "
        "Cairn is not made importable in it: if the project's script imports cairn, list "
        "cairn-ml in the environment's dependencies."
    )


def install(env_dir: Path, paths: tuple[str, ...]) -> bool:
    """Write the .pth file into the environment's site-packages, if its Python has the
    running major.minor; whether it did (a notice is printed when it could not)."""
    if not paths:
        return False
    probe = "import sys, sysconfig; print('%d.%d' % sys.version_info[:2]); "
    probe += "print(sysconfig.get_path('purelib'))"
    done = subprocess.run(
        [str(env_python(env_dir)), "-c", probe], capture_output=True, text=True, check=True
    )
    version, purelib_text = done.stdout.strip().splitlines()
    if version != "{}.{}".format(*sys.version_info[:2]):
        print(notice(version), file=sys.stderr)
        return False
    purelib = Path(purelib_text)
    purelib.mkdir(parents=True, exist_ok=True)
    # A .pth line starting with "import" is executed at start-up; importing a module (rather
    # than running code in the line) happens once even if site-packages is scanned twice.
    # site.addsitedir appends each directory, after the environment's own, and processes the
    # .pth files found there (editable installs).
    module = (
        '"""Written by Cairn: makes the running Cairn importable, after this environment\'s '
        'own packages."""\n\nimport site\n\n'
        f"for _path in {list(paths)!r}:\n    site.addsitedir(_path)\n"
    )
    (purelib / f"{MODULE}.py").write_text(module, encoding="utf-8")
    (purelib / PTH_FILE).write_text(f"import {MODULE}\n", encoding="utf-8")
    return True


def _importable_from(paths: list[str]) -> bool:
    """Whether Cairn is installed (normally or editable) in one of `paths`."""
    for directory in paths:
        root = Path(directory)
        if (root / "cairn" / "__init__.py").is_file():
            return True
        if any(root.glob("cairn_ml-*.dist-info")):
            return True
    return False

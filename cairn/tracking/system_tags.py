"""The tags a new fluent run records about where it came from (MLflow's run context).

`mlflow.user`, `mlflow.source.name` (the script), `mlflow.source.type` (LOCAL, NOTEBOOK or
PROJECT), and when the script lives in a git work tree `mlflow.source.git.commit`, `.branch`
and `.repoURL`. Git is read from the `.git` files directly (no GitPython, no subprocess in the
common case); only layouts we cannot read fall back to `git rev-parse` with a short timeout.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cairn import settings

if TYPE_CHECKING:
    from pathlib import Path

# getpass, subprocess and pathlib are imported where used: `import cairn` must stay fast.

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
ENTRY_POINT = "mlflow.project.entryPoint"

_GIT_TIMEOUT_S = 2.0
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def resolve_system_tags(main_file: str | None = None) -> dict[str, str]:
    """The system tags for a run started now by the program `main_file` (default argv[0])."""
    source = _main_file() if main_file is None else main_file
    tags = {USER: current_user(), SOURCE_NAME: source, SOURCE_TYPE: source_type()}
    entry_point = settings.PROJECT_ENTRY_POINT.get()
    if entry_point:
        tags[ENTRY_POINT] = entry_point
    if source and os.path.isfile(source):
        from pathlib import Path

        info = git_info(Path(source).parent)
        if info is not None:
            tags[GIT_COMMIT] = info.commit
            if info.branch:
                tags[GIT_BRANCH] = info.branch
            if info.repo_url:
                tags[GIT_REPO_URL] = info.repo_url
    return tags


def current_user() -> str:
    configured = settings.USER.get()
    if configured:
        return configured
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without a passwd entry)
        return "unknown"


def source_type() -> str:
    if settings.PROJECT_ENTRY_POINT.get():
        return "PROJECT"
    if _in_notebook():
        return "NOTEBOOK"
    return "LOCAL"


def _main_file() -> str:
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and os.path.isfile(argv0):
        return os.path.abspath(argv0)
    return argv0 or "<console>"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    if get_ipython is None:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


@dataclass(frozen=True, slots=True)
class GitInfo:
    commit: str
    branch: str | None = None
    repo_url: str | None = None


def git_info(start: Path) -> GitInfo | None:
    """Commit, branch and origin URL of the work tree containing `start`, if any."""
    try:
        found = _find_git_dir(start.resolve())
        if found is None:
            return None
        git_dir, common_dir = found
        commit, branch = _read_head(git_dir, common_dir)
        if commit is None:
            commit = _rev_parse(start)
        if commit is None:
            return None
        return GitInfo(commit, branch, _origin_url(common_dir))
    except OSError:
        return None


def _find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """(git dir, common dir): they differ for linked work trees (`git worktree add`)."""
    for directory in (start, *start.parents):
        dot_git = directory / ".git"
        if dot_git.is_dir():
            return dot_git, dot_git
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = (directory / text.removeprefix("gitdir:").strip()).resolve()
            common_file = git_dir / "commondir"
            common = git_dir
            if common_file.is_file():
                common = (git_dir / common_file.read_text(encoding="utf-8").strip()).resolve()
            return git_dir, common
    return None


def _read_head(git_dir: Path, common_dir: Path) -> tuple[str | None, str | None]:
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if _SHA.match(head):
        return head, None  # detached HEAD
    if not head.startswith("ref:"):
        return None, None
    ref = head.removeprefix("ref:").strip()
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    return _resolve_ref(ref, git_dir, common_dir), branch


def _resolve_ref(ref: str, git_dir: Path, common_dir: Path) -> str | None:
    for base in (git_dir, common_dir):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            return value if _SHA.match(value) else None
    packed = common_dir / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref and _SHA.match(sha):
                return sha
    return None  # unborn branch, or a ref format we do not read (reftable)


def _rev_parse(start: Path) -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=start,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and _SHA.match(value) else None


def _origin_url(common_dir: Path) -> str | None:
    config = common_dir / "config"
    if not config.is_file():
        return None
    in_origin = False
    for raw in config.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_origin = re.fullmatch(r'\[remote\s+"origin"\]', line) is not None
        elif in_origin and line.partition("=")[0].strip() == "url":
            return strip_credentials(line.partition("=")[2].strip())
    return None


def strip_credentials(url: str) -> str:
    """Drop `user:token@` from http(s) URLs so secrets never land in tags."""
    return re.sub(r"^(https?://)[^/@]*@", r"\1", url)

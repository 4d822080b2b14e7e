"""Where a project's code comes from: a local directory, or a git repository cloned for the run.

    ./my-project                     a directory, run in place (git tags from its work tree)
    ./my-repo  --version v1.2        a local git repository, cloned and checked out
    https://host/org/repo.git        cloned (also http://, ssh://, git://, git@host:org/repo,
    git+https://host/org/repo        git+… and file:// URIs; --version picks the commit/branch)
    URI#sub/dir                      the project is that subdirectory of the repository

A clone lives in a temporary directory that the run removes when it ends.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from cairn.exceptions import ExecutionException, InvalidParameterValue
from cairn.tracking.system_tags import GitInfo, git_info, strip_credentials

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:org/repo.git
_GIT_TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class FetchedProject:
    directory: Path
    """The project's root: the checkout (or local directory) plus any #subdirectory."""
    source_name: str
    """What the run records as mlflow.source.name."""
    git: GitInfo | None
    """Commit, branch and repository URL, when the code comes from git."""
    clone: Path | None = None
    """A temporary clone to delete when the run is over."""

    def cleanup(self) -> None:
        if self.clone is not None:
            shutil.rmtree(self.clone, ignore_errors=True)


def split_subdirectory(uri: str) -> tuple[str, str]:
    """`base#sub/dir` -> (base, "sub/dir"); the subdirectory may not leave the project."""
    base, sep, sub = uri.partition("#")
    if not sep:
        return uri, ""
    if "#" in sub:
        raise InvalidParameterValue(f"Project URI {uri!r} has more than one '#'.")
    parts = PurePosixPath(sub.replace("\\", "/")).parts
    if PurePosixPath(sub).is_absolute() or ".." in parts:
        raise InvalidParameterValue(
            f"Project URI {uri!r}: the subdirectory after '#' must be a relative path inside "
            "the project ('..' is not allowed)."
        )
    return base, "/".join(p for p in parts if p != ".")


def is_git_uri(base: str) -> bool:
    """Whether `base` names a remote repository to clone (anything with a URI scheme other
    than file://, scp-like git@host:path, or git+…)."""
    if base.startswith("git+") or _SCP_LIKE.match(base):
        return True
    scheme = urlsplit(base).scheme.lower()
    return len(scheme) > 1 and scheme != "file"


def fetch_project(uri: str, version: str | None = None) -> FetchedProject:
    """Make the project's code available locally, checked out at `version` if given."""
    base, subdirectory = split_subdirectory(uri)
    if not base:
        raise InvalidParameterValue(f"Project URI {uri!r} names no project.")
    if is_git_uri(base):
        clone_from = base.removeprefix("git+")
        shown = strip_credentials(clone_from)
        source = shown + (f"#{subdirectory}" if subdirectory else "")
        return _cloned(clone_from, shown, version, subdirectory, source)
    local = _local_path(base)
    source = str(local) + (f"#{subdirectory}" if subdirectory else "")
    if not local.is_dir():
        raise InvalidParameterValue(f"Project {uri!r}: no such directory {local}.")
    bare = _is_bare_repository(local)
    if version is None and not bare:
        directory = _subdirectory(local, subdirectory, uri)
        return FetchedProject(directory, source, git_info(directory))
    if not bare and not _in_git_work_tree(local):
        raise InvalidParameterValue(
            f"--version {version} needs a git repository, and {local} is not one."
        )
    return _cloned(str(local), str(local), version, subdirectory, source)


def _local_path(base: str) -> Path:
    parts = urlsplit(base)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidParameterValue(f"file:// URI {base!r} names a remote host.")
        return Path(unquote(parts.path)).resolve()
    return Path(base).expanduser().resolve()


def _subdirectory(root: Path, subdirectory: str, uri: str) -> Path:
    directory = (root / subdirectory).resolve() if subdirectory else root
    if not directory.is_relative_to(root.resolve()) or not directory.is_dir():
        raise InvalidParameterValue(
            f"Project {uri!r}: no directory {subdirectory!r} inside the project."
        )
    return directory


def _cloned(
    clone_from: str, shown_url: str, version: str | None, subdirectory: str, source: str
) -> FetchedProject:
    checkout = Path(tempfile.mkdtemp(prefix="cairn-project-"))
    try:
        _git("clone", "--quiet", clone_from, str(checkout), what=f"clone {shown_url}")
        if version is not None:
            try:
                _git("-C", str(checkout), "checkout", "--quiet", version, what="checkout")
            except ExecutionException as exc:
                raise InvalidParameterValue(
                    f"--version {version!r} is not a commit, branch or tag of {shown_url}: "
                    f"{exc.message}"
                ) from None
        commit = _git("-C", str(checkout), "rev-parse", "HEAD", what="rev-parse").strip()
        branch = _branch(checkout, version)
        directory = _subdirectory(checkout, subdirectory, source)
    except BaseException:
        shutil.rmtree(checkout, ignore_errors=True)
        raise
    return FetchedProject(directory, source, GitInfo(commit, branch, shown_url), checkout)


def _branch(checkout: Path, version: str | None) -> str | None:
    """The branch that was checked out: `version` when it names one, else the default."""
    if version is None:
        out = _git("-C", str(checkout), "symbolic-ref", "--short", "-q", "HEAD", check=False)
        return out.strip() or None
    for ref in (f"refs/remotes/origin/{version}", f"refs/heads/{version}"):
        if _git("-C", str(checkout), "show-ref", "--verify", "-q", ref, check=False, ok=True):
            return version
    return None


def _in_git_work_tree(path: Path) -> bool:
    out = _git("-C", str(path), "rev-parse", "--is-inside-work-tree", check=False)
    return out.strip() == "true"


def _is_bare_repository(path: Path) -> bool:
    if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
        return False
    out = _git("-C", str(path), "rev-parse", "--is-bare-repository", check=False)
    return out.strip() == "true"


def _git(*args: str, what: str = "", check: bool = True, ok: bool = False) -> str:
    """Run git; its stdout, or (with `ok`) "1" for success and "" for failure."""
    executable = shutil.which("git")
    if executable is None:
        raise ExecutionException(
            "Running a project from a git repository needs git, and no `git` executable "
            "was found on PATH."
        )
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            [executable, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ExecutionException(f"git {what} did not finish in {_GIT_TIMEOUT_S} s.") from None
    if ok:
        return "1" if done.returncode == 0 else ""
    if done.returncode != 0 and check:
        message = _redact(done.stderr.strip() or done.stdout.strip())
        raise ExecutionException(f"git {what} failed: {message}")
    return done.stdout if done.returncode == 0 else ""


def _redact(text: str) -> str:
    """Drop `user:token@` from any http(s) URL in git's messages."""
    return re.sub(r"(https?://)[^/@\s]*@", r"\1", text)

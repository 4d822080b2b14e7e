"""Which store the client talks to, and where new experiments keep their artifacts.

Resolution order for the tracking URI: the client's argument, else `set_tracking_uri`, else
`CAIRN_TRACKING_URI` / `MLFLOW_TRACKING_URI`, else `sqlite:///cairn-data/cairn.db` in the
current directory. Relative SQLite paths are made absolute when a client is built, so a later
`os.chdir` cannot silently switch databases. An `http://` or `https://` URI names a tracking
server (`cairn server`, or `mlflow server`), reached through the REST store.

MLflow's file store (`./mlruns`, `file:///…`) is deliberately not supported: it cannot search
or write safely at scale, and a silent fallback would scatter runs in unexpected places.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from cairn import settings
from cairn.exceptions import InvalidParameterValue

if TYPE_CHECKING:
    from pathlib import Path

_tracking_uri: str | None = None
_listeners: list[Callable[[], None]] = []

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Point the fluent API and new clients at `uri`: a database URI such as sqlite:///x.db,
    or the http(s):// URL of a tracking server."""
    global _tracking_uri
    text = os.fspath(uri)
    check_supported(text)
    if text != _tracking_uri:
        _tracking_uri = text
        _notify_changed()


def get_tracking_uri() -> str:
    """The tracking URI in force, as given (the default is reported in its relative form)."""
    if _tracking_uri is not None:
        return _tracking_uri
    return settings.TRACKING_URI.get() or "sqlite:///cairn-data/cairn.db"


def is_tracking_uri_set() -> bool:
    """Whether a URI was chosen explicitly (by `set_tracking_uri` or the environment)."""
    return _tracking_uri is not None or _env_is_set(settings.TRACKING_URI)


def reset_tracking_uri() -> None:
    """Forget the URI chosen with `set_tracking_uri` (tests, notebooks)."""
    global _tracking_uri
    if _tracking_uri is not None:
        _tracking_uri = None
        _notify_changed()


def on_tracking_uri_change(callback: Callable[[], None]) -> None:
    """Call `callback()` whenever the URI changes (the fluent API forgets its experiment)."""
    _listeners.append(callback)


def _notify_changed() -> None:
    for callback in _listeners:
        callback()


def check_supported(uri: str) -> None:
    """Refuse MLflow's file-store URIs and plain paths with a message that says what to do."""
    scheme, sep, _ = uri.partition(":")
    is_path = not sep or len(scheme) == 1 or "/" in scheme or "\\" in scheme
    if is_path or scheme.lower() == "file":
        raise InvalidParameterValue(
            f"Tracking URI {uri!r} names a directory (MLflow's file store, e.g. ./mlruns), "
            "which Cairn does not support. Use a database URI instead, for example "
            "'sqlite:///cairn.db', 'postgresql://user@host/db' or 'mysql://user@host/db', "
            "or a tracking server's URL such as 'http://host:5000'."
        )


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The URI a client should open: chosen by the resolution order, validated, absolute."""
    chosen = uri if uri is not None else get_tracking_uri()
    check_supported(chosen)
    if is_http_uri(chosen):
        return chosen.rstrip("/")
    db_file = sqlite_file(chosen)
    if db_file is None:
        return chosen
    prefix = next(p for p in _SQLITE_PREFIXES if chosen.startswith(p))
    _, _, query = chosen.partition("?")
    absolute = db_file.resolve()
    absolute.parent.mkdir(parents=True, exist_ok=True)
    return f"{prefix}{absolute.as_posix()}" + (f"?{query}" if query else "")


def is_http_uri(uri: str) -> bool:
    """Whether `uri` names a tracking server (http:// or https://) rather than a database."""
    return uri.partition(":")[0].lower() in ("http", "https")


def sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite URI (possibly relative); None for other URIs or :memory:."""
    prefix = next((p for p in _SQLITE_PREFIXES if uri.startswith(p)), None)
    if prefix is None:
        return None
    path = uri[len(prefix) :].partition("?")[0]
    if path in ("", ":memory:"):
        return None
    from pathlib import Path  # deferred: `import cairn` must stay fast

    return Path(path).expanduser()


def resolve_artifact_root(tracking_uri: str) -> str:
    """Default artifact root for experiments created through this client.

    `CAIRN_ARTIFACT_ROOT` when set (local paths made absolute); else an `artifacts` directory
    beside a SQLite database file (`cairn-data/artifacts` for the default database); else
    `cairn-data/artifacts` in the current directory.
    """
    from pathlib import Path

    if _env_is_set(settings.ARTIFACT_ROOT):
        root = settings.ARTIFACT_ROOT.get() or ""
        return root if _has_scheme(root) else str(Path(root).expanduser().resolve())
    db_file = sqlite_file(tracking_uri)
    if db_file is not None:
        return str(db_file.resolve().parent / "artifacts")
    return str(Path("cairn-data", "artifacts").resolve())


def _has_scheme(value: str) -> bool:
    scheme, sep, _ = value.partition(":")
    return bool(sep) and len(scheme) > 1 and scheme.replace("-", "").replace("+", "").isalnum()


def _env_is_set(setting: settings.Setting) -> bool:
    names = [setting.env] + ([setting.mlflow_env] if setting.mlflow_env else [])
    return any(os.environ.get(name) for name in names)

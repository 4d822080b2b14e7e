"""Checking the values given for an entry point's parameters and building its command.

Rules (MLflow's): every required parameter needs a value; `float` and `int` values must parse
as such; a `path` is made absolute against the caller's working directory and must exist (one
given as a URI — `runs:/…`, or any artifact-store scheme — is downloaded first); a `uri` must
have a scheme. A value for a parameter the entry point does not declare is passed on as
`--key value` after the command, and recorded like the others. Values reach the shell quoted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from shlex import quote
from typing import Any
from urllib.parse import unquote, urlsplit

from cairn.exceptions import InvalidParameterValue
from cairn.projects.spec import EntryPoint, Parameter

Downloader = Callable[[str, Path], str]
"""Fetches an artifact URI into a directory and returns the local path."""


@dataclass(frozen=True, slots=True)
class ResolvedParameters:
    values: dict[str, str]
    """Declared parameters as the command gets them (before shell quoting)."""
    extras: dict[str, str]
    """Undeclared parameters, passed on as `--key value`."""
    logged: dict[str, str]
    """What the run records: every value, with downloaded paths shown as their URI."""


def resolve_parameters(
    entry: EntryPoint,
    given: Mapping[str, Any] | None,
    *,
    cwd: Path,
    storage_dir: Callable[[], Path],
    download: Downloader,
) -> ResolvedParameters:
    """Check `given` against `entry`'s declarations and fill in defaults.

    `storage_dir()` gives the directory downloads go to (called only when one is needed).
    Raises `InvalidParameterValue` naming every missing parameter, or the first bad value.
    """
    supplied = {str(k): _text(v) for k, v in (given or {}).items()}
    for key in supplied:
        if not key or key.startswith("-") or any(c.isspace() for c in key):
            raise InvalidParameterValue(f"Invalid parameter name {key!r}.")
    missing = [p.name for p in entry.parameters.values() if p.required and p.name not in supplied]
    if missing:
        raise InvalidParameterValue(
            f"Entry point {entry.name!r} needs a value for its required parameter(s) "
            f"{', '.join(missing)} (give them with -P name=value)."
        )
    values: dict[str, str] = {}
    logged: dict[str, str] = {}
    for position, param in enumerate(entry.parameters.values()):
        raw = supplied.get(param.name, param.default)
        assert raw is not None
        value, shown = _check(entry, param, raw, cwd, position, storage_dir, download)
        values[param.name], logged[param.name] = value, shown
    extras = {k: v for k, v in supplied.items() if k not in entry.parameters}
    return ResolvedParameters(values, extras, {**logged, **extras})


def build_command(entry: EntryPoint, resolved: ResolvedParameters) -> str:
    """The shell command: the template filled with quoted values, then the extras."""
    command = entry.command.format(**{k: quote(v) for k, v in resolved.values.items()})
    extras = [f"{quote('--' + k)} {quote(v)}" for k, v in resolved.extras.items()]
    return " ".join([command, *extras])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _check(
    entry: EntryPoint,
    param: Parameter,
    raw: str,
    cwd: Path,
    position: int,
    storage_dir: Callable[[], Path],
    download: Downloader,
) -> tuple[str, str]:
    """(value for the command, value to record)."""
    where = f"parameter {param.name!r} of entry point {entry.name!r}"
    if param.type == "float":
        try:
            float(raw)
        except ValueError:
            raise InvalidParameterValue(f"{where} is a float; {raw!r} is not a number.") from None
        return raw, raw
    if param.type == "int":
        try:
            int(raw)
        except ValueError:
            raise InvalidParameterValue(
                f"{where} is an int; {raw!r} is not a whole number."
            ) from None
        return raw, raw
    if param.type == "uri":
        if not _has_scheme(raw):
            raise InvalidParameterValue(
                f"{where} is a uri; {raw!r} has no scheme (such as s3://, file://, runs:/)."
            )
        return raw, raw
    if param.type == "path":
        return _path_value(where, raw, cwd, position, storage_dir, download)
    return raw, raw


def _path_value(
    where: str,
    raw: str,
    cwd: Path,
    position: int,
    storage_dir: Callable[[], Path],
    download: Downloader,
) -> tuple[str, str]:
    parts = urlsplit(raw)
    if _has_scheme(raw) and parts.scheme.lower() != "file":
        target = storage_dir() / f"param_{position}"
        target.mkdir(parents=True, exist_ok=True)
        return download(raw, target), raw
    local = Path(unquote(parts.path)) if parts.scheme.lower() == "file" else Path(raw)
    absolute = Path(os.path.abspath(cwd / local.expanduser()))
    if not absolute.exists():
        raise InvalidParameterValue(f"{where} is a path; {raw!r} ({absolute}) does not exist.")
    return str(absolute), str(absolute)


def _has_scheme(value: str) -> bool:
    # A one-letter "scheme" is a Windows drive (C:\data), not a URI.
    try:
        scheme = urlsplit(value).scheme
    except ValueError:
        return False
    return len(scheme) > 1

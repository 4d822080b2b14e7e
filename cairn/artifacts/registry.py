"""Choosing an artifact backend by URI scheme.

Built-in backends register with `register_artifact_repository`, exactly as a third party
can. Installed packages may also declare backends in the `cairn.artifact_repositories`
entry-point group (name = scheme, value = `"module:factory"`); an entry point is imported
only when its scheme is first asked for, so ordinary lookups never pay for plugins.

A scheme registered by a call wins over an entry point of the same name, and a later call
replaces an earlier one (how a plugin or a test swaps a built-in backend).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit

from cairn.artifacts.base import ArtifactRepository
from cairn.exceptions import CairnException, InvalidParameterValue

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "cairn.artifact_repositories"

ArtifactRepositoryFactory: TypeAlias = Callable[[str], ArtifactRepository]
"""Builds a repository from its root URI; a backend class itself usually is one."""

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
LOCAL_SCHEME = "file"
"""Plain paths (no scheme, or a one-letter Windows drive) are served by this scheme."""


class ArtifactRepositoryRegistry:
    """Scheme -> factory table, with lazy discovery through an entry-point group."""

    def __init__(self, entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self._factories: dict[str, ArtifactRepositoryFactory] = {}
        self._entry_point_group = entry_point_group

    def register(self, scheme: str, factory: ArtifactRepositoryFactory) -> None:
        """Serve URIs of `scheme` (case-insensitive) with `factory(uri)`."""
        normalized = scheme.lower()
        if not _SCHEME.match(normalized):
            raise InvalidParameterValue(f"Invalid URI scheme {scheme!r}")
        if not callable(factory):
            raise TypeError(f"Artifact repository factory for {scheme!r} must be callable")
        self._factories[normalized] = factory

    def get(self, uri: str) -> ArtifactRepository:
        """The repository for `uri`, built by the factory of its scheme."""
        scheme = uri_scheme(uri)
        factory = self._factories.get(scheme) or self._load_entry_point(scheme)
        if factory is None:
            raise InvalidParameterValue(
                f"No artifact repository for scheme {scheme!r} in URI {uri!r}; "
                f"supported schemes: {', '.join(self.schemes())}"
            )
        return factory(uri)

    def schemes(self) -> list[str]:
        """Every scheme served, registered or declared by an installed package, sorted."""
        return sorted(set(self._factories) | {ep.name.lower() for ep in self._entry_points()})

    def _load_entry_point(self, scheme: str) -> ArtifactRepositoryFactory | None:
        found = next((ep for ep in self._entry_points() if ep.name.lower() == scheme), None)
        if found is None:
            return None
        try:
            factory = found.load()
        except Exception as exc:
            raise CairnException(
                f"The artifact repository plugin for scheme {scheme!r} ({found.value}) "
                f"failed to load: {exc}"
            ) from exc
        self._factories.setdefault(scheme, factory)
        return self._factories[scheme]

    def _entry_points(self) -> list[EntryPoint]:
        if self._entry_point_group is None:
            return []
        # Imported here: scanning installed metadata is only needed on a registry miss.
        from importlib.metadata import entry_points

        return list(entry_points(group=self._entry_point_group))


def uri_scheme(uri: str) -> str:
    """The lower-case scheme that selects a backend for `uri` (plain paths give `file`)."""
    if not uri:
        raise InvalidParameterValue("Artifact URI must not be empty")
    try:
        scheme = urlsplit(uri).scheme.lower()
    except ValueError as exc:
        raise InvalidParameterValue(f"Invalid artifact URI {uri!r}: {exc}") from None
    return LOCAL_SCHEME if len(scheme) <= 1 else scheme


_default = ArtifactRepositoryRegistry()


def register_artifact_repository(scheme: str, factory: ArtifactRepositoryFactory) -> None:
    """Serve artifact URIs of `scheme` with `factory(uri)`, replacing any earlier backend."""
    _default.register(scheme, factory)


def get_artifact_repository(uri: str) -> ArtifactRepository:
    """The artifact repository for `uri`, chosen by its scheme."""
    return _default.get(uri)


def supported_schemes() -> list[str]:
    """The URI schemes `get_artifact_repository` accepts, sorted."""
    return _default.schemes()

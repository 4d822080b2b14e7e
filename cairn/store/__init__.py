"""Tracking and registry stores: the protocols and the backends that implement them.

`get_tracking_store(uri)` picks the backend by URI scheme; SQL URIs (sqlite, postgresql,
mysql) get the SQL store, `http(s)://` URIs of a tracking server the REST store;
`get_registry_store(uri)` does the same for the model registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cairn.store.base import TrackingStore
    from cairn.store.registry_base import RegistryStore

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")


def get_tracking_store(uri: str, artifact_root: str | None = None) -> TrackingStore:
    """The store for `uri`; stores are cached per (uri, artifact_root) so engines are shared.

    A server decides its own artifact locations, so `artifact_root` is unused for http(s).
    """
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in _SQL_SCHEMES:
        from cairn.store.sql.store import SqlTrackingStore

        return SqlTrackingStore.for_uri(uri, artifact_root)
    if scheme in ("http", "https"):
        from cairn.store.rest.store import RestTrackingStore

        return RestTrackingStore.for_uri(uri)
    from cairn.exceptions import InvalidParameterValue

    raise InvalidParameterValue(
        f"Unsupported tracking URI {uri!r}: use sqlite:///path, postgresql://…, mysql://… "
        "or the http(s):// URL of a tracking server"
    )


def get_registry_store(uri: str, artifact_root: str | None = None) -> RegistryStore:
    """The model registry store for `uri` (the same URIs as `get_tracking_store`), cached."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in _SQL_SCHEMES:
        from cairn.store.sql.registry import SqlRegistryStore

        return SqlRegistryStore.for_uri(uri, artifact_root)
    if scheme in ("http", "https"):
        from cairn.store.rest.registry import RestRegistryStore

        return RestRegistryStore.for_uri(uri)
    from cairn.exceptions import InvalidParameterValue

    raise InvalidParameterValue(
        f"Unsupported registry URI {uri!r}: use sqlite:///path, postgresql://…, mysql://… "
        "or the http(s):// URL of a tracking server"
    )

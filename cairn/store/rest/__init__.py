"""The tracking and registry stores over HTTP: a remote `cairn server` (or `mlflow server`)."""

from cairn.store.rest.registry import RestRegistryStore
from cairn.store.rest.store import RestTrackingStore

__all__ = ["RestRegistryStore", "RestTrackingStore"]

"""The tracking store over HTTP: a remote `cairn server` (or `mlflow server`) as a store."""

from cairn.store.rest.store import RestTrackingStore

__all__ = ["RestTrackingStore"]

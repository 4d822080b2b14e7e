"""Tracking: `CairnClient` (run-id based) and the fluent API built on it.

The fluent functions are re-exported from the top-level `cairn` package; this package names
the client and the tracking-URI functions, as `mlflow.tracking` does.
"""

from cairn.tracking.client import CairnClient, MlflowClient
from cairn.tracking.tracking_uri import get_tracking_uri, is_tracking_uri_set, set_tracking_uri

__all__ = [
    "CairnClient",
    "MlflowClient",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_tracking_uri",
]

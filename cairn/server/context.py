"""What every handler gets: the configuration, the tracking store and the artifact storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cairn.server.config import ServerConfig
    from cairn.server.storage import ServerStorage
    from cairn.store.base import TrackingStore


@dataclass(frozen=True, slots=True)
class ServerContext:
    config: ServerConfig
    store: TrackingStore
    storage: ServerStorage

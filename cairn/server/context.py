"""What every handler gets: the configuration, the tracking and registry stores, the
artifact storage and the read helper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cairn.server.config import ServerConfig
    from cairn.server.helper import ReadHelper
    from cairn.server.storage import ServerStorage
    from cairn.store.sql.registry import SqlRegistryStore
    from cairn.store.sql.store import SqlTrackingStore


@dataclass(frozen=True, slots=True)
class ServerContext:
    config: ServerConfig
    store: SqlTrackingStore  # a server serves a database, never another server
    storage: ServerStorage
    registry: SqlRegistryStore  # on the same database; copies versions through `storage`
    helper: ReadHelper | None = None  # another process that reads too (see server.helper)

    @property
    def embedded_db(self) -> bool:
        """The database is a file in this process (SQLite): a call never waits on a network,
        so bounded handlers run on the event loop (see `Endpoint.bounded`)."""
        return self.store.dialect == "sqlite"

"""Batch splitting lives in the store layer (`cairn.store.batching`), which the REST store
needs too; the client imports it from here."""

from cairn.store.batching import Chunk, chunk_batch

__all__ = ["Chunk", "chunk_batch"]

"""`Dataset`: what `log_input` records about the data a run used.

A dataset has a name, a digest (content fingerprint), a source (where it came from), and
optionally a schema and a profile (size statistics). Subclasses hold the data itself and
compute these; the base class turns them into the stored `cairn.entities.Dataset`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from cairn import entities
from cairn.data.sources import DatasetSource

DEFAULT_NAME = "dataset"


class Dataset(ABC):
    """Base class of `PandasDataset` and `NumpyDataset` (MLflow's `mlflow.data.Dataset`).

    Subclasses set their data before calling `super().__init__`, which computes the digest.
    """

    def __init__(
        self, source: DatasetSource, name: str | None = None, digest: str | None = None
    ) -> None:
        self._source = source
        self._name = name or DEFAULT_NAME
        self._digest = digest or self._compute_digest()

    @abstractmethod
    def _compute_digest(self) -> str:
        """A short deterministic fingerprint of the content (see `cairn.data.digest`)."""

    @property
    def name(self) -> str:
        return self._name

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def source(self) -> DatasetSource:
        return self._source

    @property
    def profile(self) -> dict[str, Any] | None:
        """Size statistics such as num_rows and num_elements, when known."""
        return None

    def schema_json(self) -> str | None:
        """The schema as stored on the run (JSON), or None when it cannot be inferred."""
        return None

    def to_dict(self) -> dict[str, str]:
        """The stored fields; source, schema and profile as JSON strings."""
        d = {
            "name": self.name,
            "digest": self.digest,
            "source": self.source.to_json(),
            "source_type": self.source.source_type,
        }
        schema = self.schema_json()
        if schema is not None:
            d["schema"] = schema
        if self.profile is not None:
            d["profile"] = json.dumps(self.profile)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_entity(self) -> entities.Dataset:
        """The `cairn.entities.Dataset` that `log_input` stores."""
        return entities.Dataset.from_dict(self.to_dict())

    # MLflow's private name for the same conversion, for code written against MLflow.
    _to_mlflow_entity = to_entity

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} digest={self.digest!r}>"

"""Where a dataset came from: a small JSON document plus a `source_type` naming its kind.

Kinds as in MLflow: `local` (`{"uri": path}`), `http` (`{"url": …}`), `code` (a dataset built
in code: `{"tags": {mlflow.source.name, …}}`), and for other URI schemes (s3, gs, hf, …) the
scheme itself as the type with `{"uri": …}`.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from cairn.exceptions import InvalidParameterValue


class DatasetSource(ABC):
    """Base class; subclasses name their `source_type` and say how to (de)serialise."""

    source_type: ClassVar[str]

    @abstractmethod
    def to_dict(self) -> dict[str, Any]: ...

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DatasetSource):
            return NotImplemented
        return (self.source_type, self.to_dict()) == (other.source_type, other.to_dict())

    def __hash__(self) -> int:
        return hash((self.source_type, self.to_json()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


class LocalArtifactDatasetSource(DatasetSource):
    """A file or directory on local disk."""

    source_type = "local"

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri}


class HTTPDatasetSource(DatasetSource):
    source_type = "http"

    def __init__(self, url: str) -> None:
        self.url = url

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url}


class CodeDatasetSource(DatasetSource):
    """Data built in code; the tags say which program built it."""

    source_type = "code"

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = dict(tags)

    def to_dict(self) -> dict[str, Any]:
        return {"tags": self.tags}


class UriDatasetSource(DatasetSource):
    """Any other URI; the type is its scheme (s3, gs, hf, dbfs, …)."""

    source_type = "uri"

    def __init__(self, uri: str, source_type: str | None = None) -> None:
        self.uri = uri
        self.source_type = source_type or uri.partition(":")[0].lower()  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri}


def resolve_source(source: DatasetSource | str | os.PathLike[str] | None) -> DatasetSource:
    """A source from what a user passes to `from_pandas(source=…)`; None means "this code"."""
    if isinstance(source, DatasetSource):
        return source
    if source is None:
        from cairn.tracking.system_tags import resolve_system_tags

        return CodeDatasetSource(resolve_system_tags())
    text = os.fspath(source)
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() == "file" or len(scheme) == 1:
        return LocalArtifactDatasetSource(text)
    if scheme.lower() in ("http", "https"):
        return HTTPDatasetSource(text)
    return UriDatasetSource(text)


def source_from_json(source_type: str, source_json: str) -> DatasetSource:
    """Rebuild a source from what a run recorded (`Dataset.source_type`, `Dataset.source`)."""
    try:
        data = json.loads(source_json) if source_json else {}
    except json.JSONDecodeError as exc:
        raise InvalidParameterValue(f"Dataset source is not JSON: {source_json!r}") from exc
    if source_type == "local":
        return LocalArtifactDatasetSource(data.get("uri", ""))
    if source_type == "http":
        return HTTPDatasetSource(data.get("url", ""))
    if source_type == "code":
        return CodeDatasetSource(data.get("tags", {}))
    return UriDatasetSource(data.get("uri", ""), source_type)

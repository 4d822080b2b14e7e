"""Dataset sources: what they store, and how a logged source is read back."""

from __future__ import annotations

import json

import pytest

from cairn import entities
from cairn.data import (
    CodeDatasetSource,
    HTTPDatasetSource,
    LocalArtifactDatasetSource,
    UriDatasetSource,
    get_source,
)
from cairn.data.sources import resolve_source, source_from_json


@pytest.mark.parametrize(
    "source",
    [
        LocalArtifactDatasetSource("/data/x.csv"),
        HTTPDatasetSource("https://example.com/x.csv"),
        CodeDatasetSource({"mlflow.source.name": "train.py"}),
        UriDatasetSource("gs://bucket/x"),
    ],
)
def test_sources_round_trip_through_json(source: object) -> None:
    rebuilt = source_from_json(source.source_type, source.to_json())  # type: ignore[attr-defined]
    assert rebuilt == source
    assert hash(rebuilt) == hash(source)


def test_a_source_instance_is_used_as_is() -> None:
    source = HTTPDatasetSource("http://x")
    assert resolve_source(source) is source


def test_uri_sources_are_typed_by_scheme() -> None:
    assert UriDatasetSource("hf://datasets/x").source_type == "hf"
    assert json.loads(UriDatasetSource("s3://b/k").to_json()) == {"uri": "s3://b/k"}


def test_get_source_of_a_logged_input() -> None:
    ds = entities.Dataset("d", "12345678", "http", '{"url": "http://x"}')
    logged = entities.DatasetInput(ds)
    assert get_source(logged) == HTTPDatasetSource("http://x")
    assert get_source(ds) == HTTPDatasetSource("http://x")
    with pytest.raises(TypeError):
        get_source("not a dataset")
